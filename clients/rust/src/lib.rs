//! A typed client for [fapi-agent](https://example.invalid/fapi-agent) over
//! its Unix socket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fapi_agent_client::ClientError> {
//! use fapi_agent_client::{Client, ExposeSecret, Selector};
//! let mut agent = Client::connect_default().await?;
//! let assertion = agent.sign_client_assertion(Selector::client_id("acme")).await?;
//! println!("{}", assertion.assertion);
//! // For a credential with an `[oauth]` table: a token (its Debug is redacted).
//! let token = agent.get_access_token(Selector::name("acme")).await?;
//! let proof = agent
//!     .sign_dpop_proof(Selector::name("acme"), "GET", "https://rs.example/accounts",
//!                      Some(&token.access_token), None)
//!     .await?;
//! let _headers = [
//!     ("authorization", token.authorization_header().expose_secret().to_owned()),
//!     ("dpop", proof.proof),
//! ];
//! # Ok(()) }
//! ```
//!
//! Before anything is sent, the client asks the kernel who serves the
//! socket (`SO_PEERCRED` on the connected stream) and refuses a server
//! that is not the caller's own uid, root, or the expected uid
//! (`FAPI_AGENT_SOCKET_OWNER` or [`Options::expected_uid`]).

use std::fmt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::TokioIo;
pub use secrecy::{ExposeSecret, SecretSlice, SecretString};
use tokio::net::UnixStream;
use tokio_stream::Stream;
use tonic::transport::{Channel, Endpoint};
use zeroize::Zeroize;

/// The generated protobuf and gRPC types (package `fapi_agent.v1`).
#[allow(missing_docs, clippy::all)]
pub mod pb {
    tonic::include_proto!("fapi_agent.v1");
}

impl fmt::Debug for pb::DecryptSecretResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DecryptSecretResponse")
            .field("plaintext", &"[REDACTED]")
            .finish()
    }
}

impl fmt::Debug for pb::GetKeyMaterialRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetKeyMaterialRequest")
            .field("credential", &self.credential)
            .field("format", &self.format)
            .field("export_passphrase", &"[REDACTED]")
            .finish()
    }
}

impl fmt::Debug for pb::GetKeyMaterialResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GetKeyMaterialResponse")
            .field("private_key_pem", &"[REDACTED]")
            .field("kid", &self.kid)
            .finish()
    }
}

impl fmt::Debug for pb::AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("access_token", &"[REDACTED]")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("jkt", &self.jkt)
            .field("x5t_s256", &self.x5t_s256)
            .field("refresh_token", &"[REDACTED]")
            .field("cached", &self.cached)
            .field("credential", &self.credential)
            .finish()
    }
}

impl fmt::Debug for pb::ExchangeAuthorizationCodeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExchangeAuthorizationCodeRequest")
            .field("credential", &self.credential)
            .field("code", &"[REDACTED]")
            .field("code_verifier", &"[REDACTED]")
            .field("redirect_uri", &self.redirect_uri)
            .finish()
    }
}

