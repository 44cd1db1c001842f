//! Usage plans: a throttle (steady rate and burst) and a quota per UTC calendar period, as in
//! API Gateway's usage plans.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ConfigError;

/// The longest a throttle's bucket may take to refill from empty (`interval × burst`): a
/// bound that keeps every time computation far from overflowing.
const MAX_THROTTLE_WINDOW: Duration = Duration::from_secs(366 * 86_400);

/// How fast one key may call: a token bucket refilled with one request every
/// [`interval`](Throttle::interval), holding at most [`max_burst`](Throttle::max_burst)
/// requests — API Gateway's `rateLimit` and `burstLimit`.
///
/// A key that has been idle may send `max_burst` requests at once; after that, one every
/// `interval`. A refused request waits (its `Retry-After`) until the next token.
///
/// ```
/// use std::time::Duration;
/// use b2b_auth_tower::api_key::Throttle;
///
/// let throttle = Throttle::per_second(50).burst(100);
/// assert_eq!(throttle.interval(), Duration::from_millis(20));
/// assert_eq!(throttle.max_burst(), 100);
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Throttle {
    interval: Duration,
    burst: u32,
}

impl Throttle {
    /// `requests` per second, with a burst of `requests` (change it with [`Throttle::burst`]).
    /// Zero is refused when the plan is built.
    pub fn per_second(requests: u32) -> Self {
        Self::per(requests, Duration::from_secs(1))
    }

    /// `requests` per minute, with a burst of `requests`.
    pub fn per_minute(requests: u32) -> Self {
        Self::per(requests, Duration::from_secs(60))
    }

    /// `requests` per hour, with a burst of `requests`.
    pub fn per_hour(requests: u32) -> Self {
        Self::per(requests, Duration::from_secs(3_600))
    }

    /// One request every `interval`, with a burst of one: for rates below one a second, or
    /// any rate not a whole number per second.
    pub fn with_interval(interval: Duration) -> Self {
        Self { interval, burst: 1 }
    }

    /// A rate in requests per second, as API Gateway's `rateLimit` (which may be fractional),
    /// with a burst of one.
    ///
    /// # Errors
    /// [`ConfigError::InvalidThrottle`] for a rate that is not a positive, finite number of
    /// at most one billion.
    pub fn from_rate(requests_per_second: f64) -> Result<Self, ConfigError> {
        if !(requests_per_second > 0.0 && requests_per_second <= 1e9) {
            return Err(ConfigError::InvalidThrottle);
        }
        let interval = Duration::try_from_secs_f64(1.0 / requests_per_second)
            .map_err(|_| ConfigError::InvalidThrottle)?;
        Ok(Self::with_interval(interval))
    }

    fn per(requests: u32, period: Duration) -> Self {
        match period.checked_div(requests) {
            Some(interval) => Self { interval, burst: requests },
            None => Self { interval: Duration::ZERO, burst: 0 },
        }
    }

    /// Sets the burst: how many requests an idle key may send at once. Default: the
    /// constructor's (`requests` for `per_*`, one otherwise). Zero is refused when the plan
    /// is built.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = burst;
        self
    }

    /// The time to earn one request.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The bucket's size.
    pub fn max_burst(&self) -> u32 {
        self.burst
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let window = self.interval.checked_mul(self.burst);
        if self.interval.is_zero()
            || self.burst == 0
            || window.is_none_or(|w| w > MAX_THROTTLE_WINDOW)
        {
            return Err(ConfigError::InvalidThrottle);
        }
        Ok(())
    }
}

/// A calendar period of a [`Quota`], in UTC.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(rename_all = "lowercase"))]
#[non_exhaustive]
pub enum Period {
    /// From 00:00 UTC to the next 00:00 UTC.
    Day,
    /// From Monday 00:00 UTC to the next Monday (ISO 8601 weeks).
    Week,
    /// From the first of the month, 00:00 UTC, to the first of the next.
    Month,
}

