// Original file: proto/fapi_agent/v1/agent.proto


export interface StatusRequest {
}

export interface StatusRequest__Output {
}
