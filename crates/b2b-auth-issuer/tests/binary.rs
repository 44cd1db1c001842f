//! The `b2b-auth-issuer` binary, driven as a user would: started with the sample pool, asked
//! for tokens with curl (basic and post authentication), its tokens checked by an independent
//! JWT library against its JWKS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use b2b_auth_testkit::{assert_cognito_access_token, jwt_parts, sample_secret, verify_with_jose};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

const BINARY: &str = env!("CARGO_BIN_EXE_b2b-auth-issuer");
const SAMPLE_POOL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/sample-pool.toml");

/// Starts the binary on a free port; returns it (killed on drop) and the URL it printed.
async fn start(config: &Path) -> (Child, String) {
    let mut child = Command::new(BINARY)
        .arg("--config")
        .arg(config)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the issuer printed its URL in time")
        .unwrap()
        .expect("the issuer printed its URL");
    (child, url)
}

async fn curl(args: &[&str]) -> Value {
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .await
        .expect("curl runs (scripts/install-test-deps installs it)");
    assert!(output.status.success(), "curl failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn check(url: &str, response: &Value, client_id: &str, scope: &str) {
    assert_eq!(response["token_type"], "Bearer", "{response}");
    let token = response["access_token"].as_str().unwrap();
    let (header, claims) = jwt_parts(token);
    assert_eq!(header["alg"], "RS256");
    assert_cognito_access_token(&claims, url, client_id, scope, 3600);
    let verified =
        verify_with_jose(token, &format!("{url}/.well-known/jwks.json"), url).await.unwrap();
    assert_eq!(verified.payload, claims);
    assert_eq!(verified.header["kid"], header["kid"]);
}

#[tokio::test]
async fn curl_gets_verifiable_tokens_with_basic_and_post_authentication() {
    let (_issuer, url) = start(Path::new(SAMPLE_POOL)).await;
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token_url = format!("{url}/oauth2/token");

    let credentials = format!("car-orders:{}", sample_secret("car-orders"));
    let basic = curl(&[
        "-u",
        &credentials,
        "-d",
        "grant_type=client_credentials",
        "-d",
        "scope=tires/orders.write",
        &token_url,
    ])
    .await;
    check(&url, &basic, "car-orders", "tires/orders.write").await;

    let secret = format!("client_secret={}", sample_secret("tire-orders"));
    let post = curl(&[
        "-d",
        "grant_type=client_credentials",
        "-d",
        "client_id=tire-orders",
        "-d",
        &secret,
        &token_url,
    ])
    .await;
    check(&url, &post, "tire-orders", "cars/orders.complete").await;
}

#[tokio::test]
async fn a_bad_config_stops_the_binary_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pool.toml");
    std::fs::write(
        &config,
        "[[clients]]\nclient_id = \"car-orders\"\nclient_secret = \"hunter2-secret\"\nallowed_scopes = [\"tires/orders.write\"]\n",
    )
    .unwrap();
    for path in [config.as_path(), &dir.path().join("missing.toml")] {
        let output = Command::new(BINARY).arg("--config").arg(path).output().await.unwrap();
        assert!(!output.status.success());
        assert!(output.stdout.is_empty(), "no URL printed");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("undefined scope \"tires/orders.write\"")
                || stderr.contains("cannot read pool config"),
            "{stderr}"
        );
        assert!(!stderr.contains("hunter2"), "{stderr}");
    }
}
