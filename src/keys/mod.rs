//! Key handles: the only code that touches private-key bytes.
//!
//! A [`KeyHandle`] is what the rest of the daemon holds instead of a key. It
//! signs a message under a [`SignatureScheme`], decrypts a ciphertext under
//! a [`Padding`] and, where the backend allows, exports the key; it never
//! hands out the key itself. Getting a key ready may need I/O (fetch a
//! passphrase, decrypt the key file; later: log in to a token), so it is
//! async ([`KeyHandle::ready`]); the operations of a ready key
//! ([`ReadyKey`]) are synchronous, so a TLS stack's client-certificate
//! signer can call them during a handshake.
//!
//! Backends implement [`Backend`]: [`software`] (decrypt-on-demand from an
//! encrypted key file with a TTL cache and optional shielding). A new
//! backend (a generated DPoP key, PKCS#11) is a new module here; no caller
//! changes.
//!
//! Signatures come out in the encoding the key's own algorithm defines:
//! RSA as the big-endian integer, Ed25519 as 64 bytes, and ECDSA as DER (as
//! TLS wants it); JOSE and HTTP signatures convert ECDSA to raw `R‖S`.

pub mod held;
pub mod memory;
mod openssl_ops;
pub mod pkcs11;
pub mod shared;
pub mod software;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

pub use crate::config::PaddingName as Padding;
use crate::secret::SecretBytes;
use crate::source::SourceError;
use crate::sys::fs::FileError;

/// A future a backend returns (dyn-compatible traits cannot return `impl
/// Future`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a signature is made. Each protocol's names map onto these: JOSE
/// PS256 is [`Self::RsaPssSha256`], RFC 9421 `rsa-pss-sha512` is
/// [`Self::RsaPssSha512`], cavage `rsa-sha256` is [`Self::RsaPkcs1Sha256`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureScheme {
    /// RSASSA-PSS, SHA-256, MGF1-SHA-256, salt 32 bytes.
    RsaPssSha256,
    /// RSASSA-PSS, SHA-512, MGF1-SHA-512, salt 64 bytes.
    RsaPssSha512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaPkcs1Sha256,
    /// ECDSA on P-256 with SHA-256; DER-encoded signature.
    EcdsaP256Sha256,
    /// Ed25519 (pure).
    Ed25519,
}

impl SignatureScheme {
    /// Whether one signature costs enough CPU (RSA: hundreds of µs) that it
    /// runs off the async workers.
    pub fn is_costly(self) -> bool {
        matches!(
            self,
            Self::RsaPssSha256 | Self::RsaPssSha512 | Self::RsaPkcs1Sha256
        )
    }
}

/// The kind of a key, from its public half.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA of this many bits.
    Rsa {
        /// Modulus size.
        bits: u32,
    },
    /// EC on P-256.
    EcP256,
    /// Ed25519.
    Ed25519,
}

impl KeyKind {
    /// Whether a key of this kind can sign under `scheme`.
    pub fn signs(self, scheme: SignatureScheme) -> bool {
        match self {
            KeyKind::Rsa { .. } => scheme.is_costly(),
            KeyKind::EcP256 => scheme == SignatureScheme::EcdsaP256Sha256,
            KeyKind::Ed25519 => scheme == SignatureScheme::Ed25519,
        }
    }

    /// A fresh key pair of this kind (held in memory, written encrypted by
    /// enroll); RSA with `bits`.
    pub fn generate(
        self,
    ) -> Result<openssl::pkey::PKey<openssl::pkey::Private>, openssl::error::ErrorStack> {
        use openssl::pkey::PKey;
        match self {
            KeyKind::EcP256 => {
                let group =
                    openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1)?;
                PKey::from_ec_key(openssl::ec::EcKey::generate(&group)?)
            }
            KeyKind::Ed25519 => PKey::generate_ed25519(),
            KeyKind::Rsa { bits } => PKey::from_rsa(openssl::rsa::Rsa::generate(bits)?),
        }
    }
}

