//! An AWS Systems Manager Parameter Store [`TokenStore`] for `b2b-auth-token`: the pattern
//! where a scheduled job refreshes one client-credentials token and every instance reads it.
//!
//! - The envelope (versioned JSON: token, type, issue and expiry times, scopes, generation,
//!   writer) is a `SecureString` parameter, encrypted with the account's default key or a
//!   customer-managed KMS key, overwritten in place (`Overwrite=true`, no labels).
//! - Its size is checked before writing against the tier's limit: 4 KB for Standard, 8 KB
//!   for Advanced (tokens from some identity providers need Advanced).
//! - Reads use `WithDecryption=true`; a missing parameter is "no token yet".
//! - SSM has no lock: pair readers ([`StoreRole::Reader`](b2b_auth_token::StoreRole), the
//!   default for this store) with one [`Refresher`](b2b_auth_token::Refresher) job.
//!
//! Consistency: last writer wins, and a read may briefly return the previous value after a
//! write. Readers therefore keep a valid token while the shared one is due, never adopt a
//! token older than the one they hold, and fall back to their own fetch (rate-limited) only
//! when the shared token is missing or stale.
//!
//! IAM: readers need `ssm:GetParameter` (and `kms:Decrypt` on a customer-managed key); the
//! writer also needs `ssm:PutParameter` (and `kms:Encrypt`).
//!
//! # Example
//! ```no_run
//! use b2b_auth_ssm::SsmStore;
//! use b2b_auth_token::{ClientCredentials, TokenProvider};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = SsmStore::from_env("/car-orders/tires-token").await?; // default AWS credentials and region
//! let provider = TokenProvider::builder(
//!     ClientCredentials::builder()
//!         .token_url("https://auth.tires.example/oauth2/token")
//!         .client_id("car-orders")
//!         .client_secret(std::env::var("CAR_ORDERS_SECRET")?)
//!         .scope("tires/orders.write")
//!         .build()?,
//! )
//! .store(store) // reads the token a scheduled Refresher keeps fresh
//! .build()?;
//! let token = provider.token().await?;
//! # let _ = token;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::sync::Arc;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::SdkError;
use aws_sdk_ssm::types::{ParameterTier, ParameterType};
use b2b_auth_token::{BoxFuture, TokenEnvelope, TokenError, TokenErrorKind, TokenStore};
use secrecy::ExposeSecret as _;

/// The tier of the parameter, which bounds its size.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum Tier {
    /// Up to 4 KB, free of charge. The default.
    #[default]
    Standard,
    /// Up to 8 KB, charged per parameter and month.
    Advanced,
}

impl Tier {
    /// The largest value the tier holds, in bytes.
    pub fn max_value_bytes(self) -> usize {
        match self {
            Self::Standard => 4096,
            Self::Advanced => 8192,
        }
    }

    fn aws(self) -> ParameterTier {
        match self {
            Self::Standard => ParameterTier::Standard,
            Self::Advanced => ParameterTier::Advanced,
        }
    }
}

/// A configuration mistake reported by [`SsmStoreBuilder::build`].
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The parameter name breaks SSM's naming rules.
    #[error("invalid ssm parameter name {name:?}: {reason}")]
    InvalidName {
        /// The name.
        name: String,
        /// Which rule it breaks.
        reason: &'static str,
    },
}

/// Why a write was refused before reaching SSM.
#[derive(Debug, thiserror::Error)]
#[error("token envelope of {size} bytes exceeds the {tier:?} tier's {limit} bytes")]
struct TooLarge {
    size: usize,
    tier: Tier,
    limit: usize,
}

/// The SSM error behind a failed store operation.
#[derive(Debug, thiserror::Error)]
#[error("ssm {operation} failed")]
struct SsmFailure {
    operation: &'static str,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

fn failed<E: std::error::Error + Send + Sync + 'static>(
    operation: &'static str,
) -> impl FnOnce(E) -> TokenError {
    move |source| {
        TokenError::new(TokenErrorKind::Store)
            .with_source(SsmFailure { operation, source: Box::new(source) })
    }
}

/// A [`TokenStore`] on an SSM `SecureString` parameter. Cheap to clone.
#[derive(Clone)]
pub struct SsmStore {
    client: Client,
    name: Arc<str>,
    kms_key_id: Option<Arc<str>>,
    tier: Tier,
}

impl fmt::Debug for SsmStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsmStore")
            .field("name", &self.name)
            .field("kms_key_id", &self.kms_key_id)
            .field("tier", &self.tier)
            .finish_non_exhaustive()
    }
}

