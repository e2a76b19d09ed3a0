//! The PKCS#11 backend: the private key is an object on a token (an HSM, a
//! smart card, SoftHSM) and never leaves it; the daemon holds the user PIN
//! and a few logged-in sessions.
//!
//! - The module is loaded only if `[agent] pkcs11_modules` lists it, once
//!   per process ([`token::load_module`]).
//! - The PIN is fetched from its source when first needed and held like a
//!   passphrase (the same TTLs; Lock wipes it and logs out).
//! - A login proves the key: a signature over a random challenge must
//!   verify under the certificate's public key.
//! - A PIN the token rejected (CKR_PIN_INCORRECT) is never presented
//!   again: the next attempt fetches the PIN and logs in only if it
//!   changed, so neither callers nor the background retry can lock the PIN.
//! - Sessions are pooled; an operation that finds its session gone (token
//!   removed and reinserted, module restarted) resets the pool, logs in
//!   again with the held PIN and retries once.
//! - Every call runs on a blocking thread ([`Operations::blocking`]).

pub mod provision;
mod token;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cryptoki::context::Pkcs11;
use cryptoki::error::RvError;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use openssl::pkey::{PKey, Public};
use openssl::x509::X509;

pub use token::KeyFlags;

use super::held::HeldSecret;
use super::software::Settings;
use super::{
    Backend, BackendInfo, BoxFuture, KeyError, KeyKind, KeyStatus, Operations, Padding, Purpose,
    ReadyKey, SignatureScheme, SourceStatus,
};
use crate::config::{Pkcs11Config, Pkcs11Target};
use crate::now_unix;
use crate::secret::SecretBytes;
use crate::source::{FetchObserver, PassphraseSource, SourceError};
use crate::sys::cpu;

/// Idle sessions kept open for reuse; more may be open while busy.
const POOL_SIZE: usize = 4;

/// Backoff after a failed login, as for a failed decryption.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// Why a token key cannot be used. Messages name the module or token and
/// say what to change; none contains the PIN.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    /// The module is not on the allow-list.
    #[error(
        "PKCS#11 module {} is not allowed: add it to `pkcs11_modules` in [agent] if this \
         library is trusted to run inside the daemon",
        .0.display()
    )]
    NotAllowed(PathBuf),
    /// The module could not be loaded or initialised.
    #[error("cannot load PKCS#11 module {}: {detail}", module.display())]
    Module {
        /// The library.
        module: PathBuf,
        /// Why.
        detail: String,
    },
    /// No slot holds the token (not inserted, or the label or serial is
    /// wrong): a state that passes, retried in the background.
    #[error(
        "{token}: no slot holds it: insert the token, or check token_label/token_serial against \
         `pkcs11-tool --module MODULE -L` (retried in the background)"
    )]
    Absent {
        /// The token.
        token: String,
    },
    /// The token or an object on it is missing or misbehaves.
    #[error("{token}: {detail}")]
    Token {
        /// `PKCS#11 token "label"`.
        token: String,
        /// What is wrong and what to do.
        detail: String,
    },
    /// The token refused the PIN.
    #[error(
        "{token} rejected the PIN from {source_desc} (CKR_PIN_INCORRECT): store the token's \
         user PIN there; the same PIN is not tried again (the token may lock the PIN after a \
         few failed logins)"
    )]
    WrongPin {
        /// The token.
        token: String,
        /// The PIN source.
        source_desc: String,
    },
    /// The PIN is locked or expired on the token.
    #[error(
        "{token}: the user PIN is {state}: reset it with the SO PIN (pkcs11-tool --init-pin \
         --login --login-type so), then `fapi-agent unlock`"
    )]
    PinBlocked {
        /// The token.
        token: String,
        /// `locked (CKR_PIN_LOCKED)` or `expired (CKR_PIN_EXPIRED)`.
        state: &'static str,
    },
    /// The key cannot be exported.
    #[error(
        "the key of {token} stays on the token (CKA_EXTRACTABLE false{never}): it cannot be \
         exported; use Sign/DecryptSecret through the daemon, or enroll a software key if a \
         caller really needs key material"
    )]
    NotExtractable {
        /// The token.
        token: String,
        /// `, CKA_NEVER_EXTRACTABLE true` where so.
        never: &'static str,
    },
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
        let delay = BACKOFF_FIRST
            .saturating_mul(1 << attempts.saturating_sub(1).min(16))
            .min(BACKOFF_MAX);
        Self {
            error,
            attempts,
            retry_at: Instant::now() + delay,
        }
    }
}

