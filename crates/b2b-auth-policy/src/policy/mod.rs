//! Resource policies in the AWS IAM JSON shape, as API Gateway uses them, compiled once into
//! typed statements and evaluated without I/O.

mod condition;
mod document;
mod lint;

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use b2b_auth_core::{Clock, SystemClock};
use ipnet::IpNet;

use crate::addr::normalize;
use crate::decision::{ConditionRef, Decision, Effect, Reason};
use crate::error::{ConfigError, PolicyError, PolicyErrorKind};
use crate::glob::{glob_match, has_wildcard};
use crate::path::{PathMode, canonical_path};

use condition::{Condition, Now};
use document::{RawPrincipal, RawStatement};
pub use lint::{Lint, LintKind};

/// The action API Gateway authorises for a request.
pub const INVOKE: &str = "execute-api:Invoke";

/// Which statement: its index in the document (0-based) and its `Sid`, if it has one.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct StatementId {
    index: usize,
    sid: Option<Arc<str>>,
}

impl StatementId {
    pub(crate) fn new(index: usize, sid: Option<Arc<str>>) -> Self {
        Self { index, sid }
    }

    /// The 0-based position in the `Statement` array.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The `Sid`, if the statement has one.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
}

impl fmt::Display for StatementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sid {
            Some(sid) => write!(f, "statement {sid:?}"),
            None => write!(f, "statement #{}", self.index),
        }
    }
}

/// The API a policy protects: the fixed parts of its `execute-api` ARNs,
/// `arn:{partition}:execute-api:{region}:{account}:{api_id}/{stage}/{METHOD}/{path}`.
///
/// Policies may name resources in full or abbreviated (`execute-api:/prod/GET/orders`, which
/// this API completes).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Api {
    partition: String,
    region: String,
    account: String,
    api_id: String,
    stage: String,
}

impl Api {
    /// An API in the `aws` partition, with the stage `$default` until [`with_stage`] is called.
    ///
    /// [`with_stage`]: Self::with_stage
    ///
    /// # Errors
    /// [`ConfigError::InvalidApi`] when a part is empty or has `:`, `/`, `*`, `?` or
    /// whitespace.
    pub fn new(
        region: impl Into<String>,
        account: impl Into<String>,
        api_id: impl Into<String>,
    ) -> Result<Self, ConfigError> {
        Ok(Self {
            partition: "aws".to_owned(),
            region: arn_part("region", region.into())?,
            account: arn_part("account", account.into())?,
            api_id: arn_part("api id", api_id.into())?,
            stage: "$default".to_owned(),
        })
    }

    /// The stage of requests whose context names none. Default: `$default`.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    pub fn with_stage(mut self, stage: impl Into<String>) -> Result<Self, ConfigError> {
        self.stage = arn_part("stage", stage.into())?;
        Ok(self)
    }

    /// The ARN partition. Default: `aws`.
    ///
    /// # Errors
    /// As for [`new`](Self::new).
    pub fn with_partition(mut self, partition: impl Into<String>) -> Result<Self, ConfigError> {
        self.partition = arn_part("partition", partition.into())?;
        Ok(self)
    }

    /// The ARN of a request: `arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/orders/1`.
    ///
    /// ```
    /// let api = b2b_auth_policy::Api::new("eu-west-1", "111122223333", "tires")?.with_stage("prod")?;
    /// assert_eq!(
    ///     api.request_arn(None, "POST", "/orders"),
    ///     "arn:aws:execute-api:eu-west-1:111122223333:tires/prod/POST/orders"
    /// );
    /// # Ok::<(), b2b_auth_policy::ConfigError>(())
    /// ```
    pub fn request_arn(&self, stage: Option<&str>, method: &str, path: &str) -> String {
        format!("{}{}", self.arn_prefix(), self.request_resource(stage, method, path))
    }

    fn arn_prefix(&self) -> String {
        format!("arn:{}:execute-api:{}:{}:", self.partition, self.region, self.account)
    }

    /// The ARN's resource part, `{api_id}/{stage}/{METHOD}/{path}`.
    fn request_resource(&self, stage: Option<&str>, method: &str, path: &str) -> String {
        let stage = stage.unwrap_or(&self.stage);
        let path = path.strip_prefix('/').unwrap_or(path);
        let mut resource =
            String::with_capacity(self.api_id.len() + stage.len() + method.len() + path.len() + 3);
        for (i, part) in [&self.api_id[..], stage, method, path].into_iter().enumerate() {
            if i > 0 {
                resource.push('/');
            }
            resource.push_str(part);
        }
        resource
    }
}

