//! Errors: why a token could not be obtained ([`TokenError`]), and configuration mistakes
//! ([`ConfigError`]).

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

pub(crate) type BoxError = Arc<dyn StdError + Send + Sync>;

/// What kind of failure a [`TokenError`] is.
///
/// The RFC 6749 §5.2 error codes are permanent: retrying the same request cannot succeed.
/// Network failures, timeouts, 5xx and 429 are transient ([`TokenError::is_transient`]).
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// `invalid_client`: unknown client or wrong credentials.
    InvalidClient,
    /// `invalid_scope`: a scope is unknown or not allowed for the client.
    InvalidScope,
    /// `unauthorized_client`: the client may not use this grant.
    UnauthorizedClient,
    /// `unsupported_grant_type`.
    UnsupportedGrantType,
    /// `invalid_request`: the server found the request malformed.
    InvalidRequest,
    /// `invalid_grant`.
    InvalidGrant,
    /// Another OAuth error code; see [`TokenError::oauth_error`].
    OtherOAuth,
    /// 429 Too Many Requests; see [`TokenError::retry_after`].
    RateLimited,
    /// A 5xx answer.
    ServerError,
    /// Another unexpected HTTP status without an OAuth error body.
    UnexpectedStatus,
    /// The request timed out (connect or total).
    Timeout,
    /// The server could not be reached, or the connection broke.
    Connect,
    /// A 200 answer that is not a valid token response.
    InvalidResponse,
    /// The answer exceeded the configured size cap.
    ResponseTooLarge,
    /// The token endpoint could not be discovered from the issuer.
    Discovery,
    /// The `private_key_jwt` client assertion could not be signed.
    Signing,
    /// The token store failed.
    Store,
    /// The refresh task ended unexpectedly (the runtime shut down).
    Internal,
}

impl TokenErrorKind {
    fn describe(self) -> &'static str {
        match self {
            Self::InvalidClient => "token endpoint refused the client credentials (invalid_client)",
            Self::InvalidScope => "token endpoint refused the scope (invalid_scope)",
            Self::UnauthorizedClient => "client may not use this grant (unauthorized_client)",
            Self::UnsupportedGrantType => "token endpoint does not support client_credentials",
            Self::InvalidRequest => "token endpoint found the request malformed (invalid_request)",
            Self::InvalidGrant => "token endpoint refused the grant (invalid_grant)",
            Self::OtherOAuth => "token endpoint returned an oauth error",
            Self::RateLimited => "token endpoint is rate limiting (429)",
            Self::ServerError => "token endpoint failed (5xx)",
            Self::UnexpectedStatus => "token endpoint answered with an unexpected status",
            Self::Timeout => "token request timed out",
            Self::Connect => "cannot connect to the token endpoint",
            Self::InvalidResponse => "invalid token response",
            Self::ResponseTooLarge => "token response too large",
            Self::Discovery => "token endpoint discovery failed",
            Self::Signing => "cannot sign the client assertion",
            Self::Store => "token store failed",
            Self::Internal => "token refresh ended unexpectedly",
        }
    }
}

/// Why a token could not be obtained. Cheap to clone: one failed refresh is handed to every
/// caller that waited for it.
///
/// `Display` is short and lowercase and never contains a token or a secret; the server's
/// `error_description` is available through [`TokenError::oauth_description`].
#[derive(Clone)]
pub struct TokenError {
    kind: TokenErrorKind,
    status: Option<StatusCode>,
    retry_after: Option<Duration>,
    oauth: Option<Arc<OAuthErrorBody>>,
    source: Option<BoxError>,
}

/// The `error` and `error_description` members of an RFC 6749 §5.2 error response.
#[derive(Debug)]
pub(crate) struct OAuthErrorBody {
    pub(crate) error: String,
    pub(crate) description: Option<String>,
}

impl TokenError {
    /// An error of `kind`, for [`TokenSource`](crate::TokenSource) and
    /// [`TokenStore`](crate::TokenStore) implementations.
    pub fn new(kind: TokenErrorKind) -> Self {
        Self { kind, status: None, retry_after: None, oauth: None, source: None }
    }

    /// Attaches the underlying error (reachable through `Error::source`, never displayed).
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// Attaches the HTTP status of the answer.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Attaches the server's `Retry-After`, which the provider's back-off honours.
    pub fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        self.retry_after = after;
        self
    }

    pub(crate) fn with_oauth(mut self, body: OAuthErrorBody) -> Self {
        self.oauth = Some(Arc::new(body));
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TokenErrorKind {
        self.kind
    }

    /// Whether retrying later may succeed: timeouts, connection failures, 5xx, 429, 408 and
    /// store failures. OAuth errors (`invalid_client`, `invalid_scope`, ...) are permanent.
    pub fn is_transient(&self) -> bool {
        match self.kind {
            TokenErrorKind::RateLimited
            | TokenErrorKind::ServerError
            | TokenErrorKind::Timeout
            | TokenErrorKind::Connect
            | TokenErrorKind::Discovery
            | TokenErrorKind::Store
            | TokenErrorKind::Internal => true,
            TokenErrorKind::UnexpectedStatus => self.status == Some(StatusCode::REQUEST_TIMEOUT),
            _ => false,
        }
    }

    /// How long the server asked to wait (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The HTTP status of the answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.status
    }

    /// The RFC 6749 `error` code the server sent, if it sent one.
    pub fn oauth_error(&self) -> Option<&str> {
        self.oauth.as_deref().map(|o| o.error.as_str())
    }

    /// The server's `error_description`, if it sent one. Text from the server: log it with
    /// care.
    pub fn oauth_description(&self) -> Option<&str> {
        self.oauth.as_deref().and_then(|o| o.description.as_deref())
    }
}

