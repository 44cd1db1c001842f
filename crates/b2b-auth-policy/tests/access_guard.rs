//! The access guard as the tower layer will drive it: X-Forwarded-For spoofing attempts behind
//! a trusted proxy, the WAF and resource-policy layers together, report-only mode, hot reload,
//! and the decision event.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::net::SocketAddr;

use b2b_auth_policy::{
    AccessGuard, Api, ClientIpError, ClientIpSource, Decision, Effect, FallbackBehavior,
    ForwardedHeader, ForwardedIpConfig, ForwardedIpPosition, IpRule, IpSet, Provenance,
    ProxyHeaders, Reason, Reloadable, RequestContext, ResourcePolicy, TrustedProxies,
};
use b2b_auth_testkit::capture_logs;
use http::{HeaderMap, HeaderName, HeaderValue};

const LOAD_BALANCER: &str = "10.0.0.5:41000";
const MANUFACTURER: &str = "198.51.100.3";

fn api() -> Api {
    Api::new("eu-west-1", "111122223333", "tires").unwrap().with_stage("prod").unwrap()
}

fn allowlist() -> IpSet {
    IpSet::parse(["198.51.100.0/28", "2001:db8:cafe::/48"]).unwrap()
}

fn behind_proxy(headers: ProxyHeaders) -> AccessGuard {
    let proxies =
        TrustedProxies::new(IpSet::parse(["10.0.0.0/8", "fd00::/8"]).unwrap()).headers(headers);
    AccessGuard::builder()
        .client_ip_source(ClientIpSource::TrustedProxies(proxies))
        .ip_rule(IpRule::allow(allowlist()))
        .build()
        .unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn check(guard: &AccessGuard, peer: &str, pairs: &[(&str, &str)]) -> Decision {
    guard.check(peer.parse().unwrap(), &headers(pairs), RequestContext::new("POST", "/orders"))
}

#[test]
fn the_real_client_behind_the_proxy_is_allowed() {
    let decision = check(
        &behind_proxy(ProxyHeaders::XForwardedFor),
        LOAD_BALANCER,
        &[("x-forwarded-for", MANUFACTURER)],
    );
    assert!(decision.is_allowed(), "{decision}");
    assert_eq!(decision.reason(), &Reason::IpAllowed);
    assert_eq!(decision.matched_cidr(), Some("198.51.100.0/28".parse().unwrap()));
    let client = decision.client_ip().unwrap();
    assert_eq!(client.addr().to_string(), MANUFACTURER);
    assert_eq!(
        client.provenance(),
        Provenance::Header { header: ForwardedHeader::XForwardedFor, hop: 0, hops: 1 }
    );
}

#[test]
fn xff_spoofing_attempts_are_refused() {
    let guard = behind_proxy(ProxyHeaders::XForwardedFor);
    let attacker = "203.0.113.66";
    let attempts: &[&[(&str, &str)]] = &[
        // Prepending an allowed address: the proxy appends the attacker's real one.
        &[("x-forwarded-for", &*format!("{MANUFACTURER}, {attacker}"))],
        // A second header line with the allowed address before the proxy's.
        &[("x-forwarded-for", MANUFACTURER), ("x-forwarded-for", attacker)],
        // The allowed address as IPv4-mapped IPv6, bracketed with a port, prepended.
        &[("x-forwarded-for", &*format!("[::ffff:{MANUFACTURER}]:443, {attacker}"))],
        // Claiming to be a trusted proxy in front of the allowed address does not help:
        // the walk stops at the attacker's address the proxy appended.
        &[("x-forwarded-for", &*format!("{MANUFACTURER}, 10.0.0.9, {attacker}"))],
    ];
    for pairs in attempts {
        let decision = check(&guard, LOAD_BALANCER, pairs);
        assert!(!decision.is_allowed(), "{pairs:?}: {decision}");
        assert_eq!(decision.client_ip().unwrap().addr().to_string(), attacker, "{pairs:?}");
    }
    // Talking to us directly with a forged header: the header is ignored.
    let decision = check(&guard, &format!("{attacker}:5000"), &[("x-forwarded-for", MANUFACTURER)]);
    assert!(!decision.is_allowed());
    assert_eq!(decision.client_ip().unwrap().provenance(), Provenance::Peer);
}

#[test]
fn garbage_and_obfuscated_hops_are_refused_not_skipped() {
    let guard = behind_proxy(ProxyHeaders::XForwardedFor);
    let garbage = [
        "198.51.100.3,,10.0.0.9",
        "198.51.100.3, not-an-ip",
        "198.51.100.3, 0198.51.100.3",
        "198.51.100.3 10.0.0.9",
        "fe80::1%eth0",
        "[2001:db8:cafe::1",
        "2001:db8:cafe::1]:80",
        "198.51.100.3:70000",
        "198.51.100.3, unknown",
    ];
    for value in garbage {
        let decision = check(&guard, LOAD_BALANCER, &[("x-forwarded-for", value)]);
        assert!(!decision.is_allowed(), "{value:?}: {decision}");
        assert!(
            matches!(decision.reason(), Reason::ClientIpUnresolved(_)),
            "{value:?}: {decision}"
        );
        assert!(decision.client_ip().is_none());
    }
    // Brackets and ports from the proxy are understood, for both families.
    for value in ["[2001:db8:cafe::7]:443", "2001:db8:cafe::7", "198.51.100.3:61000"] {
        assert!(
            check(&guard, LOAD_BALANCER, &[("x-forwarded-for", value)]).is_allowed(),
            "{value}"
        );
    }
}

#[test]
fn forwarded_header_and_conflicts() {
    let guard = behind_proxy(ProxyHeaders::Both);
    let decision = check(
        &guard,
        LOAD_BALANCER,
        &[("forwarded", r#"for="[2001:db8:cafe::9]:4711";proto=https"#)],
    );
    assert!(decision.is_allowed(), "{decision}");
    let decision = check(
        &guard,
        LOAD_BALANCER,
        &[("x-forwarded-for", MANUFACTURER), ("forwarded", "for=203.0.113.66")],
    );
    assert!(
        matches!(decision.reason(), Reason::ClientIpUnresolved(ClientIpError::Conflict { .. })),
        "{decision}"
    );
    let decision = check(&guard, LOAD_BALANCER, &[("forwarded", "for=_hidden")]);
    assert!(matches!(
        decision.reason(),
        Reason::ClientIpUnresolved(ClientIpError::UnresolvableHop { .. })
    ));
    let decision = check(&guard, LOAD_BALANCER, &[]);
    assert!(matches!(
        decision.reason(),
        Reason::ClientIpUnresolved(ClientIpError::MissingHeader { .. })
    ));
}

const POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ManufacturerCreates", "Effect": "Allow", "Principal": {"AWS": "car-orders"},
     "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/POST/orders"},
    {"Sid": "DenyOutsideEgress", "Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke",
     "Resource": "execute-api:/*", "Condition": {"NotIpAddress": {"aws:SourceIp": "198.51.100.0/28"}}}
  ]
}"#;

