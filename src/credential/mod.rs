//! Credentials: a certificate chain, an encrypted private key, a client_id
//! and the passphrase source that unlocks the key.
//!
//! Public facts (JWK, kid, validity) come from the certificate at load and
//! never need the private key. The private key is decrypted on demand on a
//! blocking thread, checked against the certificate, and held only for the
//! configured idle/maximum TTL ([`cache`]).

mod cache;
mod load;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use cache::{KeyCache, OpenKey, UnlockedKey};
pub use load::{
    CredentialError, Decrypted, KeyFile, PublicFacts, parse_certificates, read_certificates,
};

use crate::config::{AgentConfig, Config, CredentialConfig};
use crate::error::Error;
use crate::now_unix;
use crate::secret::Passphrase;
use crate::source::{self, EnvVault, PassphraseSource, SourceError};
use crate::sys::cpu;

/// After a failed fetch or decryption, attempts within a backoff window get
/// the recorded error instead of another (costly, or hanging) attempt: a
/// caller cannot turn a broken credential into a KDF-burning loop or a
/// flood on a secret manager. The window doubles per consecutive failure
/// from the first to the last value, with jitter; the daemon retries in the
/// background when it ends, so a credential recovers without traffic.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A recorded failure and when to try again.
struct Failure {
    error: Arc<CredentialError>,
    attempts: u32,
    retry_at: Instant,
}

impl Failure {
    fn after(previous: Option<&Failure>, error: Arc<CredentialError>) -> Self {
        let attempts = previous.map_or(1, |f| f.attempts.saturating_add(1));
        let base = BACKOFF_FIRST
            .saturating_mul(1 << attempts.saturating_sub(1).min(16))
            .min(BACKOFF_MAX);
        // Full jitter over the upper half: many daemons (or credentials)
        // that failed together do not retry together.
        let mut r = [0u8; 2];
        let _ = openssl::rand::rand_bytes(&mut r);
        let frac = f64::from(u16::from_le_bytes(r)) / f64::from(u16::MAX);
        let delay = base.mul_f64(0.5 + frac / 2.0);
        Self {
            error,
            attempts,
            retry_at: Instant::now() + delay,
        }
    }
}

/// A fetched passphrase and its clock. Shared (not copied) with a
/// decryption in progress, so Lock can drop it at once: the last holder
/// wipes it.
struct Held {
    pass: Arc<Passphrase>,
    fetched: Instant,
    used: Instant,
}

/// What operators see of a credential's passphrase source (`Status`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceStatus {
    /// `file`, `keyutils`, `exec`, … (empty without a source).
    pub kind: String,
    /// Where exactly (never the secret).
    pub description: String,
    /// Unix seconds of the last successful fetch.
    pub last_fetch_at: Option<i64>,
    /// The last fetch or decryption error, and when.
    pub last_error: Option<(i64, String)>,
    /// Whether the passphrase is held in memory now.
    pub held: bool,
    /// Unix seconds of the next attempt while failing.
    pub next_retry_at: Option<i64>,
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
    passphrase: Mutex<Option<Held>>,
    /// Sliding and hard lifetime of a held passphrase (`None`: forever).
    pass_ttl: (Option<Duration>, Option<Duration>),
    fetch_timeout: Duration,
    source_status: Mutex<SourceStatus>,
    cache: KeyCache,
    last_failure: Mutex<Option<Failure>>,
    expiry_warning_days: u32,
    /// SHA-256 over the credential's files as loaded: a reload reuses this
    /// credential (held passphrase, decrypted key) when neither the files
    /// nor the config changed.
    fingerprint: Vec<u8>,
    /// Set when a reload found new files invalid and kept this version.
    notice: Mutex<Option<String>>,
    /// While set, no passphrase or key is held and none is fetched.
    locked: AtomicBool,
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