fn arn_part(field: &'static str, value: String) -> Result<String, ConfigError> {
    let bad = value.is_empty()
        || value.chars().any(|c| c.is_whitespace() || c.is_control() || ":/*?".contains(c));
    if bad { Err(ConfigError::InvalidApi { field, value }) } else { Ok(value) }
}

/// How a policy that neither allows nor denies a request combines with a successful token
/// check.
///
/// AWS documents both readings: a resource policy alone denies what it does not allow
/// ("implicit deny"), but next to a Cognito or Lambda authorizer, API Gateway lets through a
/// request the policy is silent about when the authorizer allows it.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum SilentPolicy {
    /// No allow means deny, token or not. The default.
    #[default]
    Deny,
    /// A request the policy is silent about is allowed when it carries a verified principal
    /// (see [`RequestContext::principal`]), as API Gateway does with an authorizer.
    /// An explicit deny still wins.
    AllowAuthenticated,
}

/// What a request looks like to a policy: method, path, stage, source address, principal,
/// action and extra condition keys.
///
/// Borrowed, so building one allocates nothing until extra keys are added.
///
/// ```
/// use b2b_auth_policy::RequestContext;
///
/// let ctx = RequestContext::new("POST", "/orders")
///     .source_ip("203.0.113.9".parse()?)
///     .principal("car-orders")
///     .key("b2b:Scope", "tires/orders.write");
/// # let _ = ctx;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct RequestContext<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) stage: Option<&'a str>,
    pub(crate) action: &'a str,
    pub(crate) source_ip: Option<IpAddr>,
    pub(crate) principal: Option<&'a str>,
    pub(crate) keys: Vec<(&'a str, &'a str)>,
}

impl<'a> RequestContext<'a> {
    /// A request with this method (`GET`) and path (canonical, without the query: see
    /// [`canonical_path`]; a non-canonical path is denied).
    pub fn new(method: &'a str, path: &'a str) -> Self {
        Self {
            method,
            path,
            stage: None,
            action: INVOKE,
            source_ip: None,
            principal: None,
            keys: Vec::new(),
        }
    }

    /// The stage. Default: the [`Api`]'s.
    pub fn stage(mut self, stage: &'a str) -> Self {
        self.stage = Some(stage);
        self
    }

    /// The action. Default: [`INVOKE`] (`execute-api:Invoke`).
    pub fn action(mut self, action: &'a str) -> Self {
        self.action = action;
        self
    }

    /// The client address, `aws:SourceIp` (IPv4-mapped IPv6 is normalised). Default: none,
    /// which makes `IpAddress` false and `NotIpAddress` true.
    pub fn source_ip(mut self, ip: IpAddr) -> Self {
        self.source_ip = Some(normalize(ip));
        self
    }

    /// The verified principal, matched against `Principal` ids (for example the token's client
    /// id). Default: none (anonymous), which only `"*"` principals match.
    pub fn principal(mut self, principal: &'a str) -> Self {
        self.principal = Some(principal);
        self
    }

    /// Adds a value to a condition key (names are case-insensitive). Call again with the same
    /// key for a multivalued key. `aws:SourceIp` cannot be set this way (use
    /// [`source_ip`](Self::source_ip)); `aws:CurrentTime` and `aws:EpochTime` set here replace
    /// the policy's clock.
    pub fn key(mut self, name: &'a str, value: &'a str) -> Self {
        self.keys.push((name, value));
        self
    }

    fn has_key(&self, lowercase_name: &str) -> bool {
        self.key_values(lowercase_name).next().is_some()
    }

    fn key_values(&self, lowercase_name: &'a str) -> impl Iterator<Item = &'a str> + '_ {
        self.keys
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(lowercase_name))
            .map(|(_, v)| *v)
    }
}

/// Who a statement is about.
#[derive(Clone, Debug)]
struct Principals {
    negated: bool,
    any: bool,
    ids: Vec<String>,
}

