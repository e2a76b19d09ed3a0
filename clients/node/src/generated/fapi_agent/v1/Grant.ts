// Original file: proto/fapi_agent/v1/agent.proto

export const Grant = {
  GRANT_UNSPECIFIED: 'GRANT_UNSPECIFIED',
  GRANT_CLIENT_CREDENTIALS: 'GRANT_CLIENT_CREDENTIALS',
  GRANT_PASSWORD: 'GRANT_PASSWORD',
} as const;

export type Grant =
  | 'GRANT_UNSPECIFIED'
  | 0
  | 'GRANT_CLIENT_CREDENTIALS'
  | 1
  | 'GRANT_PASSWORD'
  | 2

export type Grant__Output = typeof Grant[keyof typeof Grant]
