// Original file: proto/fapi_agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface AccessToken {
  'access_token'?: (string);
  'token_type'?: (string);
  'expires_at'?: (number | string | Long);
  'scope'?: (string);
  'jkt'?: (string);
  'x5t_s256'?: (string);
  'refresh_token'?: (string);
  'cached'?: (boolean);
  'credential'?: (string);
}

export interface AccessToken__Output {
  'access_token': (string);
  'token_type': (string);
  'expires_at': (string);
  'scope': (string);
  'jkt': (string);
  'x5t_s256': (string);
  'refresh_token': (string);
  'cached': (boolean);
  'credential': (string);
}
