//! The decrypted key of one credential, held for a sliding idle TTL under a
//! hard maximum, decrypted at most once by concurrent first requests.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openssl::pkey::{PKey, Private};

/// A decrypted private key in use. OpenSSL frees (and, with the secure heap,
/// wipes) it when the last holder drops it.
pub struct UnlockedKey {
    key: PKey<Private>,
    decrypted_at: Instant,
    /// Milliseconds after `decrypted_at` of the last use.
    last_used_ms: AtomicU64,
    /// Whether a request used it (the start-up check does not count).
    used: AtomicBool,
}

impl UnlockedKey {
    /// The key.
    pub fn key(&self) -> &PKey<Private> {
        &self.key
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
        let now = Instant::now();
        let slot = self.slot.read().unwrap_or_else(|p| p.into_inner());
        let held = slot.as_ref()?;
        if held.expired(now, self.idle, self.max) {
            return None;
        }
        held.touch(now);
        Some(Arc::clone(held))
    }

    /// Stores a freshly decrypted key and returns it.
    pub fn put(&self, key: PKey<Private>, used: bool) -> Arc<UnlockedKey> {
        let unlocked = Arc::new(UnlockedKey {
            key,
            decrypted_at: Instant::now(),
            last_used_ms: AtomicU64::new(0),
            used: AtomicBool::new(used),
        });
        *self.slot.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::clone(&unlocked));
        unlocked
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

    /// Drops the key if its TTL ran out; true if one was dropped.
    pub fn evict_expired(&self) -> bool {
        let now = Instant::now();
        let mut slot = self.slot.write().unwrap_or_else(|p| p.into_inner());
        if slot
            .as_ref()
            .is_some_and(|k| k.expired(now, self.idle, self.max))
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

    #[test]
    fn idle_ttl_slides_and_max_ttl_caps() {
        let cache = KeyCache::new(Duration::from_millis(200), Duration::from_millis(500));
        cache.put(key(), true);
        // Used every 100 ms: the idle TTL keeps sliding...
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(100));
            assert!(cache.get().is_some());
        }
        // ...until the hard maximum.
        std::thread::sleep(Duration::from_millis(250));
        assert!(cache.get().is_none());
        assert!(cache.evict_expired());
        assert!(!cache.is_held());
    }

    #[test]
    fn idle_key_expires() {
        let cache = KeyCache::new(Duration::from_millis(50), Duration::from_secs(60));
        cache.put(key(), true);
        std::thread::sleep(Duration::from_millis(80));
        assert!(cache.get().is_none());
    }

    #[test]
    fn unused_startup_key_is_released() {
        let cache = KeyCache::new(Duration::from_secs(60), Duration::from_secs(60));
        cache.put(key(), false);
        cache.release_if_unused();
        assert!(!cache.is_held());
        cache.put(key(), false);
        assert!(cache.get().is_some());
        cache.release_if_unused();
        assert!(cache.is_held(), "a key a request used stays");
    }
}