impl Period {
    /// A short name: `day`, `week` or `month` (also the configuration's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The period containing `unix_secs`: its first and its last-plus-one second.
    fn bounds(self, unix_secs: u64) -> (u64, u64) {
        const DAY: u64 = 86_400;
        let day = unix_secs / DAY;
        let (first, next) = match self {
            Self::Day => (day, day + 1),
            Self::Week => {
                // 1970-01-01 was a Thursday: day 0 is three days after a Monday. (The
                // week of 1970's first days starts in 1969: at 0 here.)
                let next_monday = day + 7 - (day + 3) % 7;
                (next_monday.saturating_sub(7), next_monday)
            }
            Self::Month => {
                let (year, month) = year_month(day);
                let (next_year, next_month) =
                    if month == 12 { (year + 1, 1) } else { (year, month + 1) };
                (first_of_month(year, month), first_of_month(next_year, next_month))
            }
        };
        (first.saturating_mul(DAY), next.saturating_mul(DAY))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The civil (proleptic Gregorian) year and month of a day counted from 1970-01-01.
/// Howard Hinnant's `civil_from_days`, on days that are never negative.
fn year_month(days: u64) -> (u64, u64) {
    let z = days + 719_468; // days since 0000-03-01
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_based_month = (5 * day_of_year + 2) / 153; // March = 0
    let month = if march_based_month < 10 { march_based_month + 3 } else { march_based_month - 9 };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month)
}

/// The day (counted from 1970-01-01) of the first of `month` in `year` (1970 or later).
/// Howard Hinnant's `days_from_civil`.
fn first_of_month(year: u64, month: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let year_of_era = year % 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era).saturating_sub(719_468)
}

/// How many requests one key may make per UTC calendar period (day, week or month) — API
/// Gateway's quota. The count restarts at each period's start; a refused request waits
/// (its `Retry-After`) until then.
///
/// ```
/// use b2b_auth_tower::api_key::{Period, Quota};
///
/// let quota = Quota::per_month(1_000_000);
/// assert_eq!((quota.limit(), quota.period()), (1_000_000, Period::Month));
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Quota {
    limit: u64,
    period: Period,
}

impl Quota {
    /// `limit` requests per `period`. Zero is refused when the plan is built.
    pub fn new(limit: u64, period: Period) -> Self {
        Self { limit, period }
    }

    /// `limit` requests per UTC day.
    pub fn per_day(limit: u64) -> Self {
        Self::new(limit, Period::Day)
    }

    /// `limit` requests per ISO week (from Monday 00:00 UTC).
    pub fn per_week(limit: u64) -> Self {
        Self::new(limit, Period::Week)
    }

    /// `limit` requests per calendar month (from the first, 00:00 UTC).
    pub fn per_month(limit: u64) -> Self {
        Self::new(limit, Period::Month)
    }

    /// The number of requests per period.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The period.
    pub fn period(&self) -> Period {
        self.period
    }

    /// The period containing `now`, with this quota's limit.
    pub fn window(&self, now: SystemTime) -> QuotaWindow {
        let (start, end) = self.period.bounds(b2b_auth_core::unix_secs(now));
        QuotaWindow { limit: self.limit, period: self.period, start, end }
    }
}

/// One period of a [`Quota`]: what a [`UsageStore`](super::UsageStore) counts requests in.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct QuotaWindow {
    limit: u64,
    period: Period,
    start: u64,
    end: u64,
}

impl QuotaWindow {
    /// The number of requests allowed in the window.
    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// The kind of period.
    pub fn period(&self) -> Period {
        self.period
    }

    /// The window's start, in seconds since the Unix epoch: it names the window (e.g. in a
    /// store's keys).
    pub fn start_unix_secs(&self) -> u64 {
        self.start
    }

    /// The window's end (the next window's start), in seconds since the Unix epoch.
    pub fn end_unix_secs(&self) -> u64 {
        self.end
    }

    /// The time from `now` until the window ends: the `Retry-After` of a request over quota.
    pub fn remaining(&self, now: SystemTime) -> Duration {
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        Duration::from_secs(self.end).saturating_sub(now)
    }
}

