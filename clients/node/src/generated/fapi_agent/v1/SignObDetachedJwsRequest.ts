// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';
import type { ObProfile as _fapi_agent_v1_ObProfile, ObProfile__Output as _fapi_agent_v1_ObProfile__Output } from '../../fapi_agent/v1/ObProfile';

export interface SignObDetachedJwsRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'body'?: (Buffer | Uint8Array | string);
  'profile'?: (_fapi_agent_v1_ObProfile);
}

export interface SignObDetachedJwsRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'body': (Buffer);
  'profile': (_fapi_agent_v1_ObProfile__Output);
}
