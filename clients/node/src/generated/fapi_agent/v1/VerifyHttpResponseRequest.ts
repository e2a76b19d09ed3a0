// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';
import type { HttpHeader as _fapi_agent_v1_HttpHeader, HttpHeader__Output as _fapi_agent_v1_HttpHeader__Output } from '../../fapi_agent/v1/HttpHeader';

export interface VerifyHttpResponseRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'method'?: (string);
  'target_uri'?: (string);
  'authorization'?: (string);
  'dpop'?: (string);
  'request_body'?: (Buffer | Uint8Array | string);
  'status'?: (number);
  'headers'?: (_fapi_agent_v1_HttpHeader)[];
  'body'?: (Buffer | Uint8Array | string);
}

export interface VerifyHttpResponseRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'method': (string);
  'target_uri': (string);
  'authorization': (string);
  'dpop': (string);
  'request_body': (Buffer);
  'status': (number);
  'headers': (_fapi_agent_v1_HttpHeader__Output)[];
  'body': (Buffer);
}
