//! `ClientCredentials` against real token endpoints on loopback: our Cognito-shaped issuer and
//! the third-party oauth2-mock-server.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::time::Duration;

use b2b_auth_issuer::{
    AppClient, BasicAuthEncoding, Endpoint, Fault, Issuer, PoolConfig, ResourceServer,
};
use b2b_auth_testkit::{
    MockFault, OAuth2MockServer, TestKey, assert_cognito_access_token, jwt_parts, sample_secret,
    start_issuer, start_sample_issuer,
};
use b2b_auth_token::{
    AssertionAlgorithm, AuthMethod, BasicEncoding, ClientCredentials, ClientCredentialsBuilder,
    PrivateKey, TokenErrorKind,
};
use http::StatusCode;
use serde_json::json;

fn car_orders(issuer: &Issuer) -> ClientCredentialsBuilder {
    ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("car-orders")
        .client_secret(sample_secret("car-orders"))
        .allow_http_loopback(true)
}

#[tokio::test]
async fn basic_and_post_authentication_get_scoped_tokens() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    for method in [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost] {
        let source =
            car_orders(issuer).auth_method(method).scope("tires/orders.write").build().unwrap();
        let fetched = source.fetch().await.unwrap();
        assert_eq!(fetched.lifetime(), Duration::from_secs(3600));
        assert_eq!(fetched.token().scope(), Some("tires/orders.write"));
        let (_, claims) = jwt_parts(fetched.token().expose_secret());
        assert_cognito_access_token(
            &claims,
            issuer.url(),
            "car-orders",
            "tires/orders.write",
            3600,
        );
    }
    // Scopes are a set, sent space-separated; none means the server's default (all allowed).
    let both =
        car_orders(issuer).scopes(["tires/orders.write", "tires/orders.read"]).build().unwrap();
    assert_eq!(
        both.fetch().await.unwrap().token().scope(),
        Some("tires/orders.read tires/orders.write")
    );
    let default = car_orders(issuer).build().unwrap();
    assert_eq!(
        default.fetch().await.unwrap().token().scope(),
        Some("tires/orders.read tires/orders.write")
    );
}

/// RFC 6749 §2.3.1 form-encodes id and secret in Basic; some servers take them raw. With a
/// secret whose characters differ in the two encodings, each side must match the other.
#[tokio::test]
async fn basic_encoding_is_a_setting_tested_both_ways() {
    const SECRET: &str = "p+ss/w:rd %20 é";
    let pool = |encoding| {
        PoolConfig::new()
            .resource_server(ResourceServer::new("tires", "").scope("orders.write", ""))
            .client(AppClient::new("car-orders", SECRET).allowed_scope("tires/orders.write"))
            .basic_auth_encoding(encoding)
    };
    for (server_side, matching, other) in [
        (BasicAuthEncoding::FormUrlEncoded, BasicEncoding::FormUrlEncoded, BasicEncoding::Raw),
        (BasicAuthEncoding::Raw, BasicEncoding::Raw, BasicEncoding::FormUrlEncoded),
    ] {
        let server = start_issuer(Issuer::builder(pool(server_side))).await;
        let source = |encoding| {
            ClientCredentials::builder()
                .token_url(server.issuer().token_endpoint())
                .client_id("car-orders")
                .client_secret(SECRET)
                .basic_encoding(encoding)
                .allow_http_loopback(true)
                .build()
                .unwrap()
        };
        assert!(
            source(matching).fetch().await.is_ok(),
            "{server_side:?} server, {matching:?} client"
        );
        let refused = source(other).fetch().await.unwrap_err();
        assert_eq!(
            refused.kind(),
            TokenErrorKind::InvalidClient,
            "{server_side:?} server, {other:?} client"
        );
    }
}

#[tokio::test]
async fn oauth_errors_are_typed_and_permanent() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let wrong_secret = car_orders(issuer).client_secret("wrong").build().unwrap();
    let error = wrong_secret.fetch().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::InvalidClient);
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(error.oauth_error(), Some("invalid_client"));
    assert!(!error.is_transient());

    let other_scope = car_orders(issuer).scope("cars/orders.complete").build().unwrap();
    let error = other_scope.fetch().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::InvalidScope);
    assert!(!error.is_transient());
    assert!(error.oauth_description().is_some());
}

