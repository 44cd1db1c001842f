//! The demo's story: each step as it happens, with what was expected and what happened.

use std::fmt::Display;
use std::io::Write;
use std::time::Duration;

use car_orders::store::CarOrderStatus;

use crate::{Error, MANUFACTURER_EGRESS, OTHER_ADDRESS, Scenario};

/// How long a completion may take to reach car orders in the story.
const COMPLETION_WITHIN: Duration = Duration::from_secs(30);

/// What the story found: how many expectations were met, and how many not.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Outcome {
    /// Expectations met.
    pub passed: usize,
    /// Expectations missed.
    pub failed: usize,
}

impl Outcome {
    /// Whether every step behaved as expected.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// Counts the expectations met and missed, printing each.
struct Checks<'a, W: Write> {
    out: &'a mut W,
    outcome: Outcome,
}

impl<W: Write> Checks<'_, W> {
    fn step(&mut self, title: &str) -> std::io::Result<()> {
        writeln!(self.out, "\n{title}")
    }

    fn expect(&mut self, what: &str, ok: bool, detail: impl Display) -> std::io::Result<()> {
        let mark = if ok { '✓' } else { '✗' };
        if ok {
            self.outcome.passed += 1;
        } else {
            self.outcome.failed += 1;
        }
        writeln!(self.out, "   {mark} {what} — {detail}")
    }
}

/// Tells the reference scenario's story on a running [`Scenario`], writing it to `out`: two
/// car orders, their tires ordered with one shared token, the completion events delivered
/// with the supplier's own token, a replay changing nothing, then the refusals (another
/// address, a token without the scope, a wrong API key, an expired token).
///
/// # Errors
/// When a service cannot be reached or `out` cannot be written; a step that behaves
/// unexpectedly is counted in the [`Outcome`], not an error.
pub async fn tell(scenario: &Scenario, out: &mut impl Write) -> Result<Outcome, Error> {
    let issuer = scenario.issuer();
    writeln!(
        out,
        "b2b-auth demo — car orders (the manufacturer) orders tires from tire orders (the supplier)\n"
    )?;
    writeln!(out, "issuer        {}   (config/sample-pool.toml)", issuer.url())?;
    writeln!(
        out,
        "tire orders   {}   allowlist 127.0.0.2/32, scope tires/orders.write, API key",
        scenario.tire_orders_url()
    )?;
    writeln!(out, "car orders    {}   calls leave from 127.0.0.2", scenario.car_orders_url())?;
    let mut checks = Checks { out, outcome: Outcome::default() };

    checks.step("1. A customer orders a car; car orders orders its tires from the supplier")?;
    let first = scenario.create_car_order("Roadster").await?;
    checks.expect(
        "car order stored and tire order accepted",
        first.status == CarOrderStatus::TiresOrdered,
        format!(
            "car order {}: {:?}, tire order {}",
            first.id,
            first.status,
            first.tire_order_id.as_deref().or(first.last_error.as_deref()).unwrap_or("none")
        ),
    )?;
    let after_first = issuer.stats().tokens_issued;
    checks.expect(
        "car orders fetched one token for the supplier's API",
        after_first == 1,
        format!("{after_first} token(s) issued"),
    )?;

    checks.step("2. A second car order: the shared token is reused, not fetched again")?;
    let second = scenario.create_car_order("Estate").await?;
    checks.expect(
        "tire order accepted",
        second.status == CarOrderStatus::TiresOrdered,
        format!("car order {}: {:?}", second.id, second.status),
    )?;
    let after_second = issuer.stats().tokens_issued;
    checks.expect(
        "no new token",
        after_second == after_first,
        format!("{after_second} token(s) issued"),
    )?;

    checks.step("3. Tire orders completes both tire orders and calls back with its own token")?;
    let complete = CarOrderStatus::OrderComplete;
    let done = scenario.wait_for_status(&first.id, complete, COMPLETION_WITHIN).await;
    let other = scenario.wait_for_status(&second.id, complete, COMPLETION_WITHIN).await;
    checks.expect(
        "TireOrderCompleted delivered; both car orders complete",
        done.is_ok() && other.is_ok(),
        match (&done, &other) {
            (Ok(a), Ok(b)) => format!("{}: {:?}, {}: {:?}", a.id, a.status, b.id, b.status),
            (Err(error), _) | (_, Err(error)) => error.to_string(),
        },
    )?;
    let after_callbacks = issuer.stats().tokens_issued;
    checks.expect(
        "tire orders fetched one token (cars/orders.complete) for both callbacks",
        after_callbacks == after_second + 1,
        format!("{after_callbacks} token(s) issued"),
    )?;

    checks.step(
        "4. Tire orders replays the last minute's events, as after a bug at the manufacturer",
    )?;
    let completed_at = done.as_ref().ok().and_then(|order| order.completed_at);
    let scheduled = scenario.replay_recent(Duration::from_secs(60)).await?;
    let redelivered = scenario.wait_for_replays(&first.id, COMPLETION_WITHIN).await;
    let again = scenario.car_order(&first.id).await?;
    checks.expect(
        "events delivered again, the completion not applied twice",
        scheduled == 2 && redelivered.is_ok() && again.completed_at == completed_at,
        match redelivered {
            Ok(()) => format!("{scheduled} event(s) replayed; {} unchanged", first.id),
            Err(error) => error.to_string(),
        },
    )?;

    checks.step("5. Refusals at the supplier")?;
    let api_key = scenario.manufacturer_api_key();
    let write_token = scenario.token("car-orders", "tires/orders.write")?;
    let refused = scenario.call_tire_orders(OTHER_ADDRESS, &write_token, &api_key).await?;
    checks.expect(
        "a call from 127.0.0.3 is refused by the IP allowlist and resource policy",
        refused.status == 403,
        &refused,
    )?;

    let read_token = scenario.token("car-orders", "tires/orders.read")?;
    let refused = scenario.call_tire_orders(MANUFACTURER_EGRESS, &read_token, &api_key).await?;
    checks.expect(
        "a token without tires/orders.write is refused",
        refused.status == 403 && refused.challenge.contains("insufficient_scope"),
        &refused,
    )?;

    let refused =
        scenario.call_tire_orders(MANUFACTURER_EGRESS, &write_token, "not-the-api-key").await?;
    checks.expect("a wrong API key is refused", refused.status == 403, &refused)?;

    let expired = scenario.expired_token("car-orders", "tires/orders.write")?;
    let refused = scenario.call_tire_orders(MANUFACTURER_EGRESS, &expired, &api_key).await?;
    checks.expect(
        "an expired token is refused",
        refused.status == 401 && refused.challenge.contains("invalid_token"),
        &refused,
    )?;

    let Outcome { passed, failed } = checks.outcome;
    writeln!(checks.out, "\n{passed} of {} steps behaved as expected.", passed + failed)?;
    Ok(checks.outcome)
}
