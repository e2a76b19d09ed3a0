//! Credentials: a certificate chain, a private key (through its key
//! handle), a client_id and the rules around them.
//!
//! Public facts (JWK, kid, validity) come from the certificate at load and
//! never need the private key. The private key is reached only through its
//! [`KeyHandle`]: today the software backend, which decrypts the key file on
//! demand with the passphrase from its source ([`crate::keys::software`]).

pub mod dev;
mod executables;
mod load;
mod snapshot;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use executables::Executables;
pub use load::{CredentialError, PublicFacts, parse_certificates, read_certificates};
pub use snapshot::{JwksEntry, Serving, Snapshot, live_jwks, not_live};

use crate::config::{AgentConfig, Config, CredentialConfig};
use crate::keys::shared::SharedSecrets;
use crate::keys::software::{KeyFile, Keystore, Settings, SoftwareKey};
use crate::keys::{KeyError, KeyHandle, KeyKind, SourceStatus};
use crate::now_unix;
use crate::source::{self, EnvVault, FetchObserver, PassphraseSource, SourceError};

/// A credential that cannot serve a request, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("credential {name:?}: {source}")]
pub struct CredentialFailure {
    /// The credential.
    pub name: String,
    /// Why.
    pub source: Arc<CredentialError>,
}

impl CredentialFailure {
    /// Whether the credential's passphrase source is down (UNAVAILABLE).
    pub fn is_source_unavailable(&self) -> bool {
        self.source.is_source_unavailable()
    }
}

/// Why a request's selection matched no credential.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SelectError {
    /// No credential has that name.
    #[error("no credential named {0:?} is configured (see `fapi-agent credentials`)")]
    UnknownCredential(String),
    /// No credential has that client_id.
    #[error("no credential for client_id {0:?} is configured (see `fapi-agent credentials`)")]
    UnknownClient(String),
    /// The pinned kid is not among the selected credentials.
    #[error("no key with kid {kid:?} in {within}")]
    UnknownKid {
        /// The kid asked for.
        kid: String,
        /// What was searched.
        within: String,
    },
}

/// Which credential a request means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// By the config name.
    Name(String),
    /// By client_id: the newest valid credential of that client.
    ClientId(String),
}

/// One configured credential.
pub struct Credential {
    /// The config name.
    pub name: String,
    /// Its settings.
    pub config: CredentialConfig,
    loaded: Result<Loaded, Arc<CredentialError>>,
    expiry_warning_days: u32,
    /// SHA-256 over the credential's files as loaded: a reload reuses this
    /// credential (held passphrase, decrypted key) when neither the files
    /// nor the config changed.
    fingerprint: Vec<u8>,
    /// Set when a reload found new files invalid and kept this version.
    notice: Mutex<Option<String>>,
    /// The source's state as loading left it, for a credential that could
    /// not be loaded (and so has no key backend to ask).
    load_source_status: SourceStatus,
    /// Shared secrets decrypted with this credential's key, held until Lock.
    shared: SharedSecrets,
}

/// Where a credential stands, for events and health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Usable.
    Available,
    /// Usable, certificate inside the expiry-warning window.
    ExpiringSoon,
    /// Certificate expired: not usable, not chosen.
    Expired,
    /// Locked by the operator.
    Locked,
    /// Not usable for another reason.
    Error,
}

/// SHA-256 over the paths and contents of a credential's files (a missing
/// file hashes as such, so its later appearance is a change).
pub fn fingerprint(config: &CredentialConfig) -> Vec<u8> {
    let mut h = openssl::sha::Sha256::new();
    for path in config.files() {
        h.update(path.as_os_str().as_encoded_bytes());
        h.update(&[0]);
        match crate::sys::fs::read_capped(path, crate::sys::fs::MAX_CREDENTIAL_FILE_BYTES, "") {
            Ok(mut bytes) => {
                h.update(&bytes);
                zeroize::Zeroize::zeroize(&mut bytes);
            }
            Err(e) => h.update(e.to_string().as_bytes()),
        }
        h.update(&[0]);
    }
    h.finish().to_vec()
}

