//! SPEC §11: failed client authentication is rate-limited per client and per source address.
//! Lookups borrow the caller's strings, so a successful request allocates nothing here.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::RwLock;

/// Failures allowed per client id within one window.
pub const MAX_FAILURES: u32 = 20;
/// Failures allowed per source address within one window: higher, because many clients may
/// share one address (a NAT, a load balancer), and one of them failing must not lock out all.
pub const MAX_FAILURES_PER_ADDRESS: u32 = 10 * MAX_FAILURES;
/// The window, in seconds.
pub const WINDOW_SECONDS: i64 = 60;

/// Failures in the current window: (window start, count).
type Windows<K> = HashMap<K, (i64, u32)>;

/// Counts failures per client id and per source address in fixed windows.
#[derive(Default)]
pub struct AuthLimiter {
    clients: RwLock<Windows<String>>,
    addresses: RwLock<Windows<IpAddr>>,
}

fn exhausted(entry: Option<&(i64, u32)>, limit: u32, now: i64) -> bool {
    entry.is_some_and(|(start, n)| now - start < WINDOW_SECONDS && *n >= limit)
}

fn count<K: std::hash::Hash + Eq>(map: &mut Windows<K>, key: K, now: i64) {
    if map.len() > 100_000 {
        map.retain(|_, (start, _)| now - *start < WINDOW_SECONDS);
    }
    let entry = map.entry(key).or_insert((now, 0));
    if now - entry.0 >= WINDOW_SECONDS {
        *entry = (now, 0);
    }
    entry.1 += 1;
}

impl AuthLimiter {
    /// Whether the client or the address has used up its failures in the current window.
    pub fn is_blocked(&self, client_id: &str, address: Option<IpAddr>, now: i64) -> bool {
        exhausted(self.clients.read().get(client_id), MAX_FAILURES, now)
            || address.is_some_and(|ip| {
                exhausted(
                    self.addresses.read().get(&ip),
                    MAX_FAILURES_PER_ADDRESS,
                    now,
                )
            })
    }

    /// Whether `key` alone has been counted `limit` times in the current window: for limits
    /// of their own, such as sign-ups per address.
    pub fn key_exhausted(&self, key: &str, limit: u32, now: i64) -> bool {
        exhausted(self.clients.read().get(key), limit, now)
    }

    /// Records one failure against the client and the address.
    pub fn record_failure(&self, client_id: &str, address: Option<IpAddr>, now: i64) {
        count(&mut self.clients.write(), client_id.to_owned(), now);
        if let Some(ip) = address {
            count(&mut self.addresses.write(), ip, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_the_limit_and_forgets_after_the_window() {
        let limiter = AuthLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(!limiter.is_blocked("x", Some(ip), 100));
            limiter.record_failure("x", Some(ip), 100);
        }
        assert!(limiter.is_blocked("x", None, 100));
        assert!(
            !limiter.is_blocked("another client", Some(ip), 100),
            "the address has room"
        );
        assert!(!limiter.is_blocked("x", Some(ip), 100 + WINDOW_SECONDS));
    }

    #[test]
    fn an_address_that_fails_for_many_clients_is_blocked() {
        let limiter = AuthLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for n in 0..MAX_FAILURES_PER_ADDRESS {
            limiter.record_failure(&format!("client {n}"), Some(ip), 100);
        }
        assert!(limiter.is_blocked("a fresh client", Some(ip), 100));
        assert!(!limiter.is_blocked("a fresh client", None, 100));
    }
}
