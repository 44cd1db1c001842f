//! `car-orders serve [--config FILE]` runs the manufacturer's service. Logs go to standard
//! error; `RUST_LOG` filters them (`b2b_auth::audit=debug` shows every decision).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use car_orders::Config;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(version, about = "The reference scenario's manufacturer: car orders")]
struct Args {
    /// The configuration (TOML); without it, local defaults and `CAR_ORDERS_*` variables.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API.
    Serve,
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
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let config = match &args.config {
        Some(path) => Config::from_file(path)?,
        None => Config::from_toml("")?.with_env()?,
    };
    match args.command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            tracing::info!(listen = %listener.local_addr()?, "car orders listening");
            let app = car_orders::app(config).await?;
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await?;
        }
    }
    Ok(())
}