/// What loading found, when it succeeded: the certificate's facts and
/// the key handle, or nothing for a credential that has only a client
/// secret.
struct Loaded(Option<Keyed>);

struct Keyed {
    facts: PublicFacts,
    key: KeyHandle,
}

/// A credential's state as operators and callers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Usable, possibly with a warning (expiry approaching).
    Available {
        /// e.g. "certificate expires in 12 days".
        warning: Option<String>,
    },
    /// Locked: usable again after unlock.
    Locked,
    /// Not usable; the operator-facing reason.
    Error(String),
}

impl Credential {
    /// Loads a credential from its config: reads and checks the certificate,
    /// reads the key file and, for PKCS#12 (whose certificate is inside the
    /// encrypted bundle), fetches the passphrase and opens it. Never fails:
    /// a broken credential is kept in an error state so that the daemon
    /// serves the others and reports this one. Blocking.
    pub fn load(
        name: &str,
        config: CredentialConfig,
        agent: &AgentConfig,
        env: &EnvVault,
        observer: Option<Arc<dyn FetchObserver>>,
    ) -> Self {
        let timeout = Duration::from_secs(agent.passphrase_fetch_timeout_seconds);
        // A token key's PIN comes from a source like a passphrase.
        let source = config
            .passphrase
            .as_ref()
            .or(config.pkcs11.as_ref().map(|p| &p.pin))
            .map(|p| source::from_config(p, env, timeout));
        // A keystore with a key password of its own: both are fetched,
        // held and wiped as one secret.
        let source = match (
            source,
            config
                .keystore
                .as_ref()
                .and_then(|k| k.key_password.as_ref()),
        ) {
            (Some(store), Some(key)) => Some(Arc::new(crate::keys::software::PasswordPair::new(
                store,
                source::from_config(key, env, timeout),
            )) as Arc<dyn PassphraseSource>),
            (store, _) => store,
        };
        let shared = SharedSecrets::new(&config.shared_secrets, env, timeout);
        Self {
            shared,
            ..Self::load_with_source(name, config, agent, source, observer)
        }
    }

    /// [`Self::load`] with an explicit passphrase source (dev mode, tests).
    pub fn load_with_source(
        name: &str,
        config: CredentialConfig,
        agent: &AgentConfig,
        source: Option<Arc<dyn PassphraseSource>>,
        observer: Option<Arc<dyn FetchObserver>>,
    ) -> Self {
        let fingerprint = fingerprint(&config);
        let settings = Settings::from_agent(agent, config.shielded);
        let mut load_source_status = SourceStatus {
            kind: source
                .as_ref()
                .map(|s| s.kind().to_owned())
                .unwrap_or_default(),
            description: source.as_ref().map(|s| s.describe()).unwrap_or_default(),
            ..Default::default()
        };
        let loaded = match &config.pkcs11 {
            Some(p) => Self::load_pkcs11(name, &config, p, agent, source, settings, observer)
                .map(|k| Loaded(Some(k))),
            None => Self::load_parts(name, &config, source, settings, observer),
        }
        .map_err(Arc::new);
        let config_shared = config.shared_secrets.clone();
        if let Err(e) = &loaded {
            tracing::error!(credential = name, error = %e, "credential cannot be used");
            load_source_status.last_error = Some((now_unix(), e.to_string()));
        }
        let cred = Self {
            name: name.to_owned(),
            config,
            loaded,
            expiry_warning_days: agent.expiry_warning_days,
            fingerprint,
            notice: Mutex::new(None),
            load_source_status,
            shared: SharedSecrets::new(
                &config_shared,
                &EnvVault::default(),
                Duration::from_secs(agent.passphrase_fetch_timeout_seconds),
            ),
        };
        if let State::Available { warning: Some(w) } = cred.state() {
            tracing::warn!(credential = name, "{w}");
        }
        cred
    }

