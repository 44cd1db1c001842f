//! Where throttle buckets and quota counts live: in the process ([`MemoryUsageStore`], with
//! `governor`), or shared by a fleet (the Redis store of `b2b-auth-redis`, feature `usage`).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use b2b_auth_token::BoxFuture;
use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota as GovernorQuota, RateLimiter};

use super::plan::{QuotaWindow, Throttle, UsagePlan};

/// Counts one key's requests against its usage plan: throttle and quota, decided and
/// recorded in one step.
///
/// [`MemoryUsageStore`] (the default) keeps the counts in the process: each instance of a
/// fleet enforces the plan on its own. A shared store (Redis: `b2b_auth_redis::RedisUsageStore`,
/// feature `usage`) enforces it fleet-wide.
///
/// # Contract
/// - A request over quota is refused without using a throttle token; a throttled request
///   is refused without counting against the quota. Only an allowed request changes the
///   state, and the check and the change are atomic: two instances sharing the store never
///   let more than the quota's limit through in a window.
/// - Time is [`UsageRequest::now`] (from the layer's clock), never the store's own.
/// - An error means "could not decide": the layer then enforces the plan in the process or
///   refuses, as set by [`OnStoreError`](super::OnStoreError).
///
/// The future must not borrow the store (`'static`): clone what it needs (a connection
/// handle) into it.
pub trait UsageStore: fmt::Debug + Send + Sync + 'static {
    /// Decides whether `request` may go through, and records it if so.
    fn acquire(&self, request: UsageRequest) -> BoxFuture<'static, Result<Usage, UsageStoreError>>;
}

/// One request of one key, as a [`UsageStore`] sees it: the key's id, the time, the plan's
/// throttle and the quota's current window.
#[derive(Clone, Debug)]
pub struct UsageRequest {
    key_id: Arc<str>,
    now: SystemTime,
    throttle: Option<Throttle>,
    quota: Option<QuotaWindow>,
}

impl UsageRequest {
    /// A request of the key `key_id` on `plan` at `now`.
    pub fn new(key_id: impl Into<Arc<str>>, plan: &UsagePlan, now: SystemTime) -> Self {
        Self {
            key_id: key_id.into(),
            now,
            throttle: plan.throttle(),
            quota: plan.quota().map(|quota| quota.window(now)),
        }
    }

    /// The id of the key (never its value): what the store counts by.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The time of the request.
    pub fn now(&self) -> SystemTime {
        self.now
    }

    /// The plan's throttle, if any.
    pub fn throttle(&self) -> Option<Throttle> {
        self.throttle
    }

    /// The quota's window containing [`now`](UsageRequest::now), if the plan has a quota.
    pub fn quota(&self) -> Option<QuotaWindow> {
        self.quota
    }

    /// The answer for a request over quota: wait until the window ends.
    pub fn quota_exceeded(&self) -> Usage {
        let retry_after = self.quota.map(|window| window.remaining(self.now)).unwrap_or_default();
        Usage::QuotaExceeded { retry_after }
    }
}

/// A [`UsageStore`]'s decision.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Usage {
    /// Within the plan; the request was counted.
    Allowed,
    /// No throttle token left; the next one comes after `retry_after`.
    Throttled {
        /// The time until the next token.
        retry_after: Duration,
    },
    /// The quota's window is used up; the next window starts after `retry_after`.
    QuotaExceeded {
        /// The time until the next window.
        retry_after: Duration,
    },
}

/// A [`UsageStore`] that could not decide (e.g. its server is unreachable).
///
/// `Display` is `usage store unavailable`; the cause is the [`source`](StdError::source).
#[derive(Debug)]
pub struct UsageStoreError {
    source: Box<dyn StdError + Send + Sync>,
}

impl UsageStoreError {
    /// An error caused by `source`.
    pub fn new(source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self { source: source.into() }
    }
}

impl fmt::Display for UsageStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("usage store unavailable")
    }
}

impl StdError for UsageStoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&*self.source)
    }
}

/// The in-process [`UsageStore`], and the layer's default: `governor`'s GCRA for throttles,
/// a count per key for quotas. Cheap to clone; clones share the counts. Never fails.
///
/// It keeps a few hundred bytes per key id it has seen; key ids come from your
/// configuration, never from requests.
#[derive(Clone, Default)]
pub struct MemoryUsageStore {
    keys: Arc<RwLock<HashMap<Arc<str>, SharedKeyUsage>>>,
}

type SharedKeyUsage = Arc<Mutex<KeyUsage>>;

