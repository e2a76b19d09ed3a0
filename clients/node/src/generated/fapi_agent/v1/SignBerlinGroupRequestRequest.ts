// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';
import type { HttpHeader as _fapi_agent_v1_HttpHeader, HttpHeader__Output as _fapi_agent_v1_HttpHeader__Output } from '../../fapi_agent/v1/HttpHeader';

export interface SignBerlinGroupRequestRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'x_request_id'?: (string);
  'headers'?: (_fapi_agent_v1_HttpHeader)[];
  'body'?: (Buffer | Uint8Array | string);
}

export interface SignBerlinGroupRequestRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'x_request_id': (string);
  'headers': (_fapi_agent_v1_HttpHeader__Output)[];
  'body': (Buffer);
}
