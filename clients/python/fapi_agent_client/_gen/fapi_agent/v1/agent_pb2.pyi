from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Padding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PADDING_UNSPECIFIED: _ClassVar[Padding]
    PADDING_PKCS1_V15: _ClassVar[Padding]
    PADDING_OAEP_SHA1: _ClassVar[Padding]
    PADDING_OAEP_SHA256: _ClassVar[Padding]

class CredentialState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_STATE_UNSPECIFIED: _ClassVar[CredentialState]
    CREDENTIAL_STATE_AVAILABLE: _ClassVar[CredentialState]
    CREDENTIAL_STATE_LOCKED: _ClassVar[CredentialState]
    CREDENTIAL_STATE_ERROR: _ClassVar[CredentialState]

class Grant(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GRANT_UNSPECIFIED: _ClassVar[Grant]
    GRANT_CLIENT_CREDENTIALS: _ClassVar[Grant]
    GRANT_PASSWORD: _ClassVar[Grant]

class KeyFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KEY_FORMAT_UNSPECIFIED: _ClassVar[KeyFormat]
    KEY_FORMAT_PKCS8_PEM: _ClassVar[KeyFormat]
    KEY_FORMAT_ENCRYPTED_PKCS8_PEM: _ClassVar[KeyFormat]

class CredentialEventKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CREDENTIAL_EVENT_KIND_UNSPECIFIED: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_SNAPSHOT: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_ADDED: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_REMOVED: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_ACTIVE: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_EXPIRING_SOON: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_EXPIRED: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_ERROR: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_RECOVERED: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_UPDATED: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_LAGGED: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_LOCKED: _ClassVar[CredentialEventKind]
    CREDENTIAL_EVENT_KIND_UNLOCKED: _ClassVar[CredentialEventKind]

class ObProfile(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OB_PROFILE_UNSPECIFIED: _ClassVar[ObProfile]
    OB_UK_3_1_4: _ClassVar[ObProfile]
    OB_UK_3_1_3: _ClassVar[ObProfile]

class HmacAlg(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HMAC_ALG_UNSPECIFIED: _ClassVar[HmacAlg]
    HMAC_SHA1: _ClassVar[HmacAlg]
    HMAC_SHA256: _ClassVar[HmacAlg]
    HMAC_SHA512: _ClassVar[HmacAlg]

class MacEncoding(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MAC_ENCODING_HEX: _ClassVar[MacEncoding]
    MAC_ENCODING_BASE64: _ClassVar[MacEncoding]
    MAC_ENCODING_BASE64URL: _ClassVar[MacEncoding]
PADDING_UNSPECIFIED: Padding
PADDING_PKCS1_V15: Padding
PADDING_OAEP_SHA1: Padding
PADDING_OAEP_SHA256: Padding
CREDENTIAL_STATE_UNSPECIFIED: CredentialState
CREDENTIAL_STATE_AVAILABLE: CredentialState
CREDENTIAL_STATE_LOCKED: CredentialState
CREDENTIAL_STATE_ERROR: CredentialState
GRANT_UNSPECIFIED: Grant
GRANT_CLIENT_CREDENTIALS: Grant
GRANT_PASSWORD: Grant
KEY_FORMAT_UNSPECIFIED: KeyFormat
KEY_FORMAT_PKCS8_PEM: KeyFormat
KEY_FORMAT_ENCRYPTED_PKCS8_PEM: KeyFormat
CREDENTIAL_EVENT_KIND_UNSPECIFIED: CredentialEventKind
CREDENTIAL_EVENT_KIND_SNAPSHOT: CredentialEventKind
CREDENTIAL_EVENT_KIND_ADDED: CredentialEventKind
CREDENTIAL_EVENT_KIND_REMOVED: CredentialEventKind
CREDENTIAL_EVENT_KIND_ACTIVE: CredentialEventKind
CREDENTIAL_EVENT_KIND_EXPIRING_SOON: CredentialEventKind
CREDENTIAL_EVENT_KIND_EXPIRED: CredentialEventKind
CREDENTIAL_EVENT_KIND_ERROR: CredentialEventKind
CREDENTIAL_EVENT_KIND_RECOVERED: CredentialEventKind
CREDENTIAL_EVENT_KIND_UPDATED: CredentialEventKind
CREDENTIAL_EVENT_KIND_LAGGED: CredentialEventKind
CREDENTIAL_EVENT_KIND_LOCKED: CredentialEventKind
CREDENTIAL_EVENT_KIND_UNLOCKED: CredentialEventKind
OB_PROFILE_UNSPECIFIED: ObProfile
OB_UK_3_1_4: ObProfile
OB_UK_3_1_3: ObProfile
HMAC_ALG_UNSPECIFIED: HmacAlg
HMAC_SHA1: HmacAlg
HMAC_SHA256: HmacAlg
HMAC_SHA512: HmacAlg
MAC_ENCODING_HEX: MacEncoding
MAC_ENCODING_BASE64: MacEncoding
MAC_ENCODING_BASE64URL: MacEncoding

class CredentialSelector(_message.Message):
    __slots__ = ("name", "client_id", "kid")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    name: str
    client_id: str
    kid: str
    def __init__(self, name: _Optional[str] = ..., client_id: _Optional[str] = ..., kid: _Optional[str] = ...) -> None: ...

class SignClientAssertionRequest(_message.Message):
    __slots__ = ("credential", "audience", "lifetime_seconds", "extra_claims_json")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    LIFETIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    EXTRA_CLAIMS_JSON_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    audience: str
    lifetime_seconds: int
    extra_claims_json: str
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., audience: _Optional[str] = ..., lifetime_seconds: _Optional[int] = ..., extra_claims_json: _Optional[str] = ...) -> None: ...

class SignClientAssertionResponse(_message.Message):
    __slots__ = ("assertion", "assertion_type", "kid", "jti", "expires_at", "alg", "credential")
    ASSERTION_FIELD_NUMBER: _ClassVar[int]
    ASSERTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    JTI_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    assertion: str
    assertion_type: str
    kid: str
    jti: str
    expires_at: int
    alg: str
    credential: str
    def __init__(self, assertion: _Optional[str] = ..., assertion_type: _Optional[str] = ..., kid: _Optional[str] = ..., jti: _Optional[str] = ..., expires_at: _Optional[int] = ..., alg: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...

class DecryptSecretRequest(_message.Message):
    __slots__ = ("credential", "ciphertext_raw", "ciphertext_base64", "padding")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_RAW_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_BASE64_FIELD_NUMBER: _ClassVar[int]
    PADDING_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    ciphertext_raw: bytes
    ciphertext_base64: str
    padding: Padding
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., ciphertext_raw: _Optional[bytes] = ..., ciphertext_base64: _Optional[str] = ..., padding: _Optional[_Union[Padding, str]] = ...) -> None: ...

class DecryptSecretResponse(_message.Message):
    __slots__ = ("plaintext",)
    PLAINTEXT_FIELD_NUMBER: _ClassVar[int]
    plaintext: bytes
    def __init__(self, plaintext: _Optional[bytes] = ...) -> None: ...

class GetCredentialRequest(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ...) -> None: ...

class ListCredentialsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListCredentialsResponse(_message.Message):
    __slots__ = ("credentials",)
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[Credential]
    def __init__(self, credentials: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ...) -> None: ...

class Credential(_message.Message):
    __slots__ = ("name", "client_id", "kid", "alg", "certificate_chain_pem", "public_jwk_json", "x5t_s256", "not_before", "not_after", "days_left", "state", "error", "issuer", "export_allowed", "decrypt_paddings", "key_decrypted", "passphrase_source", "client_jwks_json", "token_status", "key_backend")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_JWK_JSON_FIELD_NUMBER: _ClassVar[int]
    X5T_S256_FIELD_NUMBER: _ClassVar[int]
    NOT_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    DAYS_LEFT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    ISSUER_FIELD_NUMBER: _ClassVar[int]
    EXPORT_ALLOWED_FIELD_NUMBER: _ClassVar[int]
    DECRYPT_PADDINGS_FIELD_NUMBER: _ClassVar[int]
    KEY_DECRYPTED_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_SOURCE_FIELD_NUMBER: _ClassVar[int]
    CLIENT_JWKS_JSON_FIELD_NUMBER: _ClassVar[int]
    TOKEN_STATUS_FIELD_NUMBER: _ClassVar[int]
    KEY_BACKEND_FIELD_NUMBER: _ClassVar[int]
    name: str
    client_id: str
    kid: str
    alg: str
    certificate_chain_pem: str
    public_jwk_json: str
    x5t_s256: str
    not_before: int
    not_after: int
    days_left: int
    state: CredentialState
    error: str
    issuer: str
    export_allowed: bool
    decrypt_paddings: _containers.RepeatedScalarFieldContainer[Padding]
    key_decrypted: bool
    passphrase_source: PassphraseSourceStatus
    client_jwks_json: str
    token_status: TokenStatus
    key_backend: KeyBackend
    def __init__(self, name: _Optional[str] = ..., client_id: _Optional[str] = ..., kid: _Optional[str] = ..., alg: _Optional[str] = ..., certificate_chain_pem: _Optional[str] = ..., public_jwk_json: _Optional[str] = ..., x5t_s256: _Optional[str] = ..., not_before: _Optional[int] = ..., not_after: _Optional[int] = ..., days_left: _Optional[int] = ..., state: _Optional[_Union[CredentialState, str]] = ..., error: _Optional[str] = ..., issuer: _Optional[str] = ..., export_allowed: _Optional[bool] = ..., decrypt_paddings: _Optional[_Iterable[_Union[Padding, str]]] = ..., key_decrypted: _Optional[bool] = ..., passphrase_source: _Optional[_Union[PassphraseSourceStatus, _Mapping]] = ..., client_jwks_json: _Optional[str] = ..., token_status: _Optional[_Union[TokenStatus, _Mapping]] = ..., key_backend: _Optional[_Union[KeyBackend, _Mapping]] = ...) -> None: ...

class KeyBackend(_message.Message):
    __slots__ = ("kind", "location", "module", "token", "extractable", "token_flags")
    KIND_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    MODULE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXTRACTABLE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FLAGS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    location: str
    module: str
    token: str
    extractable: bool
    token_flags: Pkcs11KeyFlags
    def __init__(self, kind: _Optional[str] = ..., location: _Optional[str] = ..., module: _Optional[str] = ..., token: _Optional[str] = ..., extractable: _Optional[bool] = ..., token_flags: _Optional[_Union[Pkcs11KeyFlags, _Mapping]] = ...) -> None: ...

class Pkcs11KeyFlags(_message.Message):
    __slots__ = ("extractable", "never_extractable", "sensitive")
    EXTRACTABLE_FIELD_NUMBER: _ClassVar[int]
    NEVER_EXTRACTABLE_FIELD_NUMBER: _ClassVar[int]
    SENSITIVE_FIELD_NUMBER: _ClassVar[int]
    extractable: bool
    never_extractable: bool
    sensitive: bool
    def __init__(self, extractable: _Optional[bool] = ..., never_extractable: _Optional[bool] = ..., sensitive: _Optional[bool] = ...) -> None: ...

class TokenStatus(_message.Message):
    __slots__ = ("auth_method", "sender_constraint", "last_request_at", "last_outcome", "cached_tokens", "earliest_expiry", "dpop_jkt", "dpop_key")
    AUTH_METHOD_FIELD_NUMBER: _ClassVar[int]
    SENDER_CONSTRAINT_FIELD_NUMBER: _ClassVar[int]
    LAST_REQUEST_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    CACHED_TOKENS_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_EXPIRY_FIELD_NUMBER: _ClassVar[int]
    DPOP_JKT_FIELD_NUMBER: _ClassVar[int]
    DPOP_KEY_FIELD_NUMBER: _ClassVar[int]
    auth_method: str
    sender_constraint: str
    last_request_at: int
    last_outcome: str
    cached_tokens: int
    earliest_expiry: int
    dpop_jkt: str
    dpop_key: str
    def __init__(self, auth_method: _Optional[str] = ..., sender_constraint: _Optional[str] = ..., last_request_at: _Optional[int] = ..., last_outcome: _Optional[str] = ..., cached_tokens: _Optional[int] = ..., earliest_expiry: _Optional[int] = ..., dpop_jkt: _Optional[str] = ..., dpop_key: _Optional[str] = ...) -> None: ...

class GetAccessTokenRequest(_message.Message):
    __slots__ = ("credential", "scopes", "resource", "audience", "force_refresh", "grant")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    FORCE_REFRESH_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    scopes: _containers.RepeatedScalarFieldContainer[str]
    resource: _containers.RepeatedScalarFieldContainer[str]
    audience: str
    force_refresh: bool
    grant: Grant
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., scopes: _Optional[_Iterable[str]] = ..., resource: _Optional[_Iterable[str]] = ..., audience: _Optional[str] = ..., force_refresh: _Optional[bool] = ..., grant: _Optional[_Union[Grant, str]] = ...) -> None: ...

class AccessToken(_message.Message):
    __slots__ = ("access_token", "token_type", "expires_at", "scope", "jkt", "x5t_s256", "refresh_token", "cached", "credential")
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    JKT_FIELD_NUMBER: _ClassVar[int]
    X5T_S256_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    access_token: str
    token_type: str
    expires_at: int
    scope: str
    jkt: str
    x5t_s256: str
    refresh_token: str
    cached: bool
    credential: str
    def __init__(self, access_token: _Optional[str] = ..., token_type: _Optional[str] = ..., expires_at: _Optional[int] = ..., scope: _Optional[str] = ..., jkt: _Optional[str] = ..., x5t_s256: _Optional[str] = ..., refresh_token: _Optional[str] = ..., cached: _Optional[bool] = ..., credential: _Optional[str] = ...) -> None: ...

class ExchangeAuthorizationCodeRequest(_message.Message):
    __slots__ = ("credential", "code", "code_verifier", "redirect_uri")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    CODE_VERIFIER_FIELD_NUMBER: _ClassVar[int]
    REDIRECT_URI_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    code: str
    code_verifier: str
    redirect_uri: str
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., code: _Optional[str] = ..., code_verifier: _Optional[str] = ..., redirect_uri: _Optional[str] = ...) -> None: ...

class RefreshAccessTokenRequest(_message.Message):
    __slots__ = ("credential", "refresh_token", "scopes")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    REFRESH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    refresh_token: str
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., refresh_token: _Optional[str] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class PushAuthorizationRequestRequest(_message.Message):
    __slots__ = ("credential", "parameters", "signed_request_object")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    SIGNED_REQUEST_OBJECT_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    parameters: _containers.ScalarMap[str, str]
    signed_request_object: bool
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., parameters: _Optional[_Mapping[str, str]] = ..., signed_request_object: _Optional[bool] = ...) -> None: ...

