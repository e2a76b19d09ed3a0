// Original file: proto/fapi_agent/v1/agent.proto

import type { Pkcs11KeyFlags as _fapi_agent_v1_Pkcs11KeyFlags, Pkcs11KeyFlags__Output as _fapi_agent_v1_Pkcs11KeyFlags__Output } from '../../fapi_agent/v1/Pkcs11KeyFlags';

export interface KeyBackend {
  'kind'?: (string);
  'location'?: (string);
  'module'?: (string);
  'token'?: (string);
  'extractable'?: (boolean);
  'token_flags'?: (_fapi_agent_v1_Pkcs11KeyFlags | null);
}

export interface KeyBackend__Output {
  'kind': (string);
  'location': (string);
  'module': (string);
  'token': (string);
  'extractable': (boolean);
  'token_flags': (_fapi_agent_v1_Pkcs11KeyFlags__Output | null);
}
