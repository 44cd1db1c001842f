//! The issuer URL and the endpoint URLs derived from it.

use http::Uri;

use crate::error::ConfigError;

pub(crate) const TOKEN_PATH: &str = "/oauth2/token";
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";
pub(crate) const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The issuer URL and the public URLs of its endpoints, all under the issuer URL.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct IssuerUrls {
    pub(crate) issuer: String,
    /// The issuer URL's path ("" for a bare origin): where the routes are mounted.
    pub(crate) base_path: String,
}

impl IssuerUrls {
    /// Checks an issuer URL: `http` or `https`, a host, no query, no fragment, no trailing `/`
    /// (the `iss` claim is compared byte for byte, so one spelling is allowed, not two).
    pub(crate) fn parse(url: &str) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidIssuer { url: url.to_owned(), reason };
        if url.contains('#') {
            return Err(invalid("must not have a fragment"));
        }
        let uri: Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(invalid("scheme must be http or https"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("missing host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("must not carry credentials"));
        }
        if uri.query().is_some() {
            return Err(invalid("must not have a query"));
        }
        if url.ends_with('/') {
            return Err(invalid("must not end with '/'"));
        }
        // The path becomes a route prefix: plain segments only (no `{..}` route syntax, no
        // empty or dot segments).
        let path = uri.path();
        let plain_segment = |s: &str| {
            !s.is_empty()
                && s != "."
                && s != ".."
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()+,;=:@%".contains(&b))
        };
        if path != "/" && !path.split('/').skip(1).all(plain_segment) {
            return Err(invalid("path segments may only hold unreserved characters"));
        }
        Ok(Self { issuer: url.to_owned(), base_path: uri.path().trim_end_matches('/').to_owned() })
    }

    pub(crate) fn token_endpoint(&self) -> String {
        format!("{}{TOKEN_PATH}", self.issuer)
    }

    pub(crate) fn jwks_uri(&self) -> String {
        format!("{}{JWKS_PATH}", self.issuer)
    }

    pub(crate) fn discovery(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.issuer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_live_under_the_issuer() {
        let urls = IssuerUrls::parse("http://127.0.0.1:9000/us-east-1_pool").unwrap();
        assert_eq!(urls.base_path, "/us-east-1_pool");
        assert_eq!(urls.token_endpoint(), "http://127.0.0.1:9000/us-east-1_pool/oauth2/token");
        assert_eq!(
            urls.discovery(),
            "http://127.0.0.1:9000/us-east-1_pool/.well-known/openid-configuration"
        );
        let bare = IssuerUrls::parse("https://auth.example.com").unwrap();
        assert_eq!(bare.base_path, "");
        assert_eq!(bare.jwks_uri(), "https://auth.example.com/.well-known/jwks.json");
    }

    #[test]
    fn rejects_what_would_make_iss_ambiguous() {
        for url in [
            "127.0.0.1:9000",
            "ftp://host",
            "http://host/",
            "http://host/a?b",
            "http://host#x",
            "http://user:pw@host",
            "/relative",
            "http://host/{kid}",
            "http://host/a//b",
            "http://host/a/../b",
        ] {
            assert!(IssuerUrls::parse(url).is_err(), "{url} accepted");
        }
    }
}
