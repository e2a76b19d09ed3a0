//! The daemon as the app's OAuth client (docs/standards.md §8): access
//! tokens for a credential, sender-constrained with DPoP or mutual TLS,
//! cached; the code and refresh grants; pushed authorization requests.
//! Every key stays inside: client assertions and DPoP proofs are signed
//! here, mTLS handshakes through the credential's key handle, client
//! secrets held like passphrases. The DPoP key is generated in memory, or
//! is the operator's own on a PKCS#11 token (`oauth.dpop_key`), used
//! through that backend's key handle.
//!
//! One [`Client`] per credential with an `[credentials.NAME.oauth]` table,
//! owned by the daemon and rebuilt when the credential is.

mod cache;
pub mod metadata;
mod secret;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

pub use cache::CacheKey;
use metadata::Metadata;
use secret::SecretHolder;

use crate::config::{
    AgentConfig, AuthMethod, DpopAlg, OAuthConfig, Pkcs11Config, Profile, SenderConstraint,
};
use crate::credential::{Credential, CredentialFailure};
use crate::jose::{self, Alg, PublicJwk};
use crate::keys::memory::MemoryKey;
use crate::keys::pkcs11::Pkcs11Key;
use crate::keys::software::Settings;
use crate::keys::{Backend, KeyError, KeyKind, Purpose, ReadyKey};
use crate::net::{self, HttpsClient, NetError};
use crate::now_unix;
use crate::source::{EnvVault, PassphraseSource};
use crate::sys::cpu;

/// Largest response body read from an authorization server.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Attempts at a request that failed on the network or with a 5xx.
const ATTEMPTS: u32 = 3;
/// First wait between such attempts (doubling, with jitter).
const RETRY_FIRST: Duration = Duration::from_millis(200);

/// Told of token requests and cache lookups (metrics): handed down at
/// construction, so this layer imports nothing above it.
pub trait TokenObserver: Send + Sync {
    /// A request to the authorization server ended in `outcome` (`ok`,
    /// `refused`, `unavailable`) after `seconds`.
    fn token_request(&self, credential: &str, outcome: &'static str, seconds: f64);
    /// A cache lookup for `credential` was a hit or a miss.
    fn cache_lookup(&self, credential: &str, hit: bool);
}

/// Why a token, a push or a proof could not be had. Messages name the
/// credential's server and the cause, never a secret or a token.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    /// The authorization server refused (`invalid_client`, `invalid_grant`,
    /// `invalid_scope`, …): the configuration or the request must change.
    #[error(
        "the authorization server refused ({status}): {error}{}",
        description.as_ref().map(|d| format!(": {d}")).unwrap_or_default()
    )]
    Refused {
        /// The HTTP status.
        status: u16,
        /// RFC 6749 §5.2 `error`.
        error: String,
        /// `error_description`, if any.
        description: Option<String>,
    },
    /// The server could not be reached, timed out, failed (5xx) or answered
    /// with something that is not a response: retrying later may help.
    #[error("the authorization server is unavailable: {0}")]
    Unavailable(String),
    /// The configuration cannot work as it is (metadata for another
    /// issuer, a CA file that cannot be read, no PAR endpoint).
    #[error("{0}")]
    Config(String),
    /// The request is malformed.
    #[error("{0}")]
    Invalid(String),
    /// The credential's key cannot be used.
    #[error("{0}")]
    Credential(CredentialFailure),
    /// Locked: nothing is fetched or signed until Unlock.
    #[error("locked: unlock with `fapi-agent unlock` (Admin.Unlock)")]
    Locked,
}

/// A token or refresh token: a bearer secret, printed as `[REDACTED]`.
#[derive(Clone)]
pub struct TokenValue(Arc<TokenInner>);

struct TokenInner {
    value: Zeroizing<String>,
    /// [`TokenValue::hash_prefix`], computed once: every cache hit is
    /// audited with it.
    prefix: String,
}

impl TokenValue {
    fn new(s: String) -> Self {
        let prefix = openssl::sha::sha256(s.as_bytes())[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self(Arc::new(TokenInner {
            value: Zeroizing::new(s),
            prefix,
        }))
    }

    /// The token itself.
    pub fn expose(&self) -> &str {
        &self.0.value
    }

    /// The first 16 hex digits of its SHA-256: what logs and the audit log
    /// may say of it.
    pub fn hash_prefix(&self) -> &str {
        &self.0.prefix
    }
}

impl std::fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenValue([REDACTED])")
    }
}

/// What a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binding {
    /// Nothing (a bearer token).
    None,
    /// A DPoP key: its RFC 7638 thumbprint.
    Jkt(String),
    /// The credential's certificate in mutual TLS: `x5t#S256`.
    X5tS256(String),
}

/// An access token as the daemon hands it out.
#[derive(Debug, Clone)]
pub struct Token {
    /// The token.
    pub access_token: TokenValue,
    /// `Bearer` or `DPoP`.
    pub token_type: String,
    /// Unix seconds after which it is not served.
    pub expires_at: i64,
    /// The scope granted (as the server said, else as asked).
    pub scope: String,
    /// What it is bound to.
    pub binding: Binding,
    /// A refresh token, for the code and refresh grants.
    pub refresh_token: Option<TokenValue>,
    /// Whether it came from the cache.
    pub cached: bool,
}

/// What a caller asks a client_credentials token for.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// Scopes; empty: the configured ones.
    pub scopes: Vec<String>,
    /// Resource indicators; empty: the configured ones.
    pub resource: Vec<String>,
    /// `audience`; none: the configured one.
    pub audience: Option<String>,
    /// Fetch a new token even if one is cached.
    pub force_refresh: bool,
}