/// A usage plan: an optional [`Throttle`] and an optional [`Quota`], applied to each key of
/// the plan separately (two keys on one plan have a bucket and a count each). Cheap to clone.
///
/// ```
/// use b2b_auth_tower::api_key::{Quota, Throttle, UsagePlan};
///
/// let partners = UsagePlan::builder("partners")
///     .throttle(Throttle::per_second(50).burst(100))
///     .quota(Quota::per_day(100_000))
///     .build()?;
/// assert_eq!(partners.name(), "partners");
/// # Ok::<(), b2b_auth_tower::ConfigError>(())
/// ```
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct UsagePlan(Arc<PlanInner>);

#[derive(Debug, Eq, PartialEq)]
struct PlanInner {
    name: Box<str>,
    throttle: Option<Throttle>,
    quota: Option<Quota>,
}

impl UsagePlan {
    /// Starts configuring a plan named `name` (shown in logs).
    pub fn builder(name: impl Into<String>) -> UsagePlanBuilder {
        UsagePlanBuilder { name: name.into(), throttle: None, quota: None }
    }

    /// The plan's name.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The throttle, if any.
    pub fn throttle(&self) -> Option<Throttle> {
        self.0.throttle
    }

    /// The quota, if any.
    pub fn quota(&self) -> Option<Quota> {
        self.0.quota
    }
}

/// Configures a [`UsagePlan`]. Every setter documents its default.
#[derive(Clone, Debug)]
pub struct UsagePlanBuilder {
    name: String,
    throttle: Option<Throttle>,
    quota: Option<Quota>,
}

impl UsagePlanBuilder {
    /// Throttles each key of the plan. Default: no throttle.
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// Limits each key of the plan to a number of requests per period. Default: no quota.
    pub fn quota(mut self, quota: Quota) -> Self {
        self.quota = Some(quota);
        self
    }

