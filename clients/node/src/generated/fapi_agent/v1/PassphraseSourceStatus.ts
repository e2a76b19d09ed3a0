// Original file: proto/fapi_agent/v1/agent.proto

import type { Long } from '@grpc/proto-loader';

export interface PassphraseSourceStatus {
  'kind'?: (string);
  'description'?: (string);
  'last_fetch_at'?: (number | string | Long);
  'last_error'?: (string);
  'last_error_at'?: (number | string | Long);
  'held'?: (boolean);
  'next_retry_at'?: (number | string | Long);
}

export interface PassphraseSourceStatus__Output {
  'kind': (string);
  'description': (string);
  'last_fetch_at': (string);
  'last_error': (string);
  'last_error_at': (string);
  'held': (boolean);
  'next_retry_at': (string);
}
