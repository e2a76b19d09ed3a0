// Original file: proto/fapi_agent/v1/agent.proto


export interface ReloadResponse {
  'added'?: (string)[];
  'removed'?: (string)[];
  'updated'?: (string)[];
  'errors'?: (string)[];
}

export interface ReloadResponse__Output {
  'added': (string)[];
  'removed': (string)[];
  'updated': (string)[];
  'errors': (string)[];
}
