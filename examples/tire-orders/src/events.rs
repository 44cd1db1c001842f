//! The scheduled jobs: completing due tire orders (raising `TireOrderCompleted`), and
//! delivering events to the manufacturer's callback, the EventBridge API-destination way:
//! an authenticated call, retried with exponential back-off and jitter on the answers
//! EventBridge retries (5xx, 401, 407, 409, 429, and 408), timeouts and connection errors;
//! dead-lettered after a bounded number of attempts or on any other refusal; idempotent by
//! event id on the receiving side. A 401 also makes the add-bearer layer drop the cached
//! token, so the next attempt carries a fresh one.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::{StatusCode, Url};
use reqwest_middleware::ClientWithMiddleware;
use serde::Serialize;

use crate::store::{DueDelivery, Event, Store};

/// Unix milliseconds now: the time unit of the store.
pub fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// How events are delivered.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// The manufacturer's base URL; events go to `PATCH {base}/orders/{car_order_id}`.
    pub callback_url: Url,
    /// Attempts before an event is dead-lettered.
    pub max_attempts: u32,
    /// Wait after the first failure; doubles per failure.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// How often the jobs look for work.
    pub poll: Duration,
}

/// The body of a delivered event.
#[derive(Serialize)]
struct Delivered<'a> {
    event_id: &'a str,
    r#type: &'a str,
    car_order_id: &'a str,
    tire_order_id: &'a str,
    occurred_at: i64,
}

/// Why an attempt failed, and whether another may succeed.
#[derive(Debug)]
struct Failure {
    reason: String,
    retry: bool,
}

/// Completes due tire orders, forever.
pub(crate) async fn completion_job(store: Store, poll: Duration) {
    loop {
        match store.complete_due(now_ms()).await {
            Ok(events) => {
                for event in events {
                    tracing::info!(
                        event_id = event.id,
                        car_order_id = event.car_order_id,
                        tire_order_id = event.tire_order_id,
                        "tire order completed; TireOrderCompleted raised"
                    );
                }
            }
            Err(error) => tracing::error!(%error, "completing tire orders failed"),
        }
        tokio::time::sleep(poll).await;
    }
}

/// Delivers due events, forever.
pub(crate) async fn delivery_worker(
    store: Store,
    client: ClientWithMiddleware,
    settings: DeliverySettings,
) {
    loop {
        match store.due_deliveries(now_ms(), 16).await {
            Ok(due) => {
                for delivery in due {
                    attempt(&store, &client, &settings, delivery).await;
                }
            }
            Err(error) => tracing::error!(%error, "reading due deliveries failed"),
        }
        tokio::time::sleep(settings.poll).await;
    }
}

async fn attempt(
    store: &Store,
    client: &ClientWithMiddleware,
    settings: &DeliverySettings,
    delivery: DueDelivery,
) {
    let event = &delivery.event;
    let outcome = deliver(client, &settings.callback_url, event).await;
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!(
                event_id = event.id,
                car_order_id = event.car_order_id,
                attempts = delivery.attempts + 1,
                "event delivered"
            );
            store.delivered(delivery.delivery_id, now_ms()).await
        }
        Err(failure) => {
            let attempts = delivery.attempts + 1;
            let retry_at = (failure.retry && attempts < settings.max_attempts)
                .then(|| now_ms() + millis(backoff(settings, attempts)));
            match retry_at {
                Some(_) => tracing::warn!(
                    event_id = event.id,
                    attempts,
                    reason = failure.reason,
                    "event delivery failed; will retry"
                ),
                None => tracing::error!(
                    event_id = event.id,
                    attempts,
                    reason = failure.reason,
                    "event dead-lettered"
                ),
            }
            store.failed(delivery.delivery_id, failure.reason, retry_at).await
        }
    };
    if let Err(error) = recorded {
        tracing::error!(%error, event_id = event.id, "recording a delivery outcome failed; it will be attempted again");
    }
}

/// Exponential back-off with "equal jitter": half the doubled delay, plus a random half.
fn backoff(settings: &DeliverySettings, attempts: u32) -> Duration {
    let doubled = settings.initial_backoff.saturating_mul(1 << attempts.saturating_sub(1).min(20));
    let base = doubled.min(settings.max_backoff);
    base / 2 + (base / 2).mul_f64(fastrand::f64())
}

async fn deliver(client: &ClientWithMiddleware, base: &Url, event: &Event) -> Result<(), Failure> {
    let url = base
        .join(&format!("orders/{}", event.car_order_id))
        .map_err(|e| Failure { reason: format!("bad callback url: {e}"), retry: false })?;
    let body = Delivered {
        event_id: &event.id,
        r#type: &event.kind,
        car_order_id: &event.car_order_id,
        tire_order_id: &event.tire_order_id,
        occurred_at: event.created_at,
    };
    let response = client.patch(url).json(&body).send().await.map_err(|error| Failure {
        // Network trouble, a timeout, or no token for now: all worth another attempt.
        reason: error.to_string(),
        retry: true,
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    Err(Failure { reason: format!("callback answered {status}"), retry: retryable(status) })
}

/// Whether another attempt may succeed after the callback answered `status`.
fn retryable(status: StatusCode) -> bool {
    status.is_server_error() || matches!(status.as_u16(), 401 | 407 | 408 | 409 | 429)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_answers_that_may_change_are_retried() {
        for retried in [500, 502, 503, 504, 401, 407, 408, 409, 429] {
            assert!(retryable(StatusCode::from_u16(retried).unwrap()), "{retried}");
        }
        for final_answer in [400, 403, 404, 405, 410, 413, 422, 301] {
            assert!(!retryable(StatusCode::from_u16(final_answer).unwrap()), "{final_answer}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let settings = DeliverySettings {
            callback_url: Url::parse("http://127.0.0.1/").unwrap(),
            max_attempts: 8,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(2),
            poll: Duration::from_millis(50),
        };
        for (attempts, base) in [(1, 200), (2, 400), (3, 800), (4, 1600), (5, 2000), (9, 2000)] {
            let delay = backoff(&settings, attempts).as_millis() as u64;
            assert!((base / 2..=base).contains(&delay), "attempt {attempts}: {delay} ms");
        }
    }
}
