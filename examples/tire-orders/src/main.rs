//! `tire-orders serve [--config FILE]` runs the supplier's service;
//! `tire-orders replay --from TIME --to TIME [--config FILE]` schedules the events raised in
//! that range for delivery again (TIME: RFC 3339, or Unix milliseconds). Logs go to standard
//! error; `RUST_LOG` filters them (`b2b_auth::audit=debug` shows every decision).

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tire_orders::Config;
use tire_orders::store::Store;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(version, about = "The reference scenario's supplier: tire orders")]
struct Args {
    /// The configuration (TOML), e.g. `config/tire-orders.toml`; `TIRE_ORDERS_*` variables
    /// override parts of it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and run the completion and delivery jobs.
    Serve,
    /// Deliver the events raised in [from, to) again.
    Replay {
        /// Start of the range (RFC 3339 or Unix milliseconds).
        #[arg(long)]
        from: String,
        /// End of the range, exclusive.
        #[arg(long)]
        to: String,
    },
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
    // The API keys have no default: without them every order would be refused.
    let path = args.config.ok_or("--config FILE is required (see config/tire-orders.toml)")?;
    let config = Config::from_file(&path)?;
    match args.command {
        Command::Serve => {
            let listener = tokio::net::TcpListener::bind(config.listen).await?;
            tracing::info!(listen = %listener.local_addr()?, "tire orders listening");
            let app = tire_orders::app(config).await?;
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await?;
        }
        Command::Replay { from, to } => {
            let (from, to) = (time_ms(&from)?, time_ms(&to)?);
            let scheduled = Store::open(&config.database)?
                .replay(from, to, tire_orders::events::now_ms())
                .await?;
            #[allow(clippy::print_stdout)] // The count is this command's output.
            {
                println!("{scheduled} events scheduled for delivery");
            }
        }
    }
    Ok(())
}

/// RFC 3339, or Unix milliseconds.
fn time_ms(text: &str) -> Result<i64, Box<dyn std::error::Error>> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)?;
    Ok(i64::try_from(time.unix_timestamp_nanos() / 1_000_000)?)
}
