//! The `b2b-auth-refresh` job: one [`Refresher::refresh_if_needed`] from a TOML
//! configuration, for cron, a scheduled Lambda or a Kubernetes CronJob. The binary is a thin
//! shell around [`Config`] and [`Config::refresher`].
//!
//! ```toml
//! [source]
//! token_url = "https://auth.tires.example/oauth2/token"   # or: issuer = "https://…" (discovery)
//! client_id = "car-orders"
//! client_secret_env = "CAR_ORDERS_SECRET"                 # or: client_secret_file = "/run/secrets/…"
//! scopes = ["tires/orders.write"]
//! # auth_method = "client_secret_post"                    # default client_secret_basic
//! # basic_encoding = "raw"                                # default form-urlencoded (RFC 6749)
//! # private_key_file = "key.pem"                          # private_key_jwt instead of a secret
//! # private_key_algorithm = "ES256"                       # RS256, PS256, ES256 or EdDSA
//! # private_key_kid = "car-orders-2026"
//! # audience = "https://api.tires.example"
//! # resources = ["https://api.tires.example/orders"]
//!
//! [store]
//! kind = "ssm"                                            # or "redis"
//! parameter = "/car-orders/tires-token"
//! # kms_key_id = "alias/car-orders"
//! # tier = "advanced"
//! # region = "eu-west-1"                                  # default: the AWS environment
//!
//! # [store]
//! # kind = "redis"
//! # url_env = "REDIS_URL"                                 # the URL may carry a password
//! # key = "car-orders:tires-token"
//!
//! # [refresher]
//! # writer_id = "cron"
//! ```
//!
//! Secrets never sit in the file: the client secret and a Redis URL come from environment
//! variables or files named there.

#[cfg(not(any(feature = "ssm", feature = "redis")))]
compile_error!("b2b-auth-refresh needs a store: enable the `ssm` or `redis` feature (or both)");

use std::path::{Path, PathBuf};

use b2b_auth_token::{
    AssertionAlgorithm, AuthMethod, BasicEncoding, ClientCredentials, PrivateKey, Refresher,
};
use serde::Deserialize;

/// A mistake in the configuration or its environment, naming the setting.
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
    #[error("invalid configuration: {0}")]
    Parse(String),
    /// A setting is missing or contradicts another.
    #[error("{0}")]
    Invalid(String),
    /// The token source refused its settings.
    #[error("invalid [source]: {0}")]
    Source(#[from] b2b_auth_token::ConfigError),
    /// The store refused its settings.
    #[error("invalid [store]: {0}")]
    Store(String),
}

