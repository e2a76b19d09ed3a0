// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';

export interface VerifyJarmResponseRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'response'?: (string);
}

export interface VerifyJarmResponseRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'response': (string);
}
