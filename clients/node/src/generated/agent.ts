import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AccessToken as _fapi_agent_v1_AccessToken, AccessToken__Output as _fapi_agent_v1_AccessToken__Output } from './fapi_agent/v1/AccessToken';
import type { AdminClient as _fapi_agent_v1_AdminClient, AdminDefinition as _fapi_agent_v1_AdminDefinition } from './fapi_agent/v1/Admin';
import type { AgentClient as _fapi_agent_v1_AgentClient, AgentDefinition as _fapi_agent_v1_AgentDefinition } from './fapi_agent/v1/Agent';
import type { Credential as _fapi_agent_v1_Credential, Credential__Output as _fapi_agent_v1_Credential__Output } from './fapi_agent/v1/Credential';
import type { CredentialEvent as _fapi_agent_v1_CredentialEvent, CredentialEvent__Output as _fapi_agent_v1_CredentialEvent__Output } from './fapi_agent/v1/CredentialEvent';
import type { CredentialSelector as _fapi_agent_v1_CredentialSelector, CredentialSelector__Output as _fapi_agent_v1_CredentialSelector__Output } from './fapi_agent/v1/CredentialSelector';
import type { DecryptSecretRequest as _fapi_agent_v1_DecryptSecretRequest, DecryptSecretRequest__Output as _fapi_agent_v1_DecryptSecretRequest__Output } from './fapi_agent/v1/DecryptSecretRequest';
import type { DecryptSecretResponse as _fapi_agent_v1_DecryptSecretResponse, DecryptSecretResponse__Output as _fapi_agent_v1_DecryptSecretResponse__Output } from './fapi_agent/v1/DecryptSecretResponse';
import type { ExchangeAuthorizationCodeRequest as _fapi_agent_v1_ExchangeAuthorizationCodeRequest, ExchangeAuthorizationCodeRequest__Output as _fapi_agent_v1_ExchangeAuthorizationCodeRequest__Output } from './fapi_agent/v1/ExchangeAuthorizationCodeRequest';
import type { GetAccessTokenRequest as _fapi_agent_v1_GetAccessTokenRequest, GetAccessTokenRequest__Output as _fapi_agent_v1_GetAccessTokenRequest__Output } from './fapi_agent/v1/GetAccessTokenRequest';
import type { GetCredentialRequest as _fapi_agent_v1_GetCredentialRequest, GetCredentialRequest__Output as _fapi_agent_v1_GetCredentialRequest__Output } from './fapi_agent/v1/GetCredentialRequest';
import type { GetKeyMaterialRequest as _fapi_agent_v1_GetKeyMaterialRequest, GetKeyMaterialRequest__Output as _fapi_agent_v1_GetKeyMaterialRequest__Output } from './fapi_agent/v1/GetKeyMaterialRequest';
import type { GetKeyMaterialResponse as _fapi_agent_v1_GetKeyMaterialResponse, GetKeyMaterialResponse__Output as _fapi_agent_v1_GetKeyMaterialResponse__Output } from './fapi_agent/v1/GetKeyMaterialResponse';
import type { HmacRequest as _fapi_agent_v1_HmacRequest, HmacRequest__Output as _fapi_agent_v1_HmacRequest__Output } from './fapi_agent/v1/HmacRequest';
import type { HmacResponse as _fapi_agent_v1_HmacResponse, HmacResponse__Output as _fapi_agent_v1_HmacResponse__Output } from './fapi_agent/v1/HmacResponse';
import type { HttpHeader as _fapi_agent_v1_HttpHeader, HttpHeader__Output as _fapi_agent_v1_HttpHeader__Output } from './fapi_agent/v1/HttpHeader';
import type { KeyBackend as _fapi_agent_v1_KeyBackend, KeyBackend__Output as _fapi_agent_v1_KeyBackend__Output } from './fapi_agent/v1/KeyBackend';
import type { ListCredentialsRequest as _fapi_agent_v1_ListCredentialsRequest, ListCredentialsRequest__Output as _fapi_agent_v1_ListCredentialsRequest__Output } from './fapi_agent/v1/ListCredentialsRequest';
import type { ListCredentialsResponse as _fapi_agent_v1_ListCredentialsResponse, ListCredentialsResponse__Output as _fapi_agent_v1_ListCredentialsResponse__Output } from './fapi_agent/v1/ListCredentialsResponse';
import type { LockRequest as _fapi_agent_v1_LockRequest, LockRequest__Output as _fapi_agent_v1_LockRequest__Output } from './fapi_agent/v1/LockRequest';
import type { LockResponse as _fapi_agent_v1_LockResponse, LockResponse__Output as _fapi_agent_v1_LockResponse__Output } from './fapi_agent/v1/LockResponse';
import type { PassphraseSourceStatus as _fapi_agent_v1_PassphraseSourceStatus, PassphraseSourceStatus__Output as _fapi_agent_v1_PassphraseSourceStatus__Output } from './fapi_agent/v1/PassphraseSourceStatus';
import type { PasswordDigestRequest as _fapi_agent_v1_PasswordDigestRequest, PasswordDigestRequest__Output as _fapi_agent_v1_PasswordDigestRequest__Output } from './fapi_agent/v1/PasswordDigestRequest';
import type { PasswordDigestResponse as _fapi_agent_v1_PasswordDigestResponse, PasswordDigestResponse__Output as _fapi_agent_v1_PasswordDigestResponse__Output } from './fapi_agent/v1/PasswordDigestResponse';
import type { Pkcs11KeyFlags as _fapi_agent_v1_Pkcs11KeyFlags, Pkcs11KeyFlags__Output as _fapi_agent_v1_Pkcs11KeyFlags__Output } from './fapi_agent/v1/Pkcs11KeyFlags';
import type { PushAuthorizationRequestRequest as _fapi_agent_v1_PushAuthorizationRequestRequest, PushAuthorizationRequestRequest__Output as _fapi_agent_v1_PushAuthorizationRequestRequest__Output } from './fapi_agent/v1/PushAuthorizationRequestRequest';
import type { PushAuthorizationRequestResponse as _fapi_agent_v1_PushAuthorizationRequestResponse, PushAuthorizationRequestResponse__Output as _fapi_agent_v1_PushAuthorizationRequestResponse__Output } from './fapi_agent/v1/PushAuthorizationRequestResponse';
import type { RefreshAccessTokenRequest as _fapi_agent_v1_RefreshAccessTokenRequest, RefreshAccessTokenRequest__Output as _fapi_agent_v1_RefreshAccessTokenRequest__Output } from './fapi_agent/v1/RefreshAccessTokenRequest';
import type { ReloadRequest as _fapi_agent_v1_ReloadRequest, ReloadRequest__Output as _fapi_agent_v1_ReloadRequest__Output } from './fapi_agent/v1/ReloadRequest';
import type { ReloadResponse as _fapi_agent_v1_ReloadResponse, ReloadResponse__Output as _fapi_agent_v1_ReloadResponse__Output } from './fapi_agent/v1/ReloadResponse';
import type { SignBerlinGroupRequestRequest as _fapi_agent_v1_SignBerlinGroupRequestRequest, SignBerlinGroupRequestRequest__Output as _fapi_agent_v1_SignBerlinGroupRequestRequest__Output } from './fapi_agent/v1/SignBerlinGroupRequestRequest';
import type { SignBerlinGroupRequestResponse as _fapi_agent_v1_SignBerlinGroupRequestResponse, SignBerlinGroupRequestResponse__Output as _fapi_agent_v1_SignBerlinGroupRequestResponse__Output } from './fapi_agent/v1/SignBerlinGroupRequestResponse';
import type { SignBrasilBodyRequest as _fapi_agent_v1_SignBrasilBodyRequest, SignBrasilBodyRequest__Output as _fapi_agent_v1_SignBrasilBodyRequest__Output } from './fapi_agent/v1/SignBrasilBodyRequest';
import type { SignBrasilBodyResponse as _fapi_agent_v1_SignBrasilBodyResponse, SignBrasilBodyResponse__Output as _fapi_agent_v1_SignBrasilBodyResponse__Output } from './fapi_agent/v1/SignBrasilBodyResponse';
import type { SignClientAssertionRequest as _fapi_agent_v1_SignClientAssertionRequest, SignClientAssertionRequest__Output as _fapi_agent_v1_SignClientAssertionRequest__Output } from './fapi_agent/v1/SignClientAssertionRequest';
import type { SignClientAssertionResponse as _fapi_agent_v1_SignClientAssertionResponse, SignClientAssertionResponse__Output as _fapi_agent_v1_SignClientAssertionResponse__Output } from './fapi_agent/v1/SignClientAssertionResponse';
import type { SignDpopProofRequest as _fapi_agent_v1_SignDpopProofRequest, SignDpopProofRequest__Output as _fapi_agent_v1_SignDpopProofRequest__Output } from './fapi_agent/v1/SignDpopProofRequest';
import type { SignDpopProofResponse as _fapi_agent_v1_SignDpopProofResponse, SignDpopProofResponse__Output as _fapi_agent_v1_SignDpopProofResponse__Output } from './fapi_agent/v1/SignDpopProofResponse';
import type { SignHttpRequestRequest as _fapi_agent_v1_SignHttpRequestRequest, SignHttpRequestRequest__Output as _fapi_agent_v1_SignHttpRequestRequest__Output } from './fapi_agent/v1/SignHttpRequestRequest';
import type { SignHttpRequestResponse as _fapi_agent_v1_SignHttpRequestResponse, SignHttpRequestResponse__Output as _fapi_agent_v1_SignHttpRequestResponse__Output } from './fapi_agent/v1/SignHttpRequestResponse';
import type { SignObDetachedJwsRequest as _fapi_agent_v1_SignObDetachedJwsRequest, SignObDetachedJwsRequest__Output as _fapi_agent_v1_SignObDetachedJwsRequest__Output } from './fapi_agent/v1/SignObDetachedJwsRequest';
import type { SignObDetachedJwsResponse as _fapi_agent_v1_SignObDetachedJwsResponse, SignObDetachedJwsResponse__Output as _fapi_agent_v1_SignObDetachedJwsResponse__Output } from './fapi_agent/v1/SignObDetachedJwsResponse';
import type { StatusRequest as _fapi_agent_v1_StatusRequest, StatusRequest__Output as _fapi_agent_v1_StatusRequest__Output } from './fapi_agent/v1/StatusRequest';
import type { StatusResponse as _fapi_agent_v1_StatusResponse, StatusResponse__Output as _fapi_agent_v1_StatusResponse__Output } from './fapi_agent/v1/StatusResponse';
import type { TokenStatus as _fapi_agent_v1_TokenStatus, TokenStatus__Output as _fapi_agent_v1_TokenStatus__Output } from './fapi_agent/v1/TokenStatus';
import type { UnlockRequest as _fapi_agent_v1_UnlockRequest, UnlockRequest__Output as _fapi_agent_v1_UnlockRequest__Output } from './fapi_agent/v1/UnlockRequest';
import type { UnlockResponse as _fapi_agent_v1_UnlockResponse, UnlockResponse__Output as _fapi_agent_v1_UnlockResponse__Output } from './fapi_agent/v1/UnlockResponse';
import type { VerifyHttpResponseRequest as _fapi_agent_v1_VerifyHttpResponseRequest, VerifyHttpResponseRequest__Output as _fapi_agent_v1_VerifyHttpResponseRequest__Output } from './fapi_agent/v1/VerifyHttpResponseRequest';
import type { VerifyHttpResponseResponse as _fapi_agent_v1_VerifyHttpResponseResponse, VerifyHttpResponseResponse__Output as _fapi_agent_v1_VerifyHttpResponseResponse__Output } from './fapi_agent/v1/VerifyHttpResponseResponse';
import type { VerifyJarmResponseRequest as _fapi_agent_v1_VerifyJarmResponseRequest, VerifyJarmResponseRequest__Output as _fapi_agent_v1_VerifyJarmResponseRequest__Output } from './fapi_agent/v1/VerifyJarmResponseRequest';
import type { VerifyJarmResponseResponse as _fapi_agent_v1_VerifyJarmResponseResponse, VerifyJarmResponseResponse__Output as _fapi_agent_v1_VerifyJarmResponseResponse__Output } from './fapi_agent/v1/VerifyJarmResponseResponse';
import type { WatchCredentialsRequest as _fapi_agent_v1_WatchCredentialsRequest, WatchCredentialsRequest__Output as _fapi_agent_v1_WatchCredentialsRequest__Output } from './fapi_agent/v1/WatchCredentialsRequest';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  fapi_agent: {
    v1: {
      AccessToken: MessageTypeDefinition<_fapi_agent_v1_AccessToken, _fapi_agent_v1_AccessToken__Output>
      Admin: SubtypeConstructor<typeof grpc.Client, _fapi_agent_v1_AdminClient> & { service: _fapi_agent_v1_AdminDefinition }
      Agent: SubtypeConstructor<typeof grpc.Client, _fapi_agent_v1_AgentClient> & { service: _fapi_agent_v1_AgentDefinition }
      Credential: MessageTypeDefinition<_fapi_agent_v1_Credential, _fapi_agent_v1_Credential__Output>
      CredentialEvent: MessageTypeDefinition<_fapi_agent_v1_CredentialEvent, _fapi_agent_v1_CredentialEvent__Output>
      CredentialEventKind: EnumTypeDefinition
      CredentialSelector: MessageTypeDefinition<_fapi_agent_v1_CredentialSelector, _fapi_agent_v1_CredentialSelector__Output>
      CredentialState: EnumTypeDefinition
      DecryptSecretRequest: MessageTypeDefinition<_fapi_agent_v1_DecryptSecretRequest, _fapi_agent_v1_DecryptSecretRequest__Output>
      DecryptSecretResponse: MessageTypeDefinition<_fapi_agent_v1_DecryptSecretResponse, _fapi_agent_v1_DecryptSecretResponse__Output>
      ExchangeAuthorizationCodeRequest: MessageTypeDefinition<_fapi_agent_v1_ExchangeAuthorizationCodeRequest, _fapi_agent_v1_ExchangeAuthorizationCodeRequest__Output>
      GetAccessTokenRequest: MessageTypeDefinition<_fapi_agent_v1_GetAccessTokenRequest, _fapi_agent_v1_GetAccessTokenRequest__Output>
      GetCredentialRequest: MessageTypeDefinition<_fapi_agent_v1_GetCredentialRequest, _fapi_agent_v1_GetCredentialRequest__Output>
      GetKeyMaterialRequest: MessageTypeDefinition<_fapi_agent_v1_GetKeyMaterialRequest, _fapi_agent_v1_GetKeyMaterialRequest__Output>
      GetKeyMaterialResponse: MessageTypeDefinition<_fapi_agent_v1_GetKeyMaterialResponse, _fapi_agent_v1_GetKeyMaterialResponse__Output>
      Grant: EnumTypeDefinition
      HmacAlg: EnumTypeDefinition
      HmacRequest: MessageTypeDefinition<_fapi_agent_v1_HmacRequest, _fapi_agent_v1_HmacRequest__Output>
      HmacResponse: MessageTypeDefinition<_fapi_agent_v1_HmacResponse, _fapi_agent_v1_HmacResponse__Output>
      HttpHeader: MessageTypeDefinition<_fapi_agent_v1_HttpHeader, _fapi_agent_v1_HttpHeader__Output>
      KeyBackend: MessageTypeDefinition<_fapi_agent_v1_KeyBackend, _fapi_agent_v1_KeyBackend__Output>
      KeyFormat: EnumTypeDefinition
      ListCredentialsRequest: MessageTypeDefinition<_fapi_agent_v1_ListCredentialsRequest, _fapi_agent_v1_ListCredentialsRequest__Output>
      ListCredentialsResponse: MessageTypeDefinition<_fapi_agent_v1_ListCredentialsResponse, _fapi_agent_v1_ListCredentialsResponse__Output>
      LockRequest: MessageTypeDefinition<_fapi_agent_v1_LockRequest, _fapi_agent_v1_LockRequest__Output>
      LockResponse: MessageTypeDefinition<_fapi_agent_v1_LockResponse, _fapi_agent_v1_LockResponse__Output>
      MacEncoding: EnumTypeDefinition
      ObProfile: EnumTypeDefinition
      Padding: EnumTypeDefinition
      PassphraseSourceStatus: MessageTypeDefinition<_fapi_agent_v1_PassphraseSourceStatus, _fapi_agent_v1_PassphraseSourceStatus__Output>
      PasswordDigestRequest: MessageTypeDefinition<_fapi_agent_v1_PasswordDigestRequest, _fapi_agent_v1_PasswordDigestRequest__Output>
      PasswordDigestResponse: MessageTypeDefinition<_fapi_agent_v1_PasswordDigestResponse, _fapi_agent_v1_PasswordDigestResponse__Output>
      Pkcs11KeyFlags: MessageTypeDefinition<_fapi_agent_v1_Pkcs11KeyFlags, _fapi_agent_v1_Pkcs11KeyFlags__Output>
      PushAuthorizationRequestRequest: MessageTypeDefinition<_fapi_agent_v1_PushAuthorizationRequestRequest, _fapi_agent_v1_PushAuthorizationRequestRequest__Output>
      PushAuthorizationRequestResponse: MessageTypeDefinition<_fapi_agent_v1_PushAuthorizationRequestResponse, _fapi_agent_v1_PushAuthorizationRequestResponse__Output>
      RefreshAccessTokenRequest: MessageTypeDefinition<_fapi_agent_v1_RefreshAccessTokenRequest, _fapi_agent_v1_RefreshAccessTokenRequest__Output>
      ReloadRequest: MessageTypeDefinition<_fapi_agent_v1_ReloadRequest, _fapi_agent_v1_ReloadRequest__Output>
      ReloadResponse: MessageTypeDefinition<_fapi_agent_v1_ReloadResponse, _fapi_agent_v1_ReloadResponse__Output>
      SignBerlinGroupRequestRequest: MessageTypeDefinition<_fapi_agent_v1_SignBerlinGroupRequestRequest, _fapi_agent_v1_SignBerlinGroupRequestRequest__Output>
      SignBerlinGroupRequestResponse: MessageTypeDefinition<_fapi_agent_v1_SignBerlinGroupRequestResponse, _fapi_agent_v1_SignBerlinGroupRequestResponse__Output>
      SignBrasilBodyRequest: MessageTypeDefinition<_fapi_agent_v1_SignBrasilBodyRequest, _fapi_agent_v1_SignBrasilBodyRequest__Output>
      SignBrasilBodyResponse: MessageTypeDefinition<_fapi_agent_v1_SignBrasilBodyResponse, _fapi_agent_v1_SignBrasilBodyResponse__Output>
      SignClientAssertionRequest: MessageTypeDefinition<_fapi_agent_v1_SignClientAssertionRequest, _fapi_agent_v1_SignClientAssertionRequest__Output>
      SignClientAssertionResponse: MessageTypeDefinition<_fapi_agent_v1_SignClientAssertionResponse, _fapi_agent_v1_SignClientAssertionResponse__Output>
      SignDpopProofRequest: MessageTypeDefinition<_fapi_agent_v1_SignDpopProofRequest, _fapi_agent_v1_SignDpopProofRequest__Output>
      SignDpopProofResponse: MessageTypeDefinition<_fapi_agent_v1_SignDpopProofResponse, _fapi_agent_v1_SignDpopProofResponse__Output>
      SignHttpRequestRequest: MessageTypeDefinition<_fapi_agent_v1_SignHttpRequestRequest, _fapi_agent_v1_SignHttpRequestRequest__Output>
      SignHttpRequestResponse: MessageTypeDefinition<_fapi_agent_v1_SignHttpRequestResponse, _fapi_agent_v1_SignHttpRequestResponse__Output>
      SignObDetachedJwsRequest: MessageTypeDefinition<_fapi_agent_v1_SignObDetachedJwsRequest, _fapi_agent_v1_SignObDetachedJwsRequest__Output>
      SignObDetachedJwsResponse: MessageTypeDefinition<_fapi_agent_v1_SignObDetachedJwsResponse, _fapi_agent_v1_SignObDetachedJwsResponse__Output>
      StatusRequest: MessageTypeDefinition<_fapi_agent_v1_StatusRequest, _fapi_agent_v1_StatusRequest__Output>
      StatusResponse: MessageTypeDefinition<_fapi_agent_v1_StatusResponse, _fapi_agent_v1_StatusResponse__Output>
      TokenStatus: MessageTypeDefinition<_fapi_agent_v1_TokenStatus, _fapi_agent_v1_TokenStatus__Output>
      UnlockRequest: MessageTypeDefinition<_fapi_agent_v1_UnlockRequest, _fapi_agent_v1_UnlockRequest__Output>
      UnlockResponse: MessageTypeDefinition<_fapi_agent_v1_UnlockResponse, _fapi_agent_v1_UnlockResponse__Output>
      VerifyHttpResponseRequest: MessageTypeDefinition<_fapi_agent_v1_VerifyHttpResponseRequest, _fapi_agent_v1_VerifyHttpResponseRequest__Output>
      VerifyHttpResponseResponse: MessageTypeDefinition<_fapi_agent_v1_VerifyHttpResponseResponse, _fapi_agent_v1_VerifyHttpResponseResponse__Output>
      VerifyJarmResponseRequest: MessageTypeDefinition<_fapi_agent_v1_VerifyJarmResponseRequest, _fapi_agent_v1_VerifyJarmResponseRequest__Output>
      VerifyJarmResponseResponse: MessageTypeDefinition<_fapi_agent_v1_VerifyJarmResponseResponse, _fapi_agent_v1_VerifyJarmResponseResponse__Output>
      WatchCredentialsRequest: MessageTypeDefinition<_fapi_agent_v1_WatchCredentialsRequest, _fapi_agent_v1_WatchCredentialsRequest__Output>
    }
  }
}

