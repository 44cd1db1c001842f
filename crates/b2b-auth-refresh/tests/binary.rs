//! The `b2b-auth-refresh` binary as cron runs it: against our issuer, with the token stored in
//! a real Redis or, through the AWS SDK, in moto's SSM.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::path::Path;
use std::process::Output;

use b2b_auth_issuer::IssuerServer;
use b2b_auth_testkit::{MotoServer, RedisServer, sample_secret, start_sample_issuer};

const BINARY: &str = env!("CARGO_BIN_EXE_b2b-auth-refresh");

fn source(issuer: &IssuerServer) -> String {
    format!(
        r#"
        [source]
        token_url = "{}"
        client_id = "car-orders"
        client_secret_env = "TEST_CLIENT_SECRET"
        scopes = ["tires/orders.write"]
        allow_http_loopback = true
        "#,
        issuer.issuer().token_endpoint()
    )
}

async fn run(config: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("refresh.toml");
    std::fs::write(&path, config).unwrap();
    run_file(&path, env).await
}

async fn run_file(path: &Path, env: &[(&str, &str)]) -> Output {
    let mut command = tokio::process::Command::new(BINARY);
    command.arg("--config").arg(path).env_remove("RUST_LOG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().await.unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_runs_refresh_into_redis_once_then_leave_it() {
    let issuer = start_sample_issuer().await;
    let redis = RedisServer::start();
    let config = format!(
        "{}\n[store]\nkind = \"redis\"\nurl_env = \"TEST_REDIS_URL\"\nkey = \"tires-token\"\n",
        source(&issuer)
    );
    let secret = sample_secret("car-orders");
    let url = redis.url();
    let env = [("TEST_CLIENT_SECRET", secret.as_str()), ("TEST_REDIS_URL", url.as_str())];

    let first = run(&config, &env).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(stdout(&first).starts_with("refreshed: generation 1"), "{}", stdout(&first));
    let second = run(&config, &env).await;
    assert_eq!(second.status.code(), Some(0));
    assert!(stdout(&second).starts_with("still fresh: generation 1"), "{}", stdout(&second));
    assert_eq!(issuer.issuer().stats().token_requests, 1);

    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(!stderr.contains(&secret), "the secret leaked into the logs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_runs_refresh_into_ssm_through_the_aws_sdk() {
    let issuer = start_sample_issuer().await;
    let moto = MotoServer::start();
    let config = format!(
        "{}\n[store]\nkind = \"ssm\"\nparameter = \"/car-orders/tires-token\"\nregion = \"{}\"\nendpoint_url = \"{}\"\n",
        source(&issuer),
        MotoServer::REGION,
        moto.endpoint_url()
    );
    let secret = sample_secret("car-orders");
    let env = [
        ("TEST_CLIENT_SECRET", secret.as_str()),
        ("AWS_ACCESS_KEY_ID", MotoServer::ACCESS_KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", MotoServer::SECRET_ACCESS_KEY),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    let first = run(&config, &env).await;
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(stdout(&first).starts_with("refreshed: generation 1"), "{}", stdout(&first));
    let second = run(&config, &env).await;
    assert!(stdout(&second).starts_with("still fresh"), "{}", stdout(&second));
}

#[tokio::test]
async fn failures_and_mistakes_have_their_own_exit_codes() {
    let issuer = start_sample_issuer().await;
    // A wrong secret: the refresh fails (1), and says why without the secret.
    let redis = RedisServer::start();
    let config = format!(
        "{}\n[store]\nkind = \"redis\"\nurl_env = \"TEST_REDIS_URL\"\nkey = \"k\"\n",
        source(&issuer)
    );
    let refused = run(
        &config,
        &[("TEST_CLIENT_SECRET", "wrong-secret-value"), ("TEST_REDIS_URL", redis.url().as_str())],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("invalid_client"), "{stderr}");
    assert!(!stderr.contains("wrong-secret-value"), "{stderr}");

    // Configuration mistakes (2): a missing variable, a typo, a missing file.
    let missing_env = run(&config, &[]).await;
    assert_eq!(missing_env.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing_env.stderr).contains("TEST_CLIENT_SECRET"));
    let typo = run(&config.replace("client_id", "clientid"), &[]).await;
    assert_eq!(typo.status.code(), Some(2));
    let absent = run_file(Path::new("/nonexistent/refresh.toml"), &[]).await;
    assert_eq!(absent.status.code(), Some(2));
    assert!(stdout(&absent).is_empty());
}
