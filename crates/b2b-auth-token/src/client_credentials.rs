//! The client-credentials grant (RFC 6749 §4.4) against a token endpoint.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use b2b_auth_core::{Clock, SystemClock};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, StatusCode, header};
use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::assertion::PrivateKey;
use crate::error::{ConfigError, TokenError, TokenErrorKind};
use crate::http::{self as hygiene, HttpSettings};
use crate::response::{self, LifetimeLimits};
use crate::source::{BoxFuture, FetchedToken, SourceKey, TokenSource};
use crate::token::AccessToken;

/// How the client authenticates to the token endpoint.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `Authorization: Basic` with the client id and secret (RFC 6749 §2.3.1). The default
    /// with a secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A JWT signed with the client's private key (RFC 7523). The default with a key.
    PrivateKeyJwt,
}

impl AuthMethod {
    fn name(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// How id and secret are encoded inside `Authorization: Basic`.
///
/// RFC 6749 §2.3.1 form-urlencodes both before joining them with `:`; several real servers
/// expect them raw instead. The two differ for secrets holding characters like `+`, `%`, `/`
/// or `:` — check what your server does.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum BasicEncoding {
    /// Form-urlencoded id and secret, per RFC 6749 §2.3.1. The default.
    #[default]
    FormUrlEncoded,
    /// Id and secret as they are (RFC 7617 only).
    Raw,
}

/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default total timeout of one token request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on a token response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Default lifetime assumed when the server omits `expires_in`: short, so a token of unknown
/// lifetime is refreshed early rather than used after it has expired.
pub const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(300);
/// Default upper bound on a token's lifetime, whatever `expires_in` says.
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(86_400);

/// Parameters the client sets itself, which [`ClientCredentialsBuilder::param`] may not set.
const RESERVED: [&str; 8] = [
    "grant_type",
    "scope",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "audience",
    "resource",
];

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

enum Credential {
    Secret { secret: SecretString, method: AuthMethod, encoding: BasicEncoding },
    Key(PrivateKey),
}

enum Endpoint {
    Fixed(Url),
    Discover { issuer: Url, discovered: OnceCell<Url> },
}

struct Inner {
    endpoint: Endpoint,
    client_id: String,
    credential: Credential,
    /// grant_type, scope, audience, resources and extra parameters, in that order.
    form: Vec<(String, String)>,
    http: reqwest::Client,
    settings: HttpSettings,
    allow_http_loopback: bool,
    limits: LifetimeLimits,
    clock: Arc<dyn Clock>,
    key: SourceKey,
}

/// A client-credentials token source: fetches access tokens from a token endpoint.
///
/// Cheap to clone. On its own it fetches a new token on every call; wrap it in a
/// [`TokenProvider`](crate::TokenProvider) to share and refresh one token.
///
/// HTTP hygiene: rustls, connect and total timeouts, no redirects (a redirected request would
/// carry the credentials elsewhere), a response size cap, and HTTPS unless plain HTTP to a
/// loopback address is explicitly allowed for tests. `Debug` never shows the secret.
///
/// ```
/// use b2b_auth_token::ClientCredentials;
///
/// let source = ClientCredentials::builder()
///     .token_url("https://auth.tires.example/oauth2/token")
///     .client_id("car-orders")
///     .client_secret("from-your-secret-manager")
///     .scope("tires/orders.write")
///     .build()?;
/// # let _ = source;
/// # Ok::<(), b2b_auth_token::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<Inner>,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match &self.inner.credential {
            Credential::Secret { method, .. } => *method,
            Credential::Key(_) => AuthMethod::PrivateKeyJwt,
        };
        f.debug_struct("ClientCredentials")
            .field("key", &self.inner.key)
            .field("method", &method)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// Starts configuring a source.
    pub fn builder() -> ClientCredentialsBuilder {
        ClientCredentialsBuilder::default()
    }

    /// Requests one new token from the endpoint.
    ///
    /// # Errors
    /// A [`TokenError`]: RFC 6749 §5.2 errors are permanent; 5xx, 429, timeouts and
    /// connection failures are transient ([`TokenError::is_transient`]).
    pub async fn fetch(&self) -> Result<FetchedToken, TokenError> {
        let url = self.token_url().await?;
        let inner = &self.inner;
        let mut request = inner.http.post(url.clone()).header(header::ACCEPT, "application/json");
        let mut form: Vec<(&str, &str)> =
            inner.form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let assertion;
        match &inner.credential {
            Credential::Secret { secret, method: AuthMethod::ClientSecretPost, .. } => {
                form.push(("client_id", &inner.client_id));
                form.push(("client_secret", secret.expose_secret()));
            }
            Credential::Secret { secret, encoding, .. } => {
                let mut value = basic_header(&inner.client_id, secret.expose_secret(), *encoding)?;
                value.set_sensitive(true);
                request = request.header(header::AUTHORIZATION, value);
            }
            Credential::Key(key) => {
                assertion = key.sign(&inner.client_id, url.as_str(), inner.clock.now())?;
                form.push(("client_id", &inner.client_id));
                form.push(("client_assertion_type", ASSERTION_TYPE));
                form.push(("client_assertion", &assertion));
            }
        }
        let sent_at = Instant::now();
        let sent_wall = inner.clock.now();
        let response = request.form(&form).send().await.map_err(hygiene::transport_error)?;
        let status = response.status();
        let retry_after = hygiene::retry_after(response.headers(), sent_wall);
        let body = hygiene::read_capped(response, inner.settings.max_response_bytes).await?;
        if status != StatusCode::OK {
            return Err(response::parse_error(status, retry_after, &body));
        }
        let parsed = response::parse_success(&body, inner.limits)?;
        let token =
            AccessToken::new(parsed.access_token, parsed.scope, sent_wall + parsed.lifetime)?;
        Ok(FetchedToken::new(token, parsed.lifetime, sent_at))
    }

    /// The token endpoint, discovered from the issuer on first use when configured so.
    async fn token_url(&self) -> Result<Url, TokenError> {
        match &self.inner.endpoint {
            Endpoint::Fixed(url) => Ok(url.clone()),
            Endpoint::Discover { issuer, discovered } => {
                // A failed discovery is not cached: the next fetch tries again.
                discovered.get_or_try_init(|| self.discover(issuer)).await.cloned()
            }
        }
    }

    /// Reads `token_endpoint` from `{issuer}/.well-known/openid-configuration`, checking that
    /// the document names the same issuer (OIDC Discovery §4.3).
    async fn discover(&self, issuer: &Url) -> Result<Url, TokenError> {
        #[derive(Deserialize)]
        struct Document {
            issuer: String,
            token_endpoint: String,
        }
        let failed = || TokenError::new(TokenErrorKind::Discovery);
        let configured = issuer.as_str().trim_end_matches('/');
        let url = format!("{configured}/.well-known/openid-configuration");
        let response = self
            .inner
            .http
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| failed().with_source(e))?;
        let status = response.status();
        if status != StatusCode::OK {
            return Err(failed().with_status(status));
        }
        let body = hygiene::read_capped(response, self.inner.settings.max_response_bytes)
            .await
            .map_err(|e| failed().with_source(e))?;
        let document: Document =
            serde_json::from_slice(&body).map_err(|e| failed().with_source(e))?;
        if document.issuer.trim_end_matches('/') != configured {
            tracing::warn!(configured, "discovery document names another issuer");
            return Err(failed());
        }
        let endpoint = hygiene::check_url(
            "token_endpoint",
            &document.token_endpoint,
            self.inner.allow_http_loopback,
        )
        .map_err(|e| failed().with_source(e))?;
        tracing::debug!(issuer = configured, token_endpoint = %endpoint, "token endpoint discovered");
        Ok(endpoint)
    }
}

