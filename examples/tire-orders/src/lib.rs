//! Tire orders — the reference scenario's supplier, built on b2b-auth the way a user would
//! build it.
//!
//! - `POST /orders` creates a tire order for a car order, behind, in this order: the
//!   manufacturer's egress addresses (an IP allowlist layered with a resource policy), a
//!   bearer token with `tires/orders.write`, and an API key of the manufacturer's usage plan
//!   bound to the token's client. `GET /orders/{id}` needs `tires/orders.read`.
//! - A job completes pending orders after a delay and raises `TireOrderCompleted`, archived
//!   in SQLite with the state change; a worker delivers each event to the manufacturer's
//!   callback with a client-credentials token for the manufacturer's API, retried with
//!   back-off, dead-lettered after a bounded number of attempts.
//! - `POST /admin/replay` (scope `tires/events.replay`) and the `replay` command re-deliver
//!   the events of a time range.
//!
//! [`app`] builds the whole service as an axum `Router`, so that tests run it in-process.

pub mod config;
pub mod events;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use b2b_auth_jwt::{ScopePolicy, TrustedIssuer, Verifier};
use b2b_auth_policy::{AccessGuard, Api, IpAction, IpRule, IpSet, ResourcePolicy};
use b2b_auth_token::{ClientCredentials, TokenProvider};
use b2b_auth_tower::api_key::{ApiKeyLayer, ApiKeys};
use b2b_auth_tower::{
    BearerMiddleware, EnforcePolicyLayer, RequireBearerLayer, ScopeRoutes, VerifiedClaims,
};
use secrecy::SecretString;
use serde::Deserialize;
use tokio::task::JoinHandle;
use tower::ServiceBuilder;

pub use config::{Config, ConfigError};
use events::{DeliverySettings, now_ms};
use store::{Store, StoreError};

/// Why the service could not start: the first setting or resource at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A part of the auth stack refused its settings.
    #[error("invalid {part} settings: {source}")]
    Auth {
        /// Which part.
        part: &'static str,
        /// Why.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn auth<E: std::error::Error + Send + Sync + 'static>(
    part: &'static str,
) -> impl FnOnce(E) -> StartError {
    move |source| StartError::Auth { part, source: Box::new(source) }
}

/// The background jobs, stopped when the last router clone is dropped.
struct Jobs(Vec<JoinHandle<()>>);

impl Drop for Jobs {
    fn drop(&mut self) {
        for job in &self.0 {
            job.abort();
        }
    }
}

#[derive(Clone)]
struct AppState {
    store: Store,
    completion_delay: Duration,
    _jobs: Arc<Jobs>,
}

/// Builds the service: opens the database, starts the jobs, stacks the auth layers.
///
/// # Errors
/// [`StartError`] naming the setting or resource at fault.
pub async fn app(config: Config) -> Result<Router, StartError> {
    let store = Store::open(&config.database)?;
    let verifier = verifier(&config)?;
    let order_scopes = ScopeRoutes::builder()
        .route("POST /orders", ScopePolicy::all(["tires/orders.write"]))
        .route("GET /orders/{id}", ScopePolicy::all(["tires/orders.read"]))
        .build()
        .map_err(auth("scope routes"))?;
    let bearer = RequireBearerLayer::builder(verifier.clone())
        .require(order_scopes)
        .realm(config.realm.clone())
        .build()
        .map_err(auth("bearer"))?;
    let admin_bearer = RequireBearerLayer::builder(verifier)
        .require(
            ScopeRoutes::builder()
                .route("POST /admin/replay", ScopePolicy::all([config.replay_scope.clone()]))
                .build()
                .map_err(auth("scope routes"))?,
        )
        .realm(config.realm.clone())
        .build()
        .map_err(auth("bearer"))?;
    let keys = ApiKeys::from_config(&config.api_keys).map_err(auth("api keys"))?;
    let api_key = ApiKeyLayer::builder(keys).build().map_err(auth("api keys"))?;
    let policy = EnforcePolicyLayer::new(access_guard(&config)?);

    let poll = Duration::from_millis(config.completion.poll_ms);
    let delivery = DeliverySettings {
        callback_url: config.delivery.callback_url.parse().map_err(auth("callback url"))?,
        max_attempts: config.delivery.max_attempts,
        initial_backoff: Duration::from_millis(config.delivery.initial_backoff_ms),
        max_backoff: Duration::from_millis(config.delivery.max_backoff_ms),
        poll,
    };
    let client = callback_client(&config)?;
    let jobs = Jobs(vec![
        tokio::spawn(events::completion_job(store.clone(), poll)),
        tokio::spawn(events::delivery_worker(store.clone(), client, delivery)),
    ]);
    let state = AppState {
        store,
        completion_delay: Duration::from_millis(config.completion.delay_ms),
        _jobs: Arc::new(jobs),
    };
    // Outermost first: the caller's address, then the token, then the key of its client.
    let orders = Router::new()
        .route("/orders", post(create_order))
        .route("/orders/{id}", get(show_order))
        .layer(ServiceBuilder::new().layer(policy).layer(bearer).layer(api_key));
    let admin = Router::new().route("/admin/replay", post(replay)).layer(admin_bearer);
    Ok(Router::new()
        .merge(orders)
        .merge(admin)
        .route("/health", get(|| async { "ok" }))
        .with_state(state))
}

fn verifier(config: &Config) -> Result<Verifier, StartError> {
    let allow_http = config.issuer.allow_http_loopback;
    let issuer = TrustedIssuer::builder(config.issuer.url.clone())
        .discovery()
        .jwks_with(|jwks| jwks.allow_insecure_http(allow_http))
        .client_ids(config.issuer.client_ids.clone())
        .build()
        .map_err(auth("issuer"))?;
    Verifier::builder().issuer(issuer).build().map_err(auth("verifier"))
}

