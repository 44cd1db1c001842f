//! Key rotation: old tokens verify through the grace period, new ones at once, and the old
//! key leaves the JWKS when the grace period ends or it is retired.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::time::Duration;

use b2b_auth_issuer::{Issuer, KeyError};
use b2b_auth_testkit::{
    ManualClock, TestKey, jwt_parts, sample_pool, start_issuer, verify_with_jose,
};
use reqwest::StatusCode;
use serde_json::Value;

const GRACE: Duration = Duration::from_secs(600);
const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";

fn token(issuer: &Issuer) -> String {
    issuer.issue_token("car-orders", None).unwrap().access_token().to_owned()
}

async fn published(issuer: &Issuer) -> Vec<String> {
    let jwks: Value = reqwest::get(issuer.jwks_uri()).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn rotated_out_keys_verify_through_the_grace_period_then_leave() {
    // Tokens are checked against real time by jose, so the manual clock starts now.
    let clock = ManualClock::starting_now();
    let builder = Issuer::builder(sample_pool().key_rotation_grace(GRACE))
        .clock(clock.clone())
        .signing_key(TestKey::RSA.issuer_signing_key());
    let server = start_issuer(builder).await;
    let issuer = server.issuer();
    let before = token(issuer);

    let new_kid = issuer.rotate_key().unwrap();
    let after = token(issuer);
    assert_eq!(jwt_parts(&before).0["kid"], TestKey::RSA.kid());
    assert_eq!(jwt_parts(&after).0["kid"], new_kid.as_str());
    assert_eq!(published(issuer).await, [new_kid.clone(), TestKey::RSA.kid().to_owned()]);

    // During the grace period both verify, with an independent library.
    let (jwks, iss) = (issuer.jwks_uri(), issuer.url().to_owned());
    verify_with_jose(&before, &jwks, &iss).await.unwrap();
    verify_with_jose(&after, &jwks, &iss).await.unwrap();

    clock.advance(GRACE - Duration::from_secs(1));
    assert_eq!(published(issuer).await.len(), 2, "still inside the grace period");

    clock.advance(Duration::from_secs(1));
    assert_eq!(published(issuer).await, [new_kid]);
    assert_eq!(
        verify_with_jose(&before, &jwks, &iss).await.unwrap_err(),
        "ERR_JWKS_NO_MATCHING_KEY"
    );
    verify_with_jose(&after, &jwks, &iss).await.unwrap();
}

#[tokio::test]
async fn the_default_grace_period_is_the_longest_token_lifetime() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let server = start_issuer(Issuer::builder(sample_pool()).clock(clock.clone())).await;
    let issuer = server.issuer();
    let old = issuer.signing_kid();
    issuer.rotate_key().unwrap();
    clock.advance(Duration::from_secs(3599));
    assert!(issuer.published_kids().contains(&old));
    clock.advance(Duration::from_secs(1));
    assert!(!issuer.published_kids().contains(&old));
}

#[tokio::test]
async fn retiring_a_key_unpublishes_it_at_once() {
    let server = start_issuer(Issuer::builder(sample_pool())).await;
    let issuer = server.issuer();
    let old = issuer.signing_kid();
    assert!(matches!(issuer.retire_key(&old), Err(KeyError::ActiveKey { .. })));
    let new = issuer.rotate_key().unwrap();
    issuer.retire_key(&old).unwrap();
    assert_eq!(published(issuer).await, std::slice::from_ref(&new));
    assert!(matches!(issuer.retire_key(&old), Err(KeyError::UnknownKid { .. })));
    assert!(matches!(
        issuer.rotate_to(TestKey::RSA.issuer_signing_key().with_kid(new)),
        Err(KeyError::DuplicateKid { .. })
    ));
}

#[tokio::test]
async fn the_admin_endpoint_is_off_unless_configured() {
    let server = start_issuer(Issuer::builder(sample_pool())).await;
    let url = format!("{}/admin/keys", server.issuer().url());
    let response = reqwest::Client::new().get(&url).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_admin_endpoint_rotates_and_retires_with_its_token_only() {
    let server = start_issuer(Issuer::builder(sample_pool().admin_token(ADMIN_TOKEN))).await;
    let issuer = server.issuer();
    let base = format!("{}/admin/keys", issuer.url());
    let client = reqwest::Client::new();

    for token in [None, Some("wrong-token"), Some(&ADMIN_TOKEN[1..])] {
        let mut request = client.post(format!("{base}/rotate"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers()["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    }
    let old = issuer.signing_kid();
    assert_eq!(
        issuer.published_kids(),
        std::slice::from_ref(&old),
        "refused calls changed nothing"
    );

    let listed: Value =
        client.get(&base).bearer_auth(ADMIN_TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["signing_kid"], old.as_str());

    let rotated =
        client.post(format!("{base}/rotate")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    let new = issuer.signing_kid();
    assert_ne!(new, old);
    assert_eq!(rotated["signing_kid"], new.as_str());
    assert_eq!(rotated["published_kids"], serde_json::json!([new, old]));

    let retire = |kid: &str| client.delete(format!("{base}/{kid}")).bearer_auth(ADMIN_TOKEN).send();
    assert_eq!(retire(&new).await.unwrap().status(), StatusCode::CONFLICT);
    assert_eq!(retire("no-such-kid").await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(retire(&old).await.unwrap().status(), StatusCode::OK);
    assert_eq!(published(issuer).await, [new]);
}
