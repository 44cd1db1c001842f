//! Car orders in SQLite (WAL), so that they survive a restart, and the ids of the supplier's
//! events already applied, so that a replayed or duplicated event changes nothing.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// SQLite refused the operation.
    #[error("car-orders storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task running the operation was cancelled (the runtime is shutting down).
    #[error("car-orders storage: the operation was cancelled")]
    Cancelled,
}

/// Where a car order stands.
#[derive(Clone, Copy, Debug, Eq, PartialEq, Serialize, Deserialize)]
pub enum CarOrderStatus {
    /// Stored; tires not (yet) ordered.
    OrderSubmitted,
    /// The supplier accepted the tire order.
    TiresOrdered,
    /// The supplier reported the tires done.
    OrderComplete,
}

impl CarOrderStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::OrderSubmitted => "OrderSubmitted",
            Self::TiresOrdered => "TiresOrdered",
            Self::OrderComplete => "OrderComplete",
        }
    }
}

impl rusqlite::types::FromSql for CarOrderStatus {
    /// A status the database holds; any other text is corruption, reported, never guessed.
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        match value.as_str()? {
            "OrderSubmitted" => Ok(Self::OrderSubmitted),
            "TiresOrdered" => Ok(Self::TiresOrdered),
            "OrderComplete" => Ok(Self::OrderComplete),
            other => Err(rusqlite::types::FromSqlError::Other(
                format!("unknown car order status {other:?}").into(),
            )),
        }
    }
}

/// A car order, as `GET /orders/{id}` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CarOrder {
    /// Its id.
    pub id: String,
    /// The car model.
    pub model: String,
    /// Where it stands.
    pub status: CarOrderStatus,
    /// The supplier's tire order, once accepted.
    pub tire_order_id: Option<String>,
    /// Why ordering tires failed, if it did.
    pub last_error: Option<String>,
    /// When it was submitted (Unix milliseconds).
    pub created_at: i64,
    /// When it was completed (Unix milliseconds).
    pub completed_at: Option<i64>,
}

/// What applying a completion event did.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Applied {
    /// The order is now complete.
    Completed,
    /// The event was seen before: nothing changed.
    Duplicate,
    /// No such car order.
    UnknownOrder,
}

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
}

const COLUMNS: &str = "id, model, status, tire_order_id, last_error, created_at, completed_at";

impl Store {
    /// Opens (and creates) the database at `path`, in WAL mode.
    ///
    /// # Errors
    /// When the file cannot be opened or the schema not created.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let connection = Connection::open(path)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        connection.execute_batch(
            "CREATE TABLE IF NOT EXISTS car_orders (
                 id TEXT PRIMARY KEY,
                 model TEXT NOT NULL,
                 status TEXT NOT NULL,
                 tire_order_id TEXT,
                 last_error TEXT,
                 created_at INTEGER NOT NULL,
                 completed_at INTEGER
             );
             CREATE TABLE IF NOT EXISTS processed_events (
                 event_id TEXT PRIMARY KEY,
                 car_order_id TEXT NOT NULL,
                 received_at INTEGER NOT NULL
             );",
        )?;
        Ok(Self { connection: Arc::new(Mutex::new(connection)) })
    }

    async fn run<T: Send + 'static>(
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

    /// Stores a new car order with status `OrderSubmitted`.
    pub async fn submit(&self, model: String, now: i64) -> Result<CarOrder, StoreError> {
        self.run(move |c| {
            let id = uuid::Uuid::new_v4().to_string();
            c.execute(
                "INSERT INTO car_orders (id, model, status, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id, model, CarOrderStatus::OrderSubmitted.as_str(), now],
            )?;
            order(c, &id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)
        })
        .await
    }

    /// Records the supplier's answer to the tire order: its id, or why it failed.
    pub async fn tires_ordered(
        &self,
        id: String,
        outcome: Result<String, String>,
    ) -> Result<Option<CarOrder>, StoreError> {
        self.run(move |c| {
            match outcome {
                Ok(tire_order_id) => c.execute(
                    "UPDATE car_orders SET status = ?1, tire_order_id = ?2, last_error = NULL WHERE id = ?3 AND status = ?4",
                    params![CarOrderStatus::TiresOrdered.as_str(), tire_order_id, id, CarOrderStatus::OrderSubmitted.as_str()],
                )?,
                Err(error) => c.execute("UPDATE car_orders SET last_error = ?1 WHERE id = ?2", params![error, id])?,
            };
            order(c, &id)
        })
        .await
    }

    /// Applies a `TireOrderCompleted` event once: the first delivery completes the order, any
    /// later one (a retry, a replay) changes nothing.
    pub async fn complete(
        &self,
        id: String,
        event_id: String,
        now: i64,
    ) -> Result<Applied, StoreError> {
        self.run(move |c| {
            let tx = c.transaction()?;
            if order(&tx, &id)?.is_none() {
                return Ok(Applied::UnknownOrder);
            }
            let first = tx.execute(
                "INSERT OR IGNORE INTO processed_events (event_id, car_order_id, received_at) VALUES (?1, ?2, ?3)",
                params![event_id, id, now],
            )? == 1;
            if first {
                tx.execute(
                    "UPDATE car_orders SET status = ?1, completed_at = ?2 WHERE id = ?3",
                    params![CarOrderStatus::OrderComplete.as_str(), now, id],
                )?;
            }
            tx.commit()?;
            Ok(if first { Applied::Completed } else { Applied::Duplicate })
        })
        .await
    }

    /// Orders still waiting for their tires, submitted at or before `submitted_before`,
    /// oldest first.
    pub async fn waiting_for_tires(
        &self,
        submitted_before: i64,
        limit: u32,
    ) -> Result<Vec<CarOrder>, StoreError> {
        self.run(move |c| {
            let mut statement = c.prepare(&format!(
                "SELECT {COLUMNS} FROM car_orders WHERE status = ?1 AND created_at <= ?2 ORDER BY created_at LIMIT ?3"
            ))?;
            let rows = statement.query_map(
                params![CarOrderStatus::OrderSubmitted.as_str(), submitted_before, limit],
                car_order,
            )?;
            rows.collect()
        })
        .await
    }

    /// A car order by id.
    pub async fn order(&self, id: String) -> Result<Option<CarOrder>, StoreError> {
        self.run(move |c| order(c, &id)).await
    }
}

