//! `RedisStore` against a real `redis-server`, and fleets of providers sharing one token
//! through it, fetched from our issuer over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use b2b_auth_issuer::{Endpoint, Fault, Issuer};
use b2b_auth_redis::{ConfigError, RedisStore};
use b2b_auth_testkit::{RedisServer, SHORT_LIVED_SECRET, jwt_parts, start_short_lived_issuer};
use b2b_auth_token::{
    AccessToken, ClientCredentials, Refresher, SourceKey, StoreLock, StoreRole, TokenEnvelope,
    TokenProvider, TokenProviderBuilder, TokenStore,
};

const SECRET: &str = SHORT_LIVED_SECRET;
const KEY: &str = "car-orders:tires-token";

fn store(redis: &RedisServer) -> RedisStore {
    RedisStore::builder(redis.url(), KEY)
        .connect_timeout(Duration::from_millis(300))
        .response_timeout(Duration::from_millis(300))
        .build()
        .unwrap()
}

fn source(issuer: &Issuer) -> ClientCredentials {
    ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("car-orders")
        .client_secret(SECRET)
        .scope("tires/orders.write")
        .allow_http_loopback(true)
        .build()
        .unwrap()
}

fn provider(issuer: &Issuer, redis: &RedisServer) -> TokenProviderBuilder {
    TokenProvider::builder(source(issuer))
        .store(store(redis))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .lock_ttl(Duration::from_secs(1))
        .store_poll_interval(Duration::from_millis(100))
}

fn envelope(generation: u64, lifetime: Duration) -> TokenEnvelope {
    let now = SystemTime::now();
    let token = AccessToken::new(format!("token-{generation}"), None, now + lifetime).unwrap();
    let key = SourceKey::new("https://idp/t", "car-orders", [], None, []);
    TokenEnvelope::new(&token, now, &key, generation, "test")
}

async fn raw(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap()
}

#[tokio::test]
async fn envelopes_live_as_long_as_their_token_and_never_go_backwards() {
    let redis = RedisServer::start();
    let store = store(&redis);
    assert!(store.load().await.unwrap().is_none());

    store.save(&envelope(2, Duration::from_secs(60))).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap().generation(), 2);
    let ttl: i64 = redis::cmd("PTTL").arg(KEY).query_async(&mut raw(&redis).await).await.unwrap();
    assert!((55_000..=60_000).contains(&ttl), "the key expires with the token: {ttl} ms");

    store.save(&envelope(1, Duration::from_secs(600))).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap().generation(), 2, "an older write is dropped");
    store.save(&envelope(3, Duration::from_secs(60))).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap().generation(), 3);

    // Envelope times are whole seconds: a 2 s token is gone within 3 s.
    store.save(&envelope(4, Duration::from_secs(2))).await.unwrap();
    assert_eq!(store.load().await.unwrap().unwrap().generation(), 4);
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert!(store.load().await.unwrap().is_none(), "gone when the token expired");

    let _: () = redis::cmd("SET")
        .arg(KEY)
        .arg("{not json")
        .query_async(&mut raw(&redis).await)
        .await
        .unwrap();
    assert!(store.load().await.is_err(), "a malformed envelope is an error, not a token");
}

#[tokio::test]
async fn the_lock_excludes_others_and_only_its_holder_releases_it() {
    let redis = RedisServer::start();
    let store = store(&redis);
    let ttl = Duration::from_millis(400);
    let held = store.try_lock(ttl).await.unwrap().expect("free");
    assert!(store.try_lock(ttl).await.unwrap().is_none());
    store.unlock(&StoreLock::new()).await.unwrap();
    assert!(store.try_lock(ttl).await.unwrap().is_none(), "a stranger cannot release it");
    store.unlock(&held).await.unwrap();
    let again = store.try_lock(ttl).await.unwrap().expect("released");
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    let taken_over = store.try_lock(ttl).await.unwrap().expect("expired");
    store.unlock(&again).await.unwrap();
    assert!(
        store.try_lock(ttl).await.unwrap().is_none(),
        "the late holder did not release the new lock"
    );
    store.unlock(&taken_over).await.unwrap();
    assert!(store.supports_locking());
}

