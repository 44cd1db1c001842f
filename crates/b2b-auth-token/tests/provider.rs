//! `TokenProvider` against our issuer over real HTTP: single flight under contention, serving
//! the old token through IdP failures, invalidation, background refresh, the shared store.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use b2b_auth_issuer::{Endpoint, Fault, Issuer};
use b2b_auth_testkit::{
    MockFault, OAuth2MockServer, SHORT_LIVED_SECRET, sample_secret, start_sample_issuer,
    start_short_lived_issuer,
};
use b2b_auth_token::{
    ClientCredentials, MemoryStore, RefreshPolicy, TokenErrorKind, TokenProvider,
    TokenProviderBuilder, TokenStatus, TokenStore,
};
use http::StatusCode;

const SECRET: &str = SHORT_LIVED_SECRET;

fn source(issuer: &Issuer, secret: &str) -> ClientCredentials {
    ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("car-orders")
        .client_secret(secret)
        .scope("tires/orders.write")
        .timeout(Duration::from_millis(500))
        .allow_http_loopback(true)
        .build()
        .unwrap()
}

fn provider(issuer: &Issuer) -> TokenProviderBuilder {
    TokenProvider::builder(source(issuer, SECRET))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_callers_at_expiry_cause_one_request() {
    let lifetime = Duration::from_secs(3);
    let server = start_short_lived_issuer(lifetime).await;
    let issuer = server.issuer();
    // No background refresh and no refresh zone: the token expires under the callers' feet,
    // and nothing but expiry makes a caller refresh, however long a thousand callers take on a
    // loaded machine.
    let at_expiry_only = RefreshPolicy::default()
        .fraction(1.0)
        .lead(Duration::ZERO)
        .jitter(0.0)
        .margin(Duration::ZERO);
    let provider =
        provider(issuer).background_refresh(false).refresh_policy(at_expiry_only).build().unwrap();

    let callers = |provider: TokenProvider| async move {
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let provider = provider.clone();
                tokio::spawn(async move { provider.token().await.unwrap().generation() })
            })
            .collect();
        let mut generations = HashSet::new();
        for task in tasks {
            generations.insert(task.await.unwrap());
        }
        generations
    };

    assert_eq!(callers(provider.clone()).await.len(), 1, "everyone got the same token");
    assert_eq!(issuer.stats().token_requests, 1);

    tokio::time::sleep(lifetime + Duration::from_millis(100)).await; // expired now
    assert_eq!(provider.health().status, TokenStatus::Stale);
    assert_eq!(callers(provider.clone()).await.len(), 1);
    assert_eq!(issuer.stats().token_requests, 2, "exactly one more request at expiry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_with_the_same_key_share_one_request() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let build = || {
        let source = ClientCredentials::builder()
            .token_url(issuer.token_endpoint())
            .client_id("car-orders")
            .client_secret(sample_secret("car-orders"))
            .scopes(["tires/orders.read", "tires/orders.write"])
            .allow_http_loopback(true)
            .build()
            .unwrap();
        TokenProvider::builder(source).build().unwrap()
    };
    let providers: Vec<TokenProvider> = (0..10).map(|_| build()).collect();
    // The first request stays in flight while every caller arrives.
    issuer.inject_fault(Endpoint::Token, Fault::delay(Duration::from_millis(300)).times(1));
    let start = Arc::new(tokio::sync::Barrier::new(200));
    let tasks: Vec<_> = providers
        .iter()
        .flat_map(|p| (0..20).map(move |_| p.clone()))
        .map(|p| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                p.token().await.unwrap().generation()
            })
        })
        .collect();
    let mut generations = HashSet::new();
    for task in tasks {
        generations.insert(task.await.unwrap());
    }
    assert_eq!(generations.len(), 1);
    assert_eq!(issuer.stats().token_requests, 1, "ten providers, one request");
}