fn order(c: &Connection, id: &str) -> Result<Option<CarOrder>, rusqlite::Error> {
    c.query_row(&format!("SELECT {COLUMNS} FROM car_orders WHERE id = ?1"), params![id], car_order)
        .optional()
}

fn car_order(row: &rusqlite::Row<'_>) -> Result<CarOrder, rusqlite::Error> {
    Ok(CarOrder {
        id: row.get(0)?,
        model: row.get(1)?,
        status: row.get(2)?,
        tire_order_id: row.get(3)?,
        last_error: row.get(4)?,
        created_at: row.get(5)?,
        completed_at: row.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_order_goes_submitted_ordered_complete_and_duplicates_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cars.sqlite");
        let store = Store::open(&path).unwrap();
        let order = store.submit("Roadster".into(), 1).await.unwrap();
        assert_eq!(order.status, CarOrderStatus::OrderSubmitted);
        assert!(store.waiting_for_tires(0, 10).await.unwrap().is_empty(), "submitted later");
        let failed =
            store.tires_ordered(order.id.clone(), Err("503".into())).await.unwrap().unwrap();
        assert_eq!(
            (failed.status, failed.last_error.as_deref()),
            (CarOrderStatus::OrderSubmitted, Some("503"))
        );
        let waiting = store.waiting_for_tires(1, 10).await.unwrap();
        assert_eq!(waiting.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(), [order.id.as_str()]);
        let ordered =
            store.tires_ordered(order.id.clone(), Ok("tire-1".into())).await.unwrap().unwrap();
        assert_eq!(
            (ordered.status, ordered.tire_order_id.as_deref()),
            (CarOrderStatus::TiresOrdered, Some("tire-1"))
        );
        assert!(store.waiting_for_tires(10, 10).await.unwrap().is_empty(), "tires ordered");
        assert_eq!(
            store.complete(order.id.clone(), "event-1".into(), 5).await.unwrap(),
            Applied::Completed
        );
        assert_eq!(
            store.complete(order.id.clone(), "event-1".into(), 9).await.unwrap(),
            Applied::Duplicate
        );
        assert_eq!(
            store.complete("nope".into(), "event-2".into(), 9).await.unwrap(),
            Applied::UnknownOrder
        );
        let reopened = Store::open(&path).unwrap().order(order.id).await.unwrap().unwrap();
        assert_eq!(
            (reopened.status, reopened.completed_at),
            (CarOrderStatus::OrderComplete, Some(5)),
            "persisted"
        );
    }

    #[tokio::test]
    async fn a_status_the_service_never_wrote_is_an_error_not_a_guess() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cars.sqlite");
        let store = Store::open(&path).unwrap();
        let order = store.submit("Roadster".into(), 1).await.unwrap();
        Connection::open(&path)
            .unwrap()
            .execute("UPDATE car_orders SET status = 'Shipped' WHERE id = ?1", params![order.id])
            .unwrap();
        let error = store.order(order.id).await.unwrap_err();
        assert!(error.to_string().contains("unknown car order status \"Shipped\""), "{error}");
    }
}
