//! [`TokenProvider`]: one token, read lock-free, refreshed ahead of expiry by one request at a
//! time, shared through an optional [`TokenStore`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwapOption;
use b2b_auth_core::{Clock, SystemClock};
use tokio::runtime::Handle;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::error::{ConfigError, TokenError, TokenErrorKind};
use crate::schedule::{Backoff, RefreshPolicy};
use crate::source::{FetchedToken, TokenSource};
use crate::store::TokenStore;
use crate::token::AccessToken;

mod flight;
pub(crate) mod shared;

use flight::fetch_shared;
use shared::SharingSettings;
pub use shared::StoreRole;

/// Default shortest wait after a failed refresh.
pub const DEFAULT_BACKOFF_MIN: Duration = Duration::from_secs(1);
/// Default longest wait between failed refreshes.
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// Default life of a store's refresh lock: a holder that dies frees it after this.
pub(crate) const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(15);
/// Default least time between two refreshes caused by refused tokens.
pub const DEFAULT_REFUSAL_COOLDOWN: Duration = Duration::from_secs(10);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Replicas of the current token, one per stripe of threads.
const STRIPES: usize = 16;

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Ordering::Relaxed) % STRIPES;
}

/// The token being handed out and its schedule.
struct Current {
    token: AccessToken,
    /// Per-stripe replicas of `token`, made on first use: callers on different threads clone
    /// different `Arc`s, so the hot path has no contended reference count.
    replicas: [OnceLock<AccessToken>; STRIPES],
    refresh_at: Instant,
    stale_at: Instant,
    /// A resource server refused it: never hand it out again.
    invalidated: bool,
}

impl Current {
    fn new(token: AccessToken, refresh_at: Instant, stale_at: Instant, invalidated: bool) -> Self {
        Self { token, replicas: Default::default(), refresh_at, stale_at, invalidated }
    }

    /// The token, from this thread's replica.
    fn token_for_this_thread(&self) -> AccessToken {
        let stripe = STRIPE.with(|stripe| *stripe);
        match self.replicas.get(stripe) {
            Some(replica) => replica.get_or_init(|| self.token.replica()).clone(),
            None => self.token.clone(),
        }
    }
}

#[derive(Default)]
struct State {
    failures: u32,
    last_error: Option<(SystemTime, TokenError)>,
    last_refresh: Option<SystemTime>,
    /// The highest store generation seen: an envelope below it is never adopted.
    max_generation: u64,
    /// When this provider last fetched its own token because the shared one was unusable.
    last_fallback: Option<Instant>,
    /// When a refused token last started a refresh.
    last_refusal_refresh: Option<Instant>,
}

type Outcome = Result<AccessToken, TokenError>;

struct Inner {
    source: Arc<dyn TokenSource>,
    policy: RefreshPolicy,
    backoff: Backoff,
    refusal_cooldown: Duration,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn TokenStore>>,
    sharing: SharingSettings,
    writer: String,
    background: bool,
    current: ArcSwapOption<Current>,
    /// This provider's refresh in progress, joined by every caller that needs its outcome.
    flight: Mutex<Option<watch::Receiver<Option<Outcome>>>>,
    /// Whether `flight` is set, readable without the lock on the hot path.
    refreshing: AtomicBool,
    /// No attempt before this many nanoseconds after `epoch` (0: no backoff).
    next_attempt: AtomicU64,
    epoch: Instant,
    state: Mutex<State>,
    driver_started: AtomicBool,
    /// Wakes the background driver: a new token, an invalidation, or the provider's end.
    wake: Arc<Notify>,
    runtime: OnceLock<Handle>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The driver holds only a weak reference: wake it so that it sees the end and exits.
        self.wake.notify_one();
    }
}

/// How the token stands, for health checks.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum TokenStatus {
    /// A token is handed out and not yet due for refresh.
    Fresh,
    /// A token is handed out while its replacement is fetched.
    RefreshDue,
    /// The token is too close to expiry (or was refused by a resource server): callers wait.
    Stale,
    /// No token yet.
    Missing,
}