    fn load_parts(
        name: &str,
        config: &CredentialConfig,
        source: Option<Arc<dyn PassphraseSource>>,
        settings: Settings,
        observer: Option<Arc<dyn FetchObserver>>,
    ) -> Result<Loaded, CredentialError> {
        let no_source = |reason: String| {
            CredentialError::from(KeyError::Source(SourceError::Refused {
                source_desc: "none".into(),
                reason,
            }))
        };
        let handle = |facts: &PublicFacts, key: SoftwareKey| {
            let kind = KeyKind::of(&facts.public_key).ok_or_else(|| {
                KeyError::Unsupported("the certificate's key is of no supported kind".into())
            })?;
            Ok::<_, CredentialError>(KeyHandle::new(Arc::new(key), kind))
        };
        let bundle = match (&config.pkcs12, &config.keystore) {
            (Some(p12), _) => Some(KeyFile::read_pkcs12(p12)?),
            (None, Some(ks)) => Some(KeyFile::Keystore(Keystore::read(
                &ks.path,
                &ks.alias,
                ks.key_password.is_some(),
            )?)),
            (None, None) => None,
        };
        if let Some(key_file) = bundle {
            let src = source.clone().ok_or_else(|| {
                no_source("a PKCS#12 bundle or keystore needs a passphrase source".into())
            })?;
            let pass =
                source::fetch_blocking(&src, settings.fetch_timeout).map_err(KeyError::from)?;
            let opened = key_file.decrypt(Some(&pass), &src.describe())?;
            let certs = opened.certs.as_deref().unwrap_or_default();
            let facts = PublicFacts::from_chain(certs)?;
            facts.check_matches(&opened.key)?;
            drop(opened);
            let key = SoftwareKey::new(
                name,
                key_file,
                source,
                facts.public_key.clone(),
                facts.jwk.thumbprint(),
                settings,
                observer,
            )
            .with_passphrase(pass);
            let key = handle(&facts, key)?;
            return Ok(Loaded(Some(Keyed { facts, key })));
        }
        if !config.has_key() {
            return Ok(Loaded(None));
        }
        // The config validation guarantees key and certificate here.
        let (Some(key), Some(cert)) = (&config.key, &config.certificate) else {
            return Err(KeyError::CorruptKey {
                path: Default::default(),
                detail: "no key file configured".into(),
            }
            .into());
        };
        let facts = PublicFacts::from_chain(&read_certificates(cert)?)?;
        let key_file = KeyFile::read_key(key)?;
        if !key_file.needs_passphrase() {
            if !config.allow_plaintext_key {
                return Err(KeyError::PlaintextNotAllowed(key.clone()).into());
            }
            tracing::warn!(
                key = %key.display(),
                "loading an UNENCRYPTED private key (allow_plaintext_key = true): anyone who \
                 can read the file has the credential"
            );
        } else if source.is_none() {
            return Err(no_source(format!(
                "{} is encrypted but no passphrase source is configured",
                key.display()
            )));
        }
        let software = SoftwareKey::new(
            name,
            key_file,
            source,
            facts.public_key.clone(),
            facts.jwk.thumbprint(),
            settings,
            observer,
        );
        let key = handle(&facts, software)?;
        Ok(Loaded(Some(Keyed { facts, key })))
    }

    /// A credential whose key is on a PKCS#11 token: the certificate from
    /// its file or from the token, the module checked against the
    /// allow-list before it is loaded.
    fn load_pkcs11(
        name: &str,
        config: &CredentialConfig,
        p11: &crate::config::Pkcs11Config,
        agent: &AgentConfig,
        source: Option<Arc<dyn PassphraseSource>>,
        settings: Settings,
        observer: Option<Arc<dyn FetchObserver>>,
    ) -> Result<Keyed, CredentialError> {
        let chain = match &config.certificate {
            Some(cert) => read_certificates(cert)?,
            None => vec![
                crate::keys::pkcs11::token_certificate(p11, &agent.pkcs11_modules)?.ok_or_else(
                    || CredentialError::CorruptCertificate {
                        path: p11.module.clone(),
                        detail: "the token has no certificate object with the key's label or id: \
                                 store one (pkcs11-tool --write-object CERT --type cert) or set \
                                 `certificate = FILE`"
                            .into(),
                    },
                )?,
            ],
        };
        let facts = PublicFacts::from_chain(&chain)?;
        let key = crate::keys::pkcs11::Pkcs11Key::load(
            name,
            p11,
            &agent.pkcs11_modules,
            source,
            facts.public_key.clone(),
            facts.jwk.thumbprint(),
            settings,
            observer,
        )?;
        let kind = KeyKind::of(&facts.public_key).ok_or_else(|| {
            KeyError::Unsupported("the certificate's key is of no supported kind".into())
        })?;
        Ok(Keyed {
            facts,
            key: KeyHandle::new(Arc::new(key), kind),
        })
    }