/// Why a key cannot be used. Every message says what is wrong and what to
/// do; none contains secret material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The key file could not be read (missing, not a regular file, too large).
    #[error("{0}")]
    File(#[from] FileError),
    /// The key file is not a private key in a known format.
    #[error("key file {path} is not a readable private key ({detail})")]
    CorruptKey {
        /// The file.
        path: PathBuf,
        /// What was found, and OpenSSL's reason.
        detail: String,
    },
    /// The passphrase does not decrypt the key.
    #[error(
        "the passphrase from {source_desc} does not decrypt {path} ({detail}): \
         store the passphrase the platform issued with this key (if it is right, the file is damaged)"
    )]
    WrongPassphrase {
        /// The key file.
        path: PathBuf,
        /// The passphrase source.
        source_desc: String,
        /// OpenSSL's reason (`bad decrypt`, `mac verify failure`).
        detail: String,
    },
    /// A keystore cannot give the configured entry (no such alias, not a
    /// key entry, JCEKS, damaged); never names a password.
    #[error("keystore {path}: {message}")]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// What is wrong and how to fix it.
        message: String,
    },
    /// The key file is unencrypted and the config did not opt in.
    #[error(
        "key file {0} is not encrypted: encrypt it (openssl pkcs8 -topk8 -v2 aes256) or set \
         allow_plaintext_key = true"
    )]
    PlaintextNotAllowed(PathBuf),
    /// Key and certificate belong to different key pairs.
    #[error(
        "the private key does not match the certificate's public key: check that the .crt \
         belongs to this .key (kid of the certificate: {cert_kid})"
    )]
    Mismatch {
        /// The certificate key's thumbprint, to tell certificates apart.
        cert_kid: String,
    },
    /// The daemon was locked: no passphrase or key is held.
    #[error("locked: unlock with `fapi-agent unlock` (Admin.Unlock)")]
    Locked,
    /// The passphrase source failed.
    #[error("{0}")]
    Source(#[from] SourceError),
    /// The key cannot sign or decrypt that way.
    #[error("{0}")]
    Unsupported(String),
    /// The backend does not hand the key out (a hardware key, a DPoP key).
    #[error("{0}")]
    NotExtractable(String),
    /// An unexpected OpenSSL failure.
    #[error("OpenSSL failure: {0}")]
    Crypto(#[from] openssl::error::ErrorStack),
    /// A PKCS#11 module, token or key cannot be used.
    #[error("{0}")]
    Pkcs11(pkcs11::Pkcs11Error),
}

impl KeyError {
    /// Whether this is a passphrase source that is down or unreachable,
    /// or a token that is not inserted (which passes: retried in the
    /// background, UNAVAILABLE to callers).
    pub fn is_source_unavailable(&self) -> bool {
        matches!(
            self,
            KeyError::Source(SourceError::Unavailable { .. })
                | KeyError::Pkcs11(pkcs11::Pkcs11Error::Absent { .. })
        )
    }
}

/// The operations of a key that is ready. Synchronous and CPU-bound: run
/// costly ones (RSA) off the async workers ([`ReadyKey::sign_off_workers`]).
pub trait Operations: Send + Sync {
    /// Signs `message` (hashing it as `scheme` says).
    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError>;
    /// Decrypts `ciphertext` (RSA only).
    fn decrypt(&self, padding: Padding, ciphertext: &[u8]) -> Result<SecretBytes, KeyError>;
    /// The key as PKCS#8 PEM, encrypted under `passphrase` if given.
    fn export_pkcs8_pem(&self, passphrase: Option<&[u8]>) -> Result<SecretBytes, KeyError>;
    /// Whether every operation may block (a call into a hardware token),
    /// so that even a cheap scheme runs off the async workers.
    fn blocking(&self) -> bool {
        false
    }
}

/// A key ready for operations, shared cheaply.
#[derive(Clone)]
pub struct ReadyKey(Arc<dyn Operations>);

impl ReadyKey {
    /// Wraps a backend's ready key.
    pub fn new(ops: Arc<dyn Operations>) -> Self {
        Self(ops)
    }

    /// Signs `message`.
    pub fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.0.sign(scheme, message)
    }

    /// Signs `message`, on the CPU pool when the scheme is costly (RSA),
    /// inline otherwise (a hop would cost more than an ECDSA signature).
    pub async fn sign_off_workers(
        &self,
        scheme: SignatureScheme,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, KeyError> {
        if scheme.is_costly() || self.0.blocking() {
            let key = self.clone();
            crate::sys::cpu::run(move || key.sign(scheme, &message)).await
        } else {
            self.sign(scheme, &message)
        }
    }

    /// Signs `message` for a caller that cannot await (rustls' handshake
    /// signer): a costly scheme or a blocking backend first hands the
    /// async worker's other tasks over ([`crate::sys::cpu::block_here`]).
    pub fn sign_blocking_here(
        &self,
        scheme: SignatureScheme,
        message: &[u8],
    ) -> Result<Vec<u8>, KeyError> {
        if scheme.is_costly() || self.0.blocking() {
            crate::sys::cpu::block_here(|| self.sign(scheme, message))
        } else {
            self.sign(scheme, message)
        }
    }

    /// Decrypts `ciphertext`.
    pub fn decrypt(&self, padding: Padding, ciphertext: &[u8]) -> Result<SecretBytes, KeyError> {
        self.0.decrypt(padding, ciphertext)
    }

    /// The key as PKCS#8 PEM (encrypted under `passphrase` if given), where
    /// the backend allows it.
    pub fn export_pkcs8_pem(&self, passphrase: Option<&[u8]>) -> Result<SecretBytes, KeyError> {
        self.0.export_pkcs8_pem(passphrase)
    }
}

/// Why a key is being made ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A request will use it: keep it for the idle TTL.
    Use,
    /// The start-up or unlock check: prove it, then drop it unless used.
    Check,
}

/// A key backend's state, for credential state and events.
#[derive(Debug, Clone, Default)]
pub struct KeyStatus {
    /// Locked: nothing is held, nothing is fetched.
    pub locked: bool,
    /// The last failure to make the key ready, until one succeeds.
    pub failure: Option<Arc<KeyError>>,
    /// Whether the usable key is in memory now.
    pub key_held: bool,
}

