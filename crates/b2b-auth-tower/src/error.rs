//! Configuration mistakes, reported by the builders' `build()`.

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
}
