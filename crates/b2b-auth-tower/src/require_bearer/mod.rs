//! Require a bearer token: the resource-server side of service-to-service OAuth2 (RFC 6750),
//! as a tower layer.
//!
//! [`RequireBearerLayer`] reads the token of the request's `Authorization: Bearer` header
//! (nowhere else: not the query, not cookies), verifies it with a [`Verifier`], checks its
//! scopes against the [`ScopePolicy`] of the whole service or of the request's route
//! ([`ScopeRoutes`], as API Gateway's method-level OAuth scopes), and puts the verified
//! [`Claims`] into the request extensions — behind feature `axum`, the `VerifiedClaims`
//! extractor hands them to handlers.
//!
//! # Answers (RFC 6750 §3)
//! | request | status | `WWW-Authenticate` | gRPC status |
//! |---|---|---|---|
//! | no `Authorization`, or another scheme | 401 | `Bearer realm="…"` | `UNAUTHENTICATED` |
//! | token refused (signature, expiry, issuer, audience, ...) | 401 | `…, error="invalid_token", error_description="…"` | `UNAUTHENTICATED` |
//! | scopes fall short of the route's policy | 403 | `…, error="insufficient_scope", scope="<required>"` | `PERMISSION_DENIED` |
//! | no route matches and no fallback | 403 | `…, error="insufficient_scope"` | `PERMISSION_DENIED` |
//! | malformed `Bearer` value, two `Authorization` headers, an `access_token` query parameter, a non-canonical path (per-route policies only) | 400 | `…, error="invalid_request", error_description="…"` | `INVALID_ARGUMENT` |
//! | the issuer's keys cannot be had | 503, `Retry-After` | — | `UNAVAILABLE` |
//!
//! gRPC requests (`content-type: application/grpc*`) get a trailers-only gRPC status instead
//! of the HTTP status, so tonic clients see a `Status`. Every refusal carries a
//! [`BearerRejection`] in its response extensions, and every decision is one audit event (see
//! the [crate documentation](crate)); neither ever holds the token. The token is verified
//! before the route is looked at: a caller without a valid token learns nothing about the
//! routes.
//!
//! # Routes
//! Patterns match `request.uri().path()` as the layer sees it: under axum's `Router::nest`,
//! without the nesting prefix. With per-route policies, a request whose path is not canonical
//! (`//`, `.` or `..` segments, encoded `/`, ...) is refused before matching, so that the
//! route authorised is the route served.
//!
//! # Examples
//! One policy for the whole service, with the default realm (`"api"`):
//!
//! ```
//! use b2b_auth_jwt::{JwkSet, ScopePolicy, TrustedIssuer, Verifier};
//! use b2b_auth_tower::RequireBearerLayer;
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let keys = JwkSet::from_json(br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",
//! #     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#)?;
//! // In production: `.jwks_uri(...)`, OIDC discovery, or a preset such as
//! // `TrustedIssuer::cognito(region, pool_id)`.
//! let issuer = TrustedIssuer::builder("https://issuer.example").static_keys(keys);
//! let verifier = Verifier::builder().issuer(issuer.client_ids(["car-orders"]).build()?).build()?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(RequireBearerLayer::new(verifier, ScopePolicy::all(["tires/orders.write"])))
//!     .service_fn(|_request: Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::from("created")))
//!     });
//!
//! let anonymous = Request::post("/orders").body(String::new())?;
//! let response = service.clone().oneshot(anonymous).await?;
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="api""#);
//!
//! let partner = Request::post("/orders")
//!     .header("authorization", format!("Bearer {TOKEN}")) // car-orders, tires/orders.write
//!     .body(String::new())?;
//! assert_eq!(service.oneshot(partner).await?.status(), StatusCode::OK);
//! # Ok(())
//! # }
//! # const TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.\
//! # eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoiY2FyLW9yZGVycyIsImNsaWVudF9pZCI6ImNh\
//! # ci1vcmRlcnMiLCJzY29wZSI6InRpcmVzL29yZGVycy53cml0ZSIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjo0MTAy\
//! # NDQ0ODAwfQ.V8v5FihJrkUVmmoF92yYargCZlyunA3epHlL3bS7Jjndl559DHP_74oqLIxIS4g2ER94to1i4n6jMYy43zbTCw";
//! ```
//!
//! Per-route policies and a realm; the handler reads the verified claims:
//!
//! ```
//! use b2b_auth_jwt::{Claims, JwkSet, ScopePolicy, TrustedIssuer, Verifier};
//! use b2b_auth_tower::{RequireBearerLayer, ScopeRoutes};
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
//!     .route("GET /orders/{id}", ScopePolicy::any(["tires/orders.read", "tires/orders.write"]))
//!     .route("ANY /admin/*", "tires/admin")
//!     .build()?; // anything else: refused
//! let layer = RequireBearerLayer::builder(verifier).realm("tire-orders").require(routes).build()?;
//!
//! let service = ServiceBuilder::new().layer(layer).service_fn(|request: Request<String>| async move {
//!     let caller = request.extensions().get::<Claims>().and_then(|c| c.client_id()).unwrap_or_default();
//!     Ok::<_, std::convert::Infallible>(Response::new(format!("hello {caller}")))
//! });
//!
//! let bearer = format!("Bearer {TOKEN}"); // car-orders, tires/orders.write
//! let read = Request::get("/orders/42").header("authorization", &bearer).body(String::new())?;
//! let response = service.clone().oneshot(read).await?;
//! assert_eq!(response.into_body(), "hello car-orders");
//!
//! let admin = Request::delete("/admin/cache").header("authorization", &bearer).body(String::new())?;
//! let response = service.oneshot(admin).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! assert_eq!(
//!     response.headers()["www-authenticate"],
//!     r#"Bearer realm="tire-orders", error="insufficient_scope", scope="tires/admin""#
//! );
//! # Ok(())
//! # }
//! # const TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.\
//! # eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoiY2FyLW9yZGVycyIsImNsaWVudF9pZCI6ImNh\
//! # ci1vcmRlcnMiLCJzY29wZSI6InRpcmVzL29yZGVycy53cml0ZSIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjo0MTAy\
//! # NDQ0ODAwfQ.V8v5FihJrkUVmmoF92yYargCZlyunA3epHlL3bS7Jjndl559DHP_74oqLIxIS4g2ER94to1i4n6jMYy43zbTCw";
//! ```
//!
//! [`Verifier`]: b2b_auth_jwt::Verifier
//! [`ScopePolicy`]: b2b_auth_jwt::ScopePolicy
//! [`Claims`]: b2b_auth_jwt::Claims

#[cfg(feature = "axum")]
mod extract;
mod future;
mod layer;
mod rejection;
mod routes;
mod service;

#[cfg(feature = "axum")]
pub use extract::{MissingClaims, VerifiedClaims};
pub use future::ResponseFuture;
pub use layer::{RequireBearerLayer, RequireBearerLayerBuilder};
pub use rejection::{BearerRejection, BearerRejectionKind};
pub use routes::{ScopeRoutes, ScopeRoutesBuilder};
pub use service::RequireBearer;
