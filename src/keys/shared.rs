//! Shared secrets that stay inside (docs/standards.md §10): a value a
//! platform encrypted to a credential's certificate (Akana's "HMAC Signature
//! with Shared Secret", "Hash/Digest with Shared Secret"), decrypted once
//! through the credential's key handle and kept in a locked, wiped page.
//!
//! The plaintext never leaves this module: callers get an HMAC or a
//! WS-Security `PasswordDigest` computed with it ([`SharedKey`]). Lock wipes
//! every held secret ([`SharedSecrets::wipe`]); the next use after Unlock
//! decrypts again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use openssl::hash::{Hasher, MessageDigest};
use openssl::pkey::PKey;
use openssl::sign::Signer;
use zeroize::Zeroize;

use super::{KeyError, KeyHandle, Padding};
use crate::config::SharedSecretConfig;
use crate::source::{self, EnvVault, PassphraseSource, SourceError};
use crate::sys::mem::SecretPage;

/// Largest encrypted value read from a file (a 16384-bit RSA ciphertext in
/// base64 with line breaks is under 3 KiB).
const MAX_ENCRYPTED_FILE_BYTES: u64 = 16 * 1024;

/// The hash function of an HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlg {
    /// HMAC-SHA-1 (RFC 2104), still what many platforms sign with.
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl MacAlg {
    fn digest(self) -> MessageDigest {
        match self {
            MacAlg::Sha1 => MessageDigest::sha1(),
            MacAlg::Sha256 => MessageDigest::sha256(),
            MacAlg::Sha512 => MessageDigest::sha512(),
        }
    }

    /// The name in logs and audit records (`HMAC-SHA256`).
    pub fn as_str(self) -> &'static str {
        match self {
            MacAlg::Sha1 => "HMAC-SHA1",
            MacAlg::Sha256 => "HMAC-SHA256",
            MacAlg::Sha512 => "HMAC-SHA512",
        }
    }
}

/// A decrypted shared secret in one locked, undumpable page, wiped on drop.
/// It offers computations only: no accessor returns its bytes.
pub struct SharedKey {
    page: Box<SecretPage>,
    len: usize,
}

impl SharedKey {
    /// Copies `bytes` into a fresh page; `None` if empty or over a page.
    fn from_slice(bytes: &[u8]) -> Option<Self> {
        let mut page = SecretPage::new_boxed();
        if bytes.is_empty() || bytes.len() > page.len() {
            return None;
        }
        page[..bytes.len()].copy_from_slice(bytes);
        Some(Self {
            page,
            len: bytes.len(),
        })
    }

    fn expose(&self) -> &[u8] {
        &self.page[..self.len]
    }

    /// HMAC of `message` under this secret. OpenSSL copies the key into
    /// its own allocations, which the daemon's wiping allocator clears when
    /// they are freed at the end of this call.
    pub fn hmac(&self, alg: MacAlg, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let key = PKey::hmac(self.expose())?;
        let mut signer = Signer::new(alg.digest(), &key)?;
        Ok(signer.sign_oneshot_to_vec(message)?)
    }

    /// WS-Security UsernameToken Profile 1.1 §3.1, with this secret as the
    /// password: `SHA-1(nonce ‖ created ‖ password)` (raw; the token carries
    /// it base64-encoded). The hash state lives in OpenSSL's (wiped) heap.
    pub fn password_digest(&self, nonce: &[u8], created: &str) -> Result<Vec<u8>, KeyError> {
        let mut h = Hasher::new(MessageDigest::sha1())?;
        h.update(nonce)?;
        h.update(created.as_bytes())?;
        h.update(self.expose())?;
        Ok(h.finish()?.to_vec())
    }
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedKey([REDACTED])")
    }
}

/// Why a shared secret cannot be used. Messages name the secret and what to
/// do; none contains the value or the ciphertext.
#[derive(Debug, thiserror::Error)]
pub enum SharedSecretError {
    /// No shared secret of that name on this credential.
    #[error("no shared secret named {name:?} is configured (configured: {known:?})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names configured.
        known: Vec<String>,
    },
    /// The encrypted value could not be read from its file.
    #[error("shared secret {name:?}: {reason}")]
    Unreadable {
        /// The secret.
        name: String,
        /// What went wrong and how to fix it.
        reason: String,
    },
    /// The source holding the encrypted value failed.
    #[error("shared secret {name:?}: {source}")]
    Source {
        /// The secret.
        name: String,
        /// The source's error.
        source: SourceError,
    },
    /// The value does not decrypt to a usable secret under the
    /// credential's key and the configured padding.
    #[error(
        "shared secret {name:?} could not be decrypted with the credential's key and padding \
         {padding:?}: check that the value was encrypted to this credential's certificate with \
         that padding (or fetch it again from the platform), then reload"
    )]
    Undecryptable {
        /// The secret.
        name: String,
        /// The configured padding.
        padding: Padding,
    },
    /// The credential's key is not ready (locked, source down, …).
    #[error("{0}")]
    Key(Arc<KeyError>),
}

