//! The issuer: its shared state, its routes, and the server that runs them.

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt as _;

use crate::config::PoolConfig;
use crate::error::{KeyError, StartError};
use crate::faults::{DropConnection, Endpoint, Fault, Faults, Outcome};
use crate::keys::{KeyRing, SigningKey};
use crate::oauth::{OAuthError, no_store};
use crate::token::{self, MAX_BODY_BYTES, Pool, TokenResponse};
use crate::urls::{DISCOVERY_PATH, IssuerUrls, JWKS_PATH, TOKEN_PATH};
use b2b_auth_core::{Clock, SystemClock};

/// How long a connection may take to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Request counters, for tests that assert how often a client called.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub struct IssuerStats {
    /// Requests to the token endpoint, whatever their outcome (faulted ones included).
    pub token_requests: u64,
    /// Access tokens issued, over HTTP or through [`Issuer::issue_token`].
    pub tokens_issued: u64,
    /// Requests to the JWKS endpoint.
    pub jwks_requests: u64,
    /// Requests to the discovery document.
    pub discovery_requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    token_requests: AtomicU64,
    tokens_issued: AtomicU64,
    jwks_requests: AtomicU64,
    discovery_requests: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

struct Shared {
    urls: IssuerUrls,
    local_addr: SocketAddr,
    pool: Pool,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
    rotation_grace: Duration,
    admin_token: Option<[u8; 32]>,
    discovery: Bytes,
    counters: Counters,
    faults: Faults,
}

/// A running issuer's handle: its URLs, its keys, its test hooks. Cheap to clone.
///
/// Get one from [`IssuerServer::issuer`] after [`IssuerBuilder::start`].
#[derive(Clone)]
pub struct Issuer {
    shared: Arc<Shared>,
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Issuer")
            .field("url", &self.shared.urls.issuer)
            .field("local_addr", &self.shared.local_addr)
            .finish_non_exhaustive()
    }
}

impl Issuer {
    /// Starts configuring an issuer for `config`.
    pub fn builder(config: PoolConfig) -> IssuerBuilder {
        IssuerBuilder { config, clock: Arc::new(SystemClock), signing_key: None }
    }

    /// The issuer URL: the `iss` claim of its tokens.
    pub fn url(&self) -> &str {
        &self.shared.urls.issuer
    }

    /// The token endpoint, `{issuer}/oauth2/token`.
    pub fn token_endpoint(&self) -> String {
        self.shared.urls.token_endpoint()
    }

    /// The JWKS URL, `{issuer}/.well-known/jwks.json`.
    pub fn jwks_uri(&self) -> String {
        self.shared.urls.jwks_uri()
    }

