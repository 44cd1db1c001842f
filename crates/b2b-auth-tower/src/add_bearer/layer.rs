use std::fmt;

use b2b_auth_token::TokenProvider;
use tower_layer::Layer;

use super::AddBearer;

/// Adds `Authorization: Bearer` from a [`TokenProvider`] to every request, retrying once
/// after a `401` for a refused token. See the [module docs](super).
#[derive(Clone)]
pub struct AddBearerLayer {
    provider: TokenProvider,
}

impl AddBearerLayer {
    /// A layer handing out `provider`'s token.
    pub fn new(provider: TokenProvider) -> Self {
        Self { provider }
    }
}

impl fmt::Debug for AddBearerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddBearerLayer").field("provider", &self.provider).finish()
    }
}

impl<S> Layer<S> for AddBearerLayer {
    type Service = AddBearer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AddBearer::new(inner, self.provider.clone())
    }
}
