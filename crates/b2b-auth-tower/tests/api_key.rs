//! `ApiKeyLayer` end to end through `tower::ServiceExt::oneshot`: every status and header
//! (HTTP and gRPC), key/token client binding, throttles and quotas on a manual clock, runtime
//! revocation, store failures, and what reaches the logs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::convert::Infallible;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use b2b_auth_jwt::{Claims, JwkSet, TrustedIssuer, Verifier};
use b2b_auth_testkit::{ManualClock, TestKey, capture_logs_async, jwks};
use b2b_auth_token::BoxFuture;
use b2b_auth_tower::api_key::{
    ApiKey, ApiKeyError, ApiKeyErrorKind, ApiKeyLayer, ApiKeys, ClientBinding, MemoryUsageStore,
    OnStoreError, Quota, Throttle, Usage, UsagePlan, UsageRequest, UsageStore, UsageStoreError,
};
use b2b_auth_tower::{AUDIT_TARGET, PeerAddr};
use http::header::{CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Layer as _, ServiceExt as _, service_fn};

/// The value of the manufacturer's key, and another client's.
const CAR_ORDERS_KEY: &str = "ck_live_3f9a2c7e5b1d4e8fa06b92c1d7e3f5a8";
const OTHER_KEY: &str = "ok_live_0b7d1e4c9a2f6e3d8c5b1a7f4e2d9c6b";

/// 2026-11-21 00:00:00 UTC, a Saturday.
const SATURDAY: u64 = 1_795_219_200;

fn plan(name: &str, throttle: Option<Throttle>, quota: Option<Quota>) -> UsagePlan {
    let mut plan = UsagePlan::builder(name);
    if let Some(throttle) = throttle {
        plan = plan.throttle(throttle);
    }
    if let Some(quota) = quota {
        plan = plan.quota(quota);
    }
    plan.build().unwrap()
}

fn key(id: &str, client_id: &str, value: &str, plan: &UsagePlan) -> ApiKey {
    ApiKey::builder(id).client_id(client_id).value(value).plan(plan.clone()).build().unwrap()
}

/// The manufacturer's key and another client's, both on `plan`.
fn keys(plan: &UsagePlan) -> ApiKeys {
    ApiKeys::from_keys([
        key("car-orders-2026", "car-orders", CAR_ORDERS_KEY, plan),
        key("other-2026", "other", OTHER_KEY, plan),
    ])
    .unwrap()
}

fn unlimited() -> UsagePlan {
    plan("unlimited", None, None)
}

/// The claims the bearer layer would leave for a token of `client_id` (none: a token
/// without a client id), from a real verification.
async fn claims(client_id: Option<&str>) -> Claims {
    let keys = JwkSet::from_json(jwks(&[TestKey::ED25519]).to_string().as_bytes()).unwrap();
    let issuer = TrustedIssuer::builder("https://issuer.test")
        .static_keys(keys)
        .any_audience()
        .build()
        .unwrap();
    let verifier = Verifier::builder().issuer(issuer).build().unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut claims = serde_json::json!({
        "iss": "https://issuer.test", "sub": "s", "iat": now, "exp": now + 3_600,
        "scope": "tires/orders.write",
    });
    if let Some(client_id) = client_id {
        claims["client_id"] = client_id.into();
    }
    verifier.verify(&TestKey::ED25519.sign(&claims)).await.unwrap()
}

/// A request with `key` (if any) and the bearer layer's `claims` (if any).
fn request(key: Option<&str>, claims: Option<&Claims>) -> Request<String> {
    let mut builder = Request::post("/orders");
    if let Some(key) = key {
        builder = builder.header("x-api-key", key);
    }
    let mut request = builder.body(String::new()).unwrap();
    if let Some(claims) = claims {
        request.extensions_mut().insert(claims.clone());
    }
    request
}

fn grpc(mut request: Request<String>) -> Request<String> {
    request.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    request
}

