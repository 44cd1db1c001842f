//! `private_key_jwt` client authentication (RFC 7523): the issuer verifies assertions with the
//! client's registered public key and refuses every malformed, misdirected, stale or replayed
//! one with `invalid_client`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use b2b_auth_issuer::{AppClient, Issuer, IssuerServer, PoolConfig, ResourceServer};
use b2b_auth_testkit::{ManualClock, TestKey, start_issuer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const NOW: u64 = 1_800_000_000;

async fn issuer() -> IssuerServer {
    let pool = PoolConfig::new()
        .resource_server(ResourceServer::new("tires", "").scope("orders.write", ""))
        .client(
            AppClient::with_public_jwk("ec-client", TestKey::P256.public_jwk_json())
                .allowed_scope("tires/orders.write"),
        )
        .client(
            AppClient::with_public_jwk("rsa-client", unpinned(TestKey::RSA))
                .allowed_scope("tires/orders.write"),
        )
        .client(
            AppClient::with_public_jwk("rsa-pinned", TestKey::RSA.public_jwk_json())
                .allowed_scope("tires/orders.write"),
        )
        .client(
            AppClient::with_public_jwk("ed-client", TestKey::ED25519.public_jwk_json())
                .allowed_scope("tires/orders.write"),
        )
        .client(AppClient::new("secret-client", "s3cret").allowed_scope("tires/orders.write"));
    start_issuer(Issuer::builder(pool).clock(ManualClock::at_unix(NOW))).await
}

/// The key's JWK without `alg`: any algorithm that fits the key type.
fn unpinned(key: TestKey) -> Value {
    let mut jwk = key.public_jwk_json();
    jwk.as_object_mut().unwrap().remove("alg");
    jwk
}

fn claims(client: &str, aud: &str) -> Value {
    json!({ "iss": client, "sub": client, "aud": aud, "iat": NOW, "exp": NOW + 60, "jti": uuid::Uuid::new_v4().to_string() })
}

async fn post(server: &IssuerServer, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .post(server.issuer().token_endpoint())
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn with_assertion(
    server: &IssuerServer,
    client_id: Option<&str>,
    assertion: &str,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    post(server, &form).await
}

#[tokio::test]
async fn valid_assertions_authenticate_each_key_type() {
    let server = issuer().await;
    let token_endpoint = server.issuer().token_endpoint();
    for (client, key) in [
        ("ec-client", TestKey::P256),
        ("rsa-client", TestKey::RSA),
        ("ed-client", TestKey::ED25519),
    ] {
        let assertion = key.sign(&claims(client, &token_endpoint));
        let (status, body) = with_assertion(&server, Some(client), &assertion).await;
        assert_eq!(status, StatusCode::OK, "{client}: {body}");
        assert_eq!(body["scope"], "tires/orders.write");
    }
    // The client may be named by the assertion alone, and `aud` may be the issuer.
    let assertion = TestKey::P256.sign(&claims("ec-client", server.issuer().url()));
    assert_eq!(with_assertion(&server, None, &assertion).await.0, StatusCode::OK);
    // PS256 with an RSA key.
    let mut header = Header::new(Algorithm::PS256);
    header.kid = Some("k".into());
    let assertion = TestKey::RSA.sign_with_header(&header, &claims("rsa-client", &token_endpoint));
    assert_eq!(with_assertion(&server, Some("rsa-client"), &assertion).await.0, StatusCode::OK);
    // A JWK with `alg` pins the algorithm: the same PS256 assertion is refused.
    let assertion = TestKey::RSA.sign_with_header(&header, &claims("rsa-pinned", &token_endpoint));
    assert_eq!(
        with_assertion(&server, Some("rsa-pinned"), &assertion).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn bad_assertions_are_refused_as_invalid_client() {
    let server = issuer().await;
    let aud = server.issuer().token_endpoint();
    let refused = |(status, body): (StatusCode, Value)| {
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "invalid_client");
    };
    let with = |changes: Value| {
        let mut claims = claims("ec-client", &aud);
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    };

    // Signed by another key.
    refused(
        with_assertion(&server, Some("ec-client"), &TestKey::ED25519.sign(&with(json!({})))).await,
    );
    // Misdirected, expired, too long-lived, from the future, without jti, for someone else.
    for changes in [
        json!({ "aud": "https://elsewhere.example/token" }),
        json!({ "exp": NOW - 120 }),
        json!({ "exp": NOW + 3600 }),
        json!({ "iat": NOW + 600 }),
        json!({ "jti": null }),
        json!({ "exp": null }),
        json!({ "sub": "rsa-client" }),
        json!({ "iss": "rsa-client" }),
    ] {
        let assertion = TestKey::P256.sign(&with(changes.clone()));
        refused(with_assertion(&server, Some("ec-client"), &assertion).await);
    }
    // Replayed.
    let once = TestKey::P256.sign(&with(json!({})));
    assert_eq!(with_assertion(&server, Some("ec-client"), &once).await.0, StatusCode::OK);
    refused(with_assertion(&server, Some("ec-client"), &once).await);
    // HS256 keyed with the public key (algorithm confusion), and alg none.
    let public = serde_json::to_vec(&TestKey::RSA.public_jwk_json()).unwrap();
    let confused = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims("rsa-client", &aud),
        &EncodingKey::from_secret(&public),
    )
    .unwrap();
    refused(with_assertion(&server, Some("rsa-client"), &confused).await);
    let unsigned =
        format!("{}.{}.", b64(&json!({ "alg": "none" })), b64(&claims("ec-client", &aud)));
    refused(with_assertion(&server, Some("ec-client"), &unsigned).await);
    // A client without a registered key, an unknown client, garbage.
    refused(
        with_assertion(
            &server,
            Some("secret-client"),
            &TestKey::P256.sign(&claims("secret-client", &aud)),
        )
        .await,
    );
    refused(
        with_assertion(&server, Some("nobody"), &TestKey::P256.sign(&claims("nobody", &aud))).await,
    );
    refused(with_assertion(&server, None, "not.a.jwt").await);
    // A wrong assertion type.
    let assertion = TestKey::P256.sign(&claims("ec-client", &aud));
    refused(
        post(
            &server,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", "urn:other"),
                ("client_assertion", &assertion),
            ],
        )
        .await,
    );
    // Two methods at once is a malformed request.
    let (status, body) = post(
        &server,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "secret-client"),
            ("client_secret", "s3cret"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    assert_eq!(server.issuer().stats().tokens_issued, 1, "only the first use of `once`");
}

fn b64(value: &Value) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn discovery_lists_private_key_jwt() {
    let server = issuer().await;
    let discovery: Value =
        reqwest::get(server.issuer().discovery_url()).await.unwrap().json().await.unwrap();
    let methods = discovery["token_endpoint_auth_methods_supported"].as_array().unwrap();
    assert!(methods.contains(&json!("private_key_jwt")));
}
