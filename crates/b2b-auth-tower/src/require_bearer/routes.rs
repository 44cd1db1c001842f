//! The route table: which scope policy each method and path requires.

use std::cmp::Reverse;
use std::fmt;

use b2b_auth_jwt::ScopePolicy;
use b2b_auth_policy::{PathMode, canonical_path};
use http::Method;

use crate::error::ConfigError;

/// Which scopes each route requires: method and path pattern → [`ScopePolicy`], as API
/// Gateway's method-level OAuth scopes. Routes no pattern matches get the fallback policy, or
/// are refused (the default).
///
/// # Route syntax
/// `"METHOD /path"`: an HTTP method in upper case (`GET`, `POST`, ...) or `ANY`, one space,
/// and a path pattern whose segments are
/// - a literal, compared exactly (case-sensitive, percent-encoding as sent);
/// - `{name}`: any one non-empty segment;
/// - `*`, as the last segment only: the rest of the path, zero or more segments, so
///   `/admin/*` covers `/admin` too.
///
/// A trailing slash is ignored on both sides: `/orders/` is matched as `/orders`. A `GET` route
/// also covers `HEAD` (routers such as axum answer `HEAD` with the `GET` handler), unless a
/// `HEAD` route is given.
///
/// # Most specific match wins
/// Whatever the order the routes were given in: paths are compared segment by segment from
/// the left, a literal beating `{name}` beating `*`, and a path that ends beating `*`; for the
/// same path pattern, the exact method beats `GET`-for-`HEAD`, which beats `ANY`. Two routes
/// with the same method and pattern are a configuration error.
///
/// ```
/// use b2b_auth_jwt::ScopePolicy;
/// use b2b_auth_tower::ScopeRoutes;
/// use http::Method;
///
/// let write = ScopePolicy::all(["tires/orders.write"]);
/// let read = ScopePolicy::any(["tires/orders.read", "tires/orders.write"]);
/// let routes = ScopeRoutes::builder()
///     .route("POST /orders", write.clone())
///     .route("GET /orders/{id}", read.clone())
///     .route("ANY /admin/*", "tires/admin")
///     .build()?;
///
/// assert_eq!(routes.policy_for(&Method::POST, "/orders"), Some(&write));
/// assert_eq!(routes.policy_for(&Method::HEAD, "/orders/42"), Some(&read));
/// assert_eq!(routes.policy_for(&Method::DELETE, "/admin"), Some(&ScopePolicy::scope("tires/admin")));
/// assert_eq!(routes.policy_for(&Method::DELETE, "/orders/42"), None); // refused: no fallback
/// # Ok::<(), b2b_auth_tower::ConfigError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ScopeRoutes {
    /// Most specific first, so that the first match is the best one.
    routes: Vec<Route>,
    fallback: Option<ScopePolicy>,
}

#[derive(Clone, Debug)]
struct Route {
    /// The route as given, for logs: `GET /orders/{id}`.
    key: Box<str>,
    method: MethodMatch,
    segments: Vec<Segment>,
    /// Ends with `*`.
    rest: bool,
    policy: ScopePolicy,
}

#[derive(Clone, Debug, Eq, PartialEq)]
enum MethodMatch {
    Any,
    Exact(Method),
}

#[derive(Clone, Debug, Eq, PartialEq)]
enum Segment {
    Literal(Box<str>),
    Param,
}

/// Specificity ranks, higher is more specific (see the ordering documented on [`ScopeRoutes`]).
const RANK_REST: u8 = 1;
const RANK_PARAM: u8 = 2;
const RANK_LITERAL: u8 = 3;
const RANK_END: u8 = 4;

