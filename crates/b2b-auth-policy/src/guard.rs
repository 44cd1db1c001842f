//! The whole check of one request, as the tower layer runs it: client IP, IP rules (the WAF
//! layer), then the resource policy (the API Gateway layer).

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

use crate::addr::parse_ip;
use crate::client_ip::ClientIpSource;
use crate::decision::{Decision, Effect, Reason};
use crate::error::ConfigError;
use crate::ipset::IpSet;
use crate::policy::{RequestContext, ResourcePolicy};
use crate::reload::Reloadable;

/// What an [`IpRule`] does to the requests it matches.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IpAction {
    /// Let them on to the resource policy (if any).
    Allow,
    /// Refuse them.
    Block,
}

/// Which address of the header a WAF-style rule inspects.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ForwardedIpPosition {
    /// The first (leftmost) address: whatever the client wrote. Spoofable.
    First,
    /// The last (rightmost) address: what the nearest proxy wrote.
    Last,
    /// Any of the last 10 addresses. Spoofable for an allowlist.
    Any,
}

/// What a WAF-style rule concludes when the inspected address is not a valid IP address.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum FallbackBehavior {
    /// Treat the request as matching the rule.
    Match,
    /// Treat the request as not matching the rule.
    NoMatch,
}

/// An AWS WAF `IPSetForwardedIPConfig`: match an IP set against an address taken from a header
/// instead of the client IP.
///
/// Read as WAF reads it: the header's lines joined, split on commas only, each element
/// trimmed and parsed as a bare IP address (no port, no brackets); at most the last 10
/// addresses for [`ForwardedIpPosition::Any`]. If the header is absent the rule is not
/// applied at all (the next rule, or the default action, decides).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ForwardedIpConfig {
    header: HeaderName,
    position: ForwardedIpPosition,
    fallback: FallbackBehavior,
}

impl ForwardedIpConfig {
    /// Inspect `header` at `position`, with `fallback` for invalid addresses.
    pub fn new(
        header: HeaderName,
        position: ForwardedIpPosition,
        fallback: FallbackBehavior,
    ) -> Self {
        Self { header, position, fallback }
    }
}

/// Most addresses inspected with [`ForwardedIpPosition::Any`], as in AWS WAF.
const ANY_POSITION_LIMIT: usize = 10;

/// How an [`IpRule`] met a request.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum RuleMatch {
    /// The rule matches; with the network, unless the match came from the fallback.
    Match(Option<IpNet>),
    /// The rule does not match.
    NoMatch,
    /// The rule's header is absent: the rule does not apply.
    NotApplied,
}

/// One IP-set rule, as in an AWS WAF web ACL: an action, an IP set, and optionally the header
/// to take the address from.
///
/// ```
/// use b2b_auth_policy::{IpRule, IpSet, RuleMatch};
/// use http::HeaderMap;
///
/// let rule = IpRule::allow(IpSet::parse(["198.51.100.0/24"])?);
/// let matched = rule.evaluate("198.51.100.7".parse()?, &HeaderMap::new());
/// assert_eq!(matched, RuleMatch::Match(Some("198.51.100.0/24".parse()?)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct IpRule {
    action: IpAction,
    set: Reloadable<IpSet>,
    forwarded: Option<ForwardedIpConfig>,
}

impl IpRule {
    /// Allow requests whose client IP is in `set`.
    pub fn allow(set: impl Into<Reloadable<IpSet>>) -> Self {
        Self { action: IpAction::Allow, set: set.into(), forwarded: None }
    }

    /// Block requests whose client IP is in `set`.
    pub fn block(set: impl Into<Reloadable<IpSet>>) -> Self {
        Self { action: IpAction::Block, set: set.into(), forwarded: None }
    }

    /// Take the address from a header the WAF way instead of the client IP.
    ///
    /// An allow rule inspecting [`First`](ForwardedIpPosition::First) or
    /// [`Any`](ForwardedIpPosition::Any) is logged at `warn` (see
    /// [`is_spoofable`](Self::is_spoofable)): a client can prepend an allowed address itself.
    pub fn forwarded_ip(mut self, config: ForwardedIpConfig) -> Self {
        self.forwarded = Some(config);
        if self.is_spoofable() {
            tracing::warn!(
                header = %self.forwarded.as_ref().map_or("", |c| c.header.as_str()),
                "allow rule inspects a client-written position of a forwarding header; \
                 any client can pass it by prepending an allowed address"
            );
        }
        self
    }