/// What loading found, when it succeeded.
struct Loaded {
    facts: PublicFacts,
    key_file: KeyFile,
    source: Option<Arc<dyn PassphraseSource>>,
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
    pub fn load(name: &str, config: CredentialConfig, agent: &AgentConfig, env: &EnvVault) -> Self {
        let timeout = Duration::from_secs(agent.passphrase_fetch_timeout_seconds);
        let source = config
            .passphrase
            .as_ref()
            .map(|p| source::from_config(p, env, timeout));
        Self::load_with_source(name, config, agent, source)
    }

    /// [`Self::load`] with an explicit passphrase source (dev mode, tests).
    pub fn load_with_source(
        name: &str,
        config: CredentialConfig,
        agent: &AgentConfig,
        source: Option<Arc<dyn PassphraseSource>>,
    ) -> Self {
        let passphrase = Mutex::new(None);
        let fingerprint = fingerprint(&config);
        let mut status = SourceStatus {
            kind: source
                .as_ref()
                .map(|s| s.kind().to_owned())
                .unwrap_or_default(),
            description: source.as_ref().map(|s| s.describe()).unwrap_or_default(),
            ..Default::default()
        };
        let fetch_timeout = Duration::from_secs(agent.passphrase_fetch_timeout_seconds);
        let loaded =
            Self::load_parts(&config, source, &passphrase, fetch_timeout).map_err(Arc::new);
        match &loaded {
            Err(e) => {
                tracing::error!(credential = name, error = %e, "credential cannot be used");
                status.last_error = Some((now_unix(), e.to_string()));
            }
            Ok(_) if lock_ignoring_poison(&passphrase).is_some() => {
                status.last_fetch_at = Some(now_unix());
            }
            Ok(_) => {}
        }
        let cred = Self {
            pass_ttl: (
                agent.passphrase_idle_ttl_seconds.duration(),
                agent.passphrase_max_ttl_seconds.duration(),
            ),
            fetch_timeout: Duration::from_secs(agent.passphrase_fetch_timeout_seconds),
            source_status: Mutex::new(status),
            name: name.to_owned(),
            cache: KeyCache::new(
                Duration::from_secs(agent.key_idle_ttl_seconds),
                Duration::from_secs(agent.key_max_ttl_seconds),
            ),
            config,
            loaded,
            passphrase,
            last_failure: Mutex::new(None),
            expiry_warning_days: agent.expiry_warning_days,
            fingerprint,
            notice: Mutex::new(None),
            locked: AtomicBool::new(false),
        };
        if let State::Available { warning: Some(w) } = cred.state() {
            tracing::warn!(credential = name, "{w}");
        }
        cred
    }

    fn load_parts(
        config: &CredentialConfig,
        source: Option<Arc<dyn PassphraseSource>>,
        held: &Mutex<Option<Held>>,
        fetch_timeout: Duration,
    ) -> Result<Loaded, CredentialError> {
        if let Some(p12) = &config.pkcs12 {
            let key_file = KeyFile::read_pkcs12(p12)?;
            let src = source.clone().ok_or_else(|| {
                CredentialError::Source(crate::source::SourceError::Refused {
                    source_desc: "none".into(),
                    reason: "a PKCS#12 bundle needs a passphrase source".into(),
                })
            })?;
            let pass = source::fetch_blocking(&src, fetch_timeout)?;
            let opened = key_file.decrypt(Some(&pass), &src.describe())?;
            let certs = opened.certs.as_deref().unwrap_or_default();
            let facts = PublicFacts::from_chain(certs)?;
            facts.check_matches(&opened.key)?;
            let now = Instant::now();
            *lock_ignoring_poison(held) = Some(Held {
                pass: Arc::new(pass),
                fetched: now,
                used: now,
            });
            return Ok(Loaded {
                facts,
                key_file,
                source,
            });
        }
        // The config validation guarantees key and certificate here.
        let (Some(key), Some(cert)) = (&config.key, &config.certificate) else {
            return Err(CredentialError::CorruptKey {
                path: Default::default(),
                detail: "no key file configured".into(),
            });
        };
        let facts = PublicFacts::from_chain(&read_certificates(cert)?)?;
        let key_file = KeyFile::read_key(key)?;
        if !key_file.needs_passphrase() {
            if !config.allow_plaintext_key {
                return Err(CredentialError::PlaintextNotAllowed(key.clone()));
            }
            tracing::warn!(
                key = %key.display(),
                "loading an UNENCRYPTED private key (allow_plaintext_key = true): anyone who \
                 can read the file has the credential"
            );
        } else if source.is_none() {
            return Err(CredentialError::Source(
                crate::source::SourceError::Refused {
                    source_desc: "none".into(),
                    reason: format!(
                        "{} is encrypted but no passphrase source is configured",
                        key.display()
                    ),
                },
            ));
        }
        Ok(Loaded {
            facts,
            key_file,
            source,
        })
    }

