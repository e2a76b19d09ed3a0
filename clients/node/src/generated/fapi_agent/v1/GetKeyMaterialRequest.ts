// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';
import type { KeyFormat as _fapi_agent_v1_KeyFormat, KeyFormat__Output as _fapi_agent_v1_KeyFormat__Output } from '../../fapi_agent/v1/KeyFormat';

export interface GetKeyMaterialRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'format'?: (_fapi_agent_v1_KeyFormat);
  'export_passphrase'?: (Buffer | Uint8Array | string);
}

export interface GetKeyMaterialRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'format': (_fapi_agent_v1_KeyFormat__Output);
  'export_passphrase': (Buffer);
}