impl Principals {
    fn matches(&self, principal: Option<&str>) -> bool {
        let listed = self.any || principal.is_some_and(|p| self.ids.iter().any(|id| id == p));
        listed != self.negated
    }
}

/// `Action`/`NotAction` or `Resource`/`NotResource` patterns.
#[derive(Clone, Debug)]
struct Patterns {
    negated: bool,
    patterns: Vec<Pattern>,
}

#[derive(Clone, Debug)]
struct Pattern {
    /// As written (abbreviated resources expanded).
    text: String,
    /// For resources: the glob over the ARN's resource part, `None` when the partition,
    /// region or account can never be this API's.
    glob: Option<String>,
}

impl Patterns {
    fn matches(&self, text: &str, fold_case: bool) -> bool {
        let found = self
            .patterns
            .iter()
            .any(|p| p.glob.as_deref().is_some_and(|g| glob_match(g, text, fold_case)));
        found != self.negated
    }
}

/// One compiled statement.
#[derive(Clone, Debug)]
struct Statement {
    id: StatementId,
    effect: Effect,
    principals: Principals,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

/// How far a statement got with a request.
enum Applies {
    /// Principal, action, resource and every condition match; the network of an `IpAddress`
    /// condition that matched, if any.
    Yes(Option<IpNet>),
    /// Principal, action and resource match; this condition does not.
    FailedCondition(ConditionRef),
    /// Principal, action or resource do not match.
    No,
}

impl Statement {
    fn applies(&self, ctx: &RequestContext<'_>, resource: &str, now: &mut Now<'_>) -> Applies {
        if !self.actions.matches(ctx.action, true)
            || !self.principals.matches(ctx.principal)
            || !self.resources.matches(resource, false)
        {
            return Applies::No;
        }
        let mut cidr = None;
        for condition in &self.conditions {
            let outcome = condition.evaluate(ctx, now);
            if !outcome.holds {
                return Applies::FailedCondition(condition.written().clone());
            }
            cidr = cidr.or(outcome.cidr);
        }
        Applies::Yes(cidr)
    }
}

/// A compiled resource policy.
///
/// Evaluation follows IAM: an applicable `Deny` statement wins; otherwise an applicable
/// `Allow` statement allows; otherwise the request is implicitly denied (or, with
/// [`SilentPolicy::AllowAuthenticated`], allowed when it carries a principal). Statement
/// order does not change the effect; it only picks which of several applicable statements is
/// named in the [`Decision`] (the first).
///
/// Supported: `Version` (`2012-10-17`, `2008-10-17`), `Id`, `Statement` (object or array),
/// `Sid`, `Effect`, `Principal`/`NotPrincipal` (`"*"` or exact ids under `"AWS"`, matched
/// against the request's principal), `Action`/`NotAction` (case-insensitive, wildcards),
/// `Resource`/`NotResource` (`execute-api` ARNs, case-sensitive, `*` crossing `/`, `?`;
/// abbreviated `execute-api:/stage/METHOD/path`), and `Condition` with the string, numeric,
/// date, `Bool`, `Null`, `IpAddress` and `NotIpAddress` operators, every `...IfExists` form,
/// and the `ForAnyValue:`/`ForAllValues:` qualifiers. Several values of one key are ORed (for
/// a negated operator: none may match); several keys and operators are ANDed; a missing key
/// makes a condition false, except for negated operators, `...IfExists` and `ForAllValues:`.
/// Anything else — another principal type, a policy variable, an unknown operator — is a
/// [`PolicyError`], never ignored.
///
/// ```
/// use b2b_auth_policy::{Api, Effect, RequestContext, ResourcePolicy};
///
/// let api = Api::new("eu-west-1", "111122223333", "tires")?.with_stage("prod")?;
/// let policy = ResourcePolicy::parse(r#"{
///     "Version": "2012-10-17",
///     "Statement": [{
///         "Sid": "ManufacturerOnly",
///         "Effect": "Allow",
///         "Principal": "*",
///         "Action": "execute-api:Invoke",
///         "Resource": "execute-api:/*",
///         "Condition": {"IpAddress": {"aws:SourceIp": ["198.51.100.0/24"]}}
///     }]
/// }"#, api)?;
///
/// let allowed = policy.evaluate(&RequestContext::new("POST", "/orders").source_ip("198.51.100.7".parse()?));
/// assert_eq!(allowed.effect(), Effect::Allow);
/// assert_eq!(allowed.statement().and_then(|s| s.sid()), Some("ManufacturerOnly"));
///
/// let denied = policy.evaluate(&RequestContext::new("POST", "/orders").source_ip("203.0.113.9".parse()?));
/// assert!(!denied.is_allowed());
/// assert_eq!(denied.failed_condition().map(|c| c.operator()), Some("IpAddress"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ResourcePolicy {
    api: Api,
    statements: Vec<Statement>,
    silent: SilentPolicy,
    clock: Arc<dyn Clock>,
    lints: Vec<Lint>,
}

