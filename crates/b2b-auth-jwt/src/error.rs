//! Errors: why a token was refused ([`VerifyError`]), why a key set could not be used
//! ([`JwksError`]), and what is wrong with a configuration ([`ConfigError`]).

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::scope::ScopeDenied;

pub(crate) type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Why a token was refused. Opaque: match on [`VerifyError::kind`].
///
/// `Display` is short, lowercase and never contains the token. The underlying cause, when
/// there is one (a JWKS fetch failure, a JSON error), is the [`source`](StdError::source).
#[derive(Debug)]
pub struct VerifyError {
    kind: VerifyErrorKind,
    retry_after: Option<Duration>,
    denied: Option<Box<ScopeDenied>>,
    source: Option<BoxError>,
}

/// What kind of failure a [`VerifyError`] is. Each kind maps to exactly one RFC 6750 answer,
/// see [`VerifyErrorKind::bearer_error`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// The `Authorization` header carries no bearer token (absent, or another scheme).
    MissingToken,
    /// The `Authorization` header is not a well-formed `Bearer` credential (RFC 6750 §2.1).
    InvalidRequest,
    /// Longer than the configured maximum token length.
    TokenTooLarge,
    /// Not a compact JWS/JWT: segments, base64url, JSON shape or a claim of the wrong type.
    Malformed,
    /// The header names a `crit` extension; none is understood (RFC 7515 §4.1.11).
    UnsupportedCritical,
    /// `alg` is absent, `none`, symmetric, unknown, not allowed, or does not fit the key.
    InvalidAlgorithm,
    /// No key of the issuer's key set has the token's `kid` (after at most one refresh).
    UnknownKey,
    /// The signature does not verify.
    InvalidSignature,
    /// `iss` is absent or not a trusted issuer.
    UntrustedIssuer,
    /// `exp` has passed (leeway included), or a required claim is missing.
    Expired,
    /// `nbf` or `iat` lies in the future (leeway included).
    NotYetValid,
    /// `iat` is older than the configured maximum token age.
    TooOld,
    /// `aud` or the client id is not in the allowlist.
    WrongAudience,
    /// Cognito's `token_use` is absent or not the required one (`access`).
    WrongTokenUse,
    /// The header `typ` is absent or not the required one (e.g. `at+jwt`, RFC 9068).
    WrongType,
    /// A required claim is missing or a claim has the wrong JSON type.
    InvalidClaim,
    /// The token is valid but its scopes do not satisfy the route's [`ScopePolicy`].
    ///
    /// [`ScopePolicy`]: crate::ScopePolicy
    InsufficientScope,
    /// The issuer's keys cannot be had (never fetched, or stale past the allowed window and
    /// the endpoint failing). Not the caller's fault: retry after
    /// [`VerifyError::retry_after`].
    JwksUnavailable,
}

/// The RFC 6750 §3 answer a resource server gives for a [`VerifyErrorKind`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum BearerError {
    /// No bearer credentials: 401 with `WWW-Authenticate: Bearer realm=...` and no error code
    /// (RFC 6750 §3.1).
    MissingToken,
    /// `invalid_request`: 400.
    InvalidRequest,
    /// `invalid_token`: 401.
    InvalidToken,
    /// `insufficient_scope`: 403, with the required `scope`.
    InsufficientScope,
    /// The keys to check the token are unavailable: 503 with `Retry-After`.
    Unavailable,
}

