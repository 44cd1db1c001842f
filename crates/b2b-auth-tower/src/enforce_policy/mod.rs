//! Enforce an IP allowlist and a resource policy: the AWS WAF IP-set rule and the API Gateway
//! resource policy of the pattern b2b-auth replaces, as a tower layer.
//!
//! [`EnforcePolicyLayer`] runs a [`b2b_auth_policy::AccessGuard`] on every request: it
//! resolves the client address from the connection's peer address (a [`PeerAddr`] in the
//! request extensions, or axum's `ConnectInfo<SocketAddr>` with feature `axum`) — through the
//! `X-Forwarded-For` / `Forwarded` chain when the peer is one of the guard's trusted proxies —
//! then evaluates the guard's IP rules and resource policy with the request's method, path
//! and, when a [`RequireBearerLayer`] further out verified a token, its client id as the
//! principal.
//!
//! An allowed request carries the [`Decision`] in its extensions (handlers can read the client
//! address and its provenance); a denied one is answered 403 (gRPC `PERMISSION_DENIED`)
//! carrying a [`PolicyRejection`] with the decision in its response extensions. Every
//! decision is one audit event, with the client address, its provenance and the deciding rule.
//!
//! # Without a peer address
//! A request whose extensions hold no peer address cannot be checked, since the client address
//! is the one thing an allowlist rests on: it is refused with `500 Internal Server Error`
//! (gRPC `INTERNAL`) and [`PolicyRejectionKind::NoPeerAddress`]. That is a server set-up mistake:
//! serve axum with `into_make_service_with_connect_info::<SocketAddr>()`, and on hyper or
//! tonic insert a [`PeerAddr`] per connection.
//!
//! # Stacking with the bearer layer
//! Layers listed first in a `ServiceBuilder` run first. A resource policy that names
//! principals needs the verified client id, so its layer goes after (inside) the
//! [`RequireBearerLayer`]; an IP allowlist is cheapest first, refusing strangers before any
//! token is looked at. One guard with both, after the bearer layer, works too; two layers do
//! both jobs at the best place:
//!
//! ```text
//! EnforcePolicyLayer(IP allowlist) → ApiKeyLayer → RequireBearerLayer → EnforcePolicyLayer(resource policy) → handler
//! ```
//!
//! # Examples
//! The WAF allowlist alone, client address from the peer:
//!
//! ```
//! use std::net::SocketAddr;
//! use b2b_auth_policy::{AccessGuard, IpRule, IpSet};
//! use b2b_auth_tower::{EnforcePolicyLayer, PeerAddr};
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let allowlist = AccessGuard::builder().ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"])?)).build()?;
//! let service = ServiceBuilder::new()
//!     .layer(EnforcePolicyLayer::new(allowlist))
//!     .service_fn(|_request: Request<String>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(String::new()))
//!     });
//!
//! // The server inserts the peer address (axum: `ConnectInfo`).
//! let from = |peer: &str| -> Result<Request<String>, Box<dyn std::error::Error>> {
//!     let mut request = Request::post("/orders").body(String::new())?;
//!     request.extensions_mut().insert(PeerAddr(peer.parse::<SocketAddr>()?));
//!     Ok(request)
//! };
//! assert_eq!(service.clone().oneshot(from("198.51.100.3:40000")?).await?.status(), StatusCode::OK);
//! assert_eq!(service.oneshot(from("203.0.113.9:40000")?).await?.status(), StatusCode::FORBIDDEN);
//! # Ok(())
//! # }
//! ```
//!
//! Behind a load balancer, with the allowlist and a resource policy naming the partner's
//! client id, after the bearer layer:
//!
//! ```
//! use std::net::SocketAddr;
//! use b2b_auth_jwt::{JwkSet, ScopePolicy, TrustedIssuer, Verifier};
//! use b2b_auth_policy::{
//!     AccessGuard, Api, ClientIpSource, Decision, IpRule, IpSet, ResourcePolicy, TrustedProxies,
//! };
//! use b2b_auth_tower::{EnforcePolicyLayer, PeerAddr, PolicyRejection, RequireBearerLayer};
//! use http::{Request, Response, StatusCode};
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let keys = JwkSet::from_json(br#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1",
//! #     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#)?;
//! # let issuer = TrustedIssuer::builder("https://issuer.example").static_keys(keys);
//! # let verifier = Verifier::builder().issuer(issuer.client_ids(["car-orders"]).build()?).build()?;
//! let api = Api::new("eu-west-1", "111122223333", "tires")?.with_stage("prod")?;
//! let policy = ResourcePolicy::parse(r#"{"Statement": {"Effect": "Allow",
//!     "Principal": {"AWS": "car-orders"}, "Action": "execute-api:Invoke",
//!     "Resource": "execute-api:/prod/POST/orders"}}"#, api)?;
//! let load_balancer = TrustedProxies::new(IpSet::parse(["10.0.0.0/8"])?);
//! let guard = AccessGuard::builder()
//!     .client_ip_source(ClientIpSource::TrustedProxies(load_balancer))
//!     .ip_rule(IpRule::allow(IpSet::parse(["198.51.100.0/28"])?))
//!     .resource_policy(policy)
//!     .build()?;
//!
//! let service = ServiceBuilder::new()
//!     .layer(RequireBearerLayer::new(verifier, ScopePolicy::all(["tires/orders.write"])))
//!     .layer(EnforcePolicyLayer::new(guard))
//!     .service_fn(|request: Request<String>| async move {
//!         let decision = request.extensions().get::<Decision>().map(ToString::to_string);
//!         Ok::<_, std::convert::Infallible>(Response::new(decision.unwrap_or_default()))
//!     });
//!
//! let call = |client: &str| -> Result<Request<String>, Box<dyn std::error::Error>> {
//!     let mut request = Request::post("/orders")
//!         .header("authorization", format!("Bearer {TOKEN}")) // car-orders
//!         .header("x-forwarded-for", client)
//!         .body(String::new())?;
//!     request.extensions_mut().insert(PeerAddr("10.0.0.5:33000".parse::<SocketAddr>()?));
//!     Ok(request)
//! };
//! let response = service.clone().oneshot(call("198.51.100.3")?).await?;
//! assert_eq!(response.status(), StatusCode::OK);
//! assert!(response.body().starts_with("allow: explicit allow"));
//!
//! let response = service.oneshot(call("203.0.113.9")?).await?;
//! assert_eq!(response.status(), StatusCode::FORBIDDEN);
//! let rejection = response.extensions().get::<PolicyRejection>().ok_or("no rejection")?;
//! assert_eq!(
//!     rejection.to_string(),
//!     "deny: no ip rule matches the client, client 203.0.113.9 (x-forwarded-for hop 0 of 1)"
//! );
//! # Ok(())
//! # }
//! # const TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0.\
//! # eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwic3ViIjoiY2FyLW9yZGVycyIsImNsaWVudF9pZCI6ImNh\
//! # ci1vcmRlcnMiLCJzY29wZSI6InRpcmVzL29yZGVycy53cml0ZSIsImlhdCI6MTc2NzIyNTYwMCwiZXhwIjo0MTAy\
//! # NDQ0ODAwfQ.V8v5FihJrkUVmmoF92yYargCZlyunA3epHlL3bS7Jjndl559DHP_74oqLIxIS4g2ER94to1i4n6jMYy43zbTCw";
//! ```
//!
//! [`PeerAddr`]: crate::PeerAddr
//! [`RequireBearerLayer`]: crate::RequireBearerLayer
//! [`Decision`]: b2b_auth_policy::Decision

mod future;
mod layer;
mod rejection;
mod service;

pub use future::ResponseFuture;
pub use layer::EnforcePolicyLayer;
pub use rejection::{PolicyRejection, PolicyRejectionKind};
pub use service::EnforcePolicy;
