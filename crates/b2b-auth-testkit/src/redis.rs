//! A real `redis-server` on a loopback port.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::Duration;

use crate::process::{ServerProcess, missing, on_path};

/// A `redis-server` (Debian's package) on `127.0.0.1` and a free port, with no persistence.
/// Killed on drop.
///
/// ```no_run
/// let redis = b2b_auth_testkit::RedisServer::start();
/// let url = redis.url(); // redis://127.0.0.1:PORT/
/// # let _ = url;
/// ```
#[derive(Debug)]
pub struct RedisServer {
    _process: ServerProcess,
    port: u16,
    password: Option<String>,
}

/// Options for [`RedisServer`]: authentication.
#[derive(Clone, Debug, Default)]
pub struct RedisServerBuilder {
    password: Option<String>,
    users: Vec<(String, String)>,
}

impl RedisServerBuilder {
    /// Requires this password for the default user (`--requirepass`). Default: none.
    pub fn password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// Adds an ACL user with full access and this password. Default: none.
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.users.push((name.into(), password.into()));
        self
    }

    /// Starts the server and waits until it answers `PING`.
    ///
    /// # Panics
    /// If `redis-server` is not installed (naming the install command) or does not start.
    pub fn start(self) -> RedisServer {
        let program = on_path("redis-server")
            .unwrap_or_else(|| missing("redis-server", "PATH (Debian package redis-server)"));
        let (process, port) = ServerProcess::start(
            "redis",
            |port, dir| {
                let mut command = Command::new(&program);
                command
                    .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                    .args(["--save", "", "--appendonly", "no"])
                    .arg("--dir")
                    .arg(dir);
                if let Some(password) = &self.password {
                    command.args(["--requirepass", password]);
                }
                for (name, password) in &self.users {
                    command.args([
                        "--user",
                        name,
                        "on",
                        &format!(">{password}"),
                        "~*",
                        "&*",
                        "+@all",
                    ]);
                }
                command
            },
            answers_ping,
        );
        RedisServer { _process: process, port, password: self.password }
    }
}

/// Ready once it answers `PING` at all: `+PONG`, or `-NOAUTH` when a password is required.
fn answers_ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0u8; 1];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut reply).is_ok()
        && matches!(reply, [b'+' | b'-'])
}

impl RedisServer {
    /// Options: password, ACL users.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// Starts a server without authentication.
    ///
    /// # Panics
    /// As [`RedisServerBuilder::start`].
    pub fn start() -> Self {
        Self::builder().start()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT/`, with the default user's password when one is set.
    pub fn url(&self) -> String {
        match &self.password {
            Some(password) => {
                let password = url_encode(password);
                format!("redis://:{password}@127.0.0.1:{}/", self.port)
            }
            None => format!("redis://127.0.0.1:{}/", self.port),
        }
    }

    /// `redis://USER:PASSWORD@127.0.0.1:PORT/` for an ACL user.
    pub fn url_for_user(&self, user: &str, password: &str) -> String {
        format!("redis://{}:{}@127.0.0.1:{}/", url_encode(user), url_encode(password), self.port)
    }
}

/// Percent-encodes a URL userinfo component (the redis crate percent-decodes it).
fn url_encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}
