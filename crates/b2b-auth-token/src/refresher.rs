//! The writer side of a shared token, for a scheduled job or a dedicated loop.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use b2b_auth_core::{Clock, SystemClock};
use tokio::time::Instant;

use crate::error::{ConfigError, TokenError};
use crate::provider::shared::{Shared, classify};
use crate::provider::{DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MIN, DEFAULT_LOCK_TTL};
use crate::schedule::{Backoff, RefreshPolicy};
use crate::source::TokenSource;
use crate::store::{TokenEnvelope, TokenStore};

/// What [`Refresher::refresh_if_needed`] did.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum RefreshOutcome {
    /// A new token was fetched and stored.
    Refreshed {
        /// Its generation in the store.
        generation: u64,
        /// When it expires.
        expires_at: SystemTime,
        /// When it will be due for refresh.
        next_refresh: SystemTime,
    },
    /// The stored token is not due yet; nothing was fetched.
    StillFresh {
        /// Its generation in the store.
        generation: u64,
        /// When it expires.
        expires_at: SystemTime,
        /// When it will be due for refresh.
        next_refresh: SystemTime,
    },
    /// Another instance holds the refresh lock and is refreshing.
    Locked {
        /// When to look again (the lock's TTL).
        next_refresh: SystemTime,
    },
}

impl RefreshOutcome {
    /// When the shared token should next be looked at.
    pub fn next_refresh(&self) -> SystemTime {
        match self {
            Self::Refreshed { next_refresh, .. }
            | Self::StillFresh { next_refresh, .. }
            | Self::Locked { next_refresh } => *next_refresh,
        }
    }
}

/// Keeps the shared token in a [`TokenStore`] fresh: the scheduled job of the pattern where
/// one writer refreshes and every instance reads (providers in
/// [`StoreRole::Reader`](crate::StoreRole::Reader)).
///
/// [`refresh_if_needed`](Self::refresh_if_needed) is one run for cron, a scheduled Lambda
/// or a Kubernetes CronJob: it fetches only when the stored token is missing, stale, or past
/// its refresh point, under the store's lock when the store has one. Schedule it more often
/// than the gap between the refresh point and expiry (about 11 minutes for hour-long tokens
/// with the default policy). [`run`](Self::run) is the same as a loop.
///
/// ```no_run
/// use b2b_auth_token::{ClientCredentials, MemoryStore, Refresher};
///
/// # async fn job() -> Result<(), Box<dyn std::error::Error>> {
/// let source = ClientCredentials::builder()
///     .token_url("https://auth.tires.example/oauth2/token")
///     .client_id("car-orders")
///     .client_secret(std::env::var("CAR_ORDERS_SECRET")?)
///     .build()?;
/// let store = MemoryStore::new(); // in production: an SSM or Redis store
/// let outcome = Refresher::builder(source, store).build()?.refresh_if_needed().await?;
/// println!("{outcome:?}");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Refresher {
    source: Arc<dyn TokenSource>,
    store: Arc<dyn TokenStore>,
    policy: RefreshPolicy,
    backoff: Backoff,
    lock_ttl: Duration,
    clock: Arc<dyn Clock>,
    writer: String,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("key", self.source.key())
            .field("store", &self.store)
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

/// What the store holds, as the refresher sees it.
enum Stored {
    /// A token of this source that needs nothing yet.
    Fresh(RefreshOutcome),
    /// Nothing, or a token to replace: stale, past its refresh point or another source's,
    /// whose generation the next one follows.
    Due { generation: u64 },
}

impl Refresher {
    /// Starts configuring a refresher writing `source`'s tokens into `store`.
    pub fn builder(source: impl TokenSource, store: impl TokenStore) -> RefresherBuilder {
        RefresherBuilder {
            refresher: Refresher {
                source: Arc::new(source),
                store: Arc::new(store),
                policy: RefreshPolicy::default(),
                backoff: Backoff { min: DEFAULT_BACKOFF_MIN, max: DEFAULT_BACKOFF_MAX },
                lock_ttl: DEFAULT_LOCK_TTL,
                clock: Arc::new(SystemClock),
                writer: crate::provider::default_writer_id(),
            },
        }
    }

    /// Fetches and stores a new token if the stored one is missing, stale, for another
    /// source, or past its refresh point; otherwise does nothing.
    ///
    /// # Errors
    /// The store's or the token endpoint's [`TokenError`]: a scheduled job should exit
    /// non-zero on it.
    pub async fn refresh_if_needed(&self) -> Result<RefreshOutcome, TokenError> {
        if let Stored::Fresh(outcome) = self.look().await? {
            return Ok(outcome);
        }
        let Some(lock) = self.store.try_lock(self.lock_ttl).await? else {
            tracing::info!("another instance holds the refresh lock");
            return Ok(RefreshOutcome::Locked { next_refresh: self.clock.now() + self.lock_ttl });
        };
        let outcome = self.refresh_locked().await;
        if let Err(error) = self.store.unlock(&lock).await {
            tracing::debug!(%error, "refresh lock not released; it expires with its TTL");
        }
        outcome
    }