    /// The client_id.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    fn failure(&self, e: impl Into<Arc<CredentialError>>) -> CredentialFailure {
        CredentialFailure {
            name: self.name.clone(),
            source: e.into(),
        }
    }

    /// The key and its facts, if the credential loaded and has a key.
    fn keyed(&self) -> Option<&Keyed> {
        self.loaded.as_ref().ok().and_then(|l| l.0.as_ref())
    }

    fn keyed_or_failure(&self) -> Result<&Keyed, CredentialFailure> {
        let l = self
            .loaded
            .as_ref()
            .map_err(|e| self.failure(Arc::clone(e)))?;
        l.0.as_ref()
            .ok_or_else(|| self.failure(CredentialError::NoKey))
    }

    /// The public facts, or why the credential could not be loaded.
    pub fn facts(&self) -> Result<&PublicFacts, CredentialFailure> {
        self.keyed_or_failure().map(|k| &k.facts)
    }

    /// The key handle for a request: the credential loaded, not locked,
    /// its certificate not expired.
    pub fn key(&self) -> Result<&KeyHandle, CredentialFailure> {
        let l = self.keyed_or_failure()?;
        if l.key.status().locked {
            return Err(self.failure(CredentialError::from(KeyError::Locked)));
        }
        if l.facts.expired_at(now_unix()) {
            return Err(self.failure(CredentialError::Expired {
                not_after: l.facts.not_after_text.clone(),
                now: openssl::asn1::Asn1Time::days_from_now(0)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            }));
        }
        Ok(&l.key)
    }

    /// What to present in mutual TLS: the certificate chain and the key
    /// handle, which signs each handshake (so a Lock later refuses the
    /// handshake, not this call).
    pub fn tls_identity(&self) -> Result<crate::net::ClientCertificate, CredentialFailure> {
        let l = self.keyed_or_failure()?;
        let chain = l
            .facts
            .chain_der
            .iter()
            .map(|der| rustls::pki_types::CertificateDer::from(der.clone()))
            .collect();
        Ok(crate::net::ClientCertificate {
            chain,
            key: l.key.clone(),
        })
    }

    /// Wraps a key error of this credential's handle.
    pub fn key_failure(&self, e: Arc<KeyError>) -> CredentialFailure {
        self.failure(CredentialError::Key(e))
    }

    /// Whether this credential was loaded from exactly `config` and the
    /// files as they are on disk now.
    pub fn is_current(&self, config: &CredentialConfig) -> bool {
        &self.config == config && self.fingerprint == fingerprint(config)
    }

    /// Whether loading succeeded (the public facts are known).
    pub fn is_loaded(&self) -> bool {
        self.loaded.is_ok()
    }

    /// Whether loading failed for a reason that passes, so that loading
    /// again at `now` (Unix seconds) may succeed: the passphrase source was
    /// unreachable (a PKCS#12 bundle needs its passphrase to be read), or
    /// the certificate was not yet valid and now is.
    pub fn load_retryable(&self, now: i64) -> bool {
        match self.loaded.as_ref().err().map(|e| &**e) {
            Some(e) if e.is_source_unavailable() => true,
            Some(CredentialError::NotYetValid { valid_from, .. }) => *valid_from <= now,
            _ => false,
        }
    }

    /// Records (or clears) why a reload kept this version.
    pub fn set_notice(&self, notice: Option<String>) {
        *lock_ignoring_poison(&self.notice) = notice;
    }

    /// Where the credential stands now.
    pub fn phase(&self) -> Phase {
        match (self.state(), self.facts()) {
            (State::Locked, _) => Phase::Locked,
            (State::Error(_), Ok(f)) if f.expired_at(now_unix()) => Phase::Expired,
            (State::Error(_), _) => Phase::Error,
            (State::Available { .. }, Ok(f))
                if f.days_left(now_unix()) < i64::from(self.expiry_warning_days) =>
            {
                Phase::ExpiringSoon
            }
            (State::Available { .. }, _) => Phase::Available,
        }
    }

    /// The current state: load errors, decryption failures, expiry.
    pub fn state(&self) -> State {
        let (facts, key) = match &self.loaded {
            Ok(Loaded(Some(k))) => (&k.facts, k.key.status()),
            // A client secret only: nothing to expire, decrypt or lock here.
            Ok(Loaded(None)) => {
                let notice = lock_ignoring_poison(&self.notice).clone();
                return State::Available { warning: notice };
            }
            Err(e) => return State::Error(e.to_string()),
        };
        if key.locked {
            return State::Locked;
        }
        let mut source_warning = None;
        if let Some(f) = &key.failure {
            if !(f.is_source_unavailable() && key.key_held) {
                return State::Error(f.to_string());
            }
            source_warning = Some(format!(
                "{f}; serving the decrypted key until its hard TTL (key_max_ttl_seconds)"
            ));
        }
        let now = now_unix();
        if facts.expired_at(now) {
            return State::Error(format!(
                "certificate expired at {}: install the renewed credential",
                facts.not_after_text
            ));
        }
        let days = facts.days_left(now);
        let expiry = (days < i64::from(self.expiry_warning_days)).then(|| {
            format!(
                "certificate expires in {days} days ({}): enroll and install the next credential",
                facts.not_after_text
            )
        });
        let notice = lock_ignoring_poison(&self.notice).clone();
        let warning = [source_warning, notice, expiry]
            .into_iter()
            .flatten()
            .reduce(|a, b| format!("{a}; {b}"));
        State::Available { warning }
    }

    /// Wipes the held passphrase and decrypted key; until [`Self::unlock`],
    /// nothing is fetched or decrypted. Never waits.
    pub fn lock(&self) {
        if let Some(k) = self.keyed() {
            k.key.lock();
        }
        self.shared.wipe();
    }

    /// Whether the credential is locked.
    pub fn is_locked(&self) -> bool {
        self.keyed().is_some_and(|k| k.key.status().locked)
    }

    /// Unlocks, fetching the passphrase again and proving the key (which is
    /// then dropped until first use).
    pub async fn unlock(&self) -> Result<(), CredentialFailure> {
        let Some(k) = self.keyed() else {
            return Ok(());
        };
        k.key.unlock().await.map_err(|e| self.key_failure(e))?;
        let key = self.key()?;
        self.shared.derive_all(&self.name, key).await;
        Ok(())
    }

    /// Whether the decrypted key is in memory now.
    pub fn key_decrypted(&self) -> bool {
        self.keyed().is_some_and(|k| k.key.status().key_held)
    }

    /// Decrypts the key to prove the passphrase and key/certificate match,
    /// then drops it unless a request started using it meanwhile.
    pub async fn verify(&self) -> Result<(), CredentialFailure> {
        if matches!(self.loaded, Ok(Loaded(None))) {
            return Ok(());
        }
        let key = self.key()?;
        key.verify().await.map_err(|e| self.key_failure(e))?;
        self.shared.derive_all(&self.name, key).await;
        Ok(())
    }

    /// This credential's shared secrets (limits, whether held).
    pub fn shared_secrets(&self) -> &SharedSecrets {
        &self.shared
    }

    /// Reads the shared secrets that come from sources again (a reload that
    /// reuses this credential); the errors name each secret.
    pub async fn refresh_shared_secrets(&self) -> Vec<String> {
        match self.key() {
            Ok(key) => self.shared.refresh_sources(&self.name, key).await,
            Err(_) => Vec::new(),
        }
    }

    /// Whether the last fetch or decryption failed (and has not recovered).
    pub fn failing(&self) -> bool {
        self.keyed()
            .is_some_and(|k| k.key.status().failure.is_some())
    }

    /// The once-a-second sweep of the key's TTLs; true when a failed key is
    /// due for a background retry.
    pub fn tick(&self) -> bool {
        self.keyed().is_some_and(|k| k.key.tick())
    }

    /// The passphrase source's state, for `Status`.
    pub fn source_status(&self) -> SourceStatus {
        match self.keyed() {
            Some(k) => k.key.source_status(),
            None => self.load_source_status.clone(),
        }
    }
}

