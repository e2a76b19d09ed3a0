// Original file: proto/fapi_agent/v1/agent.proto


export interface ReloadRequest {
}

export interface ReloadRequest__Output {
}