/// The manufacturer's egress addresses, enforced twice as the pattern does: a WAF-style
/// allowlist, and a resource policy allowing `execute-api:Invoke` from them only.
fn access_guard(config: &Config) -> Result<AccessGuard, StartError> {
    let access = &config.access;
    let api = Api::new(&access.region, &access.account, &access.api_id)
        .and_then(|api| api.with_stage(&access.stage))
        .map_err(auth("api"))?;
    let ips = serde_json::to_string(&access.allowed_ips).map_err(auth("allowed ips"))?;
    let document = access.resource_policy.clone().unwrap_or_else(|| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Sid":"ManufacturerEgress","Effect":"Allow","Principal":"*","Action":"execute-api:Invoke",
                  "Resource":"execute-api:/*","Condition":{{"IpAddress":{{"aws:SourceIp":{ips}}}}}}},
                {{"Sid":"NobodyElse","Effect":"Deny","Principal":"*","Action":"execute-api:Invoke",
                  "Resource":"execute-api:/*","Condition":{{"NotIpAddress":{{"aws:SourceIp":{ips}}}}}}}]}}"#
        )
    });
    let policy = ResourcePolicy::parse(&document, api).map_err(auth("resource policy"))?;
    let allowlist =
        IpSet::parse(access.allowed_ips.iter().map(String::as_str)).map_err(auth("allowed ips"))?;
    AccessGuard::builder()
        .ip_rule(IpRule::allow(allowlist))
        .default_ip_action(IpAction::Block)
        .resource_policy(policy)
        .build()
        .map_err(auth("access guard"))
}

/// The outbound client of the callbacks: a token for the manufacturer's API on every call.
fn callback_client(
    config: &Config,
) -> Result<reqwest_middleware::ClientWithMiddleware, StartError> {
    let token = &config.callback_token;
    let secret = match (&token.client_secret, &token.client_secret_env) {
        (Some(secret), _) => secret.clone(),
        (None, Some(name)) => std::env::var(name)
            .map(SecretString::from)
            .map_err(|_| ConfigError::Env("callback_token.client_secret_env"))?,
        (None, None) => {
            return Err(ConfigError::Parse(
                "callback_token needs client_secret or client_secret_env".into(),
            )
            .into());
        }
    };
    let source = ClientCredentials::builder()
        .token_url(token.token_url.clone())
        .client_id(token.client_id.clone())
        .client_secret(secret)
        .scope(token.scope.clone())
        .allow_http_loopback(token.allow_http_loopback)
        .build()
        .map_err(auth("callback token"))?;
    let provider = TokenProvider::builder(source).build().map_err(auth("callback token"))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(auth("http client"))?;
    Ok(reqwest_middleware::ClientBuilder::new(http).with(BearerMiddleware::new(provider)).build())
}

/// A refusal of the service itself (after the auth layers): status and a JSON reason.
#[derive(Debug)]
struct ApiError(StatusCode, &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        tracing::error!(%error, "storage failed");
        Self(StatusCode::INTERNAL_SERVER_ERROR, "storage failed")
    }
}

fn client_of(claims: &VerifiedClaims) -> Result<String, ApiError> {
    claims
        .0
        .client_id()
        .map(str::to_owned)
        .ok_or(ApiError(StatusCode::FORBIDDEN, "token without client id"))
}

/// `POST /orders` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTireOrder {
    car_order_id: String,
    #[serde(default = "four")]
    tires: u32,
}

fn four() -> u32 {
    4
}

async fn create_order(
    State(state): State<AppState>,
    claims: VerifiedClaims,
    Json(order): Json<NewTireOrder>,
) -> Result<Response, ApiError> {
    let valid_id = !order.car_order_id.is_empty()
        && order.car_order_id.len() <= 64
        && order.car_order_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !valid_id || !(1..=16).contains(&order.tires) {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "car_order_id must be 1-64 of [A-Za-z0-9-], tires 1-16",
        ));
    }
    let client_id = client_of(&claims)?;
    let now = now_ms();
    let complete_after =
        now + i64::try_from(state.completion_delay.as_millis()).unwrap_or(i64::MAX);
    let (order, created) = state
        .store
        .create_order(order.car_order_id, client_id, order.tires, now, complete_after)
        .await?;
    tracing::info!(
        tire_order_id = order.id,
        car_order_id = order.car_order_id,
        client_id = order.client_id,
        created,
        "tire order accepted"
    );
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(order)).into_response())
}

async fn show_order(
    State(state): State<AppState>,
    claims: VerifiedClaims,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.store.order(id, client_of(&claims)?).await? {
        Some(order) => Ok(Json(order).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, "no such tire order")),
    }
}

/// `POST /admin/replay` body: Unix milliseconds, `to` exclusive.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRange {
    from_ms: i64,
    to_ms: i64,
}

async fn replay(
    State(state): State<AppState>,
    claims: VerifiedClaims,
    Json(range): Json<ReplayRange>,
) -> Result<Response, ApiError> {
    if range.to_ms <= range.from_ms {
        return Err(ApiError(StatusCode::BAD_REQUEST, "to_ms must be after from_ms"));
    }
    let scheduled = state.store.replay(range.from_ms, range.to_ms, now_ms()).await?;
    tracing::info!(
        scheduled,
        from_ms = range.from_ms,
        to_ms = range.to_ms,
        by = claims.0.client_id(),
        "events replayed"
    );
    Ok((StatusCode::ACCEPTED, Json(serde_json::json!({ "scheduled": scheduled }))).into_response())
}
