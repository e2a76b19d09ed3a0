// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';

export interface ExchangeAuthorizationCodeRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'code'?: (string);
  'code_verifier'?: (string);
  'redirect_uri'?: (string);
}

export interface ExchangeAuthorizationCodeRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'code': (string);
  'code_verifier': (string);
  'redirect_uri': (string);
}
