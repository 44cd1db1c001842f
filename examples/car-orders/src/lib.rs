//! Car orders — the reference scenario's manufacturer, built on b2b-auth the way a user would
//! build it.
//!
//! - `POST /orders` stores a car order (`OrderSubmitted`) and orders its tires from the
//!   supplier: from the configured egress address, with the shared client-credentials token
//!   (one token for every instance, refreshed ahead of expiry; in-process, Redis or SSM) and
//!   the API key of the manufacturer's usage plan.
//! - `PATCH /orders/{id}` takes the supplier's `TireOrderCompleted` callback, only with a
//!   token carrying `cars/orders.complete`, and marks the order `OrderComplete`; duplicates
//!   and replays change nothing.
//! - `GET /orders/{id}` follows an order.
//! - A job orders again the tires of orders whose first attempt failed (the supplier or the
//!   identity provider down); the supplier answers a repeated order with the same tire order.
//!
//! [`app`] builds the whole service as an axum `Router`, so that tests run it in-process.

pub mod config;
pub mod store;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use b2b_auth_jwt::{ScopePolicy, TrustedIssuer, Verifier};
use b2b_auth_token::{ClientCredentials, TokenProvider, TokenProviderBuilder};
use b2b_auth_tower::{BearerMiddleware, RequireBearerLayer, VerifiedClaims};
use reqwest_middleware::ClientWithMiddleware;
use secrecy::ExposeSecret as _;
use serde::Deserialize;

pub use config::{Config, ConfigError};
use config::{TokenStoreConfig, inline_or_env};
use store::{Applied, CarOrder, Store, StoreError};

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

/// Unix milliseconds now: the time unit of the store.
pub fn now_ms() -> i64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
}

/// How the service calls the supplier.
#[derive(Clone)]
struct Supplier {
    client: ClientWithMiddleware,
    orders_url: reqwest::Url,
    api_key: HeaderValue,
}

/// The background job, stopped when the last router clone is dropped.
struct Job(tokio::task::JoinHandle<()>);

impl Drop for Job {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Clone)]
struct AppState {
    store: Store,
    supplier: Supplier,
    tokens: TokenProvider,
    _retry_job: Arc<Job>,
}

