//! When to refresh a token and when to stop handing it out, and how long to wait after a
//! failure. Pure functions of durations, so they are tested exhaustively.

use std::time::Duration;

use crate::error::ConfigError;

/// When a token is refreshed and when it stops being handed out.
///
/// A token fetched at `sent` (the moment its request left) with lifetime `L` goes through:
/// - **fresh** until `refresh_at`: handed out, nothing else happens;
/// - **due** until `stale_at`: still handed out, while a background refresh replaces it;
/// - **stale** from `stale_at`: never handed out again — callers wait for the new token;
/// - expired at `sent + L`.
///
/// `refresh_at` is at [`fraction`](RefreshPolicy::fraction) of `L`, or
/// [`lead`](RefreshPolicy::lead) before expiry when that is earlier (but never before half of
/// `L`), moved earlier by up to [`jitter`](RefreshPolicy::jitter) of itself so that a fleet
/// does not refresh in lockstep. `stale_at` is [`margin`](RefreshPolicy::margin) before expiry
/// (at most a tenth of `L`), which covers clock skew and the time the token travels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefreshPolicy {
    fraction: f64,
    lead: Duration,
    jitter: f64,
    margin: Duration,
}

/// Offsets from the send time of a token.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Zones {
    pub(crate) refresh_after: Duration,
    pub(crate) stale_after: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            fraction: 0.8,
            lead: Duration::from_secs(300),
            jitter: 0.1,
            margin: Duration::from_secs(30),
        }
    }
}

impl RefreshPolicy {
    /// Refresh at this fraction of the lifetime. Default: 0.8. Must be in `(0, 1]`.
    pub fn fraction(mut self, fraction: f64) -> Self {
        self.fraction = fraction;
        self
    }

    /// Refresh this long before expiry when that is earlier than the fraction. Default: five
    /// minutes.
    pub fn lead(mut self, lead: Duration) -> Self {
        self.lead = lead;
        self
    }

    /// Move each refresh earlier by a random part of up to this fraction. Default: 0.1. Must be
    /// in `[0, 0.5]`.
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    /// Stop handing a token out this long before it expires (capped at a tenth of its
    /// lifetime). Default: 30 s.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if !(self.fraction > 0.0 && self.fraction <= 1.0) {
            return Err(ConfigError::OutOfRange {
                setting: "refresh fraction",
                reason: "must be in (0, 1]",
            });
        }
        if !(0.0..=0.5).contains(&self.jitter) {
            return Err(ConfigError::OutOfRange {
                setting: "refresh jitter",
                reason: "must be in [0, 0.5]",
            });
        }
        Ok(())
    }

    /// The zones of a token of `lifetime`; `random` in `[0, 1)` draws the jitter.
    pub(crate) fn zones(&self, lifetime: Duration, random: f64) -> Zones {
        let margin = self.margin.min(lifetime / 10);
        let stale_after = lifetime - margin;
        let by_fraction = lifetime.mul_f64(self.fraction);
        let by_lead = lifetime.saturating_sub(self.lead).max(lifetime / 2);
        let planned = by_fraction.min(by_lead).min(stale_after);
        let refresh_after =
            planned.saturating_sub(planned.mul_f64(self.jitter * random.clamp(0.0, 1.0)));
        Zones { refresh_after, stale_after }
    }
}

/// How long to wait before the next attempt after failures.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct Backoff {
    pub(crate) min: Duration,
    pub(crate) max: Duration,
}

