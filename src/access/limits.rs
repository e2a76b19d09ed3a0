//! Per-caller limits, so one busy or hostile caller cannot starve the
//! others: a request-rate token bucket per uid, and connection slots with a
//! cap per uid under the daemon-wide one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Connection slots: at most `total` connections, and at most `per_uid` of
/// them from one uid (connections whose caller is unknown share one count),
/// so a caller holding idle connections cannot lock the others out.
pub struct ConnectionSlots {
    total_limit: usize,
    per_uid_limit: usize,
    open: Arc<Mutex<OpenConnections>>,
}

/// The connections open now, in all and by uid (only uids with some).
#[derive(Default)]
struct OpenConnections {
    total: usize,
    by_uid: HashMap<Option<u32>, usize>,
}

/// One connection's slot, given back when the connection closes.
pub struct ConnectionSlot {
    uid: Option<u32>,
    open: Arc<Mutex<OpenConnections>>,
}

/// Why a connection was refused a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlotRefused {
    /// The daemon-wide cap.
    #[error("too many connections (max_connections = {0})")]
    Total(usize),
    /// The uid's cap.
    #[error("too many connections from this uid (max_connections_per_uid = {0})")]
    Uid(usize),
}

impl ConnectionSlots {
    /// Slots for `total` connections, `per_uid` of them per uid.
    pub fn new(total: usize, per_uid: usize) -> Self {
        Self {
            total_limit: total,
            per_uid_limit: per_uid,
            open: Arc::default(),
        }
    }

    /// A slot for a connection from `uid`, if both caps allow it.
    pub fn acquire(&self, uid: Option<u32>) -> Result<ConnectionSlot, SlotRefused> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if open.by_uid.get(&uid).copied().unwrap_or(0) >= self.per_uid_limit {
            return Err(SlotRefused::Uid(self.per_uid_limit));
        }
        if open.total >= self.total_limit {
            return Err(SlotRefused::Total(self.total_limit));
        }
        open.total += 1;
        *open.by_uid.entry(uid).or_default() += 1;
        Ok(ConnectionSlot {
            uid,
            open: Arc::clone(&self.open),
        })
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        open.total = open.total.saturating_sub(1);
        if let Some(n) = open.by_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                open.by_uid.remove(&self.uid);
            }
        }
    }
}

/// Token buckets by uid.
pub struct RateLimiter {
    state: Mutex<State>,
}

struct State {
    per_second: f64,
    burst: f64,
    /// Tokens, last refill, and whether the last request was refused.
    buckets: HashMap<u32, (f64, Instant, bool)>,
}

/// The outcome of [`RateLimiter::take`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the rate.
    Allowed,
    /// Over the rate, the first refusal since the uid was last served:
    /// worth an audit record. The ones after it are not, so a flood cannot
    /// fill the audit log.
    Refused,
    /// Over the rate again.
    RefusedAgain,
}

impl RateLimiter {
    /// `per_second` tokens refill each second, up to `burst`.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            state: Mutex::new(State {
                per_second: f64::from(per_second),
                burst: f64::from(burst.max(per_second)),
                buckets: HashMap::new(),
            }),
        }
    }

    /// New rate and burst (reload); buckets keep their tokens, capped.
    pub fn reconfigure(&self, per_second: u32, burst: u32) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.per_second = f64::from(per_second);
        st.burst = f64::from(burst.max(per_second));
    }

    /// Takes one token for `uid`, if its bucket has one.
    pub fn take(&self, uid: u32) -> Verdict {
        self.take_at(uid, Instant::now())
    }

    /// [`Self::take`] at a given instant (tests step time without sleeping).
    fn take_at(&self, uid: u32, now: Instant) -> Verdict {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (per_second, burst) = (st.per_second, st.burst);
        let (tokens, last, refusing) = st.buckets.entry(uid).or_insert((burst, now, false));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * per_second;
        *tokens = (*tokens + refill).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            *refusing = false;
            Verdict::Allowed
        } else if std::mem::replace(refusing, true) {
            Verdict::RefusedAgain
        } else {
            Verdict::Refused
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_uid() {
        let rl = RateLimiter::new(10, 20);
        let t0 = Instant::now();
        let verdicts: Vec<Verdict> = (0..50).map(|_| rl.take_at(7, t0)).collect();
        assert!(
            verdicts[..20].iter().all(|v| *v == Verdict::Allowed),
            "the burst"
        );
        assert_eq!(verdicts[20], Verdict::Refused, "the first refusal");
        assert!(verdicts[21..].iter().all(|v| *v == Verdict::RefusedAgain));
        assert!(
            rl.take_at(8, t0) == Verdict::Allowed,
            "other uids have their own bucket"
        );
        // 10/s: 250 ms later two more tokens, no more; then a new first refusal.
        let later = t0 + std::time::Duration::from_millis(250);
        assert!(
            rl.take_at(7, later) == Verdict::Allowed && rl.take_at(7, later) == Verdict::Allowed
        );
        assert_eq!(rl.take_at(7, later), Verdict::Refused);
    }

    #[test]
    fn connection_slots_cap_each_uid_and_the_total() {
        let slots = ConnectionSlots::new(5, 3);
        let a: Vec<_> = (0..3).map(|_| slots.acquire(Some(1)).unwrap()).collect();
        assert_eq!(slots.acquire(Some(1)).err(), Some(SlotRefused::Uid(3)));
        let b: Vec<_> = (0..2).map(|_| slots.acquire(Some(2)).unwrap()).collect();
        assert_eq!(slots.acquire(Some(3)).err(), Some(SlotRefused::Total(5)));
        drop(a);
        // Closing uid 1's connections frees both its own and total slots.
        assert!(slots.acquire(Some(2)).is_ok());
        let _c: Vec<_> = (0..3).map(|_| slots.acquire(None).unwrap()).collect();
        assert_eq!(slots.acquire(Some(4)).err(), Some(SlotRefused::Total(5)));
        drop(b);
        // Counts of uids with no connection (or only refused ones) go.
        let open = slots.open.lock().unwrap();
        assert_eq!(open.by_uid.keys().collect::<Vec<_>>(), [&None]);
        assert_eq!(open.total, 3);
    }

    #[test]
    fn reconfigure_applies_at_once() {
        let rl = RateLimiter::new(1000, 1000);
        assert_eq!(
            (0..50).filter(|_| rl.take(1) == Verdict::Allowed).count(),
            50
        );
        rl.reconfigure(1, 5);
        // The bucket is capped to the new burst on its next refill.
        assert_eq!(
            (0..50).filter(|_| rl.take(1) == Verdict::Allowed).count(),
            5
        );
    }
}
