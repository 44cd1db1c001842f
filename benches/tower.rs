//! Per-request overhead of the server-side tower layers on an in-process service: the
//! require-bearer layer (per-route scopes) and the enforce-policy layer (IP allowlist and
//! resource policy with the verified client id), with the verifier's cache on (a repeat
//! token) and off, next to the bare service and the verifier's own cold verification.
//! See benches/README.md for the figures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // bench code: a panic is the failure report
#![allow(missing_docs)]

mod common;

use std::convert::Infallible;
use std::hint::black_box;
use std::net::SocketAddr;

use b2b_auth_jwt::Verifier;
use b2b_auth_policy::{AccessGuard, Api, IpRule, IpSet, ResourcePolicy};
use b2b_auth_testkit::TestKey;
use b2b_auth_tower::{EnforcePolicyLayer, PeerAddr, RequireBearerLayer, ScopeRoutes};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use tower::{Layer, Service, service_fn};

use common::{cognito_claims, cognito_verifier, ready};

/// A Cognito client-credentials access token (RS256), as in the `verify` bench.
fn token() -> String {
    TestKey::RSA.sign(&cognito_claims())
}

fn verifier(cache: u64) -> Verifier {
    cognito_verifier(TestKey::RSA, cache)
}

fn bearer(verifier: Verifier) -> RequireBearerLayer {
    let routes = ScopeRoutes::builder()
        .route("POST /orders", "tires/orders.write")
        .route("GET /orders/{id}", "tires/orders.read")
        .route("ANY /admin/*", "tires/admin")
        .build()
        .unwrap();
    RequireBearerLayer::builder(verifier).require(routes).build().unwrap()
}

/// The manufacturer's egress allowlist, then a resource policy naming its client id.
fn policy() -> EnforcePolicyLayer {
    let api = Api::new("eu-west-1", "111122223333", "tires").unwrap().with_stage("prod").unwrap();
    let policy = ResourcePolicy::parse(
        r#"{"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "car-orders"}, "Action": "execute-api:Invoke",
             "Resource": "execute-api:/prod/POST/orders"},
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/28"]}}}
        ]}"#,
        api,
    )
    .unwrap();
    let guard = AccessGuard::builder()
        .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"]).unwrap()))
        .resource_policy(policy)
        .build()
        .unwrap();
    EnforcePolicyLayer::new(guard)
}

/// A request as a server hands it over: the token, the peer address.
fn request(token: &str) -> Request<()> {
    let mut request = Request::post("/orders")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(())
        .unwrap();
    request.extensions_mut().insert(PeerAddr("198.51.100.3:40000".parse::<SocketAddr>().unwrap()));
    request
}

/// One request through `service`, as a server does it: ready, call, await.
fn serve<S: Service<Request<()>, Response = Response<()>, Error = Infallible>>(
    service: &mut S,
    request: Request<()>,
) -> Response<()> {
    ready(std::future::poll_fn(|cx| service.poll_ready(cx))).unwrap();
    ready(service.call(request)).unwrap()
}

fn tower_layers(c: &mut Criterion) {
    let token = token();
    let handler = || service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let mut group = c.benchmark_group("tower");

    let mut bare = handler();
    group.bench_function("a_bare_service", |b| {
        b.iter_batched(|| request(&token), |r| serve(&mut bare, r), BatchSize::SmallInput);
    });

    let mut stack = bearer(verifier(1_000)).layer(policy().layer(handler()));
    assert_eq!(serve(&mut stack, request(&token)).status(), 200, "the request passes");
    group.bench_function("b_bearer_policy_cache_hit", |b| {
        b.iter_batched(|| request(&token), |r| serve(&mut stack, r), BatchSize::SmallInput);
    });

    let mut bearer_only = bearer(verifier(1_000)).layer(handler());
    serve(&mut bearer_only, request(&token));
    group.bench_function("c_bearer_only_cache_hit", |b| {
        b.iter_batched(|| request(&token), |r| serve(&mut bearer_only, r), BatchSize::SmallInput);
    });

    let mut uncached = bearer(verifier(0)).layer(policy().layer(handler()));
    assert_eq!(serve(&mut uncached, request(&token)).status(), 200);
    group.bench_function("d_bearer_policy_no_cache", |b| {
        b.iter_batched(|| request(&token), |r| serve(&mut uncached, r), BatchSize::SmallInput);
    });

    let cold = verifier(0);
    group.bench_function("e_verifier_no_cache", |b| {
        b.iter(|| ready(cold.verify(black_box(&token))).unwrap());
    });
    group.finish();
}

criterion_group!(benches, tower_layers);
criterion_main!(benches);