class PushAuthorizationRequestResponse(_message.Message):
    __slots__ = ("request_uri", "expires_in", "authorization_endpoint", "client_id")
    REQUEST_URI_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_IN_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    request_uri: str
    expires_in: int
    authorization_endpoint: str
    client_id: str
    def __init__(self, request_uri: _Optional[str] = ..., expires_in: _Optional[int] = ..., authorization_endpoint: _Optional[str] = ..., client_id: _Optional[str] = ...) -> None: ...

class SignDpopProofRequest(_message.Message):
    __slots__ = ("credential", "htm", "htu", "access_token", "nonce")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    HTM_FIELD_NUMBER: _ClassVar[int]
    HTU_FIELD_NUMBER: _ClassVar[int]
    ACCESS_TOKEN_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    htm: str
    htu: str
    access_token: str
    nonce: str
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., htm: _Optional[str] = ..., htu: _Optional[str] = ..., access_token: _Optional[str] = ..., nonce: _Optional[str] = ...) -> None: ...

class SignDpopProofResponse(_message.Message):
    __slots__ = ("proof", "jkt", "jti", "htu")
    PROOF_FIELD_NUMBER: _ClassVar[int]
    JKT_FIELD_NUMBER: _ClassVar[int]
    JTI_FIELD_NUMBER: _ClassVar[int]
    HTU_FIELD_NUMBER: _ClassVar[int]
    proof: str
    jkt: str
    jti: str
    htu: str
    def __init__(self, proof: _Optional[str] = ..., jkt: _Optional[str] = ..., jti: _Optional[str] = ..., htu: _Optional[str] = ...) -> None: ...