/// A pushed authorization request's answer.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The `request_uri` to send the user with.
    pub request_uri: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The authorization endpoint, if known from metadata.
    pub authorization_endpoint: Option<String>,
}

/// What `Status` shows of a credential's tokens (never the tokens).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenStatus {
    /// Unix seconds of the last request to the authorization server.
    pub last_request_at: Option<i64>,
    /// How it went: `ok`, or the error.
    pub last_outcome: String,
    /// Cached tokens, and the earliest of their expiries.
    pub cached_tokens: usize,
    /// Unix seconds.
    pub earliest_expiry: Option<i64>,
    /// The DPoP key's thumbprint, when tokens are DPoP-bound.
    pub dpop_jkt: Option<String>,
    /// Where the DPoP key lives (empty without DPoP).
    pub dpop_key: String,
}

/// The DPoP key of a client, never a credential key.
struct DpopKey {
    signer: DpopSigner,
    alg: Alg,
    jwk: Value,
    jkt: String,
}

/// Where the DPoP key lives.
enum DpopSigner {
    /// Generated in memory: a new key (and jkt) at each start and after
    /// each Lock.
    Memory(ReadyKey),
    /// On a token (`oauth.dpop_key`): the same key and jkt across restarts;
    /// logged in on first use with the PIN held under the passphrase TTLs.
    Token(Arc<Pkcs11Key>),
}

/// How to load the DPoP key from its token.
struct TokenDpop {
    /// For logs: `NAME (DPoP key)`.
    name: String,
    config: Pkcs11Config,
    allowed: Vec<PathBuf>,
    pin: Arc<dyn PassphraseSource>,
    settings: Settings,
}

/// How messages name a DPoP key on a token.
const TOKEN_DPOP_KEY: &str = "the DPoP key (oauth.dpop_key)";

/// A failure of the DPoP key `what` as the client reports it: a token's
/// errors name the token and say what to change.
fn dpop_key_error(what: &str, e: &KeyError) -> OAuthError {
    match e {
        KeyError::Locked => OAuthError::Locked,
        e if e.is_source_unavailable() => OAuthError::Unavailable(format!("{what}: {e}")),
        e => OAuthError::Config(format!("{what}: {e}")),
    }
}

impl DpopKey {
    /// The key on the token `spec` names: its public key read from the
    /// token, its algorithm from its type (FAPI 2.0's PS256, ES256, EdDSA;
    /// STANDARDS A7/A8). Blocking.
    fn load(spec: &TokenDpop) -> Result<Self, OAuthError> {
        let (key, public) = Pkcs11Key::load_with_token_public(
            &spec.name,
            &spec.config,
            &spec.allowed,
            Some(Arc::clone(&spec.pin)),
            spec.settings.clone(),
        )
        .map_err(|e| dpop_key_error(TOKEN_DPOP_KEY, &e))?;
        let alg = Alg::for_key(&public).map_err(|e| {
            OAuthError::Config(format!(
                "{TOKEN_DPOP_KEY} on {} is not one FAPI 2.0 allows: {e}",
                key.token()
            ))
        })?;
        let jwk = PublicJwk::new(&public, alg, &[])
            .map_err(|e| OAuthError::Config(format!("{TOKEN_DPOP_KEY} on {}: {e}", key.token())))?;
        tracing::info!(
            credential = %spec.name, token = %key.token(), jkt = %jwk.thumbprint(), alg = %alg,
            "DPoP key found on the token"
        );
        Ok(Self {
            signer: DpopSigner::Token(Arc::new(key)),
            alg,
            jwk: jwk.minimal_json(),
            jkt: jwk.thumbprint().to_owned(),
        })
    }

    /// The key, ready to sign (a token key logs in first if needed).
    async fn ready(&self) -> Result<ReadyKey, OAuthError> {
        match &self.signer {
            DpopSigner::Memory(k) => Ok(k.clone()),
            DpopSigner::Token(t) => Arc::clone(t)
                .ready(Purpose::Use)
                .await
                .map_err(|e| dpop_key_error(TOKEN_DPOP_KEY, &e)),
        }
    }

    /// How messages name this key.
    fn what(&self) -> &'static str {
        match self.signer {
            DpopSigner::Memory(_) => "the generated DPoP key",
            DpopSigner::Token(_) => TOKEN_DPOP_KEY,
        }
    }

    /// The key kind and JWS algorithm of a generated key.
    fn generated_kind(alg: DpopAlg) -> (KeyKind, Alg) {
        match alg {
            DpopAlg::Es256 => (KeyKind::EcP256, Alg::Es256),
            DpopAlg::EdDsa => (KeyKind::Ed25519, Alg::EdDsa),
        }
    }

    fn generate(alg: DpopAlg) -> Result<Self, OAuthError> {
        let (kind, alg) = Self::generated_kind(alg);
        let fail =
            |e: &dyn std::fmt::Display| OAuthError::Config(format!("cannot make a DPoP key: {e}"));
        let key = MemoryKey::generate(kind).map_err(|e| fail(&e))?;
        let public = key.public_key().map_err(|e| fail(&e))?;
        let jwk = PublicJwk::new(&public, alg, &[]).map_err(|e| fail(&e))?;
        Ok(Self {
            signer: DpopSigner::Memory(key.into_ready()),
            alg,
            jwk: jwk.minimal_json(),
            jkt: jwk.thumbprint().to_owned(),
        })
    }
}

