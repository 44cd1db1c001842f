//! Scope sets and the policies that routes require of them.

use std::fmt;
use std::sync::Arc;

/// The scopes a token grants, from its `scope` string (RFC 8693 §4.2, RFC 9068 §2.2.3), `scp`
/// (string or array), `roles` array, or another configured claim. Duplicates are dropped.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Scopes(Vec<Box<str>>);

impl Scopes {
    /// Whether the token grants `scope` (exact, case-sensitive match).
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| &**s == scope)
    }

    /// The scopes, in the order the token lists them.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|s| &**s)
    }

    /// The number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the token grants no scope.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn insert(&mut self, scope: &str) {
        if !scope.is_empty() && !self.contains(scope) {
            self.0.push(scope.into());
        }
    }

    /// Adds each space-separated scope of `list`.
    pub(crate) fn insert_list(&mut self, list: &str) {
        for scope in list.split(' ') {
            self.insert(scope);
        }
    }
}

impl<S: AsRef<str>> FromIterator<S> for Scopes {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Self {
        let mut scopes = Self::default();
        for scope in iter {
            scopes.insert(scope.as_ref());
        }
        scopes
    }
}

/// What a route requires of a token's scopes: a value, built once and attached per route.
///
/// Combine [`ScopePolicy::scope`] (a `&str` converts to one), [`ScopePolicy::all`],
/// [`ScopePolicy::any`] and [`ScopePolicy::not`]. `all([])` holds for every token (any valid
/// token may call), `any([])` for none. Cheap to clone.
///
/// ```
/// use b2b_auth_jwt::{ScopePolicy, Scopes};
///
/// let write = ScopePolicy::all(["tires/orders.write"]);
/// let read = ScopePolicy::any(["tires/orders.read", "tires/orders.write"]);
/// let no_admin = ScopePolicy::all([read.clone(), ScopePolicy::not("tires/admin")]);
///
/// let granted: Scopes = ["tires/orders.read"].into_iter().collect();
/// assert!(read.check(&granted).is_ok());
/// assert!(no_admin.check(&granted).is_ok());
/// let denied = write.check(&granted).unwrap_err();
/// assert_eq!(denied.scope_param(), "tires/orders.write"); // for WWW-Authenticate scope="..."
/// assert_eq!(denied.to_string(), "requires tires/orders.write");
/// ```
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ScopePolicy(Arc<Node>);

#[derive(Debug, Eq, PartialEq)]
enum Node {
    Scope(Box<str>),
    All(Vec<ScopePolicy>),
    Any(Vec<ScopePolicy>),
    Not(ScopePolicy),
}

impl ScopePolicy {
    /// Requires one scope.
    pub fn scope(scope: impl Into<String>) -> Self {
        Self(Arc::new(Node::Scope(scope.into().into_boxed_str())))
    }

    /// Requires every one of `policies`.
    pub fn all<P: Into<ScopePolicy>>(policies: impl IntoIterator<Item = P>) -> Self {
        Self(Arc::new(Node::All(policies.into_iter().map(Into::into).collect())))
    }

    /// Requires at least one of `policies`.
    pub fn any<P: Into<ScopePolicy>>(policies: impl IntoIterator<Item = P>) -> Self {
        Self(Arc::new(Node::Any(policies.into_iter().map(Into::into).collect())))
    }

    /// Requires that `policy` does not hold (e.g. refuse tokens carrying an admin scope).
    pub fn not(policy: impl Into<ScopePolicy>) -> Self {
        Self(Arc::new(Node::Not(policy.into())))
    }

    /// Any valid token passes: `all([])`.
    pub fn allow_all() -> Self {
        Self::all(Vec::<ScopePolicy>::new())
    }

    /// Whether `scopes` satisfy this policy.
    pub fn allows(&self, scopes: &Scopes) -> bool {
        match &*self.0 {
            Node::Scope(scope) => scopes.contains(scope),
            Node::All(all) => all.iter().all(|p| p.allows(scopes)),
            Node::Any(any) => any.iter().any(|p| p.allows(scopes)),
            Node::Not(not) => !not.allows(scopes),
        }
    }

    /// Checks `scopes` and, on failure, says which requirement failed.
    ///
    /// # Errors
    /// [`ScopeDenied`] naming the smallest failing part of the policy: for `all`, the failing
    /// members; for `any` and `not`, the whole requirement.
    pub fn check(&self, scopes: &Scopes) -> Result<(), ScopeDenied> {
        match self.unmet(scopes) {
            None => Ok(()),
            Some(failed) => Err(ScopeDenied { failed }),
        }
    }

