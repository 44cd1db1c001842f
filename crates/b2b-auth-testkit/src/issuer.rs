//! Our own issuer, in-process, with the reference scenario's pool.

use b2b_auth_issuer::{Issuer, IssuerBuilder, IssuerServer, PoolConfig};
use secrecy::ExposeSecret as _;

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
        .map(|c| c.client_secret().expose_secret().to_owned())
        .unwrap_or_else(|| panic!("the sample pool has no client {client_id:?}"))
}

/// Starts `builder` on `127.0.0.1` and a free port.
///
/// # Panics
/// If it does not start.
pub async fn start_issuer(builder: IssuerBuilder) -> IssuerServer {
    builder.start_local().await.unwrap_or_else(|e| panic!("the issuer did not start: {e}"))
}

/// Starts the issuer with the sample pool on `127.0.0.1` and a free port.
///
/// # Panics
/// If it does not start.
pub async fn start_sample_issuer() -> IssuerServer {
    start_issuer(Issuer::builder(sample_pool())).await
}