/// The logged-in state: sessions and the key object.
#[derive(Default)]
struct Login {
    /// Idle sessions of this login.
    pool: Vec<Session>,
    /// The private key, found after login (`None`: not logged in).
    key: Option<ObjectHandle>,
    /// Bumped by every reset: a session of an older login is closed, not
    /// pooled.
    generation: u64,
    logged_in_at: Option<Instant>,
    last_used: Option<Instant>,
    /// Whether a request used this login (the start-up check does not).
    used: bool,
    /// The slot whose login this credential counts as holding.
    hold: Option<u64>,
}

/// A key on a PKCS#11 token.
pub struct Pkcs11Key {
    name: String,
    module: PathBuf,
    ctx: Pkcs11,
    target: Pkcs11Target,
    token: String,
    kind: KeyKind,
    expected: PKey<Public>,
    cert_kid: String,
    /// Whether `expected` is a certificate's key (a credential) or the
    /// token's own public-key object (a DPoP key): mismatches say which.
    certified: bool,
    source: Option<Arc<dyn PassphraseSource>>,
    settings: Settings,
    /// The PIN, held like a key file's passphrase.
    pin: HeldSecret,
    /// SHA-256 of the PIN the token last rejected: never presented again.
    rejected: Mutex<Option<[u8; 32]>>,
    login: Mutex<Login>,
    flags: Mutex<Option<KeyFlags>>,
    gate: tokio::sync::Mutex<()>,
    source_status: Mutex<SourceStatus>,
    last_failure: Mutex<Option<Failure>>,
    locked: AtomicBool,
    observer: Option<Arc<dyn FetchObserver>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded data are plain records, consistent even after a panic.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What loading a token credential finds: the backend, and the
/// certificate chain when it came from the token.
pub struct Loaded {
    /// The backend.
    pub key: Pkcs11Key,
    /// The certificate read from the token, when no file was configured.
    pub token_certificate: Option<X509>,
}

/// Checks `module` against the allow-list, comparing canonical paths (a
/// symlink to an allowed library is that library).
pub fn check_allowed(module: &Path, allowed: &[PathBuf]) -> Result<(), Pkcs11Error> {
    if crate::config::module_allowed(module, allowed) {
        Ok(())
    } else {
        Err(Pkcs11Error::NotAllowed(module.to_owned()))
    }
}

/// The certificate object on the token with the key's label or id, if
/// the token has one (read without logging in: certificates are public).
pub fn token_certificate(
    config: &Pkcs11Config,
    allowed: &[PathBuf],
) -> Result<Option<X509>, KeyError> {
    check_allowed(&config.module, allowed)?;
    let target = config.target().map_err(KeyError::Unsupported)?;
    let ctx = token::load_module(&config.module)?;
    let slot = token::find_slot_or_rescan(&config.module, &ctx, &target, "")?;
    let session = ctx.open_ro_session(slot).map_err(|e| Pkcs11Error::Token {
        token: target.token_desc(),
        detail: format!("cannot open a session: {}", token::reason(&e)),
    })?;
    let Some(handle) = token::find_one(&session, ObjectClass::CERTIFICATE, &target)? else {
        return Ok(None);
    };
    let der = session
        .get_attributes(handle, &[AttributeType::Value])
        .ok()
        .and_then(|a| {
            a.into_iter().find_map(|a| match a {
                Attribute::Value(v) => Some(v),
                _ => None,
            })
        })
        .ok_or_else(|| Pkcs11Error::Token {
            token: target.token_desc(),
            detail: format!("the certificate of {} has no CKA_VALUE", target.key_desc()),
        })?;
    X509::from_der(&der).map(Some).map_err(|e| {
        KeyError::Pkcs11(Pkcs11Error::Token {
            token: target.token_desc(),
            detail: format!(
                "the certificate object of {} is not DER X.509 ({e})",
                target.key_desc()
            ),
        })
    })
}

impl Pkcs11Key {
    /// The token key `config` names, whose public half must be `expected`
    /// (the certificate's key, thumbprint `cert_kid`). Loads the module
    /// (if allowed) and, when the token has a public-key object for the
    /// key, compares it with the certificate now; the login and the proof
    /// signature come with the first [`Backend::ready`]. Blocking.
    // Mirrors `SoftwareKey::new`: each argument is one thing the
    // credential gives its key.
    #[allow(clippy::too_many_arguments)]
    pub fn load(
        name: &str,
        config: &Pkcs11Config,
        allowed: &[PathBuf],
        source: Option<Arc<dyn PassphraseSource>>,
        expected: PKey<Public>,
        cert_kid: &str,
        settings: Settings,
        observer: Option<Arc<dyn FetchObserver>>,
    ) -> Result<Self, KeyError> {
        check_allowed(&config.module, allowed)?;
        let target = config.target().map_err(KeyError::Unsupported)?;
        let kind = KeyKind::of(&expected).ok_or_else(|| {
            KeyError::Unsupported("the certificate's key is of no supported kind".into())
        })?;
        let ctx = token::load_module(&config.module)?;
        let token = target.token_desc();
        let slot = token::find_slot_or_rescan(&config.module, &ctx, &target, name)?;
        let session = ctx.open_ro_session(slot).map_err(|e| Pkcs11Error::Token {
            token: token.clone(),
            detail: format!("cannot open a session: {}", token::reason(&e)),
        })?;
        if let Some(pubkey) = token::find_one(&session, ObjectClass::PUBLIC_KEY, &target)? {
            let public =
                token::public_key(&session, pubkey).map_err(|detail| Pkcs11Error::Token {
                    token: token.clone(),
                    detail: format!(
                        "cannot read the public key of {}: {detail}",
                        target.key_desc()
                    ),
                })?;
            if !public.public_eq(&expected) {
                return Err(KeyError::Mismatch {
                    cert_kid: cert_kid.to_owned(),
                });
            }
        }
        drop(session);
        let status = SourceStatus {
            kind: source
                .as_ref()
                .map(|s| s.kind().to_owned())
                .unwrap_or_default(),
            description: source.as_ref().map(|s| s.describe()).unwrap_or_default(),
            ..Default::default()
        };
        Ok(Self {
            name: name.to_owned(),
            module: config.module.clone(),
            ctx,
            token,
            target,
            kind,
            expected,
            cert_kid: cert_kid.to_owned(),
            certified: true,
            source,
            pin: HeldSecret::new(settings.pass_ttl),
            settings,
            rejected: Mutex::new(None),
            login: Mutex::new(Login::default()),
            flags: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
            source_status: Mutex::new(status),
            last_failure: Mutex::new(None),
            locked: AtomicBool::new(false),
            observer,
        })
    }

