use std::sync::Arc;

use b2b_auth_jwt::{ScopePolicy, Verifier};
use tower_layer::Layer;

use super::routes::ScopeRoutes;
use super::service::RequireBearer;
use crate::error::ConfigError;

/// The realm of the `WWW-Authenticate` challenges unless configured.
const DEFAULT_REALM: &str = "api";

/// Applies [`RequireBearer`]: requests need a valid bearer token meeting their route's scope
/// policy. See the [module documentation](crate::require_bearer).
///
/// Cheap to clone (shared configuration).
#[derive(Clone, Debug)]
pub struct RequireBearerLayer {
    config: Arc<Config>,
}

/// What every [`RequireBearer`] service of one layer shares.
#[derive(Debug)]
pub(super) struct Config {
    pub(super) verifier: Verifier,
    pub(super) routes: ScopeRoutes,
    pub(super) realm: Box<str>,
}

impl RequireBearerLayer {
    /// Every request needs a token that `verifier` accepts and whose scopes meet `policy`;
    /// realm `"api"`. For per-route policies or another realm, see
    /// [`builder`](Self::builder).
    pub fn new(verifier: Verifier, policy: ScopePolicy) -> Self {
        let routes = ScopeRoutes::from(policy);
        Self { config: Arc::new(Config { verifier, routes, realm: DEFAULT_REALM.into() }) }
    }

    /// Starts configuring a layer that verifies tokens with `verifier`.
    pub fn builder(verifier: Verifier) -> RequireBearerLayerBuilder {
        RequireBearerLayerBuilder { verifier, routes: None, realm: DEFAULT_REALM.into() }
    }
}

impl<S> Layer<S> for RequireBearerLayer {
    type Service = RequireBearer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireBearer::new(inner, self.config.clone())
    }
}

/// Configures a [`RequireBearerLayer`].
#[derive(Debug)]
pub struct RequireBearerLayerBuilder {
    verifier: Verifier,
    routes: Option<ScopeRoutes>,
    realm: String,
}

impl RequireBearerLayerBuilder {
    /// What the token's scopes must meet: one [`ScopePolicy`] for every request, or a
    /// [`ScopeRoutes`] table per method and path. Required: there is no default, and
    /// `ScopePolicy::allow_all()` says that any valid token may call.
    pub fn require(mut self, scopes: impl Into<ScopeRoutes>) -> Self {
        self.routes = Some(scopes.into());
        self
    }

    /// The `realm` of the `WWW-Authenticate` challenges (RFC 6750 §3): printable ASCII.
    /// Default: `"api"`.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Checks the configuration and builds the layer.
    ///
    /// # Errors
    /// [`ConfigError::NoScopeRequirement`] without [`require`](Self::require);
    /// [`ConfigError::InvalidSetting`] for an empty realm or one with characters a header
    /// cannot carry.
    pub fn build(self) -> Result<RequireBearerLayer, ConfigError> {
        let routes = self.routes.ok_or(ConfigError::NoScopeRequirement)?;
        if self.realm.is_empty() || !self.realm.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            return Err(ConfigError::InvalidSetting {
                name: "realm",
                reason: "must be non-empty printable ascii",
            });
        }
        let config = Config { verifier: self.verifier, routes, realm: self.realm.into() };
        Ok(RequireBearerLayer { config: Arc::new(config) })
    }
}