/// The protected service: answers with the id of the key it was handed and whether the key
/// header reached it marked sensitive.
async fn handler(request: Request<String>) -> Result<Response<String>, Infallible> {
    let key = request.extensions().get::<ApiKey>().map(|k| k.id().to_owned());
    let sensitive = request.headers().get("x-api-key").map(HeaderValue::is_sensitive);
    Ok(Response::new(format!("key={} sensitive={sensitive:?}", key.unwrap_or_default())))
}

async fn send(layer: &ApiKeyLayer, request: Request<String>) -> Response<String> {
    layer.layer(service_fn(handler)).oneshot(request).await.unwrap()
}

fn error(response: &Response<String>) -> &ApiKeyError {
    response.extensions().get::<ApiKeyError>().expect("a refusal carries its error")
}

fn retry_after(response: &Response<String>) -> &str {
    response.headers()[RETRY_AFTER].to_str().unwrap()
}

fn manual_clock(unix: u64) -> ManualClock {
    ManualClock::at_unix(unix)
}

fn layer_with(keys: ApiKeys, clock: &ManualClock) -> ApiKeyLayer {
    ApiKeyLayer::builder(keys).clock(clock.clone()).build().unwrap()
}

#[tokio::test]
async fn a_valid_key_of_the_tokens_client_reaches_the_service_with_its_key() {
    let layer = ApiKeyLayer::builder(keys(&unlimited())).build().unwrap();
    let response =
        send(&layer, request(Some(CAR_ORDERS_KEY), Some(&claims(Some("car-orders")).await))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "key=car-orders-2026 sensitive=Some(true)");
    assert!(response.extensions().get::<ApiKeyError>().is_none());
}

#[tokio::test]
async fn missing_empty_repeated_and_garbage_keys_are_refused_without_a_panic() {
    let layer = ApiKeyLayer::builder(keys(&unlimited())).build().unwrap();
    let claims = claims(Some("car-orders")).await;
    let with_values = |values: &[&[u8]]| {
        let mut request = request(None, Some(&claims));
        for value in values {
            request.headers_mut().append("x-api-key", HeaderValue::from_bytes(value).unwrap());
        }
        request
    };
    let cases: [(&[&[u8]], StatusCode, ApiKeyErrorKind); 7] = [
        (&[], StatusCode::FORBIDDEN, ApiKeyErrorKind::MissingKey),
        (&[b""], StatusCode::FORBIDDEN, ApiKeyErrorKind::MissingKey),
        (
            &[CAR_ORDERS_KEY.as_bytes(), CAR_ORDERS_KEY.as_bytes()],
            StatusCode::BAD_REQUEST,
            ApiKeyErrorKind::MultipleKeys,
        ),
        (&[b"", CAR_ORDERS_KEY.as_bytes()], StatusCode::BAD_REQUEST, ApiKeyErrorKind::MultipleKeys),
        (&[b"\xff\xfe\x80 not-utf8"], StatusCode::FORBIDDEN, ApiKeyErrorKind::UnknownKey),
        (
            &[b"ck_live_3f9a2c7e5b1d4e8fa06b92c1d7e3f5a"],
            StatusCode::FORBIDDEN,
            ApiKeyErrorKind::UnknownKey,
        ),
        (&[&[b'k'; 8_192]], StatusCode::FORBIDDEN, ApiKeyErrorKind::UnknownKey),
    ];
    for (values, status, kind) in cases {
        let response = send(&layer, with_values(values)).await;
        assert_eq!(response.status(), status, "{values:?}");
        assert_eq!(error(&response).kind(), kind);
        assert!(response.headers().get(RETRY_AFTER).is_none());
        assert!(response.body().is_empty(), "refusals carry no body");

        let response = send(&layer, grpc(with_values(values))).await;
        let code = if status == StatusCode::BAD_REQUEST { "3" } else { "7" };
        assert_eq!(response.status(), StatusCode::OK, "gRPC refusals travel in a 200");
        assert_eq!(response.headers()["grpc-status"], code, "{values:?}");
        assert_eq!(error(&response).kind(), kind);
    }
}

