//! `b2b-auth-refresh --config FILE`: refresh the shared token if it needs it, then exit.
//!
//! Exit status: 0 when the stored token is fresh afterwards (refreshed, still fresh, or being
//! refreshed by another instance), 1 when the refresh failed, 2 for a configuration mistake.
//! One line on standard output says what happened; logs go to standard error.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use b2b_auth_refresh::Config;
use b2b_auth_token::RefreshOutcome;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Keeps one shared client-credentials token fresh in SSM Parameter Store or Redis.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The configuration (TOML): token source and store.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Keep running: refresh at each token's refresh point instead of once.
    #[arg(long = "loop")]
    keep_running: bool,
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
    let refresher = match Config::from_file(&args.config) {
        Ok(config) => config.refresher().await,
        Err(error) => Err(error),
    };
    let refresher = match refresher {
        Ok(refresher) => refresher,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::from(2);
        }
    };
    if args.keep_running {
        refresher.run().await;
        return ExitCode::SUCCESS;
    }
    match refresher.refresh_if_needed().await {
        Ok(outcome) => {
            #[allow(clippy::print_stdout)] // The summary line is this binary's output.
            {
                println!("{}", summary(&outcome));
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            tracing::error!(%error, source = ?std::error::Error::source(&error).map(ToString::to_string), "refresh failed");
            ExitCode::FAILURE
        }
    }
}

fn summary(outcome: &RefreshOutcome) -> String {
    let when = |time| httpdate::fmt_http_date(time);
    match outcome {
        RefreshOutcome::Refreshed { generation, expires_at, next_refresh } => format!(
            "refreshed: generation {generation}, expires {}, next refresh {}",
            when(*expires_at),
            when(*next_refresh)
        ),
        RefreshOutcome::StillFresh { generation, expires_at, next_refresh } => format!(
            "still fresh: generation {generation}, expires {}, next refresh {}",
            when(*expires_at),
            when(*next_refresh)
        ),
        RefreshOutcome::Locked { next_refresh } => {
            format!("another instance is refreshing; look again after {}", when(*next_refresh))
        }
        _ => format!("{outcome:?}"),
    }
}
