// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';

export interface PasswordDigestRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'name'?: (string);
  'nonce'?: (Buffer | Uint8Array | string);
  'created'?: (string);
}

export interface PasswordDigestRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'name': (string);
  'nonce': (Buffer);
  'created': (string);
}