impl ResourcePolicy {
    /// Compiles a policy document for `api` with the default settings.
    ///
    /// # Errors
    /// [`PolicyError`] naming the statement and element at fault.
    pub fn parse(json: &str, api: Api) -> Result<Self, PolicyError> {
        Self::builder(api).parse(json)
    }

    /// A builder, to set the [`SilentPolicy`] or the clock.
    pub fn builder(api: Api) -> ResourcePolicyBuilder {
        ResourcePolicyBuilder { api, silent: SilentPolicy::default(), clock: Arc::new(SystemClock) }
    }

    /// The API the policy was compiled for.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Footguns found when the policy was compiled (also logged at `warn` then).
    pub fn lints(&self) -> &[Lint] {
        &self.lints
    }

    /// Evaluates the policy for one request. Never fails: a request that cannot be evaluated
    /// (a non-canonical path) is denied, with the reason.
    pub fn evaluate(&self, ctx: &RequestContext<'_>) -> Decision {
        let decision = self.decide(ctx);
        decision.trace(ctx.principal, ctx.method, ctx.path);
        decision
    }

    /// [`evaluate`](Self::evaluate) without the trace event, for callers that emit their own.
    pub(crate) fn decide(&self, ctx: &RequestContext<'_>) -> Decision {
        if let Err(err) = canonical_path(ctx.path, PathMode::Reject) {
            return Decision::new(Effect::Deny, Reason::InvalidPath(err));
        }
        let resource = self.api.request_resource(ctx.stage, ctx.method, ctx.path);
        let mut now = Now::new(&*self.clock);
        let mut allow: Option<(&Statement, Option<IpNet>)> = None;
        let mut nearest_miss: Option<(&Statement, ConditionRef)> = None;
        for statement in &self.statements {
            match statement.applies(ctx, &resource, &mut now) {
                Applies::Yes(cidr) if statement.effect == Effect::Deny => {
                    return Decision::new(Effect::Deny, Reason::ExplicitDeny)
                        .with_statement(Some(statement.id.clone()))
                        .with_cidr(cidr);
                }
                Applies::Yes(cidr) => {
                    allow = allow.or(Some((statement, cidr)));
                }
                Applies::FailedCondition(condition) if statement.effect == Effect::Allow => {
                    nearest_miss = nearest_miss.or(Some((statement, condition)));
                }
                Applies::FailedCondition(_) | Applies::No => {}
            }
        }
        if let Some((statement, cidr)) = allow {
            return Decision::new(Effect::Allow, Reason::ExplicitAllow)
                .with_statement(Some(statement.id.clone()))
                .with_cidr(cidr);
        }
        let (statement, condition) = nearest_miss.map(|(s, c)| (s.id.clone(), c)).unzip();
        let decision = match (self.silent, ctx.principal) {
            (SilentPolicy::AllowAuthenticated, Some(_)) => {
                Decision::new(Effect::Allow, Reason::DeferredToToken)
            }
            _ => Decision::new(Effect::Deny, Reason::ImplicitDeny),
        };
        decision.with_statement(statement).with_failed_condition(condition)
    }
}

/// Builds a [`ResourcePolicy`].
#[derive(Clone, Debug)]
pub struct ResourcePolicyBuilder {
    api: Api,
    silent: SilentPolicy,
    clock: Arc<dyn Clock>,
}

impl ResourcePolicyBuilder {
    /// How a silent policy combines with a verified token. Default: [`SilentPolicy::Deny`].
    pub fn silent_policy(mut self, silent: SilentPolicy) -> Self {
        self.silent = silent;
        self
    }