#[tokio::test]
async fn a_key_of_another_client_reads_exactly_like_an_unknown_key() {
    let layer = ApiKeyLayer::builder(keys(&unlimited())).build().unwrap();
    let car_orders = claims(Some("car-orders")).await;
    for grpc_request in [false, true] {
        let build = |key| {
            let request = request(Some(key), Some(&car_orders));
            if grpc_request { grpc(request) } else { request }
        };
        let unknown = send(&layer, build("no-such-key")).await;
        let foreign = send(&layer, build(OTHER_KEY)).await;
        assert_eq!(foreign.status(), unknown.status());
        assert_eq!(foreign.headers(), unknown.headers(), "nothing tells a valid foreign key apart");
        assert_eq!(error(&unknown).kind(), ApiKeyErrorKind::UnknownKey);
        assert_eq!(error(&foreign).kind(), ApiKeyErrorKind::ClientMismatch);
        assert_eq!(error(&foreign).key_id(), Some("other-2026"), "logs name the key");
        assert_eq!(error(&unknown).key_id(), None);
    }
    let status = |r: &Response<String>| r.status();
    assert_eq!(
        status(&send(&layer, request(Some(OTHER_KEY), Some(&car_orders))).await),
        StatusCode::FORBIDDEN
    );
    // A token without a client id matches no key.
    let anonymous = claims(None).await;
    let response = send(&layer, request(Some(CAR_ORDERS_KEY), Some(&anonymous))).await;
    assert_eq!(error(&response).kind(), ApiKeyErrorKind::ClientMismatch);
}

