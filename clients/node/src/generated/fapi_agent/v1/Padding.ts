// Original file: proto/fapi_agent/v1/agent.proto

export const Padding = {
  PADDING_UNSPECIFIED: 'PADDING_UNSPECIFIED',
  PADDING_PKCS1_V15: 'PADDING_PKCS1_V15',
  PADDING_OAEP_SHA1: 'PADDING_OAEP_SHA1',
  PADDING_OAEP_SHA256: 'PADDING_OAEP_SHA256',
} as const;

export type Padding =
  | 'PADDING_UNSPECIFIED'
  | 0
  | 'PADDING_PKCS1_V15'
  | 1
  | 'PADDING_OAEP_SHA1'
  | 2
  | 'PADDING_OAEP_SHA256'
  | 3

export type Padding__Output = typeof Padding[keyof typeof Padding]
