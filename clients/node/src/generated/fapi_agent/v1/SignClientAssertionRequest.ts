// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';

export interface SignClientAssertionRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'audience'?: (string);
  'lifetime_seconds'?: (number);
  'extra_claims_json'?: (string);
}

export interface SignClientAssertionRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'audience': (string);
  'lifetime_seconds': (number);
  'extra_claims_json': (string);
}
