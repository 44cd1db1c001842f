//! What several benches share: polling a future that must not wait, and the Cognito-shaped
//! access token and verifier of the reference scenario. A folder module, so that cargo does
//! not take it for a bench of its own.

#![allow(dead_code)] // each bench uses part of it

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use b2b_auth_jwt::{JwkSet, TrustedIssuer, Verifier};
use b2b_auth_testkit::{TestKey, jwks};
use serde_json::json;

/// The issuer of the Cognito user pool `eu-west-1_AbCdEf123`.
pub(crate) const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123";

/// Polls `future` once, without an executor: the measured paths complete at once (keys
/// loaded, token fresh); waiting would mean the bench measures something else.
pub(crate) fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the measured path waited"),
    }
}

/// Cognito's claim set for a client-credentials access token of `car-orders`, valid an hour.
pub(crate) fn cognito_claims() -> serde_json::Value {
    let now = b2b_auth_core::unix_secs(std::time::SystemTime::now());
    json!({
        "sub": "car-orders", "token_use": "access", "scope": "tires/orders.write tires/orders.read",
        "auth_time": now, "iss": ISSUER, "exp": now + 3600, "iat": now, "version": 2,
        "jti": "0f8fad5b-d9cb-469f-a165-70867728950e", "client_id": "car-orders",
    })
}

/// A verifier of the pool's tokens signed by `key` (static keys: no network measured), with
/// a cache of `cache` entries (0: off).
pub(crate) fn cognito_verifier(key: TestKey, cache: u64) -> Verifier {
    let keys = JwkSet::from_json(jwks(&[key]).to_string().as_bytes()).unwrap();
    let issuer = TrustedIssuer::cognito("eu-west-1", "eu-west-1_AbCdEf123")
        .static_keys(keys)
        .client_ids(["car-orders"])
        .build()
        .unwrap();
    Verifier::builder().issuer(issuer).cache_capacity(cache).build().unwrap()
}