    /// The clock for `aws:CurrentTime` and `aws:EpochTime`. Default: the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Compiles a policy document.
    ///
    /// # Errors
    /// [`PolicyError`] naming the statement and element at fault.
    pub fn parse(self, json: &str) -> Result<ResourcePolicy, PolicyError> {
        let raw = document::parse(json)?;
        match raw.version.as_deref() {
            None | Some("2012-10-17" | "2008-10-17") => {}
            Some(other) => {
                return Err(PolicyError::new(PolicyErrorKind::UnsupportedVersion, other));
            }
        }
        let raw_statements = raw.statement.into_vec();
        if raw_statements.is_empty() {
            return Err(PolicyError::new(PolicyErrorKind::MissingElement, "Statement is empty"));
        }
        let mut statements: Vec<Statement> = Vec::with_capacity(raw_statements.len());
        let mut lints = Vec::new();
        for (index, raw) in raw_statements.into_iter().enumerate() {
            let id = StatementId::new(index, raw.sid.as_deref().map(Arc::from));
            if id.sid.is_some() && statements.iter().any(|s| s.id.sid == id.sid) {
                let sid = id.sid.as_deref().unwrap_or_default().to_owned();
                return Err(PolicyError::new(PolicyErrorKind::DuplicateSid, sid));
            }
            let statement = compile_statement(id.clone(), raw, &self.api, &mut lints)
                .map_err(|e| e.in_statement(&id))?;
            statements.push(statement);
        }
        lints.extend(lint::shadowed(&statements));
        for lint in &lints {
            tracing::warn!(%lint, "resource policy compiled with a warning");
        }
        Ok(ResourcePolicy {
            api: self.api,
            statements,
            silent: self.silent,
            clock: self.clock,
            lints,
        })
    }
}

fn compile_statement(
    id: StatementId,
    raw: RawStatement,
    api: &Api,
    lints: &mut Vec<Lint>,
) -> Result<Statement, PolicyError> {
    let effect = match raw.effect.as_deref() {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        Some(other) => {
            return Err(PolicyError::new(PolicyErrorKind::InvalidEffect, format!("{other:?}")));
        }
        None => return Err(PolicyError::new(PolicyErrorKind::MissingElement, "Effect")),
    };
    let (principal, negated) = either("Principal", raw.principal, raw.not_principal)?;
    let principals = compile_principals(principal, negated)?;
    let (actions, negated) = either("Action", raw.action, raw.not_action)?;
    let actions = Patterns { negated, patterns: compile_actions(actions.into_vec())? };
    let (resources, negated) = either("Resource", raw.resource, raw.not_resource)?;
    let resources = Patterns { negated, patterns: compile_resources(resources.into_vec(), api)? };
    let mut conditions = Vec::new();
    for (operator, keys) in raw.condition.map(|c| c.0).unwrap_or_default() {
        if keys.0.is_empty() {
            return Err(PolicyError::new(
                PolicyErrorKind::MissingElement,
                format!("{operator} has no key"),
            ));
        }
        for (key, values) in keys.0 {
            let values: Vec<String> =
                values.into_vec().into_iter().map(|v| v.into_string()).collect();
            if values.is_empty() {
                return Err(PolicyError::new(
                    PolicyErrorKind::MissingElement,
                    format!("{operator} {key} has no value"),
                ));
            }
            if let Some(value) = values.iter().chain([&key]).find(|v| v.contains("${")) {
                return Err(PolicyError::new(PolicyErrorKind::PolicyVariable, value.clone()));
            }
            let (condition, warnings) = Condition::compile(&operator, &key, &values)?;
            // One operator block maps each key once, but keys are case-insensitive.
            let duplicate = conditions.iter().any(|c: &Condition| {
                c.written().operator() == operator && c.key_name() == condition.key_name()
            });
            if duplicate {
                return Err(PolicyError::new(
                    PolicyErrorKind::InvalidConditionKey,
                    format!("{operator} names {key} twice"),
                ));
            }
            lints.extend(warnings.into_iter().map(|w| Lint::new(&id, LintKind::Cidr(w))));
            conditions.push(condition);
        }
    }
    let statement = Statement { id, effect, principals, actions, resources, conditions };
    lints.extend(lint::statement(&statement, &api.api_id));
    Ok(statement)
}