impl fmt::Debug for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenError")
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("retry_after", &self.retry_after)
            .field("oauth_error", &self.oauth_error())
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let (TokenErrorKind::OtherOAuth, Some(code)) = (self.kind, self.oauth_error()) {
            write!(f, " ({code})")?;
        }
        if let (TokenErrorKind::UnexpectedStatus, Some(status)) = (self.kind, self.status) {
            write!(f, " ({status})")?;
        }
        Ok(())
    }
}

impl StdError for TokenError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn StdError + 'static))
    }
}

/// A configuration mistake, reported by `build()`, naming the setting at fault.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Neither a token URL nor an issuer to discover it from was set.
    #[error("no token url and no issuer to discover it from")]
    MissingTokenUrl,
    /// Both a token URL and an issuer were set.
    #[error("set either a token url or an issuer, not both")]
    ConflictingEndpoints,
    /// A URL does not parse or has no host.
    #[error("invalid {setting} url {url:?}: {reason}")]
    InvalidUrl {
        /// Which setting.
        setting: &'static str,
        /// The URL.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A URL is plain `http` while HTTPS is required.
    #[error("{setting} url {url:?} is not https (allow plain http to loopback only for tests)")]
    InsecureUrl {
        /// Which setting.
        setting: &'static str,
        /// The URL.
        url: String,
    },
    /// No client id.
    #[error("no client id")]
    MissingClientId,
    /// The client id cannot be sent (empty, control characters, or `:` with raw Basic).
    #[error("invalid client id: {reason}")]
    InvalidClientId {
        /// What is wrong.
        reason: &'static str,
    },
    /// The authentication method needs a credential that was not set.
    #[error("{method} needs {needs}")]
    MissingCredentials {
        /// The method.
        method: &'static str,
        /// What it needs.
        needs: &'static str,
    },
    /// A credential was set that the chosen method does not use.
    #[error("{method} does not use {unused}; remove it or choose another method")]
    ConflictingCredentials {
        /// The method.
        method: &'static str,
        /// The credential that would be ignored.
        unused: &'static str,
    },
    /// The private key for `private_key_jwt` does not load or does not fit the algorithm.
    #[error("invalid private key for {algorithm}")]
    InvalidPrivateKey {
        /// The algorithm asked for.
        algorithm: &'static str,
    },
    /// A scope is empty or holds characters RFC 6749 §3.3 forbids.
    #[error("invalid scope {scope:?}")]
    InvalidScope {
        /// The scope.
        scope: String,
    },
    /// An extra parameter would override one the client sets itself.
    #[error("parameter {name:?} is set by the client and cannot be overridden")]
    ReservedParameter {
        /// The parameter name.
        name: String,
    },
    /// A duration or ratio is out of range.
    #[error("{setting} {reason}")]
    OutOfRange {
        /// Which setting.
        setting: &'static str,
        /// The allowed range.
        reason: &'static str,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transience_follows_rfc6749_and_http_semantics() {
        let transient = [
            TokenErrorKind::RateLimited,
            TokenErrorKind::ServerError,
            TokenErrorKind::Timeout,
            TokenErrorKind::Connect,
        ];
        for kind in transient {
            assert!(TokenError::new(kind).is_transient(), "{kind:?}");
        }
        let permanent = [
            TokenErrorKind::InvalidClient,
            TokenErrorKind::InvalidScope,
            TokenErrorKind::UnauthorizedClient,
            TokenErrorKind::UnsupportedGrantType,
            TokenErrorKind::InvalidRequest,
            TokenErrorKind::InvalidResponse,
            TokenErrorKind::ResponseTooLarge,
        ];
        for kind in permanent {
            assert!(!TokenError::new(kind).is_transient(), "{kind:?}");
        }
        let timeout = TokenError::new(TokenErrorKind::UnexpectedStatus)
            .with_status(StatusCode::REQUEST_TIMEOUT);
        assert!(timeout.is_transient());
        let forbidden =
            TokenError::new(TokenErrorKind::UnexpectedStatus).with_status(StatusCode::FORBIDDEN);
        assert!(!forbidden.is_transient());
    }

    #[test]
    fn display_names_the_code_never_the_description() {
        let error = TokenError::new(TokenErrorKind::OtherOAuth).with_oauth(OAuthErrorBody {
            error: "access_denied".into(),
            description: Some("secret=hunter2".into()),
        });
        assert_eq!(error.to_string(), "token endpoint returned an oauth error (access_denied)");
        assert_eq!(error.oauth_description(), Some("secret=hunter2"));
    }
}
