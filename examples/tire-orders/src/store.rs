//! Tire orders and the event archive in SQLite (WAL), so that both survive a restart.
//!
//! Three tables: `tire_orders`; `events`, append-only — the archive every event is written to
//! once, durably, in the same transaction as the state change that raised it; and
//! `deliveries`, one row per attempt to deliver an event to the manufacturer (a replay adds
//! rows, never events).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused the operation.
    #[error("tire-orders storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running the operation was cancelled (the runtime is shutting down).
    #[error("tire-orders storage: the operation was cancelled")]
    Cancelled,
}

/// The state of a tire order.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize)]
pub enum TireOrderStatus {
    /// Accepted, waiting for the completion job.
    Pending,
    /// Completed; its `TireOrderCompleted` event is in the archive.
    Completed,
}

impl TireOrderStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "Pending",
            Self::Completed => "Completed",
        }
    }

    fn parse(text: &str) -> Self {
        if text == "Completed" { Self::Completed } else { Self::Pending }
    }
}

/// A tire order, as `GET /orders/{id}` shows it.
#[derive(Clone, Debug, Serialize)]
pub struct TireOrder {
    /// Its id.
    pub id: String,
    /// The manufacturer's car order it is for.
    pub car_order_id: String,
    /// The client that ordered (the verified client id).
    pub client_id: String,
    /// How many tires.
    pub tires: u32,
    /// Where it stands.
    pub status: TireOrderStatus,
    /// When it was accepted (Unix milliseconds).
    pub created_at: i64,
    /// When it was completed (Unix milliseconds).
    pub completed_at: Option<i64>,
}

/// An archived event.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// Its id: the manufacturer deduplicates by it.
    pub id: String,
    /// `TireOrderCompleted`.
    pub kind: String,
    /// The car order it concerns.
    pub car_order_id: String,
    /// The tire order it concerns.
    pub tire_order_id: String,
    /// When it was raised (Unix milliseconds).
    pub created_at: i64,
}

/// A delivery attempt due now.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    /// The delivery row.
    pub delivery_id: i64,
    /// Attempts so far.
    pub attempts: u32,
    /// The event to deliver.
    pub event: Event,
}

/// Where a delivery stands.
#[derive(Clone, Debug, Eq, PartialEq, Serialize)]
pub struct DeliveryRecord {
    /// The event.
    pub event_id: String,
    /// `pending`, `delivered` or `dead`.
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// Whether this delivery came from a replay.
    pub replay: bool,
}

/// The database, shared by the handlers and the background jobs.
#[derive(Clone, Debug)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
}