/// Exactly one of an element and its `Not` form; returns it and whether it was the `Not`.
fn either<T>(name: &str, plain: Option<T>, not: Option<T>) -> Result<(T, bool), PolicyError> {
    match (plain, not) {
        (Some(plain), None) => Ok((plain, false)),
        (None, Some(not)) => Ok((not, true)),
        (Some(_), Some(_)) => Err(PolicyError::new(
            PolicyErrorKind::ConflictingElements,
            format!("{name} and Not{name}"),
        )),
        (None, None) => Err(PolicyError::new(PolicyErrorKind::MissingElement, name)),
    }
}

fn compile_principals(raw: RawPrincipal, negated: bool) -> Result<Principals, PolicyError> {
    let invalid = |detail: String| PolicyError::new(PolicyErrorKind::InvalidPrincipal, detail);
    let ids = match raw {
        RawPrincipal::Star(star) if star == "*" => {
            return Ok(Principals { negated, any: true, ids: Vec::new() });
        }
        RawPrincipal::Star(other) => {
            return Err(invalid(format!("{other:?}; use \"*\" or {{\"AWS\": ...}}")));
        }
        RawPrincipal::Map(map) => {
            let mut ids = Vec::new();
            for (kind, values) in map.0 {
                if kind != "AWS" {
                    return Err(invalid(format!("principal type {kind:?} is not supported")));
                }
                ids.extend(values.into_vec());
            }
            ids
        }
    };
    if ids.is_empty() {
        return Err(PolicyError::new(PolicyErrorKind::MissingElement, "Principal has no id"));
    }
    if let Some(id) =
        ids.iter().find(|id| id.is_empty() || (id.as_str() != "*" && has_wildcard(id)))
    {
        return Err(invalid(format!("{id:?}: only \"*\" may use a wildcard")));
    }
    let any = ids.iter().any(|id| id == "*");
    Ok(Principals { negated, any, ids: if any { Vec::new() } else { ids } })
}

fn compile_actions(raw: Vec<String>) -> Result<Vec<Pattern>, PolicyError> {
    if raw.is_empty() {
        return Err(PolicyError::new(PolicyErrorKind::MissingElement, "Action is empty"));
    }
    raw.into_iter()
        .map(|action| {
            let valid = action == "*"
                || action.split_once(':').is_some_and(|(service, name)| {
                    !service.is_empty() && !name.is_empty() && !has_wildcard(service)
                });
            if !valid {
                return Err(PolicyError::new(PolicyErrorKind::InvalidAction, action));
            }
            if action.contains("${") {
                return Err(PolicyError::new(PolicyErrorKind::PolicyVariable, action));
            }
            Ok(Pattern { glob: Some(action.clone()), text: action })
        })
        .collect()
}

fn compile_resources(raw: Vec<String>, api: &Api) -> Result<Vec<Pattern>, PolicyError> {
    if raw.is_empty() {
        return Err(PolicyError::new(PolicyErrorKind::MissingElement, "Resource is empty"));
    }
    raw.into_iter().map(|resource| compile_resource(resource, api)).collect()
}

/// `*`, a full ARN (its first five parts matched against the API now, its resource part kept
/// as a glob), or `execute-api:/...` completed with the API's partition, region, account and
/// id.
fn compile_resource(resource: String, api: &Api) -> Result<Pattern, PolicyError> {
    let invalid = |detail: &str| {
        PolicyError::new(PolicyErrorKind::InvalidResource, format!("{resource:?}: {detail}"))
    };
    if resource.contains("${") {
        return Err(PolicyError::new(PolicyErrorKind::PolicyVariable, resource));
    }
    if resource == "*" {
        return Ok(Pattern { glob: Some("*".to_owned()), text: resource });
    }
    if let Some(rest) = resource.strip_prefix("execute-api:/") {
        let glob = format!("{}/{rest}", api.api_id);
        return Ok(Pattern { text: format!("{}{glob}", api.arn_prefix()), glob: Some(glob) });
    }
    let mut parts = resource.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not an ARN, \"*\" or execute-api:/..."));
    };
    if !glob_match(service, "execute-api", false) {
        return Err(invalid("not an execute-api resource"));
    }
    let ours = glob_match(partition, &api.partition, false)
        && glob_match(region, &api.region, false)
        && glob_match(account, &api.account, false);
    Ok(Pattern { glob: ours.then(|| rest.to_owned()), text: resource })
}