fn lock_ignoring_poison<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind
    // (an Option or a status record): still consistent to read.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Every configured credential, by name, and the executables their
/// allow rules name, resolved when the registry is built.
pub struct Registry {
    by_name: BTreeMap<String, Arc<Credential>>,
    executables: Executables,
}

impl Registry {
    /// Loads every credential of `config` (blocking; broken ones are kept in
    /// their error state).
    pub fn load(config: &Config, env: &EnvVault, observer: Option<Arc<dyn FetchObserver>>) -> Self {
        Self::new(config.credentials.iter().map(|(name, c)| {
            Credential::load(name, c.clone(), &config.agent, env, observer.clone())
        }))
    }

    /// A registry of already loaded credentials.
    pub fn new(creds: impl IntoIterator<Item = Credential>) -> Self {
        Self::from_shared(creds.into_iter().map(Arc::new))
    }

    /// A registry of credentials that may also belong to another registry
    /// (a reload reuses unchanged credentials).
    pub fn from_shared(creds: impl IntoIterator<Item = Arc<Credential>>) -> Self {
        let by_name: BTreeMap<String, Arc<Credential>> =
            creds.into_iter().map(|c| (c.name.clone(), c)).collect();
        // Resolved anew for every registry (start-up, each reload), reused
        // credentials included: a replaced binary is a new file.
        let executables = Executables::resolve(by_name.values().flat_map(|c| &c.config.allow));
        Self {
            by_name,
            executables,
        }
    }

