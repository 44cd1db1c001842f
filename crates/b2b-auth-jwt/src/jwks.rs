//! An issuer's key set, fetched from its JWKS URL (or found through OIDC discovery), cached,
//! refreshed safely, and read without locks on the hot path.

use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use http::header;
use reqwest::Url;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::alg::AlgorithmSet;
use crate::error::{ConfigError, JwksError, JwksErrorKind, VerifyError, VerifyErrorKind};
use crate::jws::CompactJws;
use crate::keyset::{DEFAULT_MAX_KEYS, JwkSet, VerifyingKey};

const DEFAULT_TTL: Duration = Duration::from_secs(10 * 60);
const DEFAULT_MIN_TTL: Duration = Duration::from_secs(60);
const DEFAULT_MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
const DEFAULT_COOLDOWN: Duration = Duration::from_secs(30);
const DEFAULT_STALE_IF_ERROR: Duration = Duration::from_secs(60 * 60);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
const DEFAULT_MAX_BYTES: usize = 128 * 1024;
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(60);
const NEGATIVE_CACHE_CAPACITY: u64 = 1024;
const NEGATIVE_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// An issuer's signing keys: from a JWKS URL, OIDC discovery, or a static set.
///
/// - **Lock-free reads**: verification reads the current key set through an `ArcSwap`; keys
///   are parsed into aws-lc-rs verifying keys once per JWKS generation (unchanged keys are
///   kept across generations).
/// - **TTL** (default 10 min; a `Cache-Control: max-age` is followed within
///   [`JwksBuilder::ttl_bounds`]): a background refresh starts at three quarters of it, so
///   callers never wait for a routine refresh; each refresh replaces the whole set, so a key
///   removed by the issuer stops verifying within one TTL.
/// - **Unknown `kid`**: one refresh at a time (callers join the fetch in flight), at most one
///   per cool-down (default 30 s, counted from the last fetch an unknown `kid` caused; a key
///   rotated in right after a routine fetch is learnt at once) — within it an unknown `kid`
///   fails at once, never waiting on a timer — and `kid`s still unknown after a refresh are remembered (bounded), so a
///   flood of random `kid`s costs no extra fetches.
/// - **Failures** (down, 5xx, timeout, malformed set, no usable key): the known keys keep
///   serving for the stale-if-error window (default 1 h past the TTL) while refreshes back
///   off (1 s doubling to 60 s); past the window verification fails closed with
///   [`VerifyErrorKind::JwksUnavailable`]. A failed refresh never drops good keys.
/// - **Fetch hygiene**: `https` only (plain `http` for loopback hosts), a timeout, no
///   redirects, status 200 only, `Content-Type` `application/json` or
///   `application/jwk-set+json`, a response-size cap and a key-count cap.
///
/// Cheap to clone: clones share the keys. Needs a tokio runtime to fetch.
///
/// ```no_run
/// use std::time::Duration;
/// use b2b_auth_jwt::Jwks;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let jwks = Jwks::builder()
///     .uri("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf/.well-known/jwks.json")
///     .ttl(Duration::from_secs(300))
///     .build()?;
/// jwks.hydrate().await?; // warm start: fetch now instead of on the first token
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Jwks {
    inner: Arc<Inner>,
}

struct Inner {
    source: Source,
    settings: Settings,
    http: Option<reqwest::Client>,
    state: ArcSwap<Snapshot>,
    control: Mutex<Control>,
    unknown_kids: moka::sync::Cache<Box<str>, ()>,
    fetches: AtomicU64,
}

#[derive(Debug)]
enum Source {
    Uri(Url),
    Discovery { issuer: String, url: Url },
    Static,
}

#[derive(Clone, Debug)]
struct Settings {
    ttl: Duration,
    min_ttl: Duration,
    max_ttl: Duration,
    cooldown: Duration,
    stale_if_error: Duration,
    timeout: Duration,
    max_bytes: usize,
    max_keys: usize,
    max_backoff: Duration,
    allow_http: bool,
}

