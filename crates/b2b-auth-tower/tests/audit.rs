//! The audit events of the two layers stacked: one per decision, with reason, status, client
//! address and provenance, client id and route; never a token.
//!
//! Alone in its test binary: a subscriber scoped to one test thread misses the events whose
//! callsites other test threads register at the same moment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::convert::Infallible;
use std::net::SocketAddr;

use b2b_auth_jwt::{JwkSet, TrustedIssuer, Verifier};
use b2b_auth_policy::{AccessGuard, ClientIpSource, IpRule, IpSet, TrustedProxies};
use b2b_auth_testkit::{TestKey, capture_logs_async, jwks};
use b2b_auth_tower::{
    AUDIT_TARGET, BearerRejection, EnforcePolicyLayer, PeerAddr, RequireBearerLayer, ScopeRoutes,
};
use http::{Request, Response};
use serde_json::json;
use tower::{ServiceBuilder, ServiceExt};

const ISSUER: &str = "https://issuer.example";

fn token(scope: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    TestKey::RSA
        .sign(&json!({"iss": ISSUER, "client_id": "car-orders", "scope": scope, "exp": now + 600}))
}

fn bearer_layer() -> RequireBearerLayer {
    let keys = JwkSet::from_json(jwks(&[TestKey::RSA]).to_string().as_bytes()).unwrap();
    let issuer = TrustedIssuer::builder(ISSUER)
        .static_keys(keys)
        .client_ids(["car-orders"])
        .build()
        .unwrap();
    let verifier = Verifier::builder().issuer(issuer).build().unwrap();
    let routes = ScopeRoutes::builder()
        .route("POST /orders", "tires/orders.write")
        .route("GET /orders/{id}", "tires/orders.read")
        .build()
        .unwrap();
    RequireBearerLayer::builder(verifier).require(routes).build().unwrap()
}

#[tokio::test]
async fn every_decision_is_one_audit_event_and_no_token_is_logged() {
    let proxies = TrustedProxies::new(IpSet::parse(["10.0.0.0/8"]).unwrap());
    let guard = AccessGuard::builder()
        .client_ip_source(ClientIpSource::TrustedProxies(proxies))
        .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"]).unwrap()))
        .build()
        .unwrap();
    let service = ServiceBuilder::new()
        .layer(EnforcePolicyLayer::new(guard))
        .layer(bearer_layer())
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(())) });
    let (write, read) = (token("tires/orders.write"), token("tires/orders.read"));
    let call = |method: &str, path: &str, token: &str, client: &str| {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("x-forwarded-for", client)
            .body(())
            .unwrap();
        request.extensions_mut().insert(PeerAddr("10.0.0.5:33000".parse::<SocketAddr>().unwrap()));
        service.clone().oneshot(request)
    };
    let tampered = format!("{write}x");
    let (responses, logs) = capture_logs_async(async {
        let mut responses = Vec::new();
        for (method, path, token, client) in [
            ("POST", "/orders", write.as_str(), "198.51.100.3"),
            ("POST", "/orders", read.as_str(), "198.51.100.3"),
            ("GET", "/orders/9", tampered.as_str(), "198.51.100.3"),
            ("POST", "/orders", write.as_str(), "203.0.113.9"),
        ] {
            responses.push(call(method, path, token, client).await.unwrap());
        }
        responses
    })
    .await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 403, 401, 403]);

    let lines: Vec<String> =
        logs.lines().filter(|l| l.contains(AUDIT_TARGET)).map(str::to_owned).collect();
    let events = |layer: &str| -> Vec<String> {
        lines.iter().filter(|l| l.contains(&format!("layer=\"{layer}\""))).cloned().collect()
    };
    let (policy, bearer) = (events("enforce_policy"), events("require_bearer"));
    assert_eq!(policy.len(), 4, "{lines:#?}");
    assert_eq!(bearer.len(), 3, "the stranger never reached the bearer layer: {lines:#?}");
    assert_eq!(lines.len(), 7, "{lines:#?}");

    for (line, wanted) in [
        (&bearer[0], "decision=\"allow\" reason=token verified, scopes satisfied"),
        // The bearer layer reports the client address the policy layer resolved.
        (&bearer[0], "client_ip=198.51.100.3 provenance=x-forwarded-for hop 0 of 1"),
        (&bearer[0], "client_id=\"car-orders\" method=POST route=\"POST /orders\""),
        (&bearer[1], "decision=\"deny\" reason=insufficient scope: requires tires/orders.write"),
        (&bearer[1], "status=403"),
        (&bearer[2], "reason=malformed token status=401"),
        (&bearer[2], "method=GET route=\"GET /orders/{id}\""),
        (&policy[0], "decision=\"allow\" reason=allow: ip rule allows the client"),
        (&policy[3], "decision=\"deny\" reason=deny: no ip rule matches the client"),
        (&policy[3], "status=403 client_ip=203.0.113.9 provenance=x-forwarded-for hop 0 of 1"),
    ] {
        assert!(line.contains(wanted), "{wanted:?} not in {line}");
    }
    assert!(!bearer[2].contains("client_id"), "an unverified token names no client: {}", bearer[2]);

    let signatures = [&write, &read].map(|t| t.rsplit('.').next().unwrap().to_owned());
    for signature in &signatures {
        assert!(!logs.contains(signature.as_str()), "a token in the logs");
    }
    // Nor in the Debug of the layer or of a rejection.
    let rejection = responses[1].extensions().get::<BearerRejection>().unwrap();
    let debug = format!("{:?} {rejection:?}", bearer_layer());
    assert!(!signatures.iter().any(|s| debug.contains(s.as_str())), "{debug}");
}
