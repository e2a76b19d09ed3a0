// Original file: proto/fapi_agent/v1/agent.proto

export const KeyFormat = {
  KEY_FORMAT_UNSPECIFIED: 'KEY_FORMAT_UNSPECIFIED',
  KEY_FORMAT_PKCS8_PEM: 'KEY_FORMAT_PKCS8_PEM',
  KEY_FORMAT_ENCRYPTED_PKCS8_PEM: 'KEY_FORMAT_ENCRYPTED_PKCS8_PEM',
} as const;

export type KeyFormat =
  | 'KEY_FORMAT_UNSPECIFIED'
  | 0
  | 'KEY_FORMAT_PKCS8_PEM'
  | 1
  | 'KEY_FORMAT_ENCRYPTED_PKCS8_PEM'
  | 2

export type KeyFormat__Output = typeof KeyFormat[keyof typeof KeyFormat]
