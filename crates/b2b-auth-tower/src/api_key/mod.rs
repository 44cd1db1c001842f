//! API keys and usage plans ([`ApiKeyLayer`]): the `x-api-key` header checked against keys
//! stored as SHA-256 digests, each key bound to a client and to a usage plan (throttle and
//! quota), as API Gateway's API keys and usage plans.
//!
//! # What it checks, in order
//! 1. One `x-api-key` header (`403` when missing or empty, `400` when repeated). Its values
//!    are marked sensitive, so that logging layers further in redact them.
//! 2. A verified token, when the keys require one ([`ClientBinding::RequireToken`], the
//!    default): the bearer layer must have put `b2b_auth_jwt::Claims` into the request
//!    extensions (`403` otherwise).
//! 3. The key: its SHA-256 against the configured digests, compared in constant time (`403`
//!    when unknown or revoked). Key values are never kept, logged or shown: logs and
//!    `Debug` show a key's id and fingerprint (`sha256:` and 8 hex digits).
//! 4. The client: when the request carries claims, their client id must be the key's
//!    (`403` otherwise, answered exactly like an unknown key).
//! 5. The key's usage plan, in its [`UsageStore`]: over quota → `429` with `Retry-After` up
//!    to the next period; throttled → `429` with `Retry-After` up to the next token. A
//!    throttled request does not count against the quota, a request over quota uses no
//!    throttle token.
//!
//! A request let through carries its [`ApiKey`] in its extensions, for handlers. gRPC
//! requests are refused with gRPC statuses (`PERMISSION_DENIED`, `INVALID_ARGUMENT`,
//! `RESOURCE_EXHAUSTED`, `UNAVAILABLE`); every refusal carries its [`ApiKeyError`] in the
//! response extensions; every decision is one audit event (layer `api_key`).
//!
//! # Where it goes in a stack
//! After the bearer layer (`RequireBearerLayer`), which verifies the token and leaves its
//! claims for this layer to compare: policy → bearer → API key → your service. Requests
//! refused by the layers before it never count against a plan, so a stolen key alone
//! cannot use up its owner's quota. With tower's `ServiceBuilder` the first layer added is
//! the outermost; with axum's `Router::layer` the last one added is:
//!
//! ```text
//! ServiceBuilder::new().layer(enforce_policy).layer(require_bearer).layer(api_key).service(svc)
//! Router::new().route(..).layer(api_key).layer(require_bearer).layer(enforce_policy)
//! ```
//!
//! Stacked the other way round, the layer sees no claims: with the default
//! [`ClientBinding::RequireToken`] it then refuses every request (and the audit events say
//! why), rather than skipping the client check silently.
//!
//! # Usage plans and stores
//! A [`UsagePlan`] has an optional [`Throttle`] (rate and burst: a token bucket, `governor`'s
//! GCRA) and an optional [`Quota`] (requests per UTC day, ISO week or calendar month). Each
//! key is counted on its own. The [`MemoryUsageStore`] (the default) counts in the process;
//! `b2b_auth_redis::RedisUsageStore` (feature `usage` of `b2b-auth-redis`) counts for a
//! whole fleet, exactly: its check-and-count is one atomic script. When a shared store
//! fails, the layer enforces the plans in the process, or refuses with 503
//! ([`OnStoreError`]). Times come from the layer's [`Clock`](b2b_auth_core::Clock), so that
//! tests cross a period boundary or refill a bucket with a manual clock.
//!
//! # Keys at runtime
//! [`ApiKeys`] is shared between the layer and your code: [`ApiKeys::insert`],
//! [`ApiKeys::revoke`] and [`ApiKeys::replace_all`] take effect on the next request. Keys
//! come from code ([`ApiKey::builder`]) or configuration ([`ApiKeysConfig`], deserializable
//! with feature `serde`).
//!
//! # Examples
//! Defaults: every key requires a verified token of its client, plans are counted in the
//! process.
//! ```
//! use b2b_auth_tower::api_key::{ApiKey, ApiKeyLayer, ApiKeys, Quota, Throttle, UsagePlan};
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt as _};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let partners = UsagePlan::builder("partners")
//!     .throttle(Throttle::per_second(50).burst(100))
//!     .quota(Quota::per_day(100_000))
//!     .build()?;
//! let keys = ApiKeys::from_keys([ApiKey::builder("car-orders-2026")
//!     .client_id("car-orders")
//!     .sha256_hex("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8")
//!     .plan(partners)
//!     .build()?])?;
//! let service = ServiceBuilder::new()
//!     // .layer(require_bearer) — first: it leaves the verified claims for the key check
//!     .layer(ApiKeyLayer::builder(keys).build()?)
//!     .service_fn(|_: Request<String>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
//!
//! // Without the bearer layer's claims, even a valid key is refused.
//! let request = Request::builder().header("x-api-key", "password").body(String::new())?;
//! assert_eq!(service.oneshot(request).await?.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! Customised: API-key-only routes, a shared store, a manual clock.
//! ```
//! use std::time::Duration;
//! use b2b_auth_tower::api_key::{
//!     ApiKey, ApiKeyError, ApiKeyLayer, ApiKeys, ClientBinding, MemoryUsageStore, Throttle, UsagePlan,
//! };
//! use http::{Request, Response, StatusCode, header::RETRY_AFTER};
//! use tower::{Service as _, ServiceExt as _};
//!
//! # #[derive(Debug)] struct FixedClock;
//! # impl b2b_auth_core::Clock for FixedClock {
//! #     fn now(&self) -> std::time::SystemTime { std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000) }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let slow = UsagePlan::builder("trial").throttle(Throttle::per_minute(1)).build()?;
//! let keys = ApiKeys::new();
//! keys.insert(ApiKey::builder("trial-1").client_id("acme").value("k-123").plan(slow).build()?)?;
//! let layer = ApiKeyLayer::builder(keys.clone())
//!     .client_binding(ClientBinding::WhenTokenPresent) // the key alone authenticates
//!     .store(MemoryUsageStore::new()) // e.g. one store shared by several routers' layers
//!     .clock(FixedClock) // a test's manual clock; default: the system clock
//!     .build()?;
//! let mut service = tower::ServiceBuilder::new()
//!     .layer(layer)
//!     .service_fn(|_: Request<String>| async { Ok::<_, std::convert::Infallible>(Response::new(String::new())) });
//! let call = || Request::builder().header("x-api-key", "k-123").body(String::new());
//!
//! assert_eq!(service.ready().await?.call(call()?).await?.status(), StatusCode::OK);
//! let throttled = service.ready().await?.call(call()?).await?;
//! assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
//! assert_eq!(throttled.headers()[RETRY_AFTER], "60");
//! assert_eq!(throttled.extensions().get::<ApiKeyError>().and_then(|e| e.key_id()), Some("trial-1"));
//!
//! keys.revoke("trial-1");
//! assert_eq!(service.ready().await?.call(call()?).await?.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```

mod config;
mod error;
mod future;
mod keys;
mod layer;
mod plan;
mod service;
mod store;

pub use config::{ApiKeysConfig, KeyConfig, PlanConfig, QuotaConfig, ThrottleConfig};
pub use error::{ApiKeyError, ApiKeyErrorKind};
pub use future::ResponseFuture;
pub use keys::{ApiKey, ApiKeyBuilder, ApiKeys, sha256_hex};
pub use layer::{ApiKeyLayer, ApiKeyLayerBuilder, ClientBinding, OnStoreError};
pub use plan::{Period, Quota, QuotaWindow, Throttle, UsagePlan, UsagePlanBuilder};
pub use service::RequireApiKey;
pub use store::{MemoryUsageStore, Usage, UsageRequest, UsageStore, UsageStoreError};