impl fmt::Debug for pb::RefreshAccessTokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshAccessTokenRequest")
            .field("credential", &self.credential)
            .field("refresh_token", &"[REDACTED]")
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl fmt::Debug for pb::SignDpopProofRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignDpopProofRequest")
            .field("credential", &self.credential)
            .field("htm", &self.htm)
            .field("htu", &self.htu)
            .field("access_token", &"[REDACTED]")
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl pb::PushAuthorizationRequestResponse {
    /// Where to send the user: `authorization_endpoint?client_id=…&request_uri=…`
    /// (`None` when the daemon does not know the authorization endpoint).
    pub fn authorization_url(&self) -> Option<String> {
        if self.authorization_endpoint.is_empty() {
            return None;
        }
        let sep = if self.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Some(format!(
            "{}{sep}client_id={}&request_uri={}",
            self.authorization_endpoint,
            form_encode(&self.client_id),
            form_encode(&self.request_uri)
        ))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Moves received bytes into a [`SecretSlice`] without leaving a copy:
/// `into_boxed_slice` reallocates when the vector has spare capacity and
/// would free the old buffer unwiped, so that case copies and wipes.
fn secret_bytes(mut v: Vec<u8>) -> SecretSlice<u8> {
    if v.len() == v.capacity() {
        return v.into();
    }
    let exact: Box<[u8]> = v.as_slice().into();
    v.zeroize();
    exact.into()
}

/// As [`secret_bytes`], for text.
fn secret_string(mut s: String) -> SecretString {
    if s.len() == s.capacity() {
        return s.into();
    }
    let exact: Box<str> = s.as_str().into();
    s.zeroize();
    exact.into()
}

/// A credential's private key and certificate chain from GetKeyMaterial
/// (only for callers the export policy allows). The key is a
/// [`SecretString`]: `Debug` prints `[REDACTED]`, reading it takes
/// [`ExposeSecret::expose_secret`], and its memory is zeroed when dropped.
#[derive(Clone, Debug)]
pub struct KeyMaterial {
    /// The private key, PEM, in the requested format (secret).
    pub private_key_pem: SecretString,
    /// The certificate and any chain, PEM, leaf first.
    pub certificate_chain_pem: String,
    /// The key's `kid`.
    pub kid: String,
}

/// An access token from the daemon (GetAccessToken, ExchangeAuthorizationCode,
/// RefreshAccessToken). The token and the refresh token are
/// [`SecretString`]s: `Debug` prints them as `[REDACTED]`, and reading them
/// takes an explicit [`ExposeSecret::expose_secret`]. Their memory is zeroed
/// when dropped.
#[derive(Clone, Debug)]
pub struct AccessToken {
    /// The token (secret).
    pub access_token: SecretString,
    /// `DPoP` or `Bearer`.
    pub token_type: String,
    /// Unix seconds; the daemon does not serve the token after it (minus a
    /// skew).
    pub expires_at: i64,
    /// The scope granted.
    pub scope: String,
    /// The DPoP key's thumbprint, for a DPoP-bound token (else empty).
    pub jkt: String,
    /// The certificate's `x5t#S256`, for an mTLS-bound token (else empty).
    pub x5t_s256: String,
    /// The refresh token of the code and refresh grants (secret).
    pub refresh_token: Option<SecretString>,
    /// Whether it came from the daemon's cache.
    pub cached: bool,
    /// The credential that got it.
    pub credential: String,
}

impl AccessToken {
    /// The `Authorization` header value: `DPoP <token>` or `Bearer <token>`
    /// (secret).
    pub fn authorization_header(&self) -> SecretString {
        format!("{} {}", self.token_type, self.access_token.expose_secret()).into()
    }
}

impl From<pb::AccessToken> for AccessToken {
    fn from(t: pb::AccessToken) -> Self {
        Self {
            access_token: secret_string(t.access_token),
            token_type: t.token_type,
            expires_at: t.expires_at,
            scope: t.scope,
            jkt: t.jkt,
            x5t_s256: t.x5t_s256,
            refresh_token: (!t.refresh_token.is_empty()).then(|| secret_string(t.refresh_token)),
            cached: t.cached,
            credential: t.credential,
        }
    }
}

/// Why a call or a connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket is not one this client should talk to.
    #[error("{0}")]
    Untrusted(String),
    /// No socket, or the connection failed.
    #[error("cannot connect to fapi-agent at {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// Why.
        source: tonic::transport::Error,
    },
    /// The daemon answered with an error status.
    #[error("{}: {}", .0.code(), .0.message())]
    Status(#[from] tonic::Status),
    /// A response could not be interpreted.
    #[error("bad response: {0}")]
    BadResponse(String),
}

/// The socket fapi-agent serves on by default: `FAPI_AGENT_SOCKET`, then
/// `/run/fapi-agent/agent.sock` for root, then
/// `$XDG_RUNTIME_DIR/fapi-agent/agent.sock`, then `/tmp/fapi-agent-UID/agent.sock`.
pub fn default_socket_path() -> PathBuf {
    if let Some(p) = std::env::var_os("FAPI_AGENT_SOCKET").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let uid = effective_uid();
    if uid == 0 {
        return PathBuf::from("/run/fapi-agent/agent.sock");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("fapi-agent/agent.sock"),
        None => PathBuf::from(format!("/tmp/fapi-agent-{uid}/agent.sock")),
    }
}

fn effective_uid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Which credential a call means.
#[derive(Debug, Clone)]
pub struct Selector(pb::CredentialSelector);

impl Selector {
    /// By the credential's name in the daemon's config.
    pub fn name(name: impl Into<String>) -> Self {
        Self(pb::CredentialSelector {
            by: Some(pb::credential_selector::By::Name(name.into())),
            kid: String::new(),
        })
    }

    /// By client_id: the newest valid credential of that client.
    pub fn client_id(client_id: impl Into<String>) -> Self {
        Self(pb::CredentialSelector {
            by: Some(pb::credential_selector::By::ClientId(client_id.into())),
            kid: String::new(),
        })
    }

    /// Pins the key (`kid`, the RFC 7638 thumbprint).
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.0.kid = kid.into();
        self
    }
}