impl Backoff {
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        if self.min.is_zero() || self.max < self.min {
            return Err(ConfigError::OutOfRange {
                setting: "backoff",
                reason: "needs 0 < min <= max",
            });
        }
        Ok(())
    }

    /// Exponential from `min`, doubling per consecutive failure up to `max`, with "equal
    /// jitter" (a random point in the upper half), and never shorter than the server's
    /// `Retry-After`.
    pub(crate) fn delay(
        &self,
        failures: u32,
        retry_after: Option<Duration>,
        random: f64,
    ) -> Duration {
        let exponent = failures.saturating_sub(1).min(31);
        let base = self.min.saturating_mul(1 << exponent).min(self.max);
        let jittered = base / 2 + (base / 2).mul_f64(random.clamp(0.0, 1.0));
        jittered.max(retry_after.unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn an_hour_token_refreshes_at_80_percent_and_goes_stale_30s_before_expiry() {
        let zones = RefreshPolicy::default().jitter(0.0).zones(HOUR, 0.5);
        assert_eq!(zones.refresh_after, Duration::from_secs(2880));
        assert_eq!(zones.stale_after, Duration::from_secs(3570));
    }

    #[test]
    fn the_lead_wins_when_it_is_earlier_but_never_before_half_the_lifetime() {
        let policy = RefreshPolicy::default().jitter(0.0);
        let ten_minutes = policy.zones(Duration::from_secs(600), 0.0);
        assert_eq!(ten_minutes.refresh_after, Duration::from_secs(300), "lead of 5 min");
        let two_minutes = policy.zones(Duration::from_secs(120), 0.0);
        assert_eq!(two_minutes.refresh_after, Duration::from_secs(60), "half, not zero");
        assert_eq!(two_minutes.stale_after, Duration::from_secs(108), "margin capped at 10 %");
    }

    #[test]
    fn jitter_only_moves_refreshes_earlier() {
        let policy = RefreshPolicy::default();
        let late = policy.zones(HOUR, 0.0).refresh_after;
        let early = policy.zones(HOUR, 0.999).refresh_after;
        assert_eq!(late, Duration::from_secs(2880));
        assert!(early < late && early >= Duration::from_secs(2592), "{early:?}");
    }

    #[test]
    fn invalid_policies_are_refused() {
        assert!(RefreshPolicy::default().fraction(0.0).check().is_err());
        assert!(RefreshPolicy::default().fraction(1.5).check().is_err());
        assert!(RefreshPolicy::default().fraction(f64::NAN).check().is_err());
        assert!(RefreshPolicy::default().jitter(0.6).check().is_err());
        assert!(RefreshPolicy::default().fraction(1.0).jitter(0.5).check().is_ok());
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap_and_honours_retry_after() {
        let backoff = Backoff { min: Duration::from_secs(1), max: Duration::from_secs(60) };
        assert_eq!(backoff.delay(1, None, 1.0), Duration::from_secs(1));
        assert_eq!(backoff.delay(1, None, 0.0), Duration::from_millis(500));
        assert_eq!(backoff.delay(4, None, 1.0), Duration::from_secs(8));
        assert_eq!(backoff.delay(40, None, 1.0), Duration::from_secs(60));
        assert_eq!(backoff.delay(1, Some(Duration::from_secs(30)), 0.0), Duration::from_secs(30));
        assert_eq!(backoff.delay(u32::MAX, None, 1.0), Duration::from_secs(60));
    }

    proptest! {
        #[test]
        fn zones_are_ordered_for_any_lifetime(
            lifetime_ms in 1u64..200_000_000,
            random in 0.0f64..1.0,
            fraction in 0.01f64..=1.0,
            jitter in 0.0f64..=0.5,
            lead_s in 0u64..10_000,
            margin_s in 0u64..1_000,
        ) {
            let lifetime = Duration::from_millis(lifetime_ms);
            let policy = RefreshPolicy::default()
                .fraction(fraction)
                .jitter(jitter)
                .lead(Duration::from_secs(lead_s))
                .margin(Duration::from_secs(margin_s));
            let zones = policy.zones(lifetime, random);
            prop_assert!(zones.refresh_after <= zones.stale_after);
            prop_assert!(zones.stale_after <= lifetime);
            prop_assert!(lifetime - zones.stale_after <= lifetime / 10 + Duration::from_nanos(1));
        }
    }
}
