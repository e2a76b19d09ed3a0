// Original file: proto/fapi_agent/v1/agent.proto


export interface SignDpopProofResponse {
  'proof'?: (string);
  'jkt'?: (string);
  'jti'?: (string);
  'htu'?: (string);
}

export interface SignDpopProofResponse__Output {
  'proof': (string);
  'jkt': (string);
  'jti': (string);
  'htu': (string);
}