impl TokenSource for ClientCredentials {
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, TokenError>> {
        Box::pin(ClientCredentials::fetch(self))
    }

    fn key(&self) -> &SourceKey {
        &self.inner.key
    }
}

/// `Basic base64(id:secret)`, encoding id and secret as configured.
fn basic_header(
    id: &str,
    secret: &str,
    encoding: BasicEncoding,
) -> Result<HeaderValue, TokenError> {
    let credentials = match encoding {
        BasicEncoding::FormUrlEncoded => format!("{}:{}", form_encode(id), form_encode(secret)),
        BasicEncoding::Raw => format!("{id}:{secret}"),
    };
    HeaderValue::try_from(format!("Basic {}", STANDARD.encode(credentials)))
        .map_err(|_| TokenError::new(TokenErrorKind::Internal))
}

fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Configures a [`ClientCredentials`] source. Every setter documents its default.
pub struct ClientCredentialsBuilder {
    token_url: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    private_key: Option<PrivateKey>,
    method: Option<AuthMethod>,
    encoding: BasicEncoding,
    scopes: BTreeSet<String>,
    audience: Option<String>,
    resources: Vec<String>,
    params: Vec<(String, String)>,
    settings: HttpSettings,
    allow_http_loopback: bool,
    limits: LifetimeLimits,
    clock: Arc<dyn Clock>,
}

