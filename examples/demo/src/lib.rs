//! The reference scenario on one machine: the local issuer with the sample pool, tire orders
//! (the supplier) allowlisting `127.0.0.2`, and car orders (the manufacturer) calling from
//! `127.0.0.2`, all on loopback ports the system picks. The demo binary tells its story; the
//! end-to-end tests assert it and add faults (services stopped and restarted, the issuer
//! failing, key rotation).

pub mod story;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use b2b_auth_core::Clock;
use b2b_auth_issuer::{Issuer, IssuerServer, PoolConfig};
use car_orders::config::TokenStoreConfig;
use car_orders::store::{CarOrder, CarOrderStatus};
use secrecy::ExposeSecret as _;
use tire_orders::store::DeliveryRecord;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The sample pool: the car-orders and tire-orders resource servers and clients.
pub const SAMPLE_POOL: &str = include_str!("../../../config/sample-pool.toml");

/// Tire orders' sample configuration, which the scenario runs with its own ports and folder.
pub const TIRE_ORDERS_CONFIG: &str = include_str!("../../../config/tire-orders.toml");

/// Car orders' sample configuration, which the scenario runs with its own ports and folder.
pub const CAR_ORDERS_CONFIG: &str = include_str!("../../../config/car-orders.toml");

/// The address the manufacturer's calls leave from, and the supplier allowlists.
pub const MANUFACTURER_EGRESS: [u8; 4] = [127, 0, 0, 2];

/// A loopback address that is not the manufacturer's egress.
pub const OTHER_ADDRESS: [u8; 4] = [127, 0, 0, 3];

/// The demo's errors: whatever went wrong, with its message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Tire orders' answer to a direct call: its status and `WWW-Authenticate` challenge.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `WWW-Authenticate` header, empty when there is none.
    pub challenge: String,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if !self.challenge.is_empty() {
            write!(f, ", WWW-Authenticate: {}", self.challenge)?;
        }
        Ok(())
    }
}

/// The issuer's clock: real time, shifted on demand (to mint an already-expired token).
#[derive(Clone, Debug, Default)]
struct ShiftedClock {
    offset_secs: Arc<AtomicI64>,
}

impl ShiftedClock {
    /// Shifts the clock by `secs` (negative: into the past), from real time.
    fn shift(&self, secs: i64) {
        self.offset_secs.store(secs, Ordering::Relaxed);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> SystemTime {
        let offset = self.offset_secs.load(Ordering::Relaxed);
        let magnitude = Duration::from_secs(offset.unsigned_abs());
        if offset < 0 { SystemTime::now() - magnitude } else { SystemTime::now() + magnitude }
    }
}

/// Settings of a scenario run.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long after acceptance a tire order completes. Default 1 s.
    pub completion_delay: Duration,
    /// The delivery back-off's first and longest waits. Default 100 ms and 1 s.
    pub delivery_backoff: (Duration, Duration),
    /// Delivery attempts before dead-lettering. Default 30.
    pub max_attempts: u32,
    /// How often car orders tries again to order the tires it could not. Default 250 ms.
    pub tire_order_retry: Duration,
    /// Where car orders shares its token. Default: as its sample configuration says
    /// (in-process).
    pub car_orders_token_store: Option<TokenStoreConfig>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            completion_delay: Duration::from_secs(1),
            delivery_backoff: (Duration::from_millis(100), Duration::from_secs(1)),
            max_attempts: 30,
            tire_order_retry: Duration::from_millis(250),
            car_orders_token_store: None,
        }
    }
}

/// A service of the scenario: its fixed address and, while it runs, its server.
struct Service {
    addr: SocketAddr,
    running: Option<Running>,
}

/// A server task and the switch that shuts it down (dropping the switch does too).
struct Running {
    stop: oneshot::Sender<()>,
    server: JoinHandle<()>,
}

