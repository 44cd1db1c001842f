//! How the server-side layers refuse a request: an HTTP status with RFC 6750 headers, or —
//! for gRPC requests — the equivalent gRPC status, so that tonic servers work unchanged.

use std::fmt::Write as _;
use std::time::Duration;

use http::header::{CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// A gRPC status code (the subset the layers answer with).
///
/// See <https://grpc.github.io/grpc/core/md_doc_statuscodes.html>.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum GrpcStatus {
    /// 3: the request is malformed (HTTP 400).
    InvalidArgument,
    /// 7: authenticated, but not allowed (HTTP 403).
    PermissionDenied,
    /// 8: throttled or over quota (HTTP 429).
    ResourceExhausted,
    /// 13: the server is set up wrongly (HTTP 500).
    Internal,
    /// 14: a dependency such as the JWKS endpoint is down (HTTP 503).
    Unavailable,
    /// 16: no valid credentials (HTTP 401).
    Unauthenticated,
}

impl GrpcStatus {
    /// The numeric code, as sent in `grpc-status`.
    pub fn code(self) -> u8 {
        match self {
            Self::InvalidArgument => 3,
            Self::PermissionDenied => 7,
            Self::ResourceExhausted => 8,
            Self::Internal => 13,
            Self::Unavailable => 14,
            Self::Unauthenticated => 16,
        }
    }

    /// The gRPC status that stands for an HTTP rejection status.
    pub fn for_http(status: StatusCode) -> Self {
        match status {
            StatusCode::UNAUTHORIZED => Self::Unauthenticated,
            StatusCode::FORBIDDEN => Self::PermissionDenied,
            StatusCode::TOO_MANY_REQUESTS => Self::ResourceExhausted,
            StatusCode::BAD_REQUEST => Self::InvalidArgument,
            StatusCode::INTERNAL_SERVER_ERROR => Self::Internal,
            _ => Self::Unavailable,
        }
    }
}

/// Whether the request is gRPC (`content-type: application/grpc`, `application/grpc+proto`,
/// ...), to be answered with a gRPC status instead of an HTTP error status.
pub(crate) fn is_grpc<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.get(..16).is_some_and(|p| p.eq_ignore_ascii_case("application/grpc")))
}

/// A refusal: status, challenge, `Retry-After`, and a short message (for `grpc-message`;
/// HTTP answers carry no body, like tower-http's auth middleware).
#[derive(Clone, Debug)]
pub(crate) struct Rejection {
    status: StatusCode,
    www_authenticate: Option<HeaderValue>,
    retry_after: Option<Duration>,
    message: &'static str,
}

/// Characters `grpc-message` must percent-encode (the spec allows printable ASCII but `%`).
const GRPC_MESSAGE: &AsciiSet = &CONTROLS.add(b'%');

impl Rejection {
    /// A refusal with `status` and a short, fixed `message` (never request data).
    pub(crate) fn new(status: StatusCode, message: &'static str) -> Self {
        Self { status, www_authenticate: None, retry_after: None, message }
    }

    /// Adds a `WWW-Authenticate` challenge.
    pub(crate) fn www_authenticate(mut self, challenge: HeaderValue) -> Self {
        self.www_authenticate = Some(challenge);
        self
    }

    /// Adds `Retry-After`, in whole seconds rounded up.
    pub(crate) fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The response: the HTTP status and headers, or — when `grpc` — `200 OK` with
    /// `grpc-status` and `grpc-message` (a trailers-only gRPC answer), keeping the challenge
    /// and `Retry-After` headers.
    pub(crate) fn into_response<B: Default>(self, grpc: bool) -> Response<B> {
        let mut response = Response::new(B::default());
        let headers = response.headers_mut();
        if let Some(challenge) = self.www_authenticate {
            headers.insert(WWW_AUTHENTICATE, challenge);
        }
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if grpc {
            grpc_headers(headers, GrpcStatus::for_http(self.status), self.message);
        } else {
            *response.status_mut() = self.status;
        }
        response
    }
}

