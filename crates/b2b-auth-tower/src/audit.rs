//! One `tracing` event per allow/deny decision — the flow-log view of who called whom — with
//! deny events rate-limited so that an attack cannot flood the logs.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The `tracing` target of every decision event: filter on it to get the flow log
/// (`RUST_LOG=b2b_auth::audit=debug` shows allows too).
pub const AUDIT_TARGET: &str = "b2b_auth::audit";

/// Deny events logged at `info` per second (with a burst); the rest go to `debug`, counted.
const DENY_EVENTS_PER_SECOND: u32 = 20;
const DENY_EVENTS_BURST: u32 = 100;

static DENY_EVENTS: LazyLock<DefaultDirectRateLimiter> = LazyLock::new(|| {
    let rate = NonZeroU32::new(DENY_EVENTS_PER_SECOND).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(DENY_EVENTS_BURST).unwrap_or(NonZeroU32::MIN);
    RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
});

/// Deny events demoted to `debug` since the last one logged at `info`.
static SUPPRESSED: AtomicU64 = AtomicU64::new(0);

/// Whether a layer let a request through.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Outcome {
    Allow,
    Deny,
}

/// One decision of one layer about one request. Never holds a token or a secret.
pub(crate) struct AuditEvent<'a> {
    /// The layer deciding: `require_bearer`, `enforce_policy`, `api_key`.
    pub(crate) layer: &'static str,
    pub(crate) outcome: Outcome,
    /// Why, e.g. an error kind or the policy decision's reason.
    pub(crate) reason: &'a dyn fmt::Display,
    /// The HTTP status of a refusal.
    pub(crate) status: Option<u16>,
    pub(crate) client_ip: Option<IpAddr>,
    /// Where the client IP came from (peer, or which forwarded hop).
    pub(crate) provenance: Option<&'a dyn fmt::Display>,
    /// The verified client id, when known.
    pub(crate) client_id: Option<&'a str>,
    pub(crate) method: &'a http::Method,
    /// The matched route pattern, or the path.
    pub(crate) route: &'a str,
}

/// One `tracing` event of `$event` at `$level` (a constant: callsites are static), with every
/// field of the decision and any extra ones. `status` is `None` on allows: not recorded.
macro_rules! audit_event {
    ($level:expr, $event:expr, $decision:literal $(, $field:ident = $value:expr)*) => {
        tracing::event!(
            target: AUDIT_TARGET,
            $level,
            layer = $event.layer,
            decision = $decision,
            reason = %$event.reason,
            status = $event.status,
            client_ip = $event.client_ip.map(tracing::field::display),
            provenance = $event.provenance.map(tracing::field::display),
            client_id = $event.client_id,
            method = %$event.method,
            route = $event.route,
            $($field = $value,)*
        )
    };
}

impl AuditEvent<'_> {
    /// Emits the event: allows at `debug`; denies at `info`, at most 20 per second (bursts
    /// of 100), the excess at `debug` and counted in the next `info` event's `suppressed`.
    pub(crate) fn emit(&self) {
        match self.outcome {
            Outcome::Allow => audit_event!(tracing::Level::DEBUG, self, "allow"),
            Outcome::Deny if DENY_EVENTS.check().is_ok() => audit_event!(
                tracing::Level::INFO,
                self,
                "deny",
                suppressed = SUPPRESSED.swap(0, Ordering::Relaxed)
            ),
            Outcome::Deny => {
                SUPPRESSED.fetch_add(1, Ordering::Relaxed);
                audit_event!(tracing::Level::DEBUG, self, "deny");
            }
        }
    }
}
