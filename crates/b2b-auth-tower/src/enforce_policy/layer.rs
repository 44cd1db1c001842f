use std::sync::Arc;

use b2b_auth_policy::AccessGuard;
use tower_layer::Layer;

use super::service::EnforcePolicy;

/// Applies [`EnforcePolicy`]: requests must pass an [`AccessGuard`] — IP rules (the WAF
/// allowlist) and/or a resource policy. See the [module documentation](crate::enforce_policy).
///
/// Cheap to clone (shared guard).
#[derive(Clone, Debug)]
pub struct EnforcePolicyLayer {
    guard: Arc<AccessGuard>,
}

impl EnforcePolicyLayer {
    /// Every request must pass `guard`. The guard's builder holds the whole configuration:
    /// client-IP source (peer or trusted proxies), IP rules, resource policy, report-only.
    pub fn new(guard: AccessGuard) -> Self {
        Self { guard: Arc::new(guard) }
    }
}

impl<S> Layer<S> for EnforcePolicyLayer {
    type Service = EnforcePolicy<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EnforcePolicy::new(inner, self.guard.clone())
    }
}
