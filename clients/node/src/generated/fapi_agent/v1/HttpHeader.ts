// Original file: proto/fapi_agent/v1/agent.proto


export interface HttpHeader {
  'name'?: (string);
  'value'?: (string);
}

export interface HttpHeader__Output {
  'name': (string);
  'value': (string);
}