/// A provider's health: the token's status and validity, the last refresh and the last
/// error. Cheap to compute; safe to expose on a health endpoint (no token in it).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Health {
    /// How the token stands.
    pub status: TokenStatus,
    /// When the current token expires, if there is one.
    pub valid_until: Option<SystemTime>,
    /// When a token was last installed.
    pub last_refresh: Option<SystemTime>,
    /// The last failed refresh, and when it happened. Kept after later successes.
    pub last_error: Option<(SystemTime, TokenError)>,
    /// Failed refreshes since the last success.
    pub consecutive_failures: u32,
}

/// Hands out one access token to any number of callers and keeps it fresh.
///
/// Cheap to clone; clones share the token. [`token`](Self::token) is the hot path: while the
/// token is fresh it is a lock-free read of a prepared token and never touches the network.
/// Refreshes happen in the background ahead of expiry (see [`RefreshPolicy`]); callers only
/// wait when there is no token they may use, and then any number of them cause one request.
/// Providers whose sources have equal [`SourceKey`]s in one process also share their requests.
///
/// Failures back off exponentially with jitter (at least the server's `Retry-After`) while
/// the still-valid token keeps being handed out; a caller that needs a new token during the
/// back-off gets the last error at once rather than adding to a herd. An expired token is
/// never handed out.
///
/// ```no_run
/// use b2b_auth_token::{ClientCredentials, TokenProvider};
///
/// # async fn call() -> Result<(), Box<dyn std::error::Error>> {
/// let source = ClientCredentials::builder()
///     .token_url("https://auth.tires.example/oauth2/token")
///     .client_id("car-orders")
///     .client_secret("from-your-secret-manager")
///     .scope("tires/orders.write")
///     .build()?;
/// let provider = TokenProvider::builder(source).build()?;
///
/// let token = provider.token().await?;
/// let response = reqwest::Client::new()
///     .post("https://api.tires.example/orders")
///     .header("authorization", token.authorization().clone())
///     .send()
///     .await?;
/// if response.status() == 401 {
///     provider.invalidate(&token); // the next token() gets a fresh one
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct TokenProvider {
    inner: Arc<Inner>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProvider")
            .field("key", self.inner.source.key())
            .field("status", &self.health().status)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// Starts configuring a provider around `source`.
    pub fn builder(source: impl TokenSource) -> TokenProviderBuilder {
        TokenProviderBuilder {
            source: Arc::new(source),
            policy: RefreshPolicy::default(),
            backoff: Backoff { min: DEFAULT_BACKOFF_MIN, max: DEFAULT_BACKOFF_MAX },
            refusal_cooldown: DEFAULT_REFUSAL_COOLDOWN,
            clock: Arc::new(SystemClock),
            store: None,
            role: None,
            sharing: SharingSettings::default(),
            writer: None,
            eager: false,
            background: true,
        }
    }

    /// The current token, fetching one if there is none the caller may use.
    ///
    /// # Errors
    /// The [`TokenError`] of the refresh this call waited for, or — during a back-off after
    /// failures — the last error, at once.
    pub async fn token(&self) -> Result<AccessToken, TokenError> {
        if let Some(token) = self.try_token() {
            return Ok(token);
        }
        if let Ok(runtime) = Handle::try_current() {
            self.inner.runtime.get_or_init(|| runtime);
        }
        self.wait_for_new().await
    }

    /// The current token if one may be handed out now, without waiting. Starts a background
    /// refresh when the token is due for one.
    pub fn try_token(&self) -> Option<AccessToken> {
        let current = self.inner.current.load();
        let current = current.as_deref()?;
        let now = Instant::now();
        if now < current.refresh_at {
            return Some(current.token_for_this_thread());
        }
        if now < current.stale_at {
            self.kick(now);
            return Some(current.token_for_this_thread());
        }
        None
    }

    /// Reports that a resource server refused `token` (a 401): it is never handed out again,
    /// and one refresh starts. Any number of calls for the same token start one refresh;
    /// calls for an older token than the current one do nothing, and so do calls within the
    /// [refusal cool-down](TokenProviderBuilder::refusal_cooldown) of the last refresh a
    /// refusal started (the token stays in use).
    pub fn invalidate(&self, token: &AccessToken) {
        let guard = self.inner.current.load();
        let Some(current) = guard.as_deref() else { return };
        if current.invalidated || current.token.generation() != token.generation() {
            return;
        }
        let now = Instant::now();
        let cooling_down = lock(&self.inner.state)
            .last_refusal_refresh
            .is_some_and(|at| now < at + self.inner.refusal_cooldown);
        if cooling_down {
            tracing::debug!(
                client_id = self.inner.source.key().client_id(),
                fingerprint = token.fingerprint(),
                "token refused again within the refusal cool-down; keeping it"
            );
            return;
        }
        let marked = Current::new(current.token.clone(), now, now, true);
        let previous = self.inner.current.compare_and_swap(&guard, Some(Arc::new(marked)));
        let won = match (previous.as_ref(), guard.as_ref()) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        if won {
            lock(&self.inner.state).last_refusal_refresh = Some(now);
            tracing::info!(
                client_id = self.inner.source.key().client_id(),
                fingerprint = token.fingerprint(),
                "token refused by a resource server; refreshing"
            );
            let _ = self.refresh();
        }
    }

    /// Fetches the first token now and waits for it. Optional: [`token`](Self::token) fetches
    /// on first use anyway. An error here is worth logging, not necessarily fatal: the
    /// provider keeps trying on the next call.
    ///
    /// # Errors
    /// As [`token`](Self::token).
    pub async fn warm_up(&self) -> Result<(), TokenError> {
        self.token().await.map(drop)
    }

    /// The token's status and validity, and the last refresh and error.
    pub fn health(&self) -> Health {
        let state = lock(&self.inner.state);
        let current = self.inner.current.load();
        let now = Instant::now();
        let status = match current.as_deref() {
            None => TokenStatus::Missing,
            Some(c) if c.invalidated || now >= c.stale_at => TokenStatus::Stale,
            Some(c) if now >= c.refresh_at => TokenStatus::RefreshDue,
            Some(_) => TokenStatus::Fresh,
        };
        Health {
            status,
            valid_until: current.as_deref().map(|c| c.token.expires_at()),
            last_refresh: state.last_refresh,
            last_error: state.last_error.clone(),
            consecutive_failures: state.failures,
        }
    }

    /// Starts a background refresh unless one runs or a back-off forbids it.
    fn kick(&self, now: Instant) {
        if self.inner.refreshing.load(Ordering::Acquire) || self.backing_off(now) {
            return;
        }
        let _ = self.refresh();
    }

    fn backing_off(&self, now: Instant) -> bool {
        match self.inner.next_attempt.load(Ordering::Acquire) {
            0 => false,
            nanos => now < self.inner.epoch + Duration::from_nanos(nanos),
        }
    }

    fn runtime(&self) -> Option<Handle> {
        Handle::try_current().ok().or_else(|| self.inner.runtime.get().cloned())
    }

    /// Waits for a token when none may be handed out: joins the refresh in progress or starts
    /// one — unless backing off, when the last error comes back at once.
    async fn wait_for_new(&self) -> Result<AccessToken, TokenError> {
        if self.backing_off(Instant::now())
            && let Some((_, error)) = &lock(&self.inner.state).last_error
        {
            return Err(error.clone());
        }
        let internal = || TokenError::new(TokenErrorKind::Internal);
        let mut flight = self.refresh().ok_or_else(internal)?;
        let outcome = flight.wait_for(Option::is_some).await.map_err(|_| internal())?;
        outcome.clone().unwrap_or_else(|| Err(internal()))
    }

    /// Joins this provider's refresh in progress, or starts one on the runtime.
    fn refresh(&self) -> Option<watch::Receiver<Option<Outcome>>> {
        let mut flight = lock(&self.inner.flight);
        if let Some(joined) = flight.as_ref() {
            return Some(joined.clone());
        }
        let runtime = self.runtime()?;
        let (publish, outcome) = watch::channel(None);
        *flight = Some(outcome.clone());
        self.inner.refreshing.store(true, Ordering::Release);
        drop(flight);
        let provider = self.clone();
        runtime.spawn(async move {
            let result = provider.run_refresh().await;
            *lock(&provider.inner.flight) = None;
            provider.inner.refreshing.store(false, Ordering::Release);
            let _ = publish.send(Some(result));
        });
        Some(outcome)
    }

    /// One refresh: through the store when there is one (see [`shared`]), else a fetch.
    async fn run_refresh(&self) -> Outcome {
        let key = self.inner.source.key();
        let attempt = lock(&self.inner.state).failures + 1;
        let span = tracing::info_span!(
            "token_refresh",
            client_id = key.client_id(),
            idp_host = key.host(),
            attempt,
            outcome = tracing::field::Empty,
        );
        async {
            match self.inner.store.clone() {
                Some(store) => self.refresh_shared(&store).await,
                None => self.fetch_and_install(None).await,
            }
        }
        .instrument(span)
        .await
    }

    /// Fetches a token (merged with concurrent fetches for the same key), installs it and,
    /// given a store, shares it there.
    async fn fetch_and_install(&self, store: Option<&Arc<dyn TokenStore>>) -> Outcome {
        match fetch_shared(&self.inner.source).await.and_then(|f| self.check_arrival(f)) {
            Ok(fetched) => {
                tracing::Span::current().record("outcome", "fetched");
                let zones = self.inner.policy.zones(fetched.lifetime, fastrand::f64());
                let token = self.install(
                    &fetched.token,
                    fetched.sent_at + zones.refresh_after,
                    fetched.sent_at + zones.stale_after,
                );
                tracing::info!(
                    fingerprint = token.fingerprint(),
                    lifetime_secs = fetched.lifetime.as_secs(),
                    "token refreshed"
                );
                if let Some(store) = store {
                    self.save(store, &fetched).await;
                }
                Ok(token)
            }
            Err(error) => {
                tracing::Span::current().record("outcome", "failed");
                self.record_failure(&error);
                Err(error)
            }
        }
    }

    /// Refuses a token that is already stale when it arrives (its lifetime was shorter than
    /// the request took): handing it out would hand out an expired token.
    fn check_arrival(&self, fetched: FetchedToken) -> Result<FetchedToken, TokenError> {
        let stale_after = self.inner.policy.zones(fetched.lifetime, 0.0).stale_after;
        if Instant::now() < fetched.sent_at + stale_after {
            Ok(fetched)
        } else {
            Err(TokenError::new(TokenErrorKind::InvalidResponse).with_source(ExpiredInTransit))
        }
    }

    /// Makes `token` current until `stale_at`, due for refresh at `refresh_at`.
    fn install(&self, token: &AccessToken, refresh_at: Instant, stale_at: Instant) -> AccessToken {
        let current = Current::new(token.clone(), refresh_at.min(stale_at), stale_at, false);
        self.inner.current.store(Some(Arc::new(current)));
        self.inner.next_attempt.store(0, Ordering::Release);
        {
            let mut state = lock(&self.inner.state);
            state.failures = 0;
            state.last_refresh = Some(self.inner.clock.now());
        }
        self.ensure_driver();
        self.inner.wake.notify_one();
        token.clone()
    }

    /// The current token if it may still be handed out, re-scheduled to look again at
    /// `refresh_at`: for keeping a valid token while another instance refreshes.
    fn keep_current_until(&self, refresh_at: Instant) -> Option<AccessToken> {
        let current = self.inner.current.load_full()?;
        if current.invalidated || Instant::now() >= current.stale_at {
            return None;
        }
        Some(self.install(&current.token, refresh_at, current.stale_at))
    }

    fn record_failure(&self, error: &TokenError) {
        let mut state = lock(&self.inner.state);
        state.failures = state.failures.saturating_add(1);
        state.last_error = Some((self.inner.clock.now(), error.clone()));
        let delay = self.inner.backoff.delay(state.failures, error.retry_after(), fastrand::f64());
        let at = (Instant::now() + delay).saturating_duration_since(self.inner.epoch);
        let nanos = u64::try_from(at.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.inner.next_attempt.store(nanos, Ordering::Release);
        tracing::warn!(
            error = %error,
            transient = error.is_transient(),
            failures = state.failures,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "token refresh failed"
        );
    }

    /// Starts the background driver once, if enabled and a runtime is at hand.
    fn ensure_driver(&self) {
        if !self.inner.background || self.inner.driver_started.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(runtime) = self.runtime() else {
            self.inner.driver_started.store(false, Ordering::Release);
            return;
        };
        runtime.spawn(drive(Arc::downgrade(&self.inner), self.inner.wake.clone()));
    }

    /// When the driver should next look: at the refresh point, or when the back-off ends.
    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let after_backoff = match self.inner.next_attempt.load(Ordering::Acquire) {
            0 => now,
            nanos => self.inner.epoch + Duration::from_nanos(nanos),
        };
        match self.inner.current.load().as_deref() {
            Some(current) if !current.invalidated => current.refresh_at.max(after_backoff),
            _ => after_backoff,
        }
    }
}

