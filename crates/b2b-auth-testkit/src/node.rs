//! Node.js scripts of ours, run beside the npm packages that `scripts/install-test-deps`
//! installs: the oauth2-mock-server driver, and `jose` as an independent JWT verifier.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;

use crate::process::{missing, on_path};

/// The `node` program.
pub(crate) fn node() -> PathBuf {
    on_path("node").unwrap_or_else(|| missing("node (Debian package nodejs)", "PATH"))
}

/// Writes `text` as `name` into the npm folder under `deps_dir`, after checking `package` is
/// installed there, and returns the script's path.
///
/// The script must sit beside `node_modules`: ES modules resolve imports from their own
/// location, not from `NODE_PATH`.
pub(crate) fn install_script(deps_dir: &Path, package: &str, name: &str, text: &str) -> PathBuf {
    let dir = deps_dir.join("node");
    let manifest = dir.join("node_modules").join(package).join("package.json");
    if !manifest.is_file() {
        missing(&format!("{package} (npm)"), &manifest.display().to_string());
    }
    let script = dir.join(name);
    if std::fs::read_to_string(&script).ok().as_deref() != Some(text) {
        // Written aside and renamed, so that a test starting in parallel never runs half a
        // script.
        let written = tempfile::NamedTempFile::new_in(&dir)
            .and_then(|mut file| file.write_all(text.as_bytes()).map(|()| file))
            .and_then(|file| file.persist(&script).map_err(|e| e.error));
        if let Err(e) = written {
            panic!("cannot write {}: {e}", script.display());
        }
    }
    script
}

const JOSE_VERIFY: &str = include_str!("jose_verify.mjs");

/// A JWT that `jose` verified: its protected header and payload.
#[derive(Clone, Debug)]
pub struct JoseVerified {
    /// The protected header.
    pub header: Value,
    /// The payload (claims).
    pub payload: Value,
}

/// Verifies `token` with npm's `jose` (an implementation independent of ours and of
/// jsonwebtoken) against the JWKS at `jwks_uri`, requiring `iss == issuer` and RS256, ES256 or
/// EdDSA. `Err` carries jose's error code, e.g. `ERR_JWKS_NO_MATCHING_KEY`.
///
/// Async, because the JWKS is often served by an issuer on the test's own runtime.
///
/// # Panics
/// If Node.js or jose is missing (naming the install command).
pub async fn verify_with_jose(
    token: &str,
    jwks_uri: &str,
    issuer: &str,
) -> Result<JoseVerified, String> {
    let script =
        install_script(&crate::deps_dir(), "jose", "b2b-auth-jose-verify.mjs", JOSE_VERIFY);
    let mut child = tokio::process::Command::new(node())
        .arg(&script)
        .args([jwks_uri, issuer])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start node {}: {e}", script.display()));
    // The token goes through stdin, not argv, which other processes can read.
    if let Some(mut stdin) = child.stdin.take() {
        use tokio::io::AsyncWriteExt as _;
        stdin.write_all(token.as_bytes()).await.unwrap_or_else(|e| panic!("node stdin: {e}"));
    }
    let output = child.wait_with_output().await.unwrap_or_else(|e| panic!("node failed: {e}"));
    let reply: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("unexpected output from jose ({e}): {:?}", output.stdout));
    match reply.get("ok") {
        Some(Value::Bool(true)) => Ok(JoseVerified {
            header: reply.get("header").cloned().unwrap_or_default(),
            payload: reply.get("payload").cloned().unwrap_or_default(),
        }),
        _ => Err(reply.get("error").and_then(Value::as_str).unwrap_or("unknown error").to_owned()),
    }
}
