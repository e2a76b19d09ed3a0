// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';
import type { Grant as _fapi_agent_v1_Grant, Grant__Output as _fapi_agent_v1_Grant__Output } from '../../fapi_agent/v1/Grant';

export interface GetAccessTokenRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'scopes'?: (string)[];
  'resource'?: (string)[];
  'audience'?: (string);
  'force_refresh'?: (boolean);
  'grant'?: (_fapi_agent_v1_Grant);
}

export interface GetAccessTokenRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'scopes': (string)[];
  'resource': (string)[];
  'audience': (string);
  'force_refresh': (boolean);
  'grant': (_fapi_agent_v1_Grant__Output);
}