fn grpc_headers(headers: &mut HeaderMap, status: GrpcStatus, message: &str) {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.insert("grpc-status", HeaderValue::from(u16::from(status.code())));
    let encoded = utf8_percent_encode(message, GRPC_MESSAGE).to_string();
    if let Ok(value) = HeaderValue::try_from(encoded) {
        headers.insert("grpc-message", value);
    }
}

/// An RFC 6750 §3 `Bearer` challenge: `realm`, and `error`, `error_description` and `scope`
/// when given. Quoted-string values are escaped (RFC 9110 §5.6.4); characters a header cannot
/// carry are dropped.
pub(crate) fn bearer_challenge(
    realm: &str,
    error: Option<&str>,
    description: Option<&str>,
    scope: Option<&str>,
) -> HeaderValue {
    let mut challenge = String::from("Bearer");
    let mut separator = " ";
    for (name, value) in [
        ("realm", Some(realm)),
        ("error", error),
        ("error_description", description),
        ("scope", scope),
    ] {
        if let Some(value) = value {
            let _ = write!(challenge, "{separator}{name}=\"{}\"", quote(value));
            separator = ", ";
        }
    }
    HeaderValue::try_from(challenge).unwrap_or_else(|_| HeaderValue::from_static("Bearer"))
}

/// The inside of an RFC 9110 quoted-string: `"` and `\` escaped, non-printable dropped.
fn quote(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len());
    for c in value.chars().filter(|c| *c == ' ' || c.is_ascii_graphic()) {
        if matches!(c, '"' | '\\') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_follow_rfc6750_and_escape_their_values() {
        assert_eq!(bearer_challenge("tires", None, None, None), "Bearer realm=\"tires\"");
        assert_eq!(
            bearer_challenge("tires", Some("insufficient_scope"), None, Some("tires/orders.write")),
            "Bearer realm=\"tires\", error=\"insufficient_scope\", scope=\"tires/orders.write\""
        );
        assert_eq!(
            bearer_challenge("a\"b\\c\nd", Some("invalid_token"), Some("expired"), None),
            "Bearer realm=\"a\\\"b\\\\cd\", error=\"invalid_token\", error_description=\"expired\""
        );
    }

    #[test]
    fn http_rejections_carry_status_challenge_and_retry_after() {
        let response: Response<()> =
            Rejection::new(StatusCode::SERVICE_UNAVAILABLE, "keys unavailable")
                .retry_after(Duration::from_millis(1500))
                .into_response(false);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "2");
        assert!(response.headers().get("grpc-status").is_none());
    }

    #[test]
    fn grpc_rejections_are_grpc_statuses() {
        let challenge = bearer_challenge("tires", Some("invalid_token"), None, None);
        for (status, code) in [
            (StatusCode::UNAUTHORIZED, "16"),
            (StatusCode::FORBIDDEN, "7"),
            (StatusCode::TOO_MANY_REQUESTS, "8"),
            (StatusCode::SERVICE_UNAVAILABLE, "14"),
            (StatusCode::BAD_REQUEST, "3"),
            (StatusCode::INTERNAL_SERVER_ERROR, "13"),
        ] {
            let response: Response<()> = Rejection::new(status, "100% refused")
                .www_authenticate(challenge.clone())
                .into_response(true);
            assert_eq!(response.status(), StatusCode::OK, "gRPC errors travel in a 200");
            assert_eq!(response.headers()["grpc-status"], code);
            assert_eq!(response.headers()["grpc-message"], "100%25 refused");
            assert_eq!(response.headers()[CONTENT_TYPE], "application/grpc");
            assert_eq!(response.headers()[WWW_AUTHENTICATE], challenge);
        }
    }

    #[test]
    fn grpc_requests_are_recognised_by_content_type() {
        let request = |ct: &str| Request::builder().header(CONTENT_TYPE, ct).body(()).unwrap();
        assert!(is_grpc(&request("application/grpc")));
        assert!(is_grpc(&request("application/grpc+proto")));
        assert!(is_grpc(&request("Application/GRPC")));
        assert!(!is_grpc(&request("application/json")));
        assert!(!is_grpc(&Request::new(())));
    }
}
