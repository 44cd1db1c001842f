//! `RedisUsageStore` against a real `redis-server`: two instances (two layers, two stores)
//! sharing one quota and one throttle bucket exactly, period rollover on a manual clock, and
//! what the layer does while Redis is unreachable.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::convert::Infallible;
use std::time::{Duration, UNIX_EPOCH};

use b2b_auth_redis::{ConfigError, RedisUsageStore};
use b2b_auth_testkit::{ManualClock, RedisServer, free_port};
use b2b_auth_tower::api_key::{
    ApiKey, ApiKeyError, ApiKeyErrorKind, ApiKeyLayer, ApiKeys, ClientBinding, OnStoreError, Quota,
    Throttle, Usage, UsagePlan, UsageRequest, UsageStore as _,
};
use http::header::RETRY_AFTER;
use http::{Request, Response, StatusCode};
use redis::AsyncCommands as _;
use tower::{Layer as _, ServiceExt as _, service_fn};

const KEY_VALUE: &str = "ck_live_3f9a2c7e5b1d4e8fa06b92c1d7e3f5a8";
/// 2026-11-21 00:00:00 UTC.
const SATURDAY: u64 = 1_795_219_200;

fn store(url: String) -> RedisUsageStore {
    RedisUsageStore::builder(url)
        .connect_timeout(Duration::from_millis(300))
        .response_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

fn keys(plan: UsagePlan) -> ApiKeys {
    let key = ApiKey::builder("car-orders-2026")
        .client_id("car-orders")
        .value(KEY_VALUE)
        .plan(plan)
        .build()
        .unwrap();
    ApiKeys::from_keys([key]).unwrap()
}

/// One service instance: its own layer and its own connection to the shared Redis.
fn instance(keys: &ApiKeys, url: String, clock: &ManualClock) -> ApiKeyLayer {
    ApiKeyLayer::builder(keys.clone())
        .store(store(url))
        .clock(clock.clone())
        .client_binding(ClientBinding::WhenTokenPresent)
        .build()
        .unwrap()
}

async fn send(layer: &ApiKeyLayer) -> Response<String> {
    let request =
        Request::post("/orders").header("x-api-key", KEY_VALUE).body(String::new()).unwrap();
    let service = layer.layer(service_fn(|_: Request<String>| async {
        Ok::<_, Infallible>(Response::new("created".to_owned()))
    }));
    service.oneshot(request).await.unwrap()
}

fn retry_after(response: &Response<String>) -> &str {
    response.headers()[RETRY_AFTER].to_str().unwrap()
}

fn kind(response: &Response<String>) -> Option<ApiKeyErrorKind> {
    response.extensions().get::<ApiKeyError>().map(ApiKeyError::kind)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_one_quota_exactly() {
    let redis = RedisServer::start();
    let plan = UsagePlan::builder("daily").quota(Quota::per_day(40)).build().unwrap();
    let keys = keys(plan);
    let clock = ManualClock::at_unix(SATURDAY + 86_400 - 60); // 23:59:00
    let a = instance(&keys, redis.url(), &clock);
    let b = instance(&keys, redis.url(), &clock);

    // 100 concurrent requests, half through each instance: exactly the quota gets through.
    let calls = (0..100).map(|n| {
        let layer = if n % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { send(&layer).await })
    });
    let mut allowed = 0;
    for call in calls {
        let response = call.await.unwrap();
        match response.status() {
            StatusCode::OK => allowed += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(kind(&response), Some(ApiKeyErrorKind::QuotaExceeded));
                assert_eq!(retry_after(&response), "60");
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(allowed, 40);

    // The count lives in Redis under the window's key, until a minute after midnight.
    let mut redis_conn =
        redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let count_key = format!("b2b-auth:usage:{{car-orders-2026}}:quota:day:{SATURDAY}");
    let count: u64 = redis_conn.get(&count_key).await.unwrap();
    assert_eq!(count, 40, "refused requests are not counted");
    let expire_at: i64 =
        redis::cmd("PEXPIRETIME").arg(&count_key).query_async(&mut redis_conn).await.unwrap();
    assert_eq!(expire_at, i64::try_from((SATURDAY + 86_400 + 60) * 1_000).unwrap());

    // Midnight UTC: a new window for both instances.
    clock.advance(Duration::from_secs(60));
    assert_eq!(send(&b).await.status(), StatusCode::OK);
    assert_eq!(send(&a).await.status(), StatusCode::OK);
    let count: u64 = redis_conn
        .get(format!("b2b-auth:usage:{{car-orders-2026}}:quota:day:{}", SATURDAY + 86_400))
        .await
        .unwrap();
    assert_eq!(count, 2);
}

#[tokio::test]
async fn two_instances_share_one_throttle_bucket() {
    let redis = RedisServer::start();
    // One request every 30 s, bursts of two.
    let plan = UsagePlan::builder("slow").throttle(Throttle::per_minute(2)).build().unwrap();
    let keys = keys(plan);
    let clock = ManualClock::at_unix(SATURDAY);
    let a = instance(&keys, redis.url(), &clock);
    let b = instance(&keys, redis.url(), &clock);

    assert_eq!(send(&a).await.status(), StatusCode::OK);
    assert_eq!(send(&b).await.status(), StatusCode::OK);
    let throttled = send(&a).await;
    assert_eq!(kind(&throttled), Some(ApiKeyErrorKind::Throttled));
    assert_eq!(retry_after(&throttled), "30");
    clock.advance(Duration::from_millis(10_500));
    assert_eq!(retry_after(&send(&b).await), "20", "19.5 s, rounded up");
    clock.advance(Duration::from_millis(19_500));
    assert_eq!(send(&b).await.status(), StatusCode::OK, "one token refilled, for the fleet");
    assert_eq!(retry_after(&send(&a).await), "30");

    // A clock stepping back an hour waits for one token, not for the hour.
    clock.set(UNIX_EPOCH + Duration::from_secs(SATURDAY - 3_600));
    assert_eq!(retry_after(&send(&a).await), "30");
}

#[tokio::test]
async fn throttled_requests_are_not_counted_and_refusals_over_quota_take_no_token() {
    let redis = RedisServer::start();
    let store = store(redis.url());
    let plan = UsagePlan::builder("both")
        .throttle(Throttle::per_second(1))
        .quota(Quota::per_day(2))
        .build()
        .unwrap();
    let at =
        |millis: u64| UsageRequest::new("k", &plan, UNIX_EPOCH + Duration::from_millis(millis));
    let midnight = (SATURDAY + 86_400) * 1_000;
    let acquire = |millis| store.acquire(at(millis));

    assert_eq!(acquire(midnight - 10_000).await.unwrap(), Usage::Allowed);
    assert_eq!(
        acquire(midnight - 10_000).await.unwrap(),
        Usage::Throttled { retry_after: Duration::from_secs(1) }
    );
    assert_eq!(
        acquire(midnight - 9_000).await.unwrap(),
        Usage::Allowed,
        "the throttled one was not counted"
    );
    assert_eq!(
        acquire(midnight - 500).await.unwrap(),
        Usage::QuotaExceeded { retry_after: Duration::from_millis(500) }
    );
    assert_eq!(
        acquire(midnight).await.unwrap(),
        Usage::Allowed,
        "the refusal 0.5 s earlier took no token"
    );
    assert_eq!(
        acquire(midnight + 250).await.unwrap(),
        Usage::Throttled { retry_after: Duration::from_millis(750) }
    );
}

#[tokio::test]
async fn while_redis_is_unreachable_the_layer_enforces_locally_or_refuses() {
    let down = format!("redis://127.0.0.1:{}/", free_port());
    let plan = UsagePlan::builder("slow").throttle(Throttle::per_minute(1)).build().unwrap();
    let keys = keys(plan);
    let clock = ManualClock::at_unix(SATURDAY);

    let local = instance(&keys, down.clone(), &clock);
    assert_eq!(send(&local).await.status(), StatusCode::OK);
    let throttled = send(&local).await;
    assert_eq!(
        (kind(&throttled), retry_after(&throttled)),
        (Some(ApiKeyErrorKind::Throttled), "60")
    );

    let closed = ApiKeyLayer::builder(keys)
        .store(store(down))
        .clock(clock.clone())
        .client_binding(ClientBinding::WhenTokenPresent)
        .on_store_error(OnStoreError::Refuse)
        .build()
        .unwrap();
    let refused = send(&closed).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&refused), "1");
    let source =
        std::error::Error::source(refused.extensions().get::<ApiKeyError>().unwrap()).unwrap();
    let cause = std::error::Error::source(source).unwrap().to_string();
    assert_eq!(cause, "redis EVALSHA failed");
}

#[tokio::test]
async fn debug_never_shows_the_password_and_bad_settings_are_errors() {
    let store = RedisUsageStore::builder("redis://:hunter2-secret@127.0.0.1:1/")
        .prefix("svc")
        .build()
        .unwrap();
    let shown = format!("{store:?} {:?}", RedisUsageStore::builder("redis://:hunter2-secret@h/"));
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(shown.contains("prefix: \"svc\""), "{shown}");
    assert_eq!(store.throttle_key("k1"), "svc:{k1}:throttle");
    assert!(matches!(
        RedisUsageStore::builder("redis://h/").prefix("").build(),
        Err(ConfigError::EmptyKey)
    ));
    assert!(matches!(RedisUsageStore::builder("not a url").build(), Err(ConfigError::InvalidUrl)));
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    assert!(matches!(RedisUsageStore::builder("redis://h/").build(), Err(ConfigError::NoRuntime)));
}
