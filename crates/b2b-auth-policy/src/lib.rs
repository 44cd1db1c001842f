//! Client-IP resolution, IP sets and AWS-style resource policies for service-to-service APIs:
//! the API Gateway resource policy and the AWS WAF IP allowlist of the pattern b2b-auth
//! replaces, evaluated in-process, synchronously, without I/O, with every decision explained.
//!
//! # Quick start
//!
//! The supplier accepts `POST /orders` only from the manufacturer's egress addresses, behind
//! one load balancer, and only for the manufacturer's client id:
//!
//! ```
//! use std::net::SocketAddr;
//! use b2b_auth_policy::{
//!     AccessGuard, Api, ClientIpSource, Effect, IpRule, IpSet, Provenance, RequestContext,
//!     ResourcePolicy, TrustedProxies,
//! };
//! use http::HeaderMap;
//!
//! let api = Api::new("eu-west-1", "111122223333", "tires")?.with_stage("prod")?;
//! let policy = ResourcePolicy::parse(r#"{
//!   "Version": "2012-10-17",
//!   "Statement": [
//!     {"Sid": "Manufacturer", "Effect": "Allow", "Principal": {"AWS": "car-orders"},
//!      "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/POST/orders"},
//!     {"Sid": "OnlyFromEgress", "Effect": "Deny", "Principal": "*",
//!      "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
//!      "Condition": {"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/28"]}}}
//!   ]
//! }"#, api)?;
//! let guard = AccessGuard::builder()
//!     .client_ip_source(ClientIpSource::TrustedProxies(TrustedProxies::new(IpSet::parse(["10.0.0.0/8"])?)))
//!     .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"])?)) // the WAF layer
//!     .resource_policy(policy)                                     // the API Gateway layer
//!     .build()?;
//!
//! // A request through our load balancer (10.0.0.5), from the manufacturer (198.51.100.3).
//! let peer: SocketAddr = "10.0.0.5:33000".parse()?;
//! let mut headers = HeaderMap::new();
//! headers.insert("x-forwarded-for", "198.51.100.3".parse()?);
//! let decision = guard.check(peer, &headers, RequestContext::new("POST", "/orders").principal("car-orders"));
//!
//! assert!(decision.is_allowed());
//! assert_eq!(decision.statement().and_then(|s| s.sid()), Some("Manufacturer"));
//! let client = decision.client_ip().ok_or("no client ip")?;
//! assert!(matches!(client.provenance(), Provenance::Header { hop: 0, .. }));
//!
//! // The same call from anywhere else is refused, and the decision says why.
//! headers.insert("x-forwarded-for", "203.0.113.50".parse()?);
//! let decision = guard.check(peer, &headers, RequestContext::new("POST", "/orders").principal("car-orders"));
//! assert_eq!(decision.effect(), Effect::Deny);
//! assert_eq!(decision.to_string(), "deny: no ip rule matches the client, client 203.0.113.50 (x-forwarded-for hop 0 of 1)");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The parts
//! - [`ClientIpSource`]: the peer address, or the first untrusted hop of `X-Forwarded-For` /
//!   `Forwarded` ([`parse_x_forwarded_for`], [`parse_forwarded`]) when the peer is one of
//!   your [`TrustedProxies`]; a [`ClientIp`] records its [`Provenance`].
//! - [`IpSet`]: IPv4 and IPv6 CIDRs, O(log n) lookups, load-time checks per [`CidrDialect`].
//! - [`IpRule`]: an AWS WAF IP-set rule, optionally reading a header the WAF way
//!   ([`ForwardedIpConfig`]: position first / last / any, fallback match / no match).
//! - [`ResourcePolicy`]: IAM policy documents as API Gateway resource policies use them,
//!   compiled once, with [`Lint`]s for footguns; [`RequestContext`] describes a request.
//! - [`AccessGuard`]: all of it in one call per request, with a report-only mode.
//! - [`Decision`]: effect, [`Reason`], deciding statement, failed condition, matched CIDR,
//!   client IP and provenance; every decision is a `debug` event.
//! - [`Reloadable`]: swap a compiled policy or IP set while requests read it.
//! - [`canonical_path`]: one spelling per path, so the resource authorised is the one served.
//!
//! Input from requests is never guessed at: zone ids, leading-zero IPv4, obfuscated or unknown
//! hops, empty list elements and conflicting headers are refused with typed errors.

mod addr;
mod client_ip;
mod decision;
mod error;
mod forwarded;
mod glob;
mod guard;
mod ipset;
mod path;
mod policy;
mod reload;

pub use addr::{normalize, parse_ip};
pub use client_ip::{
    ClientIp, ClientIpSource, MissingHeader, Provenance, ProxyHeaders, TrustedProxies,
};
pub use decision::{ConditionRef, Decision, Effect, Reason};
pub use error::{
    AddrError, AddrErrorKind, ClientIpError, ConfigError, ForwardedError, ForwardedErrorKind,
    IpSetError, PathError, PathErrorKind, PolicyError, PolicyErrorKind,
};
pub use forwarded::{
    ForwardedElement, ForwardedHeader, Node, parse_forwarded, parse_x_forwarded_for,
};
pub use guard::{
    AccessGuard, AccessGuardBuilder, FallbackBehavior, ForwardedIpConfig, ForwardedIpPosition,
    IpAction, IpRule, RuleMatch,
};
pub use ipnet::IpNet;
pub use ipset::{CidrDialect, IpSet, IpSetBuilder, IpSetWarning, IpSetWarningKind};
pub use path::{PathMode, canonical_path};
pub use policy::{
    Api, INVOKE, Lint, LintKind, RequestContext, ResourcePolicy, ResourcePolicyBuilder,
    SilentPolicy, StatementId,
};
pub use reload::Reloadable;
