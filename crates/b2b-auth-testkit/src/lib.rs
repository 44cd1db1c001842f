//! Test helpers for b2b-auth (unpublished): real servers on loopback ports, fixed test keys,
//! a manual clock.
//!
//! Every server binds `127.0.0.1` and a free port, and stops when its handle is dropped:
//! - [`RedisServer`]: Debian's `redis-server`;
//! - [`MotoServer`]: the `moto` AWS emulator (SSM Parameter Store, Cognito, IAM);
//! - [`OAuth2MockServer`]: npm's `oauth2-mock-server`, a third-party token server with token
//!   shaping and fault injection;
//! - our own issuer, in-process: [`start_sample_issuer`], [`start_issuer`];
//! - [`JwksServer`]: JWKS and discovery endpoints that misbehave on request ([`Canned`]);
//! - [`MotoCognitoPool`]: a Cognito user pool in moto that mints access tokens.
//!
//! And [`capture_logs`] / [`capture_logs_async`]: the `tracing` events a test caused.
//!
//! `scripts/install-test-deps` installs the external ones (the README test command runs it).
//! When one is missing, the helper panics with a message naming that command: a test that
//! needs a server fails, it never skips.
//!
//! The helpers panic rather than return errors: they run inside tests, where a panic with a
//! clear message is the failure report.
#![allow(clippy::panic)]

mod clock;
mod cognito;
mod issuer;
mod jwks_server;
mod keys;
mod logs;

mod moto;
mod node;
mod oauth2_mock;
mod process;
mod redis;

use std::path::PathBuf;

pub use clock::ManualClock;
pub use cognito::MotoCognitoPool;
pub use issuer::{
    SAMPLE_POOL_TOML, SHORT_LIVED_SECRET, assert_cognito_access_token, sample_pool, sample_secret,
    start_issuer, start_sample_issuer, start_short_lived_issuer,
};
pub use jwks_server::{Canned, JwksServer};
pub use keys::{TestKey, jwks, jwt_parts};
pub use logs::{capture_logs, capture_logs_async};
pub use moto::MotoServer;
pub use node::{JoseVerified, verify_with_jose};
pub use oauth2_mock::{MockFault, OAuth2MockServer};
pub use process::free_port;
pub use redis::{RedisServer, RedisServerBuilder};

/// Where `scripts/install-test-deps` puts moto's venv and oauth2-mock-server:
/// `$B2B_AUTH_TEST_DEPS`, else `target/test-deps` in the workspace.
pub fn deps_dir() -> PathBuf {
    match std::env::var_os("B2B_AUTH_TEST_DEPS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/test-deps"),
    }
}

/// The files of a committed fuzz corpus (`fuzz/corpus/<target>/`), sorted by name, for tests
/// that replay every input a fuzz target once found through the same entry point, so that a
/// crash once fixed stays fixed.
///
/// # Panics
/// If the folder is missing or empty.
pub fn fuzz_corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<(PathBuf, Vec<u8>)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .map(|path| {
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path, data)
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty fuzz corpus {}", dir.display());
    files
}
