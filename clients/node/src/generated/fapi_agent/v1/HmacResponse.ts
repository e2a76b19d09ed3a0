// Original file: proto/fapi_agent/v1/agent.proto


export interface HmacResponse {
  'mac'?: (string);
  'credential'?: (string);
}

export interface HmacResponse__Output {
  'mac': (string);
  'credential': (string);
}
