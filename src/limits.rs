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
    buckets: HashMap<u32, (f64, Instant)>,
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

    /// Takes one token for `uid`; false if its bucket is empty.
    pub fn allow(&self, uid: u32) -> bool {
        self.allow_at(uid, Instant::now())
    }

    /// [`Self::allow`] at a given instant (tests step time without sleeping).
    fn allow_at(&self, uid: u32, now: Instant) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (per_second, burst) = (st.per_second, st.burst);
        let (tokens, last) = st.buckets.entry(uid).or_insert((burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * per_second;
        *tokens = (*tokens + refill).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
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
        let granted = (0..50).filter(|_| rl.allow_at(7, t0)).count();
        assert_eq!(granted, 20, "the burst, no more");
        assert!(rl.allow_at(8, t0), "other uids have their own bucket");
        // 10/s: 250 ms later two more tokens, no more.
        let later = t0 + std::time::Duration::from_millis(250);
        assert_eq!((0..10).filter(|_| rl.allow_at(7, later)).count(), 2);
    }

    #[test]
    fn reconfigure_applies_at_once() {
        let rl = RateLimiter::new(1000, 1000);
        assert_eq!((0..50).filter(|_| rl.allow(1)).count(), 50);
        rl.reconfigure(1, 5);
        // The bucket is capped to the new burst on its next refill.
        assert_eq!((0..50).filter(|_| rl.allow(1)).count(), 5);
    }
}
