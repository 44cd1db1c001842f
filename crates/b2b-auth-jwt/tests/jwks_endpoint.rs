//! The JWKS client against endpoints that misbehave (the test kit's `JwksServer`) and under
//! contention: fetch hygiene, stale-if-error, backoff, single flight, unknown-kid floods.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::sync::Arc;
use std::time::Duration;

use b2b_auth_jwt::{Jwks, JwksBuilder, JwksErrorKind, TrustedIssuer, Verifier, VerifyErrorKind};
use b2b_auth_testkit::{Canned, JwksServer, TestKey, jwks};
use serde_json::json;

const ISSUER: &str = "https://issuer.example";

fn claims() -> serde_json::Value {
    let now = b2b_auth_core::unix_secs(std::time::SystemTime::now());
    json!({ "iss": ISSUER, "client_id": "car-orders", "exp": now + 600, "iat": now, "scope": "a" })
}

fn verifier(jwks: Jwks) -> Verifier {
    let issuer =
        TrustedIssuer::builder(ISSUER).jwks(jwks).client_ids(["car-orders"]).build().unwrap();
    Verifier::builder().issuer(issuer).build().unwrap()
}

async fn server_with(answer: Canned) -> JwksServer {
    let server = JwksServer::start().await;
    server.set("/jwks", answer);
    server
}

fn from(server: &JwksServer) -> JwksBuilder {
    Jwks::builder().uri(server.url("/jwks"))
}

#[tokio::test]
async fn bad_endpoints_fail_the_fetch_with_their_reason() {
    let good = || Canned::json(&jwks(&[TestKey::RSA]));
    let cases = [
        (
            Canned::body(200, "text/html", jwks(&[TestKey::RSA]).to_string()),
            JwksErrorKind::ContentType,
        ),
        (Canned::body(500, "application/json", "{}"), JwksErrorKind::Status),
        (Canned::body(404, "application/json", "{}"), JwksErrorKind::Status),
        (Canned::redirect("http://127.0.0.1:9/jwks"), JwksErrorKind::Redirect),
        (Canned::json(&json!({"keys": "nope"})), JwksErrorKind::Malformed),
        (Canned::body(200, "application/json", "{\"keys\":[{"), JwksErrorKind::Malformed),
        (
            Canned::json(&json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]})),
            JwksErrorKind::Malformed,
        ),
        (
            Canned::json(&json!({"keys": vec![TestKey::P256.public_jwk_json(); 65]})),
            JwksErrorKind::TooManyKeys,
        ),
        (good().padded_to(200 * 1024), JwksErrorKind::TooLarge),
        (good().padded_to(200 * 1024).streamed(), JwksErrorKind::TooLarge),
        (good().delay(Duration::from_secs(5)), JwksErrorKind::Timeout),
    ];
    for (answer, expected) in cases {
        let server = server_with(answer).await;
        let jwks = from(&server).timeout(Duration::from_millis(300)).build().unwrap();
        let error = jwks.hydrate().await.unwrap_err();
        assert_eq!(error.kind(), expected, "{error}");
        assert!(jwks.keys().is_none());
        // The verifier answers 503 with Retry-After: the caller is not at fault.
        let token = TestKey::RSA.sign(&claims());
        let refused = verifier(jwks).verify(&token).await.unwrap_err();
        assert_eq!(refused.kind(), VerifyErrorKind::JwksUnavailable);
        assert_eq!(refused.bearer_error().status(), 503);
        assert!(refused.retry_after().unwrap() >= Duration::from_secs(1));
    }
    // The same document, well served, with parameters in the content type, streamed.
    let server = server_with(
        good()
            .header("content-type", "application/jwk-set+json; charset=utf-8")
            .padded_to(100 * 1024)
            .streamed(),
    )
    .await;
    let jwks = from(&server).build().unwrap();
    jwks.hydrate().await.unwrap();
    assert_eq!(jwks.keys().unwrap().kids().collect::<Vec<_>>(), [Some(TestKey::RSA.kid())]);
}