impl Default for ClientCredentialsBuilder {
    fn default() -> Self {
        Self {
            token_url: None,
            issuer: None,
            client_id: None,
            client_secret: None,
            private_key: None,
            method: None,
            encoding: BasicEncoding::default(),
            scopes: BTreeSet::new(),
            audience: None,
            resources: Vec::new(),
            params: Vec::new(),
            settings: HttpSettings {
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                timeout: DEFAULT_TIMEOUT,
                max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            },
            allow_http_loopback: false,
            limits: LifetimeLimits { default: DEFAULT_EXPIRES_IN, max: DEFAULT_MAX_LIFETIME },
            clock: Arc::new(SystemClock),
        }
    }
}

impl fmt::Debug for ClientCredentialsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentialsBuilder")
            .field("token_url", &self.token_url)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("private_key", &self.private_key)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsBuilder {
    /// The token endpoint. Either this or [`issuer`](Self::issuer) is required.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// Discover the token endpoint from `{issuer}/.well-known/openid-configuration` on first
    /// use. Either this or [`token_url`](Self::token_url) is required.
    pub fn issuer(mut self, url: impl Into<String>) -> Self {
        self.issuer = Some(url.into());
        self
    }

    /// The client id. Required.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = Some(id.into());
        self
    }

    /// The client secret, for `client_secret_basic` (the default method) or
    /// `client_secret_post`.
    pub fn client_secret(mut self, secret: impl Into<SecretString>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The private key for `private_key_jwt` (then the default method).
    pub fn private_key(mut self, key: PrivateKey) -> Self {
        self.private_key = Some(key);
        self
    }

    /// The authentication method. Default: `client_secret_basic` with a secret,
    /// `private_key_jwt` with a key.
    pub fn auth_method(mut self, method: AuthMethod) -> Self {
        self.method = Some(method);
        self
    }

    /// How `client_secret_basic` encodes id and secret. Default:
    /// [`BasicEncoding::FormUrlEncoded`] (RFC 6749 §2.3.1).
    pub fn basic_encoding(mut self, encoding: BasicEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// Adds a scope; scopes are a set, sent space-separated. Default: none (the server's
    /// default, e.g. all of the client's scopes on Cognito).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.insert(scope.into());
        self
    }

    /// Adds several scopes.
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes.extend(scopes.into_iter().map(Into::into));
        self
    }

    /// The `audience` parameter (Auth0 and others). Default: none.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Adds a `resource` parameter (RFC 8707; repeatable). Default: none.
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Adds an extra form parameter. The parameters the client sets itself (`grant_type`,
    /// `scope`, `client_id`, ...) are refused by `build()`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }

    /// Connect timeout. Default: [`DEFAULT_CONNECT_TIMEOUT`] (5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Total timeout of one request. Default: [`DEFAULT_TIMEOUT`] (10 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Cap on a response body. Default: [`DEFAULT_MAX_RESPONSE_BYTES`] (64 KiB).
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.settings.max_response_bytes = max;
        self
    }

    /// Allows plain `http` to loopback addresses (`127.0.0.0/8`, `::1`, `localhost`), for
    /// tests and local issuers. Default: `false` — HTTPS only.
    pub fn allow_http_loopback(mut self, allow: bool) -> Self {
        self.allow_http_loopback = allow;
        self
    }

    /// Lifetime assumed when a response has no `expires_in`. Default: [`DEFAULT_EXPIRES_IN`]
    /// (5 minutes); at least 10 s.
    pub fn default_expires_in(mut self, lifetime: Duration) -> Self {
        self.limits.default = lifetime;
        self
    }

    /// Longest lifetime believed, whatever `expires_in` says. Default:
    /// [`DEFAULT_MAX_LIFETIME`] (one day).
    pub fn max_lifetime(mut self, lifetime: Duration) -> Self {
        self.limits.max = lifetime;
        self
    }

    /// The wall clock for expiry times and assertions. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Checks the settings and builds the source.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first setting at fault.
    pub fn build(self) -> Result<ClientCredentials, ConfigError> {
        let (endpoint, endpoint_text) = match (&self.token_url, &self.issuer) {
            (Some(url), None) => {
                (Endpoint::Fixed(hygiene::check_url("token", url, self.allow_http_loopback)?), url)
            }
            (None, Some(issuer)) => {
                let url = hygiene::check_url("issuer", issuer, self.allow_http_loopback)?;
                (Endpoint::Discover { issuer: url, discovered: OnceCell::new() }, issuer)
            }
            (None, None) => return Err(ConfigError::MissingTokenUrl),
            (Some(_), Some(_)) => return Err(ConfigError::ConflictingEndpoints),
        };
        let client_id = self.client_id.ok_or(ConfigError::MissingClientId)?;
        if client_id.is_empty() || client_id.chars().any(char::is_control) {
            return Err(ConfigError::InvalidClientId { reason: "empty or control characters" });
        }
        let credential =
            credential(self.method, self.client_secret, self.private_key, self.encoding)?;
        if matches!(
            credential,
            Credential::Secret {
                encoding: BasicEncoding::Raw,
                method: AuthMethod::ClientSecretBasic,
                ..
            }
        ) && client_id.contains(':')
        {
            return Err(ConfigError::InvalidClientId { reason: "':' cannot be sent raw in Basic" });
        }
        if let Some(scope) = self.scopes.iter().find(|s| !is_scope_token(s)) {
            return Err(ConfigError::InvalidScope { scope: scope.clone() });
        }
        if let Some((name, _)) =
            self.params.iter().find(|(name, _)| RESERVED.contains(&name.as_str()))
        {
            return Err(ConfigError::ReservedParameter { name: name.clone() });
        }
        check_settings(&self.settings, self.limits)?;

        let mut form = vec![("grant_type".to_owned(), "client_credentials".to_owned())];
        if !self.scopes.is_empty() {
            form.push(("scope".into(), self.scopes.iter().cloned().collect::<Vec<_>>().join(" ")));
        }
        if let Some(audience) = &self.audience {
            form.push(("audience".into(), audience.clone()));
        }
        form.extend(self.resources.iter().map(|r| ("resource".to_owned(), r.clone())));
        form.extend(self.params);
        let key = SourceKey::new(
            endpoint_text,
            &client_id,
            self.scopes.iter().map(String::as_str),
            self.audience.as_deref(),
            self.resources.iter().map(String::as_str),
        );
        let http = hygiene::client(&self.settings)?;
        Ok(ClientCredentials {
            inner: Arc::new(Inner {
                endpoint,
                client_id,
                credential,
                form,
                http,
                settings: self.settings,
                allow_http_loopback: self.allow_http_loopback,
                limits: self.limits,
                clock: self.clock,
                key,
            }),
        })
    }
}

