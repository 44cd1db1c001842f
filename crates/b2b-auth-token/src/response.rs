//! Parsing token endpoint answers, strictly (RFC 6749 §5.1 and §5.2).

use std::time::Duration;

use http::StatusCode;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::error::{OAuthErrorBody, TokenError, TokenErrorKind};

/// The members of a successful token response the client uses.
#[derive(Debug, Eq, PartialEq)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) scope: Option<String>,
    pub(crate) lifetime: Duration,
}

/// Lifetimes when the server omits or overstates `expires_in`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LifetimeLimits {
    /// Used when `expires_in` is missing.
    pub(crate) default: Duration,
    /// Upper bound: a token is never trusted for longer.
    pub(crate) max: Duration,
}

#[derive(Deserialize)]
struct RawSuccess {
    access_token: String,
    token_type: String,
    #[serde(default, deserialize_with = "expires_in")]
    expires_in: Option<u64>,
    #[serde(default)]
    scope: Option<String>,
}

/// `expires_in` as a JSON integer, or as a string of digits (some servers send one).
fn expires_in<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(u64),
        Text(String),
    }
    match Option::<Number>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Number::Int(secs)) => Ok(Some(secs)),
        Some(Number::Text(text))
            if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            text.parse().map(Some).map_err(de::Error::custom)
        }
        Some(Number::Text(_)) => Err(de::Error::custom("expires_in is not a number")),
    }
}

/// Parses a 200 answer. `token_type` must be `Bearer` (any case); `expires_in` must be
/// positive when present.
pub(crate) fn parse_success(
    body: &[u8],
    limits: LifetimeLimits,
) -> Result<TokenResponse, TokenError> {
    let invalid = || TokenError::new(TokenErrorKind::InvalidResponse);
    let raw: RawSuccess = serde_json::from_slice(body).map_err(|e| invalid().with_source(e))?;
    if !raw.token_type.eq_ignore_ascii_case("bearer") {
        return Err(invalid());
    }
    let lifetime = match raw.expires_in {
        None => limits.default,
        Some(0) => return Err(invalid()),
        Some(secs) => Duration::from_secs(secs).min(limits.max),
    };
    Ok(TokenResponse { access_token: raw.access_token, scope: raw.scope, lifetime })
}

#[derive(Deserialize)]
struct RawError {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Longest `error_description` kept.
const MAX_DESCRIPTION: usize = 512;

/// Turns a non-200 answer into a typed error: 429 and 5xx are transient whatever their body;
/// an RFC 6749 §5.2 body gives the code; anything else is an unexpected status.
pub(crate) fn parse_error(
    status: StatusCode,
    retry_after: Option<Duration>,
    body: &[u8],
) -> TokenError {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return TokenError::new(TokenErrorKind::RateLimited)
            .with_status(status)
            .with_retry_after(retry_after);
    }
    if status.is_server_error() {
        return TokenError::new(TokenErrorKind::ServerError)
            .with_status(status)
            .with_retry_after(retry_after);
    }
    let Some(raw) =
        serde_json::from_slice::<RawError>(body).ok().filter(|_| status.is_client_error())
    else {
        return TokenError::new(TokenErrorKind::UnexpectedStatus).with_status(status);
    };
    let kind = match raw.error.as_str() {
        "invalid_client" => TokenErrorKind::InvalidClient,
        "invalid_scope" => TokenErrorKind::InvalidScope,
        "unauthorized_client" => TokenErrorKind::UnauthorizedClient,
        "unsupported_grant_type" => TokenErrorKind::UnsupportedGrantType,
        "invalid_request" => TokenErrorKind::InvalidRequest,
        "invalid_grant" => TokenErrorKind::InvalidGrant,
        _ => TokenErrorKind::OtherOAuth,
    };
    let description = raw.error_description.map(|mut d| {
        if d.len() > MAX_DESCRIPTION {
            let cut = (0..=MAX_DESCRIPTION).rev().find(|i| d.is_char_boundary(*i)).unwrap_or(0);
            d.truncate(cut);
        }
        d
    });
    let mut error = raw.error;
    error.truncate(error.char_indices().nth(64).map_or(error.len(), |(i, _)| i));
    TokenError::new(kind)
        .with_status(status)
        .with_retry_after(retry_after)
        .with_oauth(OAuthErrorBody { error, description })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: LifetimeLimits =
        LifetimeLimits { default: Duration::from_secs(300), max: Duration::from_secs(86_400) };

    fn ok(body: &str) -> TokenResponse {
        parse_success(body.as_bytes(), LIMITS).unwrap()
    }