#[tokio::test]
async fn without_a_token_keys_are_refused_unless_the_binding_allows_keys_alone() {
    // The default: the bearer layer must have run (and a misordered stack fails closed).
    let strict = ApiKeyLayer::builder(keys(&unlimited())).build().unwrap();
    for key in [CAR_ORDERS_KEY, "no-such-key"] {
        let response = send(&strict, request(Some(key), None)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            error(&response).kind(),
            ApiKeyErrorKind::TokenRequired,
            "checked before the key"
        );
    }
    let response = send(&strict, grpc(request(Some(CAR_ORDERS_KEY), None))).await;
    assert_eq!(response.headers()["grpc-status"], "7");
    assert_eq!(response.headers()["grpc-message"], "api key requires a bearer token");

    let lenient = ApiKeyLayer::builder(keys(&unlimited()))
        .client_binding(ClientBinding::WhenTokenPresent)
        .build()
        .unwrap();
    let response = send(&lenient, request(Some(CAR_ORDERS_KEY), None)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body(), "key=car-orders-2026 sensitive=Some(true)");
    // Claims, when present, still bind.
    let other = claims(Some("other")).await;
    let response = send(&lenient, request(Some(CAR_ORDERS_KEY), Some(&other))).await;
    assert_eq!(error(&response).kind(), ApiKeyErrorKind::ClientMismatch);
    assert_eq!(
        send(&lenient, request(Some("no-such-key"), None)).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn throttled_requests_get_429_with_the_time_to_the_next_token() {
    // One request every 30 s, bursts of two.
    let plan = plan("slow", Some(Throttle::per_minute(2)), None);
    let clock = manual_clock(SATURDAY);
    let layer = layer_with(keys(&plan), &clock);
    let claims = claims(Some("car-orders")).await;
    let call = || request(Some(CAR_ORDERS_KEY), Some(&claims));

    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK);
    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK, "the burst");
    let throttled = send(&layer, call()).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&throttled), "30");
    assert_eq!(error(&throttled).kind(), ApiKeyErrorKind::Throttled);
    assert_eq!(error(&throttled).retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(error(&throttled).key_id(), Some("car-orders-2026"));

    clock.advance(Duration::from_millis(10_500));
    let throttled = send(&layer, grpc(call())).await;
    assert_eq!(throttled.headers()["grpc-status"], "8");
    assert_eq!(throttled.headers()["grpc-message"], "too many requests");
    assert_eq!(retry_after(&throttled), "20", "19.5 s, rounded up");

    clock.advance(Duration::from_millis(19_500));
    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK, "one token refilled");
    assert_eq!(retry_after(&send(&layer, call()).await), "30");

    // A long pause refills the bucket to its burst, no more.
    clock.advance(Duration::from_secs(3_600));
    for _ in 0..2 {
        assert_eq!(send(&layer, call()).await.status(), StatusCode::OK);
    }
    assert_eq!(send(&layer, call()).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn each_key_has_its_own_bucket() {
    let plan = plan("one", Some(Throttle::per_hour(1)), None);
    let clock = manual_clock(SATURDAY);
    let layer = ApiKeyLayer::builder(keys(&plan))
        .clock(clock.clone())
        .client_binding(ClientBinding::WhenTokenPresent)
        .build()
        .unwrap();
    assert_eq!(send(&layer, request(Some(CAR_ORDERS_KEY), None)).await.status(), StatusCode::OK);
    assert_eq!(send(&layer, request(Some(OTHER_KEY), None)).await.status(), StatusCode::OK);
    assert_eq!(
        send(&layer, request(Some(CAR_ORDERS_KEY), None)).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn a_clock_stepping_back_neither_blocks_nor_frees_a_bucket() {
    let plan = plan("slow", Some(Throttle::per_minute(1)), None);
    let clock = manual_clock(SATURDAY);
    let layer = layer_with(keys(&plan), &clock);
    let claims = claims(Some("car-orders")).await;
    let call = || request(Some(CAR_ORDERS_KEY), Some(&claims));

    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK);
    clock.set(UNIX_EPOCH + Duration::from_secs(SATURDAY - 3_600)); // an hour back
    assert_eq!(retry_after(&send(&layer, call()).await), "60", "not an hour and a minute");
    clock.advance(Duration::from_secs(60));
    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK);
}

/// The time from the quota window's end back to the clock, in a 429's `Retry-After`.
async fn exhaust_quota(layer: &ApiKeyLayer, claims: &Claims, limit: u64) -> Response<String> {
    for n in 0..limit {
        let response = send(layer, request(Some(CAR_ORDERS_KEY), Some(claims))).await;
        assert_eq!(response.status(), StatusCode::OK, "request {n} of {limit}");
    }
    let response = send(layer, request(Some(CAR_ORDERS_KEY), Some(claims))).await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(error(&response).kind(), ApiKeyErrorKind::QuotaExceeded);
    response
}

#[tokio::test]
async fn daily_quotas_restart_at_midnight_utc() {
    let plan = plan("daily", None, Some(Quota::per_day(3)));
    let clock = manual_clock(SATURDAY + 86_400 - 60); // Saturday 23:59:00
    let layer = layer_with(keys(&plan), &clock);
    let claims = claims(Some("car-orders")).await;

    let over = exhaust_quota(&layer, &claims, 3).await;
    assert_eq!(retry_after(&over), "60");
    assert_eq!(over.headers().get("grpc-status"), None);
    clock.advance(Duration::from_millis(59_250));
    let over = send(&layer, grpc(request(Some(CAR_ORDERS_KEY), Some(&claims)))).await;
    assert_eq!(over.headers()["grpc-status"], "8");
    assert_eq!(over.headers()["grpc-message"], "quota exceeded");
    assert_eq!(retry_after(&over), "1", "0.75 s, rounded up");
    clock.advance(Duration::from_millis(750)); // Sunday 00:00:00
    let over = exhaust_quota(&layer, &claims, 3).await;
    assert_eq!(retry_after(&over), "86400");

    // A clock stepping back over midnight does not bring back Saturday's empty count.
    clock.advance(Duration::from_secs(5));
    clock.set(UNIX_EPOCH + Duration::from_secs(SATURDAY + 86_400 - 5));
    let over = send(&layer, request(Some(CAR_ORDERS_KEY), Some(&claims))).await;
    assert_eq!(error(&over).kind(), ApiKeyErrorKind::QuotaExceeded);
}

#[tokio::test]
async fn weekly_quotas_restart_on_monday_and_monthly_ones_on_the_first() {
    let claims = claims(Some("car-orders")).await;

    let weekly = plan("weekly", None, Some(Quota::per_week(2)));
    let clock = manual_clock(SATURDAY + 86_400 + 23 * 3_600); // Sunday 23:00
    let layer = layer_with(keys(&weekly), &clock);
    assert_eq!(retry_after(&exhaust_quota(&layer, &claims, 2).await), "3600");
    clock.advance(Duration::from_secs(3_600)); // Monday 00:00
    assert_eq!(retry_after(&exhaust_quota(&layer, &claims, 2).await), (7 * 86_400).to_string());

    // 2026 is not a leap year: February ends on the 28th.
    let monthly = plan("monthly", None, Some(Quota::per_month(1)));
    let clock = manual_clock(1_772_236_800 + 12 * 3_600); // 2026-02-28 12:00
    let layer = layer_with(keys(&monthly), &clock);
    assert_eq!(retry_after(&exhaust_quota(&layer, &claims, 1).await), "43200");
    clock.advance(Duration::from_secs(43_200)); // March 1st
    assert_eq!(retry_after(&exhaust_quota(&layer, &claims, 1).await), (31 * 86_400).to_string());

    // December rolls over into the next year.
    let clock = manual_clock(1_798_675_200 + 86_399); // 2026-12-31 23:59:59
    let layer = layer_with(keys(&monthly), &clock);
    assert_eq!(retry_after(&exhaust_quota(&layer, &claims, 1).await), "1");
    clock.advance(Duration::from_secs(1));
    assert_eq!(retry_after(&exhaust_quota(&layer, &claims, 1).await), (31 * 86_400).to_string());
}

#[tokio::test]
async fn throttle_and_quota_do_not_charge_each_other_for_refusals() {
    // One request a second, two a day.
    let plan = plan("both", Some(Throttle::per_second(1)), Some(Quota::per_day(2)));
    let clock = manual_clock(SATURDAY + 86_400 - 10); // Saturday 23:59:50
    let layer = layer_with(keys(&plan), &clock);
    let claims = claims(Some("car-orders")).await;
    let call = || request(Some(CAR_ORDERS_KEY), Some(&claims));
    let kind = |r: &Response<String>| r.extensions().get::<ApiKeyError>().map(ApiKeyError::kind);

    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK);
    let throttled = send(&layer, call()).await;
    assert_eq!(kind(&throttled), Some(ApiKeyErrorKind::Throttled));
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        send(&layer, call()).await.status(),
        StatusCode::OK,
        "the throttled request was not counted"
    );

    clock.set(UNIX_EPOCH + Duration::from_millis((SATURDAY + 86_400) * 1_000 - 500)); // 23:59:59.5
    assert_eq!(kind(&send(&layer, call()).await), Some(ApiKeyErrorKind::QuotaExceeded));
    clock.advance(Duration::from_millis(500)); // midnight: a new day
    assert_eq!(
        send(&layer, call()).await.status(),
        StatusCode::OK,
        "the refusal over quota, 0.5 s earlier, took no token"
    );
}