/// A token response (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
}

/// An error response (RFC 6749 §5.2).
#[derive(Deserialize)]
struct ErrorResponse {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// A credential's OAuth client.
pub struct Client {
    cred: Arc<Credential>,
    cfg: OAuthConfig,
    /// For requests without mutual TLS.
    plain: Result<HttpsClient, OAuthError>,
    /// For requests with the credential's certificate (when it has one).
    mtls: Option<Result<HttpsClient, OAuthError>>,
    metadata: tokio::sync::Mutex<Option<Arc<Metadata>>>,
    /// The AS's signing keys (its `jwks_uri`), for JARM responses.
    jwks: tokio::sync::Mutex<Option<Arc<Vec<crate::jose::jwks::JwksKey>>>>,
    /// The latest DPoP nonce per server origin.
    nonces: Mutex<HashMap<String, String>>,
    dpop: Mutex<Option<Arc<DpopKey>>>,
    /// The DPoP key's token, when `oauth.dpop_key` is set.
    dpop_token: Option<Arc<TokenDpop>>,
    /// Held while the DPoP key is loaded from its token: one load however
    /// many callers need it together.
    dpop_loading: tokio::sync::Mutex<()>,
    secret: SecretHolder,
    password: SecretHolder,
    cache: cache::TokenCache,
    status: Mutex<TokenStatus>,
    locked: AtomicBool,
    observer: Option<Arc<dyn TokenObserver>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Client {
    /// The client of `cred`, if its config has an `oauth` table.
    pub fn for_credential(
        cred: &Arc<Credential>,
        agent: &AgentConfig,
        env: &EnvVault,
        observer: Option<Arc<dyn TokenObserver>>,
    ) -> Option<Arc<Self>> {
        let cfg = cred.config.oauth.clone()?;
        let timeout = Duration::from_secs(cfg.timeout_seconds);
        let roots =
            net::tls::roots(cfg.ca_file.as_deref()).map_err(|e| OAuthError::Config(e.to_string()));
        let settings = |client_certificate| {
            roots.clone().map(|roots| net::Settings {
                roots,
                client_certificate,
                http2: false,
                connect_timeout: timeout,
            })
        };
        let plain = settings(None).map(HttpsClient::new);
        let mtls = cred.facts().is_ok().then(|| {
            let identity = cred.tls_identity().map_err(OAuthError::Credential)?;
            settings(Some(identity)).map(HttpsClient::new)
        });
        let fetch_timeout = Duration::from_secs(agent.passphrase_fetch_timeout_seconds);
        let source = |p: &Option<crate::config::PassphraseConfig>| {
            p.as_ref()
                .map(|p| crate::source::from_config(p, env, fetch_timeout))
        };
        let dpop_token = cfg
            .dpop_key
            .as_ref()
            .filter(|_| cfg.sender_constraint == SenderConstraint::Dpop)
            .map(|d| {
                Arc::new(TokenDpop {
                    name: format!("{} (DPoP key)", cred.name),
                    config: d.pkcs11.clone(),
                    allowed: agent.pkcs11_modules.clone(),
                    pin: crate::source::from_config(&d.pkcs11.pin, env, fetch_timeout),
                    // The PIN and the login are held as a credential's are.
                    settings: Settings::from_agent(agent, false),
                })
            });
        // A token key is loaded at first use (on a blocking thread), not
        // here: the token may be absent now and inserted later.
        let dpop = (cfg.sender_constraint == SenderConstraint::Dpop && dpop_token.is_none())
            .then(|| {
                DpopKey::generate(cfg.dpop_alg.unwrap_or_default())
                    .ok()
                    .map(Arc::new)
            })
            .flatten();
        Some(Arc::new(Self {
            secret: SecretHolder::new(source(&cfg.client_secret), fetch_timeout),
            password: SecretHolder::new(source(&cfg.password), fetch_timeout),
            cred: Arc::clone(cred),
            plain,
            mtls,
            metadata: tokio::sync::Mutex::new(None),
            jwks: tokio::sync::Mutex::new(None),
            nonces: Mutex::new(HashMap::new()),
            dpop: Mutex::new(dpop),
            dpop_token,
            dpop_loading: tokio::sync::Mutex::new(()),
            cache: cache::TokenCache::default(),
            status: Mutex::new(TokenStatus::default()),
            locked: AtomicBool::new(false),
            observer,
            cfg,
        }))
    }

    /// The credential this client acts for.
    pub fn credential(&self) -> &Arc<Credential> {
        &self.cred
    }

    /// The client's settings.
    pub fn config(&self) -> &OAuthConfig {
        &self.cfg
    }

    /// Wipes the client secret, the password, the DPoP key (a token's:
    /// its PIN, and logs out) and every cached token; until
    /// [`Self::unlock`] nothing is fetched or signed.
    pub fn lock(&self) {
        self.locked.store(true, Ordering::SeqCst);
        self.secret.wipe();
        self.password.wipe();
        {
            let mut dpop = lock(&self.dpop);
            match dpop.as_ref().map(|k| &k.signer) {
                // Kept: its public half, and the PIN the token rejected
                // (never presented again, across Lock and Unlock too).
                Some(DpopSigner::Token(t)) => t.lock(),
                _ => *dpop = None,
            }
        }
        self.cache.clear();
    }

    /// Ends a lock (a new generated DPoP key is made at the next use; a
    /// token's waits for [`Self::unlock_dpop_key`]).
    pub fn unlock(&self) {
        self.locked.store(false, Ordering::SeqCst);
    }

    /// After [`Self::unlock`]: a DPoP key on a token fetches its PIN and
    /// logs in again to prove it (then logs out unless used), as a
    /// credential's token key does. A key not loaded yet is loaded at its
    /// first use.
    pub async fn unlock_dpop_key(&self) -> Result<(), OAuthError> {
        let held = lock(&self.dpop).clone();
        match held.as_ref().map(|k| &k.signer) {
            Some(DpopSigner::Token(t)) => Arc::clone(t)
                .unlock()
                .await
                .map_err(|e| dpop_key_error(TOKEN_DPOP_KEY, &e)),
            _ => Ok(()),
        }
    }

    /// The start-up check of a DPoP key on a token: finds it and logs in
    /// once (proving the PIN, and the key against its public half), then
    /// releases the login unless a request is using it, as a credential's
    /// key check does. Nothing to check for a generated key.
    pub async fn check_dpop_key(&self) -> Result<(), OAuthError> {
        if self.dpop_token.is_none() {
            return Ok(());
        }
        let Some(key) = self.dpop_key().await? else {
            return Ok(());
        };
        if let DpopSigner::Token(t) = &key.signer {
            Arc::clone(t)
                .ready(Purpose::Check)
                .await
                .map_err(|e| dpop_key_error(TOKEN_DPOP_KEY, &e))?;
            t.release_if_unused();
        }
        Ok(())
    }

    /// Whether the DPoP key lives on a token (`oauth.dpop_key`).
    pub fn dpop_key_on_token(&self) -> bool {
        self.dpop_token.is_some()
    }

    /// The once-a-second sweep: a DPoP key on a token drops its PIN and
    /// its login after their TTLs, as a credential's token key does.
    pub fn tick(&self) {
        let held = lock(&self.dpop).clone();
        if let Some(DpopSigner::Token(t)) = held.as_ref().map(|k| &k.signer) {
            // A failed DPoP key is tried again at its next use, not in the
            // background: nothing else depends on it.
            let _retry_due = t.tick();
        }
    }

    fn check_unlocked(&self) -> Result<(), OAuthError> {
        if self.locked.load(Ordering::SeqCst) {
            Err(OAuthError::Locked)
        } else {
            Ok(())
        }
    }

    /// Whether requests go over mutual TLS (an mTLS client-authentication
    /// method or mTLS-bound tokens).
    fn uses_mtls(&self) -> bool {
        self.cfg.auth_method.is_mtls() || self.cfg.sender_constraint == SenderConstraint::Mtls
    }

    /// The DPoP key: generated now if Lock dropped it, or loaded from its
    /// token on a blocking thread at first use (and again after a failed
    /// load: the token may have been inserted since).
    async fn dpop_key(&self) -> Result<Option<Arc<DpopKey>>, OAuthError> {
        if self.cfg.sender_constraint != SenderConstraint::Dpop {
            return Ok(None);
        }
        if let Some(k) = lock(&self.dpop).clone() {
            return Ok(Some(k));
        }
        let key = match &self.dpop_token {
            None => DpopKey::generate(self.cfg.dpop_alg.unwrap_or_default())?,
            Some(spec) => {
                let _loading = self.dpop_loading.lock().await;
                if let Some(k) = lock(&self.dpop).clone() {
                    return Ok(Some(k));
                }
                let spec = Arc::clone(spec);
                cpu::run(move || DpopKey::load(&spec)).await?
            }
        };
        let key = Arc::clone(lock(&self.dpop).get_or_insert_with(|| Arc::new(key)));
        // A Lock that landed while the key was made did not see it: it is
        // wiped here (Lock sets the flag before it looks at the key).
        if self.locked.load(Ordering::SeqCst) {
            self.lock();
            return Err(OAuthError::Locked);
        }
        Ok(Some(key))
    }

    /// What tokens are bound to.
    pub async fn binding(&self) -> Result<Binding, OAuthError> {
        Ok(match self.cfg.sender_constraint {
            SenderConstraint::None => Binding::None,
            SenderConstraint::Dpop => Binding::Jkt(
                self.dpop_key()
                    .await?
                    .map(|k| k.jkt.clone())
                    .unwrap_or_default(),
            ),
            SenderConstraint::Mtls => Binding::X5tS256(
                self.cred
                    .facts()
                    .map_err(OAuthError::Credential)?
                    .x5t_s256
                    .clone(),
            ),
        })
    }

    /// What `Status` shows.
    pub fn status(&self) -> TokenStatus {
        let mut s = lock(&self.status).clone();
        let (n, earliest) = self.cache.summary();
        s.cached_tokens = n;
        s.earliest_expiry = earliest;
        s.dpop_jkt = lock(&self.dpop).as_ref().map(|k| k.jkt.clone());
        s.dpop_key = match (&self.dpop_token, self.cfg.sender_constraint) {
            (Some(t), _) => {
                let target = t.config.target().unwrap_or_default();
                format!(
                    "{}, {} (module {})",
                    target.token_desc(),
                    target.key_desc(),
                    t.config.module.display()
                )
            }
            (None, SenderConstraint::Dpop) => format!(
                "generated in memory ({}; a new key at each start and after each Lock)",
                DpopKey::generated_kind(self.cfg.dpop_alg.unwrap_or_default()).1
            ),
            (None, _) => String::new(),
        };
        s
    }

    /// The metadata, fetched (and checked) on first use and again after a
    /// failure.
    async fn metadata(&self) -> Result<Arc<Metadata>, OAuthError> {
        let mut held = self.metadata.lock().await;
        if let Some(m) = &*held {
            return Ok(Arc::clone(m));
        }
        let issuer = &self.cred.config.issuer;
        let http = self.plain.clone()?;
        let timeout = Duration::from_secs(self.cfg.timeout_seconds);
        let mut last = String::new();
        for url in metadata::well_known_urls(issuer) {
            let req = hyper::Request::get(&url)
                .header(hyper::header::ACCEPT, "application/json")
                .body(net::full(Bytes::new()))
                .map_err(|e| OAuthError::Invalid(e.to_string()))?;
            let resp = match http.send(req, timeout).await {
                Ok(r) => r,
                Err(e) => return Err(OAuthError::Unavailable(e.to_string())),
            };
            let status = resp.status();
            let body = net::read_body(resp.into_body(), MAX_RESPONSE_BYTES, timeout, &url)
                .await
                .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
            if status.is_server_error() {
                return Err(OAuthError::Unavailable(format!("{url}: HTTP {status}")));
            }
            if !status.is_success() {
                last = format!("{url}: HTTP {status}");
                continue;
            }
            let m = metadata::parse(issuer, &body)
                .map_err(|e| OAuthError::Config(format!("the metadata at {url}: {e}")))?;
            let m = Arc::new(m);
            *held = Some(Arc::clone(&m));
            return Ok(m);
        }
        Err(OAuthError::Config(format!(
            "no metadata for issuer {issuer:?} ({last}): set oauth.token_endpoint for a server \
             that publishes none"
        )))
    }

    /// The AS's signing keys, from the `jwks_uri` of its metadata: fetched
    /// on first use, and again when `refresh` (a response named a key the
    /// held set lacks: the AS rotated).
    pub async fn server_keys(
        &self,
        refresh: bool,
    ) -> Result<Arc<Vec<crate::jose::jwks::JwksKey>>, OAuthError> {
        let mut held = self.jwks.lock().await;
        if !refresh && let Some(k) = &*held {
            return Ok(Arc::clone(k));
        }
        let m = self.metadata().await?;
        let url = m.jwks_uri.clone().ok_or_else(|| {
            OAuthError::Config(format!(
                "the metadata of {:?} names no jwks_uri: its signed responses cannot be checked",
                self.cred.config.issuer
            ))
        })?;
        let http = self.plain.clone()?;
        let timeout = Duration::from_secs(self.cfg.timeout_seconds);
        let req = hyper::Request::get(&url)
            .header(
                hyper::header::ACCEPT,
                "application/json, application/jwk-set+json",
            )
            .body(net::full(Bytes::new()))
            .map_err(|e| OAuthError::Invalid(e.to_string()))?;
        let resp = http
            .send(req, timeout)
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        let status = resp.status();
        let body = net::read_body(resp.into_body(), MAX_RESPONSE_BYTES, timeout, &url)
            .await
            .map_err(|e| OAuthError::Unavailable(e.to_string()))?;
        if !status.is_success() {
            return Err(OAuthError::Unavailable(format!("{url}: HTTP {status}")));
        }
        let keys = crate::jose::jwks::parse(&body)
            .map_err(|e| OAuthError::Config(format!("the keys at {url}: {e}")))?;
        let keys = Arc::new(keys);
        *held = Some(Arc::clone(&keys));
        Ok(keys)
    }

    /// Forgets the metadata: the next request discovers it again.
    async fn forget_metadata(&self) {
        *self.metadata.lock().await = None;
    }

    /// The token endpoint to call (the mTLS alias when requests use mTLS).
    async fn token_endpoint(&self) -> Result<String, OAuthError> {
        if self.uses_mtls()
            && let Some(u) = &self.cfg.mtls_token_endpoint
        {
            return Ok(u.clone());
        }
        if let Some(u) = &self.cfg.token_endpoint {
            return Ok(u.clone());
        }
        let m = self.metadata().await?;
        Ok(
            match (&m.mtls_endpoint_aliases.token_endpoint, self.uses_mtls()) {
                (Some(alias), true) => alias.clone(),
                _ => m.token_endpoint.clone(),
            },
        )
    }

    /// The PAR endpoint to call.
    async fn par_endpoint(&self) -> Result<(String, Option<String>), OAuthError> {
        if let Some(u) = &self.cfg.pushed_authorization_request_endpoint {
            return Ok((u.clone(), None));
        }
        let m = self.metadata().await?;
        let endpoint = match (
            &m.mtls_endpoint_aliases
                .pushed_authorization_request_endpoint,
            self.uses_mtls(),
        ) {
            (Some(alias), true) => Some(alias.clone()),
            _ => m.pushed_authorization_request_endpoint.clone(),
        };
        let endpoint = endpoint.ok_or_else(|| {
            OAuthError::Config(format!(
                "issuer {:?} publishes no pushed_authorization_request_endpoint",
                self.cred.config.issuer
            ))
        })?;
        Ok((endpoint, m.authorization_endpoint.clone()))
    }

    fn http(&self) -> Result<HttpsClient, OAuthError> {
        if self.uses_mtls() {
            match &self.mtls {
                Some(c) => c.clone(),
                None => Err(OAuthError::Config(
                    "mutual TLS needs the credential's key and certificate".into(),
                )),
            }
        } else {
            self.plain.clone()
        }
    }

    fn origin(url: &str) -> String {
        url::Url::parse(url).map_or_else(|_| url.to_owned(), |u| u.origin().ascii_serialization())
    }

    fn nonce_for(&self, url: &str) -> Option<String> {
        lock(&self.nonces).get(&Self::origin(url)).cloned()
    }

    fn remember_nonce(&self, url: &str, headers: &hyper::HeaderMap) {
        if let Some(n) = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()) {
            lock(&self.nonces).insert(Self::origin(url), n.to_owned());
        }
    }

