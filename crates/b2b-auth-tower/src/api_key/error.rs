//! Why a request was refused, and what a configuration got wrong.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

/// Why [`ApiKeyLayer`](super::ApiKeyLayer) refused a request. It rides in the refusal's
/// response extensions, for logging middleware further out; the response itself says less
/// (an unknown key and a key of another client get the same answer).
///
/// `Display` is short and lowercase, and never contains key material.
#[derive(Clone, Debug)]
pub struct ApiKeyError {
    kind: ApiKeyErrorKind,
    key_id: Option<Arc<str>>,
    retry_after: Option<Duration>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

/// The kind of an [`ApiKeyError`], and the status it is answered with.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum ApiKeyErrorKind {
    /// No `x-api-key` header, or an empty one: 403 (as API Gateway).
    MissingKey,
    /// More than one `x-api-key` header: 400.
    MultipleKeys,
    /// A key that is not configured (or was revoked): 403.
    UnknownKey,
    /// The key's client requires a verified token ([`ClientBinding::RequireToken`]) and the
    /// request carries none: 403.
    ///
    /// [`ClientBinding::RequireToken`]: super::ClientBinding::RequireToken
    TokenRequired,
    /// The key belongs to another client than the verified token: 403.
    ClientMismatch,
    /// The key's throttle has no token left: 429 with `Retry-After` (the time to the next).
    Throttled,
    /// The key's quota for the current period is used up: 429 with `Retry-After` (the time
    /// to the next period).
    QuotaExceeded,
    /// The usage store failed and the layer is set to refuse then
    /// ([`OnStoreError::Refuse`]): 503 with `Retry-After`.
    ///
    /// [`OnStoreError::Refuse`]: super::OnStoreError::Refuse
    StoreUnavailable,
}

impl ApiKeyErrorKind {
    /// The HTTP status the request is refused with (gRPC requests get the matching gRPC
    /// status: `PERMISSION_DENIED`, `INVALID_ARGUMENT`, `RESOURCE_EXHAUSTED`, `UNAVAILABLE`).
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingKey | Self::UnknownKey | Self::TokenRequired | Self::ClientMismatch => {
                StatusCode::FORBIDDEN
            }
            Self::MultipleKeys => StatusCode::BAD_REQUEST,
            Self::Throttled | Self::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            Self::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the caller is told (`grpc-message`): an unknown key and a key of another client
    /// read the same, so that a refusal never confirms that a key exists.
    pub(crate) fn public_message(self) -> &'static str {
        match self {
            Self::MissingKey => "missing api key",
            Self::MultipleKeys => "more than one api key",
            Self::UnknownKey | Self::ClientMismatch => "invalid api key",
            Self::TokenRequired => "api key requires a bearer token",
            Self::Throttled => "too many requests",
            Self::QuotaExceeded => "quota exceeded",
            Self::StoreUnavailable => "usage limits unavailable",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Self::MissingKey => "missing api key",
            Self::MultipleKeys => "more than one api key",
            Self::UnknownKey => "unknown api key",
            Self::TokenRequired => "api key without a verified token",
            Self::ClientMismatch => "api key of another client than the token's",
            Self::Throttled => "api key throttled",
            Self::QuotaExceeded => "api key quota exceeded",
            Self::StoreUnavailable => "usage store unavailable",
        }
    }
}

impl fmt::Display for ApiKeyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

impl ApiKeyError {
    pub(crate) fn new(kind: ApiKeyErrorKind) -> Self {
        Self { kind, key_id: None, retry_after: None, source: None }
    }

    pub(crate) fn with_key_id(mut self, key_id: Arc<str>) -> Self {
        self.key_id = Some(key_id);
        self
    }

    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The kind of refusal.
    pub fn kind(&self) -> ApiKeyErrorKind {
        self.kind
    }

    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The id of the configured key the request presented, when it was found (throttled,
    /// over quota, another client's key).
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// How long the caller should wait (`Retry-After`): for 429 and 503 refusals.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for ApiKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.description())?;
        if let Some(id) = &self.key_id {
            write!(f, " (key {id})")?;
        }
        Ok(())
    }
}

impl StdError for ApiKeyError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}
