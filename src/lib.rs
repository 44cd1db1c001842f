//! # b2b-auth
//!
//! Service-to-service (B2B) authentication for tower-based Rust services: OAuth2
//! client-credentials tokens shared across a fleet with proactive refresh, JWKS-based JWT
//! verification with scope policies, and IP / resource-policy evaluation.
//!
//! This facade re-exports the parts behind features as they land. The parts available today:
//!
//! | crate | feature | what it is |
//! |---|---|---|
//! | [`b2b-auth-policy`](https://docs.rs/b2b-auth-policy) | `policy` | client-IP resolution behind trusted proxies, IP sets, AWS-style resource policies and WAF IP rules, with explained decisions |
//! | [`b2b-auth-issuer`](https://docs.rs/b2b-auth-issuer) | (dev-dependency) | a local client-credentials authorization server shaped like a Cognito user pool, for examples and integration tests |
//!
//! See the repository README for the crate map and the reference scenario (car orders and tire
//! orders).

#[cfg(feature = "policy")]
pub use b2b_auth_policy as policy;