fn credential(
    method: Option<AuthMethod>,
    secret: Option<SecretString>,
    key: Option<PrivateKey>,
    encoding: BasicEncoding,
) -> Result<Credential, ConfigError> {
    let method = method.unwrap_or(if key.is_some() && secret.is_none() {
        AuthMethod::PrivateKeyJwt
    } else {
        AuthMethod::ClientSecretBasic
    });
    match (method, secret, key) {
        (AuthMethod::PrivateKeyJwt, None, Some(key)) => Ok(Credential::Key(key)),
        (AuthMethod::PrivateKeyJwt, Some(_), _) => Err(ConfigError::ConflictingCredentials {
            method: method.name(),
            unused: "a client secret",
        }),
        (AuthMethod::PrivateKeyJwt, None, None) => {
            Err(ConfigError::MissingCredentials { method: method.name(), needs: "a private key" })
        }
        (_, _, Some(_)) => Err(ConfigError::ConflictingCredentials {
            method: method.name(),
            unused: "a private key",
        }),
        (_, Some(secret), None) if !secret.expose_secret().is_empty() => {
            Ok(Credential::Secret { secret, method, encoding })
        }
        (_, _, None) => {
            Err(ConfigError::MissingCredentials { method: method.name(), needs: "a client secret" })
        }
    }
}

fn check_settings(settings: &HttpSettings, limits: LifetimeLimits) -> Result<(), ConfigError> {
    let out_of_range = |setting, reason| Err(ConfigError::OutOfRange { setting, reason });
    if settings.connect_timeout.is_zero() || settings.timeout.is_zero() {
        return out_of_range("timeout", "must be positive");
    }
    if settings.max_response_bytes < 1024 {
        return out_of_range("max_response_bytes", "must be at least 1024");
    }
    if limits.default < Duration::from_secs(10) {
        return out_of_range("default_expires_in", "must be at least 10 s");
    }
    if limits.max < limits.default {
        return out_of_range("max_lifetime", "must be at least default_expires_in");
    }
    Ok(())
}

