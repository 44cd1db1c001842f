//! npm's `oauth2-mock-server`: a third-party token server, for interop tests.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};

use crate::node::{install_script, node};

const SCRIPT: &str = include_str!("oauth2_mock.mjs");
const SCRIPT_NAME: &str = "b2b-auth-oauth2-mock.mjs";

/// A fault to inject into one path of the mock server. Mirrors the issuer's `Fault`.
///
/// ```
/// use b2b_auth_testkit::MockFault;
/// let fault = MockFault::status(503).retry_after(2).times(1);
/// # let _ = fault;
/// ```
#[derive(Clone, Debug, Default)]
pub struct MockFault {
    status: Option<u16>,
    body: Option<Value>,
    retry_after: Option<u64>,
    delay: Option<Duration>,
    drop: bool,
    times: Option<u32>,
}

impl MockFault {
    /// Answers with `status` and `{"error":"injected_fault"}`.
    pub fn status(status: u16) -> Self {
        Self { status: Some(status), ..Self::default() }
    }

    /// Waits, then answers normally.
    pub fn delay(delay: Duration) -> Self {
        Self { delay: Some(delay), ..Self::default() }
    }

    /// Closes the connection without an answer.
    pub fn drop_connection() -> Self {
        Self { drop: true, ..Self::default() }
    }

    /// Replaces the body of a status answer.
    pub fn json_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// Adds `Retry-After: secs` to a status answer.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Waits before the fault's answer.
    pub fn after(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Applies to the next `n` requests only. Default: until [`OAuth2MockServer::reset`].
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "status": self.status,
            "body": self.body,
            "retry_after": self.retry_after,
            "delay_ms": self.delay.map(|d| d.as_millis() as u64),
            "drop": self.drop,
            "times": self.times,
        })
    }
}

struct Control {
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// `oauth2-mock-server` 9.x on `127.0.0.1` and a free port, driven from the test: shape its
/// tokens (claims, header, lifetime), inject faults per path, count requests. Killed on drop.
///
/// Its defaults, worth knowing: any client id and secret are accepted; `scope` is echoed
/// unvalidated; tokens last one hour, carry `typ: JWT`, `nbf = iat - 10`, and no `client_id`
/// or `sub` unless set with [`OAuth2MockServer::set_claims`]; the JWKS is at `/jwks` and the
/// token endpoint at `/token`; with several keys it signs round-robin.
///
/// ```no_run
/// use b2b_auth_testkit::{MockFault, OAuth2MockServer};
/// let mock = OAuth2MockServer::start();
/// mock.set_claims(serde_json::json!({ "client_id": "car-orders", "aud": "tires" }));
/// mock.inject_fault("/token", MockFault::status(503).times(1));
/// # let _ = mock.token_endpoint();
/// ```
pub struct OAuth2MockServer {
    child: Child,
    control: Mutex<Control>,
    issuer: String,
    port: u16,
}

impl std::fmt::Debug for OAuth2MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth2MockServer").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl OAuth2MockServer {
    /// Starts the mock with one RS256 key.
    ///
    /// # Panics
    /// If Node.js or oauth2-mock-server is missing (naming the install command) or the server
    /// does not start.
    pub fn start() -> Self {
        Self::start_with_keys(&["RS256"])
    }

    /// Starts the mock with one key per algorithm (`RS256`, `ES256`, `EdDSA`, ...).
    ///
    /// # Panics
    /// As [`OAuth2MockServer::start`].
    pub fn start_with_keys(algs: &[&str]) -> Self {
        Self::start_from(&crate::deps_dir(), algs)
    }

