//! A typed client for [fapi-agent](https://example.invalid/fapi-agent) over
//! its Unix socket.
//!
//! ```no_run
//! # async fn demo() -> Result<(), fapi_agent_client::ClientError> {
//! let mut agent = fapi_agent_client::Client::connect_default().await?;
//! let assertion = agent.sign_client_assertion(fapi_agent_client::Selector::client_id("acme")).await?;
//! println!("{}", assertion.assertion);
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
use tokio::net::UnixStream;
use tokio_stream::Stream;
use tonic::transport::{Channel, Endpoint};

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
    async fn call<T, R, F, Fut>(&mut self, req: T, mut f: F) -> Result<R, ClientError>
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
                Err(s)
                    if s.code() == tonic::Code::Unavailable && attempt < self.options.retries =>
                {
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

    /// Decrypts a shared secret the platform encrypted to the certificate.
    pub async fn decrypt_secret(
        &mut self,
        credential: Selector,
        padding: pb::Padding,
        ciphertext: Vec<u8>,
    ) -> Result<Vec<u8>, ClientError> {
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
        Ok(r.plaintext)
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
