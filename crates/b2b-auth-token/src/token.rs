//! The access token handed to callers: the secret value, its ready-made `Authorization`
//! header, and what is known about it.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use aws_lc_rs::digest::{SHA256, digest};
use http::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{TokenError, TokenErrorKind};

/// Process-wide counter: every token gets its own generation, so that [`invalidate`] can tell
/// "the token that got a 401" from its replacement.
///
/// [`invalidate`]: crate::TokenProvider::invalidate
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// A bearer access token. Cheap to clone (one reference count).
///
/// `Debug` shows a fingerprint (the first 8 hex digits of the token's SHA-256), never the
/// token. Get the value with [`AccessToken::expose_secret`] or, for an HTTP request, the
/// prepared [`AccessToken::authorization`] header, which is marked sensitive.
#[derive(Clone)]
pub struct AccessToken {
    inner: Arc<Inner>,
}

struct Inner {
    secret: SecretString,
    authorization: HeaderValue,
    scope: Option<String>,
    expires_at: SystemTime,
    generation: u64,
}

impl AccessToken {
    /// Builds a token, checking that it can travel in an `Authorization: Bearer` header.
    ///
    /// # Errors
    /// [`TokenErrorKind::InvalidResponse`] for an empty token or one with characters a header
    /// cannot carry.
    pub fn new(
        value: impl Into<String>,
        scope: Option<String>,
        expires_at: SystemTime,
    ) -> Result<Self, TokenError> {
        let value: String = value.into();
        // RFC 6750 §2.1 b64token: visible ASCII, no spaces; anything else would not survive
        // (or would split) the header.
        if value.is_empty() || !value.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(TokenError::new(TokenErrorKind::InvalidResponse));
        }
        let mut authorization = HeaderValue::try_from(format!("Bearer {value}"))
            .map_err(|_| TokenError::new(TokenErrorKind::InvalidResponse))?;
        authorization.set_sensitive(true);
        Ok(Self {
            inner: Arc::new(Inner {
                secret: SecretString::from(value),
                authorization,
                scope,
                expires_at,
                generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
            }),
        })
    }

    /// The same token (value, scope, expiry, generation) in its own allocation, so that
    /// threads holding different replicas never contend on one reference count.
    pub(crate) fn replica(&self) -> Self {
        let inner = &*self.inner;
        let mut authorization = HeaderValue::from_bytes(inner.authorization.as_bytes())
            .unwrap_or_else(|_| inner.authorization.clone());
        authorization.set_sensitive(true);
        Self {
            inner: Arc::new(Inner {
                secret: inner.secret.clone(),
                authorization,
                scope: inner.scope.clone(),
                expires_at: inner.expires_at,
                generation: inner.generation,
            }),
        }
    }

    /// The token itself. Send it to the resource server; never log it.
    pub fn expose_secret(&self) -> &str {
        self.inner.secret.expose_secret()
    }

    /// `Bearer <token>`, ready for the `Authorization` header (marked sensitive, so that
    /// `http`-aware loggers redact it).
    pub fn authorization(&self) -> &HeaderValue {
        &self.inner.authorization
    }

    /// The scopes the server granted, if it said.
    pub fn scope(&self) -> Option<&str> {
        self.inner.scope.as_deref()
    }

    /// When the token expires, computed from when its request was sent.
    pub fn expires_at(&self) -> SystemTime {
        self.inner.expires_at
    }

    /// A process-unique number per token: a refreshed token has a higher one.
    pub fn generation(&self) -> u64 {
        self.inner.generation
    }

    /// A short, non-reversible identifier for logs: `sha256:` and 8 hex digits.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.expose_secret())
    }
}

/// `sha256:` and the first 8 hex digits of the SHA-256 of `secret`.
pub(crate) fn fingerprint(secret: &str) -> String {
    let hash = digest(&SHA256, secret.as_bytes());
    let hex: String = hash.as_ref().iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("fingerprint", &self.fingerprint())
            .field("scope", &self.inner.scope)
            .field("expires_at", &self.inner.expires_at)
            .field("generation", &self.inner.generation)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_a_fingerprint_never_the_token() {
        let token =
            AccessToken::new("eyJhbGciOi.payload.sig", None, SystemTime::UNIX_EPOCH).unwrap();
        let debug = format!("{token:?}");
        assert!(!debug.contains("eyJ"), "{debug}");
        assert!(debug.contains("sha256:"), "{debug}");
        assert!(token.authorization().is_sensitive());
        assert_eq!(token.authorization(), "Bearer eyJhbGciOi.payload.sig");
    }

    #[test]
    fn tokens_that_cannot_be_headers_are_refused() {
        for bad in ["", "two words", "line\nbreak", "tab\t", "ünïcode"] {
            let result = AccessToken::new(bad, None, SystemTime::UNIX_EPOCH);
            assert_eq!(result.unwrap_err().kind(), TokenErrorKind::InvalidResponse, "{bad:?}");
        }
    }

    #[test]
    fn replicas_are_the_same_token_in_another_allocation() {
        let token = AccessToken::new("abc", Some("s".into()), SystemTime::UNIX_EPOCH).unwrap();
        let replica = token.replica();
        assert!(!Arc::ptr_eq(&token.inner, &replica.inner));
        assert_eq!(replica.expose_secret(), "abc");
        assert_eq!(replica.generation(), token.generation());
        assert_eq!(replica.scope(), Some("s"));
        assert_eq!(replica.authorization(), token.authorization());
        assert!(replica.authorization().is_sensitive());
    }

    #[test]
    fn generations_increase() {
        let a = AccessToken::new("a", None, SystemTime::UNIX_EPOCH).unwrap();
        let b = AccessToken::new("a", None, SystemTime::UNIX_EPOCH).unwrap();
        assert!(b.generation() > a.generation());
        assert_eq!(a.fingerprint(), b.fingerprint());
    }
}
