// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';
import type { HmacAlg as _fapi_agent_v1_HmacAlg, HmacAlg__Output as _fapi_agent_v1_HmacAlg__Output } from '../../fapi_agent/v1/HmacAlg';
import type { MacEncoding as _fapi_agent_v1_MacEncoding, MacEncoding__Output as _fapi_agent_v1_MacEncoding__Output } from '../../fapi_agent/v1/MacEncoding';

export interface HmacRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'name'?: (string);
  'alg'?: (_fapi_agent_v1_HmacAlg);
  'message'?: (Buffer | Uint8Array | string);
  'encoding'?: (_fapi_agent_v1_MacEncoding);
}

export interface HmacRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'name': (string);
  'alg': (_fapi_agent_v1_HmacAlg__Output);
  'message': (Buffer);
  'encoding': (_fapi_agent_v1_MacEncoding__Output);
}