#[tokio::test]
async fn a_dropped_connection_is_a_network_failure() {
    let issuer = b2b_auth_testkit::start_sample_issuer().await;
    issuer.issuer().inject_fault(
        b2b_auth_issuer::Endpoint::Jwks,
        b2b_auth_issuer::Fault::drop_connection().times(1),
    );
    let jwks = Jwks::builder().uri(issuer.issuer().jwks_uri()).build().unwrap();
    assert_eq!(jwks.hydrate().await.unwrap_err().kind(), JwksErrorKind::Network);
    jwks.hydrate().await.unwrap();
}

#[tokio::test]
async fn discovery_finds_the_jwks_and_checks_the_issuer() {
    let server = JwksServer::start().await;
    let issuer = server.url("");
    server.set("/keys", Canned::json(&jwks(&[TestKey::ED25519])));
    let discovery =
        |iss: &str, jwks_uri: &str| Canned::json(&json!({ "issuer": iss, "jwks_uri": jwks_uri }));
    server.set("/.well-known/openid-configuration", discovery(&issuer, &server.url("/keys")));
    let jwks = Jwks::builder().discovery(&issuer).build().unwrap();
    jwks.hydrate().await.unwrap();
    assert!(jwks.keys().unwrap().contains_kid(TestKey::ED25519.kid()));

    server.set(
        "/.well-known/openid-configuration",
        discovery("https://other.example", &server.url("/keys")),
    );
    let mismatch = Jwks::builder().discovery(&issuer).build().unwrap();
    assert_eq!(mismatch.hydrate().await.unwrap_err().kind(), JwksErrorKind::Discovery);
    server.set("/.well-known/openid-configuration", discovery(&issuer, "http://evil.example/keys"));
    let insecure = Jwks::builder().discovery(&issuer).build().unwrap();
    assert_eq!(insecure.hydrate().await.unwrap_err().kind(), JwksErrorKind::Discovery);
}