    /// A key with no certificate (a DPoP key): its public half is the
    /// token's public-key object with the key's label or id, read without
    /// logging in; the first login proves the private key against it.
    /// Returns the key and that public key. Blocking.
    pub fn load_with_token_public(
        name: &str,
        config: &Pkcs11Config,
        allowed: &[PathBuf],
        source: Option<Arc<dyn PassphraseSource>>,
        settings: Settings,
    ) -> Result<(Self, PKey<Public>), KeyError> {
        check_allowed(&config.module, allowed)?;
        let target = config.target().map_err(KeyError::Unsupported)?;
        let ctx = token::load_module(&config.module)?;
        let token = target.token_desc();
        let slot = token::find_slot(&ctx, &target)?;
        let session = ctx.open_ro_session(slot).map_err(|e| Pkcs11Error::Token {
            token: token.clone(),
            detail: format!("cannot open a session: {}", token::reason(&e)),
        })?;
        let handle =
            token::find_one(&session, ObjectClass::PUBLIC_KEY, &target)?.ok_or_else(|| {
                Pkcs11Error::Token {
                    token: token.clone(),
                    detail: format!(
                        "no public key object with {} (readable without login): a key without a \
                     certificate needs its public key on the token beside it (pkcs11-tool \
                     --keypairgen stores both; else --write-object PUB.der --type pubkey with \
                     the key's --id and --label)",
                        target.key_desc()
                    ),
                }
            })?;
        let public = token::public_key(&session, handle).map_err(|detail| Pkcs11Error::Token {
            token: token.clone(),
            detail: format!(
                "cannot read the public key of {}: {detail}",
                target.key_desc()
            ),
        })?;
        drop(session);
        let mut key = Self::load(
            name,
            config,
            allowed,
            source,
            public.clone(),
            "",
            settings,
            None,
        )?;
        key.certified = false;
        Ok((key, public))
    }

