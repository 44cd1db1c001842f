//! Pool configuration, shaped like the Cognito resources it stands in for: resource servers
//! with scopes, and app clients with secrets and allowed scopes.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::ConfigError;

/// Shortest access-token lifetime a client may be configured with.
///
/// Cognito's minimum is five minutes; a local issuer goes down to one second so that tests of
/// refresh and expiry run in seconds.
pub const MIN_ACCESS_TOKEN_VALIDITY: Duration = Duration::from_secs(1);
/// Longest access-token lifetime a client may be configured with (one day, as in Cognito).
pub const MAX_ACCESS_TOKEN_VALIDITY: Duration = Duration::from_secs(86_400);
/// Access-token lifetime of a client that does not set one (one hour, as in Cognito).
pub const DEFAULT_ACCESS_TOKEN_VALIDITY: Duration = Duration::from_secs(3_600);
/// Shortest admin token accepted, so that the admin endpoint is not guarded by a guessable value.
pub const MIN_ADMIN_TOKEN_LEN: usize = 16;

const MAX_IDENTIFIER_LEN: usize = 256;
const MAX_CLIENT_ID_LEN: usize = 128;

/// The configuration of one issuer: what a Cognito user pool holds for client credentials.
///
/// Read it from TOML with [`PoolConfig::from_toml_str`] or [`PoolConfig::from_file`], or build
/// it in code. Either way it is checked as a whole by [`PoolConfig::validate`], which the
/// issuer also runs before it starts.
///
/// ```toml
/// issuer = "http://127.0.0.1:9000"          # optional; defaults to the listen URL
///
/// [[resource_servers]]
/// identifier = "tires"                        # scopes are "tires/orders.write"
/// name = "Tire orders API"
/// scopes = [{ name = "orders.write", description = "Create tire orders" }]
///
/// [[clients]]
/// client_id = "car-orders"
/// client_secret = "a-long-random-secret"
/// allowed_scopes = ["tires/orders.write"]
/// access_token_validity_secs = 3600          # optional; 1..=86400, default 3600
/// ```
///
/// # Example
/// ```
/// use b2b_auth_issuer::{AppClient, PoolConfig, ResourceServer};
///
/// let config = PoolConfig::new()
///     .resource_server(ResourceServer::new("tires", "Tire orders API").scope("orders.write", "Create tire orders"))
///     .client(AppClient::new("car-orders", "a-long-random-secret").allowed_scope("tires/orders.write"));
/// config.validate()?;
/// # Ok::<(), b2b_auth_issuer::ConfigError>(())
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    #[serde(default)]
    pub(crate) issuer: Option<String>,
    #[serde(default)]
    pub(crate) resource_servers: Vec<ResourceServer>,
    #[serde(default)]
    pub(crate) clients: Vec<AppClient>,
    #[serde(default)]
    pub(crate) key_rotation_grace_secs: Option<u64>,
    #[serde(default)]
    pub(crate) basic_auth_encoding: BasicAuthEncoding,
    #[serde(default)]
    pub(crate) admin: Option<AdminConfig>,
}

