// Original file: proto/fapi_agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface VerifyHttpResponseResponse {
  'label'?: (string);
  'keyid'?: (string);
  'created'?: (number | string | Long);
  'covered_components'?: (string)[];
}

export interface VerifyHttpResponseResponse__Output {
  'label': (string);
  'keyid': (string);
  'created': (string);
  'covered_components': (string)[];
}