#[tokio::test]
async fn server_trouble_is_transient_and_classified() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let source = car_orders(issuer).timeout(Duration::from_millis(300)).build().unwrap();

    issuer.inject_fault(
        Endpoint::Token,
        Fault::status(StatusCode::SERVICE_UNAVAILABLE).retry_after(Duration::from_secs(2)).times(1),
    );
    let error = source.fetch().await.unwrap_err();
    assert_eq!(
        (error.kind(), error.retry_after()),
        (TokenErrorKind::ServerError, Some(Duration::from_secs(2)))
    );
    assert!(error.is_transient());

    issuer.inject_fault(
        Endpoint::Token,
        Fault::status(StatusCode::TOO_MANY_REQUESTS).retry_after(Duration::from_secs(5)).times(1),
    );
    let error = source.fetch().await.unwrap_err();
    assert_eq!(
        (error.kind(), error.retry_after()),
        (TokenErrorKind::RateLimited, Some(Duration::from_secs(5)))
    );

    issuer.inject_fault(Endpoint::Token, Fault::drop_connection().times(1));
    assert_eq!(source.fetch().await.unwrap_err().kind(), TokenErrorKind::Connect);

    issuer.inject_fault(Endpoint::Token, Fault::delay(Duration::from_secs(5)).times(1));
    assert_eq!(source.fetch().await.unwrap_err().kind(), TokenErrorKind::Timeout);

    // A 200 with a body over the cap is refused before it is parsed.
    let huge =
        json!({ "access_token": "x".repeat(100_000), "token_type": "Bearer", "expires_in": 60 });
    issuer.inject_fault(Endpoint::Token, Fault::status(StatusCode::OK).json_body(huge).times(1));
    assert_eq!(source.fetch().await.unwrap_err().kind(), TokenErrorKind::ResponseTooLarge);

    // A 200 that is not a bearer token response.
    let wrong_type = json!({ "access_token": "x", "token_type": "mac", "expires_in": 60 });
    issuer.inject_fault(
        Endpoint::Token,
        Fault::status(StatusCode::OK).json_body(wrong_type).times(1),
    );
    assert_eq!(source.fetch().await.unwrap_err().kind(), TokenErrorKind::InvalidResponse);

    // Redirects are never followed: they would carry the credentials elsewhere.
    issuer.inject_fault(Endpoint::Token, Fault::status(StatusCode::TEMPORARY_REDIRECT).times(1));
    assert_eq!(source.fetch().await.unwrap_err().kind(), TokenErrorKind::UnexpectedStatus);

    let unreachable = ClientCredentials::builder()
        .token_url(format!("http://127.0.0.1:{}/oauth2/token", b2b_auth_testkit::free_port()))
        .client_id("c")
        .client_secret("s")
        .allow_http_loopback(true)
        .build()
        .unwrap();
    assert_eq!(unreachable.fetch().await.unwrap_err().kind(), TokenErrorKind::Connect);

    assert!(source.fetch().await.is_ok(), "recovered");
}

#[tokio::test]
async fn the_token_url_can_be_discovered_from_the_issuer() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let source = ClientCredentials::builder()
        .issuer(issuer.url())
        .client_id("car-orders")
        .client_secret(sample_secret("car-orders"))
        .allow_http_loopback(true)
        .build()
        .unwrap();

    issuer.inject_fault(Endpoint::Discovery, Fault::status(StatusCode::BAD_GATEWAY).times(1));
    let error = source.fetch().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Discovery);
    assert!(error.is_transient(), "a failed discovery is retried");

    source.fetch().await.unwrap();
    source.fetch().await.unwrap();
    let stats = issuer.stats();
    assert_eq!(stats.discovery_requests, 2, "discovered once, then cached");
    assert_eq!(stats.tokens_issued, 2);
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let mock = OAuth2MockServer::start();
    let source = ClientCredentials::builder()
        // The mock names itself http://127.0.0.1:PORT; ask for it under another name.
        .issuer(format!("http://localhost:{}", mock.port()))
        .client_id("c")
        .client_secret("s")
        .allow_http_loopback(true)
        .build()
        .unwrap();
    assert_eq!(source.fetch().await.unwrap_err().kind(), TokenErrorKind::Discovery);
    assert_eq!(mock.requests("/token"), 0);
}

