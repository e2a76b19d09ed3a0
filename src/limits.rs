//! Per-caller request rate limiting: a token bucket per uid, so one busy or
//! hostile caller cannot starve the others.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets by uid.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<u32, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` tokens refill each second, up to `burst`.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(per_second)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `uid`; false if its bucket is empty.
    pub fn allow(&self, uid: u32) -> bool {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets.entry(uid).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.burst);
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
        let granted = (0..50).filter(|_| rl.allow(7)).count();
        assert_eq!(granted, 20, "the burst, no more");
        assert!(rl.allow(8), "other uids have their own bucket");
        std::thread::sleep(std::time::Duration::from_millis(220));
        assert!((1..=3).contains(&(0..10).filter(|_| rl.allow(7)).count()));
    }
}
