// Original file: proto/fapi_agent/v1/agent.proto


export interface SignBrasilBodyResponse {
  'jws'?: (string);
  'jti'?: (string);
  'kid'?: (string);
}

export interface SignBrasilBodyResponse__Output {
  'jws': (string);
  'jti': (string);
  'kid': (string);
}