impl Service {
    async fn serve(&mut self, listener: TcpListener, app: Router) {
        let (stop, stopped) = oneshot::channel::<()>();
        let make = app.into_make_service_with_connect_info::<SocketAddr>();
        let server = tokio::spawn(async move {
            // Graceful: idle keep-alive connections close too, so that the service is really
            // gone (callers see refused connections) and its background jobs stop with it.
            let shutdown = async {
                let _ = stopped.await;
            };
            if let Err(error) = axum::serve(listener, make).with_graceful_shutdown(shutdown).await {
                tracing::error!(%error, "server stopped");
            }
        });
        self.running = Some(Running { stop, server });
    }

    async fn stop(&mut self) {
        if let Some(Running { stop, mut server }) = self.running.take() {
            let _ = stop.send(());
            if tokio::time::timeout(Duration::from_secs(10), &mut server).await.is_err() {
                server.abort();
            }
        }
    }
}

/// The running scenario. Dropping it stops everything.
pub struct Scenario {
    issuer: IssuerServer,
    clock: ShiftedClock,
    car_orders: Service,
    more_car_orders: Vec<Service>,
    tire_orders: Service,
    car_orders_config: car_orders::Config,
    tire_orders_config: tire_orders::Config,
    http: reqwest::Client,
    _data: tempfile::TempDir,
}

impl Scenario {
    /// Starts the issuer, tire orders and car orders on loopback, with their databases in a
    /// fresh temporary folder.
    ///
    /// # Errors
    /// When a service cannot start.
    pub async fn start(options: Options) -> Result<Self, Error> {
        let data = tempfile::tempdir()?;
        let clock = ShiftedClock::default();
        let pool = PoolConfig::from_toml_str(SAMPLE_POOL)?;
        let issuer = Issuer::builder(pool).clock(clock.clone()).start_local().await?;
        let car_listener = TcpListener::bind("127.0.0.1:0").await?;
        let tire_listener = TcpListener::bind("127.0.0.1:0").await?;
        let (car_addr, tire_addr) = (car_listener.local_addr()?, tire_listener.local_addr()?);
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);

        // The sample configurations, pointed at this run's ports, folder and timings.
        let mut tire_orders_config = tire_orders::Config::from_toml(TIRE_ORDERS_CONFIG)?;
        tire_orders_config.database = data.path().join("tire-orders.sqlite");
        tire_orders_config.issuer.url = issuer.issuer().url().to_owned();
        tire_orders_config.completion.delay_ms = millis(options.completion_delay);
        tire_orders_config.completion.poll_ms = 50;
        let delivery = &mut tire_orders_config.delivery;
        delivery.callback_url = format!("http://{car_addr}/");
        delivery.max_attempts = options.max_attempts;
        delivery.initial_backoff_ms = millis(options.delivery_backoff.0);
        delivery.max_backoff_ms = millis(options.delivery_backoff.1);
        tire_orders_config.callback_token.token_url = issuer.issuer().token_endpoint();

