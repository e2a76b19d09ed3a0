// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from '../../fapi_agent/v1/CredentialSelector';
import type { Padding as _fapi_agent_v1_Padding, Padding__Output as _fapi_agent_v1_Padding__Output } from '../../fapi_agent/v1/Padding';

export interface DecryptSecretRequest {
  'credential'?: (_fapi_agent_v1_CredentialSelector | null);
  'ciphertext_raw'?: (Buffer | Uint8Array | string);
  'ciphertext_base64'?: (string);
  'padding'?: (_fapi_agent_v1_Padding);
  'ciphertext'?: "ciphertext_raw"|"ciphertext_base64";
}

export interface DecryptSecretRequest__Output {
  'credential': (_fapi_agent_v1_CredentialSelector__Output | null);
  'ciphertext_raw'?: (Buffer);
  'ciphertext_base64'?: (string);
  'padding': (_fapi_agent_v1_Padding__Output);
  'ciphertext'?: "ciphertext_raw"|"ciphertext_base64";
}
