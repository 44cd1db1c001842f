#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

//! The reference scenario end to end — the issuer, tire orders and car orders on loopback,
//! as `cargo run -p b2b-demo` runs them — with the demo's story as assertions, and faults:
//! services down and restarted, the issuer failing, a key rotation, a fleet sharing its token
//! through Redis.

use std::future::Future;
use std::time::Duration;

use b2b_auth_issuer::{Endpoint, Fault};
use b2b_auth_testkit::RedisServer;
use b2b_demo::{Options, Scenario, poll_until, story};
use car_orders::config::TokenStoreConfig;
use car_orders::store::CarOrderStatus::{OrderComplete, OrderSubmitted, TiresOrdered};
use http::StatusCode;

/// How long an asynchronous step (a completion, a delivery) may take.
const WITHIN: Duration = Duration::from_secs(30);

/// Polls `check` until it holds, for at most [`WITHIN`].
async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let outcome = poll_until(WITHIN, || {
        let holds = check();
        async move { if holds.await { Ok(()) } else { Err(what.to_owned()) } }
    });
    outcome.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_behaves_step_by_step() {
    let scenario = Scenario::start(Options::default()).await.unwrap();
    let mut out = Vec::new();
    let outcome = story::tell(&scenario, &mut out).await.unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(outcome.all_passed(), "{text}");
    assert_eq!(outcome.passed, 11, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_due_while_car_orders_is_down_is_delivered_once_it_is_back() {
    let mut scenario = Scenario::start(Options::default()).await.unwrap();
    let order = scenario.create_car_order("Roadster").await.unwrap();
    assert_eq!(order.status, TiresOrdered);

    scenario.stop_car_orders().await;
    eventually("a failed delivery attempt, to be retried", || async {
        let deliveries = scenario.deliveries(&order.id).await.unwrap();
        deliveries
            .iter()
            .any(|d| d.status == "pending" && d.attempts >= 1 && d.last_error.is_some())
    })
    .await;
    scenario.restart_car_orders().await.unwrap();
    let done = scenario.wait_for_status(&order.id, OrderComplete, WITHIN).await.unwrap();
    let deliveries = scenario.deliveries(&order.id).await.unwrap();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(deliveries[0].status, "delivered");
    assert!(deliveries[0].attempts >= 2, "retried: {deliveries:?}");

    // Replaying the archive delivers the event again; car orders applies it once.
    assert_eq!(scenario.replay_recent(Duration::from_secs(300)).await.unwrap(), 1);
    scenario.wait_for_replays(&order.id, WITHIN).await.unwrap();
    let again = scenario.car_order(&order.id).await.unwrap();
    assert_eq!((again.status, again.completed_at), (OrderComplete, done.completed_at));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_dead_lettered_while_car_orders_was_down_is_recovered_by_a_replay() {
    let options = Options { max_attempts: 2, ..Options::default() };
    let mut scenario = Scenario::start(options).await.unwrap();
    let order = scenario.create_car_order("Roadster").await.unwrap().id;
    scenario.stop_car_orders().await; // before the tire order completes, 1 s later
    eventually("the delivery dead-lettered after its two attempts", || async {
        let deliveries = scenario.deliveries(&order).await.unwrap();
        deliveries.iter().any(|d| d.status == "dead" && d.attempts == 2 && d.last_error.is_some())
    })
    .await;

    scenario.restart_car_orders().await.unwrap();
    assert_eq!(scenario.replay_recent(Duration::from_secs(300)).await.unwrap(), 1);
    scenario.wait_for_status(&order, OrderComplete, WITHIN).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tire_orders_restarted_catches_up_with_what_fell_due_while_it_was_down() {
    let options = Options { completion_delay: Duration::from_millis(1500), ..Options::default() };
    let mut scenario = Scenario::start(options).await.unwrap();
    let accepted = scenario.create_car_order("Roadster").await.unwrap();
    assert_eq!(accepted.status, TiresOrdered);

    scenario.stop_tire_orders().await;
    let waiting = scenario.create_car_order("Estate").await.unwrap();
    assert_eq!(waiting.status, OrderSubmitted, "the supplier is down");
    assert!(waiting.last_error.is_some());
    tokio::time::sleep(Duration::from_secs(2)).await; // the first tire order falls due
    assert_eq!(scenario.car_order(&accepted.id).await.unwrap().status, TiresOrdered);

    scenario.restart_tire_orders().await.unwrap();
    // The due order completes from tire orders' database; the waiting one is ordered again.
    scenario.wait_for_status(&accepted.id, OrderComplete, WITHIN).await.unwrap();
    let caught_up = scenario.wait_for_status(&waiting.id, OrderComplete, WITHIN).await.unwrap();
    assert!(caught_up.tire_order_id.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_tokens_and_keys_keep_both_services_working_while_the_issuer_is_down() {
    let mut scenario = Scenario::start(Options::default()).await.unwrap();
    let first = scenario.create_car_order("Roadster").await.unwrap();
    scenario.wait_for_status(&first.id, OrderComplete, WITHIN).await.unwrap();

    let before = scenario.issuer().stats();
    for endpoint in [Endpoint::Token, Endpoint::Jwks, Endpoint::Discovery] {
        scenario.issuer().inject_fault(endpoint, Fault::status(StatusCode::SERVICE_UNAVAILABLE));
    }
    let second = scenario.create_car_order("Estate").await.unwrap();
    assert_eq!(second.status, TiresOrdered, "{second:?}");
    scenario.wait_for_status(&second.id, OrderComplete, WITHIN).await.unwrap();
    assert_eq!(scenario.issuer().stats().tokens_issued, before.tokens_issued);

    // A car-orders instance started during the outage has no token yet: its orders wait,
    // and go through once the issuer is back.
    scenario.restart_car_orders().await.unwrap();
    let third = scenario.create_car_order("Coupe").await.unwrap();
    assert_eq!(third.status, OrderSubmitted, "{third:?}");
    assert!(third.last_error.is_some());
    scenario.issuer().clear_faults();
    scenario.wait_for_status(&third.id, OrderComplete, WITHIN).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_rotation_in_the_middle_of_the_flow_goes_unnoticed() {
    let options = Options { completion_delay: Duration::from_millis(1500), ..Options::default() };
    let mut scenario = Scenario::start(options).await.unwrap();
    let first = scenario.create_car_order("Roadster").await.unwrap();
    scenario.wait_for_status(&first.id, OrderComplete, WITHIN).await.unwrap();
    // Both verifiers now hold the first key; car orders' token is signed with it.

    let second = scenario.create_car_order("Estate").await.unwrap();
    let old_kid = scenario.issuer().signing_kid();
    let new_kid = scenario.issuer().rotate_key().unwrap();
    assert_ne!(old_kid, new_kid);
    // A deploy of tire orders: its callback token is now signed with the new key.
    scenario.restart_tire_orders().await.unwrap();
    let before = scenario.issuer().stats();

    // The old-key token still passes (the old key stays published for the grace period) ...
    let third = scenario.create_car_order("Coupe").await.unwrap();
    assert_eq!(third.status, TiresOrdered, "{third:?}");
    // ... and the new-key callbacks pass car orders, which fetches the keys again to learn it.
    scenario.wait_for_status(&second.id, OrderComplete, WITHIN).await.unwrap();
    scenario.wait_for_status(&third.id, OrderComplete, WITHIN).await.unwrap();
    let after = scenario.issuer().stats();
    assert_eq!(after.tokens_issued, before.tokens_issued + 1, "one new callback token");
    assert!(after.jwks_requests > before.jwks_requests, "{before:?} → {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn car_orders_restarted_keeps_its_orders() {
    let mut scenario = Scenario::start(Options::default()).await.unwrap();
    let order = scenario.create_car_order("Roadster").await.unwrap();
    let done = scenario.wait_for_status(&order.id, OrderComplete, WITHIN).await.unwrap();

    scenario.restart_car_orders().await.unwrap();
    let reloaded = scenario.car_order(&order.id).await.unwrap();
    assert_eq!(
        (reloaded.status, reloaded.tire_order_id, reloaded.completed_at),
        (OrderComplete, done.tire_order_id, done.completed_at)
    );
    let next = scenario.create_car_order("Estate").await.unwrap();
    scenario.wait_for_status(&next.id, OrderComplete, WITHIN).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_car_orders_fleet_shares_one_token_through_redis() {
    let redis = RedisServer::start();
    let options = Options {
        // No completions during the test: the issuer counts car orders' tokens only.
        completion_delay: Duration::from_secs(600),
        car_orders_token_store: Some(TokenStoreConfig::Redis {
            url: Some(redis.url().into()),
            url_env: None,
            key: "car-orders:tires-token".into(),
        }),
        ..Options::default()
    };
    let mut scenario = Scenario::start(options).await.unwrap();
    let other_instance = scenario.start_another_car_orders().await.unwrap();

    let first = scenario.create_car_order("Roadster").await.unwrap();
    let second = scenario.create_car_order_on(&other_instance, "Estate").await.unwrap();
    assert_eq!((first.status, second.status), (TiresOrdered, TiresOrdered));
    assert_eq!(scenario.issuer().stats().tokens_issued, 1, "one token for the fleet");
}