    /// A fresh client assertion for the server (aud = its issuer).
    async fn client_assertion(&self) -> Result<String, OAuthError> {
        let cred = &self.cred;
        let facts = cred.facts().map_err(OAuthError::Credential)?;
        let signer = jose::assertion::Signer {
            credential: &cred.name,
            client_id: cred.client_id(),
            issuer: &cred.config.issuer,
            config: &cred.config.assertion,
            alg: facts.alg,
            kid: facts.jwk.thumbprint(),
            x5t_s256: &facts.x5t_s256,
        };
        let key = cred
            .key()
            .map_err(OAuthError::Credential)?
            .ready()
            .await
            .map_err(|e| OAuthError::Credential(cred.key_failure(e)))?;
        let signed = jose::assertion::sign(&signer, jose::assertion::Request::default(), &key)
            .await
            .map_err(|e| OAuthError::Invalid(e.to_string()))?;
        Ok(signed.token)
    }

    /// A DPoP proof for a request to `url` with `method`.
    pub async fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<(jose::dpop::Proof, String), OAuthError> {
        self.check_unlocked()?;
        let key = self.dpop_key().await?.ok_or_else(|| {
            OAuthError::Config(format!(
                "credential {:?} does not use DPoP (oauth.sender_constraint)",
                self.cred.name
            ))
        })?;
        let signer = key.ready().await?;
        let proof = jose::dpop::sign(
            &signer,
            key.alg,
            &key.jwk,
            jose::dpop::ProofRequest {
                htm: method,
                htu: url,
                access_token,
                nonce,
            },
        )
        .await
        .map_err(|e| match e {
            jose::dpop::DpopError::Invalid(m) => OAuthError::Invalid(m),
            // A token that went away mid-call, a Lock: not the caller's fault.
            jose::dpop::DpopError::Key(k) => dpop_key_error(key.what(), &k),
        })?;
        Ok((proof, key.jkt.clone()))
    }