    fn kind(body: &str) -> TokenErrorKind {
        parse_success(body.as_bytes(), LIMITS).unwrap_err().kind()
    }

    #[test]
    fn success_bodies_are_parsed_strictly() {
        let parsed =
            ok(r#"{"access_token":"t","token_type":"Bearer","expires_in":3600,"scope":"a b"}"#);
        assert_eq!(
            parsed,
            TokenResponse {
                access_token: "t".into(),
                scope: Some("a b".into()),
                lifetime: Duration::from_secs(3600),
            }
        );
        assert_eq!(
            ok(r#"{"access_token":"t","token_type":"bearer","expires_in":"60"}"#).lifetime,
            Duration::from_secs(60)
        );
        assert_eq!(
            ok(r#"{"access_token":"t","token_type":"BEARER"}"#).lifetime,
            LIMITS.default,
            "missing: default"
        );
        assert_eq!(
            ok(r#"{"access_token":"t","token_type":"Bearer","expires_in":99999999}"#).lifetime,
            LIMITS.max,
            "capped"
        );

        for bad in [
            r#"{"token_type":"Bearer","expires_in":60}"#,
            r#"{"access_token":"t","expires_in":60}"#,
            r#"{"access_token":"t","token_type":"DPoP","expires_in":60}"#,
            r#"{"access_token":"t","token_type":"Bearer","expires_in":0}"#,
            r#"{"access_token":"t","token_type":"Bearer","expires_in":-5}"#,
            r#"{"access_token":"t","token_type":"Bearer","expires_in":1.5}"#,
            r#"{"access_token":"t","token_type":"Bearer","expires_in":"soon"}"#,
            r#"{"access_token":42,"token_type":"Bearer"}"#,
            r#"["access_token"]"#,
            "not json",
            "",
        ] {
            assert_eq!(kind(bad), TokenErrorKind::InvalidResponse, "{bad}");
        }
    }

    #[test]
    fn errors_are_typed_and_classified() {
        let after = Some(Duration::from_secs(5));
        let throttled = parse_error(StatusCode::TOO_MANY_REQUESTS, after, b"");
        assert_eq!(
            (throttled.kind(), throttled.retry_after()),
            (TokenErrorKind::RateLimited, after)
        );
        assert!(throttled.is_transient());
        let unavailable =
            parse_error(StatusCode::SERVICE_UNAVAILABLE, None, br#"{"error":"invalid_client"}"#);
        assert_eq!(unavailable.kind(), TokenErrorKind::ServerError, "5xx wins over the body");

        for (code, expected) in [
            ("invalid_client", TokenErrorKind::InvalidClient),
            ("invalid_scope", TokenErrorKind::InvalidScope),
            ("unauthorized_client", TokenErrorKind::UnauthorizedClient),
            ("unsupported_grant_type", TokenErrorKind::UnsupportedGrantType),
            ("invalid_request", TokenErrorKind::InvalidRequest),
            ("invalid_grant", TokenErrorKind::InvalidGrant),
            ("access_denied", TokenErrorKind::OtherOAuth),
        ] {
            let body = format!(r#"{{"error":"{code}","error_description":"why"}}"#);
            let error = parse_error(StatusCode::BAD_REQUEST, None, body.as_bytes());
            assert_eq!(error.kind(), expected);
            assert_eq!(error.oauth_error(), Some(code));
            assert_eq!(error.oauth_description(), Some("why"));
            assert!(!error.is_transient());
        }
        let html = parse_error(StatusCode::FORBIDDEN, None, b"<html>denied</html>");
        assert_eq!(
            (html.kind(), html.status()),
            (TokenErrorKind::UnexpectedStatus, Some(StatusCode::FORBIDDEN))
        );
        let redirect = parse_error(StatusCode::FOUND, None, br#"{"error":"invalid_client"}"#);
        assert_eq!(redirect.kind(), TokenErrorKind::UnexpectedStatus, "redirects are not followed");
    }

    #[test]
    fn long_server_texts_are_truncated_on_char_boundaries() {
        let body = format!(
            r#"{{"error":"{}","error_description":"{}"}}"#,
            "é".repeat(100),
            "ü".repeat(1000)
        );
        let error = parse_error(StatusCode::BAD_REQUEST, None, body.as_bytes());
        assert_eq!(error.oauth_error().unwrap().chars().count(), 64);
        assert!(error.oauth_description().unwrap().len() <= MAX_DESCRIPTION);
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256), status in 100u16..600) {
            let _ = parse_success(&body, LIMITS);
            if let Ok(status) = StatusCode::from_u16(status) {
                let _ = parse_error(status, None, &body);
            }
        }
    }
}
