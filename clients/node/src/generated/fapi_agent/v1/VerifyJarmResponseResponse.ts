// Original file: proto/fapi_agent/v1/agent.proto


export interface VerifyJarmResponseResponse {
  'parameters'?: ({[key: string]: string});
  'kid'?: (string);
  'alg'?: (string);
}

export interface VerifyJarmResponseResponse__Output {
  'parameters': ({[key: string]: string});
  'kid': (string);
  'alg': (string);
}