impl Route {
    fn parse(key: &str, policy: ScopePolicy) -> Result<Self, ConfigError> {
        let invalid = |reason| ConfigError::InvalidRoute { route: key.to_owned(), reason };
        let (method, path) =
            key.split_once(' ').ok_or_else(|| invalid("expected \"METHOD /path\""))?;
        let method = match method {
            "ANY" => MethodMatch::Any,
            _ if method.bytes().any(|b| b.is_ascii_lowercase()) => {
                return Err(invalid("methods are case-sensitive: write them in upper case"));
            }
            _ => MethodMatch::Exact(
                Method::from_bytes(method.as_bytes()).map_err(|_| invalid("invalid method"))?,
            ),
        };
        if !path.starts_with('/') {
            return Err(invalid("the path must start with '/'"));
        }
        if path.len() > 1 && path.ends_with('/') {
            return Err(invalid("trailing slashes are ignored when matching: leave it out"));
        }
        // One spelling per path: a pattern that no canonical request path can match is a bug.
        canonical_path(path, PathMode::Reject).map_err(|_| invalid("the path is not canonical"))?;
        let mut segments = Vec::new();
        let mut rest = false;
        for segment in path.split('/').skip(1).filter(|s| !s.is_empty()) {
            if rest {
                return Err(invalid("'*' must be the last segment"));
            }
            let param = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
            match (segment, param) {
                ("*", _) => rest = true,
                (_, Some(name)) => {
                    if name.is_empty() || name.contains(['{', '}', '*']) {
                        return Err(invalid("a parameter is '{name}'"));
                    }
                    segments.push(Segment::Param);
                }
                _ if segment.contains(['{', '}', '*']) => {
                    return Err(invalid("'{', '}' and '*' only as a whole segment"));
                }
                _ => segments.push(Segment::Literal(segment.into())),
            }
        }
        Ok(Self { key: key.into(), method, segments, rest, policy })
    }

    /// The path ranks, compared lexicographically: at the first segment where two matching
    /// routes differ, the more specific one has the higher rank.
    fn path_rank(&self) -> Vec<u8> {
        let mut rank: Vec<u8> = self
            .segments
            .iter()
            .map(|s| match s {
                Segment::Literal(_) => RANK_LITERAL,
                Segment::Param => RANK_PARAM,
            })
            .collect();
        rank.push(if self.rest { RANK_REST } else { RANK_END });
        rank
    }

    /// For one request method at most one exact method matches, besides `GET` for `HEAD`.
    fn method_rank(&self) -> u8 {
        match &self.method {
            MethodMatch::Exact(m) if m == Method::GET => 1,
            MethodMatch::Exact(_) => 2,
            MethodMatch::Any => 0,
        }
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        let method_ok = match &self.method {
            MethodMatch::Any => true,
            MethodMatch::Exact(m) => m == method || (m == Method::GET && method == Method::HEAD),
        };
        method_ok && self.matches_path(path)
    }

    fn matches_path(&self, path: &str) -> bool {
        // Empty segments are skipped: a trailing slash is ignored (the layer refuses other
        // empty segments before matching, as non-canonical).
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        for pattern in &self.segments {
            match (pattern, segments.next()) {
                (Segment::Literal(literal), Some(segment)) if **literal == *segment => {}
                (Segment::Param, Some(_)) => {}
                _ => return false,
            }
        }
        self.rest || segments.next().is_none()
    }

    fn same_pattern(&self, other: &Self) -> bool {
        self.method == other.method && self.segments == other.segments && self.rest == other.rest
    }
}

impl ScopeRoutes {
    /// Starts a route table: no routes, unmatched requests refused.
    pub fn builder() -> ScopeRoutesBuilder {
        ScopeRoutesBuilder { routes: Vec::new(), fallback: None, error: None }
    }

    /// The policy a request with `method` and `path` must meet: the most specific route's,
    /// else the fallback's; `None` when the request is refused.
    pub fn policy_for(&self, method: &Method, path: &str) -> Option<&ScopePolicy> {
        self.find(method, path).map_or(self.fallback.as_ref(), |route| Some(&route.policy))
    }

    /// The most specific route that matches, as `(route as given, policy)`.
    pub(crate) fn route_for(&self, method: &Method, path: &str) -> Option<(&str, &ScopePolicy)> {
        self.find(method, path).map(|route| (&*route.key, &route.policy))
    }