    /// Client authentication: the form parameters to add, and an
    /// `Authorization` header for `client_secret_basic`.
    async fn authenticate(
        &self,
    ) -> Result<
        (
            Vec<(&'static str, Zeroizing<String>)>,
            Option<Zeroizing<String>>,
        ),
        OAuthError,
    > {
        let client_id = || Zeroizing::new(self.cred.client_id().to_owned());
        Ok(match self.cfg.auth_method {
            AuthMethod::PrivateKeyJwt => (
                vec![
                    ("client_id", client_id()),
                    (
                        "client_assertion_type",
                        Zeroizing::new(jose::assertion::ASSERTION_TYPE.to_owned()),
                    ),
                    (
                        "client_assertion",
                        Zeroizing::new(self.client_assertion().await?),
                    ),
                ],
                None,
            ),
            AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth => {
                (vec![("client_id", client_id())], None)
            }
            AuthMethod::ClientSecretBasic => {
                let secret = self.secret.get().await?;
                // RFC 6749 §2.3.1: each part form-urlencoded, then Basic.
                let mut pair = Zeroizing::new(String::new());
                pair.extend(form_urlencoded::byte_serialize(
                    self.cred.client_id().as_bytes(),
                ));
                pair.push(':');
                pair.extend(form_urlencoded::byte_serialize(secret.expose()));
                let header = Zeroizing::new(format!("Basic {}", STANDARD.encode(pair.as_bytes())));
                (Vec::new(), Some(header))
            }
            AuthMethod::ClientSecretPost => {
                let secret = self.secret.get().await?;
                let text = Zeroizing::new(String::from_utf8_lossy(secret.expose()).into_owned());
                (
                    vec![("client_id", client_id()), ("client_secret", text)],
                    None,
                )
            }
        })
    }

    /// POSTs an authenticated form to `endpoint`: a new assertion and DPoP
    /// proof per attempt, one retry for `use_dpop_nonce`, retries with
    /// backoff for the network and 5xx, within the configured timeout.
    async fn post(
        &self,
        endpoint: &str,
        params: &[(String, String)],
        with_dpop: bool,
    ) -> Result<(u16, Bytes), OAuthError> {
        self.check_unlocked()?;
        let http = self.http()?;
        let timeout = Duration::from_secs(self.cfg.timeout_seconds);
        let deadline = Instant::now() + timeout;
        let mut nonce_retried = false;
        let mut attempt = 0;
        loop {
            let (auth_params, authorization) = self.authenticate().await?;
            let body = {
                let mut form = form_urlencoded::Serializer::new(String::new());
                for (k, v) in params {
                    form.append_pair(k, v);
                }
                for (k, v) in &auth_params {
                    form.append_pair(k, v);
                }
                Zeroizing::new(form.finish())
            };
            let mut req = hyper::Request::post(endpoint)
                .header(
                    hyper::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .header(hyper::header::ACCEPT, "application/json");
            if let Some(a) = &authorization {
                req = req.header(hyper::header::AUTHORIZATION, a.as_str());
            }
            if with_dpop {
                let nonce = self.nonce_for(endpoint);
                let (proof, _) = self
                    .dpop_proof("POST", endpoint, None, nonce.as_deref())
                    .await?;
                req = req.header("DPoP", proof.token);
            }
            let req = req
                .body(net::full(Bytes::copy_from_slice(body.as_bytes())))
                .map_err(|e| OAuthError::Invalid(e.to_string()))?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let started = Instant::now();
            let sent = match http
                .send(req, remaining.max(Duration::from_millis(1)))
                .await
            {
                Ok(resp) => {
                    self.remember_nonce(endpoint, resp.headers());
                    let status = resp.status().as_u16();
                    net::read_body(resp.into_body(), MAX_RESPONSE_BYTES, remaining, endpoint)
                        .await
                        .map(|b| (status, b))
                }
                Err(e) => Err(e),
            };
            let retry_wait = || {
                let wait = RETRY_FIRST * 2u32.pow(attempt);
                let mut r = [0u8; 1];
                let _ = openssl::rand::rand_bytes(&mut r);
                wait.mul_f64(0.5 + f64::from(r[0]) / 512.0)
            };
            match sent {
                Err(e) => {
                    self.observe("unavailable", started);
                    if attempt + 1 < ATTEMPTS && Instant::now() + retry_wait() < deadline {
                        tokio::time::sleep(retry_wait()).await;
                        attempt += 1;
                        continue;
                    }
                    // Discover again next time: the server may have moved.
                    self.forget_metadata().await;
                    return Err(OAuthError::Unavailable(match e {
                        NetError::Timeout { .. } => {
                            format!("{e} (oauth.timeout_seconds = {})", self.cfg.timeout_seconds)
                        }
                        other => other.to_string(),
                    }));
                }
                Ok((status, body)) if status >= 500 => {
                    self.observe("unavailable", started);
                    if attempt + 1 < ATTEMPTS && Instant::now() + retry_wait() < deadline {
                        tokio::time::sleep(retry_wait()).await;
                        attempt += 1;
                        continue;
                    }
                    drop(body);
                    return Err(OAuthError::Unavailable(format!(
                        "{endpoint}: HTTP {status}"
                    )));
                }
                Ok((status, body)) if (400..500).contains(&status) => {
                    let err: Option<ErrorResponse> = serde_json::from_slice(&body).ok();
                    if let Some(err) = &err
                        && err.error == "use_dpop_nonce"
                        && with_dpop
                        && !nonce_retried
                        && self.nonce_for(endpoint).is_some()
                    {
                        // RFC 9449 §8: once, with the nonce just received
                        // and (for private_key_jwt) a new assertion.
                        nonce_retried = true;
                        continue;
                    }
                    self.observe("refused", started);
                    if status == 404 {
                        self.forget_metadata().await;
                    }
                    return Err(match err {
                        Some(e) => OAuthError::Refused {
                            status,
                            error: e.error,
                            description: e.error_description,
                        },
                        None => OAuthError::Refused {
                            status,
                            error: "an error without an RFC 6749 error body".into(),
                            description: None,
                        },
                    });
                }
                Ok((status, body)) => {
                    self.observe("ok", started);
                    return Ok((status, body));
                }
            }
        }
    }

    fn observe(&self, outcome: &'static str, started: Instant) {
        if let Some(o) = &self.observer {
            o.token_request(&self.cred.name, outcome, started.elapsed().as_secs_f64());
        }
    }

    fn record(&self, outcome: &Result<Token, OAuthError>) {
        let mut s = lock(&self.status);
        s.last_request_at = Some(now_unix());
        s.last_outcome = match outcome {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        };
    }

    /// Requests a token with grant `params` and checks the response.
    async fn request_token(
        &self,
        params: Vec<(String, String)>,
        asked_scope: &str,
    ) -> Result<Token, OAuthError> {
        let dpop = self.cfg.sender_constraint == SenderConstraint::Dpop;
        let endpoint = self.token_endpoint().await?;
        let outcome = async {
            let binding = self.binding().await?;
            let (_, body) = self.post(&endpoint, &params, dpop).await?;
            let r: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
                OAuthError::Unavailable(format!(
                    "{endpoint} answered with something that is not a token response ({e})"
                ))
            })?;
            let expected = if dpop { "dpop" } else { "bearer" };
            if !r.token_type.eq_ignore_ascii_case(expected) {
                return Err(OAuthError::Config(format!(
                    "{endpoint} issued a {} token where {expected} was asked for: check the \
                     client's registration (dpop_bound_access_tokens, \
                     tls_client_certificate_bound_access_tokens)",
                    r.token_type
                )));
            }
            let lifetime = match r.expires_in {
                Some(s) if s > 0 => s,
                // Without expires_in: kept only briefly.
                _ => i64::try_from(self.cfg.default_token_ttl_seconds).unwrap_or(60),
            };
            Ok(Token {
                access_token: TokenValue::new(r.access_token),
                token_type: if dpop { "DPoP".into() } else { "Bearer".into() },
                expires_at: now_unix() + lifetime,
                scope: r.scope.unwrap_or_else(|| asked_scope.to_owned()),
                binding,
                refresh_token: r.refresh_token.map(TokenValue::new),
                cached: false,
            })
        }
        .await;
        self.record(&outcome);
        outcome
    }

