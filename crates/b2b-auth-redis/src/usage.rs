//! A fleet-wide [`UsageStore`] for `b2b-auth-tower`'s API keys (feature `usage`): every
//! instance's `ApiKeyLayer` throttles and counts each key in one Redis, exactly.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, UNIX_EPOCH};

use b2b_auth_token::BoxFuture;
use b2b_auth_tower::api_key::{Usage, UsageRequest, UsageStore, UsageStoreError};
use redis::Script;
use redis::aio::ConnectionManager;
use secrecy::SecretString;

use crate::{ConfigError, RedisFailure, connect};

/// Default timeout to connect to Redis, for the usage store: requests wait on it.
pub const DEFAULT_USAGE_CONNECT_TIMEOUT: Duration = Duration::from_millis(500);
/// Default timeout of one usage decision (one script call).
pub const DEFAULT_USAGE_RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);
/// Default prefix of the store's keys.
pub const DEFAULT_USAGE_PREFIX: &str = "b2b-auth:usage";

/// How long a quota count outlives its window: room for instances whose clocks lag a little,
/// which would otherwise recreate the count of a window that has just ended.
const QUOTA_GRACE: Duration = Duration::from_secs(60);

/// Decides and records one request of one key, atomically (GCRA throttle, then quota).
///
/// KEYS[1]: the throttle's theoretical arrival time (µs since the epoch); KEYS[2]: the
/// window's count.
/// ARGV: now (µs), the throttle's interval (µs; 0: none), its burst, the quota's limit (0:
/// none), the count's expiry (ms since the epoch).
/// Returns `{0, 0}` allowed, `{1, wait µs}` throttled, `{2, 0}` over quota.
static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local now = tonumber(ARGV[1])
        local interval = tonumber(ARGV[2])
        local burst = tonumber(ARGV[3])
        local limit = tonumber(ARGV[4])
        if limit > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= limit then
            return {2, 0}
        end
        local tat = now
        if interval > 0 then
            local window = interval * burst
            tat = tonumber(redis.call('GET', KEYS[1]) or '0')
            if tat < now then
                tat = now
            elseif tat > now + window then
                -- Only a clock that stepped back (or runs behind another instance's) sees a
                -- bucket more than full: wait as for an empty one, not for the clock gap.
                tat = now + window
            end
            tat = tat + interval
            if tat - now > window then
                return {1, tat - window - now}
            end
        end
        if limit > 0 then
            redis.call('INCR', KEYS[2])
            redis.call('PEXPIREAT', KEYS[2], ARGV[5])
        end
        if interval > 0 then
            redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000))
        end
        return {0, 0}
        ",
    )
});

/// A [`UsageStore`] on Redis: one throttle bucket and one quota count per key for the whole
/// fleet. Cheap to clone; clones share one connection. `Debug` shows the server's address
/// and the key prefix, never a password.
///
/// Each decision is one Lua script (one round trip) that checks and records the request
/// atomically, so instances sharing the store never let more than a quota through, and a
/// key's bucket is one bucket fleet-wide. Keys: `<prefix>:{<key id>}:throttle` (expiring
/// once the bucket is full again) and `<prefix>:{<key id>}:quota:<period>:<window start>`
/// (expiring a minute after its window ends); the braces keep a key's two entries in one
/// Redis Cluster slot.
///
/// Times come from the layer's clock (microsecond resolution), so the fleet's clocks should
/// be synchronised (NTP): an instance whose clock runs ahead by `d` sees its keys' buckets
/// refilled `d` early; one whose clock lags never waits longer than for an empty bucket.
///
/// ```no_run
/// use b2b_auth_redis::RedisUsageStore;
/// use b2b_auth_tower::api_key::{ApiKeyLayer, ApiKeys, OnStoreError};
///
/// # async fn run(keys: ApiKeys) -> Result<(), Box<dyn std::error::Error>> {
/// let store = RedisUsageStore::builder("redis://redis.internal:6379/").build()?;
/// let layer = ApiKeyLayer::builder(keys)
///     .store(store)
///     .on_store_error(OnStoreError::EnforceLocally) // the default: per-instance limits meanwhile
///     .build()?;
/// # let _ = layer;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisUsageStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    server: Arc<str>,
}