#[tokio::test]
async fn cache_control_max_age_sets_the_ttl_within_bounds() {
    let server = server_with(
        Canned::json(&jwks(&[TestKey::RSA])).header("cache-control", "public, max-age=1"),
    )
    .await;
    let jwks = from(&server)
        .ttl_bounds(Duration::from_millis(400), Duration::from_secs(60))
        .build()
        .unwrap();
    let verifier = verifier(jwks);
    let token = TestKey::RSA.sign(&claims());
    verifier.verify(&token).await.unwrap();
    // 1 s from the header (inside the bounds): no refetch before it, one after.
    tokio::time::sleep(Duration::from_millis(300)).await;
    verifier.verify(&token).await.unwrap();
    assert_eq!(server.requests("/jwks"), 1);
    tokio::time::sleep(Duration::from_millis(900)).await;
    verifier.verify(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(server.requests("/jwks"), 2);
}

#[tokio::test(flavor = "current_thread")]
async fn known_keys_serve_while_the_endpoint_fails_then_fail_closed() {
    let server = server_with(Canned::json(&jwks(&[TestKey::RSA]))).await;
    let jwks = from(&server)
        .ttl(Duration::from_secs(60))
        .stale_if_error(Duration::from_secs(600))
        .max_backoff(Duration::from_secs(30))
        .build()
        .unwrap();
    let verifier = verifier(jwks.clone());
    let token = TestKey::RSA.sign(&claims());
    verifier.verify(&token).await.unwrap();
    server.set("/jwks", Canned::body(503, "application/json", "{}"));
    let uncached = verifier_without_cache(jwks.clone());

    // Past the TTL: the refresh fails, the known keys keep serving.
    skip(Duration::from_secs(61)).await;
    uncached.verify(&token).await.unwrap();
    assert_eq!(server.requests("/jwks"), 2);
    // Backing off: no request before the backoff is over, however many tokens arrive.
    for _ in 0..50 {
        uncached.verify(&token).await.unwrap();
    }
    assert_eq!(server.requests("/jwks"), 2);
    skip(Duration::from_secs(2)).await;
    uncached.verify(&token).await.unwrap();
    tokio::task::yield_now().await;
    settle(&server, 3).await;

    // Past TTL + stale window: fail closed with a Retry-After.
    skip(Duration::from_secs(600)).await;
    let error = uncached.verify(&token).await.unwrap_err();
    assert_eq!(error.kind(), VerifyErrorKind::JwksUnavailable);
    assert!(error.retry_after().is_some());

    // The endpoint recovers: keys come back on the next allowed attempt.
    server.set("/jwks", Canned::json(&jwks_doc()));
    skip(Duration::from_secs(31)).await;
    uncached.verify(&token).await.unwrap();
}

fn jwks_doc() -> serde_json::Value {
    jwks(&[TestKey::RSA])
}

fn verifier_without_cache(jwks: Jwks) -> Verifier {
    let issuer =
        TrustedIssuer::builder(ISSUER).jwks(jwks).client_ids(["car-orders"]).build().unwrap();
    Verifier::builder().issuer(issuer).cache_capacity(0).build().unwrap()
}

/// Moves tokio's clock forward without sleeping, then lets it run again (the HTTP exchanges
/// of the test need a running clock for their timeouts).
async fn skip(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

/// Waits (briefly, in real time) until the server saw `count` requests.
async fn settle(server: &JwksServer, count: u64) {
    for _ in 0..100 {
        if server.requests("/jwks") >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(server.requests("/jwks"), count);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundreds_of_cold_callers_cause_exactly_one_fetch() {
    let server =
        server_with(Canned::json(&jwks(&[TestKey::RSA])).delay(Duration::from_millis(100))).await;
    let verifier = Arc::new(verifier(from(&server).build().unwrap()));
    let token = Arc::new(TestKey::RSA.sign(&claims()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..500 {
        let (verifier, token) = (Arc::clone(&verifier), Arc::clone(&token));
        tasks.spawn(async move { verifier.verify(&token).await.map(|_| ()) });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(server.requests("/jwks"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_random_kids_costs_at_most_one_fetch_per_cooldown() {
    let server = server_with(Canned::json(&jwks(&[TestKey::RSA]))).await;
    let jwks = from(&server).cooldown(Duration::from_secs(30)).build().unwrap();
    let verifier = Arc::new(verifier(jwks.clone()));
    verifier.hydrate().await.unwrap();
    // The first fetch starts no cool-down: the first unknown kid may refresh at once.

    // One signed token, its header swapped: the kid is looked up before any signature check.
    let signed = TestKey::RSA.sign(&claims());
    let (_, rest) = signed.split_once('.').unwrap();
    let with_kid = |kid: &str| {
        let header = json!({ "alg": "RS256", "kid": kid }).to_string();
        format!(
            "{}.{rest}",
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
        )
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..10_000 {
        let token = with_kid(&format!("random-{i}"));
        let verifier = Arc::clone(&verifier);
        tasks.spawn(async move { verifier.verify(&token).await.map(|_| ()) });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap_err().kind(), VerifyErrorKind::UnknownKey);
    }
    assert_eq!(server.requests("/jwks"), 2, "the first unknown kid refreshed; the rest did not");
    assert_eq!(jwks.fetch_count(), 2);
    // The next cool-down allows one more fetch; a kid it confirmed unknown is remembered
    // (bounded), so repeating it later costs no fetch, while a new kid may.
    for (kid, fetches) in [("fresh", 3), ("fresh", 3), ("fresh-2", 4)] {
        skip(Duration::from_secs(31)).await;
        let token = with_kid(kid);
        assert_eq!(verifier.verify(&token).await.unwrap_err().kind(), VerifyErrorKind::UnknownKey);
        assert_eq!(server.requests("/jwks"), fetches, "{kid}");
    }
}

#[tokio::test]
async fn static_keys_are_never_fetched() {
    let keys =
        b2b_auth_jwt::JwkSet::from_json(jwks(&[TestKey::ED25519]).to_string().as_bytes()).unwrap();
    let jwks = Jwks::from_keys(keys);
    jwks.hydrate().await.unwrap();
    let token = TestKey::ED25519.sign(&claims());
    assert!(verifier(jwks.clone()).verify(&token).await.is_ok());
    assert_eq!(jwks.fetch_count(), 0);
}