    /// True for an allow rule that inspects the first or any address of a header: those are
    /// written by the client.
    pub fn is_spoofable(&self) -> bool {
        self.action == IpAction::Allow
            && self.forwarded.as_ref().is_some_and(|c| c.position != ForwardedIpPosition::Last)
    }

    /// The rule's action.
    pub fn action(&self) -> IpAction {
        self.action
    }

    /// Matches the rule against a request whose client IP is `client_ip`.
    pub fn evaluate(&self, client_ip: IpAddr, headers: &HeaderMap) -> RuleMatch {
        let Some(config) = &self.forwarded else {
            return self
                .set
                .with(|set| set.lookup(client_ip))
                .map_or(RuleMatch::NoMatch, |n| RuleMatch::Match(Some(n)));
        };
        let lines = headers.get_all(&config.header);
        if lines.iter().next().is_none() {
            return RuleMatch::NotApplied;
        }
        let mut elements = Vec::new();
        for line in lines {
            match line.to_str() {
                Ok(line) => elements.extend(line.split(',').map(|e| e.trim_matches([' ', '\t']))),
                Err(_) => elements.push(""),
            }
        }
        let inspected = match config.position {
            ForwardedIpPosition::First => elements.get(..1),
            ForwardedIpPosition::Last => {
                elements.len().checked_sub(1).and_then(|i| elements.get(i..))
            }
            ForwardedIpPosition::Any => {
                elements.get(elements.len().saturating_sub(ANY_POSITION_LIMIT)..)
            }
        }
        .unwrap_or_default();
        let mut invalid = inspected.is_empty();
        let found = self.set.with(|set| {
            inspected.iter().find_map(|element| match parse_ip(element) {
                Ok(ip) => set.lookup(ip),
                Err(_) => {
                    invalid = true;
                    None
                }
            })
        });
        match (found, invalid, config.fallback) {
            (Some(net), _, _) => RuleMatch::Match(Some(net)),
            (None, true, FallbackBehavior::Match) => RuleMatch::Match(None),
            _ => RuleMatch::NoMatch,
        }
    }
}

/// Every access check of a request in one call: client IP, IP rules, resource policy.
///
/// 1. The client IP is resolved with the [`ClientIpSource`]; if that fails, deny.
/// 2. IP rules are tried in order, as in a WAF web ACL: the first that matches decides (a
///    block rule denies; an allow rule passes the request on); if none matches, the default IP
///    action decides. Skipped when there are no IP rules.
/// 3. The resource policy, if any, is evaluated with the client IP as `aws:SourceIp`.
///
/// The [`Decision`] names the step and rule that decided. Policy and IP sets are
/// [`Reloadable`]: hot-swap them through the handles you passed in.
///
/// ```
/// use std::net::SocketAddr;
/// use b2b_auth_policy::{AccessGuard, Api, IpRule, IpSet, RequestContext, ResourcePolicy};
/// use http::HeaderMap;
///
/// let api = Api::new("eu-west-1", "111122223333", "tires")?.with_stage("prod")?;
/// let policy = ResourcePolicy::parse(r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "car-orders"},
///     "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/POST/orders"}}"#, api)?;
/// let guard = AccessGuard::builder()
///     .ip_rule(IpRule::allow(IpSet::parse(["127.0.0.2"])?))
///     .resource_policy(policy)
///     .build()?;
///
/// let peer: SocketAddr = "127.0.0.2:50000".parse()?;
/// let ctx = RequestContext::new("POST", "/orders").principal("car-orders");
/// let decision = guard.check(peer, &HeaderMap::new(), ctx);
/// assert!(decision.is_allowed(), "{decision}");
///
/// let stranger: SocketAddr = "127.0.0.3:50000".parse()?;
/// let ctx = RequestContext::new("POST", "/orders").principal("car-orders");
/// assert!(!guard.check(stranger, &HeaderMap::new(), ctx).is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct AccessGuard {
    client_ip: ClientIpSource,
    ip_rules: Vec<IpRule>,
    default_ip_action: IpAction,
    policy: Option<Reloadable<ResourcePolicy>>,
    report_only: bool,
}

