// Original file: proto/fapi_agent/v1/agent.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { AccessToken as _fapi_agent_v1_AccessToken, AccessToken__Output as _fapi_agent_v1_AccessToken__Output } from '../../fapi_agent/v1/AccessToken';
import type { Credential as _fapi_agent_v1_Credential, Credential__Output as _fapi_agent_v1_Credential__Output } from '../../fapi_agent/v1/Credential';
import type { CredentialEvent as _fapi_agent_v1_CredentialEvent, CredentialEvent__Output as _fapi_agent_v1_CredentialEvent__Output } from '../../fapi_agent/v1/CredentialEvent';
import type { DecryptSecretRequest as _fapi_agent_v1_DecryptSecretRequest, DecryptSecretRequest__Output as _fapi_agent_v1_DecryptSecretRequest__Output } from '../../fapi_agent/v1/DecryptSecretRequest';
import type { DecryptSecretResponse as _fapi_agent_v1_DecryptSecretResponse, DecryptSecretResponse__Output as _fapi_agent_v1_DecryptSecretResponse__Output } from '../../fapi_agent/v1/DecryptSecretResponse';
import type { ExchangeAuthorizationCodeRequest as _fapi_agent_v1_ExchangeAuthorizationCodeRequest, ExchangeAuthorizationCodeRequest__Output as _fapi_agent_v1_ExchangeAuthorizationCodeRequest__Output } from '../../fapi_agent/v1/ExchangeAuthorizationCodeRequest';
import type { GetAccessTokenRequest as _fapi_agent_v1_GetAccessTokenRequest, GetAccessTokenRequest__Output as _fapi_agent_v1_GetAccessTokenRequest__Output } from '../../fapi_agent/v1/GetAccessTokenRequest';
import type { GetCredentialRequest as _fapi_agent_v1_GetCredentialRequest, GetCredentialRequest__Output as _fapi_agent_v1_GetCredentialRequest__Output } from '../../fapi_agent/v1/GetCredentialRequest';
import type { GetKeyMaterialRequest as _fapi_agent_v1_GetKeyMaterialRequest, GetKeyMaterialRequest__Output as _fapi_agent_v1_GetKeyMaterialRequest__Output } from '../../fapi_agent/v1/GetKeyMaterialRequest';
import type { GetKeyMaterialResponse as _fapi_agent_v1_GetKeyMaterialResponse, GetKeyMaterialResponse__Output as _fapi_agent_v1_GetKeyMaterialResponse__Output } from '../../fapi_agent/v1/GetKeyMaterialResponse';
import type { HmacRequest as _fapi_agent_v1_HmacRequest, HmacRequest__Output as _fapi_agent_v1_HmacRequest__Output } from '../../fapi_agent/v1/HmacRequest';
import type { HmacResponse as _fapi_agent_v1_HmacResponse, HmacResponse__Output as _fapi_agent_v1_HmacResponse__Output } from '../../fapi_agent/v1/HmacResponse';
import type { ListCredentialsRequest as _fapi_agent_v1_ListCredentialsRequest, ListCredentialsRequest__Output as _fapi_agent_v1_ListCredentialsRequest__Output } from '../../fapi_agent/v1/ListCredentialsRequest';
import type { ListCredentialsResponse as _fapi_agent_v1_ListCredentialsResponse, ListCredentialsResponse__Output as _fapi_agent_v1_ListCredentialsResponse__Output } from '../../fapi_agent/v1/ListCredentialsResponse';
import type { PasswordDigestRequest as _fapi_agent_v1_PasswordDigestRequest, PasswordDigestRequest__Output as _fapi_agent_v1_PasswordDigestRequest__Output } from '../../fapi_agent/v1/PasswordDigestRequest';
import type { PasswordDigestResponse as _fapi_agent_v1_PasswordDigestResponse, PasswordDigestResponse__Output as _fapi_agent_v1_PasswordDigestResponse__Output } from '../../fapi_agent/v1/PasswordDigestResponse';
import type { PushAuthorizationRequestRequest as _fapi_agent_v1_PushAuthorizationRequestRequest, PushAuthorizationRequestRequest__Output as _fapi_agent_v1_PushAuthorizationRequestRequest__Output } from '../../fapi_agent/v1/PushAuthorizationRequestRequest';
import type { PushAuthorizationRequestResponse as _fapi_agent_v1_PushAuthorizationRequestResponse, PushAuthorizationRequestResponse__Output as _fapi_agent_v1_PushAuthorizationRequestResponse__Output } from '../../fapi_agent/v1/PushAuthorizationRequestResponse';
import type { RefreshAccessTokenRequest as _fapi_agent_v1_RefreshAccessTokenRequest, RefreshAccessTokenRequest__Output as _fapi_agent_v1_RefreshAccessTokenRequest__Output } from '../../fapi_agent/v1/RefreshAccessTokenRequest';
import type { SignBerlinGroupRequestRequest as _fapi_agent_v1_SignBerlinGroupRequestRequest, SignBerlinGroupRequestRequest__Output as _fapi_agent_v1_SignBerlinGroupRequestRequest__Output } from '../../fapi_agent/v1/SignBerlinGroupRequestRequest';
import type { SignBerlinGroupRequestResponse as _fapi_agent_v1_SignBerlinGroupRequestResponse, SignBerlinGroupRequestResponse__Output as _fapi_agent_v1_SignBerlinGroupRequestResponse__Output } from '../../fapi_agent/v1/SignBerlinGroupRequestResponse';
import type { SignBrasilBodyRequest as _fapi_agent_v1_SignBrasilBodyRequest, SignBrasilBodyRequest__Output as _fapi_agent_v1_SignBrasilBodyRequest__Output } from '../../fapi_agent/v1/SignBrasilBodyRequest';
import type { SignBrasilBodyResponse as _fapi_agent_v1_SignBrasilBodyResponse, SignBrasilBodyResponse__Output as _fapi_agent_v1_SignBrasilBodyResponse__Output } from '../../fapi_agent/v1/SignBrasilBodyResponse';
import type { SignClientAssertionRequest as _fapi_agent_v1_SignClientAssertionRequest, SignClientAssertionRequest__Output as _fapi_agent_v1_SignClientAssertionRequest__Output } from '../../fapi_agent/v1/SignClientAssertionRequest';
import type { SignClientAssertionResponse as _fapi_agent_v1_SignClientAssertionResponse, SignClientAssertionResponse__Output as _fapi_agent_v1_SignClientAssertionResponse__Output } from '../../fapi_agent/v1/SignClientAssertionResponse';
import type { SignDpopProofRequest as _fapi_agent_v1_SignDpopProofRequest, SignDpopProofRequest__Output as _fapi_agent_v1_SignDpopProofRequest__Output } from '../../fapi_agent/v1/SignDpopProofRequest';
import type { SignDpopProofResponse as _fapi_agent_v1_SignDpopProofResponse, SignDpopProofResponse__Output as _fapi_agent_v1_SignDpopProofResponse__Output } from '../../fapi_agent/v1/SignDpopProofResponse';
import type { SignHttpRequestRequest as _fapi_agent_v1_SignHttpRequestRequest, SignHttpRequestRequest__Output as _fapi_agent_v1_SignHttpRequestRequest__Output } from '../../fapi_agent/v1/SignHttpRequestRequest';
import type { SignHttpRequestResponse as _fapi_agent_v1_SignHttpRequestResponse, SignHttpRequestResponse__Output as _fapi_agent_v1_SignHttpRequestResponse__Output } from '../../fapi_agent/v1/SignHttpRequestResponse';
import type { SignObDetachedJwsRequest as _fapi_agent_v1_SignObDetachedJwsRequest, SignObDetachedJwsRequest__Output as _fapi_agent_v1_SignObDetachedJwsRequest__Output } from '../../fapi_agent/v1/SignObDetachedJwsRequest';
import type { SignObDetachedJwsResponse as _fapi_agent_v1_SignObDetachedJwsResponse, SignObDetachedJwsResponse__Output as _fapi_agent_v1_SignObDetachedJwsResponse__Output } from '../../fapi_agent/v1/SignObDetachedJwsResponse';
import type { VerifyHttpResponseRequest as _fapi_agent_v1_VerifyHttpResponseRequest, VerifyHttpResponseRequest__Output as _fapi_agent_v1_VerifyHttpResponseRequest__Output } from '../../fapi_agent/v1/VerifyHttpResponseRequest';
import type { VerifyHttpResponseResponse as _fapi_agent_v1_VerifyHttpResponseResponse, VerifyHttpResponseResponse__Output as _fapi_agent_v1_VerifyHttpResponseResponse__Output } from '../../fapi_agent/v1/VerifyHttpResponseResponse';
import type { VerifyJarmResponseRequest as _fapi_agent_v1_VerifyJarmResponseRequest, VerifyJarmResponseRequest__Output as _fapi_agent_v1_VerifyJarmResponseRequest__Output } from '../../fapi_agent/v1/VerifyJarmResponseRequest';
import type { VerifyJarmResponseResponse as _fapi_agent_v1_VerifyJarmResponseResponse, VerifyJarmResponseResponse__Output as _fapi_agent_v1_VerifyJarmResponseResponse__Output } from '../../fapi_agent/v1/VerifyJarmResponseResponse';
import type { WatchCredentialsRequest as _fapi_agent_v1_WatchCredentialsRequest, WatchCredentialsRequest__Output as _fapi_agent_v1_WatchCredentialsRequest__Output } from '../../fapi_agent/v1/WatchCredentialsRequest';

