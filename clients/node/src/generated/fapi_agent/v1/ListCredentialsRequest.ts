// Original file: proto/fapi_agent/v1/agent.proto


export interface ListCredentialsRequest {
}

export interface ListCredentialsRequest__Output {
}
