//! Tower middleware for service-to-service authentication, generic over request and response
//! bodies, for axum, hyper, tonic or any tower stack.
//!
//! Server side: verify bearer tokens and their scopes (RFC 6750 answers), enforce IP
//! allowlists and resource policies, validate API keys against usage plans. Client side: add
//! a bearer token from a `TokenProvider` to outbound requests, with one retry after a 401.
//!
//! Refusals are responses, never errors: an HTTP status with its headers — or, for gRPC
//! requests (`content-type: application/grpc*`), the equivalent gRPC status, so that tonic
//! servers work unchanged. Every allow and deny is one `tracing` event on the
//! [`AUDIT_TARGET`] target, with the decision, its reason, the client IP and its provenance,
//! the client id and the route; never a token or a secret.
//!
//! # Server side
//! - [`RequireBearerLayer`] ([`require_bearer`]): a valid `Authorization: Bearer` token whose
//!   scopes meet the [`ScopePolicy`](b2b_auth_jwt::ScopePolicy) of the whole service or of
//!   the request's route ([`ScopeRoutes`]); RFC 6750 answers; the verified
//!   [`Claims`](b2b_auth_jwt::Claims) in the request extensions (and, with feature `axum`, the
//!   `VerifiedClaims` extractor).
//! - [`EnforcePolicyLayer`] ([`enforce_policy`]): the client address (peer, or trusted-proxy
//!   chain) through an [`AccessGuard`](b2b_auth_policy::AccessGuard) — the IP allowlist and
//!   the resource policy, with the verified client id as principal when the bearer layer ran
//!   first; 403 on deny, the [`Decision`](b2b_auth_policy::Decision) in the extensions.
//!
//! ```
//! use std::net::SocketAddr;
//! use b2b_auth_jwt::{JwkSet, ScopePolicy, TrustedIssuer, Verifier};
//! use b2b_auth_policy::{AccessGuard, IpRule, IpSet};
//! use b2b_auth_tower::{EnforcePolicyLayer, PeerAddr, RequireBearerLayer, ScopeRoutes};
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let keys = JwkSet::from_json(br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",
//! #     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#)?;
//! # let issuer = TrustedIssuer::builder("https://issuer.example").static_keys(keys);
//! # let verifier = Verifier::builder().issuer(issuer.client_ids(["car-orders"]).build()?).build()?;
//! let routes = ScopeRoutes::builder()
//!     .route("POST /orders", "tires/orders.write")
//!     .route("GET /orders/{id}", "tires/orders.read")
//!     .build()?;
//! let egress = AccessGuard::builder().ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"])?)).build()?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(EnforcePolicyLayer::new(egress)) // first: strangers never reach the verifier
//!     .layer(RequireBearerLayer::builder(verifier).realm("tire-orders").require(routes).build()?)
//!     .service_fn(|_request: Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::new()))
//!     });
//!
//! let mut request = Request::post("/orders")
//!     .header("authorization", format!("Bearer {TOKEN}")) // car-orders, tires/orders.write
//!     .body(String::new())?;
//! request.extensions_mut().insert(PeerAddr("198.51.100.3:40000".parse::<SocketAddr>()?));
//! assert_eq!(service.oneshot(request).await?.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! # const TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.\
//! # eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoiY2FyLW9yZGVycyIsImNsaWVudF9pZCI6ImNh\
//! # ci1vcmRlcnMiLCJzY29wZSI6InRpcmVzL29yZGVycy53cml0ZSIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjo0MTAy\
//! # NDQ0ODAwfQ.V8v5FihJrkUVmmoF92yYargCZlyunA3epHlL3bS7Jjndl559DHP_74oqLIxIS4g2ER94to1i4n6jMYy43zbTCw";
//! ```
//!
//! # API keys and usage plans
//! API keys and usage plans ([`api_key`], [`ApiKeyLayer`]): `x-api-key` checked against keys
//! stored as SHA-256 digests, each bound to a client — whose verified token, left by the
//! bearer layer running before it, must match — and to a usage plan: a throttle (rate and
//! burst) and a quota per UTC day, week or month, counted in the process or fleet-wide
//! through a shared store (Redis, in `b2b-auth-redis`). Keys are added and revoked at
//! runtime; refusals are 403, or 429 with `Retry-After`.

mod add_bearer;
pub mod api_key;
mod audit;
#[cfg(feature = "reqwest")]
mod bearer_middleware;
pub mod enforce_policy;
mod error;
mod peer;
mod reject;
pub mod require_bearer;

pub use add_bearer::{AddBearer, AddBearerLayer, ReplayBody, ResponseFuture as AddBearerFuture};
pub use api_key::ApiKeyLayer;
pub use audit::AUDIT_TARGET;
#[cfg(feature = "reqwest")]
pub use bearer_middleware::BearerMiddleware;
pub use enforce_policy::{EnforcePolicy, EnforcePolicyLayer, PolicyRejection, PolicyRejectionKind};
pub use error::ConfigError;
pub use peer::PeerAddr;
pub use reject::GrpcStatus;
pub use require_bearer::{
    BearerRejection, BearerRejectionKind, RequireBearer, RequireBearerLayer,
    RequireBearerLayerBuilder, ScopeRoutes, ScopeRoutesBuilder,
};
#[cfg(feature = "axum")]
pub use require_bearer::{MissingClaims, VerifiedClaims};

/// The README's examples, compiled as doc tests so that they keep up with the API.
#[cfg(all(doctest, feature = "axum", feature = "reqwest"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