    fn unmet(&self, scopes: &Scopes) -> Option<ScopePolicy> {
        match &*self.0 {
            Node::All(all) => {
                let mut failing: Vec<ScopePolicy> =
                    all.iter().filter_map(|p| p.unmet(scopes)).collect();
                match failing.len() {
                    0 => None,
                    1 => failing.pop(),
                    _ => Some(ScopePolicy::all(failing)),
                }
            }
            _ => (!self.allows(scopes)).then(|| self.clone()),
        }
    }

    /// The scopes this policy asks for, outside of any `not`.
    fn wanted<'a>(&'a self, out: &mut Vec<&'a str>) {
        match &*self.0 {
            Node::Scope(scope) => {
                if !out.contains(&&**scope) {
                    out.push(scope);
                }
            }
            Node::All(list) | Node::Any(list) => list.iter().for_each(|p| p.wanted(out)),
            Node::Not(_) => {}
        }
    }
}

impl From<&str> for ScopePolicy {
    fn from(scope: &str) -> Self {
        Self::scope(scope)
    }
}

impl From<String> for ScopePolicy {
    fn from(scope: String) -> Self {
        Self::scope(scope)
    }
}

impl fmt::Display for ScopePolicy {
    /// `scope`, `all(a, b)`, `any(a, all(b, c))`, `not(a)`; a single scope prints bare.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, name: &str, list: &[ScopePolicy]| {
            write!(f, "{name}(")?;
            for (i, p) in list.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{p}")?;
            }
            f.write_str(")")
        };
        match &*self.0 {
            Node::Scope(scope) => f.write_str(scope),
            Node::All(all) => list(f, "all", all),
            Node::Any(any) => list(f, "any", any),
            Node::Not(not) => write!(f, "not({not})"),
        }
    }
}

/// A failed [`ScopePolicy::check`]: which requirement the token did not meet.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ScopeDenied {
    failed: ScopePolicy,
}

impl ScopeDenied {
    /// The part of the policy that failed.
    pub fn failed(&self) -> &ScopePolicy {
        &self.failed
    }

    /// The space-separated scopes of the failed requirement (those under `not` excluded), for
    /// the `scope` attribute of an RFC 6750 §3 `insufficient_scope` challenge. Empty when the
    /// failure is only a `not`.
    pub fn scope_param(&self) -> String {
        let mut wanted = Vec::new();
        self.failed.wanted(&mut wanted);
        wanted.join(" ")
    }
}

impl fmt::Display for ScopeDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "requires {}", self.failed)
    }
}

impl std::error::Error for ScopeDenied {}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &str) -> Scopes {
        let mut s = Scopes::default();
        s.insert_list(list);
        s
    }

    #[test]
    fn scope_lists_split_on_spaces_without_empties_or_duplicates() {
        let s = scopes("a  b a c ");
        assert_eq!(s.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(!s.contains(""));
        assert!(!s.contains("A"));
    }

    #[test]
    fn combinations_evaluate() {
        let p = ScopePolicy::any([
            ScopePolicy::all(["a", "b"]),
            ScopePolicy::all([ScopePolicy::scope("c"), ScopePolicy::not("d")]),
        ]);
        assert!(p.allows(&scopes("a b")));
        assert!(p.allows(&scopes("c")));
        assert!(!p.allows(&scopes("c d")));
        assert!(!p.allows(&scopes("a")));
        assert!(ScopePolicy::allow_all().allows(&Scopes::default()));
        assert!(!ScopePolicy::any(Vec::<ScopePolicy>::new()).allows(&scopes("a")));
    }

    #[test]
    fn denials_name_the_failing_requirement() {
        let p = ScopePolicy::all([
            ScopePolicy::scope("a"),
            ScopePolicy::scope("b"),
            ScopePolicy::any(["c", "d"]),
            ScopePolicy::not("admin"),
        ]);
        let denied = p.check(&scopes("a admin")).unwrap_err();
        assert_eq!(denied.failed().to_string(), "all(b, any(c, d), not(admin))");
        assert_eq!(denied.scope_param(), "b c d");
        let denied = p.check(&scopes("a b c admin")).unwrap_err();
        assert_eq!(denied.to_string(), "requires not(admin)");
        assert_eq!(denied.scope_param(), "");
        assert!(p.check(&scopes("b a d")).is_ok());
    }
}