#[tokio::test]
async fn the_old_token_is_served_while_the_idp_fails_until_it_recovers() {
    let server = start_short_lived_issuer(Duration::from_secs(6)).await;
    let issuer = server.issuer();
    // Refresh from 1.5 s on; stale only after ~5.4 s.
    let policy = RefreshPolicy::default().fraction(0.25).jitter(0.0);
    let provider = provider(issuer).refresh_policy(policy).build().unwrap();
    let first = provider.token().await.unwrap();

    issuer.inject_fault(Endpoint::Token, Fault::status(StatusCode::BAD_GATEWAY).times(2));
    issuer.inject_fault(
        Endpoint::Token,
        Fault::status(StatusCode::TOO_MANY_REQUESTS).retry_after(Duration::from_secs(1)).times(1),
    );
    issuer.inject_fault(Endpoint::Token, Fault::delay(Duration::from_secs(2)).times(1)); // client times out at 500 ms
    issuer.inject_fault(Endpoint::Token, Fault::drop_connection().times(1));

    let started = tokio::time::Instant::now();
    let mut served_old = 0;
    let renewed = loop {
        let token = provider.token().await.expect("a still-valid token is always served");
        if token.generation() != first.generation() {
            break token;
        }
        served_old += 1;
        assert!(started.elapsed() < Duration::from_secs(5), "never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(served_old > 50, "the old token kept being served ({served_old} times)");
    let health = provider.health();
    assert_eq!(health.status, TokenStatus::Fresh);
    assert_eq!(health.consecutive_failures, 0);
    let (_, last_error) = health.last_error.expect("the failures are remembered");
    assert!(last_error.is_transient());
    // 1 first token + 5 faulted attempts + 1 success, each attempt after its back-off.
    assert_eq!(issuer.stats().token_requests, 7);
    assert_ne!(renewed.expose_secret(), first.expose_secret());
}

#[tokio::test]
async fn permanent_errors_surface_at_once_without_a_herd() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let provider = TokenProvider::builder(source(issuer, "wrong-secret"))
        .backoff(Duration::from_secs(30), Duration::from_secs(60))
        .build()
        .unwrap();
    let error = provider.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::InvalidClient);
    for _ in 0..20 {
        let again = provider.token().await.unwrap_err();
        assert_eq!(again.kind(), TokenErrorKind::InvalidClient, "the same error, at once");
    }
    assert_eq!(issuer.stats().token_requests, 1, "no request during the back-off");
    let health = provider.health();
    assert_eq!((health.status, health.consecutive_failures), (TokenStatus::Missing, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_invalidations_of_one_token_cause_one_refresh() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let provider = TokenProvider::builder(source_for_sample(issuer)).build().unwrap();
    let rejected = provider.token().await.unwrap();

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let (provider, rejected) = (provider.clone(), rejected.clone());
            tokio::spawn(async move {
                provider.invalidate(&rejected);
                provider.token().await.unwrap()
            })
        })
        .collect();
    let mut generations = HashSet::new();
    for task in tasks {
        let token = task.await.unwrap();
        assert_ne!(
            token.generation(),
            rejected.generation(),
            "the refused token is never handed out again"
        );
        generations.insert(token.generation());
    }
    assert_eq!(generations.len(), 1);
    assert_eq!(issuer.stats().token_requests, 2, "one refresh for a hundred 401s");

    // Invalidating the old token again, after its replacement arrived, does nothing.
    provider.invalidate(&rejected);
    provider.token().await.unwrap();
    assert_eq!(issuer.stats().token_requests, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_of_fresh_tokens_refresh_at_most_once_per_cooldown() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let cooldown = Duration::from_millis(500);
    let provider = TokenProvider::builder(source_for_sample(issuer))
        .refusal_cooldown(cooldown)
        .build()
        .unwrap();
    let first = provider.token().await.unwrap();
    provider.invalidate(&first);
    let second = provider.token().await.unwrap();
    assert_ne!(second.generation(), first.generation(), "the first refusal refreshes");

    // A resource server refusing every token (keys not learnt, wrong audience): no new token
    // per refusal, the one in hand is kept.
    provider.invalidate(&second);
    assert_eq!(provider.token().await.unwrap().generation(), second.generation());
    assert_eq!(issuer.stats().token_requests, 2);

    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    provider.invalidate(&second);
    assert_ne!(provider.token().await.unwrap().generation(), second.generation());
    assert_eq!(issuer.stats().token_requests, 3, "one refresh per cool-down");
}

fn source_for_sample(issuer: &Issuer) -> ClientCredentials {
    ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("tire-orders")
        .client_secret(sample_secret("tire-orders"))
        .allow_http_loopback(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_background_driver_refreshes_without_callers() {
    let server = start_short_lived_issuer(Duration::from_secs(2)).await;
    let issuer = server.issuer();
    let provider = provider(issuer).eager(true).build().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(issuer.stats().token_requests, 1, "eager: fetched before anyone asked");
    assert_eq!(provider.health().status, TokenStatus::Fresh);
    tokio::time::sleep(Duration::from_millis(1800)).await; // past the refresh point (< 1.6 s)
    assert!(issuer.stats().token_requests >= 2, "refreshed in the background");
    assert_eq!(provider.health().status, TokenStatus::Fresh);

    // The driver ends with the provider.
    drop(provider);
    let requests = issuer.stats().token_requests;
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(issuer.stats().token_requests, requests);
}

#[tokio::test]
async fn an_eager_provider_survives_an_idp_that_is_down_at_start() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    issuer.inject_fault(Endpoint::Token, Fault::status(StatusCode::SERVICE_UNAVAILABLE).times(2));
    let provider = TokenProvider::builder(source_for_sample(issuer))
        .backoff(Duration::from_millis(50), Duration::from_millis(100))
        .eager(true)
        .build()
        .expect("start-up does not fail");
    let token = provider.token().await;
    let token = match token {
        Ok(token) => token,
        Err(_) => {
            tokio::time::sleep(Duration::from_millis(400)).await;
            provider.token().await.unwrap()
        }
    };
    assert_eq!(token.scope(), Some("cars/orders.complete"));
}

#[tokio::test]
async fn providers_share_the_token_through_a_store() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let store = MemoryStore::new();
    let first = TokenProvider::builder(source_for_sample(issuer))
        .store(store.clone())
        .writer_id("pod-a")
        .build()
        .unwrap();
    let token = first.token().await.unwrap();
    let envelope = store.load().await.unwrap().expect("the fetched token was stored");
    assert_eq!((envelope.writer(), envelope.generation()), ("pod-a", 1));

    // Another instance adopts the stored token instead of fetching its own. (Built after the
    // first fetch completed, so it cannot have joined that request in flight.)
    let second =
        TokenProvider::builder(source_for_sample(issuer)).store(store.clone()).build().unwrap();
    assert_eq!(second.token().await.unwrap().expose_secret(), token.expose_secret());
    assert_eq!(issuer.stats().token_requests, 1);

    // A provider for other scopes never adopts it.
    let other_scopes = ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("car-orders")
        .client_secret(sample_secret("car-orders"))
        .scope("tires/orders.read")
        .allow_http_loopback(true)
        .build()
        .unwrap();
    let third = TokenProvider::builder(other_scopes).store(store.clone()).build().unwrap();
    assert_eq!(third.token().await.unwrap().scope(), Some("tires/orders.read"));
    assert_eq!(issuer.stats().token_requests, 2);
    assert_eq!(store.load().await.unwrap().unwrap().generation(), 2, "generations grow");
}

#[tokio::test]
async fn secrets_and_tokens_never_appear_in_debug_output() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let secret = sample_secret("car-orders");
    let builder = ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("car-orders")
        .client_secret(secret.clone())
        .allow_http_loopback(true);
    let builder_debug = format!("{builder:?}");
    let source = builder.build().unwrap();
    let store = MemoryStore::new();
    let provider_builder = TokenProvider::builder(source.clone()).store(store.clone());
    let provider_builder_debug = format!("{provider_builder:?}");
    let provider = provider_builder.build().unwrap();
    let token = provider.token().await.unwrap();
    let error = TokenProvider::builder(source_with_secret(issuer, "wrong-secret-value"))
        .build()
        .unwrap()
        .token()
        .await
        .unwrap_err();
    let outputs = [
        builder_debug,
        provider_builder_debug,
        format!("{source:?}"),
        format!("{provider:?}"),
        format!("{token:?}"),
        format!("{:?}", provider.health()),
        format!("{:?}", store.load().await.unwrap()),
        format!("{error:?} {error}"),
    ];
    for output in outputs {
        assert!(!output.contains(&secret), "secret in {output}");
        assert!(!output.contains("wrong-secret-value"), "secret in {output}");
        assert!(!output.contains(token.expose_secret()), "token in {output}");
        assert!(!output.contains(&token.expose_secret()[..20]), "token prefix in {output}");
    }
}