/// The background driver: refreshes at each token's refresh point and retries after
/// failures, so that callers find a fresh token even after idle periods. Holds only a weak
/// reference between refreshes and ends with the provider.
async fn drive(provider: Weak<Inner>, wake: Arc<Notify>) {
    loop {
        let Some(wake_at) = provider.upgrade().map(|inner| TokenProvider { inner }.next_wake())
        else {
            return;
        };
        tokio::select! {
            () = tokio::time::sleep_until(wake_at) => {}
            () = wake.notified() => continue,
        }
        let Some(inner) = provider.upgrade() else { return };
        let provider_now = TokenProvider { inner };
        if provider_now.next_wake() > Instant::now() {
            continue;
        }
        let flight = provider_now.refresh();
        drop(provider_now);
        if let Some(mut flight) = flight {
            let _ = flight.wait_for(Option::is_some).await;
        }
    }
}

/// `$HOSTNAME` (or `unknown`) and the process id: who wrote a stored token.
pub(crate) fn default_writer_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".to_owned());
    format!("{host}-{}", std::process::id())
}

#[derive(Debug, thiserror::Error)]
#[error("the token expired before it arrived")]
struct ExpiredInTransit;

/// Configures a [`TokenProvider`]. Every setter documents its default.
pub struct TokenProviderBuilder {
    source: Arc<dyn TokenSource>,
    policy: RefreshPolicy,
    backoff: Backoff,
    refusal_cooldown: Duration,
    clock: Arc<dyn Clock>,
    store: Option<Arc<dyn TokenStore>>,
    role: Option<StoreRole>,
    sharing: SharingSettings,
    writer: Option<String>,
    eager: bool,
    background: bool,
}

