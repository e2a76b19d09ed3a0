// Original file: proto/fapi_agent/v1/agent.proto


export interface SignBerlinGroupRequestResponse {
  'digest'?: (string);
  'signature'?: (string);
  'tpp_signature_certificate'?: (string);
  'x_request_id'?: (string);
  'signed_headers'?: (string)[];
  'key_id'?: (string);
}

export interface SignBerlinGroupRequestResponse__Output {
  'digest': (string);
  'signature': (string);
  'tpp_signature_certificate': (string);
  'x_request_id': (string);
  'signed_headers': (string)[];
  'key_id': (string);
}
