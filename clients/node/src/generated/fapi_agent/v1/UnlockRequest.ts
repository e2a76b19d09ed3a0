// Original file: proto/fapi_agent/v1/agent.proto


export interface UnlockRequest {
}

export interface UnlockRequest__Output {
}
