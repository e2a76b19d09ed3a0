// Original file: proto/fapi_agent/v1/agent.proto


export interface GetKeyMaterialResponse {
  'private_key_pem'?: (Buffer | Uint8Array | string);
  'certificate_chain_pem'?: (string);
  'kid'?: (string);
}

export interface GetKeyMaterialResponse__Output {
  'private_key_pem': (Buffer);
  'certificate_chain_pem': (string);
  'kid': (string);
}