impl PoolConfig {
    /// An empty pool: no resource servers, no clients.
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses and validates a pool from TOML text.
    ///
    /// # Errors
    /// [`ConfigError`] naming the line of a syntax error or the offending entry.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|error| {
            // The message and position only: toml's Display quotes the offending line, which
            // may be the one that holds a client secret.
            let line = error
                .span()
                .map(|span| text.get(..span.start).unwrap_or("").matches('\n').count() + 1);
            ConfigError::Parse { line, message: error.message().to_owned() }
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a pool from a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] if the file cannot be read, else as [`PoolConfig::from_toml_str`].
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml_str(&text)
    }

    /// Sets the issuer URL (the `iss` claim and the base of every endpoint URL).
    ///
    /// Default: the URL the issuer listens on, e.g. `http://127.0.0.1:41234`. A URL with a path
    /// (`http://127.0.0.1:9000/us-east-1_pool`) serves its endpoints under that path, so that
    /// `{issuer}/.well-known/openid-configuration` works as OIDC discovery expects.
    pub fn issuer(mut self, url: impl Into<String>) -> Self {
        self.issuer = Some(url.into());
        self
    }

    /// Adds a resource server (an API and its scopes).
    pub fn resource_server(mut self, server: ResourceServer) -> Self {
        self.resource_servers.push(server);
        self
    }

    /// Adds an app client.
    pub fn client(mut self, client: AppClient) -> Self {
        self.clients.push(client);
        self
    }

    /// How long a key replaced by a rotation stays published in the JWKS.
    ///
    /// Default: the longest access-token validity of any client, so that every token the old
    /// key signed can still be verified until it expires.
    pub fn key_rotation_grace(mut self, grace: Duration) -> Self {
        self.key_rotation_grace_secs = Some(grace.as_secs());
        self
    }

    /// How the client id and secret are encoded inside `Authorization: Basic`.
    ///
    /// Default: [`BasicAuthEncoding::FormUrlEncoded`], as RFC 6749 §2.3.1 requires.
    pub fn basic_auth_encoding(mut self, encoding: BasicAuthEncoding) -> Self {
        self.basic_auth_encoding = encoding;
        self
    }

    /// Turns the admin endpoint on (`/admin/keys`), guarded by this bearer token.
    ///
    /// Default: off; the admin routes do not exist.
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.admin = Some(AdminConfig { token: SecretString::from(token.into()) });
        self
    }

    /// The configured resource servers.
    pub fn resource_servers(&self) -> &[ResourceServer] {
        &self.resource_servers
    }

    /// The configured app clients.
    pub fn clients(&self) -> &[AppClient] {
        &self.clients
    }

    /// The configured issuer URL, if any.
    pub fn issuer_url(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// Checks the pool as a whole.
    ///
    /// Identifiers, scope names and client ids must be non-empty, unique and made of the
    /// characters RFC 6749 §3.3 allows in a scope token (client ids also without `:`, which
    /// `Authorization: Basic` cannot carry); every allowed scope must exist; each client needs a
    /// secret, at least one scope and a validity within
    /// [`MIN_ACCESS_TOKEN_VALIDITY`]..=[`MAX_ACCESS_TOKEN_VALIDITY`]; an admin token must have at
    /// least [`MIN_ADMIN_TOKEN_LEN`] characters.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming the entry.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(issuer) = &self.issuer {
            crate::urls::IssuerUrls::parse(issuer)?;
        }
        let scopes = self.validate_resource_servers()?;
        self.validate_clients(&scopes)?;
        if let Some(admin) = &self.admin
            && admin.token.expose_secret().chars().count() < MIN_ADMIN_TOKEN_LEN
        {
            return Err(ConfigError::WeakAdminToken { min_len: MIN_ADMIN_TOKEN_LEN });
        }
        Ok(())
    }

    fn validate_resource_servers(&self) -> Result<HashSet<String>, ConfigError> {
        let mut identifiers = HashSet::new();
        let mut scopes = HashSet::new();
        for server in &self.resource_servers {
            let identifier = &server.identifier;
            check_token(identifier, MAX_IDENTIFIER_LEN).map_err(|reason| {
                ConfigError::InvalidResourceServer { identifier: identifier.clone(), reason }
            })?;
            if !identifiers.insert(identifier.as_str()) {
                return Err(ConfigError::DuplicateResourceServer {
                    identifier: identifier.clone(),
                });
            }
            for scope in &server.scopes {
                let reason = if scope.name.contains('/') {
                    Some("must not contain '/'")
                } else {
                    check_token(&scope.name, MAX_IDENTIFIER_LEN).err()
                };
                if let Some(reason) = reason {
                    return Err(ConfigError::InvalidScope {
                        identifier: identifier.clone(),
                        scope: scope.name.clone(),
                        reason,
                    });
                }
                let full = format!("{identifier}/{}", scope.name);
                if !scopes.insert(full.clone()) {
                    return Err(ConfigError::DuplicateScope { scope: full });
                }
            }
        }
        Ok(scopes)
    }

    fn validate_clients(&self, scopes: &HashSet<String>) -> Result<(), ConfigError> {
        let mut client_ids = HashSet::new();
        for client in &self.clients {
            let client_id = &client.client_id;
            let reason = if client_id.contains(':') {
                Some("must not contain ':'")
            } else {
                check_token(client_id, MAX_CLIENT_ID_LEN).err()
            };
            if let Some(reason) = reason {
                return Err(ConfigError::InvalidClientId { client_id: client_id.clone(), reason });
            }
            if !client_ids.insert(client_id.as_str()) {
                return Err(ConfigError::DuplicateClient { client_id: client_id.clone() });
            }
            match (&client.client_secret, &client.public_jwk) {
                (Some(secret), _) if secret.expose_secret().is_empty() => {
                    return Err(ConfigError::EmptySecret { client_id: client_id.clone() });
                }
                (None, None) => {
                    return Err(ConfigError::NoCredentials { client_id: client_id.clone() });
                }
                _ => {}
            }
            if let Some(jwk) = &client.public_jwk {
                crate::assertion::AssertionKey::from_jwk(jwk).map_err(|reason| {
                    ConfigError::InvalidPublicKey { client_id: client_id.clone(), reason }
                })?;
            }
            if client.allowed_scopes.is_empty() {
                return Err(ConfigError::NoScopes { client_id: client_id.clone() });
            }
            if let Some(scope) = client.allowed_scopes.iter().find(|s| !scopes.contains(*s)) {
                return Err(ConfigError::UnknownScope {
                    client_id: client_id.clone(),
                    scope: scope.clone(),
                });
            }
            let validity = client.token_validity();
            if !(MIN_ACCESS_TOKEN_VALIDITY..=MAX_ACCESS_TOKEN_VALIDITY).contains(&validity) {
                return Err(ConfigError::InvalidValidity {
                    client_id: client_id.clone(),
                    secs: validity.as_secs(),
                });
            }
        }
        Ok(())
    }

    pub(crate) fn rotation_grace(&self) -> Duration {
        match self.key_rotation_grace_secs {
            Some(secs) => Duration::from_secs(secs),
            None => self
                .clients
                .iter()
                .map(AppClient::token_validity)
                .max()
                .unwrap_or(DEFAULT_ACCESS_TOKEN_VALIDITY),
        }
    }
}

