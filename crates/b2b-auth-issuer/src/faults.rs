//! Injectable faults, so that clients of the issuer can be tested against a failing server.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// An endpoint of the issuer that faults can be injected into.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `POST /oauth2/token`.
    Token,
    /// `GET /.well-known/jwks.json`.
    Jwks,
    /// `GET /.well-known/openid-configuration`.
    Discovery,
}

/// A fault to inject into an endpoint: an optional delay, then a normal answer, an error
/// status, or a connection closed without an answer.
///
/// A fault applies to every request until cleared, or to the next `n` requests with
/// [`Fault::times`]. Faults queued on one endpoint apply in order.
///
/// ```
/// use std::time::Duration;
/// use b2b_auth_issuer::Fault;
/// use http::StatusCode;
///
/// let slow = Fault::delay(Duration::from_secs(2));
/// let throttled = Fault::status(StatusCode::TOO_MANY_REQUESTS).retry_after(Duration::from_secs(3)).times(2);
/// let gone = Fault::drop_connection().times(1);
/// # let _ = (slow, throttled, gone);
/// ```
#[derive(Clone, Debug)]
pub struct Fault {
    delay: Option<Duration>,
    action: Action,
    times: Option<u32>,
}

#[derive(Clone, Debug)]
enum Action {
    Proceed,
    Status { status: StatusCode, retry_after: Option<Duration>, body: Option<serde_json::Value> },
    Drop,
}

impl Fault {
    /// Waits `delay`, then answers normally.
    pub fn delay(delay: Duration) -> Self {
        Self { delay: Some(delay), action: Action::Proceed, times: None }
    }

    /// Answers with `status` and a JSON body `{"error":"injected_fault"}` instead of the
    /// normal answer.
    pub fn status(status: StatusCode) -> Self {
        Self {
            delay: None,
            action: Action::Status { status, retry_after: None, body: None },
            times: None,
        }
    }

    /// Closes the connection without answering, as a crashed or cut-off server does.
    pub fn drop_connection() -> Self {
        Self { delay: None, action: Action::Drop, times: None }
    }

    /// Adds a delay before the fault's answer. Default: none.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Adds `Retry-After` (whole seconds) to a [`Fault::status`] answer. Default: none.
    pub fn retry_after(mut self, after: Duration) -> Self {
        if let Action::Status { retry_after, .. } = &mut self.action {
            *retry_after = Some(after);
        }
        self
    }

    /// Replaces the JSON body of a [`Fault::status`] answer, e.g. with an RFC 6749 error.
    pub fn json_body(mut self, json: serde_json::Value) -> Self {
        if let Action::Status { body, .. } = &mut self.action {
            *body = Some(json);
        }
        self
    }

    /// Applies the fault to the next `n` requests only. Default: every request until
    /// [`Issuer::clear_faults`](crate::Issuer::clear_faults). `times(0)` never applies.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
}

/// Marks a response whose connection must be closed without sending it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropConnection;

/// What a request should do after its fault (if any) has been applied.
pub(crate) enum Outcome {
    Proceed,
    Respond(Response),
}

/// The fault queues of every endpoint.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    queues: Mutex<HashMap<Endpoint, VecDeque<Fault>>>,
}

impl Faults {
    pub(crate) fn push(&self, endpoint: Endpoint, fault: Fault) {
        if fault.times == Some(0) {
            return;
        }
        self.lock().entry(endpoint).or_default().push_back(fault);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Endpoint, VecDeque<Fault>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the next fault of `endpoint`, counting down its uses.
    fn next(&self, endpoint: Endpoint) -> Option<Fault> {
        let mut queues = self.lock();
        let queue = queues.get_mut(&endpoint)?;
        let fault = queue.front_mut()?;
        let taken = fault.clone();
        if let Some(times) = &mut fault.times {
            *times -= 1;
            if *times == 0 {
                queue.pop_front();
            }
        }
        Some(taken)
    }

    /// Applies the next fault of `endpoint`, if any.
    pub(crate) async fn apply(&self, endpoint: Endpoint) -> Outcome {
        let Some(fault) = self.next(endpoint) else {
            return Outcome::Proceed;
        };
        tracing::debug!(?endpoint, ?fault, "injecting fault");
        if let Some(delay) = fault.delay {
            tokio::time::sleep(delay).await;
        }
        match fault.action {
            Action::Proceed => Outcome::Proceed,
            Action::Status { status, retry_after, body } => {
                let body = body.unwrap_or_else(|| {
                    serde_json::json!({ "error": "injected_fault", "error_description": "fault injected by a test" })
                });
                let mut response = (status, axum::Json(body)).into_response();
                if let Some(after) = retry_after {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(after.as_secs()));
                }
                Outcome::Respond(response)
            }
            Action::Drop => {
                let mut response = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                response.extensions_mut().insert(DropConnection);
                Outcome::Respond(response)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out_in_order() {
        let faults = Faults::default();
        faults.push(Endpoint::Token, Fault::status(StatusCode::BAD_GATEWAY).times(2));
        faults.push(Endpoint::Token, Fault::drop_connection().times(1));
        faults.push(Endpoint::Jwks, Fault::status(StatusCode::NOT_FOUND).times(0));
        let kinds: Vec<_> = std::iter::from_fn(|| faults.next(Endpoint::Token))
            .map(|f| matches!(f.action, Action::Drop))
            .collect();
        assert_eq!(kinds, [false, false, true]);
        assert!(faults.next(Endpoint::Jwks).is_none());
    }

    #[test]
    fn uncounted_faults_stay_until_cleared() {
        let faults = Faults::default();
        faults.push(Endpoint::Discovery, Fault::delay(Duration::from_millis(1)));
        for _ in 0..5 {
            assert!(faults.next(Endpoint::Discovery).is_some());
        }
        faults.clear();
        assert!(faults.next(Endpoint::Discovery).is_none());
    }
}
