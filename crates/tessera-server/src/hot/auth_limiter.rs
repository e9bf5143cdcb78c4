//! SPEC §11: failed client authentication is rate-limited per client and per source address.

use std::collections::HashMap;

use parking_lot::Mutex;

/// Failures allowed per key within one window.
pub const MAX_FAILURES: u32 = 20;
/// The window, in seconds.
pub const WINDOW_SECONDS: i64 = 60;

/// Counts failures per key (`client:<id>`, `ip:<addr>`) in fixed windows.
#[derive(Default)]
pub struct AuthLimiter(Mutex<HashMap<String, (i64, u32)>>);

impl AuthLimiter {
    /// Whether any of the keys has used up its failures in the current window.
    pub fn is_blocked(&self, keys: &[String], now_seconds: i64) -> bool {
        let map = self.0.lock();
        keys.iter().any(|k| {
            map.get(k).is_some_and(|(start, n)| {
                now_seconds - start < WINDOW_SECONDS && *n >= MAX_FAILURES
            })
        })
    }

    /// Records one failure against each key.
    pub fn record_failure(&self, keys: &[String], now_seconds: i64) {
        let mut map = self.0.lock();
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now_seconds - *start < WINDOW_SECONDS);
        }
        for key in keys {
            let entry = map.entry(key.clone()).or_insert((now_seconds, 0));
            if now_seconds - entry.0 >= WINDOW_SECONDS {
                *entry = (now_seconds, 0);
            }
            entry.1 += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_forgets_after_the_window() {
        let limiter = AuthLimiter::default();
        let keys = vec!["client:x".to_owned()];
        for _ in 0..MAX_FAILURES {
            assert!(!limiter.is_blocked(&keys, 100));
            limiter.record_failure(&keys, 100);
        }
        assert!(limiter.is_blocked(&keys, 100));
        assert!(!limiter.is_blocked(&["ip:1.2.3.4".to_owned()], 100));
        assert!(!limiter.is_blocked(&keys, 100 + WINDOW_SECONDS));
    }
}
