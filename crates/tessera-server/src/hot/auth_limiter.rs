//! SPEC §11: failed authentication is limited per (source address, account) and per source
//! address — never per account alone. Wrong secrets from one address slow that address: the
//! account's owner elsewhere, or at an address that has not failed, is never refused. What the
//! limiter remembers is bounded whatever is sent: an account name is kept as 16 bytes (a
//! client id's UUID, or a hash of anything else), and the tables hold at most [`CAPACITY`]
//! windows each.

use std::collections::HashMap;
use std::net::IpAddr;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

/// Failures allowed per (address, account) within one window.
pub const MAX_FAILURES: u32 = 20;
/// Failures allowed per source address within one window, over all accounts: higher, because
/// many callers may share one address (a NAT, a load balancer).
pub const MAX_FAILURES_PER_ADDRESS: u32 = 10 * MAX_FAILURES;
/// The window, in seconds.
pub const WINDOW_SECONDS: i64 = 60;
/// The most windows each table remembers: ~100,000 × ~64 bytes, a few MiB at most. When it is
/// full of live windows, a new (address, account) pair is not remembered; the address's own
/// window still counts it, so a flood from one address is still stopped.
pub const CAPACITY: usize = 100_000;

/// What the limiter remembers of an account: 16 bytes, whatever was sent.
type Account = [u8; 16];

fn account(name: &str) -> Account {
    match uuid::Uuid::try_parse(name) {
        Ok(id) => *id.as_bytes(),
        Err(_) => {
            let digest = Sha256::digest(name.as_bytes());
            let mut out = [0u8; 16];
            out.copy_from_slice(&digest[..16]);
            out
        }
    }
}

/// Failures in the current window: (window start, count), and when expired windows were last
/// swept out. A full table is swept at most once a second, so a flood of new names costs a
/// lookup each, not a sweep each.
struct Windows<K> {
    map: HashMap<K, (i64, u32)>,
    swept_at: i64,
}

impl<K> Default for Windows<K> {
    fn default() -> Self {
        Windows {
            map: HashMap::new(),
            swept_at: i64::MIN,
        }
    }
}

/// Counts failures per (address, account) and per address in fixed windows.
#[derive(Default)]
pub struct AuthLimiter {
    pairs: RwLock<Windows<(Option<IpAddr>, Account)>>,
    addresses: RwLock<Windows<IpAddr>>,
}

fn exhausted(entry: Option<&(i64, u32)>, limit: u32, now: i64) -> bool {
    entry.is_some_and(|(start, n)| now - start < WINDOW_SECONDS && *n >= limit)
}

fn count<K: std::hash::Hash + Eq>(table: &mut Windows<K>, key: K, now: i64) {
    if table.map.len() >= CAPACITY && !table.map.contains_key(&key) {
        if table.swept_at < now {
            table
                .map
                .retain(|_, (start, _)| now - *start < WINDOW_SECONDS);
            table.swept_at = now;
        }
        if table.map.len() >= CAPACITY {
            return;
        }
    }
    let entry = table.map.entry(key).or_insert((now, 0));
    if now - entry.0 >= WINDOW_SECONDS {
        *entry = (now, 0);
    }
    entry.1 += 1;
}

impl AuthLimiter {
    /// Whether `address` has used up its failures for `name`, or for everything, in the
    /// current window.
    pub fn is_blocked(&self, name: &str, address: Option<IpAddr>, now: i64) -> bool {
        if self.pairs.read().map.is_empty() && self.addresses.read().map.is_empty() {
            return false;
        }
        self.key_exhausted_at(name, address, MAX_FAILURES, now)
            || address.is_some_and(|ip| {
                exhausted(
                    self.addresses.read().map.get(&ip),
                    MAX_FAILURES_PER_ADDRESS,
                    now,
                )
            })
    }

    /// Whether `name` from `address` has been counted `limit` times in the current window.
    fn key_exhausted_at(&self, name: &str, address: Option<IpAddr>, limit: u32, now: i64) -> bool {
        exhausted(
            self.pairs.read().map.get(&(address, account(name))),
            limit,
            now,
        )
    }

    /// Whether `key` alone has been counted `limit` times in the current window: for limits
    /// of their own, such as sign-ups per address (the key names the address).
    pub fn key_exhausted(&self, key: &str, limit: u32, now: i64) -> bool {
        self.key_exhausted_at(key, None, limit, now)
    }

    /// Records one failure of `name` from `address`, and one of the address.
    pub fn record_failure(&self, name: &str, address: Option<IpAddr>, now: i64) {
        count(&mut self.pairs.write(), (address, account(name)), now);
        if let Some(ip) = address {
            count(&mut self.addresses.write(), ip, now);
        }
    }

    /// How many windows are remembered (for tests and metrics).
    pub fn remembered(&self) -> usize {
        self.pairs.read().map.len() + self.addresses.read().map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_for_an_account_and_the_owner_elsewhere_is_not() {
        let limiter = AuthLimiter::default();
        let attacker: IpAddr = "192.0.2.1".parse().unwrap();
        let owner: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..MAX_FAILURES {
            assert!(!limiter.is_blocked("x", Some(attacker), 100));
            limiter.record_failure("x", Some(attacker), 100);
        }
        assert!(limiter.is_blocked("x", Some(attacker), 100));
        assert!(
            !limiter.is_blocked("x", Some(owner), 100),
            "the owner elsewhere"
        );
        assert!(
            !limiter.is_blocked("another client", Some(attacker), 100),
            "the address has room for others"
        );
        assert!(!limiter.is_blocked("x", Some(attacker), 100 + WINDOW_SECONDS));
    }

    #[test]
    fn an_address_that_fails_for_many_accounts_is_blocked() {
        let limiter = AuthLimiter::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for n in 0..MAX_FAILURES_PER_ADDRESS {
            limiter.record_failure(&format!("client {n}"), Some(ip), 100);
        }
        assert!(limiter.is_blocked("a fresh client", Some(ip), 100));
        assert!(!limiter.is_blocked("a fresh client", None, 100));
    }

    #[test]
    fn what_it_remembers_is_bounded_whatever_is_sent() {
        let limiter = AuthLimiter::default();
        let long = "x".repeat(1024);
        for n in 0..(CAPACITY + 5_000) {
            let ip = IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8]);
            limiter.record_failure(&format!("{long}{n}"), Some(ip), 100);
        }
        assert!(limiter.remembered() <= 2 * CAPACITY);
        // Once the windows have passed, room is made again.
        limiter.record_failure("late", None, 100 + WINDOW_SECONDS);
        assert!(limiter.remembered() < CAPACITY + 10);
    }
}
