//! `cargo run -p b2b-demo`: the reference scenario on this machine, no cloud account.
//!
//! Starts the issuer, tire orders and car orders on loopback, creates car orders and tells
//! the story as it happens — one token fetched and shared, the tire order accepted from the
//! manufacturer's egress address, the completion event delivered with the supplier's own
//! token, the car order complete, a replay that changes nothing — then shows the refusals.
//! Exits 0 when every step behaved as expected, 1 otherwise. `--serve` keeps the services
//! running afterwards, for your own calls. `RUST_LOG=info` (or `b2b_auth::audit=debug`)
//! shows the services' logs, including every allow/deny decision.

use std::io::{IsTerminal as _, Write};
use std::process::ExitCode;

use b2b_demo::{Error, Options, Scenario, story};
use clap::Parser;
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    about = "The reference scenario on this machine: car orders, tire orders and a local issuer"
)]
struct Args {
    /// Keep the services running after the story, until Ctrl-C.
    #[arg(long)]
    serve: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(&args, &mut std::io::stdout()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            tracing::error!("demo failed: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args, out: &mut impl Write) -> Result<bool, Error> {
    let scenario = Scenario::start(Options::default()).await?;
    let outcome = story::tell(&scenario, out).await?;
    if args.serve {
        let car_orders = scenario.car_orders_url();
        writeln!(out, "\nThe services keep running until Ctrl-C. Try:")?;
        writeln!(
            out,
            "  curl -s -X POST {car_orders}orders -H 'content-type: application/json' -d '{{\"model\":\"Coupe\"}}'"
        )?;
        writeln!(out, "  curl -s {car_orders}orders/ID")?;
        writeln!(
            out,
            "  curl -si -X POST {}orders   # 403: 127.0.0.1 is not the manufacturer's egress",
            scenario.tire_orders_url()
        )?;
        out.flush()?;
        tokio::signal::ctrl_c().await?;
    }
    Ok(outcome.all_passed())
}