    /// Builds the plan.
    ///
    /// # Errors
    /// [`ConfigError::EmptyPlanName`]; [`ConfigError::InvalidThrottle`] for a zero rate or
    /// burst, or a bucket taking more than a year to refill; [`ConfigError::InvalidQuota`]
    /// for a zero limit.
    pub fn build(self) -> Result<UsagePlan, ConfigError> {
        if self.name.is_empty() {
            return Err(ConfigError::EmptyPlanName);
        }
        if let Some(throttle) = &self.throttle {
            throttle.validate()?;
        }
        if self.quota.is_some_and(|q| q.limit == 0) {
            return Err(ConfigError::InvalidQuota);
        }
        Ok(UsagePlan(Arc::new(PlanInner {
            name: self.name.into(),
            throttle: self.throttle,
            quota: self.quota,
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(year: i32, month: u8, day: u8, h: u8, m: u8, s: u8) -> u64 {
        let month = time::Month::try_from(month).unwrap();
        let date = time::Date::from_calendar_date(year, month, day).unwrap();
        let at = date.with_hms(h, m, s).unwrap().assume_utc();
        u64::try_from(at.unix_timestamp()).unwrap()
    }

    #[test]
    fn periods_are_utc_calendar_periods() {
        let now = utc(2026, 11, 21, 15, 4, 5); // a Saturday
        assert_eq!(
            Period::Day.bounds(now),
            (utc(2026, 11, 21, 0, 0, 0), utc(2026, 11, 22, 0, 0, 0))
        );
        assert_eq!(
            Period::Week.bounds(now),
            (utc(2026, 11, 16, 0, 0, 0), utc(2026, 11, 23, 0, 0, 0)),
            "weeks start on Monday"
        );
        assert_eq!(
            Period::Month.bounds(now),
            (utc(2026, 11, 1, 0, 0, 0), utc(2026, 12, 1, 0, 0, 0))
        );
        // Edges: the last second of a period belongs to it, the next one starts the next.
        let new_year = utc(2027, 1, 1, 0, 0, 0);
        assert_eq!(Period::Month.bounds(new_year - 1), (utc(2026, 12, 1, 0, 0, 0), new_year));
        assert_eq!(Period::Month.bounds(new_year).0, new_year);
        assert_eq!(
            Period::Month.bounds(utc(2028, 2, 29, 23, 59, 59)),
            (utc(2028, 2, 1, 0, 0, 0), utc(2028, 3, 1, 0, 0, 0)),
            "leap February"
        );
        let monday = utc(2026, 11, 23, 0, 0, 0);
        assert_eq!(Period::Week.bounds(monday - 1).1, monday);
        assert_eq!(Period::Week.bounds(monday).0, monday);
        // The first days of 1970 (before its first Monday) do not underflow.
        assert_eq!(Period::Week.bounds(0), (0, 4 * 86_400));
    }

    proptest! {
        #[test]
        fn month_and_week_bounds_match_the_time_crate(secs in 0u64..253_402_300_799) {
            let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(secs).unwrap()).unwrap();
            let first = at.date().replace_day(1).unwrap();
            let next = if at.month() == time::Month::December {
                time::Date::from_calendar_date(at.year() + 1, time::Month::January, 1).unwrap()
            } else {
                time::Date::from_calendar_date(at.year(), at.month().next(), 1).unwrap()
            };
            let midnight = |d: time::Date| u64::try_from(d.midnight().assume_utc().unix_timestamp()).unwrap();
            prop_assert_eq!(Period::Month.bounds(secs), (midnight(first), midnight(next)));

            let (start, end) = Period::Week.bounds(secs);
            let start_date = time::OffsetDateTime::from_unix_timestamp(i64::try_from(start).unwrap()).unwrap();
            prop_assume!(secs >= 4 * 86_400); // 1970's first days belong to a week begun in 1969
            prop_assert_eq!(start_date.weekday(), time::Weekday::Monday);
            prop_assert_eq!(start_date.time(), time::Time::MIDNIGHT);
            prop_assert!(start <= secs && secs < end && end - start == 7 * 86_400);
        }
    }

    #[test]
    fn far_future_times_do_not_overflow() {
        for period in [Period::Day, Period::Week, Period::Month] {
            let (start, end) = period.bounds(u64::MAX);
            assert!(start <= end);
        }
        let window =
            Quota::per_day(1).window(SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 2));
        assert!(window.remaining(SystemTime::UNIX_EPOCH) > Duration::ZERO);
    }

    #[test]
    fn throttles_are_validated() {
        let plan = |t: Throttle| UsagePlan::builder("p").throttle(t).build();
        assert_eq!(plan(Throttle::per_second(0)).unwrap_err(), ConfigError::InvalidThrottle);
        assert_eq!(
            plan(Throttle::per_second(5).burst(0)).unwrap_err(),
            ConfigError::InvalidThrottle
        );
        assert_eq!(
            plan(Throttle::with_interval(Duration::ZERO)).unwrap_err(),
            ConfigError::InvalidThrottle
        );
        assert_eq!(
            plan(Throttle::per_hour(1).burst(10_000)).unwrap_err(),
            ConfigError::InvalidThrottle,
            "a bucket that takes more than a year to refill"
        );
        assert!(plan(Throttle::per_second(1_000_000).burst(u32::MAX)).is_ok());
        assert_eq!(Throttle::per_second(4).interval(), Duration::from_millis(250));
        assert_eq!(Throttle::per_minute(2).interval(), Duration::from_secs(30));
        assert_eq!(Throttle::from_rate(0.5).unwrap().interval(), Duration::from_secs(2));
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e9] {
            assert_eq!(Throttle::from_rate(rate).unwrap_err(), ConfigError::InvalidThrottle);
        }
        assert_eq!(
            UsagePlan::builder("p").quota(Quota::per_day(0)).build().unwrap_err(),
            ConfigError::InvalidQuota
        );
        assert_eq!(UsagePlan::builder("").build().unwrap_err(), ConfigError::EmptyPlanName);
    }
}
