//! The decrypted key of one credential, held for a sliding idle TTL under a
//! hard maximum, decrypted at most once by concurrent first requests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openssl::error::ErrorStack;
use openssl::pkey::{Id, PKey, Private};
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

use crate::keys::openssl_ops::{self, SigningKey};
use crate::keys::{KeyError, SignatureScheme};
use crate::secret::SecretBytes;
use crate::sys::mem::SecretPage;

/// How a decrypted key is held between operations.
enum Held {
    /// As an OpenSSL key (bignums in the secure heap), with its signing
    /// contexts.
    Plain(SigningKey),
    /// Sealed: its type-specific DER (PKCS#1, SEC1, or raw Ed25519) encrypted with AES-256-GCM under a random key
    /// in a locked page, unsealed for each operation (ssh-agent's shielding).
    /// Between operations no plaintext key bytes exist in the process.
    Sealed {
        id: Id,
        seal_key: Box<SecretPage>,
        iv: [u8; 12],
        tag: [u8; 16],
        sealed: Vec<u8>,
    },
}

/// A private key ready for one operation: borrowed from the cache, or
/// freshly unsealed and freed (wiped) when dropped.
pub enum OpenKey<'a> {
    /// Held plain.
    Borrowed(&'a PKey<Private>),
    /// Unsealed for this operation.
    Owned(PKey<Private>),
}

impl std::ops::Deref for OpenKey<'_> {
    type Target = PKey<Private>;
    fn deref(&self) -> &PKey<Private> {
        match self {
            OpenKey::Borrowed(k) => k,
            OpenKey::Owned(k) => k,
        }
    }
}

/// The key in the form that unseals fastest: OpenSSL 3's generic decoder
/// (`d2i_AutoPrivateKey`) costs hundreds of microseconds, the type-specific
/// DER parsers and raw Ed25519 bytes a few.
fn key_bytes(key: &PKey<Private>) -> Result<(Id, SecretBytes), ErrorStack> {
    Ok(match key.id() {
        Id::RSA => (Id::RSA, SecretBytes::new(key.rsa()?.private_key_to_der()?)),
        Id::EC => (
            Id::EC,
            SecretBytes::new(key.ec_key()?.private_key_to_der()?),
        ),
        id => (id, SecretBytes::new(key.raw_private_key()?)),
    })
}

fn key_from_bytes(id: Id, bytes: &[u8]) -> Result<PKey<Private>, ErrorStack> {
    match id {
        Id::RSA => PKey::from_rsa(openssl::rsa::Rsa::private_key_from_der(bytes)?),
        Id::EC => PKey::from_ec_key(openssl::ec::EcKey::private_key_from_der(bytes)?),
        id => PKey::private_key_from_raw_bytes(bytes, id),
    }
}

fn seal(key: &PKey<Private>) -> Result<Held, ErrorStack> {
    let (id, der) = key_bytes(key)?;
    let mut seal_key = SecretPage::new_boxed();
    openssl::rand::rand_bytes(&mut seal_key[..32])?;
    let mut iv = [0u8; 12];
    openssl::rand::rand_bytes(&mut iv)?;
    let mut tag = [0u8; 16];
    let sealed = encrypt_aead(
        Cipher::aes_256_gcm(),
        &seal_key[..32],
        Some(&iv),
        &[],
        der.expose(),
        &mut tag,
    )?;
    Ok(Held::Sealed {
        id,
        seal_key,
        iv,
        tag,
        sealed,
    })
}

/// A decrypted private key in use. OpenSSL frees (and, with the secure heap,
/// wipes) it when the last holder drops it.
pub struct UnlockedKey {
    held: Held,
    decrypted_at: Instant,
    /// Milliseconds after `decrypted_at` of the last use.
    last_used_ms: AtomicU64,
    /// Whether a request used it (the start-up check does not count).
    used: AtomicBool,
}