/// Checks `value` against RFC 6749 §3.3 `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
pub(crate) fn check_token(value: &str, max_len: usize) -> Result<(), &'static str> {
    if value.is_empty() {
        return Err("must not be empty");
    }
    if value.len() > max_len {
        return Err("too long");
    }
    if !value.bytes().all(is_scope_char) {
        return Err("only visible ASCII other than '\"' and '\\' is allowed");
    }
    Ok(())
}

pub(crate) fn is_scope_char(byte: u8) -> bool {
    matches!(byte, 0x21 | 0x23..=0x5B | 0x5D..=0x7E)
}

/// A resource server: an API identifier and the scopes defined on it.
///
/// A scope `orders.write` on the resource server `tires` is requested and granted as
/// `tires/orders.write`, as in Cognito.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceServer {
    pub(crate) identifier: String,
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) scopes: Vec<ScopeConfig>,
}

impl ResourceServer {
    /// A resource server with no scopes yet.
    pub fn new(identifier: impl Into<String>, name: impl Into<String>) -> Self {
        Self { identifier: identifier.into(), name: name.into(), scopes: Vec::new() }
    }

    /// Adds a scope, by its short name (without the identifier prefix).
    pub fn scope(mut self, name: impl Into<String>, description: impl Into<String>) -> Self {
        self.scopes.push(ScopeConfig { name: name.into(), description: description.into() });
        self
    }

    /// The identifier, the prefix of this server's scopes.
    pub fn identifier(&self) -> &str {
        &self.identifier
    }

    /// The human-readable name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The scopes defined on this server.
    pub fn scopes(&self) -> &[ScopeConfig] {
        &self.scopes
    }

    /// The full names of this server's scopes (`identifier/name`).
    pub fn scope_names(&self) -> impl Iterator<Item = String> + '_ {
        self.scopes.iter().map(|scope| format!("{}/{}", self.identifier, scope.name))
    }
}

/// One scope of a resource server.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeConfig {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
}

impl ScopeConfig {
    /// The short name, without the resource server prefix.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the scope allows, for humans.
    pub fn description(&self) -> &str {
        &self.description
    }
}

/// An app client allowed the client-credentials grant.
///
/// It authenticates with a client secret (`client_secret_basic` or `client_secret_post`), with
/// a JWT signed by its private key (`private_key_jwt`, RFC 7523) when it registers its public
/// key as a JWK, or with either when it has both.
///
/// ```toml
/// [[clients]]
/// client_id = "car-orders"
/// public_jwk = { kty = "EC", crv = "P-256", x = "…", y = "…" }  # instead of, or beside, a secret
/// allowed_scopes = ["tires/orders.write"]
/// ```
///
/// `Debug` never shows the secret.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppClient {
    pub(crate) client_id: String,
    #[serde(default)]
    pub(crate) client_secret: Option<SecretString>,
    #[serde(default)]
    pub(crate) public_jwk: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) allowed_scopes: BTreeSet<String>,
    #[serde(default)]
    pub(crate) access_token_validity_secs: Option<u64>,
}