#[tokio::test]
async fn keys_added_replaced_and_revoked_at_runtime_take_effect_on_the_next_request() {
    let keys = keys(&unlimited());
    let clock = manual_clock(SATURDAY);
    let layer = layer_with(keys.clone(), &clock);
    let claims = claims(Some("car-orders")).await;
    let call = |key| request(Some(key), Some(&claims));

    assert_eq!(send(&layer, call(CAR_ORDERS_KEY)).await.status(), StatusCode::OK);
    assert_eq!(keys.revoke("car-orders-2026").unwrap().id(), "car-orders-2026");
    let revoked = send(&layer, call(CAR_ORDERS_KEY)).await;
    assert_eq!(revoked.status(), StatusCode::FORBIDDEN);
    assert_eq!(error(&revoked).kind(), ApiKeyErrorKind::UnknownKey);

    // Rotation: a new key for the same client.
    let rotated = "ck_live_new_9d8c7b6a5f4e3d2c1b0a";
    keys.insert(key("car-orders-2027", "car-orders", rotated, &unlimited())).unwrap();
    assert_eq!(
        send(&layer, call(rotated)).await.body(),
        "key=car-orders-2027 sensitive=Some(true)"
    );

    // Moving the key to a stricter plan applies at once.
    let strict = plan("strict", None, Some(Quota::per_day(1)));
    keys.insert(key("car-orders-2027", "car-orders", rotated, &strict)).unwrap();
    assert_eq!(send(&layer, call(rotated)).await.status(), StatusCode::OK);
    assert_eq!(send(&layer, call(rotated)).await.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn layers_sharing_a_memory_store_share_the_quota() {
    let plan = plan("daily", None, Some(Quota::per_day(3)));
    let keys = keys(&plan);
    let clock = manual_clock(SATURDAY);
    let store = MemoryUsageStore::new();
    let build = || {
        ApiKeyLayer::builder(keys.clone())
            .store(store.clone())
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    let claims = claims(Some("car-orders")).await;
    let call = || request(Some(CAR_ORDERS_KEY), Some(&claims));
    for layer in [&a, &b, &a] {
        assert_eq!(send(layer, call()).await.status(), StatusCode::OK);
    }
    assert_eq!(send(&b, call()).await.status(), StatusCode::TOO_MANY_REQUESTS);
    // A layer with its own (default) store counts on its own.
    assert_eq!(send(&layer_with(keys, &clock), call()).await.status(), StatusCode::OK);
}

/// A store answering from a script (last answer first; then failing), asynchronously,
/// recording its calls.
#[derive(Clone, Debug, Default)]
struct ScriptedStore(Arc<Script>);

#[derive(Debug, Default)]
struct Script {
    answers: Mutex<Vec<Result<Usage, &'static str>>>,
    calls: Mutex<Vec<UsageRequest>>,
}

impl std::ops::Deref for ScriptedStore {
    type Target = Script;

    fn deref(&self) -> &Script {
        &self.0
    }
}

impl UsageStore for ScriptedStore {
    fn acquire(&self, request: UsageRequest) -> BoxFuture<'static, Result<Usage, UsageStoreError>> {
        self.calls.lock().unwrap().push(request);
        let answer = self.answers.lock().unwrap().pop().unwrap_or(Err("store down"));
        Box::pin(async move {
            tokio::task::yield_now().await;
            answer.map_err(|e| UsageStoreError::new(io::Error::other(e)))
        })
    }
}

#[tokio::test]
async fn a_shared_store_decides_and_its_answers_become_statuses() {
    let store = ScriptedStore::default();
    *store.answers.lock().unwrap() = vec![
        Ok(Usage::QuotaExceeded { retry_after: Duration::from_secs(7_200) }),
        Ok(Usage::Throttled { retry_after: Duration::from_millis(100) }),
        Ok(Usage::Allowed),
    ];
    let plan = plan("daily", Some(Throttle::per_second(5)), Some(Quota::per_day(10)));
    let clock = manual_clock(SATURDAY + 3_600);
    let keys = keys(&plan);
    let layer =
        ApiKeyLayer::builder(keys.clone()).store(store.clone()).clock(clock).build().unwrap();
    let claims = claims(Some("car-orders")).await;
    let call_with = |key| request(Some(key), Some(&claims));
    let call = || call_with(CAR_ORDERS_KEY);

    assert_eq!(send(&layer, call()).await.body(), "key=car-orders-2026 sensitive=Some(true)");
    assert_eq!(retry_after(&send(&layer, call()).await), "1");
    let over = send(&layer, call()).await;
    assert_eq!((over.status(), retry_after(&over)), (StatusCode::TOO_MANY_REQUESTS, "7200"));

    let first = store.calls.lock().unwrap()[0].clone();
    assert_eq!(first.key_id(), "car-orders-2026");
    assert_eq!(first.now(), UNIX_EPOCH + Duration::from_secs(SATURDAY + 3_600));
    assert_eq!(first.throttle(), Some(Throttle::per_second(5)));
    let window = first.quota().unwrap();
    assert_eq!(
        (window.limit(), window.start_unix_secs(), window.end_unix_secs()),
        (10, SATURDAY, SATURDAY + 86_400)
    );
    // Refused requests and keys on plans without limits never reach the store.
    keys.insert(key("free", "car-orders", "free-key-value", &unlimited())).unwrap();
    assert_eq!(send(&layer, call_with("free-key-value")).await.status(), StatusCode::OK);
    assert_eq!(send(&layer, call_with("no-such-key")).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(store.calls.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn when_the_store_fails_the_layer_enforces_locally_or_refuses_as_set() {
    let plan = plan("slow", Some(Throttle::per_minute(2)), None);
    let claims = claims(Some("car-orders")).await;
    let call = || request(Some(CAR_ORDERS_KEY), Some(&claims));

    // Default: the plan is enforced in the process while the store is down.
    let failing = ScriptedStore::default();
    let clock = manual_clock(SATURDAY);
    let layer = ApiKeyLayer::builder(keys(&plan))
        .store(failing.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK);
    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK);
    let local = send(&layer, call()).await;
    assert_eq!((local.status(), retry_after(&local)), (StatusCode::TOO_MANY_REQUESTS, "30"));
    assert_eq!(
        failing.calls.lock().unwrap().len(),
        1,
        "after a failure, the store is left alone for a second: an outage adds no timeouts"
    );
    // A second later the store is asked again, and decides again once it answers.
    clock.advance(Duration::from_secs(1));
    failing.answers.lock().unwrap().push(Ok(Usage::Allowed));
    assert_eq!(
        send(&layer, call()).await.status(),
        StatusCode::OK,
        "the store's answer, not the local bucket's"
    );
    assert_eq!(
        send(&layer, call()).await.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "failed again: local"
    );
    assert_eq!(failing.calls.lock().unwrap().len(), 3);

    // Fail closed: 503 (gRPC UNAVAILABLE), without asking the store again for a second.
    let failing = ScriptedStore::default();
    let layer = ApiKeyLayer::builder(keys(&plan))
        .store(failing.clone())
        .clock(clock.clone())
        .on_store_error(OnStoreError::Refuse)
        .build()
        .unwrap();
    let refused = send(&layer, call()).await;
    assert_eq!((refused.status(), retry_after(&refused)), (StatusCode::SERVICE_UNAVAILABLE, "1"));
    assert_eq!(error(&refused).kind(), ApiKeyErrorKind::StoreUnavailable);
    let cause = std::error::Error::source(error(&refused)).unwrap();
    assert_eq!(cause.to_string(), "usage store unavailable");
    assert_eq!(std::error::Error::source(cause).unwrap().to_string(), "store down");
    let refused = send(&layer, grpc(call())).await;
    assert_eq!(refused.headers()["grpc-status"], "14");
    assert_eq!(failing.calls.lock().unwrap().len(), 1);
    clock.advance(Duration::from_secs(1));
    failing.answers.lock().unwrap().push(Ok(Usage::Allowed));
    assert_eq!(send(&layer, call()).await.status(), StatusCode::OK);
}

#[tokio::test(flavor = "current_thread")]
async fn decisions_are_audited_with_key_ids_and_never_key_values() {
    let plan = plan("daily", None, Some(Quota::per_day(1)));
    let layer = ApiKeyLayer::builder(keys(&plan)).clock(manual_clock(SATURDAY)).build().unwrap();
    let failing =
        ApiKeyLayer::builder(keys(&plan)).store(ScriptedStore::default()).build().unwrap();
    let claims = claims(Some("car-orders")).await;
    let peer = PeerAddr("198.51.100.7:50123".parse().unwrap());
    let call = |key: &str| {
        let mut request = request(Some(key), Some(&claims));
        request.extensions_mut().insert(peer);
        request
    };
    let ((), logs) = capture_logs_async(async {
        send(&layer, call(CAR_ORDERS_KEY)).await; // allowed
        send(&layer, call(CAR_ORDERS_KEY)).await; // over quota
        send(&layer, call(OTHER_KEY)).await; // another client's key
        send(&layer, call("typo-of-a-key")).await; // unknown
        send(&failing, call(CAR_ORDERS_KEY)).await; // store down: warning, local decision
    })
    .await;
    for secret in [CAR_ORDERS_KEY, OTHER_KEY, "typo-of-a-key"] {
        assert!(!logs.contains(secret), "a key value reached the logs:\n{logs}");
        let digest = b2b_auth_tower::api_key::sha256_hex(secret);
        assert!(!logs.contains(&digest), "a key digest reached the logs:\n{logs}");
    }
    let events: Vec<&str> = logs.lines().filter(|line| line.contains(AUDIT_TARGET)).collect();
    assert_eq!(events.len(), 5, "one event per decision:\n{logs}");
    for (event, expected) in events.iter().zip([
        "decision=\"allow\" reason=valid api key (key car-orders-2026, plan daily)",
        "decision=\"deny\" reason=api key quota exceeded (key car-orders-2026) status=429",
        "decision=\"deny\" reason=api key of another client than the token's (key other-2026) status=403",
        "decision=\"deny\" reason=unknown api key status=403",
        "decision=\"allow\"",
    ]) {
        assert!(event.contains(expected), "{expected} not in {event}");
        assert!(event.contains("layer=\"api_key\""), "{event}");
        assert!(event.contains("client_id=\"car-orders\""), "{event}");
        assert!(event.contains("route=\"/orders\""), "{event}");
    }
    for event in &events[..4] {
        assert!(event.contains("client_ip=198.51.100.7 provenance=peer"), "{event}");
    }
    let warnings: Vec<&str> = logs.lines().filter(|line| line.contains("WARN")).collect();
    assert_eq!(warnings.len(), 1, "{logs}");
    assert!(
        warnings[0].contains("enforcing usage plans in this process")
            && warnings[0].contains("store down"),
        "{}",
        warnings[0]
    );
}

#[test]
fn layers_services_and_futures_are_clone_send_and_generic_over_bodies() {
    fn clone_send_sync<T: Clone + Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let layer = ApiKeyLayer::builder(ApiKeys::new()).build().unwrap();
    clone_send_sync(&layer);
    let service = layer.layer(service_fn(|_: Request<Vec<u8>>| async {
        Ok::<_, Infallible>(Response::new(bytes_body()))
    }));
    clone_send_sync(&service);
    let mut service = service;
    send(&tower::Service::call(&mut service, Request::new(Vec::new())));
}

/// A response body type other than `String`.
fn bytes_body() -> http_body_util::Full<bytes::Bytes> {
    http_body_util::Full::default()
}

/// A header value: the valid key, or any bytes (the layer gets those a header can hold).
fn key_header_value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    prop_oneof![
        Just(CAR_ORDERS_KEY.as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..80),
    ]
}

proptest::proptest! {
    /// Any `x-api-key` headers (any bytes a header value can hold, any number of them), with
    /// or without claims: an answer, never a panic, and 200 only for exactly the valid key.
    #[test]
    fn any_key_headers_get_an_answer(
        values in proptest::collection::vec(key_header_value(), 0..4),
        with_claims: bool,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let layer = ApiKeyLayer::builder(keys(&unlimited()))
            .client_binding(ClientBinding::WhenTokenPresent)
            .build()
            .unwrap();
        let claims = with_claims.then(|| runtime.block_on(claims(Some("car-orders"))));
        let mut request = request(None, claims.as_ref());
        let values: Vec<HeaderValue> =
            values.iter().filter_map(|v| HeaderValue::from_bytes(v).ok()).collect();
        for value in &values {
            request.headers_mut().append("x-api-key", value.clone());
        }
        let response = runtime.block_on(send(&layer, request));
        let valid = matches!(&values[..], [only] if only == CAR_ORDERS_KEY);
        match response.status() {
            StatusCode::OK => proptest::prop_assert!(valid),
            StatusCode::BAD_REQUEST => proptest::prop_assert!(values.len() > 1),
            StatusCode::FORBIDDEN => proptest::prop_assert!(!valid && values.len() <= 1),
            other => proptest::prop_assert!(false, "unexpected {other}"),
        }
    }
}
