//! Per-request cost of `ApiKeyLayer` around a service that answers at once: a refusal, a key
//! lookup among 10 and 10,000 keys, a usage plan counted in the process, and — for scale — one
//! counted fleet-wide in a local Redis; next to the same request without the layer.
//! `cargo bench --bench api_key`; see benches/README.md for the figures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // bench code: a panic is the failure report
#![allow(missing_docs)]

mod common;

use std::convert::Infallible;
use std::hint::black_box;

use b2b_auth_jwt::{Claims, JwkSet, TrustedIssuer, Verifier};
use b2b_auth_redis::RedisUsageStore;
use b2b_auth_testkit::{RedisServer, TestKey, jwks};
use b2b_auth_tower::api_key::{ApiKey, ApiKeyLayer, ApiKeys, Quota, Throttle, UsagePlan};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{Request, Response, StatusCode};
use serde_json::json;
use tower::{Layer as _, Service, ServiceExt as _, service_fn};

use common::ready;

fn key_value(n: usize) -> String {
    format!("ck_live_{n:032x}")
}

/// `count` keys of `car-orders` on `plan`; the bench presents the last one.
fn keys(count: usize, plan: &UsagePlan) -> ApiKeys {
    ApiKeys::from_keys((0..count).map(|n| {
        ApiKey::builder(format!("key-{n}"))
            .client_id("car-orders")
            .value(key_value(n))
            .plan(plan.clone())
            .build()
            .unwrap()
    }))
    .unwrap()
}

fn claims(runtime: &tokio::runtime::Runtime) -> Claims {
    let keys = JwkSet::from_json(jwks(&[TestKey::ED25519]).to_string().as_bytes()).unwrap();
    let issuer = TrustedIssuer::builder("https://issuer.bench")
        .static_keys(keys)
        .client_ids(["car-orders"])
        .build()
        .unwrap();
    let verifier = Verifier::builder().issuer(issuer).build().unwrap();
    let now = b2b_auth_core::unix_secs(std::time::SystemTime::now());
    let token = TestKey::ED25519.sign(&json!({
        "iss": "https://issuer.bench", "client_id": "car-orders", "iat": now, "exp": now + 86_400,
    }));
    runtime.block_on(verifier.verify(&token)).unwrap()
}

fn request(key: Option<&str>, claims: &Claims) -> Request<()> {
    let mut request = Request::post("/orders");
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let mut request = request.body(()).unwrap();
    request.extensions_mut().insert(claims.clone());
    request
}

type Svc = tower::util::BoxCloneSyncService<Request<()>, Response<()>, Infallible>;

fn inner() -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send>
+ Clone
+ Send
+ Sync {
    service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) })
}

fn service(layer: ApiKeyLayer) -> Svc {
    Svc::new(layer.layer(inner()))
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let claims = claims(&runtime);
    let unlimited = UsagePlan::builder("unlimited").build().unwrap();
    // Limits never reached during the bench: the counting is measured, not a refusal.
    let counted = UsagePlan::builder("counted")
        .throttle(Throttle::per_second(1_000_000_000).burst(1_000_000_000))
        .quota(Quota::per_day(u64::MAX))
        .build()
        .unwrap();

    let mut group = c.benchmark_group("api_key");
    group.throughput(Throughput::Elements(1));
    let mut run = |name: &str, mut service: Svc, key: Option<String>, status: StatusCode| {
        let response = ready(service.call(request(key.as_deref(), &claims))).unwrap();
        assert_eq!(response.status(), status, "{name}");
        group.bench_function(name, |b| {
            b.iter(|| black_box(ready(service.call(request(key.as_deref(), &claims)))))
        });
    };
    // The request's construction and the boxed service, without the layer: subtract it.
    run("baseline_without_layer", Svc::new(inner()), Some(key_value(9)), StatusCode::OK);
    let layer = |keys| ApiKeyLayer::builder(keys).build().unwrap();
    run("missing_key_403", service(layer(keys(10, &unlimited))), None, StatusCode::FORBIDDEN);
    for count in [10, 10_000] {
        let name = format!("unlimited_plan/{count}_keys");
        let key = Some(key_value(count - 1));
        run(&name, service(layer(keys(count, &unlimited))), key, StatusCode::OK);
    }
    let key = Some(key_value(9));
    run("throttle_and_quota/memory", service(layer(keys(10, &counted))), key, StatusCode::OK);

    // Fleet-wide: one Lua script on a local redis-server per request, from the runtime.
    let redis = RedisServer::start();
    let store = runtime.block_on(async { RedisUsageStore::builder(redis.url()).build().unwrap() });
    let layer = ApiKeyLayer::builder(keys(10, &counted)).store(store).build().unwrap();
    let service = service(layer);
    let key = key_value(9);
    let call = || service.clone().oneshot(request(Some(&key), &claims));
    assert_eq!(runtime.block_on(call()).unwrap().status(), StatusCode::OK);
    group.bench_function("throttle_and_quota/redis", |b| {
        b.iter(|| black_box(runtime.block_on(call())))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