    /// The fallback policy of unmatched requests; `None`: refused.
    pub(crate) fn fallback(&self) -> Option<&ScopePolicy> {
        self.fallback.as_ref()
    }

    /// Whether the table has routes (else the path plays no part).
    pub(crate) fn has_routes(&self) -> bool {
        !self.routes.is_empty()
    }

    fn find(&self, method: &Method, path: &str) -> Option<&Route> {
        self.routes.iter().find(|route| route.matches(method, path))
    }
}

/// One policy for every request: a table without routes, with `policy` as the fallback.
impl From<ScopePolicy> for ScopeRoutes {
    fn from(policy: ScopePolicy) -> Self {
        Self { routes: Vec::new(), fallback: Some(policy) }
    }
}

impl fmt::Display for ScopeRoutes {
    /// One line per route, most specific first, then the fallback.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for route in &self.routes {
            writeln!(f, "{} => {}", route.key, route.policy)?;
        }
        match &self.fallback {
            Some(policy) => write!(f, "fallback => {policy}"),
            None => f.write_str("fallback => refuse"),
        }
    }
}

/// Builds a [`ScopeRoutes`] table.
#[derive(Debug)]
pub struct ScopeRoutesBuilder {
    routes: Vec<Route>,
    fallback: Option<ScopePolicy>,
    error: Option<ConfigError>,
}

impl ScopeRoutesBuilder {
    /// Adds a route (see [`ScopeRoutes`] for the syntax): requests it matches best must meet
    /// `policy`. A `&str` policy is one required scope. Default: no routes.
    pub fn route(mut self, route: &str, policy: impl Into<ScopePolicy>) -> Self {
        if self.error.is_none() {
            match Route::parse(route, policy.into()) {
                Ok(route) => self.routes.push(route),
                Err(error) => self.error = Some(error),
            }
        }
        self
    }

    /// The policy of requests no route matches. Default: none, they are refused (403
    /// `insufficient_scope`, after the token was verified).
    pub fn fallback(mut self, policy: impl Into<ScopePolicy>) -> Self {
        self.fallback = Some(policy.into());
        self
    }

    /// Checks the routes and builds the table.
    ///
    /// # Errors
    /// The first [`ConfigError::InvalidRoute`]; [`ConfigError::DuplicateRoute`];
    /// [`ConfigError::NothingAllowed`] without routes or fallback.
    pub fn build(self) -> Result<ScopeRoutes, ConfigError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut routes = self.routes;
        for (i, route) in routes.iter().enumerate() {
            if let Some(first) = routes.iter().take(i).find(|other| other.same_pattern(route)) {
                return Err(ConfigError::DuplicateRoute {
                    first: first.key.to_string(),
                    route: route.key.to_string(),
                });
            }
        }
        if routes.is_empty() && self.fallback.is_none() {
            return Err(ConfigError::NothingAllowed);
        }
        routes.sort_by_cached_key(|route| Reverse((route.path_rank(), route.method_rank())));
        Ok(ScopeRoutes { routes, fallback: self.fallback })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A table whose policies are each route's own key, to read which route matched.
    fn table(keys: &[&str]) -> ScopeRoutes {
        keys.iter()
            .fold(ScopeRoutes::builder(), |b, key| b.route(key, ScopePolicy::scope(*key)))
            .build()
            .unwrap()
    }

    fn best(routes: &ScopeRoutes, method: Method, path: &str) -> Option<String> {
        routes.route_for(&method, path).map(|(key, _)| key.to_owned())
    }

    #[test]
    fn literals_params_and_rest() {
        let routes = table(&["GET /orders", "GET /orders/{id}", "GET /files/*", "GET /"]);
        let hit = |path| best(&routes, Method::GET, path);
        assert_eq!(hit("/orders").as_deref(), Some("GET /orders"));
        assert_eq!(hit("/orders/").as_deref(), Some("GET /orders"), "trailing slash ignored");
        assert_eq!(hit("/orders/42").as_deref(), Some("GET /orders/{id}"));
        assert_eq!(hit("/orders/42/items"), None);
        assert_eq!(hit("/Orders"), None, "case-sensitive");
        assert_eq!(hit("/files").as_deref(), Some("GET /files/*"), "'*' covers the prefix");
        assert_eq!(hit("/files/a/b/c").as_deref(), Some("GET /files/*"));
        assert_eq!(hit("/").as_deref(), Some("GET /"));
        assert_eq!(hit("/filesystem"), None);
    }