fn layered(report_only: bool) -> (AccessGuard, Reloadable<ResourcePolicy>, Reloadable<IpSet>) {
    let policy = Reloadable::new(ResourcePolicy::parse(POLICY, api()).unwrap());
    let set = Reloadable::new(IpSet::parse(["198.51.100.0/24"]).unwrap());
    let guard = AccessGuard::builder()
        .ip_rule(IpRule::allow(set.clone()))
        .resource_policy(policy.clone())
        .report_only(report_only)
        .build()
        .unwrap();
    (guard, policy, set)
}

fn call(
    guard: &AccessGuard,
    peer: &str,
    principal: Option<&str>,
    method: &str,
    path: &str,
) -> Decision {
    let peer: SocketAddr = peer.parse().unwrap();
    let ctx = RequestContext::new(method, path);
    let ctx = match principal {
        Some(p) => ctx.principal(p),
        None => ctx,
    };
    guard.check(peer, &HeaderMap::new(), ctx)
}

#[test]
fn waf_layer_then_policy_layer() {
    let (guard, _, _) = layered(false);
    let ok = call(&guard, "198.51.100.3:1", Some("car-orders"), "POST", "/orders");
    assert!(ok.is_allowed(), "{ok}");
    assert_eq!(ok.statement().unwrap().sid(), Some("ManufacturerCreates"));
    // In the WAF range but outside the policy's: the policy's explicit deny decides.
    let denied = call(&guard, "198.51.100.200:1", Some("car-orders"), "POST", "/orders");
    assert_eq!(denied.reason(), &Reason::ExplicitDeny);
    assert_eq!(denied.statement().unwrap().sid(), Some("DenyOutsideEgress"));
    assert_eq!(denied.matched_cidr(), Some("198.51.100.0/24".parse().unwrap()));
    // Outside the WAF range: refused before the policy.
    assert_eq!(
        call(&guard, "203.0.113.1:1", Some("car-orders"), "POST", "/orders").reason(),
        &Reason::IpDefault
    );
    // Another client id, or another route: implicit deny.
    assert_eq!(
        call(&guard, "198.51.100.3:1", Some("other"), "POST", "/orders").reason(),
        &Reason::ImplicitDeny
    );
    assert_eq!(
        call(&guard, "198.51.100.3:1", Some("car-orders"), "GET", "/orders").reason(),
        &Reason::ImplicitDeny
    );
    // A path with a second spelling never reaches the statements.
    let sneaky = call(&guard, "198.51.100.3:1", Some("car-orders"), "POST", "/orders/../orders");
    assert!(matches!(sneaky.reason(), Reason::InvalidPath(_)));
}

