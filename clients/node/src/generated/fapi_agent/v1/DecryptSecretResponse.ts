// Original file: proto/fapi_agent/v1/agent.proto


export interface DecryptSecretResponse {
  'plaintext'?: (Buffer | Uint8Array | string);
}

export interface DecryptSecretResponse__Output {
  'plaintext': (Buffer);
}
