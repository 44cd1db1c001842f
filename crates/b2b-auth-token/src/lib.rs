//! OAuth2 client-credentials tokens for service-to-service calls: one token, shared by every
//! caller, refreshed ahead of expiry, read without locks.
//!
//! The pattern it replaces: every instance (every Lambda, every pod) of a calling service
//! fetches its own token from the identity provider — paid per request, rate limited, slow.
//! Here a [`TokenProvider`] keeps one token and hands it to any number of callers; a
//! [`TokenStore`] shares it across a fleet.
//!
//! - [`ClientCredentials`] fetches tokens (RFC 6749 §4.4): `client_secret_basic` (RFC 6749
//!   §2.3.1 form-encoding, or raw: [`BasicEncoding`]), `client_secret_post` or
//!   `private_key_jwt` (RFC 7523); scopes, `audience`, `resource` (RFC 8707), extra
//!   parameters; the token URL given or discovered from the issuer; strict response parsing
//!   and typed RFC 6749 §5.2 errors, classified permanent or transient.
//! - [`TokenProvider`] hands the token out: [`token`](TokenProvider::token) is a lock-free read
//!   while the token is fresh; refreshes run in the background ahead of expiry
//!   ([`RefreshPolicy`]) with one request for any number of callers; failures back off with
//!   jitter while the still-valid token keeps being served; an expired token is never handed
//!   out; [`invalidate`](TokenProvider::invalidate) after a 401 forces one refresh.
//! - Tokens and secrets never appear in `Debug`, `Display` or logs: [`AccessToken`] shows a
//!   fingerprint.
//!
//! # Quick start
//! ```no_run
//! use b2b_auth_token::{ClientCredentials, TokenProvider};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = TokenProvider::builder(
//!     ClientCredentials::builder()
//!         .token_url("https://auth.tires.example/oauth2/token")
//!         .client_id("car-orders")
//!         .client_secret(std::env::var("CAR_ORDERS_SECRET")?)
//!         .scope("tires/orders.write")
//!         .build()?,
//! )
//! .build()?;
//!
//! // Anywhere, any number of times: no network while the token is fresh.
//! let token = provider.token().await?;
//! let _header = token.authorization(); // "Bearer …", marked sensitive
//! # Ok(())
//! # }
//! ```

mod assertion;
mod client_credentials;
mod error;
mod http;
mod provider;
mod refresher;
mod response;
mod schedule;
mod source;
mod store;
mod token;

pub use assertion::{AssertionAlgorithm, PrivateKey};
pub use client_credentials::{
    AuthMethod, BasicEncoding, ClientCredentials, ClientCredentialsBuilder,
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_EXPIRES_IN, DEFAULT_MAX_LIFETIME, DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_TIMEOUT,
};
pub use error::{ConfigError, TokenError, TokenErrorKind};
pub use provider::{
    DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MIN, DEFAULT_REFUSAL_COOLDOWN, Health, StoreRole,
    TokenProvider, TokenProviderBuilder, TokenStatus,
};
pub use refresher::{RefreshOutcome, Refresher, RefresherBuilder};
pub use schedule::RefreshPolicy;
pub use source::{BoxFuture, FetchedToken, SourceKey, TokenSource};
pub use store::{ENVELOPE_VERSION, MemoryStore, StoreLock, TokenEnvelope, TokenStore};
pub use token::AccessToken;

/// Entry points for the fuzz targets in `fuzz/` and their corpus-replay tests. Not an API.
#[doc(hidden)]
#[allow(clippy::panic)] // a broken invariant must crash the fuzzer: that is its report
pub mod fuzzing {
    use std::time::Duration;

    use crate::response::{self, LifetimeLimits};

    /// A token endpoint's answer: the first two bytes are the status, the rest the body.
    pub fn token_response(data: &[u8]) {
        let (status, body) = match data {
            [high, low, body @ ..] => (u16::from_be_bytes([*high, *low]) % 600, body),
            _ => return,
        };
        let limits =
            LifetimeLimits { default: Duration::from_secs(300), max: Duration::from_secs(86_400) };
        match http::StatusCode::from_u16(status) {
            Ok(http::StatusCode::OK) => {
                if let Ok(parsed) = response::parse_success(body, limits) {
                    assert!(parsed.lifetime > Duration::ZERO && parsed.lifetime <= limits.max);
                    let _ = crate::AccessToken::new(
                        parsed.access_token,
                        parsed.scope,
                        std::time::SystemTime::now(),
                    );
                }
            }
            Ok(status) => {
                let error = response::parse_error(status, None, body);
                let _ = (error.to_string(), error.is_transient(), error.oauth_description());
            }
            Err(_) => {}
        }
    }

    /// A stored envelope: whatever parses must survive a round trip unchanged.
    pub fn token_envelope(data: &[u8]) {
        let Ok(json) = std::str::from_utf8(data) else { return };
        let Ok(envelope) = crate::TokenEnvelope::from_json(json) else { return };
        let again = crate::TokenEnvelope::from_json(secrecy::ExposeSecret::expose_secret(
            &envelope.to_json(),
        ))
        .unwrap_or_else(|e| panic!("an envelope that parsed did not round-trip: {e}"));
        assert_eq!(again.generation(), envelope.generation());
        assert_eq!(again.expires_at(), envelope.expires_at());
        let _ = envelope.token();
    }
}
