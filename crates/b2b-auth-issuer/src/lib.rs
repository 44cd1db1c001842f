//! A local OAuth2 client-credentials authorization server, shaped like an Amazon Cognito user
//! pool: resource servers with scopes, app clients with secrets and allowed scopes, RS256
//! access tokens with Cognito's claim set, a JWKS and an OIDC discovery document.
//!
//! It is what the b2b-auth examples and tests run against, and what your own integration
//! tests can run against instead of a cloud user pool. Start it in-process on a free loopback
//! port, or as the `b2b-auth-issuer` binary.
//!
//! # Endpoints
//! All under the issuer URL (by default `http://<listen address>`):
//! - `POST /oauth2/token` — RFC 6749 §4.4 client credentials; client authentication by
//!   `client_secret_basic` (RFC 6749 §2.3.1, form-urlencoded id and secret, or raw with
//!   [`BasicAuthEncoding::Raw`]) or `client_secret_post`; `scope` optional (absent = all
//!   the client's allowed scopes, as in Cognito); RFC 6749 §5.2 errors; `Cache-Control:
//!   no-store`.
//! - `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`.
//! - `/admin/keys` (list, `POST /admin/keys/rotate`, `DELETE /admin/keys/{kid}`) — only when an
//!   admin token is configured, and only with `Authorization: Bearer <admin token>`.
//!
//! Access tokens are RS256 JWTs with a `kid` header and the claims `sub` (the client id),
//! `token_use: "access"`, `scope`, `auth_time`, `iss`, `exp`, `iat`, `version: 2`, `jti` and
//! `client_id`.
//!
//! # Example
//! ```
//! use b2b_auth_issuer::{AppClient, Issuer, PoolConfig, ResourceServer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = PoolConfig::new()
//!     .resource_server(ResourceServer::new("tires", "Tire orders API").scope("orders.write", "Create tire orders"))
//!     .client(AppClient::new("car-orders", "a-long-random-secret").allowed_scope("tires/orders.write"));
//! let server = Issuer::builder(config).start_local().await?;
//! let issuer = server.issuer();
//!
//! let response: serde_json::Value = reqwest::Client::new()
//!     .post(issuer.token_endpoint())
//!     .basic_auth("car-orders", Some("a-long-random-secret"))
//!     .form(&[("grant_type", "client_credentials"), ("scope", "tires/orders.write")])
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert_eq!(response["token_type"], "Bearer");
//! assert_eq!(response["scope"], "tires/orders.write");
//!
//! // Rotation: new tokens are signed by the new key; the old key stays published for the
//! // grace period (by default the longest token lifetime), then leaves the JWKS.
//! let old = issuer.signing_kid();
//! let new = issuer.rotate_key()?;
//! assert_eq!(issuer.published_kids(), [new, old]);
//! # Ok(())
//! # }
//! ```
//!
//! # Test hooks
//! [`Issuer::stats`] counts requests per endpoint; [`Issuer::inject_fault`] makes an endpoint
//! slow, fail with a status (`Retry-After` optional) or drop the connection; a [`Clock`]
//! injected with [`IssuerBuilder::clock`] moves `iat`, `exp` and key retirement without
//! waiting; [`Issuer::issue_token`] mints a token without an HTTP round trip.
//!
//! Never use this server to protect production traffic: it keeps its keys in memory and its
//! client secrets in a plain configuration file.

mod assertion;
mod config;
mod error;
mod faults;
mod keys;
mod oauth;
mod server;
mod token;
mod urls;

pub use b2b_auth_core::{Clock, SystemClock};
pub use config::{
    AppClient, BasicAuthEncoding, DEFAULT_ACCESS_TOKEN_VALIDITY, MAX_ACCESS_TOKEN_VALIDITY,
    MIN_ACCESS_TOKEN_VALIDITY, MIN_ADMIN_TOKEN_LEN, PoolConfig, ResourceServer, ScopeConfig,
};
pub use error::{ConfigError, KeyError, StartError};
pub use faults::{Endpoint, Fault};
pub use keys::SigningKey;
pub use oauth::{ErrorCode, OAuthError};
pub use server::{Issuer, IssuerBuilder, IssuerServer, IssuerStats};
pub use token::TokenResponse;
