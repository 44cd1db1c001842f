//! The client side: `AddBearerLayer` and `BearerMiddleware` add the provider's token, and
//! retry once with a fresh one when the server refuses the token — never otherwise.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::response::IntoResponse as _;
use b2b_auth_issuer::Issuer;
use b2b_auth_testkit::{sample_secret, start_sample_issuer};
use b2b_auth_token::{ClientCredentials, TokenErrorKind, TokenProvider};
use b2b_auth_tower::{AddBearerLayer, BearerMiddleware, ReplayBody};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::{Service, ServiceBuilder, ServiceExt};

fn provider(issuer: &Issuer, secret: &str) -> TokenProvider {
    let source = ClientCredentials::builder()
        .token_url(issuer.token_endpoint())
        .client_id("car-orders")
        .client_secret(secret)
        .allow_http_loopback(true)
        .build()
        .unwrap();
    TokenProvider::builder(source).build().unwrap()
}

/// What the fake server saw and how it answers a token it refuses.
#[derive(Clone, Default)]
struct Server {
    seen: Arc<Mutex<Vec<HeaderValue>>>,
    refused: Arc<Mutex<HashSet<HeaderValue>>>,
}

impl Server {
    /// Refuses every token but the ones it has not been told to refuse, with `status` and
    /// `challenge`.
    fn service<B: Send + 'static>(
        &self,
        status: StatusCode,
        challenge: &'static str,
    ) -> impl Service<Request<B>, Response = Response<String>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static {
        let server = self.clone();
        tower::service_fn(move |request: Request<B>| {
            let server = server.clone();
            async move {
                let authorization = request.headers()[AUTHORIZATION].clone();
                assert!(authorization.is_sensitive(), "the header is marked sensitive");
                server.seen.lock().unwrap().push(authorization.clone());
                let first = server.refused.lock().unwrap().is_empty();
                if first {
                    server.refused.lock().unwrap().insert(authorization.clone());
                }
                let mut response = Response::new(String::new());
                if server.refused.lock().unwrap().contains(&authorization) {
                    *response.status_mut() = status;
                    response
                        .headers_mut()
                        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
                }
                Ok(response)
            }
        })
    }

    fn calls(&self) -> Vec<HeaderValue> {
        self.seen.lock().unwrap().clone()
    }
}

const INVALID_TOKEN: &str = "Bearer realm=\"tires\", error=\"invalid_token\"";

#[tokio::test]
async fn a_refused_token_is_replaced_and_the_request_sent_once_more() {
    let issuer = start_sample_issuer().await;
    let server = Server::default();
    let service = ServiceBuilder::new()
        .layer(AddBearerLayer::new(provider(issuer.issuer(), &sample_secret("car-orders"))))
        .service(server.service(StatusCode::UNAUTHORIZED, INVALID_TOKEN));
    let response = service
        .oneshot(Request::post("/orders").body("{\"tires\":4}".to_owned()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let calls = server.calls();
    assert_eq!(calls.len(), 2, "sent twice");
    assert_ne!(calls[0], calls[1], "with a fresh token");
    assert!(calls[0].to_str().unwrap().starts_with("Bearer ey"));
    assert_eq!(issuer.issuer().stats().token_requests, 2);
}

#[tokio::test]
async fn only_a_refused_token_is_retried() {
    let issuer = start_sample_issuer().await;
    let provider = provider(issuer.issuer(), &sample_secret("car-orders"));
    for (status, challenge) in [
        (
            StatusCode::FORBIDDEN,
            "Bearer realm=\"tires\", error=\"insufficient_scope\", scope=\"tires/orders.write\"",
        ),
        (StatusCode::UNAUTHORIZED, "Bearer realm=\"tires\", error=\"invalid_request\""),
    ] {
        let server = Server::default();
        let service = ServiceBuilder::new()
            .layer(AddBearerLayer::new(provider.clone()))
            .service(server.service(status, challenge));
        let response = service.oneshot(Request::new(String::new())).await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(server.calls().len(), 1, "{status}: not retried");
    }
    assert_eq!(issuer.issuer().stats().token_requests, 1, "and the token was kept");
}

/// A body that streams: it cannot be sent twice.
struct Stream;

impl ReplayBody for Stream {
    fn try_clone(&self) -> Option<Self> {
        None
    }
}

#[tokio::test]
async fn a_body_that_cannot_replay_is_not_retried() {
    let issuer = start_sample_issuer().await;
    let server = Server::default();
    let service = ServiceBuilder::new()
        .layer(AddBearerLayer::new(provider(issuer.issuer(), &sample_secret("car-orders"))))
        .service(server.service::<Stream>(StatusCode::UNAUTHORIZED, INVALID_TOKEN));
    let response = service.oneshot(Request::new(Stream)).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the 401 comes back as it was");
    assert_eq!(server.calls().len(), 1);
}

#[tokio::test]
async fn without_a_token_the_call_fails_with_the_token_error() {
    let issuer = start_sample_issuer().await;
    let server = Server::default();
    let service = ServiceBuilder::new()
        .layer(AddBearerLayer::new(provider(issuer.issuer(), "wrong-secret")))
        .service(server.service(StatusCode::OK, ""));
    let error = service.oneshot(Request::new(String::new())).await.unwrap_err();
    let error = error.downcast::<b2b_auth_token::TokenError>().expect("the token error");
    assert_eq!(error.kind(), TokenErrorKind::InvalidClient);
    assert!(server.calls().is_empty(), "nothing was sent without a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_refused_at_once_cause_one_refresh() {
    let issuer = start_sample_issuer().await;
    let provider = provider(issuer.issuer(), &sample_secret("car-orders"));
    provider.token().await.unwrap();
    let server = Server::default();
    let service = ServiceBuilder::new()
        .layer(AddBearerLayer::new(provider))
        .service(server.service(StatusCode::UNAUTHORIZED, INVALID_TOKEN));
    // The first request teaches the server to refuse the current token; then 20 at once.
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let service = service.clone();
            tokio::spawn(async move {
                service.oneshot(Request::new(String::new())).await.unwrap().status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(
        issuer.issuer().stats().token_requests,
        2,
        "one refresh for all the refused requests"
    );
}

#[tokio::test]
async fn reqwest_calls_get_the_same_behaviour() {
    let issuer = start_sample_issuer().await;
    // A real server on loopback that refuses the first token it sees.
    let refused: Arc<Mutex<Option<HeaderValue>>> = Arc::default();
    let seen = refused.clone();
    let app = axum::Router::new().route(
        "/orders",
        axum::routing::post(move |headers: http::HeaderMap| {
            let seen = seen.clone();
            async move {
                let authorization = headers[AUTHORIZATION].clone();
                let mut refused = seen.lock().unwrap();
                if refused.get_or_insert_with(|| authorization.clone()) == &authorization {
                    return (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, INVALID_TOKEN)])
                        .into_response();
                }
                StatusCode::CREATED.into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(provider(issuer.issuer(), &sample_secret("car-orders"))))
        .build();
    let response = client.post(format!("http://{addr}/orders")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(issuer.issuer().stats().token_requests, 2);

    let wrong = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(BearerMiddleware::new(provider(issuer.issuer(), "wrong-secret")))
        .build();
    let error = wrong.post(format!("http://{addr}/orders")).send().await.unwrap_err();
    assert!(matches!(error, reqwest_middleware::Error::Middleware(_)), "{error:?}");
}
