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
//!
//! API keys and usage plans ([`api_key`], [`ApiKeyLayer`]): `x-api-key` checked against keys
//! stored as SHA-256 digests, each bound to a client — whose verified token, left by the
//! bearer layer running before it, must match — and to a usage plan: a throttle (rate and
//! burst) and a quota per UTC day, week or month, counted in the process or fleet-wide
//! through a shared store (Redis, in `b2b-auth-redis`). Keys are added and revoked at
//! runtime; refusals are 403, or 429 with `Retry-After`.

pub mod api_key;

// The shared plumbing below lands before the layers that use it.
#[allow(dead_code)]
mod audit;
#[allow(dead_code)]
mod peer;
#[allow(dead_code)]
mod reject;

pub use api_key::ApiKeyLayer;
pub use audit::AUDIT_TARGET;
pub use peer::PeerAddr;
pub use reject::GrpcStatus;
