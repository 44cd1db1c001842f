//! Tower middleware for service-to-service authentication, generic over request and response
//! bodies, for axum, hyper, tonic or any tower stack.
//!
//! Server side: verify bearer tokens and their scopes (RFC 6750 answers), enforce IP
//! allowlists and resource policies, validate API keys against usage plans. Client side: add
//! a bearer token from a `TokenProvider` to outbound requests, with one retry after a 401.
//!
//! Refusals are responses, never errors: an HTTP status with its headers — or, for gRPC
//! requests (`content-type: application/grpc*`), the equivalent gRPC status, so that tonic
//! servers work unchanged. Every allow and deny is one `tracing` event on the
//! [`AUDIT_TARGET`] target, with the decision, its reason, the client IP and its provenance,
//! the client id and the route; never a token or a secret.

mod add_bearer;
#[cfg(feature = "reqwest")]
mod bearer_middleware;

// The shared plumbing below lands before the layers that use it.
#[allow(dead_code)]
mod audit;
#[allow(dead_code)]
mod peer;
#[allow(dead_code)]
mod reject;

pub use add_bearer::{AddBearer, AddBearerLayer, ReplayBody, ResponseFuture as AddBearerFuture};
pub use audit::AUDIT_TARGET;
#[cfg(feature = "reqwest")]
pub use bearer_middleware::BearerMiddleware;
pub use peer::PeerAddr;
pub use reject::GrpcStatus;