impl fmt::Debug for RedisUsageStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUsageStore")
            .field("server", &self.server)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisUsageStore {
    /// Starts configuring a store at `url` (which may carry a password).
    pub fn builder(url: impl Into<String>) -> RedisUsageStoreBuilder {
        RedisUsageStoreBuilder {
            url: SecretString::from(url.into()),
            prefix: DEFAULT_USAGE_PREFIX.to_owned(),
            connect_timeout: DEFAULT_USAGE_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_USAGE_RESPONSE_TIMEOUT,
        }
    }

    /// The Redis key of a key's throttle bucket.
    pub fn throttle_key(&self, key_id: &str) -> String {
        format!("{}:{{{key_id}}}:throttle", self.prefix)
    }

    /// The Redis key of a key's count in the quota window of `request`, if its plan has a
    /// quota.
    pub fn quota_key(&self, request: &UsageRequest) -> Option<String> {
        let window = request.quota()?;
        Some(format!(
            "{}:{{{}}}:quota:{}:{}",
            self.prefix,
            request.key_id(),
            window.period(),
            window.start_unix_secs()
        ))
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl UsageStore for RedisUsageStore {
    fn acquire(&self, request: UsageRequest) -> BoxFuture<'static, Result<Usage, UsageStoreError>> {
        let mut connection = self.connection.clone();
        let throttle_key = self.throttle_key(request.key_id());
        let quota_key = self.quota_key(&request).unwrap_or_else(|| format!("{throttle_key}:none"));
        Box::pin(async move {
            let now = request.now().duration_since(UNIX_EPOCH).unwrap_or_default();
            // Sub-microsecond intervals (over a million requests a second per key) round up.
            let (interval, burst) =
                request.throttle().map_or((0, 0), |t| (micros(t.interval()).max(1), t.max_burst()));
            let (limit, expire_at) = request.quota().map_or((0, 0), |window| {
                let expire_at = Duration::from_secs(window.end_unix_secs()) + QUOTA_GRACE;
                (window.limit(), u64::try_from(expire_at.as_millis()).unwrap_or(u64::MAX))
            });
            let (outcome, wait): (u8, u64) = ACQUIRE
                .key(&throttle_key)
                .key(&quota_key)
                .arg(micros(now))
                .arg(interval)
                .arg(burst)
                .arg(limit)
                .arg(expire_at)
                .invoke_async(&mut connection)
                .await
                .map_err(|source| {
                    UsageStoreError::new(RedisFailure { operation: "EVALSHA", source })
                })?;
            Ok(match outcome {
                0 => Usage::Allowed,
                1 => Usage::Throttled { retry_after: Duration::from_micros(wait) },
                _ => request.quota_exceeded(),
            })
        })
    }
}

/// Configures a [`RedisUsageStore`]. Every setter documents its default.
pub struct RedisUsageStoreBuilder {
    url: SecretString,
    prefix: String,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl fmt::Debug for RedisUsageStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisUsageStoreBuilder")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisUsageStoreBuilder {
    /// The prefix of the store's keys, e.g. one per service or environment sharing a Redis.
    /// Default: [`DEFAULT_USAGE_PREFIX`] (`b2b-auth:usage`).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Timeout to connect; requests wait on it (then the layer falls back, see
    /// `OnStoreError`). Default: [`DEFAULT_USAGE_CONNECT_TIMEOUT`] (500 ms).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Timeout of one decision. Default: [`DEFAULT_USAGE_RESPONSE_TIMEOUT`] (250 ms).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Builds the store, inside a tokio runtime. Connects lazily: Redis need not be up yet.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid URL, an empty prefix ([`ConfigError::EmptyKey`]), or
    /// no runtime.
    pub fn build(self) -> Result<RedisUsageStore, ConfigError> {
        if self.prefix.is_empty() {
            return Err(ConfigError::EmptyKey);
        }
        let (connection, server) = connect(&self.url, self.connect_timeout, self.response_timeout)?;
        Ok(RedisUsageStore { connection, prefix: self.prefix.into(), server })
    }
}
