// Original file: proto/fapi_agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface SignClientAssertionResponse {
  'assertion'?: (string);
  'assertion_type'?: (string);
  'kid'?: (string);
  'jti'?: (string);
  'expires_at'?: (number | string | Long);
  'alg'?: (string);
  'credential'?: (string);
}

export interface SignClientAssertionResponse__Output {
  'assertion': (string);
  'assertion_type': (string);
  'kid': (string);
  'jti': (string);
  'expires_at': (string);
  'alg': (string);
  'credential': (string);
}