impl From<Selector> for pb::CredentialSelector {
    fn from(s: Selector) -> Self {
        s.0
    }
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// The uid the daemon runs as, besides the caller's own and root
    /// (default: `FAPI_AGENT_SOCKET_OWNER`).
    pub expected_uid: Option<u32>,
    /// Deadline of each call.
    pub timeout: Duration,
    /// Retries on UNAVAILABLE (exponential backoff with jitter).
    pub retries: u32,
    /// First backoff.
    pub backoff: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            expected_uid: std::env::var("FAPI_AGENT_SOCKET_OWNER")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
            timeout: Duration::from_secs(10),
            retries: 4,
            backoff: Duration::from_millis(100),
        }
    }
}

/// A client of both services.
#[derive(Clone)]
pub struct Client {
    agent: pb::agent_client::AgentClient<Channel>,
    admin: pb::admin_client::AdminClient<Channel>,
    options: Options,
}

fn check_path(path: &Path) -> Result<(), ClientError> {
    let untrusted = |why: String| ClientError::Untrusted(format!("{}: {why}", path.display()));
    let meta = std::fs::symlink_metadata(path).map_err(|e| untrusted(e.to_string()))?;
    if !meta.file_type().is_socket() {
        return Err(untrusted("not a socket".into()));
    }
    let dir = path.parent().unwrap_or(Path::new("/"));
    let dmeta = std::fs::symlink_metadata(dir).map_err(|e| untrusted(e.to_string()))?;
    // Sticky directories (/tmp) stop others replacing our entries.
    if dmeta.mode() & 0o022 != 0 && dmeta.mode() & 0o1000 == 0 {
        return Err(untrusted(format!(
            "its directory {} is writable by others: the socket could be replaced",
            dir.display()
        )));
    }
    Ok(())
}

impl Client {
    /// Connects to the default socket ([`default_socket_path`]).
    pub async fn connect_default() -> Result<Self, ClientError> {
        Self::connect(&default_socket_path(), Options::default()).await
    }

