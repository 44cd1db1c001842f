use std::any::Any;
use std::fmt;
use std::sync::Arc;

use b2b_auth_core::{Clock, SystemClock};
use tower_layer::Layer;

use super::keys::ApiKeys;
use super::service::{RequireApiKey, Shared, Stores};
use super::store::{MemoryUsageStore, UsageStore};
use crate::ConfigError;

/// What a key demands of the verified token that the bearer layer (running before this one)
/// put into the request extensions as `b2b_auth_jwt::Claims`.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum ClientBinding {
    /// The request must carry verified `Claims` whose client id is the key's client id; a
    /// request without claims is refused (403). The default: a stolen key alone opens
    /// nothing, and a layer stacked in the wrong order fails closed, loudly, on the first
    /// request.
    #[default]
    RequireToken,
    /// Claims, when present, must name the key's client (403 otherwise); a request without
    /// claims is authenticated by its key alone — API Gateway's API-key-only methods. For
    /// routes that the bearer layer does not protect.
    WhenTokenPresent,
}

/// What the layer does when its [`UsageStore`] cannot decide (a Redis store whose server is
/// unreachable or slower than its timeout). Either way, a warning is logged (at most one
/// every ten seconds), and for a second after a failure the store is not asked at all — the
/// layer decides as below at once — so that an outage does not add a timeout to every
/// request.
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum OnStoreError {
    /// Enforce the plan in this process (an in-memory store of the layer's own) until the
    /// store answers again: requests keep flowing and each instance still throttles and
    /// counts, but the fleet as a whole may exceed the plan by up to one plan per instance
    /// while the store is down. The default (fail open to local limits).
    #[default]
    EnforceLocally,
    /// Refuse with 503 and `Retry-After: 1` (gRPC `UNAVAILABLE`): fail closed, when exceeding
    /// a plan costs more than an outage.
    Refuse,
}

/// Validates `x-api-key` against [`ApiKeys`] and enforces each key's usage plan; see the
/// [module documentation](super) for where it goes in a stack.
#[derive(Clone)]
pub struct ApiKeyLayer {
    shared: Arc<Shared>,
}

impl fmt::Debug for ApiKeyLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt(f)
    }
}

impl ApiKeyLayer {
    /// Starts configuring a layer accepting the keys of `keys` (keep a clone to add and
    /// revoke keys at runtime).
    pub fn builder(keys: ApiKeys) -> ApiKeyLayerBuilder {
        ApiKeyLayerBuilder {
            keys,
            store: None,
            clock: Arc::new(SystemClock),
            binding: ClientBinding::default(),
            on_store_error: OnStoreError::default(),
        }
    }
}

impl<S> Layer<S> for ApiKeyLayer {
    type Service = RequireApiKey<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireApiKey::new(inner, self.shared.clone())
    }
}

/// Configures an [`ApiKeyLayer`]. Every setter documents its default.
pub struct ApiKeyLayerBuilder {
    keys: ApiKeys,
    store: Option<Stores>,
    clock: Arc<dyn Clock>,
    binding: ClientBinding,
    on_store_error: OnStoreError,
}

impl fmt::Debug for ApiKeyLayerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyLayerBuilder")
            .field("keys", &self.keys)
            .field("binding", &self.binding)
            .field("on_store_error", &self.on_store_error)
            .finish_non_exhaustive()
    }
}

impl ApiKeyLayerBuilder {
    /// Where throttles and quotas are counted. Default: a [`MemoryUsageStore`] of this
    /// layer's own (per instance). Give a shared store (e.g. Redis) for fleet-wide plans, or
    /// one `MemoryUsageStore` to several layers so that they count together.
    pub fn store(mut self, store: impl UsageStore) -> Self {
        self.store = Some(match (&store as &dyn Any).downcast_ref::<MemoryUsageStore>() {
            // Decided synchronously, without a boxed future; it never fails.
            Some(memory) => Stores::Memory(memory.clone()),
            None => Stores::Shared { store: Arc::new(store), fallback: None },
        });
        self
    }

    /// The time source of throttles and quota periods. Default: [`SystemClock`]. Tests
    /// inject a manual clock to cross a period boundary or refill a bucket without sleeping.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// What a key demands of the verified token. Default: [`ClientBinding::RequireToken`].
    pub fn client_binding(mut self, binding: ClientBinding) -> Self {
        self.binding = binding;
        self
    }

    /// What to do when the store cannot decide. Default: [`OnStoreError::EnforceLocally`].
    pub fn on_store_error(mut self, on_store_error: OnStoreError) -> Self {
        self.on_store_error = on_store_error;
        self
    }

    /// Builds the layer.
    ///
    /// # Errors
    /// Never at present: the `Result` leaves room for settings that can be wrong.
    pub fn build(self) -> Result<ApiKeyLayer, ConfigError> {
        let stores = match self.store {
            None => Stores::Memory(MemoryUsageStore::new()),
            Some(Stores::Shared { store, .. }) => {
                let fallback = match self.on_store_error {
                    OnStoreError::EnforceLocally => Some(MemoryUsageStore::new()),
                    OnStoreError::Refuse => None,
                };
                Stores::Shared { store, fallback }
            }
            Some(memory) => memory,
        };
        let shared = Shared::new(self.keys, stores, self.clock, self.binding, self.on_store_error);
        Ok(ApiKeyLayer { shared: Arc::new(shared) })
    }
}
