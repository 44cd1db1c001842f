use std::error::Error as _;
use std::fmt;
use std::mem;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use b2b_auth_core::Clock;
use b2b_auth_jwt::Claims;
use b2b_auth_token::BoxFuture;
use governor::{DefaultDirectRateLimiter, Quota as GovernorQuota, RateLimiter};
use http::header::{Entry, HeaderName};
use http::{HeaderMap, HeaderValue, Request, Response};
use tower_service::Service;

use super::error::{ApiKeyError, ApiKeyErrorKind};
use super::future::ResponseFuture;
use super::keys::{ApiKey, ApiKeys};
use super::layer::{ClientBinding, OnStoreError};
use super::store::{MemoryUsageStore, Usage, UsageRequest, UsageStore, UsageStoreError};
use crate::audit::{AuditEvent, Outcome};
use crate::peer::peer_addr;
use crate::reject::{Rejection, is_grpc};

/// The header carrying the key, as API Gateway reads it.
static X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// After a store failure, how long the layer decides without asking the store (so that an
/// outage does not add a timeout to every request); also the `Retry-After` of a 503 then.
const STORE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// At most one "store unavailable" warning per this interval.
const STORE_WARNING_INTERVAL: Duration = Duration::from_secs(10);

/// The middleware of [`ApiKeyLayer`](super::ApiKeyLayer).
#[derive(Clone)]
pub struct RequireApiKey<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: fmt::Debug> fmt::Debug for RequireApiKey<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequireApiKey")
            .field("inner", &self.inner)
            .field("layer", &self.shared)
            .finish()
    }
}

impl<S> RequireApiKey<S> {
    pub(super) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consuming the middleware.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireApiKey<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let key = match self.shared.check_key(&mut request) {
            Ok(key) => key,
            Err((error, client_id)) => {
                let response = self.shared.refuse(&request, error, client_id.as_deref());
                return ResponseFuture::done(response);
            }
        };
        let decision = match self.shared.usage(&key) {
            Decision::Now(decision) => decision,
            Decision::Later(decision) => {
                // The service that was polled ready handles the request; a clone takes its
                // place. https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services
                let clone = self.inner.clone();
                let inner = mem::replace(&mut self.inner, clone);
                return ResponseFuture::usage(decision, request, inner, key, self.shared.clone());
            }
        };
        match self.shared.settle(decision, &mut request, key) {
            Ok(()) => ResponseFuture::inner(self.inner.call(request)),
            Err(response) => ResponseFuture::done(response),
        }
    }
}

/// Where the layer counts usage.
pub(super) enum Stores {
    /// An in-process store, decided synchronously (the default).
    Memory(MemoryUsageStore),
    /// Another store, and the in-process store used while it fails
    /// ([`OnStoreError::EnforceLocally`]).
    Shared { store: Arc<dyn UsageStore>, fallback: Option<MemoryUsageStore> },
}

/// A usage decision, made at once or to be awaited.
enum Decision {
    Now(Result<Usage, UsageStoreError>),
    Later(BoxFuture<'static, Result<Usage, UsageStoreError>>),
}

/// The layer's configuration and state, shared by every clone of the middleware.
pub(super) struct Shared {
    keys: ApiKeys,
    stores: Stores,
    clock: Arc<dyn Clock>,
    binding: ClientBinding,
    on_store_error: OnStoreError,
    store_warnings: DefaultDirectRateLimiter,
    /// When the store may be asked again after a failure (ms since the epoch, layer clock).
    store_retry_at: AtomicU64,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayer")
            .field("keys", &self.keys)
            .field("store", self.store())
            .field("clock", &self.clock)
            .field("binding", &self.binding)
            .field("on_store_error", &self.on_store_error)
            .finish()
    }
}

/// Why a request was refused, and the client id to log with it.
type Refusal = (ApiKeyError, Option<String>);

