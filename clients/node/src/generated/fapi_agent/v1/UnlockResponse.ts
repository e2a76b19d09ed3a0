// Original file: proto/fapi_agent/v1/agent.proto


export interface UnlockResponse {
  'unlocked'?: (string)[];
  'errors'?: (string)[];
}

export interface UnlockResponse__Output {
  'unlocked': (string)[];
  'errors': (string)[];
}
