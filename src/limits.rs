//! Per-caller request rate limiting: a token bucket per uid, so one busy or
//! hostile caller cannot starve the others.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

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

impl Verdict {
    /// Whether the request may proceed.
    pub fn allowed(self) -> bool {
        self == Verdict::Allowed
    }
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
        assert!(verdicts[..20].iter().all(|v| v.allowed()), "the burst");
        assert_eq!(verdicts[20], Verdict::Refused, "the first refusal");
        assert!(verdicts[21..].iter().all(|v| *v == Verdict::RefusedAgain));
        assert!(
            rl.take_at(8, t0).allowed(),
            "other uids have their own bucket"
        );
        // 10/s: 250 ms later two more tokens, no more; then a new first refusal.
        let later = t0 + std::time::Duration::from_millis(250);
        assert!(rl.take_at(7, later).allowed() && rl.take_at(7, later).allowed());
        assert_eq!(rl.take_at(7, later), Verdict::Refused);
    }

    #[test]
    fn reconfigure_applies_at_once() {
        let rl = RateLimiter::new(1000, 1000);
        assert_eq!((0..50).filter(|_| rl.take(1).allowed()).count(), 50);
        rl.reconfigure(1, 5);
        // The bucket is capped to the new burst on its next refill.
        assert_eq!((0..50).filter(|_| rl.take(1).allowed()).count(), 5);
    }
}