/// Builds the service: opens the database, prepares the shared token and the supplier
/// client, protects the callback route.
///
/// # Errors
/// [`StartError`] naming the setting or resource at fault.
pub async fn app(config: Config) -> Result<Router, StartError> {
    let store = Store::open(&config.database)?;
    let tokens = token_provider(&config).await?;
    let supplier = supplier(&config, tokens.clone())?;
    let callback = RequireBearerLayer::builder(verifier(&config)?)
        .require(ScopePolicy::all(["cars/orders.complete"]))
        .realm(config.realm.clone())
        .build()
        .map_err(auth("bearer"))?;
    let retry = Duration::from_millis(config.supplier.retry_ms);
    let job = Job(tokio::spawn(retry_job(store.clone(), supplier.clone(), retry)));
    let state = AppState { store, supplier, tokens, _retry_job: Arc::new(job) };
    Ok(Router::new()
        .route("/orders/{id}", axum::routing::patch(complete_order).route_layer(callback))
        .route("/orders", post(create_order))
        .route("/orders/{id}", get(show_order))
        .route("/health", get(health))
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

/// The token for the supplier's API, shared as configured.
async fn token_provider(config: &Config) -> Result<TokenProvider, StartError> {
    let token = &config.token;
    let secret = inline_or_env(
        token.client_secret.as_ref(),
        token.client_secret_env.as_ref(),
        "token.client_secret",
    )?;
    let source = ClientCredentials::builder()
        .token_url(token.token_url.clone())
        .client_id(token.client_id.clone())
        .client_secret(secret)
        .scopes(token.scopes.iter().cloned())
        .allow_http_loopback(token.allow_http_loopback)
        .build()
        .map_err(auth("token"))?;
    let builder: TokenProviderBuilder = TokenProvider::builder(source);
    let builder = match &token.store {
        TokenStoreConfig::Memory => builder,
        #[cfg(feature = "redis")]
        TokenStoreConfig::Redis { url, url_env, key } => {
            let url = inline_or_env(url.as_ref(), url_env.as_ref(), "token.store.url")?;
            let store = b2b_auth_redis::RedisStore::builder(url.expose_secret(), key.clone())
                .build()
                .map_err(auth("redis store"))?;
            builder.store(store)
        }
        #[cfg(feature = "ssm")]
        TokenStoreConfig::Ssm { parameter, region, endpoint_url } => {
            let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
            if let Some(region) = region {
                loader = loader.region(aws_config::Region::new(region.clone()));
            }
            if let Some(endpoint) = endpoint_url {
                loader = loader.endpoint_url(endpoint.clone());
            }
            let client = aws_sdk_ssm::Client::new(&loader.load().await);
            let store = b2b_auth_ssm::SsmStore::builder(client, parameter.clone())
                .build()
                .map_err(auth("ssm store"))?;
            builder.store(store)
        }
        #[allow(unreachable_patterns)] // reachable when a store's feature is off
        _ => {
            return Err(
                ConfigError::Invalid("token.store.kind (its feature is not compiled in)").into()
            );
        }
    };
    builder.build().map_err(auth("token"))
}

fn supplier(config: &Config, tokens: TokenProvider) -> Result<Supplier, StartError> {
    let supplier = &config.supplier;
    let api_key = inline_or_env(
        supplier.api_key.as_ref(),
        supplier.api_key_env.as_ref(),
        "supplier.api_key",
    )?;
    let mut api_key = HeaderValue::try_from(api_key.expose_secret())
        .map_err(|_| ConfigError::Invalid("supplier.api_key"))?;
    api_key.set_sensitive(true);
    let mut http = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(egress) = supplier.egress_address {
        // The supplier allowlists the manufacturer's egress: leave from it.
        http = http.local_address(egress);
    }
    let http = http.build().map_err(auth("http client"))?;
    let base: reqwest::Url =
        supplier.url.parse().map_err(|_| ConfigError::Invalid("supplier.url"))?;
    let orders_url = base.join("orders").map_err(|_| ConfigError::Invalid("supplier.url"))?;
    let client =
        reqwest_middleware::ClientBuilder::new(http).with(BearerMiddleware::new(tokens)).build();
    Ok(Supplier { client, orders_url, api_key })
}

/// A refusal of the service itself: status and a JSON reason.
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

/// `POST /orders` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewCarOrder {
    model: String,
}

/// The supplier's answer to a tire order.
#[derive(Deserialize)]
struct TireOrder {
    id: String,
}

async fn create_order(
    State(state): State<AppState>,
    Json(order): Json<NewCarOrder>,
) -> Result<Response, ApiError> {
    if order.model.is_empty() || order.model.len() > 100 {
        return Err(ApiError(StatusCode::BAD_REQUEST, "model must have 1 to 100 characters"));
    }
    let order = state.store.submit(order.model, now_ms()).await?;
    tracing::info!(car_order_id = order.id, "car order submitted");
    let order = order_and_record(&state.store, &state.supplier, order).await?;
    Ok((StatusCode::CREATED, Json(order)).into_response())
}

/// Orders the tires of `order` and records the outcome; the order as it now stands.
async fn order_and_record(
    store: &Store,
    supplier: &Supplier,
    order: CarOrder,
) -> Result<CarOrder, StoreError> {
    let outcome = order_tires(supplier, &order.id).await;
    match &outcome {
        Ok(tire_order_id) => {
            tracing::info!(car_order_id = order.id, tire_order_id, "tires ordered")
        }
        Err(error) => tracing::warn!(car_order_id = order.id, error, "ordering tires failed"),
    }
    Ok(store.tires_ordered(order.id.clone(), outcome).await?.unwrap_or(order))
}

/// Every `interval`, orders again the tires of the orders submitted at least `interval` ago
/// and still waiting for them.
async fn retry_job(store: Store, supplier: Supplier, interval: Duration) {
    let age = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    loop {
        tokio::time::sleep(interval).await;
        let waiting = match store.waiting_for_tires(now_ms().saturating_sub(age), 16).await {
            Ok(waiting) => waiting,
            Err(error) => {
                tracing::error!(%error, "reading orders waiting for tires failed");
                continue;
            }
        };
        for order in waiting {
            if let Err(error) = order_and_record(&store, &supplier, order).await {
                tracing::error!(%error, "recording a tire order failed");
            }
        }
    }
}

/// Orders the tires of `car_order_id`; the supplier's tire order id, or why not.
async fn order_tires(supplier: &Supplier, car_order_id: &str) -> Result<String, String> {
    let response = supplier
        .client
        .post(supplier.orders_url.clone())
        .header("x-api-key", supplier.api_key.clone())
        .json(&serde_json::json!({ "car_order_id": car_order_id, "tires": 4 }))
        .send()
        .await
        .map_err(|e| format!("supplier unreachable: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("supplier answered {status}"));
    }
    let tire_order: TireOrder =
        response.json().await.map_err(|e| format!("unexpected answer: {e}"))?;
    Ok(tire_order.id)
}

async fn show_order(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    match state.store.order(id).await? {
        Some(order) => Ok(Json(order).into_response()),
        None => Err(ApiError(StatusCode::NOT_FOUND, "no such car order")),
    }
}

/// The supplier's callback body.
#[derive(Deserialize)]
struct Completed {
    event_id: String,
    r#type: String,
    car_order_id: String,
    tire_order_id: String,
}

async fn complete_order(
    State(state): State<AppState>,
    claims: VerifiedClaims,
    Path(id): Path<String>,
    Json(event): Json<Completed>,
) -> Result<Response, ApiError> {
    if event.r#type != "TireOrderCompleted" || event.car_order_id != id {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "expected the TireOrderCompleted event of this order",
        ));
    }
    let applied = state.store.complete(id.clone(), event.event_id.clone(), now_ms()).await?;
    tracing::info!(
        car_order_id = id,
        tire_order_id = event.tire_order_id,
        event_id = event.event_id,
        from = claims.0.client_id(),
        ?applied,
        "completion received"
    );
    match applied {
        Applied::Completed => {
            Ok(Json(serde_json::json!({ "status": "OrderComplete" })).into_response())
        }
        Applied::Duplicate => {
            Ok(Json(serde_json::json!({ "status": "OrderComplete", "duplicate": true }))
                .into_response())
        }
        Applied::UnknownOrder => Err(ApiError(StatusCode::NOT_FOUND, "no such car order")),
    }
}

async fn health(State(state): State<AppState>) -> Response {
    let health = state.tokens.health();
    let body = serde_json::json!({
        "token": format!("{:?}", health.status),
        "consecutive_failures": health.consecutive_failures,
    });
    Json(body).into_response()
}