    /// The OIDC discovery URL, `{issuer}/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        self.shared.urls.discovery()
    }

    /// The socket address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The key id of the key that signs new tokens.
    pub fn signing_kid(&self) -> String {
        self.shared.keys.snapshot().signing_key().kid().to_owned()
    }

    /// The key ids in the JWKS now, the signing key first.
    pub fn published_kids(&self) -> Vec<String> {
        self.shared.keys.snapshot().published_kids(self.shared.clock.now())
    }

    /// Generates a new RSA-2048 key and signs with it from now on; returns its key id.
    ///
    /// The previous signing key stays in the JWKS for the rotation grace period
    /// ([`PoolConfig::key_rotation_grace`]), then leaves it.
    ///
    /// # Errors
    /// [`KeyError::Generation`] if key generation fails.
    pub fn rotate_key(&self) -> Result<String, KeyError> {
        let key = SigningKey::generate()?;
        let kid = key.kid().to_owned();
        self.rotate_to(key)?;
        Ok(kid)
    }

    /// [`Issuer::rotate_key`] off the async runtime: RSA key generation takes milliseconds.
    async fn rotate_key_blocking(&self) -> Result<String, KeyError> {
        let issuer = self.clone();
        tokio::task::spawn_blocking(move || issuer.rotate_key())
            .await
            .unwrap_or(Err(KeyError::Generation))
    }

    /// Signs with `key` from now on, as [`Issuer::rotate_key`] does with a generated key.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`] if a published key has the same key id.
    pub fn rotate_to(&self, key: SigningKey) -> Result<(), KeyError> {
        let kid = key.kid().to_owned();
        let now = self.shared.clock.now();
        self.shared.keys.rotate(key, now, self.shared.rotation_grace)?;
        tracing::info!(
            kid,
            grace_secs = self.shared.rotation_grace.as_secs(),
            "signing key rotated"
        );
        Ok(())
    }

    /// Removes a key from the JWKS now, before its grace period is over.
    ///
    /// # Errors
    /// [`KeyError::UnknownKid`] if no published key has this id, [`KeyError::ActiveKey`] for
    /// the signing key.
    pub fn retire_key(&self, kid: &str) -> Result<(), KeyError> {
        self.shared.keys.retire(kid, self.shared.clock.now())?;
        tracing::info!(kid, "signing key retired");
        Ok(())
    }

    /// Issues an access token to a configured client without authenticating it: the test
    /// shortcut for the token endpoint. `scope` follows the endpoint's rules (absent = all
    /// allowed scopes).
    ///
    /// # Errors
    /// `invalid_client` for an unknown client, `invalid_scope` for a scope it may not have.
    pub fn issue_token(
        &self,
        client_id: &str,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let client = self
            .shared
            .pool
            .client(client_id)
            .ok_or_else(|| OAuthError::invalid_client("unknown client"))?;
        self.issue(client, scope)
    }

    fn issue(
        &self,
        client: &token::Client,
        scope: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let scope = token::grant_scopes(client, scope)?;
        let keys = self.shared.keys.snapshot();
        let key = keys.signing_key();
        let (response, jti) = token::mint(key, self.url(), client, scope, self.shared.clock.now())?;
        bump(&self.shared.counters.tokens_issued);
        tracing::info!(
            client_id = client.id,
            scope = response.scope(),
            kid = key.kid(),
            jti,
            "access token issued"
        );
        Ok(response)
    }

    /// The request counters so far.
    pub fn stats(&self) -> IssuerStats {
        let c = &self.shared.counters;
        IssuerStats {
            token_requests: c.token_requests.load(Ordering::Relaxed),
            tokens_issued: c.tokens_issued.load(Ordering::Relaxed),
            jwks_requests: c.jwks_requests.load(Ordering::Relaxed),
            discovery_requests: c.discovery_requests.load(Ordering::Relaxed),
        }
    }

    /// Queues a fault on an endpoint. See [`Fault`].
    pub fn inject_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared.faults.push(endpoint, fault);
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.shared.faults.clear();
    }
}

/// Configures and starts an [`Issuer`].
pub struct IssuerBuilder {
    config: PoolConfig,
    clock: Arc<dyn Clock>,
    signing_key: Option<SigningKey>,
}

impl fmt::Debug for IssuerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerBuilder")
            .field("config", &self.config)
            .field("clock", &self.clock)
            .field("signing_key", &self.signing_key)
            .finish()
    }
}

impl IssuerBuilder {
    /// The time source for `iat`, `exp` and key retirement. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The first signing key. Default: a fresh RSA-2048 key generated at start.
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// Validates the configuration, binds `addr` and serves on the current tokio runtime.
    ///
    /// # Errors
    /// [`StartError::Config`] for an invalid pool, [`StartError::Bind`] if the address is
    /// taken, [`StartError::Key`] if key generation fails.
    pub async fn start(self, addr: SocketAddr) -> Result<IssuerServer, StartError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr: addr.to_string(), source })?;
        self.start_on(listener)
    }

    /// As [`IssuerBuilder::start`], on `127.0.0.1` and a port the system picks.
    ///
    /// # Errors
    /// As [`IssuerBuilder::start`].
    pub async fn start_local(self) -> Result<IssuerServer, StartError> {
        self.start(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves on a listener bound by the caller.
    ///
    /// # Errors
    /// As [`IssuerBuilder::start`].
    pub fn start_on(self, listener: TcpListener) -> Result<IssuerServer, StartError> {
        self.config.validate()?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| StartError::Bind { addr: "listener".into(), source })?;
        let default_url = format!("http://{local_addr}");
        let urls = IssuerUrls::parse(self.config.issuer.as_deref().unwrap_or(&default_url))?;
        let signing_key = match self.signing_key {
            Some(key) => key,
            None => SigningKey::generate()?,
        };
        let pool = Pool::new(&self.config, &urls);
        let discovery = discovery_document(&urls, &pool.scopes);
        let shared = Shared {
            local_addr,
            pool,
            keys: KeyRing::new(signing_key),
            clock: self.clock,
            rotation_grace: self.config.rotation_grace(),
            admin_token: self
                .config
                .admin
                .as_ref()
                .map(|a| token::digest_secret(a.token.expose_secret())),
            discovery,
            counters: Counters::default(),
            faults: Faults::default(),
            urls,
        };
        let issuer = Issuer { shared: Arc::new(shared) };
        let router = router(issuer.clone());
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(serve(listener, router, stopped));
        tracing::info!(issuer = issuer.url(), %local_addr, "issuer listening");
        Ok(IssuerServer { issuer, stop: Some(stop), task })
    }
}

