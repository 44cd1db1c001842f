//! A Redis [`TokenStore`] for `b2b-auth-token`: one client-credentials token shared by a
//! fleet, and a refresh lock so that the fleet elects one refresher among itself.
//!
//! - The envelope (versioned JSON: token, type, issue and expiry times, scopes, generation,
//!   writer) lives under one key, with a TTL equal to the token's remaining lifetime: an
//!   expired token disappears by itself.
//! - Writes never go backwards: a write whose generation is below the stored one is dropped
//!   (a Lua compare-and-set), so a slow writer cannot replace a newer token.
//! - The lock is `SET <key>:lock <owner> NX PX <ttl>`, released by compare-and-delete, so only
//!   its holder releases it and a holder that dies is replaced after the TTL.
//! - The connection is made lazily and re-made after failures (the `redis` crate's connection
//!   manager); every command has a timeout. A provider whose store fails keeps working
//!   in-process.
//!
//! Consistency: a single Redis node is linearizable, so every instance sees the latest
//! write. With replicas, a reader may see an older envelope after a failover; providers never
//! adopt an envelope whose generation went backwards.
//!
//! With feature `usage`, `RedisUsageStore` shares API key usage plans (throttle and quota)
//! across a fleet for `b2b-auth-tower`'s `ApiKeyLayer`: one atomic script per request.
//!
//! # Example
//! ```no_run
//! use b2b_auth_redis::RedisStore;
//! use b2b_auth_token::{ClientCredentials, TokenProvider};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RedisStore::builder("redis://:password@redis.internal:6379/", "car-orders:tires-token").build()?;
//! let provider = TokenProvider::builder(
//!     ClientCredentials::builder()
//!         .token_url("https://auth.tires.example/oauth2/token")
//!         .client_id("car-orders")
//!         .client_secret(std::env::var("CAR_ORDERS_SECRET")?)
//!         .scope("tires/orders.write")
//!         .build()?,
//! )
//! .store(store) // the fleet shares one token; one instance refreshes it (StoreRole::Hybrid)
//! .build()?;
//! let token = provider.token().await?;
//! # let _ = token;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use b2b_auth_core::{Clock, SystemClock};
use b2b_auth_token::{BoxFuture, StoreLock, TokenEnvelope, TokenError, TokenErrorKind, TokenStore};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, Script};
use secrecy::{ExposeSecret as _, SecretString};

#[cfg(feature = "usage")]
mod usage;

#[cfg(feature = "usage")]
pub use usage::{
    DEFAULT_USAGE_CONNECT_TIMEOUT, DEFAULT_USAGE_PREFIX, DEFAULT_USAGE_RESPONSE_TIMEOUT,
    RedisUsageStore, RedisUsageStoreBuilder,
};

/// Default timeout to connect to Redis.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default timeout of one Redis command.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Writes the envelope unless the stored one has a higher generation.
/// KEYS[1]: the envelope key. ARGV: the JSON, its generation, the TTL in milliseconds.
static SAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        local current = redis.call('GET', KEYS[1])
        if current then
            local ok, envelope = pcall(cjson.decode, current)
            if ok and type(envelope) == 'table' and tonumber(envelope.generation)
                and tonumber(envelope.generation) > tonumber(ARGV[2]) then
                return 0
            end
        end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
        return 1
        ",
    )
});

/// Deletes the lock only if its owner is the caller.
/// KEYS[1]: the lock key. ARGV[1]: the owner token.
static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            return redis.call('DEL', KEYS[1])
        end
        return 0
        ",
    )
});

/// A configuration mistake reported by [`RedisStoreBuilder::build`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The URL does not parse as a Redis URL (`redis://`, `rediss://` with the `tls` feature,
    /// or `redis+unix://`). The message never repeats the URL, which may hold a password.
    #[error("invalid redis url")]
    InvalidUrl,
    /// The key (or, for the usage store, the key prefix) is empty.
    #[error("the redis key must not be empty")]
    EmptyKey,
    /// `build()` was called outside a tokio runtime, which the connection needs.
    #[error("the redis store must be built inside a tokio runtime")]
    NoRuntime,
}

/// The Redis error behind a failed store operation.
#[derive(Debug, thiserror::Error)]
#[error("redis {operation} failed")]
struct RedisFailure {
    operation: &'static str,
    source: redis::RedisError,
}

fn failed(operation: &'static str) -> impl FnOnce(redis::RedisError) -> TokenError {
    move |source| {
        TokenError::new(TokenErrorKind::Store).with_source(RedisFailure { operation, source })
    }
}

