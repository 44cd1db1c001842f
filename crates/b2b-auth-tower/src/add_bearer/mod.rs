//! Client side: add `Authorization: Bearer` from a [`TokenProvider`] to outbound requests, and
//! retry once with a fresh token when the server says the token is no longer valid.
//!
//! The token comes from the provider's lock-free hot path (no network while it is fresh); the
//! header is marked sensitive so that `http`-aware loggers redact it. On a `401` whose
//! challenge is `error="invalid_token"` (or carries no error, as some servers answer expired
//! tokens), the layer [invalidates](TokenProvider::invalidate) that token — one refresh however
//! many requests saw the 401 — and sends the request once more with the new one, when its body
//! can be replayed ([`ReplayBody`]). It never retries on a `403`: a missing scope does not
//! change with a new token.
//!
//! ```
//! use std::convert::Infallible;
//! use b2b_auth_token::{ClientCredentials, TokenProvider};
//! use b2b_auth_tower::AddBearerLayer;
//! use tower::ServiceBuilder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = TokenProvider::builder(
//!     ClientCredentials::builder()
//!         .token_url("https://auth.tires.example/oauth2/token")
//!         .client_id("car-orders")
//!         .client_secret("from-your-secret-manager")
//!         .build()?,
//! )
//! .build()?;
//! // Any tower HTTP client service: hyper-util's client, or (here) a stand-in.
//! let client = tower::service_fn(|_request: http::Request<String>| async {
//!     Ok::<_, Infallible>(http::Response::new(String::new()))
//! });
//! let authenticated = ServiceBuilder::new().layer(AddBearerLayer::new(provider)).service(client);
//! # let _ = authenticated;
//! # Ok(())
//! # }
//! ```

mod layer;
mod service;

use b2b_auth_token::{AccessToken, TokenError, TokenProvider};
use bytes::Bytes;
use http::header::WWW_AUTHENTICATE;
use http::{HeaderMap, StatusCode};

pub use layer::AddBearerLayer;
pub use service::{AddBearer, ResponseFuture};

/// A request body that can be sent twice: the retry after a `401` needs a copy.
///
/// Implemented for the in-memory bodies (`()`, `String`, `Vec<u8>`, `Bytes`,
/// `http_body_util::Full`, `http_body_util::Empty`). For a streaming body,
/// [`try_clone`](Self::try_clone) returns `None` and the `401` is returned as it came.
pub trait ReplayBody: Sized {
    /// A copy to send again, or `None` when the body cannot be replayed.
    fn try_clone(&self) -> Option<Self>;
}

impl ReplayBody for () {
    fn try_clone(&self) -> Option<Self> {
        Some(())
    }
}

impl ReplayBody for String {
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for Vec<u8> {
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for Bytes {
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D: Clone> ReplayBody for http_body_util::Full<D> {
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D> ReplayBody for http_body_util::Empty<D> {
    fn try_clone(&self) -> Option<Self> {
        Some(Self::new())
    }
}

/// After a server refused `refused` (see [`token_refused`]): the token to retry with once, or
/// `None` when the provider has no newer one and the refusal stands. Invalidating makes one
/// refresh serve every request that saw the refusal.
pub(crate) async fn replacement_token(
    provider: &TokenProvider,
    refused: &AccessToken,
) -> Result<Option<AccessToken>, TokenError> {
    provider.invalidate(refused);
    let fresh = provider.token().await?;
    if fresh.generation() == refused.generation() {
        return Ok(None);
    }
    tracing::debug!(
        fingerprint = refused.fingerprint(),
        "token refused by the server; retrying once with a fresh one"
    );
    Ok(Some(fresh))
}

/// Whether a response says the token itself was refused, so that a fresh token may succeed:
/// a `401` whose `Bearer` challenge says `error="invalid_token"` or names no error (RFC 6750
/// §3.1). A `401` for another error, and any `403`, are final.
pub(crate) fn token_refused(status: StatusCode, headers: &HeaderMap) -> bool {
    if status != StatusCode::UNAUTHORIZED {
        return false;
    }
    let mut challenges = headers.get_all(WWW_AUTHENTICATE).iter().filter_map(|v| v.to_str().ok());
    match challenges.find(|c| c.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("bearer"))) {
        None => true,
        Some(bearer) => match bearer_error(bearer) {
            None => true,
            Some(error) => error == "invalid_token",
        },
    }
}

/// The `error` parameter of a `Bearer` challenge, unquoted.
fn bearer_error(challenge: &str) -> Option<&str> {
    let params = challenge.get(6..)?;
    params.split(',').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("error").then(|| value.trim().trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(challenges: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for challenge in challenges {
            headers.append(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        headers
    }

    #[test]
    fn only_a_refused_token_is_worth_a_new_one() {
        let unauthorized = StatusCode::UNAUTHORIZED;
        assert!(token_refused(
            unauthorized,
            &headers(&["Bearer realm=\"tires\", error=\"invalid_token\""])
        ));
        assert!(token_refused(unauthorized, &headers(&["Bearer error=invalid_token"])));
        assert!(token_refused(
            unauthorized,
            &headers(&["Basic realm=\"x\"", "bearer realm=\"tires\""])
        ));
        assert!(token_refused(unauthorized, &headers(&[])), "no challenge: assume the token");
        assert!(!token_refused(
            unauthorized,
            &headers(&["Bearer realm=\"t\", error=\"invalid_request\""])
        ));
        assert!(!token_refused(
            StatusCode::FORBIDDEN,
            &headers(&["Bearer error=\"insufficient_scope\""])
        ));
        assert!(!token_refused(StatusCode::FORBIDDEN, &headers(&[])));
        assert!(!token_refused(StatusCode::OK, &headers(&[])));
    }

    #[test]
    fn in_memory_bodies_replay() {
        assert_eq!("body".to_owned().try_clone().as_deref(), Some("body"));
        assert_eq!(Bytes::from_static(b"x").try_clone(), Some(Bytes::from_static(b"x")));
        assert!(http_body_util::Full::new(Bytes::from_static(b"x")).try_clone().is_some());
    }
}