    /// The executables the allow rules name, as resolved.
    pub fn executables(&self) -> &Executables {
        &self.executables
    }

    /// The credential named `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Credential>> {
        self.by_name.get(name)
    }

    /// Every credential, by name order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Credential>> {
        self.by_name.values()
    }

    /// The credential a request selects, optionally pinned to `kid`. By
    /// client_id: among usable credentials, the newest (latest notBefore).
    pub fn select(
        &self,
        sel: &Selector,
        kid: Option<&str>,
    ) -> Result<Arc<Credential>, SelectError> {
        let kid_matches =
            |c: &Credential| kid.is_none_or(|k| c.facts().is_ok_and(|f| f.jwk.thumbprint() == k));
        match sel {
            Selector::Name(name) => {
                let c = self
                    .by_name
                    .get(name)
                    .ok_or_else(|| SelectError::UnknownCredential(name.clone()))?;
                if !kid_matches(c) {
                    return Err(SelectError::UnknownKid {
                        kid: kid.unwrap_or_default().to_owned(),
                        within: format!("credential {name:?}"),
                    });
                }
                Ok(Arc::clone(c))
            }
            Selector::ClientId(client_id) => {
                let candidates: Vec<&Arc<Credential>> = self
                    .by_name
                    .values()
                    .filter(|c| c.client_id() == client_id)
                    .collect();
                if candidates.is_empty() {
                    return Err(SelectError::UnknownClient(client_id.clone()));
                }
                let pinned: Vec<&Arc<Credential>> =
                    candidates.into_iter().filter(|c| kid_matches(c)).collect();
                let newest_usable = pinned
                    .iter()
                    .filter(|c| matches!(c.state(), State::Available { .. }))
                    .max_by_key(|c| c.facts().map(|f| f.not_before).unwrap_or(i64::MIN));
                match newest_usable.or(pinned.first()) {
                    Some(c) => Ok(Arc::clone(c)),
                    None => Err(SelectError::UnknownKid {
                        kid: kid.unwrap_or_default().to_owned(),
                        within: format!("client_id {client_id:?}"),
                    }),
                }
            }
        }
    }
}
