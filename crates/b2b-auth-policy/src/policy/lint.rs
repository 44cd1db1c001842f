//! Load-time warnings about policies that compile but probably do not mean what they say.

use std::fmt;

use super::condition::SetQualifier;
use super::{Pattern, Patterns, Principals, Statement, StatementId};
use crate::decision::{ConditionRef, Effect};
use crate::glob::has_wildcard;
use crate::ipset::IpSetWarning;

/// A warning about a compiled policy.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Lint {
    statement: StatementId,
    kind: LintKind,
}

impl Lint {
    pub(super) fn new(statement: &StatementId, kind: LintKind) -> Self {
        Self { statement: statement.clone(), kind }
    }

    /// The statement concerned.
    pub fn statement(&self) -> &StatementId {
        &self.statement
    }

    /// What is wrong.
    pub fn kind(&self) -> &LintKind {
        &self.kind
    }
}

impl fmt::Display for Lint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.statement, self.kind)
    }
}

/// The kind of a [`Lint`].
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum LintKind {
    /// `NotPrincipal` with `Allow` allows everyone not listed, anonymous callers included.
    NotPrincipalWithAllow,
    /// `ForAllValues:` with `Allow` holds when the key is absent, so it allows requests that
    /// simply leave the key out.
    ForAllValuesWithAllow {
        /// The condition.
        condition: ConditionRef,
    },
    /// `NotIpAddress` or `IpAddressIfExists` with `Allow` holds when the request has no
    /// source address.
    AllowWithoutSourceIp {
        /// The condition.
        condition: ConditionRef,
    },
    /// A resource names another partition, region, account or API, and never matches this
    /// API's requests.
    ForeignResource {
        /// The resource as written.
        resource: String,
    },
    /// Another statement without conditions covers this one's principals, actions and
    /// resources with the same effect or a deny: this statement never changes a decision.
    Shadowed {
        /// The covering statement.
        by: StatementId,
    },
    /// A CIDR of an `IpAddress`/`NotIpAddress` condition: host bits set, `/0`, duplicate, or
    /// covered by another.
    Cidr(IpSetWarning),
}

impl fmt::Display for LintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotPrincipalWithAllow => f.write_str(
                "NotPrincipal with Allow allows every other principal, anonymous included",
            ),
            Self::ForAllValuesWithAllow { condition } => {
                write!(f, "{condition} with Allow also holds when the key is absent")
            }
            Self::AllowWithoutSourceIp { condition } => {
                write!(f, "{condition} with Allow also holds for requests without a source ip")
            }
            Self::ForeignResource { resource } => {
                write!(f, "resource {resource:?} never matches this api")
            }
            Self::Shadowed { by } => write!(f, "never changes a decision; {by} covers it"),
            Self::Cidr(warning) => warning.fmt(f),
        }
    }
}

/// The warnings about one statement on its own.
pub(super) fn statement(statement: &Statement, api_id: &str) -> Vec<Lint> {
    let mut lints = Vec::new();
    let mut push = |kind| lints.push(Lint::new(&statement.id, kind));
    if statement.effect == Effect::Allow {
        if statement.principals.negated {
            push(LintKind::NotPrincipalWithAllow);
        }
        for condition in &statement.conditions {
            let written = condition.written().clone();
            if condition.set() == Some(SetQualifier::AllValues) {
                push(LintKind::ForAllValuesWithAllow { condition: written });
            } else if condition.passes_without_source_ip() {
                push(LintKind::AllowWithoutSourceIp { condition: written });
            }
        }
    }
    for pattern in &statement.resources.patterns {
        if is_foreign(pattern, api_id) {
            push(LintKind::ForeignResource { resource: pattern.text.clone() });
        }
    }
    lints
}

/// True when the resource's partition, region or account is not this API's, or its first
/// segment names another API id without a wildcard.
fn is_foreign(pattern: &Pattern, api_id: &str) -> bool {
    let Some(glob) = pattern.glob.as_deref() else { return true };
    match glob.split_once('/') {
        Some((first, _)) => !has_wildcard(first) && first != api_id,
        None => !has_wildcard(glob) && glob != api_id,
    }
}

/// Statements that an unconditional statement makes irrelevant.
pub(super) fn shadowed(statements: &[Statement]) -> Vec<Lint> {
    let mut lints = Vec::new();
    for shadow in statements {
        let by = statements.iter().find(|cover| {
            cover.id != shadow.id
                && cover.conditions.is_empty()
                && (cover.effect == shadow.effect || cover.effect == Effect::Deny)
                // Of two identical statements, the later one is reported.
                && !(cover.effect == shadow.effect
                    && cover.id.index() > shadow.id.index()
                    && covers_statement(shadow, cover))
                && covers_statement(cover, shadow)
        });
        if let Some(cover) = by {
            lints.push(Lint::new(&shadow.id, LintKind::Shadowed { by: cover.id.clone() }));
        }
    }
    lints
}

/// Whether every request `inner` applies to is one `outer` matches (conditions aside).
fn covers_statement(outer: &Statement, inner: &Statement) -> bool {
    covers_principals(&outer.principals, &inner.principals)
        && covers_patterns(&outer.actions, &inner.actions, true)
        && covers_patterns(&outer.resources, &inner.resources, false)
}

fn covers_principals(outer: &Principals, inner: &Principals) -> bool {
    if outer.negated || inner.negated {
        return false;
    }
    outer.any || (!inner.any && inner.ids.iter().all(|id| outer.ids.contains(id)))
}

fn covers_patterns(outer: &Patterns, inner: &Patterns, fold_case: bool) -> bool {
    if outer.negated || inner.negated {
        return false;
    }
    inner.patterns.iter().all(|i| {
        // A pattern that can never match this API needs no covering.
        let Some(inner) = i.glob.as_deref() else { return true };
        outer
            .patterns
            .iter()
            .any(|o| o.glob.as_deref().is_some_and(|o| covers(o, inner, fold_case)))
    })
}

/// Conservatively: equal patterns, or `prefix*` over a pattern starting with `prefix`.
fn covers(outer: &str, inner: &str, fold_case: bool) -> bool {
    let (outer, inner) = if fold_case {
        (outer.to_ascii_lowercase(), inner.to_ascii_lowercase())
    } else {
        (outer.to_owned(), inner.to_owned())
    };
    if outer == inner {
        return true;
    }
    match outer.strip_suffix('*') {
        Some(prefix) => !has_wildcard(prefix) && inner.starts_with(prefix),
        None => false,
    }
}
