//! Why the enforce-policy layer refused a request.

use std::fmt;

use b2b_auth_policy::Decision;
use http::{Response, StatusCode};

use crate::reject::Rejection;

/// Why the enforce-policy layer refused a request. A refusal's response carries it in its
/// extensions, for logging and metrics further out:
/// `response.extensions().get::<PolicyRejection>()`.
#[derive(Clone, Debug)]
pub struct PolicyRejection {
    /// `None`: no peer address.
    decision: Option<Box<Decision>>,
}

/// What kind of refusal a [`PolicyRejection`] is.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum PolicyRejectionKind {
    /// The guard denied the request (403, gRPC `PERMISSION_DENIED`). The
    /// [`decision`](PolicyRejection::decision) says by which rule or statement, about which
    /// client address, and where that address came from.
    Denied,
    /// The request has no peer address in its extensions (neither a
    /// [`PeerAddr`](crate::PeerAddr) nor, with feature `axum`, a `ConnectInfo<SocketAddr>`), so
    /// no client address can be established. Refused with 500 (gRPC `INTERNAL`): the server
    /// is set up wrongly, it is not the caller's fault — and a 403 would send the caller
    /// looking for a mistake in its allowlisting.
    NoPeerAddress,
}

impl PolicyRejection {
    pub(crate) fn denied(decision: Decision) -> Self {
        Self { decision: Some(Box::new(decision)) }
    }

    pub(crate) fn no_peer_address() -> Self {
        Self { decision: None }
    }

    /// What kind of refusal this is.
    pub fn kind(&self) -> PolicyRejectionKind {
        match self.decision {
            Some(_) => PolicyRejectionKind::Denied,
            None => PolicyRejectionKind::NoPeerAddress,
        }
    }

    /// The guard's decision, for [`PolicyRejectionKind::Denied`].
    pub fn decision(&self) -> Option<&Decision> {
        self.decision.as_deref()
    }

    /// The HTTP status of the answer (gRPC requests get the matching gRPC status).
    pub fn status(&self) -> StatusCode {
        match self.kind() {
            PolicyRejectionKind::Denied => StatusCode::FORBIDDEN,
            PolicyRejectionKind::NoPeerAddress => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The refusal, with this rejection in the extensions.
    pub(crate) fn response<B: Default>(self, grpc: bool) -> Response<B> {
        let message = match self.kind() {
            PolicyRejectionKind::Denied => "access denied by policy",
            PolicyRejectionKind::NoPeerAddress => "client address unavailable",
        };
        let mut response = Rejection::new(self.status(), message).into_response(grpc);
        response.extensions_mut().insert(self);
        response
    }
}

impl fmt::Display for PolicyRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.decision {
            Some(decision) => decision.fmt(f),
            None => f.write_str("no peer address in the request extensions"),
        }
    }
}

impl std::error::Error for PolicyRejection {}
