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
//! | `redis` | [`redis`] (`b2b-auth-redis`) | the token shared by a fleet through Redis, with refresher election |
//!
//! For integration tests, `b2b-auth-issuer` (a local client-credentials authorization server
//! shaped like a Cognito user pool) is a separate dev-dependency.
//!
//! ```toml
//! [dependencies]
//! b2b-auth = { version = "0.1", features = ["token", "jwt", "policy"] }
//! ```
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
