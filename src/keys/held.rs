//! A secret fetched from a passphrase source and held under the passphrase
//! TTLs: a key file's passphrase (the software backend), a token's PIN
//! (PKCS#11). The value is shared (not copied) with an operation in
//! progress, so Lock can drop it at once: the last holder wipes it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::KeyError;
use crate::secret::Passphrase;
use crate::source::{self, FetchObserver, PassphraseSource};

/// The held value and its clock.
struct Held {
    value: Arc<Passphrase>,
    fetched: Instant,
    used: Instant,
}

/// One held secret with a sliding (`idle`) and a hard (`max`) lifetime;
/// `None` for either is forever.
pub struct HeldSecret {
    slot: Mutex<Option<Held>>,
    idle: Option<Duration>,
    max: Option<Duration>,
}

impl HeldSecret {
    /// Nothing held yet, with the lifetimes `(idle, max)`.
    pub fn new((idle, max): (Option<Duration>, Option<Duration>)) -> Self {
        Self {
            slot: Mutex::new(None),
            idle,
            max,
        }
    }

    fn slot(&self) -> MutexGuard<'_, Option<Held>> {
        // A panic while the lock was held cannot leave the Option half
        // written, so a poisoned lock is still sound to use.
        self.slot.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn expired(&self, h: &Held) -> bool {
        self.idle.is_some_and(|t| h.used.elapsed() >= t)
            || self.max.is_some_and(|t| h.fetched.elapsed() >= t)
    }

    /// Holds `value`, fetched now.
    pub fn put(&self, value: Passphrase) {
        let now = Instant::now();
        *self.slot() = Some(Held {
            value: Arc::new(value),
            fetched: now,
            used: now,
        });
    }

    /// Whether a value is held within its lifetimes; an expired one is
    /// wiped here.
    pub fn is_fresh(&self) -> bool {
        let mut slot = self.slot();
        if slot.as_ref().is_some_and(|h| self.expired(h)) {
            *slot = None;
        }
        slot.is_some()
    }

    /// Whether any value is held (for status and TTL decisions, after
    /// [`expire`](Self::expire) has run).
    pub fn is_held(&self) -> bool {
        self.slot().is_some()
    }

    /// The held value for an operation starting now (its idle clock
    /// restarts), or `None`.
    pub fn use_now(&self) -> Option<Arc<Passphrase>> {
        self.slot().as_mut().map(|h| {
            h.used = Instant::now();
            Arc::clone(&h.value)
        })
    }

    /// Wipes the held value if it is `value` (one the key or token
    /// rejected; a newer fetch is kept).
    pub fn wipe_if(&self, value: &Arc<Passphrase>) {
        let mut slot = self.slot();
        if slot.as_ref().is_some_and(|h| Arc::ptr_eq(&h.value, value)) {
            *slot = None;
        }
    }

    /// Drops the held value (the last operation sharing it wipes it).
    pub fn wipe(&self) {
        *self.slot() = None;
    }

    /// Wipes the value if past its lifetimes; whether it did.
    pub fn expire(&self) -> bool {
        let mut slot = self.slot();
        let expired = slot.as_ref().is_some_and(|h| self.expired(h));
        if expired {
            *slot = None;
        }
        expired
    }

    /// Fetches from `src` (within `timeout`, told to `observer` as
    /// `credential`'s) and holds the answer, unless `locked()` says a Lock
    /// came first or landed while the value was stored: then nothing stays
    /// held and the answer is [`KeyError::Locked`].
    pub async fn fetch(
        &self,
        src: &Arc<dyn PassphraseSource>,
        timeout: Duration,
        observer: Option<&dyn FetchObserver>,
        credential: &str,
        locked: impl Fn() -> bool,
    ) -> Result<(), KeyError> {
        let fetched = source::fetch(src, timeout).await;
        if let Some(o) = observer {
            o.fetched(credential, src.kind(), fetched.is_ok());
        }
        let value = fetched?;
        if locked() {
            return Err(KeyError::Locked);
        }
        self.put(value);
        // A Lock between the check above and the store would otherwise
        // leave this value held.
        if locked() {
            self.wipe();
            return Err(KeyError::Locked);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> Passphrase {
        Passphrase::from_slice(s.as_bytes()).unwrap()
    }

    #[test]
    fn lifetimes_and_wipes() {
        let forever = HeldSecret::new((None, None));
        assert!(!forever.is_fresh() && forever.use_now().is_none());
        forever.put(pass("one"));
        assert!(forever.is_fresh() && !forever.expire());
        let shared = forever.use_now().unwrap();
        forever.put(pass("two"));
        // A rejected older value does not wipe the newer one.
        forever.wipe_if(&shared);
        assert!(forever.is_held());
        forever.wipe_if(&forever.use_now().unwrap());
        assert!(!forever.is_held());

        let short = HeldSecret::new((Some(Duration::ZERO), None));
        short.put(pass("x"));
        assert!(short.expire() && !short.is_held());
        short.put(pass("y"));
        assert!(!short.is_fresh() && !short.is_held());
        let hard = HeldSecret::new((None, Some(Duration::ZERO)));
        hard.put(pass("z"));
        hard.use_now();
        assert!(hard.expire());
    }
}