    #[test]
    fn the_most_specific_route_wins_left_to_right() {
        let routes = table(&[
            "ANY /*",
            "GET /orders/*",
            "GET /orders/{id}/*",
            "GET /orders/{id}",
            "GET /orders/special",
            "GET /orders/special/*",
            "GET /orders/{id}/items",
        ]);
        let hit = |path| best(&routes, Method::GET, path).unwrap();
        assert_eq!(hit("/orders/special"), "GET /orders/special");
        assert_eq!(hit("/orders/42"), "GET /orders/{id}");
        assert_eq!(hit("/orders/42/items"), "GET /orders/{id}/items");
        assert_eq!(hit("/orders/special/items"), "GET /orders/special/*");
        assert_eq!(hit("/orders/42/other"), "GET /orders/{id}/*");
        assert_eq!(hit("/orders"), "GET /orders/*");
        assert_eq!(hit("/cars"), "ANY /*");
    }

    #[test]
    fn the_exact_method_beats_get_for_head_which_beats_any() {
        let routes = table(&["ANY /orders", "GET /orders", "HEAD /orders", "POST /orders"]);
        assert_eq!(best(&routes, Method::HEAD, "/orders").unwrap(), "HEAD /orders");
        assert_eq!(best(&routes, Method::GET, "/orders").unwrap(), "GET /orders");
        assert_eq!(best(&routes, Method::POST, "/orders").unwrap(), "POST /orders");
        assert_eq!(best(&routes, Method::DELETE, "/orders").unwrap(), "ANY /orders");
        let routes = table(&["ANY /orders", "GET /orders"]);
        assert_eq!(best(&routes, Method::HEAD, "/orders").unwrap(), "GET /orders");
        // The path is compared first: a more specific path with ANY beats GET on a wildcard.
        let routes = table(&["GET /orders/*", "ANY /orders/{id}"]);
        assert_eq!(best(&routes, Method::GET, "/orders/1").unwrap(), "ANY /orders/{id}");
    }

    #[test]
    fn unmatched_requests_get_the_fallback_or_are_refused() {
        let write = ScopePolicy::scope("w");
        let refused = ScopeRoutes::builder().route("POST /orders", write.clone()).build().unwrap();
        assert_eq!(refused.policy_for(&Method::POST, "/orders"), Some(&write));
        assert_eq!(refused.policy_for(&Method::GET, "/orders"), None);
        let open = ScopeRoutes::builder()
            .route("POST /orders", write)
            .fallback(ScopePolicy::allow_all())
            .build()
            .unwrap();
        assert_eq!(open.policy_for(&Method::GET, "/orders"), Some(&ScopePolicy::allow_all()));
        let whole = ScopeRoutes::from(ScopePolicy::scope("a"));
        assert_eq!(whole.policy_for(&Method::PATCH, "/x/y"), Some(&ScopePolicy::scope("a")));
        assert!(!whole.has_routes());
    }

    #[test]
    fn bad_routes_are_refused_with_the_route_named() {
        for (route, reason) in [
            ("/orders", "expected \"METHOD /path\""),
            ("GET  /orders", "the path must start with '/'"),
            ("get /orders", "methods are case-sensitive: write them in upper case"),
            ("G(T /orders", "invalid method"),
            ("GET orders", "the path must start with '/'"),
            ("GET /orders/", "trailing slashes are ignored when matching: leave it out"),
            ("GET /a//b", "the path is not canonical"),
            ("GET /a/../b", "the path is not canonical"),
            ("GET /a%2Fb", "the path is not canonical"),
            ("GET /a?b", "the path is not canonical"),
            ("GET /*/a", "'*' must be the last segment"),
            ("GET /a/{}", "a parameter is '{name}'"),
            ("GET /a/{{b}}", "a parameter is '{name}'"),
            ("GET /a/x{id}", "'{', '}' and '*' only as a whole segment"),
            ("GET /a*", "'{', '}' and '*' only as a whole segment"),
        ] {
            let error = ScopeRoutes::builder().route(route, "s").build().unwrap_err();
            assert_eq!(
                error,
                ConfigError::InvalidRoute { route: route.to_owned(), reason },
                "{route}"
            );
        }
    }

