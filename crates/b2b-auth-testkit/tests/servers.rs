//! The test kit's servers start for real, answer, and stop on drop; missing ones fail loudly.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use b2b_auth_testkit::{
    ManualClock, MockFault, MotoServer, OAuth2MockServer, RedisServer, TestKey, jwks, jwt_parts,
    sample_pool, sample_secret, verify_with_jose,
};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};

/// Sends inline RESP commands and returns what Redis answers to all of them.
fn redis_say(port: u16, commands: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    stream.write_all(commands.as_bytes()).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply); // ends by timeout: Redis keeps the connection open
    String::from_utf8(reply).unwrap()
}

#[test]
fn redis_serves_on_loopback_and_stops_on_drop() {
    let redis = RedisServer::start();
    let port = redis.port();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}/"));
    assert_eq!(redis_say(port, "SET k v\r\nGET k\r\n"), "+OK\r\n$1\r\nv\r\n");
    drop(redis);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "redis still listening");
}

#[test]
fn redis_enforces_passwords_and_acl_users() {
    let redis = RedisServer::builder().password("default-pw").user("app", "app-pw").start();
    let port = redis.port();
    assert!(redis_say(port, "PING\r\n").starts_with("-NOAUTH"));
    assert_eq!(redis_say(port, "AUTH default-pw\r\nPING\r\n"), "+OK\r\n+PONG\r\n");
    assert_eq!(redis_say(port, "AUTH app app-pw\r\nPING\r\n"), "+OK\r\n+PONG\r\n");
    assert!(redis_say(port, "AUTH app wrong\r\n").starts_with("-WRONGPASS"));
    assert_eq!(
        redis.url_for_user("app", "p@ss:word"),
        format!("redis://app:p%40ss%3Aword@127.0.0.1:{port}/")
    );
}

#[tokio::test]
async fn moto_answers_and_resets() {
    let moto = MotoServer::start();
    let response = reqwest::get(format!("{}/moto-api/", moto.endpoint_url())).await.unwrap();
    assert_eq!(response.status(), 200);
    moto.reset();
}

#[test]
#[should_panic(expected = "scripts/install-test-deps")]
fn missing_moto_names_the_install_command() {
    let empty = tempfile::tempdir().unwrap();
    MotoServer::start_from(empty.path());
}

#[test]
#[should_panic(expected = "scripts/install-test-deps")]
fn missing_oauth2_mock_server_names_the_install_command() {
    let empty = tempfile::tempdir().unwrap();
    OAuth2MockServer::start_from(empty.path(), &["RS256"]);
}

async fn mock_token(mock: &OAuth2MockServer) -> reqwest::Response {
    reqwest::Client::new()
        .post(mock.token_endpoint())
        .basic_auth("car-orders", Some("any-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", "tires/orders.write")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn oauth2_mock_server_shapes_tokens_on_request() {
    let mock = OAuth2MockServer::start();
    mock.set_claims(json!({ "client_id": "car-orders", "aud": "tires", "nbf": null }));
    mock.set_token_lifetime(120);
    let body: Value = mock_token(&mock).await.json().await.unwrap();
    assert_eq!(body["expires_in"], 120);
    let token = body["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["iss"], mock.issuer_url());
    assert_eq!(claims["client_id"], "car-orders");
    assert_eq!(claims["aud"], "tires");
    assert_eq!(claims["scope"], "tires/orders.write");
    assert!(claims.get("nbf").is_none());
    assert_eq!(claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(), 120);

    // The token verifies against the mock's JWKS with an independent library.
    let verified = verify_with_jose(token, &mock.jwks_uri(), mock.issuer_url()).await.unwrap();
    assert_eq!(verified.payload["client_id"], "car-orders");

    // A kid the JWKS does not have.
    mock.set_header(json!({ "kid": "not-in-the-jwks" }));
    let body: Value = mock_token(&mock).await.json().await.unwrap();
    let error = verify_with_jose(
        body["access_token"].as_str().unwrap(),
        &mock.jwks_uri(),
        mock.issuer_url(),
    )
    .await
    .unwrap_err();
    assert_eq!(error, "ERR_JWKS_NO_MATCHING_KEY");
    assert_eq!(mock.requests("/token"), 2);

    mock.reset();
    assert_eq!(mock.requests("/token"), 0);
    let body: Value = mock_token(&mock).await.json().await.unwrap();
    assert_eq!(body["expires_in"], 3600);
}

#[tokio::test]
async fn oauth2_mock_server_injects_faults_in_order() {
    let mock = OAuth2MockServer::start();
    mock.inject_fault("/token", MockFault::status(503).retry_after(7).times(1));
    mock.inject_fault("/token", MockFault::drop_connection().times(1));
    mock.inject_fault(
        "/token",
        MockFault::status(400).json_body(json!({ "error": "invalid_scope" })).times(1),
    );

    let unavailable = mock_token(&mock).await;
    assert_eq!(unavailable.status(), 503);
    assert_eq!(unavailable.headers()["retry-after"], "7");

    let dropped = reqwest::Client::new()
        .post(mock.token_endpoint())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    assert!(dropped.is_err(), "the connection should have been dropped: {dropped:?}");

    let refused = mock_token(&mock).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(refused.json::<Value>().await.unwrap()["error"], "invalid_scope");

    assert_eq!(mock_token(&mock).await.status(), 200, "faults are used up");
}

#[tokio::test]
async fn oauth2_mock_server_adds_keys() {
    let mock = OAuth2MockServer::start_with_keys(&["ES256"]);
    let kid = mock.generate_key("EdDSA");
    let keys: Value = reqwest::get(mock.jwks_uri()).await.unwrap().json().await.unwrap();
    let kids: Vec<&str> =
        keys["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&kid.as_str()));
    assert_eq!(mock.requests("/jwks"), 1);
}

#[test]
fn test_keys_sign_tokens_their_public_jwks_verify() {
    let claims = json!({ "sub": "car-orders", "exp": 4_000_000_000u64 });
    for key in [TestKey::RSA, TestKey::RSA_B, TestKey::P256, TestKey::ED25519] {
        let token = key.sign(&claims);
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key.kid()));
        let decoding = DecodingKey::from_jwk(&key.public_jwk()).unwrap();
        let data =
            jsonwebtoken::decode::<Value>(&token, &decoding, &Validation::new(key.algorithm()))
                .unwrap();
        assert_eq!(data.claims["sub"], "car-orders");
    }
    // One key's JWK does not verify another key's token.
    let token = TestKey::RSA.sign(&claims);
    let other = DecodingKey::from_jwk(&TestKey::RSA_B.public_jwk()).unwrap();
    assert!(
        jsonwebtoken::decode::<Value>(&token, &other, &Validation::new(TestKey::RSA.algorithm()))
            .is_err()
    );
    assert_eq!(jwks(&[TestKey::RSA, TestKey::P256])["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn manual_clock_moves_only_when_told() {
    let clock = ManualClock::at_unix(1_800_000_000);
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(clock.unix_secs(), 1_800_000_000);
    clock.advance(Duration::from_secs(90));
    assert_eq!(clock.clone().unix_secs(), 1_800_000_090);
    clock.set(std::time::UNIX_EPOCH);
    assert_eq!(clock.unix_secs(), 0);
}

#[test]
fn sample_pool_holds_the_reference_scenario() {
    let pool = sample_pool();
    let ids: Vec<&str> = pool.clients().iter().map(|c| c.client_id()).collect();
    assert_eq!(ids, ["car-orders", "tire-orders", "tire-orders-ops"]);
    assert!(!sample_secret("car-orders").is_empty());
}
