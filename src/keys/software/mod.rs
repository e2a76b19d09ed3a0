//! The software backend: a key in an encrypted file, its passphrase from a
//! source, decrypted on demand and held only for a sliding idle TTL under
//! a hard maximum.
//!
//! - The passphrase is fetched when first needed (on a thread of its own,
//!   under the fetch timeout) and held in a locked page for its own TTLs.
//! - The key is decrypted on the CPU pool, at most once however many
//!   requests arrive together, checked against its certificate's public
//!   key, and cached (`cache`), sealed in memory when shielded.
//! - After a failure, attempts within a backoff window get the recorded
//!   error; the daemon retries in the background when it ends.
//! - While the source is down, a key still within its hard TTL keeps
//!   serving.

mod cache;
mod file;
mod jks;
mod keystore;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use openssl::pkey::{PKey, PKeyRef, Private, Public};

pub use cache::{KeyCache, OpenKey, UnlockedKey};
pub(crate) use file::reasons;
pub use file::{Decrypted, KeyFile};
pub use keystore::{Keystore, PasswordPair, pack as pack_keystore_passwords};

use super::held::HeldSecret;
use super::{
    Backend, BackendInfo, BoxFuture, KeyError, KeyStatus, Operations, Padding, Purpose, ReadyKey,
    SignatureScheme, SourceStatus, openssl_ops,
};
use crate::now_unix;
use crate::secret::{Passphrase, SecretBytes};
use crate::source::{FetchObserver, PassphraseSource, SourceError};
use crate::sys::cpu;

/// After a failed fetch or decryption, attempts within a backoff window get
/// the recorded error instead of another (costly, or hanging) attempt: a
/// caller cannot turn a broken credential into a KDF-burning loop or a
/// flood on a secret manager. The window doubles per consecutive failure
/// from the first to the last value, with jitter; the daemon retries in the
/// background when it ends, so a credential recovers without traffic.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Reads a credential file (key, certificate, bundle) under the daemon's
/// size cap for such files.
pub fn read_file(path: &std::path::Path) -> Result<Vec<u8>, crate::sys::fs::FileError> {
    crate::sys::fs::read_capped(
        path,
        crate::sys::fs::MAX_CREDENTIAL_FILE_BYTES,
        "a key, certificate or PKCS#12 file",
    )
}

/// Checks that `key` is the private half of `public` (whose thumbprint,
/// `cert_kid`, names the certificate in the error).
pub fn check_matches(
    key: &PKeyRef<Private>,
    public: &PKeyRef<Public>,
    cert_kid: &str,
) -> Result<(), KeyError> {
    if key.public_eq(public) {
        Ok(())
    } else {
        Err(KeyError::Mismatch {
            cert_kid: cert_kid.to_owned(),
        })
    }
}

/// A recorded failure and when to try again.
struct Failure {
    error: Arc<KeyError>,
    attempts: u32,
    retry_at: Instant,
}

impl Failure {
    fn after(previous: Option<&Failure>, error: Arc<KeyError>) -> Self {
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

/// How a software key is held: the settings of `[agent]` and the
/// credential that apply to it.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Sliding and hard lifetime of a held passphrase (`None`: forever).
    pub pass_ttl: (Option<Duration>, Option<Duration>),
    /// Sliding and hard lifetime of the decrypted key.
    pub key_ttl: (Duration, Duration),
    /// How long one passphrase fetch may take.
    pub fetch_timeout: Duration,
    /// Keep the decrypted key sealed between operations.
    pub shielded: bool,
}

impl Settings {
    /// The `[agent]` TTLs and fetch timeout, for a key sealed between
    /// operations or not.
    pub fn from_agent(agent: &crate::config::AgentConfig, shielded: bool) -> Self {
        Self {
            pass_ttl: (
                agent.passphrase_idle_ttl_seconds.duration(),
                agent.passphrase_max_ttl_seconds.duration(),
            ),
            key_ttl: (
                Duration::from_secs(agent.key_idle_ttl_seconds),
                Duration::from_secs(agent.key_max_ttl_seconds),
            ),
            fetch_timeout: Duration::from_secs(agent.passphrase_fetch_timeout_seconds),
            shielded,
        }
    }
}

/// A key in an encrypted file, made usable on demand.
pub struct SoftwareKey {
    /// The credential's name, for logs and metrics.
    name: String,
    key_file: KeyFile,
    source: Option<Arc<dyn PassphraseSource>>,
    /// The certificate's public key, which every decrypted key must match.
    expected: PKey<Public>,
    cert_kid: String,
    settings: Settings,
    /// Shared with a decryption in progress, so Lock drops it at once.
    passphrase: HeldSecret,
    source_status: Mutex<SourceStatus>,
    cache: KeyCache,
    last_failure: Mutex<Option<Failure>>,
    /// While set, no passphrase or key is held and none is fetched.
    locked: AtomicBool,
    observer: Option<Arc<dyn FetchObserver>>,
}

fn lock_ignoring_poison<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind
    // (an Option or a status record): still consistent to read.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SoftwareKey {
    /// A key read from `key_file`, unlocked by `source`, that must match
    /// `expected` (the certificate's key, thumbprint `cert_kid`).
    pub fn new(
        name: &str,
        key_file: KeyFile,
        source: Option<Arc<dyn PassphraseSource>>,
        expected: PKey<Public>,
        cert_kid: &str,
        settings: Settings,
        observer: Option<Arc<dyn FetchObserver>>,
    ) -> Self {
        let status = SourceStatus {
            kind: source
                .as_ref()
                .map(|s| s.kind().to_owned())
                .unwrap_or_default(),
            description: source.as_ref().map(|s| s.describe()).unwrap_or_default(),
            ..Default::default()
        };
        Self {
            name: name.to_owned(),
            key_file,
            source,
            expected,
            cert_kid: cert_kid.to_owned(),
            cache: KeyCache::new(settings.key_ttl.0, settings.key_ttl.1),
            passphrase: HeldSecret::new(settings.pass_ttl),
            settings,
            source_status: Mutex::new(status),
            last_failure: Mutex::new(None),
            locked: AtomicBool::new(false),
            observer,
        }
    }

