// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';

export interface RefreshAccessTokenRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'refresh_token'?: (string);
  'scopes'?: (string)[];
}

export interface RefreshAccessTokenRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'refresh_token': (string);
  'scopes': (string)[];
}
