//! What the core needs from the world besides storage: the time and randomness. The core never
//! reads the system clock or the operating system's randomness itself; ids and secrets are
//! made from an [`Rng`] it is handed, so tests can fix both.

/// Milliseconds since the Unix epoch; every stored time is one.
pub type UnixMillis = i64;

/// The current time. The core never reads the system clock itself.
pub trait Clock: Send + Sync {
    /// Now, in milliseconds since the epoch.
    fn now_millis(&self) -> UnixMillis;
    /// Now, in seconds since the epoch.
    fn now_seconds(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }
}

/// A source of cryptographically secure random bytes.
pub trait Rng: Send + Sync {
    /// Fills `buf` with random bytes from a cryptographically secure source.
    fn fill(&self, buf: &mut [u8]);
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_millis(&self) -> UnixMillis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// Cryptographically secure randomness: a thread-local ChaCha12 generator seeded and
/// periodically reseeded from the operating system (rand's `ThreadRng`). It avoids a
/// `getrandom` system call for every token id on the hot path.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, buf: &mut [u8]) {
        use rand::RngCore;
        rand::thread_rng().fill_bytes(buf);
    }
}