impl fmt::Debug for MemoryUsageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner).len();
        f.debug_struct("MemoryUsageStore").field("keys", &keys).finish()
    }
}

impl MemoryUsageStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn key_usage(&self, key_id: &Arc<str>) -> SharedKeyUsage {
        let read = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(usage) = read.get(key_id) {
            return usage.clone();
        }
        drop(read);
        let mut write = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        write.entry(key_id.clone()).or_default().clone()
    }

    /// The decision, synchronously.
    pub(super) fn decide(&self, request: &UsageRequest) -> Usage {
        let usage = self.key_usage(&request.key_id);
        let mut usage = usage.lock().unwrap_or_else(PoisonError::into_inner);
        usage.acquire(request)
    }
}

impl UsageStore for MemoryUsageStore {
    fn acquire(&self, request: UsageRequest) -> BoxFuture<'static, Result<Usage, UsageStoreError>> {
        let usage = self.decide(&request);
        Box::pin(std::future::ready(Ok(usage)))
    }
}

/// A governor clock that reads the time the store last set: the request's time, turned into
/// a timeline that never goes back.
#[derive(Clone, Debug, Default)]
struct RequestClock(Arc<AtomicU64>);

impl GovernorClock for RequestClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::new(self.0.load(Ordering::Acquire))
    }
}

/// The end of a key's timeline (half of what governor's nanoseconds can hold).
const MAX_TIMELINE: Duration = Duration::from_nanos(u64::MAX / 2);

type Limiter = RateLimiter<NotKeyed, InMemoryState, RequestClock, NoOpMiddleware<Nanos>>;

/// One key's state, behind its own lock.
#[derive(Default)]
struct KeyUsage {
    clock: RequestClock,
    /// The last wall time seen, and the time elapsed on the key's timeline until then.
    last_seen: Option<SystemTime>,
    elapsed: Duration,
    limiter: Option<(Throttle, Limiter)>,
    /// The window counted in, and the requests counted.
    quota: Option<(QuotaWindow, u64)>,
}

impl KeyUsage {
    /// Moves the key's timeline to `now`. A clock that steps back does not move it back (the
    /// step is absorbed, not waited out), so that a wall-clock correction neither frees nor
    /// blocks a bucket for the length of the step.
    fn advance(&mut self, now: SystemTime) -> Nanos {
        if let Some(last) = self.last_seen {
            let step = now.duration_since(last).unwrap_or_default();
            // Capped at 292 years, far from where governor's nanosecond sums would overflow.
            self.elapsed = self.elapsed.saturating_add(step).min(MAX_TIMELINE);
        }
        self.last_seen = Some(now);
        let nanos = u64::try_from(self.elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.clock.0.store(nanos, Ordering::Release);
        Nanos::new(nanos)
    }

    fn limiter(&mut self, throttle: Throttle) -> &Limiter {
        if self.limiter.as_ref().is_some_and(|(current, _)| *current != throttle) {
            // A plan change restarts the bucket, full.
            self.limiter = None;
        }
        let clock = self.clock.clone();
        let (_, limiter) = self.limiter.get_or_insert_with(|| {
            let burst = NonZeroU32::new(throttle.max_burst()).unwrap_or(NonZeroU32::MIN);
            // Plans are validated when built: the interval is never zero.
            let quota = GovernorQuota::with_period(throttle.interval())
                .unwrap_or_else(|| GovernorQuota::per_second(burst))
                .allow_burst(burst);
            (throttle, RateLimiter::direct_with_clock(quota, clock))
        });
        limiter
    }

    fn acquire(&mut self, request: &UsageRequest) -> Usage {
        let now = self.advance(request.now);
        if let Some(window) = request.quota {
            // A later window (or another period after a plan change) starts from zero; an
            // earlier one (a clock stepping back over a boundary) keeps the later count.
            let counting = self.quota.is_some_and(|(counted, _)| {
                counted.period() == window.period()
                    && counted.start_unix_secs() >= window.start_unix_secs()
            });
            if !counting {
                self.quota = Some((window, 0));
            }
            if self.quota.is_some_and(|(_, used)| used >= window.limit()) {
                return request.quota_exceeded();
            }
        }
        if let Some(throttle) = request.throttle
            && let Err(not_until) = self.limiter(throttle).check()
        {
            return Usage::Throttled { retry_after: not_until.wait_time_from(now) };
        }
        if let Some((_, used)) = &mut self.quota {
            *used += 1;
        }
        Usage::Allowed
    }
}