impl AccessGuard {
    /// A builder.
    pub fn builder() -> AccessGuardBuilder {
        AccessGuardBuilder {
            client_ip: ClientIpSource::default(),
            ip_rules: Vec::new(),
            default_ip_action: IpAction::Block,
            policy: None,
            report_only: false,
        }
    }

    /// Checks one request that arrived from `peer` with `headers`; `ctx` carries its method,
    /// path, principal and extra condition keys (its source IP is set here).
    ///
    /// Never fails: what cannot be checked is denied, with the reason. Emits the decision as a
    /// `debug` event.
    pub fn check(
        &self,
        peer: SocketAddr,
        headers: &HeaderMap,
        ctx: RequestContext<'_>,
    ) -> Decision {
        let decision = self.decide(peer, headers, &ctx).with_report_only(self.report_only);
        decision.trace(ctx.principal, ctx.method, ctx.path);
        decision
    }

    fn decide(&self, peer: SocketAddr, headers: &HeaderMap, ctx: &RequestContext<'_>) -> Decision {
        let client = match self.client_ip.resolve(peer, headers) {
            Ok(client) => client,
            Err(err) => return Decision::new(Effect::Deny, Reason::ClientIpUnresolved(err)),
        };
        let mut ip_cidr = None;
        if !self.ip_rules.is_empty() {
            let matched =
                self.ip_rules.iter().find_map(|rule| match rule.evaluate(client.addr(), headers) {
                    RuleMatch::Match(cidr) => Some((rule.action, cidr)),
                    RuleMatch::NoMatch | RuleMatch::NotApplied => None,
                });
            let (reason, action, cidr) = match matched {
                Some((IpAction::Allow, cidr)) => (Reason::IpAllowed, IpAction::Allow, cidr),
                Some((IpAction::Block, cidr)) => (Reason::IpBlocked, IpAction::Block, cidr),
                None => (Reason::IpDefault, self.default_ip_action, None),
            };
            if action == IpAction::Block || self.policy.is_none() {
                let effect = if action == IpAction::Allow { Effect::Allow } else { Effect::Deny };
                return Decision::new(effect, reason).with_cidr(cidr).with_client_ip(Some(client));
            }
            ip_cidr = cidr;
        }
        let Some(policy) = &self.policy else {
            // `build` refuses a guard with neither rules nor policy.
            return Decision::new(Effect::Deny, Reason::ImplicitDeny).with_client_ip(Some(client));
        };
        let ctx = ctx.clone().source_ip(client.addr());
        let decision = policy.with(|policy| policy.decide(&ctx));
        let cidr = decision.matched_cidr().or(ip_cidr);
        decision.with_cidr(cidr).with_client_ip(Some(client))
    }
}

/// Builds an [`AccessGuard`].
#[derive(Clone, Debug)]
pub struct AccessGuardBuilder {
    client_ip: ClientIpSource,
    ip_rules: Vec<IpRule>,
    default_ip_action: IpAction,
    policy: Option<Reloadable<ResourcePolicy>>,
    report_only: bool,
}

impl AccessGuardBuilder {
    /// Where the client IP comes from. Default: [`ClientIpSource::Peer`].
    pub fn client_ip_source(mut self, source: ClientIpSource) -> Self {
        self.client_ip = source;
        self
    }

    /// Adds an IP rule, tried after those added before. Default: none.
    pub fn ip_rule(mut self, rule: IpRule) -> Self {
        self.ip_rules.push(rule);
        self
    }

    /// What happens to a request no IP rule matches. Default: [`IpAction::Block`].
    pub fn default_ip_action(mut self, action: IpAction) -> Self {
        self.default_ip_action = action;
        self
    }

    /// The resource policy, evaluated after the IP rules. Default: none.
    pub fn resource_policy(mut self, policy: impl Into<Reloadable<ResourcePolicy>>) -> Self {
        self.policy = Some(policy.into());
        self
    }

    /// Report-only (dry-run): every decision is computed and logged, and
    /// [`Decision::is_allowed`] is always true. Default: false.
    pub fn report_only(mut self, report_only: bool) -> Self {
        self.report_only = report_only;
        self
    }

