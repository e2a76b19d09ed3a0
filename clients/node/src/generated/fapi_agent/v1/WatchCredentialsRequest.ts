// Original file: proto/fapi_agent/v1/agent.proto


export interface WatchCredentialsRequest {
  'client_id'?: (string);
}

export interface WatchCredentialsRequest__Output {
  'client_id': (string);
}
