//! Fakes for tests (feature `testing`): a clock that says what the test says.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::model::UnixMillis;
use crate::ports::Clock;

/// A clock fixed at a given time, moved only by the test.
#[derive(Debug, Default)]
pub struct FixedClock(AtomicI64);

impl FixedClock {
    /// A clock that reads `millis` until moved.
    pub fn at(millis: UnixMillis) -> Self {
        FixedClock(AtomicI64::new(millis))
    }
    /// Moves the clock forward.
    pub fn advance_seconds(&self, seconds: i64) {
        self.0.fetch_add(seconds * 1000, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now_millis(&self) -> UnixMillis {
        self.0.load(Ordering::SeqCst)
    }
}
