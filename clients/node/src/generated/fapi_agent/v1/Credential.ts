// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialState as _fapi_agent_v1_CredentialState, CredentialState__Output as _fapi_agent_v1_CredentialState__Output } from '../../fapi_agent/v1/CredentialState';
import type { Padding as _fapi_agent_v1_Padding, Padding__Output as _fapi_agent_v1_Padding__Output } from '../../fapi_agent/v1/Padding';
import type { PassphraseSourceStatus as _fapi_agent_v1_PassphraseSourceStatus, PassphraseSourceStatus__Output as _fapi_agent_v1_PassphraseSourceStatus__Output } from '../../fapi_agent/v1/PassphraseSourceStatus';
import type { TokenStatus as _fapi_agent_v1_TokenStatus, TokenStatus__Output as _fapi_agent_v1_TokenStatus__Output } from '../../fapi_agent/v1/TokenStatus';
import type { KeyBackend as _fapi_agent_v1_KeyBackend, KeyBackend__Output as _fapi_agent_v1_KeyBackend__Output } from '../../fapi_agent/v1/KeyBackend';
import type { Long } from '@grpc/proto-loader';

export interface Credential {
  'name'?: (string);
  'client_id'?: (string);
  'kid'?: (string);
  'alg'?: (string);
  'certificate_chain_pem'?: (string);
  'public_jwk_json'?: (string);
  'x5t_s256'?: (string);
  'not_before'?: (number | string | Long);
  'not_after'?: (number | string | Long);
  'days_left'?: (number | string | Long);
  'state'?: (_fapi_agent_v1_CredentialState);
  'error'?: (string);
  'issuer'?: (string);
  'export_allowed'?: (boolean);
  'decrypt_paddings'?: (_fapi_agent_v1_Padding)[];
  'key_decrypted'?: (boolean);
  'passphrase_source'?: (_fapi_agent_v1_PassphraseSourceStatus | null);
  'client_jwks_json'?: (string);
  'token_status'?: (_fapi_agent_v1_TokenStatus | null);
  'key_backend'?: (_fapi_agent_v1_KeyBackend | null);
}

export interface Credential__Output {
  'name': (string);
  'client_id': (string);
  'kid': (string);
  'alg': (string);
  'certificate_chain_pem': (string);
  'public_jwk_json': (string);
  'x5t_s256': (string);
  'not_before': (string);
  'not_after': (string);
  'days_left': (string);
  'state': (_fapi_agent_v1_CredentialState__Output);
  'error': (string);
  'issuer': (string);
  'export_allowed': (boolean);
  'decrypt_paddings': (_fapi_agent_v1_Padding__Output)[];
  'key_decrypted': (boolean);
  'passphrase_source': (_fapi_agent_v1_PassphraseSourceStatus__Output | null);
  'client_jwks_json': (string);
  'token_status': (_fapi_agent_v1_TokenStatus__Output | null);
  'key_backend': (_fapi_agent_v1_KeyBackend__Output | null);
}
