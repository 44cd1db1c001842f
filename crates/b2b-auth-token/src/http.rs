//! HTTP hygiene shared by the token and discovery requests: URL checks, one client with
//! timeouts and no redirects, capped bodies, error classification, `Retry-After`.

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use bytes::BytesMut;
use reqwest::Url;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::error::{ConfigError, TokenError, TokenErrorKind};

/// Checks that `url` parses, has a host, carries no credentials or fragment, and is `https`
/// — or `http` to a loopback host when `allow_http_loopback` is set.
pub(crate) fn check_url(
    setting: &'static str,
    url: &str,
    allow_http_loopback: bool,
) -> Result<Url, ConfigError> {
    let invalid = |reason| ConfigError::InvalidUrl { setting, url: url.to_owned(), reason };
    let parsed = Url::parse(url).map_err(|_| invalid("not a url"))?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid("must not carry credentials"));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("must not have a fragment"));
    }
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if allow_http_loopback && is_loopback(&parsed) => Ok(parsed),
        "http" => Err(ConfigError::InsecureUrl { setting, url: url.to_owned() }),
        _ => Err(invalid("scheme must be https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Timeouts and limits of the HTTP client.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_response_bytes: usize,
}

/// A client that never follows redirects (a redirected token request would carry the
/// credentials to another host) and gives up after the configured timeouts.
pub(crate) fn client(settings: &HttpSettings) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .connect_timeout(settings.connect_timeout)
        .timeout(settings.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("b2b-auth-token/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| ConfigError::OutOfRange {
            setting: "http client",
            reason: "cannot be built (TLS initialisation failed)",
        })
}

/// Maps a transport error to a transient [`TokenError`].
pub(crate) fn transport_error(error: reqwest::Error) -> TokenError {
    let kind = if error.is_timeout() { TokenErrorKind::Timeout } else { TokenErrorKind::Connect };
    // reqwest's error names the URL, which is no secret; the body never appears in it.
    TokenError::new(kind).with_source(error)
}

/// Reads a body, giving up as soon as it exceeds `max` bytes.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    max: usize,
) -> Result<BytesMut, TokenError> {
    if response.content_length().is_some_and(|len| len > max as u64) {
        return Err(TokenError::new(TokenErrorKind::ResponseTooLarge));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > max {
            return Err(TokenError::new(TokenErrorKind::ResponseTooLarge));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Longest `Retry-After` honoured: a server asking for more is not taken at its word.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Parses `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP-date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = match value.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(value).ok()?.duration_since(now).unwrap_or_default(),
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn urls_must_be_https_unless_loopback_http_is_allowed() {
        assert!(check_url("token", "https://idp.example.com/oauth2/token", false).is_ok());
        for loopback in ["http://127.0.0.1:9000/t", "http://[::1]:1/t", "http://localhost/t"] {
            assert!(check_url("token", loopback, true).is_ok(), "{loopback}");
            assert!(matches!(
                check_url("token", loopback, false),
                Err(ConfigError::InsecureUrl { .. })
            ));
        }
        assert!(matches!(
            check_url("token", "http://idp.example.com/t", true),
            Err(ConfigError::InsecureUrl { .. })
        ));
        for bad in ["not a url", "ftp://idp/t", "https://user:pw@idp/t", "https://idp/t#frag"] {
            assert!(matches!(check_url("token", bad, true), Err(ConfigError::InvalidUrl { .. })));
        }
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date_and_is_bounded() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&past).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("999999999"));
        assert_eq!(retry_after(&headers, now), Some(MAX_RETRY_AFTER));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }
}