    #[test]
    fn duplicates_and_empty_tables_are_refused() {
        let error = ScopeRoutes::builder()
            .route("GET /orders/{id}", "a")
            .route("GET /orders/{order}", "b")
            .build()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"route "GET /orders/{order}" duplicates "GET /orders/{id}""#
        );
        assert!(table(&["GET /orders/{id}", "ANY /orders/{id}", "GET /orders/*"]).has_routes());
        assert_eq!(ScopeRoutes::builder().build().unwrap_err(), ConfigError::NothingAllowed);
        assert!(ScopeRoutes::builder().fallback("a").build().is_ok());
    }

    #[test]
    fn the_table_displays_most_specific_first() {
        let routes =
            ScopeRoutes::builder().route("ANY /*", "a").route("POST /orders", "b").build().unwrap();
        assert_eq!(routes.to_string(), "POST /orders => b\nANY /* => a\nfallback => refuse");
    }

    fn pattern() -> impl Strategy<Value = String> {
        let segment =
            prop_oneof![Just("a".to_owned()), Just("b".to_owned()), Just("{p}".to_owned()),];
        let method = prop_oneof![Just("GET"), Just("POST"), Just("ANY"), Just("HEAD")];
        (method, proptest::collection::vec(segment, 0..4), any::<bool>()).prop_map(
            |(method, segments, rest)| {
                let mut path: String = segments.iter().map(|s| format!("/{s}")).collect();
                if rest {
                    path.push_str("/*");
                }
                if path.is_empty() {
                    path.push('/');
                }
                format!("{method} {path}")
            },
        )
    }

    fn request_path() -> impl Strategy<Value = String> {
        proptest::collection::vec(prop_oneof![Just("a"), Just("b"), Just("c")], 0..5)
            .prop_map(|segments| format!("/{}", segments.join("/")))
    }

    proptest! {
        /// The winner does not depend on the order routes were given in, and no matching
        /// route is more specific than the winner.
        #[test]
        fn the_best_match_is_order_independent_and_maximal(
            keys in proptest::collection::hash_set(pattern(), 1..8),
            method in prop_oneof![Just(Method::GET), Just(Method::HEAD), Just(Method::POST)],
            path in request_path(),
        ) {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let routes = ScopeRoutes::builder();
            let forward = keys.iter().fold(routes, |b, k| b.route(k, *k)).build();
            let backward = keys.iter().rev().fold(ScopeRoutes::builder(), |b, k| b.route(k, *k)).build();
            // Sets of keys may still hold duplicates up to parameter names: both refuse them.
            let (Ok(forward), Ok(backward)) = (forward, backward) else { return Ok(()); };
            let winner = forward.find(&method, &path);
            prop_assert_eq!(winner.map(|r| &r.key), backward.find(&method, &path).map(|r| &r.key));
            if let Some(winner) = winner {
                for other in forward.routes.iter().filter(|r| r.matches(&method, &path)) {
                    prop_assert!(
                        (winner.path_rank(), winner.method_rank()) >= (other.path_rank(), other.method_rank()),
                        "{} beats {}", other.key, winner.key
                    );
                }
            } else {
                prop_assert!(forward.routes.iter().all(|r| !r.matches(&method, &path)));
            }
        }

        /// Any request path: no panic.
        #[test]
        fn any_path_is_matched_without_panicking(path in ".*", method in "[A-Z]{1,8}") {
            let routes = table(&["GET /a/{b}/*", "ANY /", "POST /{x}"]);
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let _ = routes.policy_for(&method, &path);
        }
    }
}