/// The tokens callers saw, by the `iat` the issuer gave them.
fn issue_times(tokens: &[String]) -> BTreeMap<u64, String> {
    tokens.iter().map(|t| (jwt_parts(t).1["iat"].as_u64().unwrap(), t.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fleet_of_providers_fetches_once_per_refresh_window() {
    let redis = RedisServer::start();
    let server = start_short_lived_issuer(Duration::from_secs(6)).await; // refreshed after ~3 s (half the lifetime, less up to 10 % jitter)
    let issuer = server.issuer();
    let providers: Vec<TokenProvider> =
        (0..4).map(|_| provider(issuer, &redis).build().unwrap()).collect();
    let until = tokio::time::Instant::now() + Duration::from_secs(13);
    let tasks: Vec<_> = providers
        .iter()
        .flat_map(|p| (0..5).map(move |_| p.clone()))
        .map(|provider| {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                while tokio::time::Instant::now() < until {
                    let token = provider.token().await.expect("the fleet always has a token");
                    if seen.last() != Some(&token.expose_secret().to_owned()) {
                        seen.push(token.expose_secret().to_owned());
                    }
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                seen
            })
        })
        .collect();
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    all.dedup();
    let requests = issuer.stats().token_requests;
    assert_eq!(requests as usize, all.len(), "every fetched token was shared, none wasted");
    assert!(
        (4..=6).contains(&requests),
        "one request per ~3 s window over 13 s, not per provider: {requests}"
    );
    let times: Vec<u64> = issue_times(&all).keys().copied().collect();
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= 2, "two fetches in one refresh window: {times:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_lock_holder_is_replaced_after_the_lock_ttl() {
    let redis = RedisServer::start();
    let server = start_short_lived_issuer(Duration::from_secs(60)).await;
    let issuer = server.issuer().clone();
    // The first token request hangs: its sender will be killed while holding the lock.
    issuer.inject_fault(Endpoint::Token, Fault::delay(Duration::from_secs(30)).times(1));

    let (doomed_issuer, doomed_redis_url) = (issuer.clone(), redis.url());
    let holder = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = RedisStore::builder(doomed_redis_url, KEY).build().unwrap();
            let provider = TokenProvider::builder(source(&doomed_issuer))
                .store(store)
                .lock_ttl(Duration::from_secs(2))
                .build()
                .unwrap();
            let _ = tokio::time::timeout(Duration::from_millis(800), provider.token()).await;
        });
        // Kill: every task of this runtime stops where it is, the lock unreleased.
        runtime.shutdown_background();
    });
    holder.join().unwrap();
    let locked: Option<String> = redis::cmd("GET")
        .arg(format!("{KEY}:lock"))
        .query_async(&mut raw(&redis).await)
        .await
        .unwrap();
    assert!(locked.is_some(), "the killed instance still holds the lock");

    let started = tokio::time::Instant::now();
    let survivor = provider(&issuer, &redis).lock_ttl(Duration::from_secs(2)).build().unwrap();
    let token = survivor.token().await.expect("the survivor takes over");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "it waited for the lock to expire ({waited:?})");
    assert!(waited < Duration::from_secs(4), "and not much longer ({waited:?})");
    assert_eq!(issuer.stats().tokens_issued, 1, "only the survivor's request completed");
    assert_eq!(
        store(&redis).load().await.unwrap().unwrap().token().unwrap().expose_secret(),
        token.expose_secret()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_refresher_dead_readers_fall_back_without_a_herd() {
    let redis = RedisServer::start();
    let server = start_short_lived_issuer(Duration::from_secs(3)).await;
    let issuer = server.issuer();
    // The scheduled refresher runs once, then dies.
    let refresher = Refresher::builder(source(issuer), store(&redis)).build().unwrap();
    refresher.refresh_if_needed().await.unwrap();
    assert_eq!(issuer.stats().token_requests, 1);

    let readers: Vec<TokenProvider> = (0..4)
        .map(|_| {
            provider(issuer, &redis)
                .store_role(StoreRole::Reader)
                .fallback_interval(Duration::from_secs(2))
                .fallback_jitter(Duration::from_millis(500))
                .build()
                .unwrap()
        })
        .collect();
    let until = tokio::time::Instant::now() + Duration::from_secs(12);
    let mut errors = 0;
    let mut calls = 0;
    while tokio::time::Instant::now() < until {
        for reader in &readers {
            calls += 1;
            if reader.token().await.is_err() {
                errors += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let requests = issuer.stats().token_requests;
    // A 3 s token is stale after 2.7 s: about 5 windows in 12 s. Four readers fetching for
    // themselves would make ~20 requests; sharing their fallback tokens keeps it near one per
    // window.
    assert!(requests <= 10, "the dead refresher caused a herd: {requests} requests");
    assert!(errors * 20 < calls, "readers kept working: {errors} errors in {calls} calls");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_providers_keep_working_in_process() {
    let redis = RedisServer::start();
    let server = start_short_lived_issuer(Duration::from_secs(2)).await;
    let issuer = server.issuer();
    let providers: Vec<TokenProvider> =
        (0..2).map(|_| provider(issuer, &redis).build().unwrap()).collect();
    for provider in &providers {
        provider.token().await.unwrap();
    }
    drop(redis); // the store is gone
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < until {
        for provider in &providers {
            let token = provider.token().await.expect("in-process refresh when the store is down");
            assert!(token.expires_at() > SystemTime::now());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(issuer.stats().token_requests >= 4, "tokens kept being refreshed without the store");
}

#[tokio::test]
async fn passwords_never_show() {
    let store = RedisStore::builder("redis://:hunter2-pw@127.0.0.1:6390/", KEY).build().unwrap();
    let debug = format!("{store:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("127.0.0.1"), "{debug}");
    let error = RedisStore::builder("nonsense://:hunter2-pw@host/", KEY).build().unwrap_err();
    assert!(matches!(error, ConfigError::InvalidUrl));
    assert!(!format!("{error:?} {error}").contains("hunter2"));
    assert!(matches!(
        RedisStore::builder("redis://127.0.0.1/", "").build().unwrap_err(),
        ConfigError::EmptyKey
    ));
}

#[test]
fn building_outside_a_runtime_is_an_error_not_a_panic() {
    let error = RedisStore::builder("redis://127.0.0.1/", KEY).build().unwrap_err();
    assert!(matches!(error, ConfigError::NoRuntime));
}