    /// Holds `pass`, fetched already (a PKCS#12 bundle is opened at load).
    pub fn with_passphrase(self, pass: Passphrase) -> Self {
        self.passphrase.put(pass);
        lock_ignoring_poison(&self.source_status).last_fetch_at = Some(now_unix());
        self
    }

    /// The key file.
    pub fn key_file(&self) -> &KeyFile {
        &self.key_file
    }

    fn is_locked(&self) -> bool {
        self.locked.load(Ordering::SeqCst)
    }

    async fn obtain(self: Arc<Self>, for_request: bool) -> Result<Arc<UnlockedKey>, Arc<KeyError>> {
        if self.is_locked() {
            return Err(Arc::new(KeyError::Locked));
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
                return Err(Arc::clone(&f.error));
            }
        }
        if let Err(e) = self.ensure_passphrase().await {
            let stale = self.stale_key_for(&e);
            let err = self.fail(e);
            return stale.ok_or(err);
        }
        let me = Arc::clone(&self);
        match cpu::run(move || me.decrypt_now()).await {
            Ok(_) if self.is_locked() => {
                // Locked while decrypting: the key is dropped here, unused.
                Err(Arc::new(KeyError::Locked))
            }
            Ok(key) => {
                tracing::info!(credential = %self.name, "key decrypted");
                if lock_ignoring_poison(&self.last_failure).take().is_some() {
                    tracing::info!(credential = %self.name, "recovered");
                }
                lock_ignoring_poison(&self.source_status).next_retry_at = None;
                let held = self
                    .cache
                    .put(key, for_request, self.settings.shielded)
                    .map_err(|e| Arc::new(KeyError::Crypto(e)))?;
                // Lock sets its flag before it clears: a Lock that cleared
                // before this put is seen here, and one that did not clear
                // yet will clear after it.
                if self.is_locked() {
                    self.cache.clear();
                    return Err(Arc::new(KeyError::Locked));
                }
                Ok(held)
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// While the passphrase source is unavailable, the decrypted key that
    /// is still within its hard TTL keeps serving.
    fn stale_key_for(&self, e: &KeyError) -> Option<Arc<UnlockedKey>> {
        if !e.is_source_unavailable() {
            return None;
        }
        let k = self.cache.get_within_max()?;
        tracing::warn!(
            credential = %self.name, error = %e,
            "passphrase source unavailable: serving the decrypted key until its hard TTL"
        );
        Some(k)
    }

    /// Records a failure (growing the backoff) and returns it.
    fn fail(&self, e: KeyError) -> Arc<KeyError> {
        let e = Arc::new(e);
        if matches!(*e, KeyError::Locked) {
            return e;
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
        e
    }

    /// Makes sure a passphrase is held when the key needs one, fetching it
    /// from the source (on a thread of its own, not a CPU slot) under the
    /// fetch timeout.
    async fn ensure_passphrase(&self) -> Result<(), KeyError> {
        if !self.key_file.needs_passphrase() || self.passphrase.is_fresh() {
            return Ok(());
        }
        let Some(src) = self.source.clone() else {
            return Ok(());
        };
        let desc = src.describe();
        self.passphrase
            .fetch(
                &src,
                self.settings.fetch_timeout,
                self.observer.as_deref(),
                &self.name,
                || self.is_locked(),
            )
            .await?;
        lock_ignoring_poison(&self.source_status).last_fetch_at = Some(now_unix());
        tracing::debug!(credential = %self.name, source = %desc, "passphrase fetched");
        Ok(())
    }

    /// Decrypts the key with the held passphrase and checks it. Blocking
    /// and CPU-heavy.
    fn decrypt_now(&self) -> Result<PKey<Private>, KeyError> {
        let desc = self
            .source
            .as_ref()
            .map(|s| s.describe())
            .unwrap_or_default();
        // The passphrase is shared with this decryption, not held under the
        // lock during it: Lock takes the lock, drops the held one and
        // returns at once; the decryption's result is then discarded.
        if self.is_locked() {
            return Err(KeyError::Locked);
        }
        let pass = self.passphrase.use_now();
        if self.key_file.needs_passphrase() && pass.is_none() {
            // Wiped (TTL sweep) between the fetch and here: the next
            // attempt fetches again.
            return Err(KeyError::Source(SourceError::Unavailable {
                source_desc: desc,
                reason: "the passphrase expired before it could be used; retrying".into(),
            }));
        }
        let result = self
            .key_file
            .decrypt(pass.as_deref(), &desc)
            .and_then(|d| check_matches(&d.key, &self.expected, &self.cert_kid).map(|()| d.key));
        if matches!(result, Err(KeyError::WrongPassphrase { .. })) {
            // Fetch again next time: the source may have been corrected.
            if let Some(p) = &pass {
                self.passphrase.wipe_if(p);
            }
        }
        result
    }
}

impl Backend for SoftwareKey {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "software",
            location: self.key_file.describe(),
            extractable: true,
            ..BackendInfo::default()
        }
    }

    fn ready(
        self: Arc<Self>,
        purpose: Purpose,
    ) -> BoxFuture<'static, Result<ReadyKey, Arc<KeyError>>> {
        Box::pin(async move {
            let key = self.obtain(purpose == Purpose::Use).await?;
            Ok(ReadyKey::new(key))
        })
    }