class PassphraseSourceStatus(_message.Message):
    __slots__ = ("kind", "description", "last_fetch_at", "last_error", "last_error_at", "held", "next_retry_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LAST_FETCH_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_AT_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    NEXT_RETRY_AT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    description: str
    last_fetch_at: int
    last_error: str
    last_error_at: int
    held: bool
    next_retry_at: int
    def __init__(self, kind: _Optional[str] = ..., description: _Optional[str] = ..., last_fetch_at: _Optional[int] = ..., last_error: _Optional[str] = ..., last_error_at: _Optional[int] = ..., held: _Optional[bool] = ..., next_retry_at: _Optional[int] = ...) -> None: ...

class GetKeyMaterialRequest(_message.Message):
    __slots__ = ("credential", "format", "export_passphrase")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    EXPORT_PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    format: KeyFormat
    export_passphrase: bytes
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., format: _Optional[_Union[KeyFormat, str]] = ..., export_passphrase: _Optional[bytes] = ...) -> None: ...

class GetKeyMaterialResponse(_message.Message):
    __slots__ = ("private_key_pem", "certificate_chain_pem", "kid")
    PRIVATE_KEY_PEM_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_CHAIN_PEM_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    private_key_pem: bytes
    certificate_chain_pem: str
    kid: str
    def __init__(self, private_key_pem: _Optional[bytes] = ..., certificate_chain_pem: _Optional[str] = ..., kid: _Optional[str] = ...) -> None: ...

