//! Configuration mistakes, reported by the builders' `build()` and by API-key set updates.
//! `Display` names the bad input, never a key.

/// A configuration mistake, naming the bad input.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A route of a [`ScopeRoutes`](crate::ScopeRoutes) table does not parse.
    #[error("invalid route {route:?}: {reason}")]
    InvalidRoute {
        /// The route as given.
        route: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two routes have the same method and the same path pattern (parameter names aside), so
    /// neither is more specific than the other.
    #[error("route {route:?} duplicates {first:?}")]
    DuplicateRoute {
        /// The route given first.
        first: String,
        /// The route given later.
        route: String,
    },
    /// A [`ScopeRoutes`](crate::ScopeRoutes) table without routes and without a fallback
    /// would refuse every request.
    #[error("scope routes refuse every request; add a route or a fallback")]
    NothingAllowed,
    /// A [`RequireBearerLayer`](crate::RequireBearerLayer) was built without a scope
    /// requirement. `ScopePolicy::allow_all()` states explicitly that any valid token may call.
    #[error("no scope requirement; set one with `require`")]
    NoScopeRequirement,
    /// A setting has a value it cannot have.
    #[error("invalid {name}: {reason}")]
    InvalidSetting {
        /// The setting.
        name: &'static str,
        /// Why the value is refused.
        reason: &'static str,
    },
    /// A usage plan without a name.
    #[error("a usage plan needs a name")]
    EmptyPlanName,
    /// A throttle with a zero (or not finite) rate or a zero burst, or whose bucket takes
    /// more than a year to refill.
    #[error("invalid throttle: rate and burst must be positive and refill within a year")]
    InvalidThrottle,
    /// A quota with a zero limit.
    #[error("invalid quota: the limit must be positive")]
    InvalidQuota,
    /// An API key without an id.
    #[error("an api key needs an id")]
    EmptyKeyId,
    /// An API key (named by its id) without a client id.
    #[error("api key {0}: missing client id")]
    EmptyClientId(String),
    /// An API key (named by its id) configured with neither its SHA-256 nor its value, or
    /// with an empty value.
    #[error("api key {0}: missing sha-256 or value")]
    MissingKeyDigest(String),
    /// An API key (named by its id) whose SHA-256 is not 64 hexadecimal digits.
    #[error("api key {0}: the sha-256 must be 64 hexadecimal digits")]
    InvalidKeyDigest(String),
    /// An API key (named by its id) without a usage plan.
    #[error("api key {0}: missing usage plan")]
    MissingPlan(String),
    /// An API key referring to a plan that the configuration does not define.
    #[error("api key {key}: unknown usage plan {plan}")]
    UnknownPlan {
        /// The key's id.
        key: String,
        /// The plan it names.
        plan: String,
    },
    /// Two API keys with the same id.
    #[error("api key id {0} is used twice")]
    DuplicateKeyId(String),
    /// One API key value configured under two ids (both named).
    #[error("api key {added} has the same value as api key {existing}")]
    DuplicateKey {
        /// The id already holding this key.
        existing: String,
        /// The id it was being added under.
        added: String,
    },
}
