// Original file: proto/fapi_agent/v1/agent.proto


export interface LockResponse {
  'locked'?: (string)[];
}

export interface LockResponse__Output {
  'locked': (string)[];
}