#[tokio::test]
async fn a_third_party_server_issues_tokens_with_audience_and_resources() {
    let mock = OAuth2MockServer::start();
    mock.set_claims(json!({ "client_id": "car-orders" }));
    mock.set_token_lifetime(120);
    let source = ClientCredentials::builder()
        .issuer(mock.issuer_url())
        .client_id("car-orders")
        .client_secret("any")
        .auth_method(AuthMethod::ClientSecretPost)
        .scope("tires/orders.write")
        .audience("https://tires.example/api")
        .resource("https://tires.example/api")
        .param("aud", "tires")
        .allow_http_loopback(true)
        .build()
        .unwrap();
    let fetched = source.fetch().await.unwrap();
    assert_eq!(fetched.lifetime(), Duration::from_secs(120));
    let (header, claims) = jwt_parts(fetched.token().expose_secret());
    assert_eq!(header["typ"], "JWT");
    assert_eq!(claims["scope"], "tires/orders.write");
    assert_eq!(claims["aud"], "tires", "extra parameters reach the server");
    assert_eq!(claims["iss"], mock.issuer_url());

    mock.inject_fault("/token", MockFault::status(502).times(1));
    assert_eq!(source.fetch().await.unwrap_err().kind(), TokenErrorKind::ServerError);
    mock.inject_fault(
        "/token",
        MockFault::status(400).json_body(json!({ "error": "invalid_target" })).times(1),
    );
    let error = source.fetch().await.unwrap_err();
    assert_eq!(
        (error.kind(), error.oauth_error()),
        (TokenErrorKind::OtherOAuth, Some("invalid_target"))
    );
}

#[tokio::test]
async fn private_key_jwt_authenticates_to_a_server_that_verifies_assertions() {
    let pool = PoolConfig::new()
        .resource_server(ResourceServer::new("tires", "").scope("orders.write", ""))
        .client(
            AppClient::with_public_jwk("ec-client", TestKey::P256.public_jwk_json())
                .allowed_scope("tires/orders.write"),
        )
        .client(
            AppClient::with_public_jwk("rsa-client", TestKey::RSA.public_jwk_json())
                .allowed_scope("tires/orders.write"),
        )
        .client(
            AppClient::with_public_jwk("ed-client", TestKey::ED25519.public_jwk_json())
                .allowed_scope("tires/orders.write"),
        );
    let server = start_issuer(Issuer::builder(pool)).await;
    let source = |client: &str, key: TestKey, algorithm| {
        let pem =
            PrivateKey::from_pem(key.private_pem().as_bytes(), algorithm).unwrap().kid(key.kid());
        ClientCredentials::builder()
            .token_url(server.issuer().token_endpoint())
            .client_id(client)
            .private_key(pem)
            .allow_http_loopback(true)
            .build()
            .unwrap()
    };
    for (client, key, algorithm) in [
        ("ec-client", TestKey::P256, AssertionAlgorithm::ES256),
        ("rsa-client", TestKey::RSA, AssertionAlgorithm::RS256),
        ("ed-client", TestKey::ED25519, AssertionAlgorithm::EdDSA),
    ] {
        let source = source(client, key, algorithm);
        // Twice: every assertion has its own jti, and the server refuses replays.
        for _ in 0..2 {
            let fetched = source.fetch().await.unwrap_or_else(|e| panic!("{client}: {e}"));
            assert_eq!(jwt_parts(fetched.token().expose_secret()).1["client_id"], client);
        }
    }
    // Signed by a key the server does not know for this client.
    let impostor = source("ec-client", TestKey::ED25519, AssertionAlgorithm::EdDSA);
    assert_eq!(impostor.fetch().await.unwrap_err().kind(), TokenErrorKind::InvalidClient);
}