impl fmt::Debug for TokenProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenProviderBuilder")
            .field("key", self.source.key())
            .field("policy", &self.policy)
            .field("store", &self.store)
            .field("role", &self.role)
            .field("eager", &self.eager)
            .field("background", &self.background)
            .finish_non_exhaustive()
    }
}

impl TokenProviderBuilder {
    /// When to refresh and when to stop handing out a token. Default:
    /// [`RefreshPolicy::default`] (refresh at 80 % of the lifetime or 5 minutes before
    /// expiry, 10 % jitter, stale 30 s before expiry).
    pub fn refresh_policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Back-off between failed refreshes: from `min`, doubling, up to `max`, with jitter.
    /// Default: [`DEFAULT_BACKOFF_MIN`] (1 s) to [`DEFAULT_BACKOFF_MAX`] (60 s).
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = Backoff { min, max };
        self
    }

    /// The least time between two refreshes caused by refused tokens
    /// ([`TokenProvider::invalidate`]). Within it, a refusal leaves the token in use: a token
    /// refused right after it replaced a refused one points at the resource server (keys it
    /// has not learnt yet, a misconfigured audience), not at the token, and fetching more
    /// would cost identity-provider requests — billed per token by some — for nothing.
    /// Default: [`DEFAULT_REFUSAL_COOLDOWN`] (10 s); zero refreshes after every refusal.
    pub fn refusal_cooldown(mut self, cooldown: Duration) -> Self {
        self.refusal_cooldown = cooldown;
        self
    }

    /// Shares the token through `store` (see [`StoreRole`] for who fetches and who reads).
    /// Default: none — the provider fetches its own tokens.
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// This instance's part in sharing the stored token. Default: [`StoreRole::Hybrid`] when
    /// the store can lock (Redis, [`MemoryStore`](crate::MemoryStore)), else
    /// [`StoreRole::Reader`] (e.g. SSM, with a scheduled [`Refresher`](crate::Refresher)).
    pub fn store_role(mut self, role: StoreRole) -> Self {
        self.role = Some(role);
        self
    }

    /// How long the refresh lock of [`StoreRole::Hybrid`] is held at most: a refresher that
    /// dies holding it is replaced after this. Default: 15 s (longer than a token request's
    /// default timeout).
    pub fn lock_ttl(mut self, ttl: Duration) -> Self {
        self.sharing.lock_ttl = ttl;
        self
    }

    /// How often the store is read again while the shared token is due and another instance
    /// is refreshing it. Default: 5 s.
    pub fn store_poll_interval(mut self, interval: Duration) -> Self {
        self.sharing.poll_interval = interval;
        self
    }

    /// The least time between two of this instance's own fetches when the shared token is
    /// missing or stale (the refresher is down), so that a dead writer does not turn the fleet
    /// into a herd against the identity provider. Default: 60 s.
    pub fn fallback_interval(mut self, interval: Duration) -> Self {
        self.sharing.fallback_interval = interval;
        self
    }

    /// Before such a fetch, wait a random moment up to this long and read the store again:
    /// the first instance to fetch writes its token back, and the others adopt it. Default:
    /// 2 s.
    pub fn fallback_jitter(mut self, jitter: Duration) -> Self {
        self.sharing.fallback_jitter = jitter;
        self
    }

    /// Who this instance is, as written into stored envelopes. Default: `$HOSTNAME` (or
    /// `unknown`) and the process id.
    pub fn writer_id(mut self, writer: impl Into<String>) -> Self {
        self.writer = Some(writer.into());
        self
    }

    /// The wall clock for stored envelopes and health. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Fetch the first token in the background as soon as the provider is built, instead of
    /// on first use. A failure does not fail the build: it is retried with back-off. Default:
    /// `false`. Needs a tokio runtime at `build()`.
    pub fn eager(mut self, eager: bool) -> Self {
        self.eager = eager;
        self
    }

    /// Refresh at each token's refresh point even when nobody asks for a token (a
    /// background task per provider, ending with it). Without it, a due token is refreshed
    /// by the next caller. Default: `true`; turn it off where background tasks freeze between
    /// invocations (e.g. AWS Lambda).
    pub fn background_refresh(mut self, background: bool) -> Self {
        self.background = background;
        self
    }

    /// Checks the settings and builds the provider.
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] for an invalid refresh policy or back-off, or for `eager`
    /// outside a tokio runtime.
    pub fn build(self) -> Result<TokenProvider, ConfigError> {
        self.policy.check()?;
        self.backoff.check()?;
        if self.sharing.lock_ttl.is_zero() || self.sharing.poll_interval.is_zero() {
            return Err(ConfigError::OutOfRange {
                setting: "lock_ttl and store_poll_interval",
                reason: "must be positive",
            });
        }
        let mut sharing = self.sharing;
        sharing.role = match (self.role, &self.store) {
            (Some(role), _) => role,
            (None, Some(store)) if store.supports_locking() => StoreRole::Hybrid,
            (None, _) => StoreRole::Reader,
        };
        let runtime = Handle::try_current().ok();
        if self.eager && runtime.is_none() {
            return Err(ConfigError::OutOfRange {
                setting: "eager",
                reason: "needs a tokio runtime at build()",
            });
        }
        let writer = self.writer.unwrap_or_else(default_writer_id);
        let provider = TokenProvider {
            inner: Arc::new(Inner {
                source: self.source,
                policy: self.policy,
                backoff: self.backoff,
                refusal_cooldown: self.refusal_cooldown,
                clock: self.clock,
                store: self.store,
                sharing,
                writer,
                background: self.background,
                current: ArcSwapOption::empty(),
                flight: Mutex::new(None),
                refreshing: AtomicBool::new(false),
                next_attempt: AtomicU64::new(0),
                epoch: Instant::now(),
                state: Mutex::new(State::default()),
                driver_started: AtomicBool::new(false),
                wake: Arc::new(Notify::new()),
                runtime: runtime.map(OnceLock::from).unwrap_or_default(),
            }),
        };
        if self.eager {
            if provider.inner.background {
                // With no token yet, the driver's first look is now.
                provider.ensure_driver();
            } else {
                let _ = provider.refresh();
            }
        }
        Ok(provider)
    }
}