    /// The private key is not the one `expected` names.
    fn mismatch(&self) -> KeyError {
        if self.certified {
            KeyError::Mismatch {
                cert_kid: self.cert_kid.clone(),
            }
        } else {
            KeyError::Pkcs11(Pkcs11Error::Token {
                token: self.token.clone(),
                detail: format!(
                    "the private key object with {} does not match the public key object \
                     with the same label/id: give each key pair its own CKA_ID and label",
                    self.target.key_desc()
                ),
            })
        }
    }

    /// The key's flags as the last login read them.
    pub fn flags(&self) -> Option<KeyFlags> {
        *lock(&self.flags)
    }

    /// `PKCS#11 token "label"`.
    pub fn token(&self) -> &str {
        &self.token
    }

    fn is_locked(&self) -> bool {
        self.locked.load(Ordering::SeqCst)
    }

    fn logged_in(&self) -> bool {
        lock(&self.login).key.is_some()
    }

    fn token_error(&self, what: &str, e: &cryptoki::error::Error) -> KeyError {
        KeyError::Pkcs11(Pkcs11Error::Token {
            token: self.token.clone(),
            detail: format!("{what}: {}", token::reason(e)),
        })
    }

    async fn obtain(self: Arc<Self>, purpose: Purpose) -> Result<(), Arc<KeyError>> {
        if self.is_locked() {
            return Err(Arc::new(KeyError::Locked));
        }
        if self.touch(purpose) {
            return Ok(());
        }
        let _gate = self.gate.lock().await;
        if self.touch(purpose) {
            return Ok(());
        }
        if let Some(f) = &*lock(&self.last_failure)
            && Instant::now() < f.retry_at
        {
            return Err(Arc::clone(&f.error));
        }
        if let Err(e) = self.ensure_pin().await {
            return Err(self.fail(e));
        }
        let me = Arc::clone(&self);
        match cpu::run(move || me.login_now(purpose == Purpose::Use)).await {
            Ok(()) if self.is_locked() => {
                self.logout();
                Err(Arc::new(KeyError::Locked))
            }
            Ok(()) => {
                tracing::info!(credential = %self.name, token = %self.token, "logged in to the token");
                if lock(&self.last_failure).take().is_some() {
                    tracing::info!(credential = %self.name, "recovered");
                }
                lock(&self.source_status).next_retry_at = None;
                Ok(())
            }
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Whether the login is usable now; marks it used for a request.
    fn touch(&self, purpose: Purpose) -> bool {
        let mut l = lock(&self.login);
        if l.key.is_none() {
            return false;
        }
        l.last_used = Some(Instant::now());
        if purpose == Purpose::Use {
            l.used = true;
        }
        true
    }

    fn fail(&self, e: KeyError) -> Arc<KeyError> {
        let e = Arc::new(e);
        if matches!(*e, KeyError::Locked) {
            return e;
        }
        let mut failure = lock(&self.last_failure);
        let next = Failure::after(failure.as_ref(), Arc::clone(&e));
        let wait = next.retry_at.saturating_duration_since(Instant::now());
        tracing::error!(
            credential = %self.name, token = %self.token, error = %e, attempt = next.attempts,
            "cannot use the token key"
        );
        {
            let mut st = lock(&self.source_status);
            st.last_error = Some((now_unix(), e.to_string()));
            st.next_retry_at = Some(now_unix() + i64::try_from(wait.as_secs()).unwrap_or(0) + 1);
        }
        *failure = Some(next);
        e
    }

    async fn ensure_pin(&self) -> Result<(), KeyError> {
        if self.pin.is_fresh() {
            return Ok(());
        }
        let Some(src) = self.source.clone() else {
            return Err(KeyError::Source(SourceError::Refused {
                source_desc: "none".into(),
                reason: format!("{} needs a PIN source (pkcs11.pin)", self.token),
            }));
        };
        self.pin
            .fetch(
                &src,
                self.settings.fetch_timeout,
                self.observer.as_deref(),
                &self.name,
                || self.is_locked(),
            )
            .await?;
        lock(&self.source_status).last_fetch_at = Some(now_unix());
        Ok(())
    }

    fn source_desc(&self) -> String {
        self.source
            .as_ref()
            .map(|s| s.describe())
            .unwrap_or_default()
    }

    /// Logs in with the held PIN (unless the token rejected that PIN
    /// before), finds the key, reads its flags and proves it against the
    /// certificate. Blocking.
    fn login_now(&self, for_request: bool) -> Result<(), KeyError> {
        let pin = self.pin.use_now().ok_or_else(|| {
            KeyError::Source(SourceError::Unavailable {
                source_desc: self.source_desc(),
                reason: "the PIN expired before it could be used; retrying".into(),
            })
        })?;
        let digest = openssl::sha::sha256(pin.expose());
        if *lock(&self.rejected) == Some(digest) {
            // Fetch again next time: the source may have been corrected.
            self.pin.wipe();
            tracing::warn!(
                credential = %self.name, token = %self.token,
                "the PIN source still holds the PIN the token rejected: not presenting it \
                 (the token rejected this PIN before)"
            );
            return Err(KeyError::Pkcs11(Pkcs11Error::WrongPin {
                token: self.token.clone(),
                source_desc: self.source_desc(),
            }));
        }
        self.reset();
        let slot = token::find_slot_or_rescan(&self.module, &self.ctx, &self.target, &self.name)?;
        let session = self
            .ctx
            .open_ro_session(slot)
            .map_err(|e| self.token_error("cannot open a session", &e))?;
        let raw: cryptoki::types::RawAuthPin =
            secrecy::SecretBox::new(Box::new(pin.expose().to_vec()));
        drop(pin);
        // Login and the holder count change together, so that another
        // credential's logout cannot fall between them.
        let mut holders = token::holders();
        tracing::debug!(credential = %self.name, token = %self.token, "presenting the PIN to the token");
        let logged_in = match session.login_with_raw(UserType::User, &raw) {
            Ok(()) => Ok(()),
            Err(e) if token::rv(&e) == Some(RvError::UserAlreadyLoggedIn) => Ok(()),
            Err(e) => Err(e),
        };
        if logged_in.is_ok() {
            // Counted once however many of this key's threads logged in
            // again together after a lost session.
            let mut l = lock(&self.login);
            if l.hold.is_none() {
                *holders.entry((self.module.clone(), slot.id())).or_insert(0) += 1;
                l.hold = Some(slot.id());
            }
        }
        drop(holders);
        match logged_in {
            Ok(()) => {}
            Err(e) => match token::rv(&e) {
                Some(RvError::PinIncorrect) => {
                    *lock(&self.rejected) = Some(digest);
                    self.pin.wipe();
                    return Err(KeyError::Pkcs11(Pkcs11Error::WrongPin {
                        token: self.token.clone(),
                        source_desc: self.source_desc(),
                    }));
                }
                Some(RvError::PinLocked) => {
                    self.pin.wipe();
                    return Err(KeyError::Pkcs11(Pkcs11Error::PinBlocked {
                        token: self.token.clone(),
                        state: "locked (CKR_PIN_LOCKED)",
                    }));
                }
                Some(RvError::PinExpired) => {
                    self.pin.wipe();
                    return Err(KeyError::Pkcs11(Pkcs11Error::PinBlocked {
                        token: self.token.clone(),
                        state: "expired (CKR_PIN_EXPIRED)",
                    }));
                }
                _ => return Err(self.token_error("login failed", &e)),
            },
        }
        drop(raw);
        *lock(&self.rejected) = None;
        let r = self.after_login(session, for_request);
        if r.is_err() {
            self.logout();
        }
        r
    }

    /// Finds the key of a fresh login, reads its flags, proves it and
    /// pools the session.
    fn after_login(&self, session: Session, for_request: bool) -> Result<(), KeyError> {
        let key = token::find_one(&session, ObjectClass::PRIVATE_KEY, &self.target)?.ok_or_else(
            || {
                KeyError::Pkcs11(Pkcs11Error::Token {
                    token: self.token.clone(),
                    detail: format!(
                        "no private key object with {}: check key_label/key_id against \
                         `pkcs11-tool --module {} --login --list-objects --type privkey`",
                        self.target.key_desc(),
                        self.module.display()
                    ),
                })
            },
        )?;
        let (key_type, flags) = token::key_flags(&session, key)
            .map_err(|e| self.token_error("cannot read the key", &e))?;
        if key_type.is_some_and(|t| t != token::key_type_of(self.kind)) {
            return Err(self.mismatch());
        }
        *lock(&self.flags) = Some(flags);
        self.prove(&session, key)?;
        let mut l = lock(&self.login);
        l.key = Some(key);
        l.logged_in_at = Some(Instant::now());
        l.last_used = l.logged_in_at;
        l.used = for_request;
        l.pool.push(session);
        Ok(())
    }

    /// Signs a random challenge and verifies it under the certificate's
    /// key: the key on the token is the certificate's.
    fn prove(&self, session: &Session, key: ObjectHandle) -> Result<(), KeyError> {
        let scheme = match self.kind {
            KeyKind::Rsa { .. } => SignatureScheme::RsaPssSha256,
            KeyKind::EcP256 => SignatureScheme::EcdsaP256Sha256,
            KeyKind::Ed25519 => SignatureScheme::Ed25519,
        };
        let mut challenge = [0u8; 32];
        openssl::rand::rand_bytes(&mut challenge)?;
        let sig = token::sign(session, key, scheme, &challenge)
            .map_err(|e| self.token_error("the proof signature failed", &e))?
            .map_err(|detail| {
                KeyError::Pkcs11(Pkcs11Error::Token {
                    token: self.token.clone(),
                    detail,
                })
            })?;
        if verify(&self.expected, scheme, &challenge, &sig)? {
            Ok(())
        } else {
            Err(self.mismatch())
        }
    }

    /// Forgets the login after a lost session: the pool is closed and the
    /// key handle dropped; the token is not asked to log out.
    fn reset(&self) {
        self.forget(false);
    }

    /// Logs out (unless another credential on the same token is still
    /// logged in: PKCS#11 logins are per application and token) and closes
    /// the pool. These are calls into the token, made from Lock, the TTL
    /// sweep or a release on an async worker: it hands its other tasks
    /// over first.
    fn logout(&self) {
        crate::sys::cpu::block_here(|| self.forget(true));
    }

    fn forget(&self, logout: bool) {
        self.forget_if(logout, |_| true);
    }

    /// [`Self::forget`] if `now` holds of the login, judged under the same
    /// lock that ends it: a request that takes the login meanwhile is
    /// never logged out under it.
    fn forget_if(&self, logout: bool, now: impl FnOnce(&Login) -> bool) {
        let (pool, hold) = {
            let mut l = lock(&self.login);
            if !now(&l) {
                return;
            }
            l.key = None;
            l.logged_in_at = None;
            l.generation = l.generation.wrapping_add(1);
            (std::mem::take(&mut l.pool), l.hold.take())
        };
        let Some(slot) = hold else {
            return;
        };
        let mut holders = token::holders();
        let key = (self.module.clone(), slot);
        let left = holders.get_mut(&key).map_or(0, |n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left == 0 {
            holders.remove(&key);
        }
        if !logout {
            return;
        }
        if left > 0 {
            tracing::info!(
                credential = %self.name, token = %self.token, others = left,
                "released the token login (other credentials on the token still use it)"
            );
            return;
        }
        let result = match pool.first() {
            Some(s) => s.logout(),
            None => find_slot_session(&self.ctx, &self.target).and_then(|s| s.logout()),
        };
        if let Err(e) = result
            && token::rv(&e) != Some(RvError::UserNotLoggedIn)
        {
            tracing::warn!(credential = %self.name, token = %self.token, error = %token::reason(&e), "logout failed");
        }
        drop(pool);
        tracing::info!(credential = %self.name, token = %self.token, "logged out of the token");
    }

    /// Runs `op` on a pooled session of the current login. If the session
    /// turns out to be gone (token reinserted, module restarted), logs in
    /// again with the held PIN and runs `op` once more.
    fn with_session<T>(
        &self,
        what: &str,
        op: impl Fn(&Session, ObjectHandle) -> Result<T, cryptoki::error::Error>,
    ) -> Result<T, KeyError> {
        for attempt in 0..2 {
            if self.is_locked() {
                return Err(KeyError::Locked);
            }
            let (session, key, generation) = self.checkout()?;
            match op(&session, key) {
                Ok(v) => {
                    self.checkin(session, generation);
                    return Ok(v);
                }
                Err(e) if attempt == 0 && token::session_lost(&e) => {
                    tracing::warn!(
                        credential = %self.name, token = %self.token, error = %token::reason(&e),
                        "token session lost: opening new sessions and logging in again"
                    );
                    drop(session);
                    self.reset();
                    if self.is_locked() || !self.pin.is_fresh() {
                        return Err(self.token_error(
                            &format!("{what} failed; log in again on the next request"),
                            &e,
                        ));
                    }
                    self.login_now(true)?;
                    if self.is_locked() {
                        // Locked while logging in again: undo it.
                        self.logout();
                        return Err(KeyError::Locked);
                    }
                }
                Err(e) => {
                    self.checkin(session, generation);
                    return Err(self.token_error(&format!("{what} failed"), &e));
                }
            }
        }
        Err(KeyError::Pkcs11(Pkcs11Error::Token {
            token: self.token.clone(),
            detail: format!("{what} failed twice on fresh sessions"),
        }))
    }

    fn checkout(&self) -> Result<(Session, ObjectHandle, u64), KeyError> {
        let (pooled, key, generation) = {
            let mut l = lock(&self.login);
            let key = l.key.ok_or_else(|| {
                KeyError::Pkcs11(Pkcs11Error::Token {
                    token: self.token.clone(),
                    detail: "not logged in (the login ended); retry".into(),
                })
            })?;
            l.last_used = Some(Instant::now());
            (l.pool.pop(), key, l.generation)
        };
        let session = match pooled {
            Some(s) => s,
            None => find_slot_session(&self.ctx, &self.target)
                .map_err(|e| self.token_error("cannot open a session", &e))?,
        };
        Ok((session, key, generation))
    }

    fn checkin(&self, session: Session, generation: u64) {
        let mut l = lock(&self.login);
        if l.generation == generation && l.pool.len() < POOL_SIZE {
            l.pool.push(session);
        }
    }
}

/// Whether `sig` is `public`'s signature of `message` under `scheme`
/// (the contract's encodings: ECDSA as DER).
pub(crate) fn verify(
    public: &PKey<Public>,
    scheme: SignatureScheme,
    message: &[u8],
    sig: &[u8],
) -> Result<bool, openssl::error::ErrorStack> {
    use openssl::hash::MessageDigest;
    use openssl::rsa::Padding as RsaPadding;
    use openssl::sign::{RsaPssSaltlen, Verifier};
    match scheme {
        SignatureScheme::Ed25519 => {
            Verifier::new_without_digest(public)?.verify_oneshot(sig, message)
        }
        SignatureScheme::EcdsaP256Sha256 => {
            let mut v = Verifier::new(MessageDigest::sha256(), public)?;
            v.update(message)?;
            v.verify(sig)
        }
        SignatureScheme::RsaPkcs1Sha256 => {
            let mut v = Verifier::new(MessageDigest::sha256(), public)?;
            v.set_rsa_padding(RsaPadding::PKCS1)?;
            v.update(message)?;
            v.verify(sig)
        }
        SignatureScheme::RsaPssSha256 | SignatureScheme::RsaPssSha512 => {
            let md = if scheme == SignatureScheme::RsaPssSha256 {
                MessageDigest::sha256()
            } else {
                MessageDigest::sha512()
            };
            let mut v = Verifier::new(md, public)?;
            v.set_rsa_padding(RsaPadding::PKCS1_PSS)?;
            v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            v.set_rsa_mgf1_md(md)?;
            v.update(message)?;
            v.verify(sig)
        }
    }
}

impl Drop for Pkcs11Key {
    /// A credential replaced by a reload gives up its share of the login
    /// (without logging out: its successor may be using it) and closes its
    /// sessions.
    fn drop(&mut self) {
        self.forget(false);
    }
}

/// A new session on the token's slot.
fn find_slot_session(
    ctx: &Pkcs11,
    target: &Pkcs11Target,
) -> Result<Session, cryptoki::error::Error> {
    let slot = token::find_slot(ctx, target).map_err(|_| {
        cryptoki::error::Error::Pkcs11(
            RvError::TokenNotPresent,
            cryptoki::context::Function::OpenSession,
        )
    })?;
    ctx.open_ro_session(slot)
}

impl From<Pkcs11Error> for KeyError {
    fn from(e: Pkcs11Error) -> Self {
        KeyError::Pkcs11(e)
    }
}

/// The ready key: operations go to the token.
struct TokenOps(Arc<Pkcs11Key>);

impl Operations for TokenOps {
    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let k = &self.0;
        k.with_session("signing", |s, key| token::sign(s, key, scheme, message))?
            .map_err(|detail| {
                KeyError::Pkcs11(Pkcs11Error::Token {
                    token: k.token.clone(),
                    detail,
                })
            })
    }

    fn decrypt(&self, padding: Padding, ciphertext: &[u8]) -> Result<SecretBytes, KeyError> {
        if !matches!(self.0.kind, KeyKind::Rsa { .. }) {
            return Err(KeyError::Unsupported("only an RSA key decrypts".into()));
        }
        self.0
            .with_session("decryption", |s, key| {
                token::decrypt(s, key, padding, ciphertext)
            })
            .map(SecretBytes::new)
    }

    fn export_pkcs8_pem(&self, _passphrase: Option<&[u8]>) -> Result<SecretBytes, KeyError> {
        let flags = self.0.flags().unwrap_or_default();
        Err(KeyError::NotExtractable(
            Pkcs11Error::NotExtractable {
                token: self.0.token.clone(),
                never: if flags.never_extractable {
                    ", CKA_NEVER_EXTRACTABLE true"
                } else {
                    ""
                },
            }
            .to_string(),
        ))
    }

    fn blocking(&self) -> bool {
        true
    }
}

impl Backend for Pkcs11Key {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            kind: "pkcs11",
            location: format!("{}, {}", self.token, self.target.key_desc()),
            module: self.module.display().to_string(),
            token: self.token.clone(),
            // The daemon never exports a token key, whatever its flags.
            extractable: false,
            token_flags: self.flags(),
        }
    }