impl Store {
    /// Opens (and creates) the database at `path`, in WAL mode.
    ///
    /// # Errors
    /// When the file cannot be opened or the schema not created.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS tire_orders (
                 id TEXT PRIMARY KEY,
                 car_order_id TEXT NOT NULL,
                 client_id TEXT NOT NULL,
                 tires INTEGER NOT NULL,
                 status TEXT NOT NULL,
                 created_at INTEGER NOT NULL,
                 complete_after INTEGER NOT NULL,
                 completed_at INTEGER
             );
             CREATE UNIQUE INDEX IF NOT EXISTS tire_orders_per_car_order
                 ON tire_orders (client_id, car_order_id);
             CREATE TABLE IF NOT EXISTS events (
                 id TEXT PRIMARY KEY,
                 kind TEXT NOT NULL,
                 car_order_id TEXT NOT NULL,
                 tire_order_id TEXT NOT NULL,
                 created_at INTEGER NOT NULL
             );
             CREATE INDEX IF NOT EXISTS events_by_time ON events (created_at);
             CREATE TABLE IF NOT EXISTS deliveries (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 event_id TEXT NOT NULL REFERENCES events (id),
                 status TEXT NOT NULL,
                 attempts INTEGER NOT NULL DEFAULT 0,
                 next_attempt_at INTEGER NOT NULL,
                 last_error TEXT,
                 delivered_at INTEGER,
                 replay INTEGER NOT NULL DEFAULT 0
             );
             CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);",
        )?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)) })
    }

    /// Runs `f` on the connection in the blocking pool.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = self.connection.clone();
        let result = tokio::task::spawn_blocking(move || {
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut connection)
        })
        .await;
        result.map_err(|_| StoreError::Cancelled)?.map_err(StoreError::Sqlite)
    }

    /// Accepts a tire order, or returns the existing one for the same car order (the
    /// manufacturer may retry its call).
    pub async fn create_order(
        &self,
        car_order_id: String,
        client_id: String,
        tires: u32,
        now: i64,
        complete_after: i64,
    ) -> Result<(TireOrder, bool), StoreError> {
        self.run(move |c| {
            let tx = c.transaction()?;
            if let Some(existing) = order_where(&tx, "client_id = ?1 AND car_order_id = ?2", params![client_id, car_order_id])? {
                return Ok((existing, false));
            }
            let id = uuid::Uuid::new_v4().to_string();
            tx.execute(
                "INSERT INTO tire_orders (id, car_order_id, client_id, tires, status, created_at, complete_after)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, car_order_id, client_id, tires, TireOrderStatus::Pending.as_str(), now, complete_after],
            )?;
            let order = order_where(&tx, "id = ?1", params![id])?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            tx.commit()?;
            Ok((order, true))
        })
        .await
    }

    /// A tire order by id, if the client may see it.
    pub async fn order(
        &self,
        id: String,
        client_id: String,
    ) -> Result<Option<TireOrder>, StoreError> {
        self.run(move |c| order_where(c, "id = ?1 AND client_id = ?2", params![id, client_id]))
            .await
    }

    /// Completes every pending order due at `now`, archiving one `TireOrderCompleted` event
    /// and scheduling its delivery, in one transaction per order. Returns the events.
    pub async fn complete_due(&self, now: i64) -> Result<Vec<Event>, StoreError> {
        self.run(move |c| {
            let due: Vec<(String, String)> = {
                let mut statement = c.prepare(
                    "SELECT id, car_order_id FROM tire_orders WHERE status = 'Pending' AND complete_after <= ?1 ORDER BY complete_after",
                )?;
                let rows = statement.query_map(params![now], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut events = Vec::with_capacity(due.len());
            for (tire_order_id, car_order_id) in due {
                let tx = c.transaction()?;
                let changed = tx.execute(
                    "UPDATE tire_orders SET status = 'Completed', completed_at = ?1 WHERE id = ?2 AND status = 'Pending'",
                    params![now, tire_order_id],
                )?;
                if changed == 0 {
                    continue;
                }
                let event = Event {
                    id: uuid::Uuid::new_v4().to_string(),
                    kind: "TireOrderCompleted".to_owned(),
                    car_order_id,
                    tire_order_id,
                    created_at: now,
                };
                tx.execute(
                    "INSERT INTO events (id, kind, car_order_id, tire_order_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![event.id, event.kind, event.car_order_id, event.tire_order_id, event.created_at],
                )?;
                tx.execute(
                    "INSERT INTO deliveries (event_id, status, next_attempt_at) VALUES (?1, 'pending', ?2)",
                    params![event.id, now],
                )?;
                tx.commit()?;
                events.push(event);
            }
            Ok(events)
        })
        .await
    }

    /// Deliveries due at `now`, oldest first.
    pub async fn due_deliveries(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        self.run(move |c| {
            let mut statement = c.prepare(
                "SELECT d.id, d.attempts, e.id, e.kind, e.car_order_id, e.tire_order_id, e.created_at
                 FROM deliveries d JOIN events e ON e.id = d.event_id
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
                 ORDER BY d.next_attempt_at LIMIT ?2",
            )?;
            let rows = statement.query_map(params![now, limit], |row| {
                Ok(DueDelivery {
                    delivery_id: row.get(0)?,
                    attempts: row.get(1)?,
                    event: Event {
                        id: row.get(2)?,
                        kind: row.get(3)?,
                        car_order_id: row.get(4)?,
                        tire_order_id: row.get(5)?,
                        created_at: row.get(6)?,
                    },
                })
            })?;
            rows.collect()
        })
        .await
    }

    /// Records a successful delivery.
    pub async fn delivered(&self, delivery_id: i64, now: i64) -> Result<(), StoreError> {
        self.run(move |c| {
            c.execute(
                "UPDATE deliveries SET status = 'delivered', attempts = attempts + 1, delivered_at = ?1, last_error = NULL WHERE id = ?2",
                params![now, delivery_id],
            )
            .map(drop)
        })
        .await
    }

    /// Records a failed attempt: retried at `retry_at`, or dead-lettered when `None`.
    pub async fn failed(
        &self,
        delivery_id: i64,
        error: String,
        retry_at: Option<i64>,
    ) -> Result<(), StoreError> {
        self.run(move |c| {
            match retry_at {
                Some(at) => c.execute(
                    "UPDATE deliveries SET attempts = attempts + 1, next_attempt_at = ?1, last_error = ?2 WHERE id = ?3",
                    params![at, error, delivery_id],
                ),
                None => c.execute(
                    "UPDATE deliveries SET status = 'dead', attempts = attempts + 1, last_error = ?1 WHERE id = ?2",
                    params![error, delivery_id],
                ),
            }
            .map(drop)
        })
        .await
    }

    /// Schedules a new delivery of every archived event raised in `[from, to)`; returns how
    /// many.
    pub async fn replay(&self, from: i64, to: i64, now: i64) -> Result<usize, StoreError> {
        self.run(move |c| {
            c.execute(
                "INSERT INTO deliveries (event_id, status, next_attempt_at, replay)
                 SELECT id, 'pending', ?3, 1 FROM events WHERE created_at >= ?1 AND created_at < ?2",
                params![from, to, now],
            )
        })
        .await
    }

    /// Every delivery of the events of `car_order_id`, oldest first.
    pub async fn deliveries_for(
        &self,
        car_order_id: String,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        self.run(move |c| {
            let mut statement = c.prepare(
                "SELECT d.event_id, d.status, d.attempts, d.last_error, d.replay
                 FROM deliveries d JOIN events e ON e.id = d.event_id
                 WHERE e.car_order_id = ?1 ORDER BY d.id",
            )?;
            let rows = statement.query_map(params![car_order_id], |row| {
                Ok(DeliveryRecord {
                    event_id: row.get(0)?,
                    status: row.get(1)?,
                    attempts: row.get(2)?,
                    last_error: row.get(3)?,
                    replay: row.get::<_, i64>(4)? != 0,
                })
            })?;
            rows.collect()
        })
        .await
    }
}

fn order_where(
    c: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Option<TireOrder>, rusqlite::Error> {
    c.query_row(
        &format!(
            "SELECT id, car_order_id, client_id, tires, status, created_at, completed_at FROM tire_orders WHERE {condition}"
        ),
        params,
        |row| {
            Ok(TireOrder {
                id: row.get(0)?,
                car_order_id: row.get(1)?,
                client_id: row.get(2)?,
                tires: row.get(3)?,
                status: TireOrderStatus::parse(&row.get::<_, String>(4)?),
                created_at: row.get(5)?,
                completed_at: row.get(6)?,
            })
        },
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("tires.sqlite")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn orders_complete_once_into_one_archived_event_and_one_delivery() {
        let (_dir, store) = store();
        let (order, created) =
            store.create_order("car-1".into(), "car-orders".into(), 4, 1_000, 2_000).await.unwrap();
        assert!(created);
        let (again, created) =
            store.create_order("car-1".into(), "car-orders".into(), 4, 1_500, 2_500).await.unwrap();
        assert!(!created, "the same car order gets the same tire order");
        assert_eq!(again.id, order.id);
        assert!(store.complete_due(1_999).await.unwrap().is_empty(), "not due yet");
        let events = store.complete_due(2_000).await.unwrap();
        assert_eq!(events.len(), 1);
        assert!(store.complete_due(3_000).await.unwrap().is_empty(), "completed once");
        let due = store.due_deliveries(2_000, 10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].event.tire_order_id, order.id);
        let order = store.order(order.id, "car-orders".into()).await.unwrap().unwrap();
        assert_eq!(order.status, TireOrderStatus::Completed);
    }

    #[tokio::test]
    async fn deliveries_retry_dead_letter_and_replay() {
        let (_dir, store) = store();
        store.create_order("car-1".into(), "car-orders".into(), 4, 0, 0).await.unwrap();
        let event = store.complete_due(10).await.unwrap().remove(0);
        let due = store.due_deliveries(10, 10).await.unwrap().remove(0);
        store.failed(due.delivery_id, "503".into(), Some(100)).await.unwrap();
        assert!(store.due_deliveries(99, 10).await.unwrap().is_empty(), "backing off");
        let due = store.due_deliveries(100, 10).await.unwrap().remove(0);
        assert_eq!(due.attempts, 1);
        store.failed(due.delivery_id, "403".into(), None).await.unwrap();
        assert!(store.due_deliveries(1_000, 10).await.unwrap().is_empty(), "dead-lettered");

        assert_eq!(store.replay(0, 11, 200).await.unwrap(), 1);
        assert_eq!(store.replay(11, 20, 200).await.unwrap(), 0, "outside the range");
        let replayed = store.due_deliveries(200, 10).await.unwrap().remove(0);
        assert_eq!(replayed.event.id, event.id, "the same event, not a new one");
        store.delivered(replayed.delivery_id, 201).await.unwrap();
        let records = store.deliveries_for("car-1".into()).await.unwrap();
        assert_eq!(
            records.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
            ["dead", "delivered"]
        );
        assert!(records[1].replay);
    }

    #[tokio::test]
    async fn orders_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tires.sqlite");
        let (order, _) = Store::open(&path)
            .unwrap()
            .create_order("car-9".into(), "car-orders".into(), 4, 0, 0)
            .await
            .unwrap();
        let reopened = Store::open(&path).unwrap();
        assert!(reopened.order(order.id, "car-orders".into()).await.unwrap().is_some());
    }
}