        let mut car_orders_config = car_orders::Config::from_toml(CAR_ORDERS_CONFIG)?;
        car_orders_config.database = data.path().join("car-orders.sqlite");
        car_orders_config.issuer.url = issuer.issuer().url().to_owned();
        car_orders_config.supplier.url = format!("http://{tire_addr}/");
        car_orders_config.supplier.retry_ms = millis(options.tire_order_retry);
        car_orders_config.token.token_url = issuer.issuer().token_endpoint();
        if let Some(store) = options.car_orders_token_store {
            car_orders_config.token.store = store;
        }
        let mut scenario = Self {
            issuer,
            clock,
            car_orders: Service { addr: car_addr, running: None },
            more_car_orders: Vec::new(),
            tire_orders: Service { addr: tire_addr, running: None },
            car_orders_config,
            tire_orders_config,
            http: reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?,
            _data: data,
        };
        scenario.serve_tire_orders(tire_listener).await?;
        scenario.serve_car_orders(car_listener).await?;
        Ok(scenario)
    }

    async fn serve_tire_orders(&mut self, listener: TcpListener) -> Result<(), Error> {
        let app = tire_orders::app(self.tire_orders_config.clone()).await?;
        self.tire_orders.serve(listener, app).await;
        Ok(())
    }

    async fn serve_car_orders(&mut self, listener: TcpListener) -> Result<(), Error> {
        let app = car_orders::app(self.car_orders_config.clone()).await?;
        self.car_orders.serve(listener, app).await;
        Ok(())
    }

    /// The issuer's handle: its URLs, counters, keys and faults.
    pub fn issuer(&self) -> &Issuer {
        self.issuer.issuer()
    }

    /// `http://127.0.0.1:PORT/` of car orders.
    pub fn car_orders_url(&self) -> String {
        format!("http://{}/", self.car_orders.addr)
    }

    /// `http://127.0.0.1:PORT/` of tire orders.
    pub fn tire_orders_url(&self) -> String {
        format!("http://{}/", self.tire_orders.addr)
    }

    /// Stops car orders (as if its process died).
    pub async fn stop_car_orders(&mut self) {
        self.car_orders.stop().await;
    }

    /// Starts car orders again on its address, on the same database.
    ///
    /// # Errors
    /// When it cannot start.
    pub async fn restart_car_orders(&mut self) -> Result<(), Error> {
        self.car_orders.stop().await;
        let listener = TcpListener::bind(self.car_orders.addr).await?;
        self.serve_car_orders(listener).await
    }

    /// Stops tire orders (as if its process died).
    pub async fn stop_tire_orders(&mut self) {
        self.tire_orders.stop().await;
    }

    /// Starts tire orders again on its address, on the same database.
    ///
    /// # Errors
    /// When it cannot start.
    pub async fn restart_tire_orders(&mut self) -> Result<(), Error> {
        self.tire_orders.stop().await;
        let listener = TcpListener::bind(self.tire_orders.addr).await?;
        self.serve_tire_orders(listener).await
    }

    /// Starts one more car-orders instance — the fleet growing — on its own port, with the
    /// same configuration and database; returns its `http://127.0.0.1:PORT/`. The supplier's
    /// callbacks keep going to the first instance.
    ///
    /// # Errors
    /// When it cannot start.
    pub async fn start_another_car_orders(&mut self) -> Result<String, Error> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut service = Service { addr: listener.local_addr()?, running: None };
        service.serve(listener, car_orders::app(self.car_orders_config.clone()).await?).await;
        let url = format!("http://{}/", service.addr);
        self.more_car_orders.push(service);
        Ok(url)
    }

    /// `POST /orders` on car orders: the car order as it answered.
    ///
    /// # Errors
    /// When car orders cannot be reached or answers something else than 201.
    pub async fn create_car_order(&self, model: &str) -> Result<CarOrder, Error> {
        self.create_car_order_on(&self.car_orders_url(), model).await
    }

    /// `POST /orders` on the car-orders instance at `base_url`.
    ///
    /// # Errors
    /// When it cannot be reached or answers something else than 201.
    pub async fn create_car_order_on(
        &self,
        base_url: &str,
        model: &str,
    ) -> Result<CarOrder, Error> {
        let response = self
            .http
            .post(format!("{base_url}orders"))
            .json(&serde_json::json!({ "model": model }))
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::CREATED {
            return Err(format!("car orders answered {}", response.status()).into());
        }
        Ok(response.json().await?)
    }

    /// `GET /orders/{id}` on car orders.
    ///
    /// # Errors
    /// When car orders cannot be reached or does not know the order.
    pub async fn car_order(&self, id: &str) -> Result<CarOrder, Error> {
        let response =
            self.http.get(format!("{}orders/{id}", self.car_orders_url())).send().await?;
        if !response.status().is_success() {
            return Err(format!("car orders answered {}", response.status()).into());
        }
        Ok(response.json().await?)
    }

    /// Polls the car order until its status is `status`, for at most `within`.
    ///
    /// # Errors
    /// When it does not get there in time.
    pub async fn wait_for_status(
        &self,
        id: &str,
        status: CarOrderStatus,
        within: Duration,
    ) -> Result<CarOrder, Error> {
        poll_until(within, || async {
            match self.car_order(id).await {
                Ok(order) if order.status == status => Ok(order),
                other => Err(format!("car order {id} not {status:?}: {other:?}")),
            }
        })
        .await
    }

    /// The manufacturer's API key, as car orders is configured with it.
    pub fn manufacturer_api_key(&self) -> String {
        let key = self.car_orders_config.supplier.api_key.as_ref();
        key.map(|key| key.expose_secret().to_owned()).unwrap_or_default()
    }

    /// A token of the issuer for `client_id` with `scope`, as its token endpoint would give it.
    ///
    /// # Errors
    /// When the client may not have the scope.
    pub fn token(&self, client_id: &str, scope: &str) -> Result<String, Error> {
        Ok(self.issuer().issue_token(client_id, Some(scope))?.access_token().to_owned())
    }

    /// Like [`token`](Self::token), but issued two hours ago: expired.
    ///
    /// # Errors
    /// When the client may not have the scope.
    pub fn expired_token(&self, client_id: &str, scope: &str) -> Result<String, Error> {
        self.clock.shift(-7200);
        let token = self.token(client_id, scope);
        self.clock.shift(0);
        token
    }

    /// Calls tire orders' `POST /orders` as the manufacturer would, but from `from` and with
    /// the given token and API key: for showing the refusals.
    ///
    /// # Errors
    /// When tire orders cannot be reached from `from`.
    pub async fn call_tire_orders(
        &self,
        from: [u8; 4],
        token: &str,
        api_key: &str,
    ) -> Result<Answer, Error> {
        let client = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from(from))
            .timeout(Duration::from_secs(10))
            .build()?;
        let response = client
            .post(format!("{}orders", self.tire_orders_url()))
            .bearer_auth(token)
            .header("x-api-key", api_key)
            .json(&serde_json::json!({ "car_order_id": "demo-probe", "tires": 4 }))
            .send()
            .await?;
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        Ok(Answer { status: response.status().as_u16(), challenge })
    }

    /// Asks tire orders to deliver again the events raised in the last `window`, with a token
    /// of the operators' client. Returns the number of deliveries scheduled.
    ///
    /// # Errors
    /// When the call fails.
    pub async fn replay_recent(&self, window: Duration) -> Result<u64, Error> {
        let now = tire_orders::events::now_ms();
        let token = self.token("tire-orders-ops", "tires/events.replay")?;
        let from = now - i64::try_from(window.as_millis())?;
        let response = self
            .http
            .post(format!("{}admin/replay", self.tire_orders_url()))
            .bearer_auth(token)
            .json(&serde_json::json!({ "from_ms": from, "to_ms": now + 1 }))
            .send()
            .await?;
        if response.status() != reqwest::StatusCode::ACCEPTED {
            return Err(format!("replay answered {}", response.status()).into());
        }
        let answer: serde_json::Value = response.json().await?;
        answer
            .get("scheduled")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| "replay answered no count".into())
    }

    /// Every delivery of the events of `car_order_id`, from tire orders' database.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn deliveries(&self, car_order_id: &str) -> Result<Vec<DeliveryRecord>, Error> {
        let store = tire_orders::store::Store::open(&self.tire_orders_config.database)?;
        Ok(store.deliveries_for(car_order_id.to_owned()).await?)
    }

    /// Waits until a replayed event of `car_order_id` was delivered, for at most `within`.
    ///
    /// # Errors
    /// When none was in time.
    pub async fn wait_for_replays(
        &self,
        car_order_id: &str,
        within: Duration,
    ) -> Result<(), Error> {
        poll_until(within, || async {
            match self.deliveries(car_order_id).await {
                Ok(deliveries)
                    if deliveries.iter().any(|d| d.replay && d.status == "delivered") =>
                {
                    Ok(())
                }
                other => Err(format!("no replay of {car_order_id} delivered: {other:?}")),
            }
        })
        .await
    }
}

/// Runs `attempt` every 50 ms until it succeeds, for at most `within`: its value, or the
/// reason of its last failure (what was still missing) with the time waited.
///
/// # Errors
/// When no attempt succeeded in time.
pub async fn poll_until<T, F>(within: Duration, mut attempt: impl FnMut() -> F) -> Result<T, Error>
where
    F: Future<Output = Result<T, String>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let reason = match attempt().await {
            Ok(value) => return Ok(value),
            Err(reason) => reason,
        };
        if tokio::time::Instant::now() > deadline {
            return Err(format!("not within {within:?}: {reason}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
