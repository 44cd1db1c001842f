//! `b2b-auth-issuer --config FILE --listen ADDR`: serves a pool until Ctrl-C.
//!
//! Prints the issuer URL on the first line of standard output, so that scripts can read it;
//! logs go to standard error (`RUST_LOG` filters them).

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use b2b_auth_issuer::{Issuer, PoolConfig};
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// A local OAuth2 client-credentials authorization server shaped like a Cognito user pool.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The pool configuration (TOML): resource servers, scopes, app clients.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The address to listen on; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            let mut source = std::error::Error::source(&*error);
            while let Some(cause) = source {
                tracing::error!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = PoolConfig::from_file(&args.config)?;
    let server = Issuer::builder(config).start(args.listen).await?;
    let issuer = server.issuer();
    #[allow(clippy::print_stdout)] // The URL on stdout is this binary's output.
    {
        println!("{}", issuer.url());
    }
    tracing::info!(
        token_endpoint = issuer.token_endpoint(),
        jwks_uri = issuer.jwks_uri(),
        discovery = issuer.discovery_url(),
        "ready; Ctrl-C stops"
    );
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}