/// Where a secret's encrypted value comes from.
enum Encrypted {
    File(PathBuf),
    Source(Arc<dyn PassphraseSource>),
}

/// One configured secret and its held plaintext.
struct Slot {
    encrypted: Encrypted,
    padding: Padding,
    max_message_bytes: usize,
    held: Mutex<Option<Arc<SharedKey>>>,
    /// One decryption at a time per secret: callers that arrive meanwhile
    /// wait for its answer.
    deriving: tokio::sync::Mutex<()>,
}

/// A credential's shared secrets, by name.
pub struct SharedSecrets {
    slots: BTreeMap<String, Slot>,
    /// Bumped by every [`Self::wipe`]: a decryption that started before a
    /// Lock never stores its result after it.
    epoch: AtomicU64,
    fetch_timeout: Duration,
}

impl SharedSecrets {
    /// The secrets `config` names (nothing is read or decrypted yet).
    pub fn new(
        config: &BTreeMap<String, SharedSecretConfig>,
        env: &EnvVault,
        fetch_timeout: Duration,
    ) -> Self {
        let slots = config
            .iter()
            .map(|(name, c)| {
                let encrypted = match (&c.file, &c.source) {
                    (Some(path), _) => Encrypted::File(path.clone()),
                    (None, Some(s)) => {
                        Encrypted::Source(source::from_config(s, env, fetch_timeout))
                    }
                    // Config validation requires one of them; an empty path
                    // fails to read with a message naming the secret.
                    (None, None) => Encrypted::File(PathBuf::new()),
                };
                let slot = Slot {
                    encrypted,
                    padding: c.padding,
                    max_message_bytes: c.max_message_bytes,
                    held: Mutex::new(None),
                    deriving: tokio::sync::Mutex::new(()),
                };
                (name.clone(), slot)
            })
            .collect();
        Self {
            slots,
            epoch: AtomicU64::new(0),
            fetch_timeout,
        }
    }

