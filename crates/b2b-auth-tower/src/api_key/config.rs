//! API keys and usage plans as configuration: plans by name, keys naming their plan.

use std::collections::BTreeMap;
use std::fmt;

use super::keys::{ApiKey, ApiKeys};
use super::plan::{Period, Quota, Throttle, UsagePlan};
use crate::ConfigError;

/// Usage plans and API keys as a configuration file holds them (with feature `serde`, it
/// deserializes, e.g. from TOML). Key values never appear: only their SHA-256.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use b2b_auth_tower::api_key::{ApiKeys, ApiKeysConfig};
///
/// let config: ApiKeysConfig = toml::from_str(r#"
///     [plans.partners]
///     throttle = { rate = 50.0, burst = 100 }   # requests per second, bucket size
///     quota = { limit = 100000, period = "day" } # "day", "week" or "month" (UTC)
///
///     [[keys]]
///     id = "car-orders-2026"
///     sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
///     client_id = "car-orders"
///     plan = "partners"
/// "#)?;
/// let keys = ApiKeys::from_config(&config)?;
/// assert_eq!(keys.get("car-orders-2026").map(|k| k.plan().name().to_owned()), Some("partners".into()));
/// # Ok(()) }
/// # }
/// ```
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct ApiKeysConfig {
    /// The usage plans, by name.
    #[cfg_attr(feature = "serde", serde(default))]
    pub plans: BTreeMap<String, PlanConfig>,
    /// The keys.
    #[cfg_attr(feature = "serde", serde(default))]
    pub keys: Vec<KeyConfig>,
}

/// One usage plan of an [`ApiKeysConfig`]: throttle and quota, both optional.
#[derive(Clone, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct PlanConfig {
    /// The throttle.
    pub throttle: Option<ThrottleConfig>,
    /// The quota.
    pub quota: Option<QuotaConfig>,
}

/// A throttle as API Gateway's usage plans write it: a rate and a burst.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct ThrottleConfig {
    /// Requests per second, possibly fractional (`0.5`: one every two seconds).
    pub rate: f64,
    /// The bucket's size: how many requests an idle key may send at once.
    pub burst: u32,
}

/// A quota: a limit per UTC calendar period.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct QuotaConfig {
    /// Requests per period.
    pub limit: u64,
    /// `day`, `week` (from Monday) or `month`.
    pub period: Period,
}

/// One API key of an [`ApiKeysConfig`]: `Debug` shows its fingerprint, not its SHA-256.
#[derive(Clone, Default)]
#[cfg_attr(feature = "serde", derive(serde::Deserialize), serde(deny_unknown_fields))]
#[non_exhaustive]
pub struct KeyConfig {
    /// The key's id (shown in logs).
    pub id: String,
    /// The SHA-256 of the key's value, 64 hex digits (`echo -n "$KEY" | sha256sum`).
    pub sha256: String,
    /// The client the key belongs to.
    pub client_id: String,
    /// The name of the key's plan, one of [`ApiKeysConfig::plans`].
    pub plan: String,
}

impl fmt::Debug for KeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyConfig")
            .field("id", &self.id)
            .field("sha256", &format_args!("{}…", self.sha256.get(..8).unwrap_or_default()))
            .field("client_id", &self.client_id)
            .field("plan", &self.plan)
            .finish()
    }
}

impl ApiKeysConfig {
    /// The configured keys, each with its plan built.
    ///
    /// # Errors
    /// The first mistake found: an invalid plan, a key naming an unknown plan, a bad digest,
    /// a duplicate id or value ([`ConfigError`]).
    pub fn to_keys(&self) -> Result<Vec<ApiKey>, ConfigError> {
        let mut plans = BTreeMap::new();
        for (name, plan) in &self.plans {
            plans.insert(name.as_str(), plan.to_plan(name)?);
        }
        self.keys
            .iter()
            .map(|key| {
                let plan = plans.get(key.plan.as_str()).ok_or_else(|| {
                    ConfigError::UnknownPlan { key: key.id.clone(), plan: key.plan.clone() }
                })?;
                ApiKey::builder(&key.id)
                    .client_id(&key.client_id)
                    .sha256_hex(&key.sha256)
                    .plan(plan.clone())
                    .build()
            })
            .collect()
    }
}