    /// A client_credentials token: from the cache when one is fresh (one
    /// request however many callers miss together; refreshed ahead of
    /// expiry in the background, with jitter).
    pub async fn access_token(self: &Arc<Self>, req: TokenRequest) -> Result<Token, OAuthError> {
        self.check_unlocked()?;
        // A token is cached under the DPoP key it is bound to: one bound
        // to another key is never served.
        let jkt = self.dpop_key().await?.map(|k| k.jkt.clone());
        let key = CacheKey::new(
            if req.scopes.is_empty() {
                &self.cfg.scopes
            } else {
                &req.scopes
            },
            if req.resource.is_empty() {
                &self.cfg.resource
            } else {
                &req.resource
            },
            req.audience.as_deref().or(self.cfg.audience.as_deref()),
        )
        .bound_to(jkt);
        let margin = self.cfg.refresh_margin_seconds;
        let me = Arc::clone(self);
        // Called only on a miss or a due refresh: a hit builds nothing.
        let fetch = move |key: &CacheKey| {
            let me = Arc::clone(&me);
            let params = key.client_credentials_params();
            let scope = key.scope();
            async move { me.request_token(params, &scope).await }
        };
        let (token, hit) = self
            .cache
            .get(&key, req.force_refresh, margin, fetch)
            .await?;
        if let Some(o) = &self.observer {
            o.cache_lookup(&self.cred.name, hit);
        }
        Ok(token)
    }