    /// Builds the guard.
    ///
    /// # Errors
    /// [`ConfigError::NothingToEnforce`] with neither IP rules nor a resource policy, and
    /// [`ConfigError::NothingAllowed`] when only block rules and a blocking default action
    /// would refuse every request.
    pub fn build(self) -> Result<AccessGuard, ConfigError> {
        if self.ip_rules.is_empty() && self.policy.is_none() {
            return Err(ConfigError::NothingToEnforce);
        }
        let allows_some = self.default_ip_action == IpAction::Allow
            || self.ip_rules.iter().any(|r| r.action == IpAction::Allow);
        if !self.ip_rules.is_empty() && !allows_some {
            return Err(ConfigError::NothingAllowed);
        }
        Ok(AccessGuard {
            client_ip: self.client_ip,
            ip_rules: self.ip_rules,
            default_ip_action: self.default_ip_action,
            policy: self.policy,
            report_only: self.report_only,
        })
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn xff(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    fn waf(position: ForwardedIpPosition, fallback: FallbackBehavior) -> IpRule {
        IpRule::allow(IpSet::parse(["192.0.2.0/24"]).unwrap()).forwarded_ip(ForwardedIpConfig::new(
            HeaderName::from_static("x-forwarded-for"),
            position,
            fallback,
        ))
    }

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn waf_positions() {
        use ForwardedIpPosition::*;
        let headers = xff(&["192.0.2.1, 203.0.113.1"]);
        let hit = RuleMatch::Match(Some("192.0.2.0/24".parse().unwrap()));
        assert_eq!(waf(First, FallbackBehavior::NoMatch).evaluate(PEER, &headers), hit);
        assert_eq!(
            waf(Last, FallbackBehavior::NoMatch).evaluate(PEER, &headers),
            RuleMatch::NoMatch
        );
        assert_eq!(waf(Any, FallbackBehavior::NoMatch).evaluate(PEER, &headers), hit);
        assert!(waf(First, FallbackBehavior::NoMatch).is_spoofable());
        assert!(waf(Any, FallbackBehavior::NoMatch).is_spoofable());
        assert!(!waf(Last, FallbackBehavior::NoMatch).is_spoofable());
    }

    #[test]
    fn waf_any_inspects_only_the_last_ten() {
        let mut chain = vec!["192.0.2.1"];
        chain.extend(["203.0.113.1"; 10]);
        let headers = xff(&[&chain.join(",")]);
        let rule = waf(ForwardedIpPosition::Any, FallbackBehavior::NoMatch);
        assert_eq!(rule.evaluate(PEER, &headers), RuleMatch::NoMatch);
        chain.remove(1);
        assert!(matches!(rule.evaluate(PEER, &xff(&[&chain.join(",")])), RuleMatch::Match(_)));
    }

    #[test]
    fn waf_absent_header_is_not_applied_and_invalid_falls_back() {
        let rule = waf(ForwardedIpPosition::Last, FallbackBehavior::Match);
        assert_eq!(rule.evaluate(PEER, &HeaderMap::new()), RuleMatch::NotApplied);
        for garbage in ["", "garbage", "192.0.2.1:80", "[192.0.2.1]", "010.0.0.1", "192.0.2.1;x"] {
            assert_eq!(
                rule.evaluate(PEER, &xff(&[garbage])),
                RuleMatch::Match(None),
                "{garbage:?}"
            );
        }
        let strict = waf(ForwardedIpPosition::Last, FallbackBehavior::NoMatch);
        assert_eq!(strict.evaluate(PEER, &xff(&["garbage"])), RuleMatch::NoMatch);
        // Comma-only separation: a space-separated list is one invalid element.
        assert_eq!(strict.evaluate(PEER, &xff(&["192.0.2.1 192.0.2.2"])), RuleMatch::NoMatch);
    }

    #[test]
    fn build_refuses_guards_that_enforce_nothing_or_allow_nothing() {
        assert_eq!(AccessGuard::builder().build().unwrap_err(), ConfigError::NothingToEnforce);
        let block = IpRule::block(IpSet::parse(["192.0.2.0/24"]).unwrap());
        assert_eq!(
            AccessGuard::builder().ip_rule(block.clone()).build().unwrap_err(),
            ConfigError::NothingAllowed
        );
        assert!(
            AccessGuard::builder()
                .ip_rule(block)
                .default_ip_action(IpAction::Allow)
                .build()
                .is_ok()
        );
    }
}
