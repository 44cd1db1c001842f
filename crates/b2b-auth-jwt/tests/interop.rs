//! Tokens of third-party servers: npm's oauth2-mock-server (ES256, EdDSA, RS256) and moto's
//! Cognito user pools (the Cognito preset, with the JWKS served apart from the issuer URL).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use b2b_auth_jwt::{Algorithm, ScopePolicy, TrustedIssuer, Verifier, VerifyErrorKind};
use b2b_auth_testkit::{MockFault, MotoCognitoPool, MotoServer, OAuth2MockServer, jwt_parts};
use serde_json::json;

async fn mock_token(mock: &OAuth2MockServer, scope: &str) -> String {
    let response: serde_json::Value = reqwest::Client::new()
        .post(mock.token_endpoint())
        .basic_auth("car-orders", Some("any-secret"))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    response["access_token"].as_str().unwrap().to_owned()
}

fn mock_verifier(mock: &OAuth2MockServer) -> Verifier {
    let issuer = TrustedIssuer::builder(mock.issuer_url())
        .jwks_uri(mock.jwks_uri())
        .client_ids(["car-orders"])
        .build()
        .unwrap();
    Verifier::builder().issuer(issuer).build().unwrap()
}

#[tokio::test]
async fn oauth2_mock_server_es256_and_eddsa_tokens_verify() {
    let mock = OAuth2MockServer::start_with_keys(&["ES256", "EdDSA"]);
    mock.set_claims(json!({ "client_id": "car-orders" }));
    let verifier = mock_verifier(&mock);
    let write = ScopePolicy::all(["tires/orders.write"]);
    let mut algorithms = Vec::new();
    for _ in 0..2 {
        // The mock signs round-robin with its keys.
        let token = mock_token(&mock, "tires/orders.write tires/orders.read").await;
        let claims = verifier.verify_for(&token, &write).await.unwrap();
        assert_eq!(claims.issuer(), mock.issuer_url());
        assert!(claims.scopes().contains("tires/orders.read"));
        algorithms.push(claims.header().alg());
    }
    algorithms.sort();
    assert_eq!(algorithms, [Algorithm::ES256, Algorithm::EdDSA]);
    assert_eq!(mock.requests("/jwks"), 1);

    let read_only = mock_token(&mock, "tires/orders.read").await;
    assert_eq!(
        verifier.verify_for(&read_only, &write).await.unwrap_err().kind(),
        VerifyErrorKind::InsufficientScope
    );
}

#[tokio::test]
async fn oauth2_mock_server_faults_and_shaped_tokens() {
    let mock = OAuth2MockServer::start();
    mock.set_claims(json!({ "client_id": "car-orders" }));
    let verifier = mock_verifier(&mock);
    assert!(verifier.verify(&mock_token(&mock, "a").await).await.is_ok());

    // The JWKS endpoint fails: tokens of known keys still verify.
    mock.inject_fault("/jwks", MockFault::status(500));
    assert!(verifier.verify(&mock_token(&mock, "b").await).await.is_ok());

    mock.set_token_lifetime(-120);
    assert_eq!(
        verifier.verify(&mock_token(&mock, "c").await).await.unwrap_err().kind(),
        VerifyErrorKind::Expired
    );
    mock.set_token_lifetime(3600);
    mock.set_claims(json!({ "iss": "https://evil.example" }));
    assert_eq!(
        verifier.verify(&mock_token(&mock, "d").await).await.unwrap_err().kind(),
        VerifyErrorKind::UntrustedIssuer
    );
    mock.set_claims(json!({ "iss": mock.issuer_url(), "client_id": "intruder" }));
    assert_eq!(
        verifier.verify(&mock_token(&mock, "e").await).await.unwrap_err().kind(),
        VerifyErrorKind::WrongAudience
    );
    mock.set_claims(json!({ "client_id": "car-orders" }));
    mock.set_header(json!({ "kid": "unknown" }));
    // Unknown kid: a refresh is tried (the endpoint still fails), then the token is refused.
    assert_eq!(
        verifier.verify(&mock_token(&mock, "f").await).await.unwrap_err().kind(),
        VerifyErrorKind::UnknownKey
    );
}

#[tokio::test]
async fn oidc_preset_discovers_the_mock_and_requires_at_jwt() {
    let mock = OAuth2MockServer::start_with_keys(&["EdDSA"]);
    mock.set_claims(json!({ "client_id": "car-orders", "aud": "tires" }));
    let issuer = TrustedIssuer::oidc(mock.issuer_url()).audience("tires").build().unwrap();
    let verifier = Verifier::builder().issuer(issuer).build().unwrap();
    let jwt_typed = mock_token(&mock, "a").await;
    assert_eq!(jwt_parts(&jwt_typed).0["typ"], "JWT");
    assert_eq!(verifier.verify(&jwt_typed).await.unwrap_err().kind(), VerifyErrorKind::WrongType);
    mock.set_header(json!({ "typ": "at+jwt" }));
    let claims = verifier.verify(&mock_token(&mock, "a").await).await.unwrap();
    assert_eq!(claims.audience(), ["tires"]);
    assert_eq!(mock.requests("/.well-known/openid-configuration"), 1);
}

#[tokio::test]
async fn cognito_preset_verifies_moto_access_tokens_and_refuses_id_tokens() {
    let moto = MotoServer::start();
    let pool = MotoCognitoPool::create(&moto).await;
    let trusted = TrustedIssuer::cognito(MotoServer::REGION, pool.pool_id())
        .jwks_uri(pool.jwks_uri()) // the real AWS URL is the issuer; the keys come from moto
        .client_ids([pool.client_id()])
        .build()
        .unwrap();
    assert_eq!(trusted.issuer(), pool.issuer());
    let verifier = Verifier::builder().issuer(trusted).build().unwrap();
    let access = pool.access_token().await;
    let claims = verifier.verify(&access).await.unwrap();
    assert_eq!(claims.token_use(), Some("access"));
    assert_eq!(claims.client_id(), Some(pool.client_id()));
    assert_eq!(claims.issuer(), pool.issuer());

    let id = pool.id_token().await;
    assert_eq!(verifier.verify(&id).await.unwrap_err().kind(), VerifyErrorKind::WrongTokenUse);

    let other_client = Verifier::builder()
        .issuer(
            TrustedIssuer::cognito(MotoServer::REGION, pool.pool_id())
                .jwks_uri(pool.jwks_uri())
                .client_ids(["someone-else"])
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(
        other_client.verify(&access).await.unwrap_err().kind(),
        VerifyErrorKind::WrongAudience
    );
}
