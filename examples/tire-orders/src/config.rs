//! The service's configuration: a TOML file, then environment variables, with defaults that
//! run on one machine next to the local issuer and car orders.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use b2b_auth_tower::api_key::ApiKeysConfig;
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
    #[error("invalid tire-orders configuration: {0}")]
    Parse(String),
    /// An environment variable holds an unusable value.
    #[error("invalid value in environment variable {0}")]
    Env(&'static str),
}

/// The whole configuration. Every section has local defaults except the API keys.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen. Default `127.0.0.1:8081`; env `TIRE_ORDERS_LISTEN`.
    #[serde(default = "defaults::listen")]
    pub listen: SocketAddr,
    /// The SQLite file. Default `tire-orders.sqlite`; env `TIRE_ORDERS_DATABASE`.
    #[serde(default = "defaults::database")]
    pub database: PathBuf,
    /// The realm of `WWW-Authenticate` challenges. Default `tire-orders`.
    #[serde(default = "defaults::realm")]
    pub realm: String,
    /// The identity provider whose tokens are accepted.
    #[serde(default)]
    pub issuer: IssuerConfig,
    /// Who may call: the manufacturer's egress addresses and the API's ARN parts.
    #[serde(default)]
    pub access: AccessConfig,
    /// API keys and their usage plans.
    pub api_keys: ApiKeysConfig,
    /// When pending orders complete.
    #[serde(default)]
    pub completion: CompletionConfig,
    /// Where and how completion events are delivered.
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// The client-credentials token for the manufacturer's API.
    #[serde(default)]
    pub callback_token: CallbackTokenConfig,
    /// The scope the admin endpoints require. Default `tires/events.replay`.
    #[serde(default = "defaults::replay_scope")]
    pub replay_scope: String,
}

/// The trusted identity provider.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Its issuer URL (`iss`); its keys come from OIDC discovery. Default
    /// `http://127.0.0.1:9000`; env `TIRE_ORDERS_ISSUER`.
    #[serde(default = "defaults::issuer")]
    pub url: String,
    /// The client ids whose tokens are accepted. Default `["car-orders", "tire-orders-ops"]`.
    #[serde(default = "defaults::clients")]
    pub client_ids: Vec<String>,
    /// Allow plain HTTP to a loopback issuer (local runs). Default `true`.
    #[serde(default = "defaults::yes")]
    pub allow_http_loopback: bool,
}

/// The IP allowlist and the resource policy built from it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// CIDRs allowed to call `/orders`: the manufacturer's egress. Default `["127.0.0.2/32"]`.
    #[serde(default = "defaults::allowed_ips")]
    pub allowed_ips: Vec<String>,
    /// A resource policy (IAM JSON) to enforce instead of the one derived from
    /// `allowed_ips` (allow `execute-api:Invoke` from them, deny from anywhere else).
    #[serde(default)]
    pub resource_policy: Option<String>,
    /// The API's region, account, id and stage, for `execute-api` ARNs.
    #[serde(default = "defaults::region")]
    pub region: String,
    /// See `region`.
    #[serde(default = "defaults::account")]
    pub account: String,
    /// See `region`.
    #[serde(default = "defaults::api_id")]
    pub api_id: String,
    /// See `region`.
    #[serde(default = "defaults::stage")]
    pub stage: String,
}

/// The completion job.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletionConfig {
    /// How long after acceptance a tire order completes. Default 3000 ms.
    #[serde(default = "defaults::completion_delay_ms")]
    pub delay_ms: u64,
    /// How often the jobs look for work. Default 200 ms.
    #[serde(default = "defaults::poll_ms")]
    pub poll_ms: u64,
}

/// Event delivery.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// The manufacturer's base URL. Default `http://127.0.0.1:8080/`; env
    /// `TIRE_ORDERS_CALLBACK_URL`.
    #[serde(default = "defaults::callback_url")]
    pub callback_url: String,
    /// Attempts before dead-lettering. Default 8.
    #[serde(default = "defaults::max_attempts")]
    pub max_attempts: u32,
    /// First back-off. Default 200 ms.
    #[serde(default = "defaults::initial_backoff_ms")]
    pub initial_backoff_ms: u64,
    /// Longest back-off. Default 5000 ms.
    #[serde(default = "defaults::max_backoff_ms")]
    pub max_backoff_ms: u64,
}

/// The callback's client credentials.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackTokenConfig {
    /// Default `http://127.0.0.1:9000/oauth2/token`; env `TIRE_ORDERS_TOKEN_URL`.
    #[serde(default = "defaults::token_url")]
    pub token_url: String,
    /// Default `tire-orders`.
    #[serde(default = "defaults::client_id")]
    pub client_id: String,
    /// The secret itself, for local demos; prefer `client_secret_env`. Env
    /// `TIRE_ORDERS_CLIENT_SECRET` overrides both.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// The environment variable holding the secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Default `cars/orders.complete`.
    #[serde(default = "defaults::callback_scope")]
    pub scope: String,
    /// Allow plain HTTP to a loopback token endpoint. Default `true`.
    #[serde(default = "defaults::yes")]
    pub allow_http_loopback: bool,
}

mod defaults {
    use std::net::SocketAddr;
    use std::path::PathBuf;

