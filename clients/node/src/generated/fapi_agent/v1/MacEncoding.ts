// Original file: proto/fapi_agent/v1/agent.proto

export const MacEncoding = {
  MAC_ENCODING_HEX: 'MAC_ENCODING_HEX',
  MAC_ENCODING_BASE64: 'MAC_ENCODING_BASE64',
  MAC_ENCODING_BASE64URL: 'MAC_ENCODING_BASE64URL',
} as const;

export type MacEncoding =
  | 'MAC_ENCODING_HEX'
  | 0
  | 'MAC_ENCODING_BASE64'
  | 1
  | 'MAC_ENCODING_BASE64URL'
  | 2

export type MacEncoding__Output = typeof MacEncoding[keyof typeof MacEncoding]
