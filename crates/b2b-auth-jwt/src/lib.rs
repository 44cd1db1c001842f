//! Strict, fast verification of JWT access tokens against an issuer's JWKS, with typed
//! claims, scope policies and presets for common identity providers.
//!
//! The resource-server side of service-to-service OAuth2: a partner calls your API with a
//! client-credentials access token; a [`Verifier`] checks it against the issuer's keys and
//! claims, and a [`ScopePolicy`] decides whether its scopes allow the call.
//!
//! # Quick start
//! ```
//! use b2b_auth_jwt::{JwkSet, ScopePolicy, TrustedIssuer, Verifier, VerifyErrorKind};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: `.jwks_uri(...)`, OIDC discovery (the default), or a preset such as
//! // `TrustedIssuer::cognito(region, pool_id)`. Here: a fixed key set (RFC 8037's key).
//! let keys = JwkSet::from_json(br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",
//!     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#)?;
//! let verifier = Verifier::builder()
//!     .issuer(
//!         TrustedIssuer::builder("https://issuer.example")
//!             .static_keys(keys)
//!             .client_ids(["car-orders"])
//!             .build()?,
//!     )
//!     .build()?;
//!
//! let token = QUICK_START_TOKEN; // client_id car-orders, scope tires/orders.write, exp 2100
//! let claims = verifier.verify(token).await?;
//! assert_eq!(claims.client_id(), Some("car-orders"));
//! assert!(claims.scopes().contains("tires/orders.write"));
//!
//! // Per route: a scope policy; a failure says what was required (RFC 6750 `scope`).
//! let read = ScopePolicy::all(["tires/orders.read"]);
//! let denied = verifier.verify_for(token, &read).await.unwrap_err();
//! assert_eq!(denied.kind(), VerifyErrorKind::InsufficientScope);
//! assert_eq!(denied.bearer_error().status(), 403);
//! assert_eq!(denied.scope_denied().map(|d| d.scope_param()).as_deref(), Some("tires/orders.read"));
//! # Ok(())
//! # }
//! # const QUICK_START_TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.\
//! # eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoiY2FyLW9yZGVycyIsImNsaWVudF9pZCI6ImNh\
//! # ci1vcmRlcnMiLCJzY29wZSI6InRpcmVzL29yZGVycy53cml0ZSIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjo0MTAy\
//! # NDQ0ODAwfQ.V8v5FihJrkUVmmoF92yYargCZlyunA3epHlL3bS7Jjndl559DHP_74oqLIxIS4g2ER94to1i4n6jMYy43zbTCw";
//! ```
//!
//! # Layers
//! - **JWS** ([`CompactJws`], [`JwkSet`], [`VerifiedJws`]): strict compact parsing before any
//!   crypto, and the signature against a key set — usable on its own for signed non-JWT
//!   payloads and checked against the RFC 7515 and RFC 8037 vectors.
//! - **Keys** ([`Jwks`]): an issuer's key set, fetched, cached and refreshed safely (TTL,
//!   single-flight refresh on unknown `kid` with a cool-down, stale-if-error, fetch limits).
//! - **JWT** ([`Verifier`], [`TrustedIssuer`], [`Claims`]): issuer routing, claim checks,
//!   typed claims, a verified-token cache.
//! - **Scopes** ([`Scopes`], [`ScopePolicy`], [`ScopeDenied`]).
//!
//! # Strict by default
//! Only asymmetric algorithms (RS/PS 256-512, ES256/384, EdDSA), each bound to a key of the
//! right type (and the JWK's own `alg`); `none`, `HS*`, header-embedded keys (`jwk`, `jku`,
//! `x5u`, `x5c`) and unknown `crit` never honoured; `exp` and `iss` required; an audience or
//! client-id allowlist required (or an explicit `any_audience()`); claims of the wrong type
//! refused, never taken as absent; RSA keys under 2048 bits, symmetric keys and keys with
//! private members never taken from a JWKS.
//!
//! # Errors and RFC 6750
//! Every [`VerifyError`] has a [`VerifyErrorKind`] that maps to exactly one RFC 6750 answer
//! ([`BearerError`]): `invalid_request` (400), `invalid_token` (401), `insufficient_scope`
//! (403), no bearer token (401 without error code), or keys unavailable (503 with
//! [`VerifyError::retry_after`]). Messages never contain the token.
//!
//! # In a tower layer
//! ```
//! use b2b_auth_jwt::{Claims, ScopePolicy, Verifier, VerifyError, VerifyErrorKind, bearer_token};
//!
//! /// What a middleware does with one request's `Authorization` header value.
//! async fn authorize(
//!     verifier: &Verifier,
//!     authorization: Option<&[u8]>,
//!     route_policy: &ScopePolicy,
//! ) -> Result<Claims, VerifyError> {
//!     let value = authorization.ok_or(VerifyErrorKind::MissingToken)?;
//!     let token = bearer_token(value)?;
//!     verifier.verify_for(token, route_policy).await
//!     // Err(e): e.bearer_error().status(), .error_code(), e.scope_denied(), e.retry_after()
//!     // Ok(claims): request.extensions_mut().insert(claims)
//! }
//! ```

mod alg;
mod bearer;
mod claims;
mod error;
mod issuer;
mod jwks;
mod jws;
mod keyset;
mod presets;
mod scope;
mod verifier;

pub use alg::Algorithm;
pub use bearer::bearer_token;
pub use claims::Claims;
pub use error::{BearerError, ConfigError, JwksError, JwksErrorKind, VerifyError, VerifyErrorKind};
pub use issuer::{TrustedIssuer, TrustedIssuerBuilder};
pub use jwks::{Jwks, JwksBuilder};
pub use jws::{CompactJws, DEFAULT_MAX_TOKEN_LEN, Header, VerifiedJws};
pub use keyset::{DEFAULT_MAX_KEYS, JwkSet, MIN_RSA_BITS};
pub use scope::{ScopeDenied, ScopePolicy, Scopes};
pub use verifier::{Verifier, VerifierBuilder};

/// Entry points of the fuzz targets (`fuzz/`), also replayed over the committed corpora by
/// this crate's tests. Not part of the supported API.
#[doc(hidden)]
pub mod fuzzing {
    use std::sync::OnceLock;

    use crate::{CompactJws, JwkSet};

    /// A key set with one key of each type (RFC 7515 A.2 and A.3, RFC 8037 A.2).
    fn keys() -> &'static JwkSet {
        static KEYS: OnceLock<JwkSet> = OnceLock::new();
        KEYS.get_or_init(|| {
            JwkSet::from_json(include_bytes!("../tests/data/fuzz-keys.json")).unwrap_or_default()
        })
    }

    /// Parses `data` as a compact JWS and, when it parses, verifies it against fixed keys.
    pub fn compact_jws(data: &[u8]) {
        if let Ok(token) = std::str::from_utf8(data)
            && let Ok(jws) = CompactJws::parse(token)
        {
            let _ = jws.header().kid();
            let _ = jws.verify(keys());
        }
    }

    /// Parses `data` as a JWK Set and looks at what it holds.
    pub fn jwk_set(data: &[u8]) {
        if let Ok(set) = JwkSet::from_json(data) {
            let _ = (set.len(), set.skipped(), set.kids().count());
        }
    }
}