    /// Connects to `path`, checking who serves it first.
    pub async fn connect(path: &Path, options: Options) -> Result<Self, ClientError> {
        check_path(path)?;
        let mut trusted = vec![effective_uid(), 0];
        trusted.extend(options.expected_uid);
        let p = path.to_owned();
        let channel = Endpoint::from_static("http://localhost")
            .connect_with_connector(tower::service_fn(move |_| {
                let (p, trusted) = (p.clone(), trusted.clone());
                async move {
                    let stream = UnixStream::connect(&p).await?;
                    let server = stream.peer_cred()?.uid();
                    if !trusted.contains(&server) {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::PermissionDenied,
                            format!(
                                "{} is served by uid {server}, not by {trusted:?}: refusing to \
                                 talk to it (set FAPI_AGENT_SOCKET_OWNER={server} if that uid \
                                 runs fapi-agent)",
                                p.display()
                            ),
                        ));
                    }
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await;
        let channel = match channel {
            Ok(c) => c,
            Err(e) => {
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    if c.to_string().contains("refusing to talk") {
                        return Err(ClientError::Untrusted(c.to_string()));
                    }
                    cause = c.source();
                }
                return Err(ClientError::Connect {
                    path: path.to_owned(),
                    source: e,
                });
            }
        };
        Ok(Self {
            agent: pb::agent_client::AgentClient::new(channel.clone()),
            admin: pb::admin_client::AdminClient::new(channel),
            options,
        })
    }

    /// Runs one unary call with the deadline, retrying on UNAVAILABLE.
    async fn call<T, R, F, Fut>(&mut self, req: T, f: F) -> Result<R, ClientError>
    where
        T: Clone,
        F: FnMut(pb::agent_client::AgentClient<Channel>, tonic::Request<T>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let retries = self.options.retries;
        self.call_retrying(req, retries, f).await
    }

    /// Runs one unary call with the deadline, retrying at most `retries`
    /// times on UNAVAILABLE.
    async fn call_retrying<T, R, F, Fut>(
        &mut self,
        req: T,
        retries: u32,
        mut f: F,
    ) -> Result<R, ClientError>
    where
        T: Clone,
        F: FnMut(pb::agent_client::AgentClient<Channel>, tonic::Request<T>) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<R>, tonic::Status>>,
    {
        let mut attempt = 0;
        loop {
            let mut request = tonic::Request::new(req.clone());
            request.set_timeout(self.options.timeout);
            match f(self.agent.clone(), request).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) if s.code() == tonic::Code::Unavailable && attempt < retries => {
                    let base = self.options.backoff.saturating_mul(1 << attempt.min(16));
                    // Jitter from the clock's low bits: enough to spread
                    // clients that failed together.
                    let nanos = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.subsec_nanos());
                    let frac = f64::from(nanos % 1000) / 1000.0;
                    tokio::time::sleep(base.mul_f64(0.5 + frac / 2.0)).await;
                    attempt += 1;
                }
                Err(s) => return Err(s.into()),
            }
        }
    }

    /// A fresh `private_key_jwt` client assertion (default audience and
    /// lifetime). Never reuse one.
    pub async fn sign_client_assertion(
        &mut self,
        credential: Selector,
    ) -> Result<pb::SignClientAssertionResponse, ClientError> {
        self.sign_with(pb::SignClientAssertionRequest {
            credential: Some(credential.0),
            ..Default::default()
        })
        .await
    }

    /// A client assertion with every option of the request (audience,
    /// lifetime, extra claims).
    pub async fn sign_with(
        &mut self,
        req: pb::SignClientAssertionRequest,
    ) -> Result<pb::SignClientAssertionResponse, ClientError> {
        self.call(
            req,
            |mut c, r| async move { c.sign_client_assertion(r).await },
        )
        .await
    }

    /// Public facts of one credential.
    pub async fn credential(
        &mut self,
        credential: Selector,
    ) -> Result<pb::Credential, ClientError> {
        let req = pb::GetCredentialRequest {
            credential: Some(credential.0),
        };
        self.call(req, |mut c, r| async move { c.get_credential(r).await })
            .await
    }

    /// Public facts of every credential the caller may read.
    pub async fn credentials(&mut self) -> Result<Vec<pb::Credential>, ClientError> {
        let r = self
            .call(pb::ListCredentialsRequest {}, |mut c, r| async move {
                c.list_credentials(r).await
            })
            .await?;
        Ok(r.credentials)
    }

    /// The public JWKS (optionally of one client), to register at the
    /// authorization server.
    pub async fn jwks(
        &mut self,
        client_id: Option<&str>,
    ) -> Result<serde_json::Value, ClientError> {
        let mut keys = Vec::new();
        for c in self.credentials().await? {
            if c.public_jwk_json.is_empty() || client_id.is_some_and(|id| id != c.client_id) {
                continue;
            }
            keys.push(
                serde_json::from_str::<serde_json::Value>(&c.public_jwk_json)
                    .map_err(|e| ClientError::BadResponse(e.to_string()))?,
            );
        }
        Ok(serde_json::json!({ "keys": keys }))
    }

    /// Decrypts a shared secret the platform encrypted to the certificate
    /// (only for callers the `decrypt` policy allows). The plaintext is a
    /// [`SecretSlice`]: redacted in `Debug`, zeroed when dropped. Where the
    /// daemon can keep the secret instead (`[credentials.N.shared_secrets]`),
    /// prefer [`hmac`](Self::hmac) and [`password_digest`](Self::password_digest).
    pub async fn decrypt_secret(
        &mut self,
        credential: Selector,
        padding: pb::Padding,
        ciphertext: Vec<u8>,
    ) -> Result<SecretSlice<u8>, ClientError> {
        let req = pb::DecryptSecretRequest {
            credential: Some(credential.0),
            padding: padding.into(),
            ciphertext: Some(pb::decrypt_secret_request::Ciphertext::CiphertextRaw(
                ciphertext,
            )),
        };
        let r = self
            .call(req, |mut c, r| async move { c.decrypt_secret(r).await })
            .await?;
        Ok(secret_bytes(r.plaintext))
    }

    /// The credential's private key and certificate chain, for a caller
    /// the `export` policy allows and a credential with `export = true`.
    /// `export_passphrase` is required with
    /// [`pb::KeyFormat::EncryptedPkcs8Pem`] (8 to 1023 bytes).
    pub async fn key_material(
        &mut self,
        credential: Selector,
        format: pb::KeyFormat,
        export_passphrase: Option<&SecretString>,
    ) -> Result<KeyMaterial, ClientError> {
        let req = pb::GetKeyMaterialRequest {
            credential: Some(credential.0),
            format: format.into(),
            export_passphrase: export_passphrase
                .map(|p| p.expose_secret().as_bytes().to_vec())
                .unwrap_or_default(),
        };
        // The passphrase's copies in the request and in tonic's buffers are
        // not wiped (prost messages are plain vectors); the key is.
        let r = self
            .call(req, |mut c, r| async move { c.get_key_material(r).await })
            .await?;
        Ok(KeyMaterial {
            private_key_pem: secret_string(
                String::from_utf8(r.private_key_pem)
                    .map_err(|_| ClientError::BadResponse("private key PEM is not UTF-8".into()))?,
            ),
            certificate_chain_pem: r.certificate_chain_pem,
            kid: r.kid,
        })
    }

    /// An HMAC over `message` with the credential's shared secret `name`
    /// (`[credentials.N.shared_secrets.NAME]`); the secret stays in the
    /// daemon.
    pub async fn hmac(
        &mut self,
        credential: Selector,
        name: &str,
        alg: pb::HmacAlg,
        message: &[u8],
        encoding: pb::MacEncoding,
    ) -> Result<pb::HmacResponse, ClientError> {
        let req = pb::HmacRequest {
            credential: Some(credential.0),
            name: name.to_owned(),
            alg: alg.into(),
            message: message.to_vec(),
            encoding: encoding.into(),
        };
        self.call(req, |mut c, r| async move { c.hmac(r).await })
            .await
    }

    /// A WS-Security UsernameToken password digest with the shared secret
    /// `name` as the password. An empty `nonce` or `created` lets the daemon
    /// choose (16 random bytes, its current UTC time); the response carries
    /// the values used.
    pub async fn password_digest(
        &mut self,
        credential: Selector,
        name: &str,
        nonce: &[u8],
        created: &str,
    ) -> Result<pb::PasswordDigestResponse, ClientError> {
        let req = pb::PasswordDigestRequest {
            credential: Some(credential.0),
            name: name.to_owned(),
            nonce: nonce.to_vec(),
            created: created.to_owned(),
        };
        self.call(req, |mut c, r| async move { c.password_digest(r).await })
            .await
    }

    /// An access token for the credential's client
    /// (`[credentials.NAME.oauth]`) with the configured scopes, resource and
    /// audience: client_credentials, DPoP- or mTLS-bound as configured, from
    /// the daemon's cache while it is fresh.
    ///
    /// A credential without an `oauth` table, or an authorization server's
    /// refusal (its error quoted), is `FAILED_PRECONDITION`; a server down or
    /// slow is `UNAVAILABLE` (retried like every call).
    pub async fn get_access_token(
        &mut self,
        credential: Selector,
    ) -> Result<AccessToken, ClientError> {
        self.get_access_token_with(pb::GetAccessTokenRequest {
            credential: Some(credential.into()),
            ..Default::default()
        })
        .await
    }

    /// [`Self::get_access_token`] with every option of the request: `scopes`,
    /// `resource` (RFC 8707) and `audience` (empty: the configured ones),
    /// `force_refresh` (ask the authorization server even if a token is
    /// cached) and `grant` ([`pb::Grant::Password`]: the configured resource
    /// owner, outside FAPI only).
    ///
    /// ```no_run
    /// # async fn demo(agent: &mut fapi_agent_client::Client) -> Result<(), fapi_agent_client::ClientError> {
    /// use fapi_agent_client::{Selector, pb};
    /// let token = agent
    ///     .get_access_token_with(pb::GetAccessTokenRequest {
    ///         credential: Some(Selector::name("acme").into()),
    ///         scopes: vec!["accounts".into()],
    ///         force_refresh: true,
    ///         ..Default::default()
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_access_token_with(
        &mut self,
        req: pb::GetAccessTokenRequest,
    ) -> Result<AccessToken, ClientError> {
        let t = self
            .call(req, |mut c, r| async move { c.get_access_token(r).await })
            .await?;
        Ok(t.into())
    }

    /// Exchanges an authorization code and its PKCE `code_verifier` for
    /// tokens (the code flow's last step), authenticated and
    /// sender-constrained like [`Self::get_access_token`]. Not cached, and
    /// not retried: a code is single-use, and replaying one revokes the
    /// grant.
    pub async fn exchange_authorization_code(
        &mut self,
        credential: Selector,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<AccessToken, ClientError> {
        let req = pb::ExchangeAuthorizationCodeRequest {
            credential: Some(credential.into()),
            code: code.to_owned(),
            code_verifier: code_verifier.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
        };
        let t = self
            .call_retrying(req, 0, |mut c, r| async move {
                c.exchange_authorization_code(r).await
            })
            .await?;
        Ok(t.into())
    }

    /// Uses a refresh token, optionally for narrower `scopes` (empty: the
    /// grant's). Not cached, and not retried: a server that rotates refresh
    /// tokens revokes the grant when one is replayed.
    pub async fn refresh_access_token<S: Into<String>>(
        &mut self,
        credential: Selector,
        refresh_token: &SecretString,
        scopes: impl IntoIterator<Item = S>,
    ) -> Result<AccessToken, ClientError> {
        let req = pb::RefreshAccessTokenRequest {
            credential: Some(credential.into()),
            refresh_token: refresh_token.expose_secret().to_owned(),
            scopes: scopes.into_iter().map(Into::into).collect(),
        };
        let t = self
            .call_retrying(
                req,
                0,
                |mut c, r| async move { c.refresh_access_token(r).await },
            )
            .await?;
        Ok(t.into())
    }

    /// Pushes an authorization request (RFC 9126) for the app's code flow.
    /// `parameters`: response_type, redirect_uri, scope, state,
    /// code_challenge, code_challenge_method, nonce, … (the daemon adds
    /// client_id, client authentication and dpop_jkt itself).
    /// `signed_request_object` sends them as a request object signed with
    /// the credential's key (JAR). Send the user to
    /// [`pb::PushAuthorizationRequestResponse::authorization_url`].
    pub async fn push_authorization_request<K: Into<String>, V: Into<String>>(
        &mut self,
        credential: Selector,
        parameters: impl IntoIterator<Item = (K, V)>,
        signed_request_object: bool,
    ) -> Result<pb::PushAuthorizationRequestResponse, ClientError> {
        let req = pb::PushAuthorizationRequestRequest {
            credential: Some(credential.into()),
            parameters: parameters
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            signed_request_object,
        };
        self.call(req, |mut c, r| async move {
            c.push_authorization_request(r).await
        })
        .await
    }

    /// A DPoP proof (RFC 9449) for a request the app makes itself, signed
    /// with the credential's DPoP key: `htm` the HTTP method, `htu` the URL
    /// (query and fragment are dropped), `access_token` the token the
    /// request presents (sets `ath`), `nonce` the server's latest
    /// `DPoP-Nonce`. A fresh `jti` every call.
    pub async fn sign_dpop_proof(
        &mut self,
        credential: Selector,
        htm: &str,
        htu: &str,
        access_token: Option<&SecretString>,
        nonce: Option<&str>,
    ) -> Result<pb::SignDpopProofResponse, ClientError> {
        let req = pb::SignDpopProofRequest {
            credential: Some(credential.into()),
            htm: htm.to_owned(),
            htu: htu.to_owned(),
            access_token: access_token
                .map(|t| t.expose_secret().to_owned())
                .unwrap_or_default(),
            nonce: nonce.unwrap_or_default().to_owned(),
        };
        self.call(req, |mut c, r| async move { c.sign_dpop_proof(r).await })
            .await
    }

    /// Credential events: a snapshot first, then every change (optionally
    /// of one client).
    pub async fn watch(
        &mut self,
        client_id: Option<&str>,
    ) -> Result<impl Stream<Item = Result<pb::CredentialEvent, tonic::Status>> + use<>, ClientError>
    {
        let req = pb::WatchCredentialsRequest {
            client_id: client_id.unwrap_or_default().to_owned(),
        };
        Ok(self.agent.watch_credentials(req).await?.into_inner())
    }

    /// The daemon's status (Admin service: root, the daemon's uid, or its
    /// admin group).
    pub async fn status(&mut self) -> Result<pb::StatusResponse, ClientError> {
        let mut request = tonic::Request::new(pb::StatusRequest {});
        request.set_timeout(self.options.timeout);
        Ok(self.admin.status(request).await?.into_inner())
    }
}