/// A running issuer. Dropping it stops the server; [`IssuerServer::shutdown`] also waits until
/// the port is free.
#[derive(Debug)]
pub struct IssuerServer {
    issuer: Issuer,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl IssuerServer {
    /// The issuer's handle.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// Stops accepting connections, closes the open ones and waits until the listener is
    /// closed.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for IssuerServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn discovery_document(urls: &IssuerUrls, scopes: &[String]) -> Bytes {
    // RFC 8414 / OIDC discovery. No authorization endpoint exists, so no response type is
    // supported: the list is honestly empty.
    let document = serde_json::json!({
        "issuer": urls.issuer,
        "token_endpoint": urls.token_endpoint(),
        "jwks_uri": urls.jwks_uri(),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "PS256", "ES256", "EdDSA"],
        "scopes_supported": scopes,
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    Bytes::from(document.to_string())
}

fn router(issuer: Issuer) -> Router {
    let mut routes = Router::new()
        .route(TOKEN_PATH, post(token_endpoint))
        .route(JWKS_PATH, get(jwks_endpoint))
        .route(DISCOVERY_PATH, get(discovery_endpoint));
    if issuer.shared.admin_token.is_some() {
        routes = routes
            .route("/admin/keys", get(admin_list_keys))
            .route("/admin/keys/rotate", post(admin_rotate_key))
            .route("/admin/keys/{kid}", delete(admin_retire_key));
    }
    let base_path = issuer.shared.urls.base_path.clone();
    let routes = routes.with_state(issuer);
    if base_path.is_empty() { routes } else { Router::new().nest(&base_path, routes) }
}

fn json_response(bytes: impl Into<Body>) -> Response {
    let mut response = Response::new(bytes.into());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

async fn token_endpoint(State(issuer): State<Issuer>, request: Request) -> Response {
    bump(&issuer.shared.counters.token_requests);
    if let Outcome::Respond(response) = issuer.shared.faults.apply(Endpoint::Token).await {
        return response;
    }
    match handle_token_request(&issuer, request).await {
        Ok(token) => {
            let mut response = axum::Json(token).into_response();
            no_store(response.headers_mut());
            response
        }
        Err(error) => {
            tracing::debug!(error = %error.code(), reason = error.description(), "token request refused");
            error.into_response()
        }
    }
}

async fn handle_token_request(
    issuer: &Issuer,
    request: Request,
) -> Result<TokenResponse, OAuthError> {
    let (parts, body) = request.into_parts();
    token::check_content_type(&parts.headers)?;
    let declared_too_large = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES as u64);
    if declared_too_large {
        return Err(OAuthError::body_too_large());
    }
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| OAuthError::body_too_large())?;
    let request = token::TokenRequest::parse(&body)?;
    let now = issuer.shared.clock.now();
    let client = token::authenticate(&issuer.shared.pool, &parts.headers, &request, now)?;
    token::check_grant_type(&request)?;
    issuer.issue(client, token::requested_scope(&request))
}

async fn jwks_endpoint(State(issuer): State<Issuer>) -> Response {
    bump(&issuer.shared.counters.jwks_requests);
    if let Outcome::Respond(response) = issuer.shared.faults.apply(Endpoint::Jwks).await {
        return response;
    }
    let keys = issuer.shared.keys.snapshot();
    let jwks = keys.jwks(issuer.shared.clock.now());
    match serde_json::to_vec(&jwks) {
        Ok(bytes) => json_response(bytes),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn discovery_endpoint(State(issuer): State<Issuer>) -> Response {
    bump(&issuer.shared.counters.discovery_requests);
    if let Outcome::Respond(response) = issuer.shared.faults.apply(Endpoint::Discovery).await {
        return response;
    }
    json_response(issuer.shared.discovery.clone())
}

/// Whether the request carries the admin token as `Authorization: Bearer`.
fn is_admin(issuer: &Issuer, headers: &HeaderMap) -> bool {
    let presented = headers.get(header::AUTHORIZATION).and_then(|value| {
        let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token)
    });
    let authorized = match (presented, &issuer.shared.admin_token) {
        (Some(presented), Some(stored)) => token::secret_matches(presented.as_bytes(), stored),
        _ => false,
    };
    if !authorized {
        tracing::info!("admin request refused: missing or wrong admin token");
    }
    authorized
}

fn admin_unauthorized() -> Response {
    let body = axum::Json(serde_json::json!({ "error": "invalid_token" }));
    let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"b2b-auth-issuer admin\", error=\"invalid_token\""),
    );
    response
}