impl AppClient {
    /// A client with a secret, no allowed scopes yet and the default validity (one hour).
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: Some(SecretString::from(client_secret.into())),
            public_jwk: None,
            allowed_scopes: BTreeSet::new(),
            access_token_validity_secs: None,
        }
    }

    /// A client that authenticates with `private_key_jwt` only, with this public key (a JWK:
    /// RSA for RS256/PS256, EC P-256 for ES256, OKP Ed25519 for EdDSA).
    pub fn with_public_jwk(client_id: impl Into<String>, jwk: serde_json::Value) -> Self {
        Self { client_secret: None, public_jwk: Some(jwk), ..Self::new(client_id, "") }
    }

    /// Also accepts `private_key_jwt` assertions signed by the private half of `jwk`.
    pub fn public_jwk(mut self, jwk: serde_json::Value) -> Self {
        self.public_jwk = Some(jwk);
        self
    }

    /// Allows a scope, by its full name (`identifier/name`).
    pub fn allowed_scope(mut self, scope: impl Into<String>) -> Self {
        self.allowed_scopes.insert(scope.into());
        self
    }

    /// Sets the lifetime of the access tokens issued to this client.
    ///
    /// Default: [`DEFAULT_ACCESS_TOKEN_VALIDITY`]. Whole seconds; the fraction is dropped.
    pub fn access_token_validity(mut self, validity: Duration) -> Self {
        self.access_token_validity_secs = Some(validity.as_secs());
        self
    }

    /// The client id.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret, if it has one. Handle with care: it is the client's password.
    pub fn client_secret(&self) -> Option<&SecretString> {
        self.client_secret.as_ref()
    }

    /// The scopes this client may request (and gets when it requests none).
    pub fn allowed_scopes(&self) -> &BTreeSet<String> {
        &self.allowed_scopes
    }

    /// The lifetime of the access tokens issued to this client.
    pub fn token_validity(&self) -> Duration {
        self.access_token_validity_secs.map_or(DEFAULT_ACCESS_TOKEN_VALIDITY, Duration::from_secs)
    }
}

impl fmt::Debug for AppClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppClient")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("public_jwk", &self.public_jwk.is_some())
            .field("allowed_scopes", &self.allowed_scopes)
            .field("access_token_validity_secs", &self.access_token_validity_secs)
            .finish()
    }
}

/// How the client id and secret are encoded inside `Authorization: Basic`.
///
/// RFC 6749 §2.3.1 form-urlencodes both before joining them with `:`; several real servers
/// take them raw instead. The difference shows with secrets holding `+`, `%` or `:`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BasicAuthEncoding {
    /// `application/x-www-form-urlencoded` id and secret, per RFC 6749 §2.3.1.
    #[default]
    FormUrlEncoded,
    /// Id and secret taken as they are (RFC 7617 only).
    Raw,
}

/// The admin endpoint's settings.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminConfig {
    pub(crate) token: SecretString,
}

