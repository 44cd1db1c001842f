//! A real axum server on loopback behind the layers — the supplier's IP allowlist, the bearer
//! layer with per-route scopes, the resource policy — called over HTTP by reqwest from two
//! loopback addresses, with tokens from our issuer; the client address comes from axum's
//! `ConnectInfo`, the claims reach the handlers through `VerifiedClaims`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::net::{IpAddr, SocketAddr};

use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Extension, Router};
use b2b_auth_issuer::{Endpoint, Fault, Issuer, IssuerServer};
use b2b_auth_jwt::{TrustedIssuer, Verifier};
use b2b_auth_policy::{AccessGuard, Api, Decision, IpRule, IpSet, ResourcePolicy};
use b2b_auth_testkit::{TestKey, jwt_parts, sample_pool, start_issuer};
use b2b_auth_tower::{EnforcePolicyLayer, RequireBearerLayer, ScopeRoutes, VerifiedClaims};
use http::StatusCode;
use serde_json::json;
use tower::ServiceBuilder;

/// The manufacturer's egress address; 127.0.0.3 stands for anyone else.
const EGRESS: &str = "127.0.0.2";
const STRANGER: &str = "127.0.0.3";

async fn create_order(VerifiedClaims(claims): VerifiedClaims) -> (StatusCode, String) {
    (StatusCode::CREATED, format!("created for {}", claims.client_id().unwrap_or("?")))
}

async fn get_order(
    Path(id): Path<u32>,
    claims: VerifiedClaims,
    Extension(decision): Extension<Decision>,
) -> String {
    let client = decision.client_ip().map(ToString::to_string).unwrap_or_default();
    format!("order {id} for {} from {client}", claims.client_id().unwrap_or("?"))
}

/// The tire-orders API of the reference scenario, protected as issue 8 stacks it.
fn app(issuer: &IssuerServer) -> Router {
    let trusted = TrustedIssuer::builder(issuer.issuer().url())
        .jwks_uri(issuer.issuer().jwks_uri())
        .token_use("access")
        .client_ids(["car-orders", "tire-orders"])
        .build()
        .unwrap();
    let verifier = Verifier::builder().issuer(trusted).build().unwrap();
    let routes = ScopeRoutes::builder()
        .route("POST /orders", "tires/orders.write")
        .route("GET /orders/{id}", "tires/orders.read")
        .build()
        .unwrap();
    let egress = IpSet::parse([EGRESS]).unwrap();
    let api = Api::new("eu-west-1", "111122223333", "tires").unwrap().with_stage("prod").unwrap();
    let policy = ResourcePolicy::parse(
        r#"{"Statement": {"Effect": "Allow", "Principal": {"AWS": "car-orders"},
            "Action": "execute-api:Invoke", "Resource": "execute-api:/prod/*/orders*"}}"#,
        api,
    )
    .unwrap();
    let protected = Router::new()
        .route("/orders", post(create_order))
        .route("/orders/{id}", get(get_order))
        .layer(
            ServiceBuilder::new()
                .layer(EnforcePolicyLayer::new(
                    AccessGuard::builder().ip_rule(IpRule::allow(egress)).build().unwrap(),
                ))
                .layer(
                    RequireBearerLayer::builder(verifier)
                        .realm("tire-orders")
                        .require(routes)
                        .build()
                        .unwrap(),
                )
                .layer(EnforcePolicyLayer::new(
                    AccessGuard::builder().resource_policy(policy).build().unwrap(),
                )),
        );
    // A route someone forgot to protect: the extractor refuses to make up claims.
    protected.route(
        "/forgotten",
        get(|claims: VerifiedClaims| async move { claims.issuer().to_owned() }),
    )
}

/// Serves `app` on 127.0.0.1 with the peer address of each connection, until the test ends.
async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let addr = listener.local_addr().unwrap();
    let service = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(
        async move { axum::serve(listener, service).await.expect("the axum server failed") },
    );
    addr
}

/// A client whose connections leave from `source`.
fn client(source: &str) -> reqwest::Client {
    let source: IpAddr = source.parse().unwrap();
    reqwest::Client::builder().local_address(source).build().unwrap()
}

struct Setup {
    issuer: IssuerServer,
    url: String,
}

impl Setup {
    async fn start() -> Self {
        // Our fixed RSA key signs, so that the tests can also sign an expired token.
        let builder = Issuer::builder(sample_pool()).signing_key(TestKey::RSA.issuer_signing_key());
        let issuer = start_issuer(builder).await;
        let url = format!("http://{}", serve(app(&issuer)).await);
        Self { issuer, url }
    }

    fn token(&self, client: &str, scope: &str) -> String {
        self.issuer.issuer().issue_token(client, Some(scope)).unwrap().access_token().to_owned()
    }

    async fn post(&self, from: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = client(from).post(format!("{}/orders", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("the server answers")
    }
}

fn challenge(response: &reqwest::Response) -> &str {
    response.headers().get("www-authenticate").map_or("", |v| v.to_str().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partner_gets_through_with_its_scopes_from_its_egress_address() {
    let setup = Setup::start().await;
    let write = setup.token("car-orders", "tires/orders.write tires/orders.read");

    let response = setup.post(EGRESS, Some(&write)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.text().await.unwrap(), "created for car-orders");

    let response = client(EGRESS)
        .get(format!("{}/orders/42", setup.url))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "order 42 for car-orders from 127.0.0.2 (peer)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_follow_rfc6750_and_the_allowlist() {
    let setup = Setup::start().await;

    let response = setup.post(EGRESS, None).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&response), r#"Bearer realm="tire-orders""#);

    let read = setup.token("car-orders", "tires/orders.read");
    let response = setup.post(EGRESS, Some(&read)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        challenge(&response),
        r#"Bearer realm="tire-orders", error="insufficient_scope", scope="tires/orders.write""#
    );

    // The manufacturer's own token, signed by the issuer, but expired an hour ago.
    let (_, mut claims) = jwt_parts(&setup.token("car-orders", "tires/orders.write"));
    let exp = claims["exp"].as_u64().unwrap();
    claims["exp"] = json!(exp - 7200);
    claims["iat"] = json!(exp - 10800);
    let response = setup.post(EGRESS, Some(&TestKey::RSA.sign(&claims))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        challenge(&response),
        r#"Bearer realm="tire-orders", error="invalid_token", error_description="token expired""#
    );

    // A valid token from an address outside the allowlist: refused before the token is read.
    let write = setup.token("car-orders", "tires/orders.write");
    let response = setup.post(STRANGER, Some(&write)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(challenge(&response), "", "a policy refusal is not a bearer challenge");

    // The supplier's own client may not place tire orders: its token lacks the scope.
    let other = setup.token("tire-orders", "cars/orders.complete");
    let response = setup.post(EGRESS, Some(&other)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_unavailable_is_503_with_retry_after() {
    let setup = Setup::start().await;
    // The server has not fetched the issuer's keys yet, and the JWKS endpoint fails.
    setup.issuer.issuer().inject_fault(Endpoint::Jwks, Fault::status(StatusCode::BAD_GATEWAY));
    let write = setup.token("car-orders", "tires/orders.write");
    let response = setup.post(EGRESS, Some(&write)).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_without_the_layer_gets_no_claims_but_a_500() {
    let setup = Setup::start().await;
    let write = setup.token("car-orders", "tires/orders.write");
    let response = client(EGRESS)
        .get(format!("{}/forgotten", setup.url))
        .bearer_auth(&write)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