    fn release_if_unused(&self) {
        self.cache.release_if_unused();
    }

    fn lock(&self) {
        self.locked.store(true, Ordering::SeqCst);
        // A decryption in progress keeps its share of the passphrase until
        // it ends (then it is wiped); it sees the flag and discards its key.
        self.passphrase.wipe();
        if let Some(src) = &self.source {
            src.wipe();
        }
        self.cache.clear();
        *lock_ignoring_poison(&self.last_failure) = None;
    }

    fn unlock(self: Arc<Self>) -> BoxFuture<'static, Result<(), Arc<KeyError>>> {
        Box::pin(async move {
            self.locked.store(false, Ordering::SeqCst);
            Arc::clone(&self).obtain(false).await?;
            self.cache.release_if_unused();
            Ok(())
        })
    }

    fn status(&self) -> KeyStatus {
        KeyStatus {
            locked: self.is_locked(),
            failure: lock_ignoring_poison(&self.last_failure)
                .as_ref()
                .map(|f| Arc::clone(&f.error)),
            key_held: self.cache.is_held(),
        }
    }

    fn tick(&self) -> bool {
        // Passphrase first: a key whose passphrase is gone is kept until
        // its hard TTL (below).
        if self.passphrase.expire() {
            tracing::debug!(credential = %self.name, "passphrase wiped (TTL)");
        }
        // While the passphrase is not held, an idle key is kept until its
        // hard TTL: a fresh one would need the source, and if the source is
        // down this one keeps serving.
        let needs_source = self.key_file.needs_passphrase() && self.source.is_some();
        let keep = needs_source && !self.passphrase.is_held();
        if self.cache.evict_expired(keep) {
            tracing::debug!(credential = %self.name, "decrypted key dropped (TTL)");
        }
        !self.is_locked()
            && lock_ignoring_poison(&self.last_failure)
                .as_ref()
                .is_some_and(|f| Instant::now() >= f.retry_at)
    }

    fn source_status(&self) -> SourceStatus {
        let mut st = lock_ignoring_poison(&self.source_status).clone();
        st.held = self.passphrase.is_held();
        st
    }
}

impl Operations for UnlockedKey {
    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        UnlockedKey::sign(self, scheme, message)
    }

    fn decrypt(&self, padding: Padding, ciphertext: &[u8]) -> Result<SecretBytes, KeyError> {
        let key = self.open()?;
        openssl_ops::decrypt(&key, padding, ciphertext)
    }

    fn export_pkcs8_pem(&self, passphrase: Option<&[u8]>) -> Result<SecretBytes, KeyError> {
        let key = self.open()?;
        openssl_ops::export_pkcs8_pem(&key, passphrase)
    }
}
