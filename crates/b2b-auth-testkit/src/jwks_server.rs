//! A programmable HTTP server for JWKS and discovery endpoints that misbehave on request:
//! slow, huge, malformed, redirecting, with the wrong content type or status.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde_json::Value;
use tokio::task::JoinHandle;

/// One canned answer of a [`JwksServer`].
///
/// ```
/// use std::time::Duration;
/// use b2b_auth_testkit::{Canned, TestKey, jwks};
///
/// let ok = Canned::json(&jwks(&[TestKey::RSA])).header("cache-control", "max-age=120");
/// let slow = ok.clone().delay(Duration::from_secs(10));
/// let moved = Canned::redirect("http://127.0.0.1:1/elsewhere");
/// let html = Canned::body(200, "text/html", "<html></html>");
/// let huge_streamed = Canned::json(&jwks(&[TestKey::RSA])).padded_to(1 << 20).streamed();
/// # let _ = (slow, moved, html, huge_streamed);
/// ```
#[derive(Clone, Debug)]
pub struct Canned {
    status: u16,
    headers: Vec<(String, String)>,
    body: Bytes,
    delay: Option<Duration>,
    streamed: bool,
}

impl Canned {
    /// 200 with `Content-Type: application/json` and `value` as the body.
    pub fn json(value: &Value) -> Self {
        Self::body(200, "application/json", value.to_string())
    }

    /// `status` with this content type and body.
    pub fn body(status: u16, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            delay: None,
            streamed: false,
        }
    }

    /// A 302 to `location`.
    pub fn redirect(location: &str) -> Self {
        Self::body(302, "text/plain", "moved").header("location", location)
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Waits this long before answering.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Pads the (JSON) body with trailing spaces up to `len` bytes: still valid JSON.
    pub fn padded_to(mut self, len: usize) -> Self {
        let mut body = self.body.to_vec();
        body.resize(len.max(body.len()), b' ');
        self.body = body.into();
        self
    }

    /// Sends the body in 8 KiB chunks without `Content-Length`, so that a client must
    /// count what it reads.
    pub fn streamed(mut self) -> Self {
        self.streamed = true;
        self
    }
}

#[derive(Default)]
struct Routes {
    answers: HashMap<String, Canned>,
    requests: HashMap<String, u64>,
}

/// An HTTP server on `127.0.0.1` and a free port that answers each path with what the test
/// set ([`Canned`]); unknown paths get 404. Counts requests per path. Stops on drop.
///
/// ```
/// use b2b_auth_testkit::{Canned, JwksServer, TestKey, jwks};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = JwksServer::start().await;
/// server.set("/jwks", Canned::json(&jwks(&[TestKey::P256])));
/// let body = reqwest::get(server.url("/jwks")).await?.text().await?;
/// assert!(body.contains("test-p256"));
/// assert_eq!(server.requests("/jwks"), 1);
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct JwksServer {
    addr: SocketAddr,
    routes: Arc<Mutex<Routes>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").field("paths", &self.answers.keys()).finish()
    }
}

impl JwksServer {
    /// Starts the server on the current tokio runtime.
    ///
    /// # Panics
    /// If no loopback port can be bound.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("no local address: {e}"));
        let routes = Arc::new(Mutex::new(Routes::default()));
        let app = axum::Router::new().fallback(answer).with_state(Arc::clone(&routes));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, routes, task }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers `path` with `answer` from now on.
    pub fn set(&self, path: &str, answer: Canned) {
        self.lock().answers.insert(path.to_owned(), answer);
    }

    /// Requests received on `path` so far.
    pub fn requests(&self, path: &str) -> u64 {
        self.lock().requests.get(path).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(routes): State<Arc<Mutex<Routes>>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let canned = {
        let mut routes = routes.lock().unwrap_or_else(PoisonError::into_inner);
        *routes.requests.entry(path.clone()).or_default() += 1;
        routes.answers.get(&path).cloned()
    };
    let Some(canned) = canned else {
        let mut response = Response::new(Body::from("not found"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    if let Some(delay) = canned.delay {
        tokio::time::sleep(delay).await;
    }
    let body = if canned.streamed {
        let (mut sender, body) = http_body_util::Channel::<Bytes, std::convert::Infallible>::new(4);
        let data = canned.body.clone();
        tokio::spawn(async move {
            for chunk in data.chunks(8 * 1024) {
                if sender.send_data(Bytes::copy_from_slice(chunk)).await.is_err() {
                    return; // the client hung up, as it should past its limit
                }
            }
        });
        Body::new(body)
    } else {
        Body::from(canned.body.clone())
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(canned.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in &canned.headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str()))
        {
            response.headers_mut().append(name, value);
        }
    }
    if canned.streamed {
        response.headers_mut().remove(header::CONTENT_LENGTH);
    }
    response
}
