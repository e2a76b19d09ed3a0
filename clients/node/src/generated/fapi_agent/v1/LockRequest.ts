// Original file: proto/fapi_agent/v1/agent.proto


export interface LockRequest {
}

export interface LockRequest__Output {
}