impl UnlockedKey {
    /// Signs with the key: a plain one through its prepared contexts, a
    /// shielded one unsealed for this signature only.
    pub fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        match &self.held {
            Held::Plain(k) => k.sign(scheme, message),
            Held::Sealed { .. } => {
                let key = self.open()?;
                openssl_ops::sign(&key, scheme, message)
            }
        }
    }

    /// The key for one operation (unsealed if shielded).
    pub fn open(&self) -> Result<OpenKey<'_>, ErrorStack> {
        match &self.held {
            Held::Plain(k) => Ok(OpenKey::Borrowed(k.key())),
            Held::Sealed {
                id,
                seal_key,
                iv,
                tag,
                sealed,
            } => {
                let der = SecretBytes::new(decrypt_aead(
                    Cipher::aes_256_gcm(),
                    &seal_key[..32],
                    Some(iv),
                    &[],
                    sealed,
                    tag,
                )?);
                Ok(OpenKey::Owned(key_from_bytes(*id, der.expose())?))
            }
        }
    }

    fn touch(&self, now: Instant) {
        let ms = now.saturating_duration_since(self.decrypted_at).as_millis();
        self.last_used_ms
            .fetch_max(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
        self.used.store(true, Ordering::Relaxed);
    }

    fn expired(&self, now: Instant, idle: Duration, max: Duration) -> bool {
        let age = now.saturating_duration_since(self.decrypted_at);
        let last_use = Duration::from_millis(self.last_used_ms.load(Ordering::Relaxed));
        age >= max || age.saturating_sub(last_use) >= idle
    }
}

/// The cache slot plus the gate that makes concurrent first requests
/// decrypt once.
pub struct KeyCache {
    slot: RwLock<Option<Arc<UnlockedKey>>>,
    /// Held while decrypting: later arrivals wait, then find the key.
    pub(super) gate: tokio::sync::Mutex<()>,
    idle: Duration,
    max: Duration,
}

impl KeyCache {
    /// An empty cache with the given idle and maximum lifetimes.
    pub fn new(idle: Duration, max: Duration) -> Self {
        Self {
            slot: RwLock::new(None),
            gate: tokio::sync::Mutex::new(()),
            idle,
            max,
        }
    }

    /// The key if it is held and fresh; marks it used.
    pub fn get(&self) -> Option<Arc<UnlockedKey>> {
        self.get_at(Instant::now())
    }

    /// [`Self::get`] at a given instant (tests step time without sleeping).
    fn get_at(&self, now: Instant) -> Option<Arc<UnlockedKey>> {
        let slot = self.slot.read().unwrap_or_else(|p| p.into_inner());
        let held = slot.as_ref()?;
        if held.expired(now, self.idle, self.max) {
            return None;
        }
        held.touch(now);
        Some(Arc::clone(held))
    }

