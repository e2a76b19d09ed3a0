// Original file: proto/fapi_agent/v1/agent.proto

export const HmacAlg = {
  HMAC_ALG_UNSPECIFIED: 'HMAC_ALG_UNSPECIFIED',
  HMAC_SHA1: 'HMAC_SHA1',
  HMAC_SHA256: 'HMAC_SHA256',
  HMAC_SHA512: 'HMAC_SHA512',
} as const;

export type HmacAlg =
  | 'HMAC_ALG_UNSPECIFIED'
  | 0
  | 'HMAC_SHA1'
  | 1
  | 'HMAC_SHA256'
  | 2
  | 'HMAC_SHA512'
  | 3

export type HmacAlg__Output = typeof HmacAlg[keyof typeof HmacAlg]
