//! The `moto` AWS emulator in server mode, for SSM Parameter Store (and Cognito, IAM).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::{ServerProcess, http_request, missing};

/// A `moto_server` on `127.0.0.1` and a free port. Killed on drop.
///
/// Point the AWS SDK at [`MotoServer::endpoint_url`] with region [`MotoServer::REGION`] and the
/// fake static credentials [`MotoServer::ACCESS_KEY_ID`] / [`MotoServer::SECRET_ACCESS_KEY`].
/// moto routes requests by their SigV4 credential scope, so go through the SDK (an unsigned
/// request is taken for S3).
///
/// ```no_run
/// let moto = b2b_auth_testkit::MotoServer::start();
/// let endpoint = moto.endpoint_url(); // http://127.0.0.1:PORT
/// # let _ = endpoint;
/// ```
#[derive(Debug)]
pub struct MotoServer {
    process: ServerProcess,
    port: u16,
}

impl MotoServer {
    /// The region to configure (moto keeps state per region).
    pub const REGION: &'static str = "us-east-1";
    /// A fake access key id.
    pub const ACCESS_KEY_ID: &'static str = "testing";
    /// A fake secret access key.
    pub const SECRET_ACCESS_KEY: &'static str = "testing";

    /// Starts moto from the venv that `scripts/install-test-deps` creates under
    /// [`deps_dir`](crate::deps_dir).
    ///
    /// # Panics
    /// If moto is not installed (naming the install command) or does not start.
    pub fn start() -> Self {
        Self::start_from(&crate::deps_dir())
    }

    /// Starts moto from the venv under `deps_dir` (`<deps_dir>/venv/bin/moto_server`).
    ///
    /// # Panics
    /// As [`MotoServer::start`].
    pub fn start_from(deps_dir: &Path) -> Self {
        let program: PathBuf = deps_dir.join("venv/bin/moto_server");
        if !program.is_file() {
            missing("moto (PyPI moto[ssm,cognitoidp,iam] + flask)", &program.display().to_string());
        }
        let (process, port) = ServerProcess::start(
            "moto",
            |port, _dir| {
                let mut command = Command::new(&program);
                command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
                command
            },
            |addr| {
                matches!(http_request(addr, "GET", "/moto-api/", "text/plain", b""), Ok((200, _)))
            },
        );
        Self { process, port }
    }

    /// The endpoint URL to give the AWS SDK, `http://127.0.0.1:PORT`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Forgets every resource in every region (`POST /moto-api/reset`).
    ///
    /// # Panics
    /// If moto does not accept the reset.
    pub fn reset(&self) {
        self.moto_api("/moto-api/reset", b"");
    }

    /// Turns on real SigV4 checking (`POST /moto-api/reset-auth`): from then on only the
    /// access keys of IAM users created through the SDK are accepted. Create the user and
    /// its key first, with the fake credentials.
    ///
    /// # Panics
    /// If moto does not accept the call.
    pub fn enable_auth(&self) {
        self.moto_api("/moto-api/reset-auth", b"0");
    }

    fn moto_api(&self, path: &str, body: &[u8]) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        match http_request(addr, "POST", path, "text/plain", body) {
            Ok((200, _)) => {}
            other => panic!("moto {path} failed: {other:?}; log:\n{}", self.process.log_tail()),
        }
    }
}