fn source_with_secret(issuer: &Issuer, secret: &str) -> ClientCredentials {
    ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("car-orders")
        .client_secret(secret)
        .allow_http_loopback(true)
        .build()
        .unwrap()
}

#[tokio::test]
async fn try_token_never_waits() {
    let server = start_sample_issuer().await;
    let provider = TokenProvider::builder(source_for_sample(server.issuer())).build().unwrap();
    assert!(provider.try_token().is_none());
    assert_eq!(provider.health().status, TokenStatus::Missing);
    let token = provider.token().await.unwrap();
    assert_eq!(provider.try_token().unwrap().generation(), token.generation());
    let shared = Arc::new(provider);
    assert!(shared.health().valid_until.is_some());
}

#[tokio::test]
async fn a_third_party_server_failing_is_ridden_out_too() {
    let mock = OAuth2MockServer::start();
    mock.set_token_lifetime(4);
    let source = ClientCredentials::builder()
        .token_url(mock.token_endpoint())
        .client_id("car-orders")
        .client_secret("any")
        .allow_http_loopback(true)
        .build()
        .unwrap();
    let provider = TokenProvider::builder(source)
        .refresh_policy(RefreshPolicy::default().fraction(0.25).jitter(0.0))
        .backoff(Duration::from_millis(50), Duration::from_millis(200))
        .build()
        .unwrap();
    let first = provider.token().await.unwrap();
    mock.inject_fault("/token", MockFault::status(503).times(2));
    mock.inject_fault("/token", MockFault::status(429).retry_after(1).times(1));
    mock.inject_fault("/token", MockFault::drop_connection().times(1));
    let started = tokio::time::Instant::now();
    loop {
        let token = provider.token().await.expect("the still-valid token is served");
        if token.generation() != first.generation() {
            break;
        }
        assert!(started.elapsed() < Duration::from_millis(3500), "never recovered");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mock.requests("/token"), 6, "1 + 4 faulted + 1");
}
