//! A child process that serves on a loopback port, started with its output in a log file,
//! waited for until it answers, and killed on drop.

use std::io::{self, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to answer its first probe. Generous: a cold CI machine imports
/// moto's Python modules in several seconds.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(25);
/// Attempts with a fresh port when a server dies at start-up (its port taken by another test
/// between our probe bind and its own).
const START_ATTEMPTS: usize = 3;

/// A free TCP port on 127.0.0.1, found by binding port 0 and releasing it.
///
/// # Panics
/// If no port can be bound.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener.local_addr().unwrap_or_else(|e| panic!("loopback port has no address: {e}")).port()
}

/// Fails with a message naming the missing program and the command that installs it.
pub(crate) fn missing(what: &str, looked_at: &str) -> ! {
    panic!(
        "{what} is not installed (looked at {looked_at}).\n\
         Install the test servers with `scripts/install-test-deps` (the README test command \
         `scripts/test` runs it), then run the tests again."
    )
}

/// Finds a program on `PATH`.
pub(crate) fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// A running server process. Killed (and reaped) on drop.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: &'static str,
    child: Child,
    log: PathBuf,
    // Holds the log file and any scratch files; removed after the process is reaped.
    _dir: TempDir,
}

impl ServerProcess {
    /// Starts `build(port)` on a free port and waits until `probe(addr)` says it is ready,
    /// retrying with a new port if the process exits during start-up.
    ///
    /// # Panics
    /// With the tail of the server's log if it never becomes ready.
    pub(crate) fn start(
        name: &'static str,
        build: impl Fn(u16, &Path) -> Command,
        probe: impl Fn(SocketAddr) -> bool,
    ) -> (Self, u16) {
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let dir = tempfile::Builder::new()
                .prefix(&format!("b2b-auth-{name}-"))
                .tempdir()
                .unwrap_or_else(|e| panic!("cannot create a scratch dir for {name}: {e}"));
            let log = dir.path().join("server.log");
            let log_file = std::fs::File::create(&log)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
            let log_err = log_file
                .try_clone()
                .unwrap_or_else(|e| panic!("cannot reopen {}: {e}", log.display()));
            let mut command = build(port, dir.path());
            command.stdin(Stdio::null()).stdout(log_file).stderr(log_err);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name} ({command:?}): {e}"));
            let mut process = Self { name, child, log, _dir: dir };
            match process.wait_ready(SocketAddr::from(([127, 0, 0, 1], port)), &probe) {
                Ok(()) => return (process, port),
                Err(log) => last_log = log,
            }
        }
        panic!(
            "{name} did not start after {START_ATTEMPTS} attempts; its log ends with:\n{last_log}"
        )
    }

    /// Polls `probe` until it succeeds; `Err` with the log's tail if the process exits first.
    fn wait_ready(
        &mut self,
        addr: SocketAddr,
        probe: &impl Fn(SocketAddr) -> bool,
    ) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("(exited with {status})\n{}", self.log_tail()));
            }
            if probe(addr) {
                return Ok(());
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not answer on {addr} within {STARTUP_TIMEOUT:?}; its log ends with:\n{}",
                    self.name,
                    self.log_tail()
                );
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// The last lines the server wrote, for failure messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let skip = lines.len().saturating_sub(30);
        lines.into_iter().skip(skip).collect::<Vec<_>>().join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one HTTP/1.1 request over a fresh connection and returns the status code and body.
/// Enough for readiness probes and admin calls; tests use a real HTTP client.
pub(crate) fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    stream.write_all(body)?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "not an HTTP response"))?;
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}