impl fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminConfig").field("token", &"[redacted]").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tires() -> ResourceServer {
        ResourceServer::new("tires", "Tire orders API").scope("orders.write", "Create tire orders")
    }

    fn valid() -> PoolConfig {
        PoolConfig::new()
            .resource_server(tires())
            .client(AppClient::new("car-orders", "s3cret").allowed_scope("tires/orders.write"))
    }

    #[test]
    fn parses_the_documented_shape() {
        let config = PoolConfig::from_toml_str(
            r#"
            issuer = "http://127.0.0.1:9000"
            [[resource_servers]]
            identifier = "tires"
            name = "Tire orders API"
            scopes = [{ name = "orders.write", description = "Create tire orders" }]
            [[clients]]
            client_id = "car-orders"
            client_secret = "s3cret"
            allowed_scopes = ["tires/orders.write"]
            access_token_validity_secs = 600
            "#,
        )
        .unwrap();
        assert_eq!(config.issuer_url(), Some("http://127.0.0.1:9000"));
        let client = &config.clients()[0];
        assert_eq!(client.token_validity(), Duration::from_secs(600));
        assert_eq!(config.rotation_grace(), Duration::from_secs(600));
        assert_eq!(
            config.resource_servers()[0].scope_names().collect::<Vec<_>>(),
            ["tires/orders.write"]
        );
    }

    #[test]
    fn syntax_errors_name_the_line_but_never_quote_it() {
        let err = PoolConfig::from_toml_str(
            "[[clients]]\nclient_id = \"a\"\nclient_secret = \"hunter2hunter2\" oops\n",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::Parse { line: Some(3), .. }), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err =
            PoolConfig::from_toml_str("[[clients]]\nclient_id = \"a\"\nclient_secrett = \"x\"\n")
                .unwrap_err();
        assert!(matches!(err, ConfigError::Parse { .. }), "{err}");
    }

    #[test]
    fn every_mistake_gets_its_own_error() {
        type Expect = fn(&ConfigError) -> bool;
        let cases: Vec<(PoolConfig, Expect)> = vec![
            (valid().issuer("ftp://x"), |e| matches!(e, ConfigError::InvalidIssuer { .. })),
            (valid().issuer("http://x/"), |e| matches!(e, ConfigError::InvalidIssuer { .. })),
            (valid().issuer("http://x/?a=b"), |e| matches!(e, ConfigError::InvalidIssuer { .. })),
            (valid().resource_server(tires()), |e| {
                matches!(e, ConfigError::DuplicateResourceServer { .. })
            }),
            (valid().resource_server(ResourceServer::new("has space", "")), |e| {
                matches!(e, ConfigError::InvalidResourceServer { .. })
            }),
            (valid().resource_server(ResourceServer::new("x", "").scope("a/b", "")), |e| {
                matches!(e, ConfigError::InvalidScope { .. })
            }),
            (
                valid().resource_server(ResourceServer::new("x", "").scope("a", "").scope("a", "")),
                |e| matches!(e, ConfigError::DuplicateScope { .. }),
            ),
            (
                valid()
                    .client(AppClient::new("car-orders", "x").allowed_scope("tires/orders.write")),
                |e| matches!(e, ConfigError::DuplicateClient { .. }),
            ),
            (valid().client(AppClient::new("a:b", "x").allowed_scope("tires/orders.write")), |e| {
                matches!(e, ConfigError::InvalidClientId { .. })
            }),
            (valid().client(AppClient::new("", "x").allowed_scope("tires/orders.write")), |e| {
                matches!(e, ConfigError::InvalidClientId { .. })
            }),
            (valid().client(AppClient::new("b", "").allowed_scope("tires/orders.write")), |e| {
                matches!(e, ConfigError::EmptySecret { .. })
            }),
            (valid().client(AppClient::new("b", "x")), |e| {
                matches!(e, ConfigError::NoScopes { .. })
            }),
            (
                valid().client(AppClient {
                    client_secret: None,
                    ..AppClient::new("b", "x").allowed_scope("tires/orders.write")
                }),
                |e| matches!(e, ConfigError::NoCredentials { .. }),
            ),
            (
                valid().client(
                    AppClient::with_public_jwk(
                        "b",
                        serde_json::json!({ "kty": "oct", "k": "c2VjcmV0" }),
                    )
                    .allowed_scope("tires/orders.write"),
                ),
                |e| matches!(e, ConfigError::InvalidPublicKey { .. }),
            ),
            (valid().client(AppClient::new("b", "x").allowed_scope("tires/orders.read")), |e| {
                matches!(e, ConfigError::UnknownScope { .. })
            }),
            (
                valid().client(
                    AppClient::new("b", "x")
                        .allowed_scope("tires/orders.write")
                        .access_token_validity(Duration::from_secs(86_401)),
                ),
                |e| matches!(e, ConfigError::InvalidValidity { secs: 86_401, .. }),
            ),
            (
                valid().client(
                    AppClient::new("b", "x")
                        .allowed_scope("tires/orders.write")
                        .access_token_validity(Duration::ZERO),
                ),
                |e| matches!(e, ConfigError::InvalidValidity { secs: 0, .. }),
            ),
            (valid().admin_token("short"), |e| matches!(e, ConfigError::WeakAdminToken { .. })),
        ];
        for (config, expected) in cases {
            let err = config.validate().unwrap_err();
            assert!(expected(&err), "unexpected error: {err}");
        }
        valid().issuer("http://127.0.0.1:9000/us-east-1_pool").validate().unwrap();
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = valid().admin_token("admin-token-0123456789");
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(!debug.contains("admin-token"), "{debug}");
        assert!(debug.contains("car-orders"), "{debug}");
    }
}
