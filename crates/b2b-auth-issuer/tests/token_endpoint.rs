//! The token, JWKS and discovery endpoints over real HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::collections::BTreeSet;
use std::time::Duration;

use b2b_auth_issuer::{AppClient, BasicAuthEncoding, Issuer, PoolConfig, ResourceServer};
use b2b_auth_testkit::{
    ManualClock, assert_cognito_access_token, jwt_parts, sample_pool, sample_secret, start_issuer,
    start_sample_issuer,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CAR_ORDERS: &str = "car-orders";

fn form(scope: Option<&str>) -> Vec<(&'static str, String)> {
    let mut form = vec![("grant_type", "client_credentials".to_owned())];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_owned()));
    }
    form
}

async fn post_basic(issuer: &Issuer, id: &str, secret: &str, scope: Option<&str>) -> Response {
    reqwest::Client::new()
        .post(issuer.token_endpoint())
        .basic_auth(id, Some(secret))
        .form(&form(scope))
        .send()
        .await
        .unwrap()
}

async fn post_form(issuer: &Issuer, fields: &[(&str, &str)]) -> Response {
    reqwest::Client::new().post(issuer.token_endpoint()).form(fields).send().await.unwrap()
}

/// Verifies a token's signature and registered claims against the issuer's live JWKS.
async fn verify(issuer: &Issuer, token: &str) -> Value {
    let jwks: JwkSet = reqwest::get(issuer.jwks_uri()).await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    let jwk = jwks.find(&kid).expect("the token's kid is in the JWKS");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer.url()]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

fn assert_no_store(response: &Response) {
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
}

async fn assert_token_response(issuer: &Issuer, response: Response, scope: &str) -> Value {
    assert_eq!(response.status(), StatusCode::OK);
    assert_no_store(&response);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], scope);
    let token = body["access_token"].as_str().unwrap();

    let (header, claims) = jwt_parts(token);
    assert_eq!(header, serde_json::json!({ "alg": "RS256", "kid": issuer.signing_kid() }));
    assert_cognito_access_token(&claims, issuer.url(), CAR_ORDERS, scope, 3600);
    assert_eq!(verify(issuer, token).await, claims);
    claims
}

#[tokio::test]
async fn client_secret_basic_issues_a_cognito_shaped_token() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let response =
        post_basic(issuer, CAR_ORDERS, &sample_secret(CAR_ORDERS), Some("tires/orders.write"))
            .await;
    assert_token_response(issuer, response, "tires/orders.write").await;
}

#[tokio::test]
async fn client_secret_post_issues_a_cognito_shaped_token() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let secret = sample_secret(CAR_ORDERS);
    let response = post_form(
        issuer,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CAR_ORDERS),
            ("client_secret", &secret),
            ("scope", "tires/orders.read tires/orders.write"),
        ],
    )
    .await;
    let claims =
        assert_token_response(issuer, response, "tires/orders.read tires/orders.write").await;

    // Every token has its own jti.
    let again = post_basic(issuer, CAR_ORDERS, &secret, None).await.json::<Value>().await.unwrap();
    let (_, again) = jwt_parts(again["access_token"].as_str().unwrap());
    assert_ne!(again["jti"], claims["jti"]);
}

#[tokio::test]
async fn an_absent_scope_grants_every_allowed_scope() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let response = post_basic(issuer, CAR_ORDERS, &sample_secret(CAR_ORDERS), None).await;
    assert_token_response(issuer, response, "tires/orders.read tires/orders.write").await;
}

/// Expected status and `error` of a refused request.
async fn assert_refused(response: Response, status: StatusCode, error: &str) {
    assert_eq!(response.status(), status);
    assert_no_store(&response);
    let challenge = response.headers().get("www-authenticate").cloned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
    if error == "invalid_client" {
        let challenge = challenge.expect("invalid_client comes with WWW-Authenticate");
        assert!(challenge.to_str().unwrap().starts_with("Basic realm="));
    }
}

