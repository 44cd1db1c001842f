//! A real tonic server on loopback behind the layers, called by a tonic client with tokens from
//! our issuer: refusals arrive as gRPC statuses, the client address comes from tonic's
//! connection info through a `PeerAddr`, the claims reach the handler.
//!
//! The service is written by hand with tonic's codec traits (UTF-8 strings as messages), so
//! that no `protoc` is needed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use b2b_auth_issuer::{Endpoint, Fault, IssuerServer};
use b2b_auth_jwt::{Claims, TrustedIssuer, Verifier};
use b2b_auth_policy::{AccessGuard, Decision, IpRule, IpSet};
use b2b_auth_testkit::start_sample_issuer;
use b2b_auth_tower::{EnforcePolicyLayer, PeerAddr, RequireBearerLayer, ScopeRoutes};
use bytes::{Buf, BufMut};
use http::uri::PathAndQuery;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{NamedService, UnaryService};
use tonic::transport::server::{TcpConnectInfo, TcpIncoming};
use tonic::transport::{Channel, Server};
use tonic::{Code, Status, body::Body};
use tower::{Service, ServiceBuilder};

const EGRESS: &str = "127.0.0.2";
const STRANGER: &str = "127.0.0.3";
const CREATE: &str = "/tires.Orders/Create";

/// Messages are UTF-8 strings, framed by gRPC.
#[derive(Clone, Copy, Debug, Default)]
struct Utf8;

impl Codec for Utf8 {
    type Encode = String;
    type Decode = String;
    type Encoder = Utf8;
    type Decoder = Utf8;

    fn encoder(&mut self) -> Utf8 {
        Utf8
    }

    fn decoder(&mut self) -> Utf8 {
        Utf8
    }
}

impl Encoder for Utf8 {
    type Item = String;
    type Error = Status;

    fn encode(&mut self, item: String, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(item.as_bytes());
        Ok(())
    }
}

impl Decoder for Utf8 {
    type Item = String;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<String>, Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        String::from_utf8(bytes.to_vec()).map(Some).map_err(|_| Status::invalid_argument("utf-8"))
    }
}

/// `tires.Orders/Create`: answers with the verified client and its address.
struct Create;

impl UnaryService<String> for Create {
    type Response = String;
    type Future = std::future::Ready<Result<tonic::Response<String>, Status>>;

    fn call(&mut self, request: tonic::Request<String>) -> Self::Future {
        let client = request.extensions().get::<Claims>().and_then(|c| c.client_id());
        let from = request.extensions().get::<Decision>().and_then(Decision::client_ip);
        let answer = match (client, from) {
            (Some(client), Some(from)) => {
                Ok(format!("{} for {client} from {from}", request.get_ref()))
            }
            _ => Err(Status::internal("no claims or decision")),
        };
        std::future::ready(answer.map(tonic::Response::new))
    }
}

/// The `tires.Orders` gRPC service.
#[derive(Clone)]
struct Orders;

impl NamedService for Orders {
    const NAME: &'static str = "tires.Orders";
}

impl Service<http::Request<Body>> for Orders {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        Box::pin(async move {
            Ok(match request.uri().path() {
                CREATE => tonic::server::Grpc::new(Utf8).unary(Create, request).await,
                _ => Status::unimplemented("no such method").into_http(),
            })
        })
    }
}

/// tonic's connection info as the `PeerAddr` the layers read.
fn with_peer_addr(mut request: http::Request<Body>) -> http::Request<Body> {
    let peer = request.extensions().get::<TcpConnectInfo>().and_then(TcpConnectInfo::remote_addr);
    if let Some(peer) = peer {
        request.extensions_mut().insert(PeerAddr(peer));
    }
    request
}

/// Serves `tires.Orders` on 127.0.0.1 behind the layers, until the test ends.
async fn serve(issuer: &IssuerServer) -> SocketAddr {
    let trusted = TrustedIssuer::builder(issuer.issuer().url())
        .jwks_uri(issuer.issuer().jwks_uri())
        .client_ids(["car-orders", "tire-orders"])
        .build()
        .unwrap();
    let verifier = Verifier::builder().issuer(trusted).build().unwrap();
    let routes = ScopeRoutes::builder().route(&format!("POST {CREATE}"), "tires/orders.write");
    let bearer =
        RequireBearerLayer::builder(verifier).realm("tire-orders").require(routes.build().unwrap());
    let allowlist = AccessGuard::builder().ip_rule(IpRule::allow(IpSet::parse([EGRESS]).unwrap()));
    let layers = ServiceBuilder::new()
        .map_request(with_peer_addr)
        .layer(EnforcePolicyLayer::new(allowlist.build().unwrap()))
        .layer(bearer.build().unwrap());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a free port");
    let addr = listener.local_addr().unwrap();
    let server = Server::builder().layer(layers).add_service(Orders);
    tokio::spawn(async move {
        server
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .expect("the tonic server failed")
    });
    addr
}

/// Calls `Create` from `source` with `token`, if any.
async fn create(server: SocketAddr, source: &str, token: Option<&str>) -> Result<String, Status> {
    let source: IpAddr = source.parse().unwrap();
    let channel = Channel::from_shared(format!("http://{server}"))
        .unwrap()
        .local_address(Some(source))
        .connect()
        .await
        .expect("connect to the tonic server");
    let mut client = tonic::client::Grpc::new(channel);
    client.ready().await.unwrap();
    let mut request = tonic::Request::new("4 tires".to_owned());
    if let Some(token) = token {
        request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    let response = client.unary(request, PathAndQuery::from_static(CREATE), Utf8).await?;
    Ok(response.into_inner())
}

fn token(issuer: &IssuerServer, client: &str, scope: &str) -> String {
    issuer.issuer().issue_token(client, Some(scope)).unwrap().access_token().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partner_is_served_and_everyone_else_gets_a_grpc_status() {
    let issuer = start_sample_issuer().await;
    let server = serve(&issuer).await;
    let write = token(&issuer, "car-orders", "tires/orders.write");

    let answer = create(server, EGRESS, Some(&write)).await.unwrap();
    assert_eq!(answer, "4 tires for car-orders from 127.0.0.2 (peer)");

    let status = create(server, EGRESS, None).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unauthenticated, "missing bearer token"));
    assert_eq!(status.metadata().get("www-authenticate").unwrap(), r#"Bearer realm="tire-orders""#);

    let status = create(server, EGRESS, Some("not.a.token")).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::Unauthenticated, "invalid bearer token"));

    let read = token(&issuer, "car-orders", "tires/orders.read");
    let status = create(server, EGRESS, Some(&read)).await.unwrap_err();
    assert_eq!((status.code(), status.message()), (Code::PermissionDenied, "insufficient scope"));
    assert_eq!(
        status.metadata().get("www-authenticate").unwrap(),
        r#"Bearer realm="tire-orders", error="insufficient_scope", scope="tires/orders.write""#
    );

    let status = create(server, STRANGER, Some(&write)).await.unwrap_err();
    assert_eq!(
        (status.code(), status.message()),
        (Code::PermissionDenied, "access denied by policy")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_unavailable_is_grpc_unavailable() {
    let issuer = start_sample_issuer().await;
    let server = serve(&issuer).await;
    issuer.issuer().inject_fault(Endpoint::Jwks, Fault::status(http::StatusCode::BAD_GATEWAY));
    let write = token(&issuer, "car-orders", "tires/orders.write");
    let status = create(server, EGRESS, Some(&write)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.metadata().get("retry-after").is_some());
}