class WatchCredentialsRequest(_message.Message):
    __slots__ = ("client_id",)
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    def __init__(self, client_id: _Optional[str] = ...) -> None: ...

class CredentialEvent(_message.Message):
    __slots__ = ("kind", "credential", "snapshot", "observed_at")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    OBSERVED_AT_FIELD_NUMBER: _ClassVar[int]
    kind: CredentialEventKind
    credential: Credential
    snapshot: _containers.RepeatedCompositeFieldContainer[Credential]
    observed_at: int
    def __init__(self, kind: _Optional[_Union[CredentialEventKind, str]] = ..., credential: _Optional[_Union[Credential, _Mapping]] = ..., snapshot: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ..., observed_at: _Optional[int] = ...) -> None: ...

class ReloadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReloadResponse(_message.Message):
    __slots__ = ("added", "removed", "updated", "errors")
    ADDED_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    added: _containers.RepeatedScalarFieldContainer[str]
    removed: _containers.RepeatedScalarFieldContainer[str]
    updated: _containers.RepeatedScalarFieldContainer[str]
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, added: _Optional[_Iterable[str]] = ..., removed: _Optional[_Iterable[str]] = ..., updated: _Optional[_Iterable[str]] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class LockRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LockResponse(_message.Message):
    __slots__ = ("locked",)
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    locked: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, locked: _Optional[_Iterable[str]] = ...) -> None: ...

class UnlockRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UnlockResponse(_message.Message):
    __slots__ = ("unlocked", "errors")
    UNLOCKED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    unlocked: _containers.RepeatedScalarFieldContainer[str]
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, unlocked: _Optional[_Iterable[str]] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("version", "uptime_seconds", "socket_path", "credentials", "pid", "last_reload_at", "last_reload_trigger", "last_reload_error", "locked", "secret_pages_locked", "secret_pages_unlockable", "secure_heap")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_SECONDS_FIELD_NUMBER: _ClassVar[int]
    SOCKET_PATH_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    LAST_RELOAD_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_RELOAD_TRIGGER_FIELD_NUMBER: _ClassVar[int]
    LAST_RELOAD_ERROR_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    SECRET_PAGES_LOCKED_FIELD_NUMBER: _ClassVar[int]
    SECRET_PAGES_UNLOCKABLE_FIELD_NUMBER: _ClassVar[int]
    SECURE_HEAP_FIELD_NUMBER: _ClassVar[int]
    version: str
    uptime_seconds: int
    socket_path: str
    credentials: _containers.RepeatedCompositeFieldContainer[Credential]
    pid: int
    last_reload_at: int
    last_reload_trigger: str
    last_reload_error: str
    locked: bool
    secret_pages_locked: int
    secret_pages_unlockable: int
    secure_heap: bool
    def __init__(self, version: _Optional[str] = ..., uptime_seconds: _Optional[int] = ..., socket_path: _Optional[str] = ..., credentials: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ..., pid: _Optional[int] = ..., last_reload_at: _Optional[int] = ..., last_reload_trigger: _Optional[str] = ..., last_reload_error: _Optional[str] = ..., locked: _Optional[bool] = ..., secret_pages_locked: _Optional[int] = ..., secret_pages_unlockable: _Optional[int] = ..., secure_heap: _Optional[bool] = ...) -> None: ...

