//! `b2b-auth-policy` hot paths: IP-set lookups and resource-policy evaluation.
//!
//! Targets (issue 6): ≤ 100 ns per lookup in a set of 100,000 mixed IPv4/IPv6 prefixes, ≤ 1 µs
//! per evaluation of a three-statement policy with an IP condition. Figures and the command
//! are in `benches/README.md`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)] // bench set-up: a panic is the failure report

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use b2b_auth_policy::{
    AccessGuard, Api, ClientIpSource, IpNet, IpRule, IpSet, RequestContext, ResourcePolicy,
    TrustedProxies,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::HeaderMap;

/// A small deterministic generator (xorshift64*), so every run benches the same sets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `n` prefixes, half IPv4 (/8 to /32), half IPv6 (/16 to /128), random positions.
fn prefixes(n: usize, rng: &mut Rng) -> Vec<IpNet> {
    (0..n)
        .map(|i| {
            let r = rng.next();
            if i % 2 == 0 {
                let len = 8 + (r % 25) as u8;
                IpNet::new(IpAddr::V4(Ipv4Addr::from((r >> 32) as u32)), len).unwrap().trunc()
            } else {
                let addr = (u128::from(r) << 64) | u128::from(rng.next());
                let len = 16 + (r % 113) as u8;
                IpNet::new(IpAddr::V6(Ipv6Addr::from(addr)), len).unwrap().trunc()
            }
        })
        .collect()
}

/// 1,024 probe addresses: half inside a prefix of the set, half random.
fn probes(nets: &[IpNet], rng: &mut Rng) -> Vec<IpAddr> {
    (0..1024)
        .map(|i| match (i % 2, &nets[rng.next() as usize % nets.len()]) {
            (0, IpNet::V4(v4)) => IpAddr::V4(v4.network()),
            (0, IpNet::V6(v6)) => IpAddr::V6(v6.network()),
            (_, IpNet::V4(_)) => IpAddr::V4(Ipv4Addr::from(rng.next() as u32)),
            (_, IpNet::V6(_)) => {
                IpAddr::V6(Ipv6Addr::from((u128::from(rng.next()) << 64) | u128::from(rng.next())))
            }
        })
        .collect()
}

fn ip_lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("ip_lookup");
    group.throughput(Throughput::Elements(1));
    for n in [10, 10_000, 100_000] {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
        let nets = prefixes(n, &mut rng);
        let set = nets.iter().fold(IpSet::builder(), |b, net| b.net(*net)).build().unwrap();
        let probes = probes(&nets, &mut rng);
        let mut i = 0;
        group.bench_with_input(BenchmarkId::from_parameter(n), &set, |b, set| {
            b.iter(|| {
                i = (i + 1) % probes.len();
                black_box(set.lookup(black_box(probes[i])))
            })
        });
    }
    group.finish();
}

/// The reference scenario's policy: the manufacturer may create tire orders, anyone allowed
/// may read, and nothing gets in from outside the egress range.
const THREE_STATEMENTS: &str = r#"{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "ManufacturerCreates", "Effect": "Allow", "Principal": {"AWS": "car-orders"},
     "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/POST/orders"},
    {"Sid": "Read", "Effect": "Allow", "Principal": "*",
     "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/GET/orders/*"},
    {"Sid": "OnlyFromEgress", "Effect": "Deny", "Principal": "*",
     "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/28", "2001:db8:cafe::/48"]}}}
  ]
}"#;

fn policy_evaluation(c: &mut Criterion) {
    let api = Api::new("eu-west-1", "111122223333", "tires").unwrap().with_stage("prod").unwrap();
    let policy = ResourcePolicy::parse(THREE_STATEMENTS, api).unwrap();
    let allowed: IpAddr = "198.51.100.3".parse().unwrap();
    let outsider: IpAddr = "203.0.113.9".parse().unwrap();

    let mut group = c.benchmark_group("policy_evaluation");
    group.bench_function("three_statements_allow", |b| {
        b.iter(|| {
            let ctx = RequestContext::new("POST", "/orders")
                .source_ip(black_box(allowed))
                .principal("car-orders");
            black_box(policy.evaluate(&ctx))
        })
    });
    group.bench_function("three_statements_deny", |b| {
        b.iter(|| {
            let ctx = RequestContext::new("GET", "/orders/42")
                .source_ip(black_box(outsider))
                .principal("car-orders");
            black_box(policy.evaluate(&ctx))
        })
    });

    // The whole guard as the tower layer runs it: XFF behind a trusted proxy, an IP rule over
    // 10,000 prefixes, then the policy.
    let mut rng = Rng(7);
    let mut nets = prefixes(10_000, &mut rng);
    nets.push("198.51.100.0/28".parse().unwrap());
    let allowlist = nets.iter().fold(IpSet::builder(), |b, net| b.net(*net)).build().unwrap();
    let proxies = TrustedProxies::new(IpSet::parse(["10.0.0.0/8"]).unwrap());
    let guard = AccessGuard::builder()
        .client_ip_source(ClientIpSource::TrustedProxies(proxies))
        .ip_rule(IpRule::allow(allowlist))
        .resource_policy(ResourcePolicy::parse(THREE_STATEMENTS, policy.api().clone()).unwrap())
        .build()
        .unwrap();
    let peer: SocketAddr = "10.0.0.5:40000".parse().unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("x-forwarded-for", "192.0.2.1, 198.51.100.3, 10.1.2.3".parse().unwrap());
    group.bench_function("guard_xff_iprule_policy", |b| {
        b.iter(|| {
            let ctx = RequestContext::new("POST", "/orders").principal("car-orders");
            black_box(guard.check(peer, black_box(&headers), ctx))
        })
    });
    group.finish();
}

criterion_group!(benches, ip_lookup, policy_evaluation);
criterion_main!(benches);
