//! The service's configuration: a TOML file, then environment variables, with defaults that
//! run on one machine next to the local issuer and tire orders.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

/// A configuration mistake.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown fields.
    #[error("invalid car-orders configuration: {0}")]
    Parse(String),
    /// A setting is missing or unusable.
    #[error("invalid car-orders setting {0}")]
    Invalid(&'static str),
}

/// The whole configuration; every part has local defaults (an empty file is valid).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen. Default `127.0.0.1:8080`; env `CAR_ORDERS_LISTEN`.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// The SQLite file. Default `car-orders.sqlite`; env `CAR_ORDERS_DATABASE`.
    #[serde(default = "defaults::database")]
    pub database: PathBuf,
    /// The realm of `WWW-Authenticate` challenges. Default `car-orders`.
    #[serde(default = "defaults::realm")]
    pub realm: String,
    /// The identity provider whose callback tokens are accepted.
    #[serde(default)]
    pub issuer: IssuerConfig,
    /// The supplier's API and how to call it.
    #[serde(default)]
    pub supplier: SupplierConfig,
    /// The client-credentials token for the supplier's API.
    #[serde(default)]
    pub token: TokenConfig,
}

/// The trusted identity provider, for the supplier's callbacks.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Its issuer URL; keys from OIDC discovery. Default `http://127.0.0.1:9000`; env
    /// `CAR_ORDERS_ISSUER`.
    #[serde(default = "defaults::issuer")]
    pub url: String,
    /// Clients whose callback tokens are accepted. Default `["tire-orders"]`.
    #[serde(default = "defaults::callers")]
    pub client_ids: Vec<String>,
    /// Allow plain HTTP to a loopback issuer (local runs). Default `true`.
    #[serde(default = "defaults::yes")]
    pub allow_http_loopback: bool,
}

/// The supplier.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplierConfig {
    /// Its base URL. Default `http://127.0.0.1:8081/`; env `CAR_ORDERS_SUPPLIER_URL`.
    #[serde(default = "defaults::supplier_url")]
    pub url: String,
    /// The local address calls leave from: the egress the supplier allowlists. Default
    /// `127.0.0.2`; env `CAR_ORDERS_EGRESS`.
    #[serde(default = "defaults::egress")]
    pub egress_address: Option<IpAddr>,
    /// The API key, for local demos; prefer `api_key_env`. Env `CAR_ORDERS_API_KEY` overrides.
    #[serde(default)]
    pub api_key: Option<SecretString>,
    /// The environment variable holding the API key.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// How often orders whose tires could not be ordered (the supplier or the identity
    /// provider down) are tried again. Default 5000 ms.
    #[serde(default = "defaults::retry_ms")]
    pub retry_ms: u64,
}

/// The token for the supplier's API, and where the fleet shares it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Default `http://127.0.0.1:9000/oauth2/token`; env `CAR_ORDERS_TOKEN_URL`.
    #[serde(default = "defaults::token_url")]
    pub token_url: String,
    /// Default `car-orders`.
    #[serde(default = "defaults::client_id")]
    pub client_id: String,
    /// The secret, for local demos; prefer `client_secret_env`. Env `CAR_ORDERS_CLIENT_SECRET`
    /// overrides both.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// The environment variable holding the secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Default `["tires/orders.write", "tires/orders.read"]`.
    #[serde(default = "defaults::scopes")]
    pub scopes: Vec<String>,
    /// Allow plain HTTP to a loopback token endpoint. Default `true`.
    #[serde(default = "defaults::yes")]
    pub allow_http_loopback: bool,
    /// Where the fleet shares the token. Default: in-process.
    #[serde(default)]
    pub store: TokenStoreConfig,
}

/// The shared token's store.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TokenStoreConfig {
    /// This process only.
    #[default]
    Memory,
    /// Redis, the fleet electing its refresher through a lock (feature `redis`).
    Redis {
        /// The Redis URL, for local runs; prefer `url_env` (the URL may carry a password).
        #[serde(default)]
        url: Option<SecretString>,
        /// The environment variable holding the Redis URL.
        #[serde(default)]
        url_env: Option<String>,
        /// The key.
        key: String,
    },
    /// SSM Parameter Store, refreshed by a scheduled `b2b-auth-refresh` job (feature `ssm`).
    Ssm {
        /// The parameter's name.
        parameter: String,
        /// The region, when not the environment's.
        region: Option<String>,
        /// An endpoint override (e.g. a local emulator).
        endpoint_url: Option<String>,
    },
}

mod defaults {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::path::PathBuf;