/// RFC 6749 §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty() && scope.bytes().all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

#[cfg(test)]
mod tests {
    use b2b_auth_testkit::TestKey;

    use super::*;
    use crate::assertion::AssertionAlgorithm;

    fn base() -> ClientCredentialsBuilder {
        ClientCredentials::builder().token_url("https://idp.example/token").client_id("car-orders")
    }

    #[test]
    fn configuration_mistakes_are_named() {
        let key = || {
            PrivateKey::from_pem(TestKey::P256.private_pem().as_bytes(), AssertionAlgorithm::ES256)
                .unwrap()
        };
        let cases: Vec<(ClientCredentialsBuilder, ConfigError)> = vec![
            (
                ClientCredentials::builder().client_id("c").client_secret("s"),
                ConfigError::MissingTokenUrl,
            ),
            (
                base().issuer("https://idp.example").client_secret("s"),
                ConfigError::ConflictingEndpoints,
            ),
            (
                ClientCredentials::builder().token_url("https://idp/t").client_secret("s"),
                ConfigError::MissingClientId,
            ),
            (
                base(),
                ConfigError::MissingCredentials {
                    method: "client_secret_basic",
                    needs: "a client secret",
                },
            ),
            (
                base().client_secret(""),
                ConfigError::MissingCredentials {
                    method: "client_secret_basic",
                    needs: "a client secret",
                },
            ),
            (
                base().client_secret("s").private_key(key()),
                ConfigError::ConflictingCredentials {
                    method: "client_secret_basic",
                    unused: "a private key",
                },
            ),
            (
                base().auth_method(AuthMethod::PrivateKeyJwt),
                ConfigError::MissingCredentials {
                    method: "private_key_jwt",
                    needs: "a private key",
                },
            ),
            (
                base().private_key(key()).client_secret("s").auth_method(AuthMethod::PrivateKeyJwt),
                ConfigError::ConflictingCredentials {
                    method: "private_key_jwt",
                    unused: "a client secret",
                },
            ),
            (
                base().client_secret("s").scope("two words"),
                ConfigError::InvalidScope { scope: "two words".into() },
            ),
            (
                base().client_secret("s").param("grant_type", "password"),
                ConfigError::ReservedParameter { name: "grant_type".into() },
            ),
            (
                base().client_secret("s").timeout(Duration::ZERO),
                ConfigError::OutOfRange { setting: "timeout", reason: "must be positive" },
            ),
            (
                base().client_secret("s").default_expires_in(Duration::from_secs(1)),
                ConfigError::OutOfRange {
                    setting: "default_expires_in",
                    reason: "must be at least 10 s",
                },
            ),
            (
                ClientCredentials::builder()
                    .token_url("https://idp/t")
                    .client_id("a:b")
                    .client_secret("s")
                    .basic_encoding(BasicEncoding::Raw),
                ConfigError::InvalidClientId { reason: "':' cannot be sent raw in Basic" },
            ),
        ];
        for (builder, expected) in cases {
            assert_eq!(builder.build().unwrap_err(), expected);
        }
        assert!(matches!(
            base().token_url("http://idp.example/token").client_secret("s").build(),
            Err(ConfigError::InsecureUrl { .. } | ConfigError::ConflictingEndpoints)
        ));
        let insecure = ClientCredentials::builder()
            .token_url("http://idp.example/token")
            .client_id("c")
            .client_secret("s");
        assert!(matches!(insecure.build(), Err(ConfigError::InsecureUrl { .. })));
        assert!(base().private_key(key()).build().is_ok(), "a key alone selects private_key_jwt");
    }

    #[test]
    fn basic_credentials_are_form_encoded_or_raw() {
        let decode = |value: HeaderValue| {
            let text = value.to_str().unwrap().strip_prefix("Basic ").unwrap().to_owned();
            String::from_utf8(STANDARD.decode(text).unwrap()).unwrap()
        };
        let secret = "p+ss/w:rd %";
        assert_eq!(
            decode(basic_header("car orders", secret, BasicEncoding::FormUrlEncoded).unwrap()),
            "car+orders:p%2Bss%2Fw%3Ard+%25"
        );
        assert_eq!(
            decode(basic_header("car-orders", secret, BasicEncoding::Raw).unwrap()),
            "car-orders:p+ss/w:rd %"
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let builder = base().client_secret("hunter2-secret");
        assert!(!format!("{builder:?}").contains("hunter2"));
        let source = builder.build().unwrap();
        let debug = format!("{source:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("car-orders"), "{debug}");
    }
}