impl PlanConfig {
    fn to_plan(&self, name: &str) -> Result<UsagePlan, ConfigError> {
        let mut plan = UsagePlan::builder(name);
        if let Some(throttle) = &self.throttle {
            plan = plan.throttle(Throttle::from_rate(throttle.rate)?.burst(throttle.burst));
        }
        if let Some(quota) = &self.quota {
            plan = plan.quota(Quota::new(quota.limit, quota.period));
        }
        plan.build()
    }
}

impl ApiKeys {
    /// A set holding the keys of `config`.
    ///
    /// # Errors
    /// As [`ApiKeysConfig::to_keys`].
    pub fn from_config(config: &ApiKeysConfig) -> Result<Self, ConfigError> {
        Self::from_keys(config.to_keys()?)
    }
}

#[cfg(test)]
#[cfg(feature = "serde")] // the tests read TOML
mod tests {
    use super::*;
    use crate::api_key::sha256_hex;

    fn parse(toml: &str) -> ApiKeysConfig {
        toml::from_str(toml).unwrap()
    }

    #[test]
    fn plans_and_keys_load_with_their_limits() {
        let config = parse(&format!(
            r#"
            [plans.gold]
            throttle = {{ rate = 0.5, burst = 3 }}
            quota = {{ limit = 1000, period = "week" }}
            [plans.free]

            [[keys]]
            id = "a"
            sha256 = "{}"
            client_id = "car-orders"
            plan = "gold"
            "#,
            sha256_hex("value-a")
        ));
        let keys = ApiKeys::from_config(&config).unwrap();
        let key = keys.find(b"value-a").unwrap();
        assert_eq!((key.id(), key.client_id(), key.plan().name()), ("a", "car-orders", "gold"));
        let throttle = key.plan().throttle().unwrap();
        assert_eq!(
            (throttle.interval(), throttle.max_burst()),
            (std::time::Duration::from_secs(2), 3)
        );
        assert_eq!(key.plan().quota(), Some(Quota::per_week(1000)));
        let shown = format!("{config:?}");
        assert!(!shown.contains(&sha256_hex("value-a")), "{shown}");
    }

    #[test]
    fn mistakes_are_named() {
        let key = |plan: &str, sha: &str| {
            format!(
                "[[keys]]\nid = \"k\"\nsha256 = \"{sha}\"\nclient_id = \"c\"\nplan = \"{plan}\"\n"
            )
        };
        let good = sha256_hex("v");
        let error = |toml: &str| ApiKeys::from_config(&parse(toml)).unwrap_err();
        assert_eq!(
            error(&key("gold", &good)),
            ConfigError::UnknownPlan { key: "k".into(), plan: "gold".into() }
        );
        assert_eq!(
            error(&format!("[plans.p]\n{}", key("p", "abc"))),
            ConfigError::InvalidKeyDigest("k".into())
        );
        assert_eq!(
            error(&format!(
                "[plans.p]\nthrottle = {{ rate = 0.0, burst = 1 }}\n{}",
                key("p", &good)
            )),
            ConfigError::InvalidThrottle
        );
        assert_eq!(
            error(&format!("[plans.p]\n{}{}", key("p", &good), key("p", &sha256_hex("w")))),
            ConfigError::DuplicateKeyId("k".into())
        );
        // Typos in field names are errors, not silently ignored settings.
        assert!(
            toml::from_str::<ApiKeysConfig>("[plans.p]\nthrotle = { rate = 1.0, burst = 1 }")
                .is_err()
        );
        assert!(
            toml::from_str::<ApiKeysConfig>("[plans.p]\nquota = { limit = 1, period = \"year\" }")
                .is_err()
        );
    }
}
