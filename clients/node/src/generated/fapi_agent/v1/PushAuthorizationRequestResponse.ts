// Original file: proto/fapi_agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface PushAuthorizationRequestResponse {
  'request_uri'?: (string);
  'expires_in'?: (number | string | Long);
  'authorization_endpoint'?: (string);
  'client_id'?: (string);
}

export interface PushAuthorizationRequestResponse__Output {
  'request_uri': (string);
  'expires_in': (string);
  'authorization_endpoint': (string);
  'client_id': (string);
}