    pub(super) fn listen() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 8081))
    }
    pub(super) fn database() -> PathBuf {
        PathBuf::from("tire-orders.sqlite")
    }
    pub(super) fn realm() -> String {
        "tire-orders".into()
    }
    pub(super) fn issuer() -> String {
        "http://127.0.0.1:9000".into()
    }
    pub(super) fn clients() -> Vec<String> {
        vec!["car-orders".into(), "tire-orders-ops".into()]
    }
    pub(super) fn yes() -> bool {
        true
    }
    pub(super) fn allowed_ips() -> Vec<String> {
        vec!["127.0.0.2/32".into()]
    }
    pub(super) fn region() -> String {
        "local-1".into()
    }
    pub(super) fn account() -> String {
        "000000000000".into()
    }
    pub(super) fn api_id() -> String {
        "tire-orders".into()
    }
    pub(super) fn stage() -> String {
        "prod".into()
    }
    pub(super) fn completion_delay_ms() -> u64 {
        3000
    }
    pub(super) fn poll_ms() -> u64 {
        200
    }
    pub(super) fn callback_url() -> String {
        "http://127.0.0.1:8080/".into()
    }
    pub(super) fn max_attempts() -> u32 {
        8
    }
    pub(super) fn initial_backoff_ms() -> u64 {
        200
    }
    pub(super) fn max_backoff_ms() -> u64 {
        5000
    }
    pub(super) fn token_url() -> String {
        "http://127.0.0.1:9000/oauth2/token".into()
    }
    pub(super) fn client_id() -> String {
        "tire-orders".into()
    }
    pub(super) fn callback_scope() -> String {
        "cars/orders.complete".into()
    }
    pub(super) fn replay_scope() -> String {
        "tires/events.replay".into()
    }
}

impl Default for IssuerConfig {
    fn default() -> Self {
        Self { url: defaults::issuer(), client_ids: defaults::clients(), allow_http_loopback: true }
    }
}

impl Default for AccessConfig {
    fn default() -> Self {
        Self {
            allowed_ips: defaults::allowed_ips(),
            resource_policy: None,
            region: defaults::region(),
            account: defaults::account(),
            api_id: defaults::api_id(),
            stage: defaults::stage(),
        }
    }
}

impl Default for CompletionConfig {
    fn default() -> Self {
        Self { delay_ms: defaults::completion_delay_ms(), poll_ms: defaults::poll_ms() }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            callback_url: defaults::callback_url(),
            max_attempts: defaults::max_attempts(),
            initial_backoff_ms: defaults::initial_backoff_ms(),
            max_backoff_ms: defaults::max_backoff_ms(),
        }
    }
}

impl Default for CallbackTokenConfig {
    fn default() -> Self {
        Self {
            token_url: defaults::token_url(),
            client_id: defaults::client_id(),
            client_secret: None,
            client_secret_env: None,
            scope: defaults::callback_scope(),
            allow_http_loopback: true,
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

    /// Applies `TIRE_ORDERS_*` environment overrides.
    ///
    /// # Errors
    /// [`ConfigError::Env`] for an unparsable address.
    pub fn with_env(mut self) -> Result<Self, ConfigError> {
        let var = |name| std::env::var(name).ok();
        if let Some(listen) = var("TIRE_ORDERS_LISTEN") {
            self.listen = listen.parse().map_err(|_| ConfigError::Env("TIRE_ORDERS_LISTEN"))?;
        }
        if let Some(database) = var("TIRE_ORDERS_DATABASE") {
            self.database = database.into();
        }
        if let Some(issuer) = var("TIRE_ORDERS_ISSUER") {
            self.issuer.url = issuer;
        }
        if let Some(url) = var("TIRE_ORDERS_CALLBACK_URL") {
            self.delivery.callback_url = url;
        }
        if let Some(url) = var("TIRE_ORDERS_TOKEN_URL") {
            self.callback_token.token_url = url;
        }
        if let Some(secret) = var("TIRE_ORDERS_CLIENT_SECRET") {
            self.callback_token.client_secret = Some(secret.into());
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minimal_file_gets_local_defaults() {
        let config = Config::from_toml(
            r#"
            [api_keys.plans.manufacturer]
            throttle = { rate = 10.0, burst = 20 }
            [[api_keys.keys]]
            id = "car-orders"
            sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
            client_id = "car-orders"
            plan = "manufacturer"
            "#,
        )
        .unwrap();
        assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 8081)));
        assert_eq!(config.access.allowed_ips, ["127.0.0.2/32"]);
        assert_eq!(config.delivery.max_attempts, 8);
        assert_eq!(config.callback_token.scope, "cars/orders.complete");
        assert!(Config::from_toml("listen = 'nope'\n[api_keys]\n").is_err());
        assert!(Config::from_toml("typo = 1\n[api_keys]\n").is_err());
    }

    #[test]
    fn the_sample_configuration_is_valid() {
        let config = Config::from_toml(include_str!("../../../config/tire-orders.toml")).unwrap();
        let keys = b2b_auth_tower::api_key::ApiKeys::from_config(&config.api_keys).unwrap();
        assert_eq!(keys.len(), 1);
    }

    #[test]
    fn the_callback_secret_never_shows_in_debug() {
        let config =
            Config::from_toml("[api_keys]\n[callback_token]\nclient_secret = \"s-secret\"\n")
                .unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("callback_token") && !debug.contains("s-secret"), "{debug}");
    }
}