impl BearerError {
    /// The `error` code of the `WWW-Authenticate` challenge, if the answer has one.
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::InvalidRequest => Some("invalid_request"),
            Self::InvalidToken => Some("invalid_token"),
            Self::InsufficientScope => Some("insufficient_scope"),
            Self::MissingToken | Self::Unavailable => None,
        }
    }

    /// The HTTP status of the answer.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingToken | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl VerifyErrorKind {
    /// The RFC 6750 answer for this kind.
    ///
    /// ```
    /// use b2b_auth_jwt::{BearerError, VerifyErrorKind};
    /// assert_eq!(VerifyErrorKind::Expired.bearer_error(), BearerError::InvalidToken);
    /// assert_eq!(VerifyErrorKind::InsufficientScope.bearer_error().status(), 403);
    /// ```
    pub fn bearer_error(self) -> BearerError {
        match self {
            Self::MissingToken => BearerError::MissingToken,
            Self::InvalidRequest => BearerError::InvalidRequest,
            Self::InsufficientScope => BearerError::InsufficientScope,
            Self::JwksUnavailable => BearerError::Unavailable,
            Self::TokenTooLarge
            | Self::Malformed
            | Self::UnsupportedCritical
            | Self::InvalidAlgorithm
            | Self::UnknownKey
            | Self::InvalidSignature
            | Self::UntrustedIssuer
            | Self::Expired
            | Self::NotYetValid
            | Self::TooOld
            | Self::WrongAudience
            | Self::WrongTokenUse
            | Self::WrongType
            | Self::InvalidClaim => BearerError::InvalidToken,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Self::MissingToken => "no bearer token",
            Self::InvalidRequest => "malformed bearer credentials",
            Self::TokenTooLarge => "token too large",
            Self::Malformed => "malformed token",
            Self::UnsupportedCritical => "unsupported critical header",
            Self::InvalidAlgorithm => "algorithm not accepted",
            Self::UnknownKey => "unknown signing key",
            Self::InvalidSignature => "invalid signature",
            Self::UntrustedIssuer => "untrusted issuer",
            Self::Expired => "token expired",
            Self::NotYetValid => "token not yet valid",
            Self::TooOld => "token too old",
            Self::WrongAudience => "audience or client not allowed",
            Self::WrongTokenUse => "wrong token_use",
            Self::WrongType => "wrong token type",
            Self::InvalidClaim => "invalid claim",
            Self::InsufficientScope => "insufficient scope",
            Self::JwksUnavailable => "signing keys unavailable",
        }
    }
}

impl VerifyError {
    pub(crate) fn new(kind: VerifyErrorKind) -> Self {
        Self { kind, retry_after: None, denied: None, source: None }
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub(crate) fn unavailable(retry_after: Duration, source: Option<BoxError>) -> Self {
        Self {
            kind: VerifyErrorKind::JwksUnavailable,
            retry_after: Some(retry_after),
            denied: None,
            source,
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> VerifyErrorKind {
        self.kind
    }

    /// The RFC 6750 answer: status, `error` code. Same as `self.kind().bearer_error()`.
    pub fn bearer_error(&self) -> BearerError {
        self.kind.bearer_error()
    }

    /// For [`VerifyErrorKind::JwksUnavailable`]: when to try again (the `Retry-After` of a
    /// 503), at least one second.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// For [`VerifyErrorKind::InsufficientScope`]: which requirement failed.
    pub fn scope_denied(&self) -> Option<&ScopeDenied> {
        self.denied.as_deref()
    }
}

impl From<ScopeDenied> for VerifyError {
    fn from(denied: ScopeDenied) -> Self {
        Self {
            kind: VerifyErrorKind::InsufficientScope,
            retry_after: None,
            denied: Some(Box::new(denied)),
            source: None,
        }
    }
}

impl From<VerifyErrorKind> for VerifyError {
    fn from(kind: VerifyErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(denied) = &self.denied {
            write!(f, ": {denied}")?;
        }
        Ok(())
    }
}

impl StdError for VerifyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

/// Why a JWKS (or discovery document) could not be used. Opaque: match on
/// [`JwksError::kind`].
#[derive(Clone, Debug)]
pub struct JwksError {
    kind: JwksErrorKind,
    detail: Option<String>,
    source: Option<std::sync::Arc<dyn StdError + Send + Sync + 'static>>,
}

/// What kind of failure a [`JwksError`] is.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum JwksErrorKind {
    /// Not a JWK Set: not JSON, not an object, no `keys` array, duplicate members.
    Malformed,
    /// More keys than the configured maximum.
    TooManyKeys,
    /// The response body is larger than the configured maximum.
    TooLarge,
    /// The answer was a redirect; redirects are never followed.
    Redirect,
    /// The answer's status was not 200.
    Status,
    /// The answer's `Content-Type` is not `application/json` or `application/jwk-set+json`.
    ContentType,
    /// The request did not complete in time.
    Timeout,
    /// The connection failed or broke off.
    Network,
    /// The discovery document is unusable: not JSON, `issuer` differs from the configured
    /// issuer, or no usable `jwks_uri`.
    Discovery,
}

impl JwksError {
    pub(crate) fn new(kind: JwksErrorKind) -> Self {
        Self { kind, detail: None, source: None }
    }

    pub(crate) fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(std::sync::Arc::from(source.into()));
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> JwksErrorKind {
        self.kind
    }
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            JwksErrorKind::Malformed => "malformed jwk set",
            JwksErrorKind::TooManyKeys => "too many keys in jwk set",
            JwksErrorKind::TooLarge => "jwks response too large",
            JwksErrorKind::Redirect => "jwks endpoint redirected (not followed)",
            JwksErrorKind::Status => "jwks endpoint answered with an error status",
            JwksErrorKind::ContentType => "jwks response has the wrong content type",
            JwksErrorKind::Timeout => "jwks request timed out",
            JwksErrorKind::Network => "jwks request failed",
            JwksErrorKind::Discovery => "unusable discovery document",
        })?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl StdError for JwksError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}

