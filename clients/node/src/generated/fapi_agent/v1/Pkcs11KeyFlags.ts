// Original file: proto/fapi_agent/v1/agent.proto


export interface Pkcs11KeyFlags {
  'extractable'?: (boolean);
  'never_extractable'?: (boolean);
  'sensitive'?: (boolean);
}

export interface Pkcs11KeyFlags__Output {
  'extractable': (boolean);
  'never_extractable': (boolean);
  'sensitive': (boolean);
}