/// What the hot path reads.
struct Snapshot {
    keys: Option<Arc<JwkSet>>,
    /// When a background refresh is due (or, after a failure, may be retried).
    refresh_at: Instant,
    /// The end of the TTL.
    fresh_until: Instant,
    /// Whether the last refresh failed (then stale keys serve without waiting).
    failing: bool,
    /// Past this the keys are too stale to trust; `None` for a static set.
    usable_until: Option<Instant>,
}

impl Snapshot {
    fn usable(&self, now: Instant) -> Option<&Arc<JwkSet>> {
        let keys = self.keys.as_ref()?;
        self.usable_until.is_none_or(|until| now < until).then_some(keys)
    }

    /// The keys to serve at `now` without waiting, and whether a background refresh is due;
    /// `None` when there are none, or when they are past their TTL while the endpoint works:
    /// then wait for fresh keys (a key the issuer removed must stop verifying). While
    /// refreshes fail, the stale keys serve.
    fn serving(&self, now: Instant) -> Option<(&Arc<JwkSet>, bool)> {
        let keys = self.usable(now)?;
        if now >= self.fresh_until && !self.failing {
            return None;
        }
        Some((keys, now >= self.refresh_at))
    }
}

type Outcome = Result<(), Arc<JwksError>>;

/// Refresh bookkeeping, touched only off the hot path and never held across an await.
#[derive(Default)]
struct Control {
    inflight: Option<watch::Receiver<Option<Outcome>>>,
    /// When an unknown `kid` last started a fetch: the start of the cool-down. Routine and
    /// first fetches do not count, so that a key published right after them is learnt at
    /// once.
    last_unknown_kid_fetch: Option<Instant>,
    retry_at: Option<Instant>,
    failures: u32,
    discovered: Option<Url>,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Reason {
    /// The keys are getting old: refresh without making anyone wait.
    Background,
    /// A token names a `kid` we do not have. (Remembered unknown `kid`s need no clearing on
    /// refresh: the current key set is always searched first.)
    UnknownKid,
    /// No usable keys: the caller waits.
    Required,
    /// `hydrate()`: fetch now.
    Explicit,
}

impl fmt::Debug for Jwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.state.load();
        f.debug_struct("Jwks")
            .field("source", &self.inner.source)
            .field("keys", &state.keys)
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// Starts configuring a key source.
    pub fn builder() -> JwksBuilder {
        JwksBuilder::default()
    }

    /// A fixed key set that is never fetched or refreshed (air-gapped deployments, tests).
    pub fn from_keys(keys: JwkSet) -> Self {
        Self::new(Source::Static, Settings::default(), None, Some(Arc::new(keys)))
    }