class SignObDetachedJwsRequest(_message.Message):
    __slots__ = ("credential", "body", "profile")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    PROFILE_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    body: bytes
    profile: ObProfile
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., body: _Optional[bytes] = ..., profile: _Optional[_Union[ObProfile, str]] = ...) -> None: ...

class SignObDetachedJwsResponse(_message.Message):
    __slots__ = ("x_jws_signature", "kid", "credential")
    X_JWS_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    x_jws_signature: str
    kid: str
    credential: str
    def __init__(self, x_jws_signature: _Optional[str] = ..., kid: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...

class SignBrasilBodyRequest(_message.Message):
    __slots__ = ("credential", "data_json", "audience")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    AUDIENCE_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    data_json: str
    audience: str
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., data_json: _Optional[str] = ..., audience: _Optional[str] = ...) -> None: ...

class SignBrasilBodyResponse(_message.Message):
    __slots__ = ("jws", "jti", "kid")
    JWS_FIELD_NUMBER: _ClassVar[int]
    JTI_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    jws: str
    jti: str
    kid: str
    def __init__(self, jws: _Optional[str] = ..., jti: _Optional[str] = ..., kid: _Optional[str] = ...) -> None: ...

class HttpHeader(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    value: str
    def __init__(self, name: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class SignHttpRequestRequest(_message.Message):
    __slots__ = ("credential", "method", "target_uri", "authorization", "dpop", "covered_headers", "body")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TARGET_URI_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    DPOP_FIELD_NUMBER: _ClassVar[int]
    COVERED_HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    method: str
    target_uri: str
    authorization: str
    dpop: str
    covered_headers: _containers.RepeatedCompositeFieldContainer[HttpHeader]
    body: bytes
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., method: _Optional[str] = ..., target_uri: _Optional[str] = ..., authorization: _Optional[str] = ..., dpop: _Optional[str] = ..., covered_headers: _Optional[_Iterable[_Union[HttpHeader, _Mapping]]] = ..., body: _Optional[bytes] = ...) -> None: ...

class SignHttpRequestResponse(_message.Message):
    __slots__ = ("signature_input", "signature", "content_digest", "covered_components", "created", "keyid", "alg", "target_uri")
    SIGNATURE_INPUT_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_DIGEST_FIELD_NUMBER: _ClassVar[int]
    COVERED_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    KEYID_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    TARGET_URI_FIELD_NUMBER: _ClassVar[int]
    signature_input: str
    signature: str
    content_digest: str
    covered_components: _containers.RepeatedScalarFieldContainer[str]
    created: int
    keyid: str
    alg: str
    target_uri: str
    def __init__(self, signature_input: _Optional[str] = ..., signature: _Optional[str] = ..., content_digest: _Optional[str] = ..., covered_components: _Optional[_Iterable[str]] = ..., created: _Optional[int] = ..., keyid: _Optional[str] = ..., alg: _Optional[str] = ..., target_uri: _Optional[str] = ...) -> None: ...

class VerifyHttpResponseRequest(_message.Message):
    __slots__ = ("credential", "method", "target_uri", "authorization", "dpop", "request_body", "status", "headers", "body")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    TARGET_URI_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    DPOP_FIELD_NUMBER: _ClassVar[int]
    REQUEST_BODY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    method: str
    target_uri: str
    authorization: str
    dpop: str
    request_body: bytes
    status: int
    headers: _containers.RepeatedCompositeFieldContainer[HttpHeader]
    body: bytes
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., method: _Optional[str] = ..., target_uri: _Optional[str] = ..., authorization: _Optional[str] = ..., dpop: _Optional[str] = ..., request_body: _Optional[bytes] = ..., status: _Optional[int] = ..., headers: _Optional[_Iterable[_Union[HttpHeader, _Mapping]]] = ..., body: _Optional[bytes] = ...) -> None: ...

