//! Fetches merged across providers: concurrent fetches for the same [`SourceKey`] in one
//! process become one request.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use tokio::sync::watch;

use super::lock;
use crate::error::TokenError;
use crate::source::{FetchedToken, SourceKey, TokenSource};

type FlightResult = Result<FetchedToken, TokenError>;

/// Fetches in progress, by source key: concurrent fetches for the same key in this process
/// become one request.
static FLIGHTS: LazyLock<Mutex<HashMap<SourceKey, watch::Receiver<Option<FlightResult>>>>> =
    LazyLock::new(Mutex::default);

/// Unregisters a flight when its leader finishes or is dropped.
struct FlightGuard(SourceKey);

impl Drop for FlightGuard {
    fn drop(&mut self) {
        lock(&FLIGHTS).remove(&self.0);
    }
}

pub(super) async fn fetch_shared(source: &Arc<dyn TokenSource>) -> FlightResult {
    let key = source.key();
    loop {
        let (mut joined, leader) = {
            let mut flights = lock(&FLIGHTS);
            match flights.get(key) {
                Some(flight) => (flight.clone(), None),
                None => {
                    let (publish, flight) = watch::channel(None);
                    flights.insert(key.clone(), flight.clone());
                    (flight, Some(publish))
                }
            }
        };
        if let Some(publish) = leader {
            let guard = FlightGuard(key.clone());
            let result = source.fetch().await;
            drop(guard);
            let _ = publish.send(Some(result.clone()));
            return result;
        }
        match joined.wait_for(Option::is_some).await {
            Ok(result) => {
                if let Some(result) = result.clone() {
                    return result;
                }
            }
            // The leader was dropped before finishing: lead the next attempt.
            Err(_) => continue,
        }
    }
}
