// Original file: proto/fapi_agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface TokenStatus {
  'auth_method'?: (string);
  'sender_constraint'?: (string);
  'last_request_at'?: (number | string | Long);
  'last_outcome'?: (string);
  'cached_tokens'?: (number);
  'earliest_expiry'?: (number | string | Long);
  'dpop_jkt'?: (string);
  'dpop_key'?: (string);
}

export interface TokenStatus__Output {
  'auth_method': (string);
  'sender_constraint': (string);
  'last_request_at': (string);
  'last_outcome': (string);
  'cached_tokens': (number);
  'earliest_expiry': (string);
  'dpop_jkt': (string);
  'dpop_key': (string);
}