export interface AgentClient extends grpc.Client {
  DecryptSecret(argument: _fapi_agent_v1_DecryptSecretRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_DecryptSecretResponse__Output>): grpc.ClientUnaryCall;
  DecryptSecret(argument: _fapi_agent_v1_DecryptSecretRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_DecryptSecretResponse__Output>): grpc.ClientUnaryCall;
  DecryptSecret(argument: _fapi_agent_v1_DecryptSecretRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_DecryptSecretResponse__Output>): grpc.ClientUnaryCall;
  DecryptSecret(argument: _fapi_agent_v1_DecryptSecretRequest, callback: grpc.requestCallback<_fapi_agent_v1_DecryptSecretResponse__Output>): grpc.ClientUnaryCall;
  decryptSecret(argument: _fapi_agent_v1_DecryptSecretRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_DecryptSecretResponse__Output>): grpc.ClientUnaryCall;
  decryptSecret(argument: _fapi_agent_v1_DecryptSecretRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_DecryptSecretResponse__Output>): grpc.ClientUnaryCall;
  decryptSecret(argument: _fapi_agent_v1_DecryptSecretRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_DecryptSecretResponse__Output>): grpc.ClientUnaryCall;
  decryptSecret(argument: _fapi_agent_v1_DecryptSecretRequest, callback: grpc.requestCallback<_fapi_agent_v1_DecryptSecretResponse__Output>): grpc.ClientUnaryCall;
  