#[test]
fn block_rules_come_first_when_listed_first() {
    let guard = AccessGuard::builder()
        .ip_rule(IpRule::block(IpSet::parse(["198.51.100.7"]).unwrap()))
        .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/24"]).unwrap()))
        .build()
        .unwrap();
    let blocked = call(&guard, "198.51.100.7:1", None, "GET", "/");
    assert_eq!(blocked.reason(), &Reason::IpBlocked);
    assert_eq!(blocked.matched_cidr(), Some("198.51.100.7/32".parse().unwrap()));
    assert!(call(&guard, "198.51.100.8:1", None, "GET", "/").is_allowed());
}

#[test]
fn waf_forwarded_ip_rule_without_header_is_not_applied() {
    let config = ForwardedIpConfig::new(
        HeaderName::from_static("x-forwarded-for"),
        ForwardedIpPosition::Last,
        FallbackBehavior::NoMatch,
    );
    let guard = AccessGuard::builder()
        .ip_rule(IpRule::allow(allowlist()).forwarded_ip(config))
        .build()
        .unwrap();
    // Absent: the rule does not apply, the default action (block) decides, even for a peer in
    // the set.
    let absent = check(&guard, "198.51.100.3:1", &[]);
    assert_eq!(absent.reason(), &Reason::IpDefault);
    let present = check(&guard, "10.0.0.5:1", &[("x-forwarded-for", "203.0.113.1, 198.51.100.3")]);
    assert_eq!(present.reason(), &Reason::IpAllowed);
}

#[test]
fn report_only_lets_everything_through_but_says_what_it_would_do() {
    let (guard, _, _) = layered(true);
    let decision = call(&guard, "203.0.113.1:1", Some("car-orders"), "POST", "/orders");
    assert!(decision.is_allowed());
    assert!(decision.is_report_only());
    assert_eq!(decision.effect(), Effect::Deny);
    assert!(decision.to_string().starts_with("deny (report-only): "), "{decision}");
}

#[test]
fn hot_reload_swaps_policy_and_ip_set_under_load() {
    let (guard, policy, set) = layered(false);
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let guard = guard.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    let decision =
                        call(&guard, "198.51.100.3:1", Some("car-orders"), "POST", "/orders");
                    // Old or new configuration, never a broken one.
                    assert!(
                        decision.is_allowed() || decision.reason() == &Reason::IpDefault,
                        "{decision}"
                    );
                }
            })
        })
        .collect();
    set.store(IpSet::parse(["192.0.2.0/24"]).unwrap());
    for reader in readers {
        reader.join().unwrap();
    }
    assert_eq!(
        call(&guard, "198.51.100.3:1", Some("car-orders"), "POST", "/orders").reason(),
        &Reason::IpDefault
    );

    set.store(IpSet::parse(["198.51.100.0/24"]).unwrap());
    let stricter = POLICY.replace("198.51.100.0/28", "198.51.100.4/32");
    policy.store(ResourcePolicy::parse(&stricter, api()).unwrap());
    assert_eq!(
        call(&guard, "198.51.100.3:1", Some("car-orders"), "POST", "/orders").reason(),
        &Reason::ExplicitDeny
    );
}

/// The lines of `logs` above `DEBUG`.
fn above_debug(logs: &str) -> Vec<&str> {
    logs.lines().filter(|line| !line.trim_start().starts_with("DEBUG")).collect()
}

#[test]
fn each_decision_is_one_debug_event_with_its_reason() {
    let (guard, _, _) = layered(false);
    let (_, logs) = capture_logs(|| {
        call(&guard, "198.51.100.200:1", Some("car-orders"), "POST", "/orders");
    });
    let lines: Vec<_> = logs.lines().filter(|l| l.contains("access decision")).collect();
    assert_eq!(lines.len(), 1, "{logs}");
    let line = lines[0];
    for field in [
        "DEBUG",
        "effect=deny",
        "reason=explicit deny",
        "statement=statement \"DenyOutsideEgress\"",
        "client_ip=198.51.100.200",
        "provenance=peer",
        "principal=\"car-orders\"",
        "path=\"/orders\"",
    ] {
        assert!(line.contains(field), "{field} missing in {line}");
    }
    // At info, a flood of denials writes nothing.
    let (_, flood) = capture_logs(|| {
        for _ in 0..100 {
            call(&guard, "203.0.113.1:1", None, "POST", "/orders");
        }
    });
    assert_eq!(flood.lines().filter(|l| l.contains("access decision")).count(), 100);
    assert!(above_debug(&flood).is_empty(), "{flood}");
}

#[test]
fn spoofable_waf_allowlists_warn_at_load() {
    let (_, logs) = capture_logs(|| {
        let config = ForwardedIpConfig::new(
            HeaderName::from_static("x-forwarded-for"),
            ForwardedIpPosition::First,
            FallbackBehavior::NoMatch,
        );
        assert!(IpRule::allow(allowlist()).forwarded_ip(config).is_spoofable());
    });
    let warnings = above_debug(&logs);
    assert!(warnings.iter().any(|l| l.contains("WARN") && l.contains("prepending")), "{logs}");
}