    /// What the store holds, reading it once.
    async fn look(&self) -> Result<Stored, TokenError> {
        let envelope = self.store.load().await?;
        let shared = classify(
            envelope.as_ref(),
            self.source.key(),
            &self.policy,
            self.clock.now(),
            Instant::now(),
            0,
        );
        let (Shared::Fresh(adoptable), Some(envelope)) = (shared, &envelope) else {
            return Ok(Stored::Due { generation: envelope.map_or(0, |e| e.generation()) });
        };
        Ok(Stored::Fresh(RefreshOutcome::StillFresh {
            generation: adoptable.generation,
            expires_at: envelope.expires_at(),
            next_refresh: self.next_refresh(envelope),
        }))
    }

    async fn refresh_locked(&self) -> Result<RefreshOutcome, TokenError> {
        // Another writer may have stored a fresh token between the first look and the lock.
        let previous = match self.look().await? {
            Stored::Fresh(outcome) => return Ok(outcome),
            Stored::Due { generation } => generation,
        };
        let fetched = self.source.fetch().await?;
        let generation = previous + 1;
        let envelope =
            TokenEnvelope::for_fetched(&fetched, self.source.key(), generation, &self.writer);
        self.store.save(&envelope).await?;
        let next_refresh = self.next_refresh(&envelope);
        tracing::info!(
            generation,
            fingerprint = fetched.token().fingerprint(),
            lifetime_secs = fetched.lifetime().as_secs(),
            "shared token refreshed"
        );
        Ok(RefreshOutcome::Refreshed {
            generation,
            expires_at: envelope.expires_at(),
            next_refresh,
        })
    }

    fn next_refresh(&self, envelope: &TokenEnvelope) -> SystemTime {
        let lifetime =
            envelope.expires_at().duration_since(envelope.issued_at()).unwrap_or_default();
        envelope.issued_at() + self.policy.zones(lifetime, 0.0).refresh_after
    }

    /// Runs [`refresh_if_needed`](Self::refresh_if_needed) forever: at each token's refresh
    /// point, and after failures with exponential back-off (at least `Retry-After`). Logs
    /// failures and never returns; drop the future to stop it.
    pub async fn run(&self) {
        let mut failures = 0u32;
        loop {
            let wait = match self.refresh_if_needed().await {
                Ok(outcome) => {
                    failures = 0;
                    outcome.next_refresh().duration_since(self.clock.now()).unwrap_or_default()
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let delay = self.backoff.delay(failures, error.retry_after(), fastrand::f64());
                    tracing::warn!(%error, failures, retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), "shared token refresh failed");
                    delay
                }
            };
            tokio::time::sleep(wait.max(Duration::from_millis(100))).await;
        }
    }
}

/// Configures a [`Refresher`]. Every setter documents its default.
#[derive(Debug)]
pub struct RefresherBuilder {
    refresher: Refresher,
}

impl RefresherBuilder {
    /// When a stored token counts as due. Default: [`RefreshPolicy::default`]; the jitter is
    /// not used (one writer needs none).
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.refresher.policy = policy;
        self
    }

    /// Back-off of [`Refresher::run`] after failures. Default: 1 s to 60 s.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.refresher.backoff = Backoff { min, max };
        self
    }

    /// How long the store's refresh lock is held at most. Default: 15 s.
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.refresher.lock_ttl = ttl;
        self
    }

    /// The wall clock. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.refresher.clock = Arc::new(clock);
        self
    }

    /// Who this writer is, as written into envelopes. Default: `$HOSTNAME` (or `unknown`)
    /// and the process id.
    pub fn writer_id(mut self, writer: impl Into<String>) -> Self {
        self.refresher.writer = writer.into();
        self
    }

    /// Checks the settings and builds the refresher.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] for an invalid policy, back-off or lock TTL.
    pub fn build(self) -> Result<Refresher, ConfigError> {
        let refresher = self.refresher;
        refresher.policy.check()?;
        refresher.backoff.check()?;
        if refresher.lock_ttl.is_zero() {
            return Err(ConfigError::OutOfRange {
                setting: "lock_ttl",
                reason: "must be positive",
            });
        }
        Ok(refresher)
    }
}
