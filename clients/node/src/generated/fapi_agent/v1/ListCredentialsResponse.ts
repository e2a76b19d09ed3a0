// Original file: proto/fapi_agent/v1/agent.proto

import type { Credential as _fapi_agent_v1_Credential, Credential__Output as _fapi_agent_v1_Credential__Output } from '../../fapi_agent/v1/Credential';

export interface ListCredentialsResponse {
  'credentials'?: (_fapi_agent_v1_Credential)[];
}

export interface ListCredentialsResponse__Output {
  'credentials': (_fapi_agent_v1_Credential__Output)[];
}