#[tokio::test]
async fn bad_requests_get_rfc6749_errors() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let secret = sample_secret(CAR_ORDERS);
    let cc = ("grant_type", "client_credentials");
    let client = reqwest::Client::new();
    let (bad, unauthorized) = (StatusCode::BAD_REQUEST, StatusCode::UNAUTHORIZED);

    // Client authentication.
    assert_refused(post_form(issuer, &[cc]).await, unauthorized, "invalid_client").await;
    assert_refused(
        post_basic(issuer, CAR_ORDERS, "wrong", None).await,
        unauthorized,
        "invalid_client",
    )
    .await;
    assert_refused(
        post_basic(issuer, "nobody", &secret, None).await,
        unauthorized,
        "invalid_client",
    )
    .await;
    let unknown = post_form(issuer, &[cc, ("client_id", "nobody"), ("client_secret", "x")]).await;
    assert_refused(unknown, unauthorized, "invalid_client").await;
    let secret_only = post_form(issuer, &[cc, ("client_secret", &secret)]).await;
    assert_refused(secret_only, bad, "invalid_request").await;
    let both = client
        .post(issuer.token_endpoint())
        .basic_auth(CAR_ORDERS, Some(&secret))
        .form(&[cc, ("client_id", CAR_ORDERS), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_refused(both, bad, "invalid_request").await;
    let bearer =
        client.post(issuer.token_endpoint()).bearer_auth("abc").form(&[cc]).send().await.unwrap();
    assert_refused(bearer, unauthorized, "invalid_client").await;

    // Grant type.
    let auth = [("client_id", CAR_ORDERS), ("client_secret", secret.as_str())];
    assert_refused(post_form(issuer, &auth).await, bad, "invalid_request").await;
    let password = post_form(issuer, &[auth[0], auth[1], ("grant_type", "password")]).await;
    assert_refused(password, bad, "unsupported_grant_type").await;

    // Scopes: another client's, undefined, malformed.
    for scope in
        ["cars/orders.complete", "tires/orders.delete", "tires/orders.write  tires/orders.read", ""]
    {
        let response = post_basic(issuer, CAR_ORDERS, &secret, Some(scope)).await;
        assert_refused(response, bad, "invalid_scope").await;
    }

    // Malformed requests.
    let json = client
        .post(issuer.token_endpoint())
        .basic_auth(CAR_ORDERS, Some(&secret))
        .json(&serde_json::json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    assert_refused(json, bad, "invalid_request").await;
    let repeated = client
        .post(issuer.token_endpoint())
        .basic_auth(CAR_ORDERS, Some(&secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_refused(repeated, bad, "invalid_request").await;
    let garbage = client
        .post(issuer.token_endpoint())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff, b'%', b'&', b'=', 0x00, b'%', b'z'])
        .send()
        .await
        .unwrap();
    assert_refused(garbage, unauthorized, "invalid_client").await;
    let huge = client
        .post(issuer.token_endpoint())
        .basic_auth(CAR_ORDERS, Some(&secret))
        .form(&[cc, ("padding", &"x".repeat(64 * 1024))])
        .send()
        .await
        .unwrap();
    assert_refused(huge, StatusCode::PAYLOAD_TOO_LARGE, "invalid_request").await;

    let get = client.get(issuer.token_endpoint()).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);

    assert_eq!(issuer.stats().tokens_issued, 0, "nothing above earned a token");
}

#[tokio::test]
async fn an_oversized_chunked_body_is_refused_without_content_length() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let mut stream = tokio::net::TcpStream::connect(issuer.local_addr()).await.unwrap();
    let chunk = "a".repeat(8 * 1024);
    let mut request = String::from(
        "POST /oauth2/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for _ in 0..4 {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    // The server may answer and close before reading everything.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("\"invalid_request\""), "{response}");
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded_unless_configured_raw() {
    const SECRET: &str = "p+ss%2Fw:rd";
    let pool = |encoding| {
        PoolConfig::new()
            .resource_server(ResourceServer::new("tires", "").scope("orders.write", ""))
            .client(AppClient::new(CAR_ORDERS, SECRET).allowed_scope("tires/orders.write"))
            .basic_auth_encoding(encoding)
    };
    let encoded: String = form_urlencoded::byte_serialize(SECRET.as_bytes()).collect();

    let rfc = start_issuer(Issuer::builder(pool(BasicAuthEncoding::FormUrlEncoded))).await;
    assert_eq!(post_basic(rfc.issuer(), CAR_ORDERS, &encoded, None).await.status(), StatusCode::OK);
    assert_eq!(
        post_basic(rfc.issuer(), CAR_ORDERS, SECRET, None).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let raw = start_issuer(Issuer::builder(pool(BasicAuthEncoding::Raw))).await;
    assert_eq!(post_basic(raw.issuer(), CAR_ORDERS, SECRET, None).await.status(), StatusCode::OK);
    assert_eq!(
        post_basic(raw.issuer(), CAR_ORDERS, &encoded, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn discovery_and_jwks_describe_the_issuer() {
    let server = start_sample_issuer().await;
    let issuer = server.issuer();
    let discovery: Value =
        reqwest::get(issuer.discovery_url()).await.unwrap().json().await.unwrap();
    assert_eq!(discovery["issuer"], issuer.url());
    assert_eq!(discovery["token_endpoint"], issuer.token_endpoint());
    assert_eq!(discovery["jwks_uri"], issuer.jwks_uri());
    assert_eq!(discovery["grant_types_supported"], serde_json::json!(["client_credentials"]));
    assert_eq!(
        discovery["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    let scopes = discovery["scopes_supported"].as_array().unwrap();
    assert_eq!(scopes.len(), 5);
    assert!(scopes.contains(&"cars/orders.complete".into()));

    let response = reqwest::get(issuer.jwks_uri()).await.unwrap();
    assert_eq!(response.headers()["content-type"], "application/json");
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = keys[0].as_object().unwrap();
    assert_eq!(key["kid"], issuer.signing_kid().as_str());
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["use"], "sig");
    let members: BTreeSet<&str> = key.keys().map(String::as_str).collect();
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"].into(), "public members only");

    let stats = issuer.stats();
    assert_eq!((stats.discovery_requests, stats.jwks_requests, stats.token_requests), (1, 1, 0));
}

#[tokio::test]
async fn an_issuer_url_with_a_path_serves_under_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/us-east-1_pool", listener.local_addr().unwrap());
    let server = Issuer::builder(sample_pool().issuer(&url)).start_on(listener).unwrap();
    let issuer = server.issuer();
    assert_eq!(issuer.url(), url);
    assert_eq!(issuer.token_endpoint(), format!("{url}/oauth2/token"));
    let discovery: Value = reqwest::get(format!("{url}/.well-known/openid-configuration"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(discovery["issuer"], url);
    let response = post_basic(issuer, CAR_ORDERS, &sample_secret(CAR_ORDERS), None).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(verify(issuer, body["access_token"].as_str().unwrap()).await["iss"], url);
    let root = reqwest::get(format!("http://{}/.well-known/jwks.json", issuer.local_addr()))
        .await
        .unwrap();
    assert_eq!(root.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn times_come_from_the_injected_clock_and_the_client_validity() {
    let clock = ManualClock::at_unix(1_800_000_000);
    let config = PoolConfig::new()
        .resource_server(ResourceServer::new("tires", "").scope("orders.write", ""))
        .client(
            AppClient::new(CAR_ORDERS, "secret")
                .allowed_scope("tires/orders.write")
                .access_token_validity(Duration::from_secs(5)),
        );
    let server = start_issuer(Issuer::builder(config).clock(clock.clone())).await;
    let issuer = server.issuer();
    let body: Value = post_basic(issuer, CAR_ORDERS, "secret", None).await.json().await.unwrap();
    assert_eq!(body["expires_in"], 5);
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(
        (claims["iat"].as_u64(), claims["exp"].as_u64()),
        (Some(1_800_000_000), Some(1_800_000_005))
    );

    clock.advance(Duration::from_secs(100));
    let direct = issuer.issue_token(CAR_ORDERS, Some("tires/orders.write")).unwrap();
    let (_, claims) = jwt_parts(direct.access_token());
    assert_eq!(claims["iat"].as_u64(), Some(1_800_000_100));
    assert_eq!(issuer.stats().tokens_issued, 2);
    assert_eq!(issuer.stats().token_requests, 1, "issue_token bypasses HTTP");
    assert!(issuer.issue_token("nobody", None).is_err());
}