    /// Exchanges an authorization code (with its PKCE verifier).
    pub async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        redirect_uri: &str,
    ) -> Result<Token, OAuthError> {
        let params = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.to_owned()),
            ("code_verifier".to_owned(), code_verifier.to_owned()),
            ("redirect_uri".to_owned(), redirect_uri.to_owned()),
        ];
        self.request_token(params, "").await
    }

    /// Uses a refresh token.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        scopes: &[String],
    ) -> Result<Token, OAuthError> {
        let mut params = vec![
            ("grant_type".to_owned(), "refresh_token".to_owned()),
            ("refresh_token".to_owned(), refresh_token.to_owned()),
        ];
        if !scopes.is_empty() {
            params.push(("scope".to_owned(), scopes.join(" ")));
        }
        self.request_token(params, &scopes.join(" ")).await
    }

    /// The password grant, with the configured resource owner (outside
    /// FAPI profiles only; refused at config load under FAPI).
    pub async fn password_grant(&self, scopes: &[String]) -> Result<Token, OAuthError> {
        if self.cfg.profile != Profile::None {
            return Err(OAuthError::Config(
                "the password grant is not allowed under the FAPI 2.0 profile".into(),
            ));
        }
        let username = self.cfg.username.clone().ok_or_else(|| {
            OAuthError::Config(format!(
                "credential {:?} has no oauth.username and oauth.password for the password grant",
                self.cred.name
            ))
        })?;
        let password = self.password.get().await?;
        let scopes = if scopes.is_empty() {
            self.cfg.scopes.clone()
        } else {
            scopes.to_vec()
        };
        let mut params = vec![
            ("grant_type".to_owned(), "password".to_owned()),
            ("username".to_owned(), username),
            (
                "password".to_owned(),
                String::from_utf8_lossy(password.expose()).into_owned(),
            ),
        ];
        if !scopes.is_empty() {
            params.push(("scope".to_owned(), scopes.join(" ")));
        }
        self.request_token(params, &scopes.join(" ")).await
    }

    /// Pushes an authorization request (RFC 9126): authenticated like a
    /// token request, `dpop_jkt` added when DPoP is on, optionally as a
    /// request object signed with the credential's key.
    pub async fn push_authorization_request(
        &self,
        params: Vec<(String, String)>,
        signed: bool,
    ) -> Result<Pushed, OAuthError> {
        const SET_BY_DAEMON: &[&str] = &[
            "client_id",
            "client_assertion",
            "client_assertion_type",
            "client_secret",
            "request",
            "dpop_jkt",
        ];
        if let Some((k, _)) = params
            .iter()
            .find(|(k, _)| SET_BY_DAEMON.contains(&k.as_str()))
        {
            return Err(OAuthError::Invalid(format!(
                "the parameter {k:?} is set by the daemon"
            )));
        }
        let mut params = params;
        if let Some(k) = self.dpop_key().await? {
            params.push(("dpop_jkt".to_owned(), k.jkt.clone()));
        }
        let (endpoint, authorization_endpoint) = self.par_endpoint().await?;
        let params = if signed {
            let cred = &self.cred;
            let facts = cred.facts().map_err(OAuthError::Credential)?;
            let key = cred
                .key()
                .map_err(OAuthError::Credential)?
                .ready()
                .await
                .map_err(|e| OAuthError::Credential(cred.key_failure(e)))?;
            let object = jose::request_object::sign(
                &key,
                facts.alg,
                facts.jwk.thumbprint(),
                cred.client_id(),
                &cred.config.issuer,
                &params,
            )
            .await
            .map_err(|e| OAuthError::Invalid(e.to_string()))?;
            vec![("request".to_owned(), object)]
        } else {
            params
        };
        // A proof at PAR is optional (dpop_jkt binds the code); none is sent.
        let (_, body) = self.post(&endpoint, &params, false).await?;
        #[derive(Deserialize)]
        struct ParResponse {
            request_uri: String,
            expires_in: i64,
        }
        let r: ParResponse = serde_json::from_slice(&body).map_err(|e| {
            OAuthError::Unavailable(format!(
                "{endpoint} answered with something that is not a PAR response ({e})"
            ))
        })?;
        Ok(Pushed {
            request_uri: r.request_uri,
            expires_in: r.expires_in,
            authorization_endpoint,
        })
    }
}