    pub(super) fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub(super) fn database() -> PathBuf {
        PathBuf::from("car-orders.sqlite")
    }
    pub(super) fn realm() -> String {
        "car-orders".into()
    }
    pub(super) fn issuer() -> String {
        "http://127.0.0.1:9000".into()
    }
    pub(super) fn callers() -> Vec<String> {
        vec!["tire-orders".into()]
    }
    pub(super) fn yes() -> bool {
        true
    }
    pub(super) fn supplier_url() -> String {
        "http://127.0.0.1:8081/".into()
    }
    pub(super) fn egress() -> Option<IpAddr> {
        Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
    }
    pub(super) fn retry_ms() -> u64 {
        5000
    }
    pub(super) fn token_url() -> String {
        "http://127.0.0.1:9000/oauth2/token".into()
    }
    pub(super) fn client_id() -> String {
        "car-orders".into()
    }
    pub(super) fn scopes() -> Vec<String> {
        vec!["tires/orders.write".into(), "tires/orders.read".into()]
    }
}

impl Default for IssuerConfig {
    fn default() -> Self {
        Self { url: defaults::issuer(), client_ids: defaults::callers(), allow_http_loopback: true }
    }
}

impl Default for SupplierConfig {
    fn default() -> Self {
        Self {
            url: defaults::supplier_url(),
            egress_address: defaults::egress(),
            api_key: None,
            api_key_env: None,
            retry_ms: defaults::retry_ms(),
        }
    }
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            token_url: defaults::token_url(),
            client_id: defaults::client_id(),
            client_secret: None,
            client_secret_env: None,
            scopes: defaults::scopes(),
            allow_http_loopback: true,
            store: TokenStoreConfig::Memory,
        }
    }
}

impl Config {
    /// Parses a configuration.
    ///
    /// # Errors
    /// [`ConfigError::Parse`] for malformed TOML or unknown fields.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse(e.message().to_owned()))
    }

    /// Reads a configuration file, then applies the environment overrides.
    ///
    /// # Errors
    /// [`ConfigError`] for an unreadable or invalid file or environment value.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml(&text)?.with_env()
    }

    /// Applies `CAR_ORDERS_*` environment overrides.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] for an unparsable address.
    pub fn with_env(mut self) -> Result<Self, ConfigError> {
        let var = |name| std::env::var(name).ok();
        if let Some(listen) = var("CAR_ORDERS_LISTEN") {
            self.listen = listen.parse().map_err(|_| ConfigError::Invalid("CAR_ORDERS_LISTEN"))?;
        }
        if let Some(database) = var("CAR_ORDERS_DATABASE") {
            self.database = database.into();
        }
        if let Some(issuer) = var("CAR_ORDERS_ISSUER") {
            self.issuer.url = issuer;
        }
        if let Some(url) = var("CAR_ORDERS_SUPPLIER_URL") {
            self.supplier.url = url;
        }
        if let Some(egress) = var("CAR_ORDERS_EGRESS") {
            self.supplier.egress_address =
                Some(egress.parse().map_err(|_| ConfigError::Invalid("CAR_ORDERS_EGRESS"))?);
        }
        if let Some(key) = var("CAR_ORDERS_API_KEY") {
            self.supplier.api_key = Some(key.into());
        }
        if let Some(url) = var("CAR_ORDERS_TOKEN_URL") {
            self.token.token_url = url;
        }
        if let Some(secret) = var("CAR_ORDERS_CLIENT_SECRET") {
            self.token.client_secret = Some(secret.into());
        }
        Ok(self)
    }
}

/// A secret given inline (which wins) or through a named environment variable.
pub(crate) fn inline_or_env(
    inline: Option<&SecretString>,
    env: Option<&String>,
    setting: &'static str,
) -> Result<SecretString, ConfigError> {
    match (inline, env) {
        (Some(value), _) => Ok(value.clone()),
        (None, Some(name)) => {
            std::env::var(name).map(SecretString::from).map_err(|_| ConfigError::Invalid(setting))
        }
        (None, None) => Err(ConfigError::Invalid(setting)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_runs_locally() {
        let config = Config::from_toml("").unwrap();
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(config.supplier.egress_address, Some(IpAddr::from([127, 0, 0, 2])));
        assert!(matches!(config.token.store, TokenStoreConfig::Memory));
        assert!(Config::from_toml("[token.store]\nkind = \"etcd\"\n").is_err());
        assert!(Config::from_toml("[supplier]\napi_kee = \"k\"\n").is_err(), "unknown field");
    }

    #[test]
    fn the_sample_configuration_is_valid() {
        let config = Config::from_toml(include_str!("../../../config/car-orders.toml")).unwrap();
        assert_eq!(config.supplier.egress_address, Some(IpAddr::from([127, 0, 0, 2])));
        assert!(config.token.client_secret.is_some() && config.supplier.api_key.is_some());
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let config = Config::from_toml(
            r#"
            [supplier]
            api_key = "k-secret"
            [token]
            client_secret = "s-secret"
            [token.store]
            kind = "redis"
            url = "redis://:p-secret@127.0.0.1/"
            key = "car-orders:token"
            "#,
        )
        .unwrap();
        assert!(matches!(config.token.store, TokenStoreConfig::Redis { .. }));
        let debug = format!("{config:?}");
        for secret in ["k-secret", "s-secret", "p-secret"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