    /// Stores a freshly decrypted key (sealed if `shield`) and returns it.
    pub fn put(
        &self,
        key: PKey<Private>,
        used: bool,
        shield: bool,
    ) -> Result<Arc<UnlockedKey>, ErrorStack> {
        let held = if shield {
            seal(&key)?
        } else {
            Held::Plain(SigningKey::new(key))
        };
        let unlocked = Arc::new(UnlockedKey {
            held,
            decrypted_at: Instant::now(),
            last_used_ms: AtomicU64::new(0),
            used: AtomicBool::new(used),
        });
        *self.slot.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&unlocked));
        Ok(unlocked)
    }

    /// Drops the key if no request has used it (after the start-up check),
    /// so keys are held only once something needs them.
    pub fn release_if_unused(&self) {
        let mut slot = self.slot.write().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|k| !k.used.load(Ordering::Relaxed))
        {
            *slot = None;
        }
    }

    /// The key even if idle too long, as long as its hard TTL has not
    /// passed: served while the passphrase source is down.
    pub fn get_within_max(&self) -> Option<Arc<UnlockedKey>> {
        self.get_within_max_at(Instant::now())
    }

    fn get_within_max_at(&self, now: Instant) -> Option<Arc<UnlockedKey>> {
        let slot = self.slot.read().unwrap_or_else(|p| p.into_inner());
        let held = slot.as_ref()?;
        if held.expired(now, Duration::MAX, self.max) {
            return None;
        }
        held.touch(now);
        Some(Arc::clone(held))
    }

    /// Drops the key if its TTL ran out; true if one was dropped. With
    /// `keep_until_max` only the hard TTL counts (the passphrase is no
    /// longer held, so dropping an idle key would need the source again).
    pub fn evict_expired(&self, keep_until_max: bool) -> bool {
        self.evict_expired_at(Instant::now(), keep_until_max)
    }

    fn evict_expired_at(&self, now: Instant, keep_until_max: bool) -> bool {
        let idle = if keep_until_max {
            Duration::MAX
        } else {
            self.idle
        };
        let mut slot = self.slot.write().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|k| k.expired(now, idle, self.max))
        {
            *slot = None;
            return true;
        }
        false
    }

    /// Drops the key now (lock). Requests already holding it finish first.
    pub fn clear(&self) {
        *self.slot.write().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Whether a key is held (fresh or not yet swept).
    pub fn is_held(&self) -> bool {
        self.slot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::nid::Nid;

    fn key() -> PKey<Private> {
        let g = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&g).unwrap()).unwrap()
    }

    // Time is stepped through `*_at`, not slept: a loaded CI machine can
    // oversleep any margin.
    #[test]
    fn idle_ttl_slides_and_max_ttl_caps() {
        let ms = Duration::from_millis;
        let cache = KeyCache::new(ms(200), ms(500));
        let t0 = cache.put(key(), true, false).unwrap().decrypted_at;
        // Used every 150 ms: the idle TTL keeps sliding past its 200 ms...
        for step in 1..=3 {
            assert!(cache.get_at(t0 + ms(150 * step)).is_some());
        }
        // ...199 ms after the last use still fresh...
        assert!(cache.get_at(t0 + ms(499)).is_some());
        // ...until the hard maximum, whatever the use.
        assert!(cache.get_at(t0 + ms(500)).is_none());
        assert!(cache.get_within_max_at(t0 + ms(500)).is_none());
        assert!(!cache.evict_expired_at(t0 + ms(499), true));
        assert!(cache.evict_expired_at(t0 + ms(500), true));
        assert!(!cache.is_held());
    }

    #[test]
    fn idle_key_expires() {
        let ms = Duration::from_millis;
        let cache = KeyCache::new(ms(50), Duration::from_secs(60));
        let t0 = cache.put(key(), true, false).unwrap().decrypted_at;
        assert!(!cache.evict_expired_at(t0 + ms(49), false));
        assert!(cache.get_at(t0 + ms(50)).is_none());
        // Kept for the hard TTL when asked (the passphrase is gone) ...
        assert!(!cache.evict_expired_at(t0 + ms(80), true));
        assert!(cache.get_within_max_at(t0 + ms(80)).is_some());
        // ... which counts as a use: idle again 50 ms later, then dropped.
        assert!(!cache.evict_expired_at(t0 + ms(129), false));
        assert!(cache.evict_expired_at(t0 + ms(130), false));
        assert!(!cache.is_held());
    }

    #[test]
    fn a_shielded_key_unseals_to_the_same_key() {
        let cache = KeyCache::new(Duration::from_secs(60), Duration::from_secs(60));
        let keys = [
            key(),
            PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap(),
            PKey::generate_ed25519().unwrap(),
        ];
        for k in keys {
            let public = k.public_key_to_der().unwrap();
            let held = cache.put(k, true, true).unwrap();
            assert!(matches!(held.held, Held::Sealed { .. }));
            for _ in 0..3 {
                let open = held.open().unwrap();
                assert!(matches!(open, OpenKey::Owned(_)));
                assert_eq!(open.public_key_to_der().unwrap(), public);
            }
        }
    }

    #[test]
    fn unused_startup_key_is_released() {
        let cache = KeyCache::new(Duration::from_secs(60), Duration::from_secs(60));
        cache.put(key(), false, false).unwrap();
        cache.release_if_unused();
        assert!(!cache.is_held());
        cache.put(key(), false, false).unwrap();
        assert!(cache.get().is_some());
        cache.release_if_unused();
        assert!(cache.is_held(), "a key a request used stays");
    }
}