/// A [`TokenStore`] on Redis. Cheap to clone; clones share one connection.
///
/// `Debug` shows the key and the server's address, never a password.
#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    key: Arc<str>,
    lock_key: Arc<str>,
    server: Arc<str>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("server", &self.server)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Starts configuring a store at `url` (which may carry a password) under `key`.
    pub fn builder(url: impl Into<String>, key: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: SecretString::from(url.into()),
            key: key.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            clock: Arc::new(SystemClock),
        }
    }

    /// The key the envelope is kept under.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key of the refresh lock: `<key>:lock`.
    pub fn lock_key(&self) -> &str {
        &self.lock_key
    }
}

impl TokenStore for RedisStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenEnvelope>, TokenError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let json: Option<String> = connection.get(&*self.key).await.map_err(failed("GET"))?;
            json.as_deref().map(TokenEnvelope::from_json).transpose()
        })
    }

    fn save<'a>(&'a self, envelope: &'a TokenEnvelope) -> BoxFuture<'a, Result<(), TokenError>> {
        Box::pin(async move {
            let remaining =
                envelope.expires_at().duration_since(self.clock.now()).unwrap_or_default();
            let ttl_ms = u64::try_from(remaining.as_millis()).unwrap_or(u64::MAX);
            if ttl_ms == 0 {
                tracing::debug!("not storing an expired token");
                return Ok(());
            }
            let mut connection = self.connection.clone();
            let written: i64 = SAVE
                .key(&*self.key)
                .arg(envelope.to_json().expose_secret())
                .arg(envelope.generation())
                .arg(ttl_ms)
                .invoke_async(&mut connection)
                .await
                .map_err(failed("SET"))?;
            if written == 0 {
                tracing::debug!(
                    generation = envelope.generation(),
                    "a newer token is stored; write dropped"
                );
            }
            Ok(())
        })
    }

    fn supports_locking(&self) -> bool {
        true
    }

    fn try_lock(&self, ttl: Duration) -> BoxFuture<'_, Result<Option<StoreLock>, TokenError>> {
        Box::pin(async move {
            let lock = StoreLock::new();
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let mut connection = self.connection.clone();
            let acquired: Option<String> = redis::cmd("SET")
                .arg(&*self.lock_key)
                .arg(lock.owner())
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut connection)
                .await
                .map_err(failed("SET NX"))?;
            Ok(acquired.map(|_| lock))
        })
    }

    fn unlock<'a>(&'a self, lock: &'a StoreLock) -> BoxFuture<'a, Result<(), TokenError>> {
        Box::pin(async move {
            let mut connection = self.connection.clone();
            let _: i64 = UNLOCK
                .key(&*self.lock_key)
                .arg(lock.owner())
                .invoke_async(&mut connection)
                .await
                .map_err(failed("DEL"))?;
            Ok(())
        })
    }
}

/// Configures a [`RedisStore`]. Every setter documents its default.
pub struct RedisStoreBuilder {
    url: SecretString,
    key: String,
    connect_timeout: Duration,
    response_timeout: Duration,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder").field("key", &self.key).finish_non_exhaustive()
    }
}

impl RedisStoreBuilder {
    /// Timeout to connect. Default: [`DEFAULT_CONNECT_TIMEOUT`] (2 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Timeout of one command. Default: [`DEFAULT_RESPONSE_TIMEOUT`] (2 s).
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// The wall clock that turns expiry into a key TTL. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Builds the store, inside a tokio runtime. Connects lazily: Redis need not be up yet.
    ///
    /// # Errors
    /// [`ConfigError`] for an invalid URL, an empty key, or no runtime.
    pub fn build(self) -> Result<RedisStore, ConfigError> {
        if self.key.is_empty() {
            return Err(ConfigError::EmptyKey);
        }
        let (connection, server) = connect(&self.url, self.connect_timeout, self.response_timeout)?;
        Ok(RedisStore {
            connection,
            lock_key: format!("{}:lock", self.key).into(),
            key: self.key.into(),
            server,
            clock: self.clock,
        })
    }
}

/// A lazy connection (made on first use, re-made after failures) and the server's address
/// for `Debug`, inside the current tokio runtime.
fn connect(
    url: &SecretString,
    connect_timeout: Duration,
    response_timeout: Duration,
) -> Result<(ConnectionManager, Arc<str>), ConfigError> {
    // The connection manager spawns its connection task on the current runtime.
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(ConfigError::NoRuntime);
    }
    let client = redis::Client::open(url.expose_secret()).map_err(|_| ConfigError::InvalidUrl)?;
    let server = client.get_connection_info().addr().to_string();
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(connect_timeout))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_secs(1));
    let connection =
        client.get_connection_manager_lazy(config).map_err(|_| ConfigError::InvalidUrl)?;
    Ok((connection, server.into()))
}