fn admin_keys_body(issuer: &Issuer) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "signing_kid": issuer.signing_kid(),
        "published_kids": issuer.published_kids(),
    }))
}

async fn admin_list_keys(State(issuer): State<Issuer>, headers: HeaderMap) -> Response {
    if !is_admin(&issuer, &headers) {
        return admin_unauthorized();
    }
    admin_keys_body(&issuer).into_response()
}

async fn admin_rotate_key(State(issuer): State<Issuer>, headers: HeaderMap) -> Response {
    if !is_admin(&issuer, &headers) {
        return admin_unauthorized();
    }
    match issuer.rotate_key_blocking().await {
        Ok(_) => admin_keys_body(&issuer).into_response(),
        Err(error) => admin_key_error(&error),
    }
}

async fn admin_retire_key(
    State(issuer): State<Issuer>,
    Path(kid): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !is_admin(&issuer, &headers) {
        return admin_unauthorized();
    }
    match issuer.retire_key(&kid) {
        Ok(()) => admin_keys_body(&issuer).into_response(),
        Err(error) => admin_key_error(&error),
    }
}

fn admin_key_error(error: &KeyError) -> Response {
    let (status, code) = match error {
        KeyError::UnknownKid { .. } => (StatusCode::NOT_FOUND, "unknown_kid"),
        KeyError::ActiveKey { .. } => (StatusCode::CONFLICT, "active_key"),
        KeyError::DuplicateKid { .. } => (StatusCode::CONFLICT, "duplicate_kid"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "key_error"),
    };
    let body = serde_json::json!({ "error": code, "error_description": error.to_string() });
    (status, axum::Json(body)).into_response()
}

/// The accept loop. Connections are served by hyper directly (not `axum::serve`) so that an
/// injected [`Fault::drop_connection`] can close a connection without an answer.
async fn serve(listener: TcpListener, router: Router, mut stop: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    // Dropping the JoinSet aborts the open connections.
}

#[derive(Debug)]
struct ConnectionDropped;

impl fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by an injected fault")
    }
}

impl std::error::Error for ConnectionDropped {}

async fn serve_connection(stream: tokio::net::TcpStream, router: Router) {
    let service =
        hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let router = router.clone();
            async move {
                let response =
                    router.oneshot(request).await.unwrap_or_else(|e: Infallible| match e {});
                if response.extensions().get::<DropConnection>().is_some() {
                    // A service error makes hyper close the connection without writing anything.
                    return Err(ConnectionDropped);
                }
                Ok(response)
            }
        });
    let result = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .await;
    if let Err(error) = result {
        tracing::trace!(%error, "connection ended with an error");
    }
}
