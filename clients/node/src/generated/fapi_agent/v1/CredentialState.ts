// Original file: proto/fapi_agent/v1/agent.proto

export const CredentialState = {
  CREDENTIAL_STATE_UNSPECIFIED: 'CREDENTIAL_STATE_UNSPECIFIED',
  CREDENTIAL_STATE_AVAILABLE: 'CREDENTIAL_STATE_AVAILABLE',
  CREDENTIAL_STATE_LOCKED: 'CREDENTIAL_STATE_LOCKED',
  CREDENTIAL_STATE_ERROR: 'CREDENTIAL_STATE_ERROR',
} as const;

export type CredentialState =
  | 'CREDENTIAL_STATE_UNSPECIFIED'
  | 0
  | 'CREDENTIAL_STATE_AVAILABLE'
  | 1
  | 'CREDENTIAL_STATE_LOCKED'
  | 2
  | 'CREDENTIAL_STATE_ERROR'
  | 3

export type CredentialState__Output = typeof CredentialState[keyof typeof CredentialState]