/// The whole configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    source: SourceConfig,
    store: StoreConfig,
    #[serde(default)]
    refresher: RefresherConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceConfig {
    token_url: Option<String>,
    issuer: Option<String>,
    client_id: String,
    client_secret_env: Option<String>,
    client_secret_file: Option<PathBuf>,
    auth_method: Option<Method>,
    basic_encoding: Option<Encoding>,
    private_key_file: Option<PathBuf>,
    private_key_algorithm: Option<Algorithm>,
    private_key_kid: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    audience: Option<String>,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    allow_http_loopback: bool,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Method {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Encoding {
    FormUrlencoded,
    Raw,
}

#[derive(Clone, Copy, Debug, Deserialize)]
enum Algorithm {
    RS256,
    PS256,
    ES256,
    EdDSA,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
// A store's fields go unread when its feature is off; parsing still names the kind.
#[cfg_attr(not(all(feature = "ssm", feature = "redis")), allow(dead_code))]
enum StoreConfig {
    Ssm {
        parameter: String,
        kms_key_id: Option<String>,
        #[serde(default)]
        tier: Tier,
        region: Option<String>,
        endpoint_url: Option<String>,
    },
    Redis {
        url_env: String,
        key: String,
    },
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(not(feature = "ssm"), allow(dead_code))]
enum Tier {
    #[default]
    Standard,
    Advanced,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefresherConfig {
    writer_id: Option<String>,
}

impl Config {
    /// Reads and parses a configuration file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Parse`].
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        Self::from_toml(&text)
    }

    /// Parses a configuration.
    ///
    /// # Errors
    /// [`ConfigError::Parse`], naming the line of the mistake.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| {
            // The message and line only: toml's Display quotes the offending line.
            let line =
                e.span().map(|s| text.get(..s.start).unwrap_or("").matches('\n').count() + 1);
            let at = line.map(|l| format!(" at line {l}")).unwrap_or_default();
            ConfigError::Parse(format!("{}{at}", e.message()))
        })
    }

    /// Builds the refresher: the token source (reading its secret from the environment or a
    /// file), the store, and the writer id. Inside a tokio runtime.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting at fault.
    pub async fn refresher(&self) -> Result<Refresher, ConfigError> {
        let source = self.source.build()?;
        let mut builder = match &self.store {
            #[cfg(feature = "ssm")]
            StoreConfig::Ssm { parameter, kms_key_id, tier, region, endpoint_url } => {
                let store = ssm_store(
                    parameter,
                    kms_key_id.as_deref(),
                    *tier,
                    region.as_deref(),
                    endpoint_url.as_deref(),
                )
                .await?;
                Refresher::builder(source, store)
            }
            #[cfg(feature = "redis")]
            StoreConfig::Redis { url_env, key } => {
                let url = env(url_env)?;
                let store = b2b_auth_redis::RedisStore::builder(url, key.clone())
                    .build()
                    .map_err(|e| ConfigError::Store(e.to_string()))?;
                Refresher::builder(source, store)
            }
            #[allow(unreachable_patterns)] // reachable when a store's feature is off
            other => {
                return Err(ConfigError::Store(format!(
                    "{} support is not compiled in",
                    kind(other)
                )));
            }
        };
        if let Some(writer) = &self.refresher.writer_id {
            builder = builder.writer_id(writer.clone());
        }
        Ok(builder.build()?)
    }
}

#[cfg(feature = "ssm")]
async fn ssm_store(
    parameter: &str,
    kms_key_id: Option<&str>,
    tier: Tier,
    region: Option<&str>,
    endpoint_url: Option<&str>,
) -> Result<b2b_auth_ssm::SsmStore, ConfigError> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_owned()));
    }
    if let Some(endpoint) = endpoint_url {
        loader = loader.endpoint_url(endpoint);
    }
    let client = aws_sdk_ssm::Client::new(&loader.load().await);
    let mut builder =
        b2b_auth_ssm::SsmStore::builder(client, parameter.to_owned()).tier(match tier {
            Tier::Standard => b2b_auth_ssm::Tier::Standard,
            Tier::Advanced => b2b_auth_ssm::Tier::Advanced,
        });
    if let Some(key) = kms_key_id {
        builder = builder.kms_key_id(key.to_owned());
    }
    builder.build().map_err(|e| ConfigError::Store(e.to_string()))
}

fn kind(store: &StoreConfig) -> &'static str {
    match store {
        StoreConfig::Ssm { .. } => "ssm",
        StoreConfig::Redis { .. } => "redis",
    }
}

fn env(name: &str) -> Result<String, ConfigError> {
    std::env::var(name)
        .map_err(|_| ConfigError::Invalid(format!("environment variable {name} is not set")))
}

