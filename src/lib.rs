//! # b2b-auth
//!
//! Service-to-service (B2B) authentication for tower-based Rust services: OAuth2
//! client-credentials tokens shared across a fleet with proactive refresh, JWKS-based JWT
//! verification with scope policies, and IP / resource-policy evaluation.
//!
//! This facade re-exports the parts behind features as they land. The parts available today:
//!
//! | crate | what it is |
//! |---|---|
//! | [`b2b-auth-issuer`](https://docs.rs/b2b-auth-issuer) | a local client-credentials authorization server shaped like a Cognito user pool, for examples and integration tests |
//! | [`b2b-auth-jwt`](https://docs.rs/b2b-auth-jwt), as `b2b_auth::jwt` with feature `jwt` | strict, fast JWT access-token verification against an issuer's JWKS: key sets with safe refresh, typed claims, scope policies, IdP presets |
//!
//! See the repository README for the crate map and the reference scenario (car orders and tire
//! orders).

/// JWT verification against an issuer's JWKS, scope policies, IdP presets: the
/// `b2b-auth-jwt` crate.
#[cfg(feature = "jwt")]
pub use b2b_auth_jwt as jwt;
