// Original file: proto/fapi_agent/v1/agent.proto


export interface SignObDetachedJwsResponse {
  'x_jws_signature'?: (string);
  'kid'?: (string);
  'credential'?: (string);
}

export interface SignObDetachedJwsResponse__Output {
  'x_jws_signature': (string);
  'kid': (string);
  'credential': (string);
}
