//! The time source, injectable so that expiry and key retirement are tested without sleeping.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of wall-clock time: token lifetimes, JWT `exp`/`nbf`/`iat` checks, key retirement.
///
/// Every b2b-auth part that reads the time takes a `Clock` (default [`SystemClock`]). Tests
/// inject a manual clock (`b2b-auth-testkit` has one) to move time without waiting.
///
/// ```
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
/// use b2b_auth_core::Clock;
///
/// #[derive(Debug)]
/// struct Fixed(SystemTime);
/// impl Clock for Fixed {
///     fn now(&self) -> SystemTime { self.0 }
/// }
/// let clock = Fixed(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// assert_eq!(clock.now().duration_since(UNIX_EPOCH)?.as_secs(), 1_700_000_000);
/// # Ok::<(), std::time::SystemTimeError>(())
/// ```
pub trait Clock: fmt::Debug + Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> SystemTime;
}

/// The operating system's clock. The default.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Seconds since the Unix epoch, as JWT `NumericDate`s are; times before 1970 count as 0.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// assert_eq!(b2b_auth_core::unix_secs(UNIX_EPOCH + Duration::from_millis(1_500)), 1);
/// assert_eq!(b2b_auth_core::unix_secs(UNIX_EPOCH - Duration::from_secs(1)), 0);
/// ```
pub fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
