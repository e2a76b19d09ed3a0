// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';

export interface SignBrasilBodyRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'data_json'?: (string);
  'audience'?: (string);
}

export interface SignBrasilBodyRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'data_json': (string);
  'audience': (string);
}
