// Original file: proto/fapi_agent/v1/agent.proto


export interface CredentialSelector {
  'name'?: (string);
  'client_id'?: (string);
  'kid'?: (string);
  'by'?: "name"|"client_id";
}

export interface CredentialSelector__Output {
  'name'?: (string);
  'client_id'?: (string);
  'kid': (string);
  'by'?: "name"|"client_id";
}
