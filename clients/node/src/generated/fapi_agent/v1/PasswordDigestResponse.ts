// Original file: proto/fapi_agent/v1/agent.proto


export interface PasswordDigestResponse {
  'password_digest'?: (string);
  'nonce'?: (string);
  'created'?: (string);
  'credential'?: (string);
}

export interface PasswordDigestResponse__Output {
  'password_digest': (string);
  'nonce': (string);
  'created': (string);
  'credential': (string);
}