impl SourceConfig {
    fn build(&self) -> Result<ClientCredentials, ConfigError> {
        let mut builder = ClientCredentials::builder()
            .client_id(self.client_id.clone())
            .scopes(self.scopes.iter().cloned())
            .allow_http_loopback(self.allow_http_loopback);
        // Both set is refused by build() with a clear error.
        if let Some(url) = &self.token_url {
            builder = builder.token_url(url.clone());
        }
        if let Some(issuer) = &self.issuer {
            builder = builder.issuer(issuer.clone());
        }
        builder = match (&self.client_secret_env, &self.client_secret_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::Invalid(
                    "set client_secret_env or client_secret_file, not both".into(),
                ));
            }
            (Some(name), None) => builder.client_secret(env(name)?),
            (None, Some(path)) => {
                let secret = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
                builder.client_secret(secret.trim_end_matches(['\r', '\n']).to_owned())
            }
            (None, None) => builder,
        };
        if let Some(path) = &self.private_key_file {
            let algorithm = match self.private_key_algorithm {
                Some(Algorithm::RS256) => AssertionAlgorithm::RS256,
                Some(Algorithm::PS256) => AssertionAlgorithm::PS256,
                Some(Algorithm::ES256) => AssertionAlgorithm::ES256,
                Some(Algorithm::EdDSA) => AssertionAlgorithm::EdDSA,
                None => {
                    return Err(ConfigError::Invalid(
                        "private_key_file needs private_key_algorithm".into(),
                    ));
                }
            };
            let pem = std::fs::read(path)
                .map_err(|source| ConfigError::Read { path: path.clone(), source })?;
            let mut key = PrivateKey::from_pem(&pem, algorithm)?;
            if let Some(kid) = &self.private_key_kid {
                key = key.kid(kid.clone());
            }
            builder = builder.private_key(key);
        }
        if let Some(method) = self.auth_method {
            builder = builder.auth_method(match method {
                Method::ClientSecretBasic => AuthMethod::ClientSecretBasic,
                Method::ClientSecretPost => AuthMethod::ClientSecretPost,
                Method::PrivateKeyJwt => AuthMethod::PrivateKeyJwt,
            });
        }
        if let Some(encoding) = self.basic_encoding {
            builder = builder.basic_encoding(match encoding {
                Encoding::FormUrlencoded => BasicEncoding::FormUrlEncoded,
                Encoding::Raw => BasicEncoding::Raw,
            });
        }
        if let Some(audience) = &self.audience {
            builder = builder.audience(audience.clone());
        }
        for resource in &self.resources {
            builder = builder.resource(resource.clone());
        }
        Ok(builder.build()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [source]
        token_url = "https://idp.example/oauth2/token"
        client_id = "car-orders"
        client_secret_env = "B2B_AUTH_REFRESH_TEST_UNSET_VARIABLE"
        [store]
        kind = "redis"
        url_env = "B2B_AUTH_REFRESH_TEST_UNSET_VARIABLE"
        key = "k"
    "#;

    #[test]
    fn the_documented_shape_parses() {
        assert!(Config::from_toml(MINIMAL).is_ok());
        let ssm = MINIMAL.replace(
            "kind = \"redis\"\n        url_env = \"B2B_AUTH_REFRESH_TEST_UNSET_VARIABLE\"\n        key = \"k\"",
            "kind = \"ssm\"\n        parameter = \"/a/b\"\n        tier = \"advanced\"",
        );
        assert!(matches!(
            Config::from_toml(&ssm).unwrap().store,
            StoreConfig::Ssm { tier: Tier::Advanced, .. }
        ));
    }

    #[test]
    fn typos_and_unknown_kinds_are_refused_with_the_line() {
        let typo = MINIMAL.replace("client_id", "clientid");
        let error = Config::from_toml(&typo).unwrap_err();
        assert!(
            matches!(&error, ConfigError::Parse(message) if message.contains("line")),
            "{error}"
        );
        let kind = MINIMAL.replace("kind = \"redis\"", "kind = \"dynamo\"");
        assert!(matches!(Config::from_toml(&kind), Err(ConfigError::Parse(_))));
    }

    #[tokio::test]
    async fn a_missing_secret_variable_is_named() {
        let error = Config::from_toml(MINIMAL).unwrap().refresher().await.unwrap_err();
        assert!(error.to_string().contains("B2B_AUTH_REFRESH_TEST_UNSET_VARIABLE"), "{error}");
    }
}