    fn ready(
        self: Arc<Self>,
        purpose: Purpose,
    ) -> BoxFuture<'static, Result<ReadyKey, Arc<KeyError>>> {
        Box::pin(async move {
            Arc::clone(&self).obtain(purpose).await?;
            Ok(ReadyKey::new(Arc::new(TokenOps(self))))
        })
    }

    fn release_if_unused(&self) {
        crate::sys::cpu::block_here(|| self.forget_if(true, |l| l.key.is_some() && !l.used));
    }

    fn lock(&self) {
        self.locked.store(true, Ordering::SeqCst);
        self.pin.wipe();
        if let Some(src) = &self.source {
            src.wipe();
        }
        self.logout();
        *lock(&self.last_failure) = None;
    }

    fn unlock(self: Arc<Self>) -> BoxFuture<'static, Result<(), Arc<KeyError>>> {
        Box::pin(async move {
            self.locked.store(false, Ordering::SeqCst);
            Arc::clone(&self).obtain(Purpose::Check).await?;
            self.release_if_unused();
            Ok(())
        })
    }

    fn status(&self) -> KeyStatus {
        KeyStatus {
            locked: self.is_locked(),
            failure: lock(&self.last_failure)
                .as_ref()
                .map(|f| Arc::clone(&f.error)),
            key_held: self.logged_in(),
        }
    }

    fn tick(&self) -> bool {
        if self.pin.expire() {
            tracing::debug!(credential = %self.name, "PIN wiped (TTL)");
        }
        // The login follows the key TTLs: idle (only while the PIN is held,
        // so a fresh login needs no source) and hard maximum.
        let (idle, max) = self.settings.key_ttl;
        let pin_held = self.pin.is_held();
        let expired = {
            let l = lock(&self.login);
            l.key.is_some()
                && (l.logged_in_at.is_some_and(|t| t.elapsed() >= max)
                    || (pin_held && l.last_used.is_some_and(|t| t.elapsed() >= idle)))
        };
        if expired {
            self.logout();
        }
        !self.is_locked()
            && lock(&self.last_failure)
                .as_ref()
                .is_some_and(|f| Instant::now() >= f.retry_at)
    }

    fn source_status(&self) -> SourceStatus {
        let mut st = lock(&self.source_status).clone();
        st.held = self.pin.is_held();
        let key = match self.flags() {
            Some(f) => format!(
                "CKA_EXTRACTABLE {}, CKA_NEVER_EXTRACTABLE {}",
                f.extractable, f.never_extractable
            ),
            None => "flags not read yet".into(),
        };
        // Status has no backend fields: the backend, token and key flags
        // go into this free-text description.
        st.description = format!(
            "PIN of {} (backend pkcs11, {}, {key}, key not exportable) from {}",
            self.token,
            self.target.key_desc(),
            st.description
        );
        st
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_compares_canonical_paths() {
        let dir = tempfile::tempdir().unwrap();
        let lib = dir.path().join("libtoken.so");
        std::fs::write(&lib, b"").unwrap();
        let link = dir.path().join("libtoken-link.so");
        std::os::unix::fs::symlink(&lib, &link).unwrap();
        assert!(check_allowed(&link, std::slice::from_ref(&lib)).is_ok());
        assert!(check_allowed(&lib, &[link]).is_ok());
        let e = check_allowed(&lib, &[dir.path().join("other.so")]).unwrap_err();
        assert!(e.to_string().contains("pkcs11_modules"), "{e}");
        assert!(check_allowed(&lib, &[]).is_err());
    }
}