impl SsmStore {
    /// Starts configuring a store for the parameter `name`, through `client`.
    pub fn builder(client: Client, name: impl Into<String>) -> SsmStoreBuilder {
        SsmStoreBuilder { client, name: name.into(), kms_key_id: None, tier: Tier::default() }
    }

    /// A store for `name` with the default AWS configuration (credentials chain, region).
    ///
    /// # Errors
    /// [`ConfigError::InvalidName`] for a name SSM would refuse.
    pub async fn from_env(name: impl Into<String>) -> Result<Self, ConfigError> {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::builder(Client::new(&config), name).build()
    }

    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl TokenStore for SsmStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenEnvelope>, TokenError>> {
        Box::pin(async move {
            let response =
                self.client.get_parameter().name(&*self.name).with_decryption(true).send().await;
            let output = match response {
                Ok(output) => output,
                Err(SdkError::ServiceError(error)) if error.err().is_parameter_not_found() => {
                    return Ok(None);
                }
                Err(error) => return Err(failed("GetParameter")(error)),
            };
            let value = output.parameter.and_then(|p| p.value);
            value.as_deref().map(TokenEnvelope::from_json).transpose()
        })
    }

    fn save<'a>(&'a self, envelope: &'a TokenEnvelope) -> BoxFuture<'a, Result<(), TokenError>> {
        Box::pin(async move {
            let json = envelope.to_json();
            let value = json.expose_secret();
            let limit = self.tier.max_value_bytes();
            if value.len() > limit {
                let error = TooLarge { size: value.len(), tier: self.tier, limit };
                return Err(TokenError::new(TokenErrorKind::Store).with_source(error));
            }
            self.client
                .put_parameter()
                .name(&*self.name)
                .value(value)
                .r#type(ParameterType::SecureString)
                .overwrite(true)
                .tier(self.tier.aws())
                .set_key_id(self.kms_key_id.as_deref().map(str::to_owned))
                .send()
                .await
                .map_err(failed("PutParameter"))?;
            tracing::debug!(
                name = &*self.name,
                generation = envelope.generation(),
                "token envelope written"
            );
            Ok(())
        })
    }
}

/// Configures an [`SsmStore`]. Every setter documents its default.
#[derive(Debug)]
pub struct SsmStoreBuilder {
    client: Client,
    name: String,
    kms_key_id: Option<String>,
    tier: Tier,
}

impl SsmStoreBuilder {
    /// Encrypts with this customer-managed KMS key (id, ARN or alias). Default: the account's
    /// `alias/aws/ssm`.
    pub fn kms_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.kms_key_id = Some(key_id.into());
        self
    }

    /// The parameter tier. Default: [`Tier::Standard`] (4 KB).
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = tier;
        self
    }

    /// Checks the name and builds the store.
    ///
    /// # Errors
    /// [`ConfigError::InvalidName`] for a name SSM would refuse.
    pub fn build(self) -> Result<SsmStore, ConfigError> {
        check_name(&self.name)?;
        Ok(SsmStore {
            client: self.client,
            name: self.name.into(),
            kms_key_id: self.kms_key_id.map(Into::into),
            tier: self.tier,
        })
    }
}

/// SSM's naming rules: 1 to 2048 characters of `a-zA-Z0-9_.-/`, at most 15 levels, a
/// hierarchical name starts with `/`, and no `aws` or `ssm` prefix.
fn check_name(name: &str) -> Result<(), ConfigError> {
    let invalid = |reason| Err(ConfigError::InvalidName { name: name.to_owned(), reason });
    if name.is_empty() || name.len() > 2048 {
        return invalid("must have 1 to 2048 characters");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/')) {
        return invalid("only letters, digits and _ . - / are allowed");
    }
    if name.contains('/') && !name.starts_with('/') {
        return invalid("a hierarchical name starts with '/'");
    }
    if name.matches('/').count() > 15 {
        return invalid("at most 15 levels");
    }
    let first = name.trim_start_matches('/').to_ascii_lowercase();
    if first.starts_with("aws") || first.starts_with("ssm") {
        return invalid("names starting with aws or ssm are reserved");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_ssm_rules() {
        for good in ["/car-orders/tires-token", "tires_token", "/a/b.c-d_e"] {
            assert_eq!(check_name(good), Ok(()), "{good}");
        }
        for bad in
            ["", "a b", "car-orders/tires", "/aws/token", "ssm-token", "/x/é", &"/a".repeat(16)]
        {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tiers_bound_the_value_size() {
        assert_eq!(Tier::Standard.max_value_bytes(), 4096);
        assert_eq!(Tier::Advanced.max_value_bytes(), 8192);
    }
}
