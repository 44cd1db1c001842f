//! RFC 6749 §5.2 error responses of the token endpoint.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// An RFC 6749 §5.2 error code.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The request is malformed: wrong content type, repeated or missing parameter, two
    /// authentication methods, oversized body.
    InvalidRequest,
    /// Client authentication failed: unknown client, wrong secret, no credentials.
    InvalidClient,
    /// The grant is invalid (not used by the client-credentials grant; listed for clients that
    /// map every code).
    InvalidGrant,
    /// The client may not use this grant type.
    UnauthorizedClient,
    /// The grant type is not `client_credentials`.
    UnsupportedGrantType,
    /// A requested scope is malformed, unknown or not allowed for the client.
    InvalidScope,
    /// Not in RFC 6749: the issuer itself failed (e.g. could not sign). Never caused by input.
    ServerError,
}

impl ErrorCode {
    /// The code as it appears in the `error` member of the response.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused token request, answered as RFC 6749 §5.2 describes: a JSON body with `error` and
/// `error_description`, status 400 (401 with `WWW-Authenticate` for `invalid_client`, 413 for
/// an oversized body), `Cache-Control: no-store`.
///
/// The description is fixed text: it never echoes the request, so it never echoes a secret.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OAuthError {
    code: ErrorCode,
    description: &'static str,
    status: StatusCode,
}

impl OAuthError {
    pub(crate) fn new(code: ErrorCode, description: &'static str) -> Self {
        let status = match code {
            ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Self { code, description, status }
    }

    pub(crate) fn invalid_request(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub(crate) fn invalid_client(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub(crate) fn invalid_scope(description: &'static str) -> Self {
        Self::new(ErrorCode::InvalidScope, description)
    }

    pub(crate) fn body_too_large() -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..Self::invalid_request("request body too large")
        }
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The human-readable description.
    pub fn description(&self) -> &'static str {
        self.description
    }

    /// The HTTP status the endpoint answers with.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        no_store(headers);
        if self.code == ErrorCode::InvalidClient {
            // RFC 6749 §5.2: a 401 names the authentication scheme the client should use.
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"b2b-auth-issuer\", charset=\"UTF-8\""),
            );
        }
        response
    }
}

/// RFC 6749 §5.1: token responses and their errors must not be cached.
pub(crate) fn no_store(headers: &mut http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
