//! A clock that moves only when the test says so.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall clock under the test's control. Clones share the same time.
///
/// ```
/// use std::time::Duration;
/// use b2b_auth_testkit::ManualClock;
///
/// let clock = ManualClock::at_unix(1_800_000_000);
/// let view = clock.clone();
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(view.unix_secs(), 1_800_000_061);
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: SystemTime) -> Self {
        Self { now: Arc::new(Mutex::new(start)) }
    }

    /// A clock standing at `secs` seconds after the Unix epoch.
    pub fn at_unix(secs: u64) -> Self {
        Self::new(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// A clock standing at the real current time.
    pub fn starting_now() -> Self {
        Self::new(SystemTime::now())
    }

    /// The clock's time.
    pub fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The clock's time in whole seconds since the Unix epoch.
    pub fn unix_secs(&self) -> u64 {
        self.now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) += by;
    }

    /// Sets the clock, forward or backward.
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl b2b_auth_core::Clock for ManualClock {
    fn now(&self) -> SystemTime {
        ManualClock::now(self)
    }
}
