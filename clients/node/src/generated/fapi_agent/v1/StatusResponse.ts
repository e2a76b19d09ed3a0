// Original file: proto/fapi_agent/v1/agent.proto

import type { Credential as _fapi_agent_v1_Credential, Credential__Output as _fapi_agent_v1_Credential__Output } from '../../fapi_agent/v1/Credential';
import type { Long } from '@grpc/proto-loader';

export interface StatusResponse {
  'version'?: (string);
  'uptime_seconds'?: (number | string | Long);
  'socket_path'?: (string);
  'credentials'?: (_fapi_agent_v1_Credential)[];
  'pid'?: (number);
  'last_reload_at'?: (number | string | Long);
  'last_reload_trigger'?: (string);
  'last_reload_error'?: (string);
  'locked'?: (boolean);
  'secret_pages_locked'?: (number | string | Long);
  'secret_pages_unlockable'?: (number | string | Long);
  'secure_heap'?: (boolean);
}

export interface StatusResponse__Output {
  'version': (string);
  'uptime_seconds': (string);
  'socket_path': (string);
  'credentials': (_fapi_agent_v1_Credential__Output)[];
  'pid': (number);
  'last_reload_at': (string);
  'last_reload_trigger': (string);
  'last_reload_error': (string);
  'locked': (boolean);
  'secret_pages_locked': (string);
  'secret_pages_unlockable': (string);
  'secure_heap': (boolean);
}