/// Where a key lives and whether it can leave, for `ListCredentials` and
/// `Status` (public facts, never a secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendInfo {
    /// `software` or `pkcs11`.
    pub kind: &'static str,
    /// The key file (`PKCS#12 bundle …`, `keystore … alias …`), or the
    /// token and key object: what an operator looks for.
    pub location: String,
    /// The PKCS#11 module (empty for software keys).
    pub module: String,
    /// `PKCS#11 token "label"` (empty for software keys).
    pub token: String,
    /// Whether the daemon could export the key at all (`GetKeyMaterial`
    /// still needs `export = true`): never for a token key.
    pub extractable: bool,
    /// A token key's attributes, as its last login read them.
    pub token_flags: Option<pkcs11::KeyFlags>,
}

/// What a passphrase (or PIN) source looks like to operators (`Status`).
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

/// A place a private key lives, and how it is made ready.
pub trait Backend: Send + Sync {
    /// What the backend is.
    fn info(&self) -> BackendInfo;
    /// The key, ready for operations (decrypting or logging in first if
    /// needed, once however many callers ask together).
    fn ready(
        self: Arc<Self>,
        purpose: Purpose,
    ) -> BoxFuture<'static, Result<ReadyKey, Arc<KeyError>>>;
    /// Drops the key again if nothing but a [`Purpose::Check`] used it.
    fn release_if_unused(&self) {}
    /// Wipes every secret held; until [`Backend::unlock`] nothing is
    /// fetched or decrypted. Never waits on I/O.
    fn lock(&self);
    /// Ends a lock and proves the key usable again.
    fn unlock(self: Arc<Self>) -> BoxFuture<'static, Result<(), Arc<KeyError>>>;
    /// The state now.
    fn status(&self) -> KeyStatus;
    /// Once a second: drop what outlived its TTL; true when a failed key
    /// is due for a background retry.
    fn tick(&self) -> bool {
        false
    }
    /// The passphrase or PIN source's state.
    fn source_status(&self) -> SourceStatus {
        SourceStatus::default()
    }
}

/// The handle the rest of the daemon holds for a private key.
#[derive(Clone)]
pub struct KeyHandle {
    backend: Arc<dyn Backend>,
    kind: KeyKind,
}

impl KeyHandle {
    /// A handle for a key of `kind` in `backend`.
    pub fn new(backend: Arc<dyn Backend>, kind: KeyKind) -> Self {
        Self { backend, kind }
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// What the backend is.
    pub fn info(&self) -> BackendInfo {
        self.backend.info()
    }

    /// The key, ready for a request's operations.
    pub async fn ready(&self) -> Result<ReadyKey, Arc<KeyError>> {
        Arc::clone(&self.backend).ready(Purpose::Use).await
    }

    /// Proves the key usable (decrypts it, checks it against its
    /// certificate), then drops it unless a request started using it.
    pub async fn verify(&self) -> Result<(), Arc<KeyError>> {
        Arc::clone(&self.backend).ready(Purpose::Check).await?;
        self.backend.release_if_unused();
        Ok(())
    }

    /// Signs `message` under `scheme` (RSA off the async workers).
    pub async fn sign(
        &self,
        scheme: SignatureScheme,
        message: Vec<u8>,
    ) -> Result<Vec<u8>, Arc<KeyError>> {
        if !self.kind.signs(scheme) {
            return Err(Arc::new(KeyError::Unsupported(format!(
                "a {:?} key cannot sign with {scheme:?}",
                self.kind
            ))));
        }
        let key = self.ready().await?;
        key.sign_off_workers(scheme, message)
            .await
            .map_err(Arc::new)
    }

    /// Wipes what the backend holds (Lock).
    pub fn lock(&self) {
        self.backend.lock();
    }

    /// Ends a lock and proves the key again.
    pub async fn unlock(&self) -> Result<(), Arc<KeyError>> {
        Arc::clone(&self.backend).unlock().await
    }

    /// The backend's state.
    pub fn status(&self) -> KeyStatus {
        self.backend.status()
    }

    /// The once-a-second sweep; true when a background retry is due.
    pub fn tick(&self) -> bool {
        self.backend.tick()
    }

    /// The passphrase or PIN source's state.
    pub fn source_status(&self) -> SourceStatus {
        self.backend.source_status()
    }
}

impl KeyKind {
    /// The kind of `key`, if it is one the daemon uses.
    pub fn of<T: openssl::pkey::HasPublic>(key: &openssl::pkey::PKeyRef<T>) -> Option<Self> {
        use openssl::pkey::Id;
        match key.id() {
            Id::RSA => Some(KeyKind::Rsa { bits: key.bits() }),
            Id::EC => {
                let ec = key.ec_key().ok()?;
                (ec.group().curve_name() == Some(openssl::nid::Nid::X9_62_PRIME256V1))
                    .then_some(KeyKind::EcP256)
            }
            Id::ED25519 => Some(KeyKind::Ed25519),
            _ => None,
        }
    }
}