/// A configuration mistake, reported by a `build()`. Names the bad input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A URL setting does not parse, or is not `https` (plain `http` is accepted for loopback
    /// hosts only, unless allowed).
    #[error("{name}: invalid url {url:?}: {reason}")]
    InvalidUrl {
        /// The setting.
        name: &'static str,
        /// The value given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A setting is out of its range.
    #[error("{name}: {reason}")]
    InvalidSetting {
        /// The setting.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key source was not given (no JWKS URL, discovery or static key set).
    #[error("jwks: no key source (uri, discovery or static keys)")]
    NoKeySource,
    /// A verifier without any trusted issuer.
    #[error("verifier: no trusted issuer")]
    NoIssuer,
    /// The same issuer was configured twice.
    #[error("verifier: issuer {0:?} configured twice")]
    DuplicateIssuer(String),
    /// An issuer with neither an audience nor a client-id allowlist: say which one to check,
    /// or opt out explicitly with `any_audience()`.
    #[error("issuer {0:?}: no audience or client id allowlist (or any_audience())")]
    NoAudience(String),
    /// An empty algorithm allowlist.
    #[error("issuer {0:?}: empty algorithm allowlist")]
    NoAlgorithms(String),
    /// A Cognito user pool id that is not `<region>_<id>` of the given region.
    #[error("cognito: user pool id {pool_id:?} does not belong to region {region:?}")]
    CognitoPool {
        /// The region given.
        region: String,
        /// The user pool id given.
        pool_id: String,
    },
    /// The HTTP client could not be built (TLS backend unavailable).
    #[error("jwks: http client: {0}")]
    HttpClient(#[source] BoxError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_map_to_rfc6750() {
        use VerifyErrorKind::*;
        assert_eq!(MissingToken.bearer_error().error_code(), None);
        assert_eq!(MissingToken.bearer_error().status(), 401);
        assert_eq!(InvalidRequest.bearer_error().error_code(), Some("invalid_request"));
        assert_eq!(InvalidRequest.bearer_error().status(), 400);
        for kind in [Malformed, Expired, UnknownKey, InvalidSignature, WrongAudience, TooOld] {
            assert_eq!(kind.bearer_error().error_code(), Some("invalid_token"), "{kind:?}");
            assert_eq!(kind.bearer_error().status(), 401);
        }
        assert_eq!(InsufficientScope.bearer_error().error_code(), Some("insufficient_scope"));
        assert_eq!(InsufficientScope.bearer_error().status(), 403);
        assert_eq!(JwksUnavailable.bearer_error().status(), 503);
    }

    #[test]
    fn display_is_short_and_lowercase() {
        let error = VerifyError::new(VerifyErrorKind::InvalidSignature)
            .with_source(JwksError::new(JwksErrorKind::Timeout));
        assert_eq!(error.to_string(), "invalid signature");
        assert_eq!(
            error.source().map(ToString::to_string).as_deref(),
            Some("jwks request timed out")
        );
    }
}