class VerifyHttpResponseResponse(_message.Message):
    __slots__ = ("label", "keyid", "created", "covered_components")
    LABEL_FIELD_NUMBER: _ClassVar[int]
    KEYID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    COVERED_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    label: str
    keyid: str
    created: int
    covered_components: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, label: _Optional[str] = ..., keyid: _Optional[str] = ..., created: _Optional[int] = ..., covered_components: _Optional[_Iterable[str]] = ...) -> None: ...

class SignBerlinGroupRequestRequest(_message.Message):
    __slots__ = ("credential", "x_request_id", "headers", "body")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    X_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    x_request_id: str
    headers: _containers.RepeatedCompositeFieldContainer[HttpHeader]
    body: bytes
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., x_request_id: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[HttpHeader, _Mapping]]] = ..., body: _Optional[bytes] = ...) -> None: ...

class SignBerlinGroupRequestResponse(_message.Message):
    __slots__ = ("digest", "signature", "tpp_signature_certificate", "x_request_id", "signed_headers", "key_id")
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    TPP_SIGNATURE_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    X_REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNED_HEADERS_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    digest: str
    signature: str
    tpp_signature_certificate: str
    x_request_id: str
    signed_headers: _containers.RepeatedScalarFieldContainer[str]
    key_id: str
    def __init__(self, digest: _Optional[str] = ..., signature: _Optional[str] = ..., tpp_signature_certificate: _Optional[str] = ..., x_request_id: _Optional[str] = ..., signed_headers: _Optional[_Iterable[str]] = ..., key_id: _Optional[str] = ...) -> None: ...

class VerifyJarmResponseRequest(_message.Message):
    __slots__ = ("credential", "response")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    response: str
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., response: _Optional[str] = ...) -> None: ...

class VerifyJarmResponseResponse(_message.Message):
    __slots__ = ("parameters", "kid", "alg")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    parameters: _containers.ScalarMap[str, str]
    kid: str
    alg: str
    def __init__(self, parameters: _Optional[_Mapping[str, str]] = ..., kid: _Optional[str] = ..., alg: _Optional[str] = ...) -> None: ...

class HmacRequest(_message.Message):
    __slots__ = ("credential", "name", "alg", "message", "encoding")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALG_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ENCODING_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    name: str
    alg: HmacAlg
    message: bytes
    encoding: MacEncoding
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., name: _Optional[str] = ..., alg: _Optional[_Union[HmacAlg, str]] = ..., message: _Optional[bytes] = ..., encoding: _Optional[_Union[MacEncoding, str]] = ...) -> None: ...

class HmacResponse(_message.Message):
    __slots__ = ("mac", "credential")
    MAC_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    mac: str
    credential: str
    def __init__(self, mac: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...

class PasswordDigestRequest(_message.Message):
    __slots__ = ("credential", "name", "nonce", "created")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    credential: CredentialSelector
    name: str
    nonce: bytes
    created: str
    def __init__(self, credential: _Optional[_Union[CredentialSelector, _Mapping]] = ..., name: _Optional[str] = ..., nonce: _Optional[bytes] = ..., created: _Optional[str] = ...) -> None: ...

class PasswordDigestResponse(_message.Message):
    __slots__ = ("password_digest", "nonce", "created", "credential")
    PASSWORD_DIGEST_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    password_digest: str
    nonce: str
    created: str
    credential: str
    def __init__(self, password_digest: _Optional[str] = ..., nonce: _Optional[str] = ..., created: _Optional[str] = ..., credential: _Optional[str] = ...) -> None: ...
