//! Why the require-bearer layer refused a request, and the RFC 6750 answer for it.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use b2b_auth_jwt::{BearerError, VerifyError, VerifyErrorKind};
use http::{Response, StatusCode};

use crate::reject::{Rejection, bearer_challenge};

/// Why the require-bearer layer refused a request. A refusal's response carries it in its
/// extensions, for logging and metrics further out:
/// `response.extensions().get::<BearerRejection>()`.
///
/// `Display` is short, lowercase, and never contains the token.
#[derive(Clone, Debug)]
pub struct BearerRejection {
    kind: BearerRejectionKind,
    error: Option<Arc<VerifyError>>,
}

/// What kind of refusal a [`BearerRejection`] is.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum BearerRejectionKind {
    /// The verifier or the route's scope policy refused the token, or there was none; the
    /// [`VerifyError`] says why ([`BearerRejection::verify_error`]).
    Verify(VerifyErrorKind),
    /// Several credentials: more than one `Authorization` header (RFC 6750 §3.1: "uses more
    /// than one method for including an access token" answers `invalid_request`).
    MultipleCredentials,
    /// An `access_token` query parameter. Tokens in URLs end up in logs and histories
    /// (RFC 6750 §5.3), so only the `Authorization` header is read, and a request that
    /// carries a token in its query is refused with `invalid_request` rather than answered as
    /// if it had none.
    TokenInQuery,
    /// The path is not canonical (see `b2b_auth_policy::canonical_path`), so the route it
    /// matches could differ from the one that serves it. Only checked with per-route policies.
    NonCanonicalPath,
    /// No route matches the request and the route table has no fallback. Answered after the
    /// token verified, so that an anonymous caller learns nothing about the routes.
    NoRoute,
}

impl BearerRejection {
    pub(crate) fn new(kind: BearerRejectionKind) -> Self {
        Self { kind, error: None }
    }

    pub(crate) fn verify(error: VerifyError) -> Self {
        Self { kind: BearerRejectionKind::Verify(error.kind()), error: Some(Arc::new(error)) }
    }

    /// What kind of refusal this is.
    pub fn kind(&self) -> BearerRejectionKind {
        self.kind
    }

    /// The verifier's error, for [`BearerRejectionKind::Verify`].
    pub fn verify_error(&self) -> Option<&VerifyError> {
        self.error.as_deref()
    }

    /// The RFC 6750 answer.
    pub fn bearer_error(&self) -> BearerError {
        match self.kind {
            BearerRejectionKind::Verify(kind) => kind.bearer_error(),
            BearerRejectionKind::MultipleCredentials
            | BearerRejectionKind::TokenInQuery
            | BearerRejectionKind::NonCanonicalPath => BearerError::InvalidRequest,
            BearerRejectionKind::NoRoute => BearerError::InsufficientScope,
        }
    }

    /// The HTTP status of the answer (gRPC requests get the matching gRPC status).
    pub fn status(&self) -> StatusCode {
        self.bearer_error().status()
    }

    /// The refusal: status, `WWW-Authenticate` challenge (RFC 6750 §3), `Retry-After` when the
    /// keys are unavailable, this rejection in the extensions.
    pub(crate) fn response<B: Default>(&self, realm: &str, grpc: bool) -> Response<B> {
        let bearer = self.bearer_error();
        let (message, description) = match bearer {
            BearerError::MissingToken => ("missing bearer token", None),
            BearerError::InvalidRequest => ("invalid bearer request", Some(self.to_string())),
            BearerError::InvalidToken => ("invalid bearer token", Some(self.to_string())),
            // The `scope` attribute says what is missing; the policy's shape stays private.
            BearerError::InsufficientScope => ("insufficient scope", None),
            _ => ("token verification unavailable", None),
        };
        let mut rejection = Rejection::new(bearer.status(), message);
        if bearer != BearerError::Unavailable {
            let scope = self.error.as_ref().and_then(|e| e.scope_denied()).map(|d| d.scope_param());
            rejection = rejection.www_authenticate(bearer_challenge(
                realm,
                bearer.error_code(),
                description.as_deref(),
                scope.as_deref().filter(|s| !s.is_empty()),
            ));
        }
        if let Some(after) = self.error.as_ref().and_then(|e| e.retry_after()) {
            rejection = rejection.retry_after(after);
        }
        let mut response = rejection.into_response(grpc);
        response.extensions_mut().insert(self.clone());
        response
    }
}

impl fmt::Display for BearerRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(error) = &self.error {
            return error.fmt(f);
        }
        f.write_str(match self.kind {
            BearerRejectionKind::MultipleCredentials => "multiple credentials",
            BearerRejectionKind::TokenInQuery => "access token in the query",
            BearerRejectionKind::NonCanonicalPath => "non-canonical path",
            BearerRejectionKind::NoRoute => "no route matches",
            BearerRejectionKind::Verify(_) => "token refused",
        })
    }
}

impl StdError for BearerRejection {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.as_deref().map(|e| e as &(dyn StdError + 'static))
    }
}
