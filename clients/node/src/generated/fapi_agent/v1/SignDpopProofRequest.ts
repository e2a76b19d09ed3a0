// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';

export interface SignDpopProofRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'htm'?: (string);
  'htu'?: (string);
  'access_token'?: (string);
  'nonce'?: (string);
}

export interface SignDpopProofRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'htm': (string);
  'htu': (string);
  'access_token': (string);
  'nonce': (string);
}