    fn new(
        source: Source,
        settings: Settings,
        http: Option<reqwest::Client>,
        keys: Option<Arc<JwkSet>>,
    ) -> Self {
        let now = Instant::now();
        let usable_until = if matches!(source, Source::Static) { None } else { Some(now) };
        let unknown_kids = moka::sync::Cache::builder()
            .max_capacity(NEGATIVE_CACHE_CAPACITY)
            .time_to_live(NEGATIVE_CACHE_TTL)
            .build();
        let never = far_future(now);
        let state =
            Snapshot { keys, refresh_at: never, fresh_until: never, failing: false, usable_until };
        Self {
            inner: Arc::new(Inner {
                source,
                settings,
                http,
                state: ArcSwap::from_pointee(state),
                control: Mutex::new(Control::default()),
                unknown_kids,
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// Fetches the key set now (joining a fetch already in flight): a warm start before
    /// serving, or a forced refresh. A static set returns at once.
    ///
    /// # Errors
    /// The [`JwksError`] of the failed fetch; keys fetched earlier stay in use.
    pub async fn hydrate(&self) -> Result<(), JwksError> {
        if matches!(self.inner.source, Source::Static) {
            return Ok(());
        }
        let receiver = self
            .start_or_join(Instant::now(), Reason::Explicit)
            .map_err(|e| JwksError::new(JwksErrorKind::Network).detail(e.to_string()))?;
        wait(receiver).await.map_err(|error| (*error).clone())
    }

    /// The key set in use now, if one was fetched.
    pub fn keys(&self) -> Option<Arc<JwkSet>> {
        self.inner.state.load().keys.clone()
    }

    /// How many fetches were started so far (discovery and JWKS together count as one).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// Whether `key` is in the current, fresh key set (verified-token cache hits). Starts a
    /// background refresh when one is due; `false` past the TTL, so that the caller takes
    /// the full path, which waits for fresh keys.
    pub(crate) fn holds(&self, key: &Arc<VerifyingKey>) -> bool {
        let now = Instant::now();
        let state = self.inner.state.load();
        let Some((keys, refresh_due)) = state.serving(now) else {
            return false;
        };
        if refresh_due {
            let _ = self.start_or_join(now, Reason::Background);
        }
        keys.holds(key)
    }

    /// The key that must verify `jws`: the hot path.
    pub(crate) async fn key_for(
        &self,
        jws: &CompactJws<'_>,
        allowed: AlgorithmSet,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        let now = Instant::now();
        let served = {
            let state = self.inner.state.load();
            state.serving(now).map(|(keys, refresh_due)| {
                if refresh_due {
                    // The receiver is dropped: nobody waits for a background refresh.
                    let _ = self.start_or_join(now, Reason::Background);
                }
                jws.check_key(keys, allowed).cloned()
            })
        };
        let (found, now) = match served {
            Some(found) => (found, now),
            None => {
                // No keys yet, or keys past their TTL: wait for the refresh.
                let outcome = self.start_or_join(now, Reason::Required)?;
                let failure = wait(outcome).await.err();
                let now = Instant::now();
                let state = self.inner.state.load();
                let keys = state.usable(now).ok_or_else(|| self.unavailable(failure))?;
                (jws.check_key(keys, allowed).cloned(), now)
            }
        };
        match found {
            Err(e) if e.kind() == VerifyErrorKind::UnknownKey => {
                self.key_after_unknown_kid(jws, allowed, now).await
            }
            found => found,
        }
    }

    async fn key_after_unknown_kid(
        &self,
        jws: &CompactJws<'_>,
        allowed: AlgorithmSet,
        now: Instant,
    ) -> Result<Arc<VerifyingKey>, VerifyError> {
        let unknown = || VerifyError::new(VerifyErrorKind::UnknownKey);
        let kid = jws.header().kid();
        if kid.is_some_and(|kid| self.inner.unknown_kids.contains_key(kid)) {
            return Err(unknown());
        }
        let Ok(receiver) = self.start_or_join(now, Reason::UnknownKid) else {
            return Err(unknown()); // cooling down: fail now, never wait for a timer
        };
        let _ = wait(receiver).await; // a failed refresh leaves the known keys in place
        let state = self.inner.state.load();
        let keys = state.usable(Instant::now()).ok_or_else(|| self.unavailable(None))?;
        let found = jws.check_key(keys, allowed).cloned();
        if let (Err(e), Some(kid)) = (&found, kid)
            && e.kind() == VerifyErrorKind::UnknownKey
        {
            self.inner.unknown_kids.insert(kid.into(), ());
        }
        found
    }

    fn unavailable(&self, cause: Option<Arc<JwksError>>) -> VerifyError {
        let control = self.control();
        let retry_after = control
            .retry_at
            .map(|at| at.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
            .max(Duration::from_secs(1));
        let source = cause.map(|e| Box::new((*e).clone()) as crate::error::BoxError);
        VerifyError::unavailable(retry_after, source)
    }

    fn control(&self) -> MutexGuard<'_, Control> {
        self.inner.control.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the fetch in flight, or starts one if the reason allows it now.
    ///
    /// # Errors
    /// When no fetch may start (backing off, cooling down, static set, no runtime): a
    /// [`VerifyErrorKind::JwksUnavailable`] error with the time to wait.
    fn start_or_join(
        &self,
        now: Instant,
        reason: Reason,
    ) -> Result<watch::Receiver<Option<Outcome>>, VerifyError> {
        let mut control = self.control();
        if let Some(inflight) = &control.inflight {
            // A fetch task that died (runtime shut down) dropped its sender: start anew.
            if inflight.has_changed().is_ok() {
                return Ok(inflight.clone());
            }
        }
        let backing_off = control.retry_at.is_some_and(|at| now < at);
        let cooling_down = control
            .last_unknown_kid_fetch
            .is_some_and(|at| now < at + self.inner.settings.cooldown);
        let blocked = match reason {
            Reason::Explicit => false,
            Reason::Background | Reason::Required => backing_off,
            Reason::UnknownKid => backing_off || cooling_down,
        };
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if !blocked && !matches!(self.inner.source, Source::Static) => runtime,
            _ => {
                drop(control);
                return Err(self.unavailable(None));
            }
        };
        let (sender, receiver) = watch::channel(None);
        control.inflight = Some(receiver.clone());
        if reason == Reason::UnknownKid {
            control.last_unknown_kid_fetch = Some(now);
        }
        drop(control);
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        runtime.spawn(self.clone().refresh(sender, reason));
        Ok(receiver)
    }

    /// The fetch task: runs to completion even if every caller waiting on it went away.
    async fn refresh(self, sender: watch::Sender<Option<Outcome>>, reason: Reason) {
        let span = tracing::info_span!(
            "jwks_fetch",
            host = self.host(),
            reason = ?reason,
            outcome = tracing::field::Empty,
        );
        let result = self.fetch().instrument(span.clone()).await;
        let now = Instant::now();
        let settings = &self.inner.settings;
        let mut control = self.control();
        let previous = self.inner.state.load_full();
        let outcome = match result {
            Ok((keys, ttl)) => {
                span.record("outcome", "ok");
                tracing::debug!(parent: &span, keys = keys.len(), skipped = keys.skipped(), ttl_secs = ttl.as_secs(), "jwks refreshed");
                control.failures = 0;
                control.retry_at = None;
                self.inner.state.store(Arc::new(Snapshot {
                    keys: Some(Arc::new(keys)),
                    refresh_at: now + ttl - ttl / 4,
                    fresh_until: now + ttl,
                    failing: false,
                    usable_until: Some(now + ttl + settings.stale_if_error),
                }));
                Ok(())
            }
            Err(error) => {
                span.record("outcome", "error");
                control.failures = control.failures.saturating_add(1);
                let doublings = control.failures.saturating_sub(1).min(16);
                let backoff = (FIRST_BACKOFF * 2u32.pow(doublings)).min(settings.max_backoff);
                control.retry_at = Some(now + backoff);
                control.discovered = None; // the JWKS may have moved: discover again
                tracing::warn!(parent: &span, %error, failures = control.failures, backoff_secs = backoff.as_secs(), has_keys = previous.keys.is_some(), "jwks refresh failed");
                self.inner.state.store(Arc::new(Snapshot {
                    keys: previous.keys.clone(),
                    refresh_at: now + backoff,
                    fresh_until: previous.fresh_until,
                    failing: true,
                    usable_until: previous.usable_until,
                }));
                Err(Arc::new(error))
            }
        };
        control.inflight = None;
        drop(control);
        sender.send_replace(Some(outcome));
    }

    fn host(&self) -> String {
        let url = match &self.inner.source {
            Source::Uri(url) | Source::Discovery { url, .. } => url,
            Source::Static => return String::new(),
        };
        url.host_str().unwrap_or_default().to_owned()
    }

    async fn fetch(&self) -> Result<(JwkSet, Duration), JwksError> {
        let settings = &self.inner.settings;
        let url = match &self.inner.source {
            Source::Uri(url) => url.clone(),
            Source::Discovery { issuer, url } => {
                let known = self.control().discovered.clone();
                match known {
                    Some(jwks_uri) => jwks_uri,
                    None => {
                        let jwks_uri = self.discover(issuer, url).await?;
                        self.control().discovered = Some(jwks_uri.clone());
                        jwks_uri
                    }
                }
            }
            Source::Static => return Err(JwksError::new(JwksErrorKind::Network)),
        };
        let (body, max_age) = self.get(&url).await?;
        let previous = self.inner.state.load().keys.clone();
        let keys = JwkSet::parse(&body, settings.max_keys, previous.as_deref())?;
        if keys.is_empty() {
            return Err(JwksError::new(JwksErrorKind::Malformed).detail("no usable key"));
        }
        let ttl = max_age.map_or(settings.ttl, |age| age.clamp(settings.min_ttl, settings.max_ttl));
        Ok((keys, ttl))
    }

    async fn discover(&self, issuer: &str, url: &Url) -> Result<Url, JwksError> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let discovery_error = || JwksError::new(JwksErrorKind::Discovery);
        let (body, _) = self.get(url).await?;
        let document: Discovery =
            serde_json::from_slice(&body).map_err(|e| discovery_error().with_source(e))?;
        // OpenID Connect Discovery 1.0 §4.3: the issuer must be exactly the one we trust.
        if document.issuer != issuer {
            return Err(discovery_error().detail("issuer differs from the configured issuer"));
        }
        check_url("jwks_uri", &document.jwks_uri, self.inner.settings.allow_http)
            .map_err(|e| discovery_error().detail(e.to_string()))
    }

    /// One GET with the fetch hygiene rules; the body and any `Cache-Control: max-age`.
    async fn get(&self, url: &Url) -> Result<(Vec<u8>, Option<Duration>), JwksError> {
        let settings = &self.inner.settings;
        let Some(http) = &self.inner.http else {
            return Err(JwksError::new(JwksErrorKind::Network));
        };
        let mut response = http
            .get(url.clone())
            .header(header::ACCEPT, "application/jwk-set+json, application/json")
            .send()
            .await
            .map_err(request_error)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(JwksError::new(JwksErrorKind::Redirect).detail(status.as_str()));
        }
        if status != http::StatusCode::OK {
            return Err(JwksError::new(JwksErrorKind::Status).detail(status.as_str()));
        }
        let headers = response.headers();
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        if !content_type.is_some_and(is_json_media_type) {
            return Err(JwksError::new(JwksErrorKind::ContentType));
        }
        let max_age = headers
            .get_all(header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(max_age);
        let too_large = || JwksError::new(JwksErrorKind::TooLarge);
        if response.content_length().is_some_and(|len| len > settings.max_bytes as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(request_error)? {
            if body.len() + chunk.len() > settings.max_bytes {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

async fn wait(mut receiver: watch::Receiver<Option<Outcome>>) -> Outcome {
    match receiver.wait_for(Option::is_some).await {
        Ok(outcome) => outcome.clone().unwrap_or(Ok(())),
        Err(_) => Err(Arc::new(JwksError::new(JwksErrorKind::Network).detail("fetch task ended"))),
    }
}

fn far_future(now: Instant) -> Instant {
    now + Duration::from_secs(100 * 365 * 24 * 60 * 60)
}

fn request_error(error: reqwest::Error) -> JwksError {
    let kind = if error.is_timeout() { JwksErrorKind::Timeout } else { JwksErrorKind::Network };
    // The URL is configuration, not a secret; reqwest's message names it.
    JwksError::new(kind).with_source(error)
}

/// `application/json` or `application/jwk-set+json`, parameters (charset) allowed.
fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("application/jwk-set+json")
}

/// `max-age` of a `Cache-Control` value; `no-cache`/`no-store` count as zero.
fn max_age(value: &str) -> Option<Duration> {
    value.split(',').map(str::trim).find_map(|directive| {
        if directive.eq_ignore_ascii_case("no-cache") || directive.eq_ignore_ascii_case("no-store")
        {
            return Some(Duration::ZERO);
        }
        let (name, secs) = directive.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("max-age") {
            return None;
        }
        secs.trim().trim_matches('"').parse().ok().map(Duration::from_secs)
    })
}

/// Parses a URL setting: `https`, or `http` to a loopback host (or anywhere if allowed).
pub(crate) fn check_url(
    name: &'static str,
    url: &str,
    allow_http: bool,
) -> Result<Url, ConfigError> {
    let invalid = |reason| ConfigError::InvalidUrl { name, url: url.to_owned(), reason };
    let parsed = Url::parse(url).map_err(|_| invalid("does not parse"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => return Err(invalid("has no host")),
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback || allow_http => Ok(parsed),
        "http" => Err(invalid("plain http is allowed for loopback hosts only")),
        _ => Err(invalid("not an http(s) url")),
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_TTL,
            min_ttl: DEFAULT_MIN_TTL,
            max_ttl: DEFAULT_MAX_TTL,
            cooldown: DEFAULT_COOLDOWN,
            stale_if_error: DEFAULT_STALE_IF_ERROR,
            timeout: DEFAULT_TIMEOUT,
            max_bytes: DEFAULT_MAX_BYTES,
            max_keys: DEFAULT_MAX_KEYS,
            max_backoff: DEFAULT_MAX_BACKOFF,
            allow_http: false,
        }
    }
}

#[derive(Clone, Debug)]
enum SourceSpec {
    None,
    Uri(String),
    Discovery(String),
    Static(Arc<JwkSet>),
}

/// Configures a [`Jwks`]. Give exactly one source: [`uri`](JwksBuilder::uri),
/// [`discovery`](JwksBuilder::discovery) or [`static_keys`](JwksBuilder::static_keys).
#[derive(Clone, Debug)]
pub struct JwksBuilder {
    source: SourceSpec,
    settings: Settings,
}

impl Default for JwksBuilder {
    fn default() -> Self {
        Self { source: SourceSpec::None, settings: Settings::default() }
    }
}

impl JwksBuilder {
    /// Fetch the key set from this JWKS URL.
    pub fn uri(mut self, url: impl Into<String>) -> Self {
        self.source = SourceSpec::Uri(url.into());
        self
    }

    /// Find the JWKS URL in the OIDC discovery document of `issuer`
    /// (`{issuer}/.well-known/openid-configuration`), whose `issuer` must equal `issuer`.
    pub fn discovery(mut self, issuer: impl Into<String>) -> Self {
        self.source = SourceSpec::Discovery(issuer.into());
        self
    }

    /// Use this fixed key set; nothing is ever fetched.
    pub fn static_keys(mut self, keys: JwkSet) -> Self {
        self.source = SourceSpec::Static(Arc::new(keys));
        self
    }

    /// Whether a source was given.
    pub(crate) fn has_source(&self) -> bool {
        !matches!(self.source, SourceSpec::None)
    }

    /// How long a fetched key set is fresh when the response has no `Cache-Control: max-age`.
    /// Default: 10 minutes.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.settings.ttl = ttl;
        self
    }

    /// The range a `Cache-Control: max-age` is clamped to. Default: 1 minute to 24 hours.
    pub fn ttl_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.settings.min_ttl = min;
        self.settings.max_ttl = max;
        self
    }

    /// The least time between two fetches caused by unknown `kid`s. Default: 30 seconds.
    /// Routine fetches (first, TTL, explicit) do not start a cool-down: a key the issuer
    /// starts signing with right after them is fetched at the first token naming it.
    pub fn cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.cooldown = cooldown;
        self
    }

    /// How long past their TTL the known keys keep serving while refreshes fail. Default:
    /// 1 hour. Past it, verification fails closed.
    pub fn stale_if_error(mut self, window: Duration) -> Self {
        self.settings.stale_if_error = window;
        self
    }

    /// The time limit of one request, connection and body included. Default: 5 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// The largest response body accepted. Default: 128 KiB.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.settings.max_bytes = bytes;
        self
    }

    /// The most keys a set may hold. Default: 64.
    pub fn max_keys(mut self, keys: usize) -> Self {
        self.settings.max_keys = keys;
        self
    }

    /// The longest wait between retries of a failing endpoint. Default: 60 seconds.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.settings.max_backoff = backoff;
        self
    }

    /// Accept plain `http` URLs for non-loopback hosts. Default: `false` (loopback hosts
    /// such as `127.0.0.1` and `localhost` may always use `http`).
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.settings.allow_http = allow;
        self
    }

    /// Checks the settings and builds the key source. Nothing is fetched yet.
    ///
    /// # Errors
    /// [`ConfigError::NoKeySource`], [`ConfigError::InvalidUrl`],
    /// [`ConfigError::InvalidSetting`] (zero TTL, timeout or limits, inverted TTL bounds),
    /// [`ConfigError::HttpClient`].
    pub fn build(self) -> Result<Jwks, ConfigError> {
        let s = &self.settings;
        let invalid = |name, reason| Err(ConfigError::InvalidSetting { name, reason });
        if s.ttl.is_zero() || s.min_ttl.is_zero() {
            return invalid("jwks ttl", "must be positive");
        }
        if s.min_ttl > s.max_ttl {
            return invalid("jwks ttl_bounds", "min exceeds max");
        }
        if s.timeout.is_zero() {
            return invalid("jwks timeout", "must be positive");
        }
        if s.max_bytes == 0 || s.max_keys == 0 {
            return invalid("jwks limits", "must be positive");
        }
        let source = match self.source {
            SourceSpec::None => return Err(ConfigError::NoKeySource),
            SourceSpec::Static(keys) => {
                return Ok(Jwks::new(Source::Static, self.settings, None, Some(keys)));
            }
            SourceSpec::Uri(url) => Source::Uri(check_url("jwks uri", &url, s.allow_http)?),
            SourceSpec::Discovery(issuer) => {
                let base = issuer.trim_end_matches('/');
                let url = format!("{base}/.well-known/openid-configuration");
                Source::Discovery { url: check_url("discovery", &url, s.allow_http)?, issuer }
            }
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(s.timeout)
            .connect_timeout(s.timeout)
            .build()
            .map_err(|e| ConfigError::HttpClient(Box::new(e)))?;
        Ok(Jwks::new(source, self.settings, Some(http), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age("public, max-age=300"), Some(Duration::from_secs(300)));
        assert_eq!(max_age("MAX-AGE = \"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=-1"), None);
    }

    #[test]
    fn media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/jwk-set+json"));
        assert!(!is_json_media_type("text/html"));
        assert!(!is_json_media_type("application/jsonp"));
    }

    #[test]
    fn urls_must_be_https_except_loopback() {
        assert!(check_url("x", "https://issuer.example/jwks", false).is_ok());
        assert!(check_url("x", "http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("x", "http://[::1]/jwks", false).is_ok());
        assert!(check_url("x", "http://localhost/jwks", false).is_ok());
        assert!(check_url("x", "http://issuer.example/jwks", true).is_ok());
        for bad in ["http://issuer.example/jwks", "ftp://x/y", "not a url", "file:///etc/passwd"] {
            assert!(
                matches!(check_url("x", bad, false), Err(ConfigError::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn builder_refuses_bad_settings() {
        assert!(matches!(Jwks::builder().build(), Err(ConfigError::NoKeySource)));
        let uri = Jwks::builder().uri("https://issuer.example/jwks");
        assert!(uri.clone().ttl(Duration::ZERO).build().is_err());
        assert!(uri.clone().timeout(Duration::ZERO).build().is_err());
        assert!(uri.clone().max_keys(0).build().is_err());
        assert!(
            uri.clone()
                .ttl_bounds(Duration::from_secs(10), Duration::from_secs(5))
                .build()
                .is_err()
        );
        assert!(uri.build().is_ok());
    }
}
