//! Injected faults: what clients of the issuer see when it is slow, failing or cut off.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::time::Duration;

use b2b_auth_issuer::{Endpoint, Fault, Issuer};
use b2b_auth_testkit::{sample_secret, start_sample_issuer};
use reqwest::StatusCode;
use serde_json::json;

async fn token_request(
    issuer: &Issuer,
    client: &reqwest::Client,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(issuer.token_endpoint())
        .basic_auth("car-orders", Some(sample_secret("car-orders")))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
}

#[tokio::test]
async fn token_faults_apply_in_order_then_run_out() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let client = reqwest::Client::new();
    issuer.inject_fault(
        Endpoint::Token,
        Fault::status(StatusCode::TOO_MANY_REQUESTS).retry_after(Duration::from_secs(3)).times(2),
    );
    issuer.inject_fault(Endpoint::Token, Fault::drop_connection().times(1));
    issuer.inject_fault(
        Endpoint::Token,
        Fault::status(StatusCode::BAD_REQUEST)
            .json_body(json!({ "error": "invalid_grant" }))
            .times(1),
    );

    for _ in 0..2 {
        let throttled = token_request(issuer, &client).await.unwrap();
        assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(throttled.headers()["retry-after"], "3");
    }
    let dropped = token_request(issuer, &client).await;
    let error = dropped.expect_err("the connection should close without an answer");
    assert!(!error.is_timeout() && !error.is_status(), "{error:?}");
    let refused = token_request(issuer, &client).await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(refused.json::<serde_json::Value>().await.unwrap()["error"], "invalid_grant");

    assert_eq!(token_request(issuer, &client).await.unwrap().status(), StatusCode::OK);
    let stats = issuer.stats();
    assert_eq!((stats.token_requests, stats.tokens_issued), (5, 1));
}

#[tokio::test]
async fn a_slow_endpoint_times_clients_out_until_cleared() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    issuer.inject_fault(Endpoint::Jwks, Fault::delay(Duration::from_secs(30)));
    let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let error = impatient.get(issuer.jwks_uri()).send().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    issuer.clear_faults();
    assert_eq!(impatient.get(issuer.jwks_uri()).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn jwks_and_discovery_faults_are_separate() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    issuer.inject_fault(Endpoint::Discovery, Fault::status(StatusCode::SERVICE_UNAVAILABLE));
    issuer.inject_fault(Endpoint::Jwks, Fault::drop_connection().times(1));
    assert!(reqwest::get(issuer.jwks_uri()).await.is_err());
    assert_eq!(reqwest::get(issuer.jwks_uri()).await.unwrap().status(), StatusCode::OK);
    for _ in 0..3 {
        let status = reqwest::get(issuer.discovery_url()).await.unwrap().status();
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "an uncounted fault stays");
    }
    assert_eq!(
        token_request(issuer, &reqwest::Client::new()).await.unwrap().status(),
        StatusCode::OK
    );
    let stats = issuer.stats();
    assert_eq!((stats.jwks_requests, stats.discovery_requests), (2, 3));
}

#[tokio::test]
async fn shutdown_frees_the_port() {
    let server = start_sample_issuer().await;
    let addr = server.issuer().local_addr();
    server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    // The same address can serve again, as after a restart.
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    drop(listener);
}