impl Shared {
    pub(super) fn new(
        keys: ApiKeys,
        stores: Stores,
        clock: Arc<dyn Clock>,
        binding: ClientBinding,
        on_store_error: OnStoreError,
    ) -> Self {
        let one = NonZeroU32::MIN;
        let warnings = GovernorQuota::with_period(STORE_WARNING_INTERVAL)
            .unwrap_or_else(|| GovernorQuota::per_second(one))
            .allow_burst(one);
        Self {
            keys,
            stores,
            clock,
            binding,
            on_store_error,
            store_warnings: RateLimiter::direct(warnings),
            store_retry_at: AtomicU64::new(0),
        }
    }

    fn store(&self) -> &dyn fmt::Debug {
        match &self.stores {
            Stores::Memory(store) => store,
            Stores::Shared { store, .. } => store,
        }
    }

    /// The key the request presents, if it is valid and of the token's client.
    fn check_key<B>(&self, request: &mut Request<B>) -> Result<ApiKey, Refusal> {
        let presented = presented_key(request.headers_mut());
        let token_client = request.extensions().get::<Claims>().map(Claims::client_id);
        let refuse =
            |kind| Err((ApiKeyError::new(kind), token_client.flatten().map(str::to_owned)));
        let value = match presented {
            Presented::Missing => return refuse(ApiKeyErrorKind::MissingKey),
            Presented::Several => return refuse(ApiKeyErrorKind::MultipleKeys),
            Presented::One(value) => value,
        };
        // Checked before the lookup: without a token, the answer says nothing about the key.
        if token_client.is_none() && self.binding == ClientBinding::RequireToken {
            return refuse(ApiKeyErrorKind::TokenRequired);
        }
        let Some(key) = self.keys.find(value.as_bytes()) else {
            return refuse(ApiKeyErrorKind::UnknownKey);
        };
        // Claims bind whenever present, whatever the setting; a token without a client id
        // matches no key.
        if let Some(token_client) = token_client
            && token_client != Some(key.client_id())
        {
            let error = ApiKeyError::new(ApiKeyErrorKind::ClientMismatch)
                .with_key_id(key.shared_id().clone());
            return Err((error, token_client.map(str::to_owned)));
        }
        Ok(key)
    }

    /// The usage decision for one request of `key`: none needed for a plan without limits,
    /// synchronous with an in-process store, otherwise a future that falls back to the
    /// in-process store when the store fails and the layer enforces locally then.
    fn usage(self: &Arc<Self>, key: &ApiKey) -> Decision {
        let plan = key.plan();
        if plan.throttle().is_none() && plan.quota().is_none() {
            return Decision::Now(Ok(Usage::Allowed));
        }
        let now = self.clock.now();
        let request = UsageRequest::new(key.shared_id().clone(), plan, now);
        let (store, fallback) = match &self.stores {
            Stores::Memory(store) => return Decision::Now(Ok(store.decide(&request))),
            Stores::Shared { store, fallback } => (store, fallback.clone()),
        };
        let now_ms = unix_millis(now);
        if now_ms < self.store_retry_at.load(Ordering::Relaxed) {
            return Decision::Now(match fallback {
                Some(fallback) => Ok(fallback.decide(&request)),
                None => Err(UsageStoreError::new("not asked: it failed less than a second ago")),
            });
        }
        let decision = store.acquire(request.clone());
        let shared = self.clone();
        Decision::Later(Box::pin(async move {
            let error = match decision.await {
                Err(error) => error,
                decided => return decided,
            };
            let retry_at = now_ms.saturating_add(unix_millis_of(STORE_RETRY_AFTER));
            shared.store_retry_at.fetch_max(retry_at, Ordering::Relaxed);
            shared.warn_store_error(&error);
            match fallback {
                Some(fallback) => Ok(fallback.decide(&request)),
                None => Err(error),
            }
        }))
    }

