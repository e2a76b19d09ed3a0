// Original file: proto/fapi_agent/v1/agent.proto

import type { CredentialEventKind as _fapi_agent_v1_CredentialEventKind, CredentialEventKind__Output as _fapi_agent_v1_CredentialEventKind__Output } from '../../fapi_agent/v1/CredentialEventKind';
import type { Credential as _fapi_agent_v1_Credential, Credential__Output as _fapi_agent_v1_Credential__Output } from '../../fapi_agent/v1/Credential';
import type { Long } from '@grpc/proto-loader';

export interface CredentialEvent {
  'kind'?: (_fapi_agent_v1_CredentialEventKind);
  'credential'?: (_fapi_agent_v1_Credential | null);
  'snapshot'?: (_fapi_agent_v1_Credential)[];
  'observed_at'?: (number | string | Long);
}

export interface CredentialEvent__Output {
  'kind': (_fapi_agent_v1_CredentialEventKind__Output);
  'credential': (_fapi_agent_v1_Credential__Output | null);
  'snapshot': (_fapi_agent_v1_Credential__Output)[];
  'observed_at': (string);
}
