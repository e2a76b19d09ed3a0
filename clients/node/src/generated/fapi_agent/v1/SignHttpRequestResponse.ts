// Original file: proto/fapi_agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface SignHttpRequestResponse {
  'signature_input'?: (string);
  'signature'?: (string);
  'content_digest'?: (string);
  'covered_components'?: (string)[];
  'created'?: (number | string | Long);
  'keyid'?: (string);
  'alg'?: (string);
  'target_uri'?: (string);
}

export interface SignHttpRequestResponse__Output {
  'signature_input': (string);
  'signature': (string);
  'content_digest': (string);
  'covered_components': (string)[];
  'created': (string);
  'keyid': (string);
  'alg': (string);
  'target_uri': (string);
}