    fn warn_store_error(&self, error: &UsageStoreError) {
        if self.store_warnings.check().is_ok() {
            let action = match self.on_store_error {
                OnStoreError::EnforceLocally => "enforcing usage plans in this process",
                OnStoreError::Refuse => "refusing requests with usage plans",
            };
            tracing::warn!(
                error = %error,
                cause = error.source().map(tracing::field::display),
                store = ?self.store(),
                "{action} until the usage store answers again (asked again after 1 s; one warning per 10 s)",
            );
        }
    }

    /// Applies the store's decision: `Ok` lets the request through (marked with its key),
    /// `Err` is the refusal.
    pub(super) fn settle<B, ResBody: Default>(
        &self,
        decision: Result<Usage, UsageStoreError>,
        request: &mut Request<B>,
        key: ApiKey,
    ) -> Result<(), Response<ResBody>> {
        let (kind, retry_after, source) = match decision {
            Ok(Usage::Allowed) => {
                self.allow(request, key);
                return Ok(());
            }
            Ok(Usage::Throttled { retry_after }) => (ApiKeyErrorKind::Throttled, retry_after, None),
            Ok(Usage::QuotaExceeded { retry_after }) => {
                (ApiKeyErrorKind::QuotaExceeded, retry_after, None)
            }
            Err(error) => (ApiKeyErrorKind::StoreUnavailable, STORE_RETRY_AFTER, Some(error)),
        };
        let mut error = ApiKeyError::new(kind)
            .with_key_id(key.shared_id().clone())
            .with_retry_after(retry_after);
        if let Some(source) = source {
            error = error.with_source(source);
        }
        Err(self.refuse(request, error, Some(key.client_id())))
    }

    fn allow<B>(&self, request: &mut Request<B>, key: ApiKey) {
        let reason = format_args!("valid api key (key {}, plan {})", key.id(), key.plan().name());
        self.audit(request, Outcome::Allow, &reason, None, Some(key.client_id()));
        request.extensions_mut().insert(key);
    }

    /// The refusal's response (HTTP or gRPC), with the error in its extensions; audited.
    fn refuse<B, ResBody: Default>(
        &self,
        request: &Request<B>,
        error: ApiKeyError,
        client_id: Option<&str>,
    ) -> Response<ResBody> {
        let status = error.status();
        self.audit(request, Outcome::Deny, &error, Some(status.as_u16()), client_id);
        let mut rejection = Rejection::new(status, error.kind().public_message());
        if let Some(after) = error.retry_after() {
            rejection = rejection.retry_after(after);
        }
        let mut response = rejection.into_response(is_grpc(request));
        response.extensions_mut().insert(error);
        response
    }

    fn audit<B>(
        &self,
        request: &Request<B>,
        outcome: Outcome,
        reason: &dyn fmt::Display,
        status: Option<u16>,
        client_id: Option<&str>,
    ) {
        let client_ip = peer_addr(request).map(|addr| addr.ip());
        AuditEvent {
            layer: "api_key",
            outcome,
            reason,
            status,
            client_ip,
            provenance: client_ip.is_some().then_some(&"peer" as &dyn fmt::Display),
            client_id,
            method: request.method(),
            route: request.uri().path(),
        }
        .emit();
    }
}

/// The `x-api-key` header(s) of a request.
enum Presented {
    Missing,
    Several,
    One(HeaderValue),
}

/// The key the request presents, its header values marked sensitive on the way so that
/// logging layers further in redact them. An empty value counts as missing.
fn presented_key(headers: &mut HeaderMap) -> Presented {
    let Entry::Occupied(mut entry) = headers.entry(&X_API_KEY) else {
        return Presented::Missing;
    };
    let mut count = 0;
    for value in entry.iter_mut() {
        value.set_sensitive(true);
        count += 1;
    }
    match entry.get() {
        _ if count > 1 => Presented::Several,
        value if value.is_empty() => Presented::Missing,
        value => Presented::One(value.clone()),
    }
}

fn unix_millis(time: SystemTime) -> u64 {
    unix_millis_of(time.duration_since(UNIX_EPOCH).unwrap_or_default())
}

fn unix_millis_of(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
