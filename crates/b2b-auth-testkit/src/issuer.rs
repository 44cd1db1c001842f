//! Our own issuer, in-process, with the reference scenario's pool.

use std::collections::BTreeSet;

use std::time::Duration;

use b2b_auth_issuer::{AppClient, Issuer, IssuerBuilder, IssuerServer, PoolConfig, ResourceServer};
use secrecy::ExposeSecret as _;
use serde_json::Value;

/// The text of `config/sample-pool.toml`: the car-orders and tire-orders resource servers and
/// clients of the reference scenario.
pub const SAMPLE_POOL_TOML: &str = include_str!("../../../config/sample-pool.toml");

/// The sample pool, parsed.
///
/// # Panics
/// If `config/sample-pool.toml` is invalid (this crate's tests check it is not).
pub fn sample_pool() -> PoolConfig {
    PoolConfig::from_toml_str(SAMPLE_POOL_TOML)
        .unwrap_or_else(|e| panic!("config/sample-pool.toml is invalid: {e}"))
}

/// The secret of a client of the sample pool (`car-orders`, `tire-orders`).
///
/// # Panics
/// If the sample pool has no such client.
pub fn sample_secret(client_id: &str) -> String {
    sample_pool()
        .clients()
        .iter()
        .find(|c| c.client_id() == client_id)
        .and_then(|c| c.client_secret().map(|s| s.expose_secret().to_owned()))
        .unwrap_or_else(|| panic!("the sample pool has no client {client_id:?}"))
}

/// Starts `builder` on `127.0.0.1` and a free port.
///
/// # Panics
/// If it does not start.
pub async fn start_issuer(builder: IssuerBuilder) -> IssuerServer {
    builder.start_local().await.unwrap_or_else(|e| panic!("the issuer did not start: {e}"))
}

/// The client secret of [`start_short_lived_issuer`]'s client.
pub const SHORT_LIVED_SECRET: &str = "short-lived-secret";

/// Starts an issuer whose one client, `car-orders` (secret [`SHORT_LIVED_SECRET`]), may have
/// `tires/orders.write`, and whose tokens live `validity` (whole seconds, at least one): for
/// refresh and expiry tests.
///
/// # Panics
/// If it does not start.
pub async fn start_short_lived_issuer(validity: Duration) -> IssuerServer {
    let pool = PoolConfig::new()
        .resource_server(
            ResourceServer::new("tires", "Tire orders API")
                .scope("orders.write", "Create tire orders"),
        )
        .client(
            AppClient::new("car-orders", SHORT_LIVED_SECRET)
                .allowed_scope("tires/orders.write")
                .access_token_validity(validity),
        );
    start_issuer(Issuer::builder(pool)).await
}

/// Starts the issuer with the sample pool on `127.0.0.1` and a free port.
///
/// # Panics
/// If it does not start.
pub async fn start_sample_issuer() -> IssuerServer {
    start_issuer(Issuer::builder(sample_pool())).await
}

/// Asserts that `claims` are exactly the claim set of a Cognito client-credentials access
/// token for `client_id`, `scope` and `issuer`, valid for `validity_secs`.
///
/// # Panics
/// On the first claim that differs, naming it.
pub fn assert_cognito_access_token(
    claims: &Value,
    issuer: &str,
    client_id: &str,
    scope: &str,
    validity_secs: u64,
) {
    let names: BTreeSet<&str> =
        claims.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default();
    let expected: BTreeSet<&str> = [
        "sub",
        "token_use",
        "scope",
        "auth_time",
        "iss",
        "exp",
        "iat",
        "version",
        "jti",
        "client_id",
    ]
    .into();
    assert_eq!(names, expected, "not Cognito's claim set: {claims}");
    let claim = |name: &str| claims.get(name).cloned().unwrap_or_default();
    assert_eq!(claim("sub"), client_id, "sub");
    assert_eq!(claim("client_id"), client_id, "client_id");
    assert_eq!(claim("token_use"), "access", "token_use");
    assert_eq!(claim("scope"), scope, "scope");
    assert_eq!(claim("iss"), issuer, "iss");
    assert_eq!(claim("version"), 2, "version");
    assert_eq!(claim("auth_time"), claim("iat"), "auth_time");
    let (iat, exp) = (claim("iat").as_u64().unwrap_or(0), claim("exp").as_u64().unwrap_or(0));
    assert_eq!(exp.saturating_sub(iat), validity_secs, "exp - iat");
    assert_eq!(claim("jti").as_str().map(str::len), Some(36), "jti is a UUID");
}
