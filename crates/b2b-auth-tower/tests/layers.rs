//! The require-bearer and enforce-policy layers through `tower::ServiceExt::oneshot`: every
//! answer (HTTP and gRPC) with its headers, what reaches the inner service, how the two layers
//! stack, and the audit events.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use b2b_auth_jwt::{Claims, JwkSet, ScopePolicy, TrustedIssuer, Verifier, VerifyErrorKind};
use b2b_auth_policy::{
    AccessGuard, Api, ClientIpSource, Decision, Effect, IpRule, IpSet, ResourcePolicy,
    TrustedProxies,
};
use b2b_auth_testkit::{Canned, JwksServer, TestKey, jwks};
use b2b_auth_tower::{
    BearerRejection, BearerRejectionKind, EnforcePolicyLayer, PeerAddr, PolicyRejection,
    PolicyRejectionKind, RequireBearerLayer, ScopeRoutes,
};
use http::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use serde_json::{Value, json};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

const ISSUER: &str = "https://issuer.example";
const PARTNER: &str = "198.51.100.3:40000";

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn claims(client: &str, scope: &str) -> Value {
    let now = now();
    json!({"iss": ISSUER, "sub": client, "client_id": client, "scope": scope, "iat": now, "exp": now + 600})
}

fn token(client: &str, scope: &str) -> String {
    TestKey::RSA.sign(&claims(client, scope))
}

fn verifier() -> Verifier {
    let keys = JwkSet::from_json(jwks(&[TestKey::RSA]).to_string().as_bytes()).unwrap();
    let issuer = TrustedIssuer::builder(ISSUER)
        .static_keys(keys)
        .client_ids(["car-orders", "tire-orders"])
        .build()
        .unwrap();
    Verifier::builder().issuer(issuer).build().unwrap()
}

fn routes() -> ScopeRoutes {
    ScopeRoutes::builder()
        .route("POST /orders", "tires/orders.write")
        .route("GET /orders/{id}", ScopePolicy::any(["tires/orders.read", "tires/orders.write"]))
        .build()
        .unwrap()
}

fn bearer_layer() -> RequireBearerLayer {
    RequireBearerLayer::builder(verifier()).realm("tires").require(routes()).build().unwrap()
}

/// The inner service: counts its calls and answers 200 with the verified client id, if any.
#[derive(Clone, Default)]
struct Handler {
    calls: Arc<AtomicUsize>,
}

impl Handler {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl<B> Service<Request<B>> for Handler {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let client = request.extensions().get::<Claims>().and_then(|c| c.client_id());
        std::future::ready(Ok(Response::new(client.unwrap_or("-").to_owned())))
    }
}

fn request(method: &str, uri: &str) -> http::request::Builder {
    Request::builder().method(method).uri(uri)
}

fn with_token(method: &str, uri: &str, token: &str) -> Request<()> {
    request(method, uri).header(AUTHORIZATION, format!("Bearer {token}")).body(()).unwrap()
}

fn grpc(mut request: Request<()>) -> Request<()> {
    request.headers_mut().insert(CONTENT_TYPE, "application/grpc".parse().unwrap());
    request
}

fn from_peer(mut request: Request<()>, peer: &str) -> Request<()> {
    request.extensions_mut().insert(PeerAddr(peer.parse::<SocketAddr>().unwrap()));
    request
}

async fn call<L>(layer: L, request: Request<()>) -> (Response<String>, usize)
where
    L: Layer<Handler>,
    L::Service: Service<Request<()>, Response = Response<String>, Error = Infallible>,
{
    let handler = Handler::default();
    let response = layer.layer(handler.clone()).oneshot(request).await.unwrap();
    (response, handler.calls())
}

fn challenge(response: &Response<String>) -> &str {
    response.headers().get(WWW_AUTHENTICATE).map_or("", |v| v.to_str().unwrap())
}

fn bearer_rejection(response: &Response<String>) -> &BearerRejection {
    response.extensions().get::<BearerRejection>().expect("a BearerRejection in the extensions")
}