  ExchangeAuthorizationCode(argument: _fapi_agent_v1_ExchangeAuthorizationCodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  ExchangeAuthorizationCode(argument: _fapi_agent_v1_ExchangeAuthorizationCodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  ExchangeAuthorizationCode(argument: _fapi_agent_v1_ExchangeAuthorizationCodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  ExchangeAuthorizationCode(argument: _fapi_agent_v1_ExchangeAuthorizationCodeRequest, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  exchangeAuthorizationCode(argument: _fapi_agent_v1_ExchangeAuthorizationCodeRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  exchangeAuthorizationCode(argument: _fapi_agent_v1_ExchangeAuthorizationCodeRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  exchangeAuthorizationCode(argument: _fapi_agent_v1_ExchangeAuthorizationCodeRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  exchangeAuthorizationCode(argument: _fapi_agent_v1_ExchangeAuthorizationCodeRequest, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  
  GetAccessToken(argument: _fapi_agent_v1_GetAccessTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  GetAccessToken(argument: _fapi_agent_v1_GetAccessTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  GetAccessToken(argument: _fapi_agent_v1_GetAccessTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  GetAccessToken(argument: _fapi_agent_v1_GetAccessTokenRequest, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  getAccessToken(argument: _fapi_agent_v1_GetAccessTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  getAccessToken(argument: _fapi_agent_v1_GetAccessTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  getAccessToken(argument: _fapi_agent_v1_GetAccessTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  getAccessToken(argument: _fapi_agent_v1_GetAccessTokenRequest, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  
  GetCredential(argument: _fapi_agent_v1_GetCredentialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_Credential__Output>): grpc.ClientUnaryCall;
  GetCredential(argument: _fapi_agent_v1_GetCredentialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_Credential__Output>): grpc.ClientUnaryCall;
  GetCredential(argument: _fapi_agent_v1_GetCredentialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_Credential__Output>): grpc.ClientUnaryCall;
  GetCredential(argument: _fapi_agent_v1_GetCredentialRequest, callback: grpc.requestCallback<_fapi_agent_v1_Credential__Output>): grpc.ClientUnaryCall;
  getCredential(argument: _fapi_agent_v1_GetCredentialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_Credential__Output>): grpc.ClientUnaryCall;
  getCredential(argument: _fapi_agent_v1_GetCredentialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_Credential__Output>): grpc.ClientUnaryCall;
  getCredential(argument: _fapi_agent_v1_GetCredentialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_Credential__Output>): grpc.ClientUnaryCall;
  getCredential(argument: _fapi_agent_v1_GetCredentialRequest, callback: grpc.requestCallback<_fapi_agent_v1_Credential__Output>): grpc.ClientUnaryCall;
  
  GetKeyMaterial(argument: _fapi_agent_v1_GetKeyMaterialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_GetKeyMaterialResponse__Output>): grpc.ClientUnaryCall;
  GetKeyMaterial(argument: _fapi_agent_v1_GetKeyMaterialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_GetKeyMaterialResponse__Output>): grpc.ClientUnaryCall;
  GetKeyMaterial(argument: _fapi_agent_v1_GetKeyMaterialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_GetKeyMaterialResponse__Output>): grpc.ClientUnaryCall;
  GetKeyMaterial(argument: _fapi_agent_v1_GetKeyMaterialRequest, callback: grpc.requestCallback<_fapi_agent_v1_GetKeyMaterialResponse__Output>): grpc.ClientUnaryCall;
  getKeyMaterial(argument: _fapi_agent_v1_GetKeyMaterialRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_GetKeyMaterialResponse__Output>): grpc.ClientUnaryCall;
  getKeyMaterial(argument: _fapi_agent_v1_GetKeyMaterialRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_GetKeyMaterialResponse__Output>): grpc.ClientUnaryCall;
  getKeyMaterial(argument: _fapi_agent_v1_GetKeyMaterialRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_GetKeyMaterialResponse__Output>): grpc.ClientUnaryCall;
  getKeyMaterial(argument: _fapi_agent_v1_GetKeyMaterialRequest, callback: grpc.requestCallback<_fapi_agent_v1_GetKeyMaterialResponse__Output>): grpc.ClientUnaryCall;
  
  Hmac(argument: _fapi_agent_v1_HmacRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_HmacResponse__Output>): grpc.ClientUnaryCall;
  Hmac(argument: _fapi_agent_v1_HmacRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_HmacResponse__Output>): grpc.ClientUnaryCall;
  Hmac(argument: _fapi_agent_v1_HmacRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_HmacResponse__Output>): grpc.ClientUnaryCall;
  Hmac(argument: _fapi_agent_v1_HmacRequest, callback: grpc.requestCallback<_fapi_agent_v1_HmacResponse__Output>): grpc.ClientUnaryCall;
  hmac(argument: _fapi_agent_v1_HmacRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_HmacResponse__Output>): grpc.ClientUnaryCall;
  hmac(argument: _fapi_agent_v1_HmacRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_HmacResponse__Output>): grpc.ClientUnaryCall;
  hmac(argument: _fapi_agent_v1_HmacRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_HmacResponse__Output>): grpc.ClientUnaryCall;
  hmac(argument: _fapi_agent_v1_HmacRequest, callback: grpc.requestCallback<_fapi_agent_v1_HmacResponse__Output>): grpc.ClientUnaryCall;
  
  ListCredentials(argument: _fapi_agent_v1_ListCredentialsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_ListCredentialsResponse__Output>): grpc.ClientUnaryCall;
  ListCredentials(argument: _fapi_agent_v1_ListCredentialsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_ListCredentialsResponse__Output>): grpc.ClientUnaryCall;
  ListCredentials(argument: _fapi_agent_v1_ListCredentialsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_ListCredentialsResponse__Output>): grpc.ClientUnaryCall;
  ListCredentials(argument: _fapi_agent_v1_ListCredentialsRequest, callback: grpc.requestCallback<_fapi_agent_v1_ListCredentialsResponse__Output>): grpc.ClientUnaryCall;
  listCredentials(argument: _fapi_agent_v1_ListCredentialsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_ListCredentialsResponse__Output>): grpc.ClientUnaryCall;
  listCredentials(argument: _fapi_agent_v1_ListCredentialsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_ListCredentialsResponse__Output>): grpc.ClientUnaryCall;
  listCredentials(argument: _fapi_agent_v1_ListCredentialsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_ListCredentialsResponse__Output>): grpc.ClientUnaryCall;
  listCredentials(argument: _fapi_agent_v1_ListCredentialsRequest, callback: grpc.requestCallback<_fapi_agent_v1_ListCredentialsResponse__Output>): grpc.ClientUnaryCall;
  
  PasswordDigest(argument: _fapi_agent_v1_PasswordDigestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_PasswordDigestResponse__Output>): grpc.ClientUnaryCall;
  PasswordDigest(argument: _fapi_agent_v1_PasswordDigestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_PasswordDigestResponse__Output>): grpc.ClientUnaryCall;
  PasswordDigest(argument: _fapi_agent_v1_PasswordDigestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_PasswordDigestResponse__Output>): grpc.ClientUnaryCall;
  PasswordDigest(argument: _fapi_agent_v1_PasswordDigestRequest, callback: grpc.requestCallback<_fapi_agent_v1_PasswordDigestResponse__Output>): grpc.ClientUnaryCall;
  passwordDigest(argument: _fapi_agent_v1_PasswordDigestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_PasswordDigestResponse__Output>): grpc.ClientUnaryCall;
  passwordDigest(argument: _fapi_agent_v1_PasswordDigestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_PasswordDigestResponse__Output>): grpc.ClientUnaryCall;
  passwordDigest(argument: _fapi_agent_v1_PasswordDigestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_PasswordDigestResponse__Output>): grpc.ClientUnaryCall;
  passwordDigest(argument: _fapi_agent_v1_PasswordDigestRequest, callback: grpc.requestCallback<_fapi_agent_v1_PasswordDigestResponse__Output>): grpc.ClientUnaryCall;
  
  PushAuthorizationRequest(argument: _fapi_agent_v1_PushAuthorizationRequestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_PushAuthorizationRequestResponse__Output>): grpc.ClientUnaryCall;
  PushAuthorizationRequest(argument: _fapi_agent_v1_PushAuthorizationRequestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_PushAuthorizationRequestResponse__Output>): grpc.ClientUnaryCall;
  PushAuthorizationRequest(argument: _fapi_agent_v1_PushAuthorizationRequestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_PushAuthorizationRequestResponse__Output>): grpc.ClientUnaryCall;
  PushAuthorizationRequest(argument: _fapi_agent_v1_PushAuthorizationRequestRequest, callback: grpc.requestCallback<_fapi_agent_v1_PushAuthorizationRequestResponse__Output>): grpc.ClientUnaryCall;
  pushAuthorizationRequest(argument: _fapi_agent_v1_PushAuthorizationRequestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_PushAuthorizationRequestResponse__Output>): grpc.ClientUnaryCall;
  pushAuthorizationRequest(argument: _fapi_agent_v1_PushAuthorizationRequestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_PushAuthorizationRequestResponse__Output>): grpc.ClientUnaryCall;
  pushAuthorizationRequest(argument: _fapi_agent_v1_PushAuthorizationRequestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_PushAuthorizationRequestResponse__Output>): grpc.ClientUnaryCall;
  pushAuthorizationRequest(argument: _fapi_agent_v1_PushAuthorizationRequestRequest, callback: grpc.requestCallback<_fapi_agent_v1_PushAuthorizationRequestResponse__Output>): grpc.ClientUnaryCall;
  
  RefreshAccessToken(argument: _fapi_agent_v1_RefreshAccessTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  RefreshAccessToken(argument: _fapi_agent_v1_RefreshAccessTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  RefreshAccessToken(argument: _fapi_agent_v1_RefreshAccessTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  RefreshAccessToken(argument: _fapi_agent_v1_RefreshAccessTokenRequest, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  refreshAccessToken(argument: _fapi_agent_v1_RefreshAccessTokenRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  refreshAccessToken(argument: _fapi_agent_v1_RefreshAccessTokenRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  refreshAccessToken(argument: _fapi_agent_v1_RefreshAccessTokenRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  refreshAccessToken(argument: _fapi_agent_v1_RefreshAccessTokenRequest, callback: grpc.requestCallback<_fapi_agent_v1_AccessToken__Output>): grpc.ClientUnaryCall;
  
  SignBerlinGroupRequest(argument: _fapi_agent_v1_SignBerlinGroupRequestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignBerlinGroupRequestResponse__Output>): grpc.ClientUnaryCall;
  SignBerlinGroupRequest(argument: _fapi_agent_v1_SignBerlinGroupRequestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignBerlinGroupRequestResponse__Output>): grpc.ClientUnaryCall;
  SignBerlinGroupRequest(argument: _fapi_agent_v1_SignBerlinGroupRequestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignBerlinGroupRequestResponse__Output>): grpc.ClientUnaryCall;
  SignBerlinGroupRequest(argument: _fapi_agent_v1_SignBerlinGroupRequestRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignBerlinGroupRequestResponse__Output>): grpc.ClientUnaryCall;
  signBerlinGroupRequest(argument: _fapi_agent_v1_SignBerlinGroupRequestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignBerlinGroupRequestResponse__Output>): grpc.ClientUnaryCall;
  signBerlinGroupRequest(argument: _fapi_agent_v1_SignBerlinGroupRequestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignBerlinGroupRequestResponse__Output>): grpc.ClientUnaryCall;
  signBerlinGroupRequest(argument: _fapi_agent_v1_SignBerlinGroupRequestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignBerlinGroupRequestResponse__Output>): grpc.ClientUnaryCall;
  signBerlinGroupRequest(argument: _fapi_agent_v1_SignBerlinGroupRequestRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignBerlinGroupRequestResponse__Output>): grpc.ClientUnaryCall;
  
  SignBrasilBody(argument: _fapi_agent_v1_SignBrasilBodyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignBrasilBodyResponse__Output>): grpc.ClientUnaryCall;
  SignBrasilBody(argument: _fapi_agent_v1_SignBrasilBodyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignBrasilBodyResponse__Output>): grpc.ClientUnaryCall;
  SignBrasilBody(argument: _fapi_agent_v1_SignBrasilBodyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignBrasilBodyResponse__Output>): grpc.ClientUnaryCall;
  SignBrasilBody(argument: _fapi_agent_v1_SignBrasilBodyRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignBrasilBodyResponse__Output>): grpc.ClientUnaryCall;
  signBrasilBody(argument: _fapi_agent_v1_SignBrasilBodyRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignBrasilBodyResponse__Output>): grpc.ClientUnaryCall;
  signBrasilBody(argument: _fapi_agent_v1_SignBrasilBodyRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignBrasilBodyResponse__Output>): grpc.ClientUnaryCall;
  signBrasilBody(argument: _fapi_agent_v1_SignBrasilBodyRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignBrasilBodyResponse__Output>): grpc.ClientUnaryCall;
  signBrasilBody(argument: _fapi_agent_v1_SignBrasilBodyRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignBrasilBodyResponse__Output>): grpc.ClientUnaryCall;
  
  SignClientAssertion(argument: _fapi_agent_v1_SignClientAssertionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignClientAssertionResponse__Output>): grpc.ClientUnaryCall;
  SignClientAssertion(argument: _fapi_agent_v1_SignClientAssertionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignClientAssertionResponse__Output>): grpc.ClientUnaryCall;
  SignClientAssertion(argument: _fapi_agent_v1_SignClientAssertionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignClientAssertionResponse__Output>): grpc.ClientUnaryCall;
  SignClientAssertion(argument: _fapi_agent_v1_SignClientAssertionRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignClientAssertionResponse__Output>): grpc.ClientUnaryCall;
  signClientAssertion(argument: _fapi_agent_v1_SignClientAssertionRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignClientAssertionResponse__Output>): grpc.ClientUnaryCall;
  signClientAssertion(argument: _fapi_agent_v1_SignClientAssertionRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignClientAssertionResponse__Output>): grpc.ClientUnaryCall;
  signClientAssertion(argument: _fapi_agent_v1_SignClientAssertionRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignClientAssertionResponse__Output>): grpc.ClientUnaryCall;
  signClientAssertion(argument: _fapi_agent_v1_SignClientAssertionRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignClientAssertionResponse__Output>): grpc.ClientUnaryCall;
  
  SignDpopProof(argument: _fapi_agent_v1_SignDpopProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignDpopProofResponse__Output>): grpc.ClientUnaryCall;
  SignDpopProof(argument: _fapi_agent_v1_SignDpopProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignDpopProofResponse__Output>): grpc.ClientUnaryCall;
  SignDpopProof(argument: _fapi_agent_v1_SignDpopProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignDpopProofResponse__Output>): grpc.ClientUnaryCall;
  SignDpopProof(argument: _fapi_agent_v1_SignDpopProofRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignDpopProofResponse__Output>): grpc.ClientUnaryCall;
  signDpopProof(argument: _fapi_agent_v1_SignDpopProofRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignDpopProofResponse__Output>): grpc.ClientUnaryCall;
  signDpopProof(argument: _fapi_agent_v1_SignDpopProofRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignDpopProofResponse__Output>): grpc.ClientUnaryCall;
  signDpopProof(argument: _fapi_agent_v1_SignDpopProofRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignDpopProofResponse__Output>): grpc.ClientUnaryCall;
  signDpopProof(argument: _fapi_agent_v1_SignDpopProofRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignDpopProofResponse__Output>): grpc.ClientUnaryCall;
  
  SignHttpRequest(argument: _fapi_agent_v1_SignHttpRequestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignHttpRequestResponse__Output>): grpc.ClientUnaryCall;
  SignHttpRequest(argument: _fapi_agent_v1_SignHttpRequestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignHttpRequestResponse__Output>): grpc.ClientUnaryCall;
  SignHttpRequest(argument: _fapi_agent_v1_SignHttpRequestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignHttpRequestResponse__Output>): grpc.ClientUnaryCall;
  SignHttpRequest(argument: _fapi_agent_v1_SignHttpRequestRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignHttpRequestResponse__Output>): grpc.ClientUnaryCall;
  signHttpRequest(argument: _fapi_agent_v1_SignHttpRequestRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignHttpRequestResponse__Output>): grpc.ClientUnaryCall;
  signHttpRequest(argument: _fapi_agent_v1_SignHttpRequestRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignHttpRequestResponse__Output>): grpc.ClientUnaryCall;
  signHttpRequest(argument: _fapi_agent_v1_SignHttpRequestRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignHttpRequestResponse__Output>): grpc.ClientUnaryCall;
  signHttpRequest(argument: _fapi_agent_v1_SignHttpRequestRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignHttpRequestResponse__Output>): grpc.ClientUnaryCall;
  
  SignObDetachedJws(argument: _fapi_agent_v1_SignObDetachedJwsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignObDetachedJwsResponse__Output>): grpc.ClientUnaryCall;
  SignObDetachedJws(argument: _fapi_agent_v1_SignObDetachedJwsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignObDetachedJwsResponse__Output>): grpc.ClientUnaryCall;
  SignObDetachedJws(argument: _fapi_agent_v1_SignObDetachedJwsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignObDetachedJwsResponse__Output>): grpc.ClientUnaryCall;
  SignObDetachedJws(argument: _fapi_agent_v1_SignObDetachedJwsRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignObDetachedJwsResponse__Output>): grpc.ClientUnaryCall;
  signObDetachedJws(argument: _fapi_agent_v1_SignObDetachedJwsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignObDetachedJwsResponse__Output>): grpc.ClientUnaryCall;
  signObDetachedJws(argument: _fapi_agent_v1_SignObDetachedJwsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_SignObDetachedJwsResponse__Output>): grpc.ClientUnaryCall;
  signObDetachedJws(argument: _fapi_agent_v1_SignObDetachedJwsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_SignObDetachedJwsResponse__Output>): grpc.ClientUnaryCall;
  signObDetachedJws(argument: _fapi_agent_v1_SignObDetachedJwsRequest, callback: grpc.requestCallback<_fapi_agent_v1_SignObDetachedJwsResponse__Output>): grpc.ClientUnaryCall;
  
  VerifyHttpResponse(argument: _fapi_agent_v1_VerifyHttpResponseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_VerifyHttpResponseResponse__Output>): grpc.ClientUnaryCall;
  VerifyHttpResponse(argument: _fapi_agent_v1_VerifyHttpResponseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_VerifyHttpResponseResponse__Output>): grpc.ClientUnaryCall;
  VerifyHttpResponse(argument: _fapi_agent_v1_VerifyHttpResponseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_VerifyHttpResponseResponse__Output>): grpc.ClientUnaryCall;
  VerifyHttpResponse(argument: _fapi_agent_v1_VerifyHttpResponseRequest, callback: grpc.requestCallback<_fapi_agent_v1_VerifyHttpResponseResponse__Output>): grpc.ClientUnaryCall;
  verifyHttpResponse(argument: _fapi_agent_v1_VerifyHttpResponseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_VerifyHttpResponseResponse__Output>): grpc.ClientUnaryCall;
  verifyHttpResponse(argument: _fapi_agent_v1_VerifyHttpResponseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_VerifyHttpResponseResponse__Output>): grpc.ClientUnaryCall;
  verifyHttpResponse(argument: _fapi_agent_v1_VerifyHttpResponseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_VerifyHttpResponseResponse__Output>): grpc.ClientUnaryCall;
  verifyHttpResponse(argument: _fapi_agent_v1_VerifyHttpResponseRequest, callback: grpc.requestCallback<_fapi_agent_v1_VerifyHttpResponseResponse__Output>): grpc.ClientUnaryCall;
  
  VerifyJarmResponse(argument: _fapi_agent_v1_VerifyJarmResponseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_VerifyJarmResponseResponse__Output>): grpc.ClientUnaryCall;
  VerifyJarmResponse(argument: _fapi_agent_v1_VerifyJarmResponseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_VerifyJarmResponseResponse__Output>): grpc.ClientUnaryCall;
  VerifyJarmResponse(argument: _fapi_agent_v1_VerifyJarmResponseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_VerifyJarmResponseResponse__Output>): grpc.ClientUnaryCall;
  VerifyJarmResponse(argument: _fapi_agent_v1_VerifyJarmResponseRequest, callback: grpc.requestCallback<_fapi_agent_v1_VerifyJarmResponseResponse__Output>): grpc.ClientUnaryCall;
  verifyJarmResponse(argument: _fapi_agent_v1_VerifyJarmResponseRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_VerifyJarmResponseResponse__Output>): grpc.ClientUnaryCall;
  verifyJarmResponse(argument: _fapi_agent_v1_VerifyJarmResponseRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_fapi_agent_v1_VerifyJarmResponseResponse__Output>): grpc.ClientUnaryCall;
  verifyJarmResponse(argument: _fapi_agent_v1_VerifyJarmResponseRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_fapi_agent_v1_VerifyJarmResponseResponse__Output>): grpc.ClientUnaryCall;
  verifyJarmResponse(argument: _fapi_agent_v1_VerifyJarmResponseRequest, callback: grpc.requestCallback<_fapi_agent_v1_VerifyJarmResponseResponse__Output>): grpc.ClientUnaryCall;
  
  WatchCredentials(argument: _fapi_agent_v1_WatchCredentialsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_fapi_agent_v1_CredentialEvent__Output>;
  WatchCredentials(argument: _fapi_agent_v1_WatchCredentialsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_fapi_agent_v1_CredentialEvent__Output>;
  watchCredentials(argument: _fapi_agent_v1_WatchCredentialsRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_fapi_agent_v1_CredentialEvent__Output>;
  watchCredentials(argument: _fapi_agent_v1_WatchCredentialsRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_fapi_agent_v1_CredentialEvent__Output>;
  
}

export interface AgentHandlers extends grpc.UntypedServiceImplementation {
  DecryptSecret: grpc.handleUnaryCall<_fapi_agent_v1_DecryptSecretRequest__Output, _fapi_agent_v1_DecryptSecretResponse>;
  
  ExchangeAuthorizationCode: grpc.handleUnaryCall<_fapi_agent_v1_ExchangeAuthorizationCodeRequest__Output, _fapi_agent_v1_AccessToken>;
  
  GetAccessToken: grpc.handleUnaryCall<_fapi_agent_v1_GetAccessTokenRequest__Output, _fapi_agent_v1_AccessToken>;
  
  GetCredential: grpc.handleUnaryCall<_fapi_agent_v1_GetCredentialRequest__Output, _fapi_agent_v1_Credential>;
  
  GetKeyMaterial: grpc.handleUnaryCall<_fapi_agent_v1_GetKeyMaterialRequest__Output, _fapi_agent_v1_GetKeyMaterialResponse>;
  
  Hmac: grpc.handleUnaryCall<_fapi_agent_v1_HmacRequest__Output, _fapi_agent_v1_HmacResponse>;
  
  ListCredentials: grpc.handleUnaryCall<_fapi_agent_v1_ListCredentialsRequest__Output, _fapi_agent_v1_ListCredentialsResponse>;
  
  PasswordDigest: grpc.handleUnaryCall<_fapi_agent_v1_PasswordDigestRequest__Output, _fapi_agent_v1_PasswordDigestResponse>;
  
  PushAuthorizationRequest: grpc.handleUnaryCall<_fapi_agent_v1_PushAuthorizationRequestRequest__Output, _fapi_agent_v1_PushAuthorizationRequestResponse>;
  
  RefreshAccessToken: grpc.handleUnaryCall<_fapi_agent_v1_RefreshAccessTokenRequest__Output, _fapi_agent_v1_AccessToken>;
  
  SignBerlinGroupRequest: grpc.handleUnaryCall<_fapi_agent_v1_SignBerlinGroupRequestRequest__Output, _fapi_agent_v1_SignBerlinGroupRequestResponse>;
  
  SignBrasilBody: grpc.handleUnaryCall<_fapi_agent_v1_SignBrasilBodyRequest__Output, _fapi_agent_v1_SignBrasilBodyResponse>;
  
  SignClientAssertion: grpc.handleUnaryCall<_fapi_agent_v1_SignClientAssertionRequest__Output, _fapi_agent_v1_SignClientAssertionResponse>;
  
  SignDpopProof: grpc.handleUnaryCall<_fapi_agent_v1_SignDpopProofRequest__Output, _fapi_agent_v1_SignDpopProofResponse>;
  
  SignHttpRequest: grpc.handleUnaryCall<_fapi_agent_v1_SignHttpRequestRequest__Output, _fapi_agent_v1_SignHttpRequestResponse>;
  
  SignObDetachedJws: grpc.handleUnaryCall<_fapi_agent_v1_SignObDetachedJwsRequest__Output, _fapi_agent_v1_SignObDetachedJwsResponse>;
  
  VerifyHttpResponse: grpc.handleUnaryCall<_fapi_agent_v1_VerifyHttpResponseRequest__Output, _fapi_agent_v1_VerifyHttpResponseResponse>;
  
  VerifyJarmResponse: grpc.handleUnaryCall<_fapi_agent_v1_VerifyJarmResponseRequest__Output, _fapi_agent_v1_VerifyJarmResponseResponse>;
  
  WatchCredentials: grpc.handleServerStreamingCall<_fapi_agent_v1_WatchCredentialsRequest__Output, _fapi_agent_v1_CredentialEvent>;
  
}

export interface AgentDefinition extends grpc.ServiceDefinition {
  DecryptSecret: MethodDefinition<_fapi_agent_v1_DecryptSecretRequest, _fapi_agent_v1_DecryptSecretResponse, _fapi_agent_v1_DecryptSecretRequest__Output, _fapi_agent_v1_DecryptSecretResponse__Output>
  ExchangeAuthorizationCode: MethodDefinition<_fapi_agent_v1_ExchangeAuthorizationCodeRequest, _fapi_agent_v1_AccessToken, _fapi_agent_v1_ExchangeAuthorizationCodeRequest__Output, _fapi_agent_v1_AccessToken__Output>
  GetAccessToken: MethodDefinition<_fapi_agent_v1_GetAccessTokenRequest, _fapi_agent_v1_AccessToken, _fapi_agent_v1_GetAccessTokenRequest__Output, _fapi_agent_v1_AccessToken__Output>
  GetCredential: MethodDefinition<_fapi_agent_v1_GetCredentialRequest, _fapi_agent_v1_Credential, _fapi_agent_v1_GetCredentialRequest__Output, _fapi_agent_v1_Credential__Output>
  GetKeyMaterial: MethodDefinition<_fapi_agent_v1_GetKeyMaterialRequest, _fapi_agent_v1_GetKeyMaterialResponse, _fapi_agent_v1_GetKeyMaterialRequest__Output, _fapi_agent_v1_GetKeyMaterialResponse__Output>
  Hmac: MethodDefinition<_fapi_agent_v1_HmacRequest, _fapi_agent_v1_HmacResponse, _fapi_agent_v1_HmacRequest__Output, _fapi_agent_v1_HmacResponse__Output>
  ListCredentials: MethodDefinition<_fapi_agent_v1_ListCredentialsRequest, _fapi_agent_v1_ListCredentialsResponse, _fapi_agent_v1_ListCredentialsRequest__Output, _fapi_agent_v1_ListCredentialsResponse__Output>
  PasswordDigest: MethodDefinition<_fapi_agent_v1_PasswordDigestRequest, _fapi_agent_v1_PasswordDigestResponse, _fapi_agent_v1_PasswordDigestRequest__Output, _fapi_agent_v1_PasswordDigestResponse__Output>
  PushAuthorizationRequest: MethodDefinition<_fapi_agent_v1_PushAuthorizationRequestRequest, _fapi_agent_v1_PushAuthorizationRequestResponse, _fapi_agent_v1_PushAuthorizationRequestRequest__Output, _fapi_agent_v1_PushAuthorizationRequestResponse__Output>
  RefreshAccessToken: MethodDefinition<_fapi_agent_v1_RefreshAccessTokenRequest, _fapi_agent_v1_AccessToken, _fapi_agent_v1_RefreshAccessTokenRequest__Output, _fapi_agent_v1_AccessToken__Output>
  SignBerlinGroupRequest: MethodDefinition<_fapi_agent_v1_SignBerlinGroupRequestRequest, _fapi_agent_v1_SignBerlinGroupRequestResponse, _fapi_agent_v1_SignBerlinGroupRequestRequest__Output, _fapi_agent_v1_SignBerlinGroupRequestResponse__Output>
  SignBrasilBody: MethodDefinition<_fapi_agent_v1_SignBrasilBodyRequest, _fapi_agent_v1_SignBrasilBodyResponse, _fapi_agent_v1_SignBrasilBodyRequest__Output, _fapi_agent_v1_SignBrasilBodyResponse__Output>
  SignClientAssertion: MethodDefinition<_fapi_agent_v1_SignClientAssertionRequest, _fapi_agent_v1_SignClientAssertionResponse, _fapi_agent_v1_SignClientAssertionRequest__Output, _fapi_agent_v1_SignClientAssertionResponse__Output>
  SignDpopProof: MethodDefinition<_fapi_agent_v1_SignDpopProofRequest, _fapi_agent_v1_SignDpopProofResponse, _fapi_agent_v1_SignDpopProofRequest__Output, _fapi_agent_v1_SignDpopProofResponse__Output>
  SignHttpRequest: MethodDefinition<_fapi_agent_v1_SignHttpRequestRequest, _fapi_agent_v1_SignHttpRequestResponse, _fapi_agent_v1_SignHttpRequestRequest__Output, _fapi_agent_v1_SignHttpRequestResponse__Output>
  SignObDetachedJws: MethodDefinition<_fapi_agent_v1_SignObDetachedJwsRequest, _fapi_agent_v1_SignObDetachedJwsResponse, _fapi_agent_v1_SignObDetachedJwsRequest__Output, _fapi_agent_v1_SignObDetachedJwsResponse__Output>
  VerifyHttpResponse: MethodDefinition<_fapi_agent_v1_VerifyHttpResponseRequest, _fapi_agent_v1_VerifyHttpResponseResponse, _fapi_agent_v1_VerifyHttpResponseRequest__Output, _fapi_agent_v1_VerifyHttpResponseResponse__Output>
  VerifyJarmResponse: MethodDefinition<_fapi_agent_v1_VerifyJarmResponseRequest, _fapi_agent_v1_VerifyJarmResponseResponse, _fapi_agent_v1_VerifyJarmResponseRequest__Output, _fapi_agent_v1_VerifyJarmResponseResponse__Output>
  WatchCredentials: MethodDefinition<_fapi_agent_v1_WatchCredentialsRequest, _fapi_agent_v1_CredentialEvent, _fapi_agent_v1_WatchCredentialsRequest__Output, _fapi_agent_v1_CredentialEvent__Output>
}
