//! The `tracing` events a test caused, for asserting on decisions and on what is never logged.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::sync::Once;

thread_local! {
    /// What the capturing subscriber wrote on this thread.
    static THREAD_LOGS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Writes into [`THREAD_LOGS`].
struct ThreadLogs;

impl io::Write for ThreadLogs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        THREAD_LOGS.with_borrow_mut(|logs| logs.extend_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the process-wide capturing subscriber (once): every event down to `DEBUG`,
/// formatted without time or colour as `LEVEL target: message fields`, written to a buffer of
/// the thread that emitted it.
///
/// A global subscriber, not a thread-scoped one: tracing caches "no interest" for a callsite
/// first reached on a thread without a subscriber, so a scoped subscriber in one test thread
/// misses events whose callsite another test thread registered first.
fn install() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_writer(|| ThreadLogs)
            .finish();
        // Another global subscriber (installed by the test binary itself) would make the
        // captures empty: fail at once rather than let assertions on logs pass or fail oddly.
        tracing::subscriber::set_global_default(subscriber)
            .unwrap_or_else(|e| panic!("capture_logs needs the global subscriber: {e}"));
    });
}

/// Runs `f` and returns its result with the events it emitted on this thread, one line each
/// (`DEBUG b2b_auth::audit: …`): filter the lines by level or target to assert on them.
///
/// ```
/// let ((), logs) = b2b_auth_testkit::capture_logs(|| tracing::info!(client_id = "car-orders", "allowed"));
/// assert!(logs.contains("INFO") && logs.contains("client_id=\"car-orders\""));
/// ```
pub fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, String) {
    install();
    THREAD_LOGS.take();
    let result = f();
    (result, String::from_utf8_lossy(&THREAD_LOGS.take()).into_owned())
}

/// [`capture_logs`] for a future: run it on a current-thread runtime (`#[tokio::test]`'s
/// default), so that the events of the tasks it spawns are emitted on this thread too.
pub async fn capture_logs_async<F: Future>(future: F) -> (F::Output, String) {
    install();
    THREAD_LOGS.take();
    let result = future.await;
    (result, String::from_utf8_lossy(&THREAD_LOGS.take()).into_owned())
}