    /// The client_id.
    pub fn client_id(&self) -> &str {
        &self.config.client_id
    }

    /// The public facts, or why the credential could not be loaded.
    pub fn facts(&self) -> Result<&PublicFacts, Error> {
        self.loaded
            .as_ref()
            .map(|l| &l.facts)
            .map_err(|e| self.error(e))
    }

    /// The passphrase source, if any.
    pub fn source(&self) -> Option<&Arc<dyn PassphraseSource>> {
        self.loaded.as_ref().ok().and_then(|l| l.source.as_ref())
    }

    fn error(&self, e: &Arc<CredentialError>) -> Error {
        Error::Credential {
            name: self.name.clone(),
            source: Arc::clone(e),
        }
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
            Some(CredentialError::Source(SourceError::Unavailable { .. })) => true,
            Some(CredentialError::NotYetValid { valid_from, .. }) => *valid_from <= now,
            _ => false,
        }
    }

    /// Records (or clears) why a reload kept this version.
    pub fn set_notice(&self, notice: Option<String>) {
        *self.notice.lock().unwrap_or_else(|p| p.into_inner()) = notice;
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
        let facts = match &self.loaded {
            Ok(l) => &l.facts,
            Err(e) => return State::Error(e.to_string()),
        };
        if self.locked.load(Ordering::SeqCst) {
            return State::Locked;
        }
        let mut source_warning = None;
        if let Some(f) = &*lock_ignoring_poison(&self.last_failure) {
            let source_down = matches!(
                *f.error,
                CredentialError::Source(SourceError::Unavailable { .. })
            );
            if !(source_down && self.cache.is_held()) {
                return State::Error(f.error.to_string());
            }
            source_warning = Some(format!(
                "{}; serving the decrypted key until its hard TTL (key_max_ttl_seconds)",
                f.error
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
        let notice = self
            .notice
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let warning = [source_warning, notice, expiry]
            .into_iter()
            .flatten()
            .reduce(|a, b| format!("{a}; {b}"));
        State::Available { warning }
    }

    /// Wipes the held passphrase and decrypted key; until [`Self::unlock`],
    /// nothing is fetched or decrypted.
    pub fn lock(&self) {
        self.locked.store(true, Ordering::SeqCst);
        // A decryption in progress keeps its share of the passphrase until
        // it ends (then it is wiped); it sees the flag and discards its key.
        *lock_ignoring_poison(&self.passphrase) = None;
        if let Some(src) = self.source() {
            src.wipe();
        }
        self.cache.clear();
        *lock_ignoring_poison(&self.last_failure) = None;
    }

    /// Whether the credential is locked.
    pub fn is_locked(&self) -> bool {
        self.locked.load(Ordering::SeqCst)
    }

    /// Unlocks, fetching the passphrase again and proving the key (which is
    /// then dropped until first use).
    pub async fn unlock(self: &Arc<Self>) -> Result<(), Error> {
        self.locked.store(false, Ordering::SeqCst);
        if self.loaded.is_err() {
            return Ok(());
        }
        self.verify().await
    }

    /// Whether the decrypted key is in memory now.
    pub fn key_decrypted(&self) -> bool {
        self.cache.is_held()
    }

    /// The decrypted key, decrypting it first if needed (once, however many
    /// requests arrive together). Fails with the credential's error when it
    /// is unusable or its certificate has expired.
    pub async fn unlocked(self: &Arc<Self>) -> Result<Arc<UnlockedKey>, Error> {
        self.obtain(true).await
    }

    /// Decrypts the key to prove the passphrase and key/certificate match,
    /// then drops it unless a request started using it meanwhile.
    pub async fn verify(self: &Arc<Self>) -> Result<(), Error> {
        self.obtain(false).await?;
        self.cache.release_if_unused();
        Ok(())
    }

    async fn obtain(self: &Arc<Self>, for_request: bool) -> Result<Arc<UnlockedKey>, Error> {
        let facts = self.facts()?;
        if self.is_locked() {
            return Err(self.error(&Arc::new(CredentialError::Locked)));
        }
        if facts.expired_at(now_unix()) {
            return Err(self.error(&Arc::new(CredentialError::Expired {
                not_after: facts.not_after_text.clone(),
                now: openssl::asn1::Asn1Time::days_from_now(0)
                    .map(|t| t.to_string())
                    .unwrap_or_default(),
            })));
        }
        if let Some(k) = self.cache.get() {
            return Ok(k);
        }
        let _gate = self.cache.gate.lock().await;
        // Someone else may have decrypted while we waited.
        if let Some(k) = self.cache.get() {
            return Ok(k);
        }
        if let Some(f) = &*lock_ignoring_poison(&self.last_failure) {
            let in_window = Instant::now() < f.retry_at;
            // Requests never wait on a failing source while a key can serve:
            // the background retry does the fetching.
            if (in_window || for_request)
                && let Some(k) = self.stale_key_for(&f.error)
            {
                return Ok(k);
            }
            if in_window {
                return Err(self.error(&f.error));
            }
        }
        if let Err(e) = self.ensure_passphrase().await {
            let stale = self.stale_key_for(&e);
            let err = self.fail(e);
            return stale.ok_or(err);
        }
        let me = Arc::clone(self);
        match cpu::run(move || me.decrypt_now()).await {
            Ok(_) if self.is_locked() => {
                // Locked while decrypting: the key is dropped here, unused.
                Err(self.error(&Arc::new(CredentialError::Locked)))
            }
            Ok(key) => {
                tracing::info!(credential = %self.name, "key decrypted");
                if lock_ignoring_poison(&self.last_failure).take().is_some() {
                    tracing::info!(credential = %self.name, "recovered");
                }
                lock_ignoring_poison(&self.source_status).next_retry_at = None;
                self.cache
                    .put(key, for_request, self.config.shielded)
                    .map_err(|e| self.error(&Arc::new(CredentialError::Crypto(e))))
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// While the passphrase source is unavailable, the decrypted key that
    /// is still within its hard TTL keeps serving.
    fn stale_key_for(&self, e: &CredentialError) -> Option<Arc<UnlockedKey>> {
        if !matches!(e, CredentialError::Source(SourceError::Unavailable { .. })) {
            return None;
        }
        let k = self.cache.get_within_max()?;
        tracing::warn!(
            credential = %self.name, error = %e,
            "passphrase source unavailable: serving the decrypted key until its hard TTL"
        );
        Some(k)
    }

    /// Records a failure (growing the backoff) and returns it as an error.
    fn fail(&self, e: CredentialError) -> Error {
        let e = Arc::new(e);
        if matches!(*e, CredentialError::Locked) {
            return self.error(&e);
        }
        let mut failure = lock_ignoring_poison(&self.last_failure);
        let next = Failure::after(failure.as_ref(), Arc::clone(&e));
        let wait = next.retry_at.saturating_duration_since(Instant::now());
        tracing::error!(
            credential = %self.name, error = %e, attempt = next.attempts,
            retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            "cannot decrypt the key"
        );
        {
            let mut st = lock_ignoring_poison(&self.source_status);
            st.last_error = Some((now_unix(), e.to_string()));
            st.next_retry_at = Some(now_unix() + i64::try_from(wait.as_secs()).unwrap_or(0) + 1);
        }
        *failure = Some(next);
        self.error(&e)
    }

    /// Whether the last fetch or decryption failed (and has not recovered).
    pub fn failing(&self) -> bool {
        lock_ignoring_poison(&self.last_failure).is_some()
    }

    /// Whether a failed credential's backoff has ended, so the daemon should
    /// try it again in the background.
    pub fn retry_due(&self) -> bool {
        self.loaded.is_ok()
            && !self.is_locked()
            && lock_ignoring_poison(&self.last_failure)
                .as_ref()
                .is_some_and(|f| Instant::now() >= f.retry_at)
    }

    /// The passphrase source's state, for `Status`.
    pub fn source_status(&self) -> SourceStatus {
        let mut st = lock_ignoring_poison(&self.source_status).clone();
        st.held = lock_ignoring_poison(&self.passphrase).is_some();
        st
    }

    /// Makes sure a passphrase is held when the key needs one, fetching it
    /// from the source on a blocking thread outside the CPU pool (a slow
    /// secret manager must not hold a crypto slot) under the fetch timeout.
    async fn ensure_passphrase(&self) -> Result<(), CredentialError> {
        let loaded = match &self.loaded {
            Ok(l) => l,
            Err(_) => return Ok(()),
        };
        if !loaded.key_file.needs_passphrase() || self.passphrase_held() {
            return Ok(());
        }
        let Some(src) = loaded.source.clone() else {
            return Ok(());
        };
        let desc = src.describe();
        let fetched = source::fetch(&src, self.fetch_timeout).await;
        crate::metrics::metrics().fetch(&self.name, src.kind(), fetched.is_ok());
        let pass = fetched?;
        if self.is_locked() {
            return Err(CredentialError::Locked);
        }
        let now = Instant::now();
        *lock_ignoring_poison(&self.passphrase) = Some(Held {
            pass: Arc::new(pass),
            fetched: now,
            used: now,
        });
        lock_ignoring_poison(&self.source_status).last_fetch_at = Some(now_unix());
        tracing::debug!(credential = %self.name, source = %desc, "passphrase fetched");
        Ok(())
    }

    /// Whether a passphrase is held and within its TTLs; an expired one is
    /// wiped here.
    fn passphrase_held(&self) -> bool {
        let mut held = lock_ignoring_poison(&self.passphrase);
        match &*held {
            Some(h) if self.passphrase_expired(h) => {
                *held = None;
                false
            }
            Some(_) => true,
            None => false,
        }
    }

    fn passphrase_expired(&self, h: &Held) -> bool {
        let (idle, max) = self.pass_ttl;
        idle.is_some_and(|t| h.used.elapsed() >= t) || max.is_some_and(|t| h.fetched.elapsed() >= t)
    }

    /// Wipes the held passphrase if its TTL ran out (the daemon's sweep).
    pub fn evict_expired_passphrase(&self) -> bool {
        let mut held = lock_ignoring_poison(&self.passphrase);
        if held.as_ref().is_some_and(|h| self.passphrase_expired(h)) {
            *held = None;
            return true;
        }
        false
    }

    /// Fetches the passphrase if not held, decrypts and checks the key.
    /// Blocking and CPU-heavy.
    fn decrypt_now(&self) -> Result<openssl::pkey::PKey<openssl::pkey::Private>, CredentialError> {
        let loaded = self
            .loaded
            .as_ref()
            .map_err(|e| CredentialError::CorruptKey {
                path: Default::default(),
                detail: e.to_string(),
            })?;
        let desc = loaded
            .source
            .as_ref()
            .map(|s| s.describe())
            .unwrap_or_default();
        // The passphrase is shared with this decryption, not held under the
        // lock during it: Lock takes the lock, drops the held one and
        // returns at once; the decryption's result is then discarded.
        let pass = {
            let mut held = lock_ignoring_poison(&self.passphrase);
            if self.is_locked() {
                return Err(CredentialError::Locked);
            }
            if loaded.key_file.needs_passphrase() && held.is_none() {
                // Wiped (TTL sweep) between the fetch and here: the next
                // attempt fetches again.
                return Err(CredentialError::Source(SourceError::Unavailable {
                    source_desc: desc,
                    reason: "the passphrase expired before it could be used; retrying".into(),
                }));
            }
            held.as_mut().map(|h| {
                h.used = Instant::now();
                Arc::clone(&h.pass)
            })
        };
        let result = loaded
            .key_file
            .decrypt(pass.as_deref(), &desc)
            .and_then(|d| loaded.facts.check_matches(&d.key).map(|()| d.key));
        if matches!(result, Err(CredentialError::WrongPassphrase { .. })) {
            // Fetch again next time: the source may have been corrected.
            let mut held = lock_ignoring_poison(&self.passphrase);
            if held
                .as_ref()
                .zip(pass.as_ref())
                .is_some_and(|(h, p)| Arc::ptr_eq(&h.pass, p))
            {
                *held = None;
            }
        }
        result
    }

    /// Drops the decrypted key if its TTL ran out. While the passphrase is
    /// not held, an idle key is kept until its hard TTL: a fresh one would
    /// need the source, and if the source is down this one keeps serving.
    pub fn evict_expired_key(&self) -> bool {
        let needs_source = self
            .loaded
            .as_ref()
            .is_ok_and(|l| l.key_file.needs_passphrase() && l.source.is_some());
        let keep = needs_source && lock_ignoring_poison(&self.passphrase).is_none();
        self.cache.evict_expired(keep)
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
    executables: crate::policy::Executables,
}

impl Registry {
    /// Loads every credential of `config` (blocking; broken ones are kept in
    /// their error state).
    pub fn load(config: &Config, env: &EnvVault) -> Self {
        Self::new(
            config
                .credentials
                .iter()
                .map(|(name, c)| Credential::load(name, c.clone(), &config.agent, env)),
        )
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
        let executables =
            crate::policy::Executables::resolve(by_name.values().flat_map(|c| &c.config.allow));
        Self {
            by_name,
            executables,
        }
    }

    /// The executables the allow rules name, as resolved.
    pub fn executables(&self) -> &crate::policy::Executables {
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
    pub fn select(&self, sel: &Selector, kid: Option<&str>) -> Result<Arc<Credential>, Error> {
        let kid_matches =
            |c: &Credential| kid.is_none_or(|k| c.facts().is_ok_and(|f| f.jwk.thumbprint() == k));
        match sel {
            Selector::Name(name) => {
                let c = self
                    .by_name
                    .get(name)
                    .ok_or_else(|| Error::UnknownCredential(name.clone()))?;
                if !kid_matches(c) {
                    return Err(Error::UnknownKid {
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
                    return Err(Error::UnknownClient(client_id.clone()));
                }
                let pinned: Vec<&Arc<Credential>> =
                    candidates.into_iter().filter(|c| kid_matches(c)).collect();
                let newest_usable = pinned
                    .iter()
                    .filter(|c| matches!(c.state(), State::Available { .. }))
                    .max_by_key(|c| c.facts().map(|f| f.not_before).unwrap_or(i64::MIN));
                match newest_usable.or(pinned.first()) {
                    Some(c) => Ok(Arc::clone(c)),
                    None => Err(Error::UnknownKid {
                        kid: kid.unwrap_or_default().to_owned(),
                        within: format!("client_id {client_id:?}"),
                    }),
                }
            }
        }
    }
}