#[tokio::test]
async fn no_bearer_token_is_401_with_the_realm_and_no_error_code() {
    for authorization in [None, Some("Basic Y2FyLW9yZGVyczpzZWNyZXQ="), Some("")] {
        let mut builder = request("POST", "/orders");
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        let (response, calls) = call(bearer_layer(), builder.body(()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert_eq!(challenge(&response), r#"Bearer realm="tires""#);
        assert_eq!(
            bearer_rejection(&response).kind(),
            BearerRejectionKind::Verify(VerifyErrorKind::MissingToken)
        );
        assert_eq!(calls, 0);
    }
}

#[tokio::test]
async fn refused_tokens_are_401_invalid_token_with_the_reason() {
    let now = now();
    let expired = {
        let mut c = claims("car-orders", "tires/orders.write");
        c["iat"] = json!(now - 7200);
        c["exp"] = json!(now - 3600);
        TestKey::RSA.sign(&c)
    };
    let other_issuer = {
        let mut c = claims("car-orders", "tires/orders.write");
        c["iss"] = json!("https://evil.example");
        TestKey::RSA.sign(&c)
    };
    let cases = [
        (expired, "token expired"),
        (TestKey::RSA_B.sign(&claims("car-orders", "tires/orders.write")), "unknown signing key"),
        (other_issuer, "untrusted issuer"),
        (token("stranger", "tires/orders.write"), "audience or client not allowed"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2ln".to_owned(), "untrusted issuer"),
        ("a.b.c".to_owned(), "malformed token"),
    ];
    for (token, reason) in cases {
        let (response, calls) = call(bearer_layer(), with_token("POST", "/orders", &token)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{reason}");
        assert_eq!(
            challenge(&response),
            format!(r#"Bearer realm="tires", error="invalid_token", error_description="{reason}""#)
        );
        assert_eq!(bearer_rejection(&response).to_string(), reason);
        assert_eq!(calls, 0);
    }
}

#[tokio::test]
async fn a_scope_failure_is_403_insufficient_scope_naming_the_required_scope() {
    let read_only = token("car-orders", "tires/orders.read");
    let (response, calls) = call(bearer_layer(), with_token("POST", "/orders", &read_only)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&response),
        r#"Bearer realm="tires", error="insufficient_scope", scope="tires/orders.write""#
    );
    let rejection = bearer_rejection(&response);
    assert_eq!(rejection.kind(), BearerRejectionKind::Verify(VerifyErrorKind::InsufficientScope));
    assert_eq!(rejection.to_string(), "insufficient scope: requires tires/orders.write");
    assert_eq!(calls, 0);

    // The same token meets the read route's policy.
    let (response, calls) = call(bearer_layer(), with_token("GET", "/orders/7", &read_only)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn malformed_or_doubled_credentials_are_400_invalid_request() {
    let good = token("car-orders", "tires/orders.write");
    let bearer = format!("Bearer {good}");
    let post = |uri: &str, authorizations: &[&[u8]]| {
        authorizations.iter().fold(request("POST", uri), |builder, value| {
            builder.header(AUTHORIZATION, HeaderValue::from_bytes(value).unwrap())
        })
    };
    let malformed = "malformed bearer credentials";
    let cases = [
        (post("/orders", &[b"Bearer a b"]), malformed),
        (post("/orders", &[b"Bearer"]), malformed),
        (post("/orders", &[b"Bearer "]), malformed),
        (post("/orders", &[b"Bearer a=b"]), malformed),
        (post("/orders", &[b"Bearer \xff"]), malformed),
        (post("/orders", &[bearer.as_bytes(), bearer.as_bytes()]), "multiple credentials"),
        (post("/orders", &[bearer.as_bytes(), b"Basic eA=="]), "multiple credentials"),
        (
            post(&format!("/orders?access_token={good}"), &[bearer.as_bytes()]),
            "access token in the query",
        ),
        (post(&format!("/orders?a=1&access%5Ftoken={good}"), &[]), "access token in the query"),
        (post("/x/../orders", &[bearer.as_bytes()]), "non-canonical path"),
        (post("//orders", &[bearer.as_bytes()]), "non-canonical path"),
    ];
    for (builder, reason) in cases {
        let (response, calls) = call(bearer_layer(), builder.body(()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{reason}");
        assert_eq!(
            challenge(&response),
            format!(
                r#"Bearer realm="tires", error="invalid_request", error_description="{reason}""#
            )
        );
        assert_eq!(calls, 0);
    }
    // The scheme is case-insensitive, and spaces may follow it.
    let lenient = format!("bEARER   {good}");
    let (response, _) =
        call(bearer_layer(), post("/orders", &[lenient.as_bytes()]).body(()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::OK);
    // A whole-service policy does not look at the path.
    let layer = RequireBearerLayer::new(verifier(), ScopePolicy::allow_all());
    let (response, _) = call(layer, with_token("POST", "/x/../orders", &good)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unavailable_keys_are_503_with_retry_after_and_no_challenge() {
    let server = JwksServer::start().await;
    server.set("/jwks", Canned::body(500, "text/plain", "down"));
    let issuer = TrustedIssuer::builder(ISSUER)
        .jwks_uri(server.url("/jwks"))
        .any_audience()
        .build()
        .unwrap();
    let verifier = Verifier::builder().issuer(issuer).build().unwrap();
    let layer = RequireBearerLayer::new(verifier, ScopePolicy::allow_all());

    let request = with_token("POST", "/orders", &token("car-orders", "tires/orders.write"));
    let (response, calls) = call(layer.clone(), request).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = response.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "Retry-After: {retry_after}");
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none(), "not the caller's fault");
    assert_eq!(
        bearer_rejection(&response).kind(),
        BearerRejectionKind::Verify(VerifyErrorKind::JwksUnavailable)
    );
    assert_eq!(calls, 0);

    // gRPC: UNAVAILABLE.
    let request = grpc(with_token("POST", "/orders", &token("car-orders", "a")));
    let (response, _) = call(layer, request).await;
    assert_eq!(response.headers()["grpc-status"], "14");
}

#[tokio::test]
async fn grpc_requests_are_answered_with_grpc_statuses() {
    let write = token("car-orders", "tires/orders.write");
    let read = token("car-orders", "tires/orders.read");
    let cases = [
        (request("POST", "/orders").body(()).unwrap(), "16", "missing bearer token"),
        (with_token("POST", "/orders", "a.b.c"), "16", "invalid bearer token"),
        (with_token("POST", "/orders", &read), "7", "insufficient scope"),
        (with_token("DELETE", "/orders", &write), "7", "insufficient scope"),
        (with_token("POST", "/orders?access_token=x", &write), "3", "invalid bearer request"),
    ];
    for (request, code, message) in cases {
        let (response, calls) = call(bearer_layer(), grpc(request)).await;
        assert_eq!(response.status(), StatusCode::OK, "gRPC errors travel in a 200");
        assert_eq!(response.headers()["grpc-status"], code, "{message}");
        assert_eq!(response.headers()["grpc-message"], message);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/grpc");
        assert!(
            response.headers()[WWW_AUTHENTICATE].to_str().unwrap().starts_with("Bearer realm=")
        );
        assert_eq!(calls, 0);
    }
    let (response, calls) = call(bearer_layer(), grpc(with_token("POST", "/orders", &write))).await;
    assert_eq!(
        (response.status(), response.body().as_str(), calls),
        (StatusCode::OK, "car-orders", 1)
    );
    assert!(response.headers().get("grpc-status").is_none());
}

#[tokio::test]
async fn verified_claims_reach_the_inner_service() {
    let write = token("car-orders", "tires/orders.write");
    let (response, calls) = call(bearer_layer(), with_token("POST", "/orders", &write)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.into_body(), "car-orders");
    assert_eq!(calls, 1);
    // HEAD follows the GET route.
    let (response, _) = call(bearer_layer(), with_token("HEAD", "/orders/1", &write)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn unmatched_routes_are_refused_after_the_token_is_checked() {
    let write = token("car-orders", "tires/orders.write");
    // Anonymous callers cannot tell routes that exist from routes that do not.
    let (response, _) = call(bearer_layer(), request("GET", "/admin").body(()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (response, calls) = call(bearer_layer(), with_token("GET", "/admin", &write)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(challenge(&response), r#"Bearer realm="tires", error="insufficient_scope""#);
    assert_eq!(bearer_rejection(&response).kind(), BearerRejectionKind::NoRoute);
    assert_eq!(calls, 0);

    let open = ScopeRoutes::builder()
        .route("POST /orders", "tires/orders.write")
        .fallback(ScopePolicy::allow_all())
        .build()
        .unwrap();
    let layer = RequireBearerLayer::builder(verifier()).require(open).build().unwrap();
    let (response, calls) = call(layer, with_token("GET", "/admin", &write)).await;
    assert_eq!((response.status(), calls), (StatusCode::OK, 1));
}

#[test]
fn the_layer_refuses_a_configuration_without_scopes_or_with_a_bad_realm() {
    use b2b_auth_tower::ConfigError;
    let error = RequireBearerLayer::builder(verifier()).build().unwrap_err();
    assert_eq!(error, ConfigError::NoScopeRequirement);
    for realm in ["", "tires\n", "réseau"] {
        let error = RequireBearerLayer::builder(verifier())
            .realm(realm)
            .require(ScopePolicy::allow_all())
            .build()
            .unwrap_err();
        assert!(matches!(error, ConfigError::InvalidSetting { name: "realm", .. }), "{realm:?}");
    }
}

/// An inner service that must be polled ready before each call, on the same instance: clones
/// start unready, as tower's `Buffer` and `ConcurrencyLimit` handles do.
#[derive(Default)]
struct Strict {
    ready: bool,
}

impl Clone for Strict {
    fn clone(&self) -> Self {
        Self { ready: false }
    }
}

impl Service<Request<()>> for Strict {
    type Response = Response<String>;
    type Error = &'static str;
    type Future = std::future::Ready<Result<Response<String>, &'static str>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        let ready = std::mem::take(&mut self.ready);
        std::future::ready(if ready { Ok(Response::default()) } else { Err("called unready") })
    }
}

#[tokio::test]
async fn the_service_polled_ready_is_the_one_called() {
    let write = token("car-orders", "tires/orders.write");
    let service = bearer_layer().layer(Strict::default());
    let response = service.oneshot(with_token("POST", "/orders", &write)).await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
}

#[test]
fn layers_services_and_futures_are_clone_send_and_sync() {
    fn clone_send_sync<T: Clone + Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let bearer = bearer_layer().layer(Handler::default());
    let policy = EnforcePolicyLayer::new(allowlist()).layer(Handler::default());
    clone_send_sync(&bearer);
    clone_send_sync(&policy);
    send(&bearer.clone().call(Request::new(())));
    send(&policy.clone().call(Request::new(())));
}

fn allowlist() -> AccessGuard {
    let partner = IpSet::parse(["198.51.100.0/28"]).unwrap();
    AccessGuard::builder().ip_rule(IpRule::allow(partner)).build().unwrap()
}

fn policy_rejection(response: &Response<String>) -> &PolicyRejection {
    response.extensions().get::<PolicyRejection>().expect("a PolicyRejection in the extensions")
}

/// Answers with the allowing decision from the request extensions.
async fn decision_echo(request: Request<()>) -> Result<Response<String>, Infallible> {
    let decision = request.extensions().get::<Decision>().map(ToString::to_string);
    Ok(Response::new(decision.unwrap_or_default()))
}

#[tokio::test]
async fn allowlisted_peers_pass_with_the_decision_and_others_get_403() {
    let service =
        ServiceBuilder::new().layer(EnforcePolicyLayer::new(allowlist())).service_fn(decision_echo);
    let response = service.clone().oneshot(from_peer(Request::new(()), PARTNER)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.body(),
        "allow: ip rule allows the client, matched 198.51.100.0/28, client 198.51.100.3 (peer)"
    );

    let stranger = from_peer(Request::new(()), "203.0.113.9:40000");
    let response = service.clone().oneshot(stranger.clone()).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(WWW_AUTHENTICATE).is_none());
    let rejection = policy_rejection(&response);
    assert_eq!(rejection.kind(), PolicyRejectionKind::Denied);
    let decision = rejection.decision().unwrap();
    assert_eq!(decision.effect(), Effect::Deny);
    assert_eq!(decision.client_ip().unwrap().addr().to_string(), "203.0.113.9");

    let response = service.oneshot(grpc(stranger)).await.unwrap();
    assert_eq!(response.headers()["grpc-status"], "7");
    assert_eq!(response.headers()["grpc-message"], "access denied by policy");
}

#[tokio::test]
async fn a_request_without_peer_address_is_refused_with_500() {
    let (response, calls) = call(EnforcePolicyLayer::new(allowlist()), Request::new(())).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(policy_rejection(&response).kind(), PolicyRejectionKind::NoPeerAddress);
    assert_eq!(calls, 0);
    let (response, _) = call(EnforcePolicyLayer::new(allowlist()), grpc(Request::new(()))).await;
    assert_eq!(response.headers()["grpc-status"], "13");
}

#[tokio::test]
async fn behind_trusted_proxies_the_client_comes_from_x_forwarded_for() {
    let guard = AccessGuard::builder()
        .client_ip_source(ClientIpSource::TrustedProxies(TrustedProxies::new(
            IpSet::parse(["10.0.0.0/8"]).unwrap(),
        )))
        .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"]).unwrap()))
        .build()
        .unwrap();
    let service =
        ServiceBuilder::new().layer(EnforcePolicyLayer::new(guard)).service_fn(decision_echo);
    let via_proxy = |client: &str| {
        let request = request("GET", "/").header("x-forwarded-for", client).body(()).unwrap();
        from_peer(request, "10.0.0.5:33000")
    };
    let response = service.clone().oneshot(via_proxy("198.51.100.3")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().ends_with("client 198.51.100.3 (x-forwarded-for hop 0 of 1)"));
    let response = service.clone().oneshot(via_proxy("203.0.113.9")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    // A partner address from a peer that is not a trusted proxy is not believed.
    let spoofed = from_peer(
        request("GET", "/").header("x-forwarded-for", "198.51.100.3").body(()).unwrap(),
        "203.0.113.9:40000",
    );
    assert_eq!(service.oneshot(spoofed).await.unwrap().status(), StatusCode::FORBIDDEN);
}

fn manufacturer_only() -> AccessGuard {
    let api = Api::new("eu-west-1", "111122223333", "tires").unwrap().with_stage("prod").unwrap();
    let policy = ResourcePolicy::parse(
        r#"{"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "car-orders"}, "Action": "execute-api:Invoke",
             "Resource": "execute-api:/prod/POST/orders"},
            {"Effect": "Deny", "Principal": "*", "Action": "execute-api:Invoke", "Resource": "execute-api:/*",
             "Condition": {"NotIpAddress": {"aws:SourceIp": ["198.51.100.0/28"]}}}
        ]}"#,
        api,
    )
    .unwrap();
    AccessGuard::builder()
        .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"]).unwrap()))
        .resource_policy(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_resource_policy_sees_the_client_id_the_bearer_layer_verified() {
    let stack = || {
        ServiceBuilder::new()
            .layer(RequireBearerLayer::new(verifier(), ScopePolicy::allow_all()))
            .layer(EnforcePolicyLayer::new(manufacturer_only()))
            .service_fn(decision_echo)
    };
    let call = |client: &str, peer: &str| {
        from_peer(with_token("POST", "/orders", &token(client, "tires/orders.write")), peer)
    };
    let response = stack().oneshot(call("car-orders", PARTNER)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.body().starts_with("allow: explicit allow by statement #0"),
        "{}",
        response.body()
    );

    // Another verified client, from the right address: no statement allows it.
    let response = stack().oneshot(call("tire-orders", PARTNER)).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let decision = policy_rejection(&response).decision().unwrap();
    assert_eq!(
        decision.to_string(),
        "deny: no statement allows the request, matched 198.51.100.0/28, client 198.51.100.3 (peer)"
    );

    // The right client from elsewhere: the IP rule refuses it first.
    let response = stack().oneshot(call("car-orders", "203.0.113.9:1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);

    // With the policy first there is no verified principal yet: implicit deny.
    let reversed = ServiceBuilder::new()
        .layer(EnforcePolicyLayer::new(manufacturer_only()))
        .layer(RequireBearerLayer::new(verifier(), ScopePolicy::allow_all()))
        .service_fn(decision_echo);
    let response = reversed.oneshot(call("car-orders", PARTNER)).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn report_only_lets_denied_requests_through_and_says_so() {
    let guard = AccessGuard::builder()
        .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"]).unwrap()))
        .report_only(true)
        .build()
        .unwrap();
    let service =
        ServiceBuilder::new().layer(EnforcePolicyLayer::new(guard)).service_fn(decision_echo);
    let response = service.oneshot(from_peer(Request::new(()), "203.0.113.9:1")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.body().starts_with("deny (report-only): "), "{}", response.body());
}

/// Header bytes (visible ASCII, tab, obs-text), or a valid token.
fn credentials() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let byte = prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')];
    prop_oneof![
        proptest::collection::vec(byte, 0..48),
        Just(token("car-orders", "tires/orders.write").into_bytes()),
    ]
}

proptest::proptest! {
    /// Whatever the request — credentials, path, query, forwarding headers, peer — the stack
    /// answers, and only with a status it documents.
    #[test]
    fn any_request_gets_a_documented_answer_never_a_panic(
        scheme in proptest::sample::select(vec!["", "Bearer ", "bearer  ", "Basic "]),
        credentials in credentials(),
        path in proptest::prop_oneof!["/orders(/7)?", "(/[a-z0-9%.{}*]{0,6}){0,4}"],
        query in proptest::option::of("[a-z_%=&]{0,20}"),
        method in proptest::sample::select(vec!["GET", "POST", "HEAD", "DELETE", "PATCH"]),
        forwarded in proptest::option::of("[0-9a-f.:, \\[\\]]{0,30}"),
        peer in proptest::option::weighted(0.8, proptest::sample::select(vec![PARTNER, "10.0.0.5:1", "[::1]:2"])),
    ) {
        let mut value = scheme.as_bytes().to_vec();
        value.extend(credentials);
        let query = query.map(|q| format!("?{q}")).unwrap_or_default();
        let uri = format!("{}{query}", if path.is_empty() { "/" } else { &path });
        let (Ok(value), Ok(uri)) = (HeaderValue::from_bytes(&value), uri.parse::<http::Uri>()) else {
            return Ok(());
        };
        let mut request = Request::builder().method(method).uri(uri).header(AUTHORIZATION, value);
        if let Some(forwarded) = forwarded {
            request = request.header("x-forwarded-for", forwarded);
        }
        let mut request = request.body(()).unwrap();
        if let Some(peer) = peer {
            request.extensions_mut().insert(PeerAddr(peer.parse::<SocketAddr>().unwrap()));
        }
        let proxies = TrustedProxies::new(IpSet::parse(["10.0.0.0/8"]).unwrap());
        let guard = AccessGuard::builder()
            .client_ip_source(ClientIpSource::TrustedProxies(proxies))
            .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28", "10.0.0.0/8", "::1"]).unwrap()))
            .build()
            .unwrap();
        let stack = ServiceBuilder::new().layer(EnforcePolicyLayer::new(guard)).layer(bearer_layer());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (response, _) = runtime.block_on(call(stack, request));
        let status = response.status().as_u16();
        proptest::prop_assert!([200, 400, 401, 403, 500].contains(&status), "{status}");
    }
}
