//! # b2b-auth
//!
//! Service-to-service (B2B) authentication for tower-based Rust services: OAuth2
//! client-credentials tokens shared across a fleet with proactive refresh, JWKS-based JWT
//! verification with scope policies, and IP / resource-policy evaluation.
//!
//! This facade re-exports the parts behind features, so that one dependency line picks what a
//! service needs:
//!
//! | feature | module | what it is |
//! |---|---|---|
//! | `jwt` | [`jwt`] (`b2b-auth-jwt`) | strict, fast JWT access-token verification against an issuer's JWKS: key sets with safe refresh, typed claims, scope policies, IdP presets |
//! | `policy` | [`policy`] (`b2b-auth-policy`) | client-IP resolution behind trusted proxies, IP sets, AWS-style resource policies and WAF IP rules, with explained decisions |
//! | `token` | [`token`] (`b2b-auth-token`) | client-credentials tokens: one shared token, refreshed ahead of expiry, read lock-free |
//! | `ssm` | [`ssm`] (`b2b-auth-ssm`) | the token shared by a fleet through AWS SSM Parameter Store (pulls in the AWS SDK) |
//! | `redis` | [`redis`] (`b2b-auth-redis`) | the token shared by a fleet through Redis, with refresher election; with `tower`, fleet-wide API-key usage plans |
//! | `tower` | [`tower`] (`b2b-auth-tower`) | tower layers for any tower server or client: require bearer (RFC 6750 answers, scopes per route), enforce policy (IP allowlist, resource policy), API keys with usage plans, add bearer; gRPC-aware refusals and one audit event per decision |
//! | `axum` | [`tower`] | the verified claims as an axum extractor; axum's `ConnectInfo` as the client address |
//! | `reqwest` | [`tower`] | `BearerMiddleware`: the add-bearer behaviour for reqwest, through `reqwest-middleware` |
//! | `serde` | [`tower`] | `Deserialize` for the API-key configuration |
//!
//! For integration tests, `b2b-auth-issuer` (a local client-credentials authorization server
//! shaped like a Cognito user pool) is a separate dev-dependency.
//!
//! ```toml
//! [dependencies]
//! b2b-auth = { version = "0.1", features = ["axum", "reqwest"] }
//! ```
//!
//! # Quick start: a protected axum route
//! Tire orders accepts orders from the car-orders client only, with the
//! `tires/orders.write` scope; anything else gets the RFC 6750 answer (401 or 403).
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn serve() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, routing::post};
//! use b2b_auth::jwt::{ScopePolicy, TrustedIssuer, Verifier};
//! use b2b_auth::tower::{RequireBearerLayer, VerifiedClaims};
//!
//! let pool = TrustedIssuer::cognito("eu-west-1", "eu-west-1_TireOrders").client_ids(["car-orders"]);
//! let verifier = Verifier::builder().issuer(pool.build()?).build()?;
//! let bearer = RequireBearerLayer::builder(verifier)
//!     .realm("tire-orders")
//!     .require(ScopePolicy::scope("tires/orders.write"))
//!     .build()?;
//! let app = Router::new()
//!     .route("/orders", post(|claims: VerifiedClaims| async move {
//!         format!("order placed by {}", claims.client_id().unwrap_or_default())
//!     }))
//!     .layer(bearer);
//! axum::serve(tokio::net::TcpListener::bind("0.0.0.0:8080").await?, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Quick start: an authenticated outbound call
//! Car orders calls tire orders with a client-credentials token, fetched once, refreshed
//! before it expires, and sent on every request (retried once with a fresh token after a
//! `401 invalid_token`).
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # async fn call() -> Result<(), Box<dyn std::error::Error>> {
//! use b2b_auth::token::{ClientCredentials, TokenProvider};
//! use b2b_auth::tower::BearerMiddleware;
//!
//! let credentials = ClientCredentials::builder()
//!     .token_url("https://auth.tires.example/oauth2/token")
//!     .client_id("car-orders")
//!     .client_secret(std::env::var("CAR_ORDERS_CLIENT_SECRET")?)
//!     .scope("tires/orders.write")
//!     .build()?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(BearerMiddleware::new(TokenProvider::builder(credentials).build()?))
//!     .build();
//! client.post("https://api.tires.example/orders").body(r#"{"car_order":"c-1"}"#).send().await?;
//! # Ok(())
//! # }
//! ```
//!
//! For a fleet, the token is shared through a store (`ssm`, `redis`); the server side adds
//! [`EnforcePolicyLayer`](crate::tower::EnforcePolicyLayer) (IP allowlist, resource policy)
//! and [`ApiKeyLayer`](crate::tower::ApiKeyLayer) (API keys, usage plans) — see the
//! [`tower`] module.
//!
//! See the repository README for the crate map and the reference scenario (car orders and tire
//! orders).

#[cfg(feature = "jwt")]
#[doc(inline)]
pub use b2b_auth_jwt as jwt;
#[cfg(feature = "policy")]
#[doc(inline)]
pub use b2b_auth_policy as policy;
#[cfg(feature = "redis")]
#[doc(inline)]
pub use b2b_auth_redis as redis;
#[cfg(feature = "ssm")]
#[doc(inline)]
pub use b2b_auth_ssm as ssm;
#[cfg(feature = "token")]
#[doc(inline)]
pub use b2b_auth_token as token;
#[cfg(feature = "tower")]
#[doc(inline)]
pub use b2b_auth_tower as tower;