    /// As [`OAuth2MockServer::start_with_keys`], with the npm packages under `deps_dir/node`.
    ///
    /// # Panics
    /// As [`OAuth2MockServer::start`].
    pub fn start_from(deps_dir: &Path, algs: &[&str]) -> Self {
        let script = install_script(deps_dir, "oauth2-mock-server", SCRIPT_NAME, SCRIPT);
        let mut child = Command::new(node())
            .arg(&script)
            .arg(json!({ "algs": algs }).to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node {}: {e}", script.display()));
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            panic!("node started without pipes");
        };
        let mut control = Control { stdin, stdout: BufReader::new(stdout) };
        // The first line says where it listens; if node dies first, the read ends empty.
        let ready = read_message(&mut control.stdout).unwrap_or_else(|| {
            let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
            panic!("oauth2-mock-server did not start ({status}); see its output above")
        });
        let (Some(port), Some(issuer)) =
            (field(&ready, "port").as_u64(), field(&ready, "issuer").as_str())
        else {
            panic!("unexpected start-up line from oauth2-mock-server: {ready}");
        };
        Self {
            port: u16::try_from(port).unwrap_or_else(|_| panic!("bad port {port}")),
            issuer: issuer.to_owned(),
            control: Mutex::new(control),
            child,
        }
    }

    /// The issuer URL, `http://127.0.0.1:PORT` (the `iss` of its tokens).
    pub fn issuer_url(&self) -> &str {
        &self.issuer
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The token endpoint, `{issuer}/token`.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// The JWKS URL, `{issuer}/jwks`.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// The discovery URL, `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Merges `claims` (a JSON object) into the payload of every token from now on; a `null`
    /// value removes a claim (`"exp": null` makes tokens without expiry).
    pub fn set_claims(&self, claims: Value) {
        self.command(json!({ "op": "claims", "value": claims }));
    }

    /// Merges `header` into the header of every token from now on, e.g. `{"kid": "unknown"}`
    /// (the token is still signed with one of the mock's keys).
    pub fn set_header(&self, header: Value) {
        self.command(json!({ "op": "header", "value": header }));
    }

    /// Makes tokens live `secs` seconds (`exp = iat + secs`, `expires_in = secs`); a negative
    /// value mints tokens that have already expired.
    pub fn set_token_lifetime(&self, secs: i64) {
        self.command(json!({ "op": "lifetime", "value": secs }));
    }

    /// Queues a fault on a path (`/token`, `/jwks`, `/.well-known/openid-configuration`).
    pub fn inject_fault(&self, path: &str, fault: MockFault) {
        self.command(json!({ "op": "fault", "path": path, "fault": fault.to_json() }));
    }

    /// Requests served on `path` so far (faulted ones included).
    pub fn requests(&self, path: &str) -> u64 {
        field(&self.command(json!({ "op": "requests", "path": path })), "count")
            .as_u64()
            .unwrap_or(0)
    }

    /// Adds a key (`RS256`, `ES256`, `EdDSA`, ...) and returns its `kid`. With more than one key
    /// the mock signs round-robin.
    pub fn generate_key(&self, alg: &str) -> String {
        let reply = self.command(json!({ "op": "generate_key", "alg": alg }));
        field(&reply, "kid").as_str().unwrap_or_default().to_owned()
    }

    /// Clears token shaping, faults and request counts.
    pub fn reset(&self) {
        self.command(json!({ "op": "reset" }));
    }

    fn command(&self, command: Value) -> Value {
        let mut control = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        let sent = writeln!(control.stdin, "{command}").and_then(|()| control.stdin.flush());
        if let Err(e) = sent {
            panic!("oauth2-mock-server is gone ({e}); see its output above");
        }
        let reply = read_message(&mut control.stdout)
            .unwrap_or_else(|| panic!("oauth2-mock-server is gone; see its output above"));
        if field(&reply, "ok") != &json!(true) {
            panic!("oauth2-mock-server refused {command}: {reply}");
        }
        reply
    }
}

fn field<'a>(message: &'a Value, name: &str) -> &'a Value {
    message.get(name).unwrap_or(&Value::Null)
}

fn read_message(stdout: &mut BufReader<ChildStdout>) -> Option<Value> {
    let mut line = String::new();
    match stdout.read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => serde_json::from_str(&line).ok(),
    }
}

impl Drop for OAuth2MockServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
