// Original file: proto/fapi_agent/v1/agent.proto

export const ObProfile = {
  OB_PROFILE_UNSPECIFIED: 'OB_PROFILE_UNSPECIFIED',
  OB_UK_3_1_4: 'OB_UK_3_1_4',
  OB_UK_3_1_3: 'OB_UK_3_1_3',
} as const;

export type ObProfile =
  | 'OB_PROFILE_UNSPECIFIED'
  | 0
  | 'OB_UK_3_1_4'
  | 1
  | 'OB_UK_3_1_3'
  | 2

export type ObProfile__Output = typeof ObProfile[keyof typeof ObProfile]