    /// Whether any secret is configured.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn slot(&self, name: &str) -> Result<&Slot, SharedSecretError> {
        self.slots
            .get(name)
            .ok_or_else(|| SharedSecretError::Unknown {
                name: name.to_owned(),
                known: self.slots.keys().cloned().collect(),
            })
    }

    /// The largest HMAC message the secret `name` takes.
    pub fn max_message_bytes(&self, name: &str) -> Result<usize, SharedSecretError> {
        self.slot(name).map(|s| s.max_message_bytes)
    }

    /// Whether the secret `name` is decrypted and held now.
    pub fn is_held(&self, name: &str) -> bool {
        self.slots
            .get(name)
            .is_some_and(|s| lock(&s.held).is_some())
    }

    /// The secret `name`, decrypted now with `key` if not held.
    pub async fn get(
        &self,
        name: &str,
        key: &KeyHandle,
    ) -> Result<Arc<SharedKey>, SharedSecretError> {
        let slot = self.slot(name)?;
        if let Some(k) = &*lock(&slot.held) {
            return Ok(Arc::clone(k));
        }
        let _one = slot.deriving.lock().await;
        if let Some(k) = &*lock(&slot.held) {
            return Ok(Arc::clone(k));
        }
        let epoch = self.epoch.load(Ordering::SeqCst);
        let derived = Arc::new(self.derive(name, slot, key).await?);
        self.store(slot, epoch, &derived);
        Ok(derived)
    }

    /// Decrypts every secret not held yet (start-up check, Unlock); each
    /// failure is logged with the secret's name and left for the next use
    /// to report.
    pub async fn derive_all(&self, credential: &str, key: &KeyHandle) {
        for name in self.slots.keys() {
            match self.get(name, key).await {
                Ok(_) => tracing::debug!(credential, secret = %name, "shared secret decrypted"),
                Err(e) => {
                    tracing::warn!(credential, secret = %name, error = %e, "shared secret unusable")
                }
            }
        }
    }

    /// Reads and decrypts again every secret whose value comes from a
    /// source (a reload that reuses the credential: a file's change is a
    /// change of the credential's fingerprint instead). A new value replaces
    /// the held one only once it decrypted; a failure keeps the old one.
    pub async fn refresh_sources(&self, credential: &str, key: &KeyHandle) -> Vec<String> {
        let mut errors = Vec::new();
        for (name, slot) in &self.slots {
            if !matches!(slot.encrypted, Encrypted::Source(_)) {
                continue;
            }
            let _one = slot.deriving.lock().await;
            let epoch = self.epoch.load(Ordering::SeqCst);
            match self.derive(name, slot, key).await {
                Ok(k) => {
                    self.store(slot, epoch, &Arc::new(k));
                    tracing::info!(credential, secret = %name, "shared secret read again");
                }
                Err(e) => {
                    tracing::error!(credential, secret = %name, error = %e, "reload: shared secret unusable, previous value (if any) keeps serving");
                    errors.push(format!("{credential}: {e}"));
                }
            }
        }
        errors
    }

    /// Wipes every held secret and its sources' own copies (Lock).
    pub fn wipe(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        for slot in self.slots.values() {
            *lock(&slot.held) = None;
            if let Encrypted::Source(src) = &slot.encrypted {
                src.wipe();
            }
        }
    }

    fn store(&self, slot: &Slot, epoch: u64, key: &Arc<SharedKey>) {
        let mut held = lock(&slot.held);
        // Checked under the slot's lock, which `wipe` takes after bumping
        // the epoch: either this store happens before the wipe clears it,
        // or it sees the new epoch and stores nothing.
        if self.epoch.load(Ordering::SeqCst) == epoch {
            *held = Some(Arc::clone(key));
        }
    }

    async fn derive(
        &self,
        name: &str,
        slot: &Slot,
        key: &KeyHandle,
    ) -> Result<SharedKey, SharedSecretError> {
        let ciphertext = self.read_encrypted(name, slot).await?;
        let ready = key.ready().await.map_err(SharedSecretError::Key)?;
        let padding = slot.padding;
        let plain = crate::sys::cpu::run(move || ready.decrypt(padding, &ciphertext)).await;
        let undecryptable = || SharedSecretError::Undecryptable {
            name: name.to_owned(),
            padding,
        };
        // The decrypted bytes (a `SecretBytes`) are wiped when dropped here.
        let plain = plain.map_err(|_| undecryptable())?;
        SharedKey::from_slice(plain.expose()).ok_or_else(undecryptable)
    }

    /// The ciphertext: base64 text (standard or URL-safe, padding optional,
    /// whitespace ignored) or, from a file, the raw bytes.
    async fn read_encrypted(&self, name: &str, slot: &Slot) -> Result<Vec<u8>, SharedSecretError> {
        let unreadable = |reason: String| SharedSecretError::Unreadable {
            name: name.to_owned(),
            reason,
        };
        match &slot.encrypted {
            Encrypted::File(path) => {
                let path = path.clone();
                let bytes = tokio::task::spawn_blocking(move || {
                    crate::sys::fs::read_capped(
                        &path,
                        MAX_ENCRYPTED_FILE_BYTES,
                        "an encrypted shared secret",
                    )
                })
                .await
                .map_err(|e| unreadable(format!("reader failed: {e}")))?
                .map_err(|e| unreadable(e.to_string()))?;
                Ok(decode_value(&bytes))
            }
            Encrypted::Source(src) => {
                let value = source::fetch(src, self.fetch_timeout)
                    .await
                    .map_err(|source| SharedSecretError::Source {
                        name: name.to_owned(),
                        source,
                    })?;
                let decoded = decode_value(value.expose());
                Ok(decoded)
            }
        }
    }
}

/// The ciphertext a value holds: its base64 decoding when it is base64
/// text, else the bytes as they are (a raw ciphertext in a file). A raw RSA
/// ciphertext made only of base64 characters is vanishingly unlikely.
fn decode_value(bytes: &[u8]) -> Vec<u8> {
    let mut compact: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    while compact.last() == Some(&b'=') {
        compact.pop();
    }
    let decoded = STANDARD_NO_PAD
        .decode(&compact)
        .or_else(|_| URL_SAFE_NO_PAD.decode(&compact));
    compact.zeroize();
    decoded.unwrap_or_else(|_| bytes.to_vec())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves an Option behind: still
    // consistent to read.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_case_2_and_ws_security_digest() {
        let k = SharedKey::from_slice(b"Jefe").unwrap();
        let mac = k
            .hmac(MacAlg::Sha256, b"what do ya want for nothing?")
            .unwrap();
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // `printf ncJefe | sha1sum`: nonce, then created, then the password.
        let d = k.password_digest(b"n", "c").unwrap();
        let hex: String = d.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "f52a0e60e59de46db5ddd9f35c7024951e7c9580");
    }

    #[test]
    fn values_decode_as_base64_or_stay_raw() {
        assert_eq!(decode_value(b"AAEC\n/w==\n"), vec![0, 1, 2, 255]);
        assert_eq!(decode_value(b"AAEC_w"), vec![0, 1, 2, 255]);
        assert_eq!(decode_value(&[0x80, 0x01]), vec![0x80, 0x01]);
    }

    #[test]
    fn debug_is_redacted() {
        let k = SharedKey::from_slice(b"topsecret").unwrap();
        assert!(!format!("{k:?}").contains("topsecret"));
        assert!(SharedKey::from_slice(b"").is_none());
    }
}
