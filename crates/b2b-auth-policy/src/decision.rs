//! Explained decisions: what was decided, by which rule, about which client.

use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;

use crate::client_ip::ClientIp;
use crate::error::{ClientIpError, PathError};
use crate::policy::StatementId;

/// Allow or deny.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum Effect {
    /// Let the request through.
    Allow,
    /// Refuse the request.
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
        })
    }
}

/// Why a [`Decision`] was reached.
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// An `Allow` statement applies and no `Deny` statement does.
    ExplicitAllow,
    /// A `Deny` statement applies (explicit deny wins over any allow).
    ExplicitDeny,
    /// No statement applies, so nothing allowed the request.
    ImplicitDeny,
    /// No statement applies, the request carries a verified principal, and the policy is set
    /// to [`SilentPolicy::AllowAuthenticated`](crate::SilentPolicy::AllowAuthenticated).
    DeferredToToken,
    /// An IP rule with the allow action matched the client.
    IpAllowed,
    /// An IP rule with the block action matched the client.
    IpBlocked,
    /// No IP rule matched, and the default IP action applied.
    IpDefault,
    /// The client address could not be established.
    ClientIpUnresolved(ClientIpError),
    /// The request path is not canonical.
    InvalidPath(PathError),
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ExplicitAllow => f.write_str("explicit allow"),
            Self::ExplicitDeny => f.write_str("explicit deny"),
            Self::ImplicitDeny => f.write_str("no statement allows the request"),
            Self::DeferredToToken => f.write_str("no statement applies; deferred to the token"),
            Self::IpAllowed => f.write_str("ip rule allows the client"),
            Self::IpBlocked => f.write_str("ip rule blocks the client"),
            Self::IpDefault => f.write_str("no ip rule matches the client"),
            Self::ClientIpUnresolved(err) => write!(f, "client ip unresolved: {err}"),
            Self::InvalidPath(err) => err.fmt(f),
        }
    }
}

/// A condition of a statement, as written in the policy document.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct ConditionRef {
    operator: Arc<str>,
    key: Arc<str>,
}

impl ConditionRef {
    pub(crate) fn new(operator: &str, key: &str) -> Self {
        Self { operator: operator.into(), key: key.into() }
    }

    /// The operator, with its qualifiers (`ForAnyValue:StringLikeIfExists`).
    pub fn operator(&self) -> &str {
        &self.operator
    }

    /// The condition key (`aws:SourceIp`).
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for ConditionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.operator, self.key)
    }
}

/// The outcome of an access check, with everything needed to explain it.
///
/// Its [`Display`](fmt::Display) is one line for logs; the accessors give the parts. Every
/// decision is also emitted as a `debug` event on the `b2b_auth_policy` target when it is
/// made.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Decision {
    effect: Effect,
    reason: Reason,
    statement: Option<StatementId>,
    failed_condition: Option<ConditionRef>,
    matched_cidr: Option<IpNet>,
    client_ip: Option<ClientIp>,
    report_only: bool,
}

impl Decision {
    pub(crate) fn new(effect: Effect, reason: Reason) -> Self {
        Self {
            effect,
            reason,
            statement: None,
            failed_condition: None,
            matched_cidr: None,
            client_ip: None,
            report_only: false,
        }
    }

    pub(crate) fn with_statement(mut self, statement: Option<StatementId>) -> Self {
        self.statement = statement;
        self
    }

    pub(crate) fn with_failed_condition(mut self, condition: Option<ConditionRef>) -> Self {
        self.failed_condition = condition;
        self
    }

    pub(crate) fn with_cidr(mut self, cidr: Option<IpNet>) -> Self {
        self.matched_cidr = cidr;
        self
    }

    pub(crate) fn with_client_ip(mut self, client_ip: Option<ClientIp>) -> Self {
        self.client_ip = client_ip;
        self
    }

    pub(crate) fn with_report_only(mut self, report_only: bool) -> Self {
        self.report_only = report_only;
        self
    }

    /// Whether to let the request through: the effect is `Allow`, or the check runs in
    /// report-only mode (then [`effect`](Self::effect) says what enforcing would have done).
    pub fn is_allowed(&self) -> bool {
        self.effect == Effect::Allow || self.report_only
    }

    /// What the rules decided, report-only mode or not.
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// Why.
    pub fn reason(&self) -> &Reason {
        &self.reason
    }

    /// The statement that decided: the `Deny` or `Allow` statement that applied; for an
    /// implicit deny, the first `Allow` statement that matched principal, action and resource
    /// but failed a condition (the nearest miss), if any.
    pub fn statement(&self) -> Option<&StatementId> {
        self.statement.as_ref()
    }

    /// For an implicit deny, the condition of [`statement`](Self::statement) that failed.
    pub fn failed_condition(&self) -> Option<&ConditionRef> {
        self.failed_condition.as_ref()
    }

    /// The network that matched the client: of the IP rule, or of the deciding statement's
    /// `IpAddress` condition.
    pub fn matched_cidr(&self) -> Option<IpNet> {
        self.matched_cidr
    }

    /// The client address and its provenance, when it was established.
    pub fn client_ip(&self) -> Option<&ClientIp> {
        self.client_ip.as_ref()
    }

    /// True when the decision is only reported, not enforced.
    pub fn is_report_only(&self) -> bool {
        self.report_only
    }

    /// Emits the decision as one `debug` event: a library must not flood its users' logs, and
    /// a denial is usually a client's mistake or an attack. The tower layer adds the audit
    /// event at the level its user chooses.
    pub(crate) fn trace(&self, principal: Option<&str>, method: &str, path: &str) {
        tracing::debug!(
            effect = %self.effect,
            allowed = self.is_allowed(),
            report_only = self.report_only,
            reason = %self.reason,
            statement = self.statement.as_ref().map(tracing::field::display),
            failed_condition = self.failed_condition.as_ref().map(tracing::field::display),
            matched_cidr = self.matched_cidr.as_ref().map(tracing::field::display),
            client_ip = self.client_ip.as_ref().map(|c| tracing::field::display(c.addr())),
            provenance = self.client_ip.as_ref().map(|c| tracing::field::display(c.provenance())),
            principal,
            method,
            path,
            "access decision"
        );
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.effect)?;
        if self.report_only {
            f.write_str(" (report-only)")?;
        }
        write!(f, ": {}", self.reason)?;
        if let Some(statement) = &self.statement {
            write!(f, " by {statement}")?;
        }
        if let Some(condition) = &self.failed_condition {
            write!(f, ", condition {condition} not met")?;
        }
        if let Some(cidr) = &self.matched_cidr {
            write!(f, ", matched {cidr}")?;
        }
        if let Some(client) = &self.client_ip {
            write!(f, ", client {client}")?;
        }
        Ok(())
    }
}
