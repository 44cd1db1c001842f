use std::sync::Arc;
use std::task::{Context, Poll};

use b2b_auth_jwt::Claims;
use b2b_auth_policy::{AccessGuard, Decision, RequestContext};
use http::{Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::rejection::PolicyRejection;
use crate::audit::{AuditEvent, Outcome};
use crate::peer::peer_addr;
use crate::reject::is_grpc;

/// Middleware that lets a request through only if an [`AccessGuard`] allows it, and puts the
/// [`Decision`] into the request extensions. Built by
/// [`EnforcePolicyLayer`](super::EnforcePolicyLayer).
#[derive(Clone, Debug)]
pub struct EnforcePolicy<S> {
    inner: S,
    guard: Arc<AccessGuard>,
}

impl<S> EnforcePolicy<S> {
    pub(super) fn new(inner: S, guard: Arc<AccessGuard>) -> Self {
        Self { inner, guard }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for EnforcePolicy<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The check is synchronous: the service polled ready is called right here, no clone.
        match check(&self.guard, &request) {
            Ok(decision) => {
                request.extensions_mut().insert(decision);
                ResponseFuture::called(self.inner.call(request))
            }
            Err(rejection) => ResponseFuture::refused(rejection.response(is_grpc(&request))),
        }
    }
}

/// The guard's decision about the request, with its audit event.
fn check<B>(guard: &AccessGuard, request: &Request<B>) -> Result<Decision, PolicyRejection> {
    // The client id of a token verified by a require-bearer layer further out.
    let principal = request.extensions().get::<Claims>().and_then(Claims::client_id);
    let (method, path) = (request.method(), request.uri().path());
    let outcome = match peer_addr(request) {
        Some(peer) => {
            let mut ctx = RequestContext::new(method.as_str(), path);
            if let Some(principal) = principal {
                ctx = ctx.principal(principal);
            }
            let decision = guard.check(peer, request.headers(), ctx);
            if decision.is_allowed() {
                Ok(decision)
            } else {
                Err(PolicyRejection::denied(decision))
            }
        }
        None => Err(PolicyRejection::no_peer_address()),
    };
    let (decision, status) = match &outcome {
        Ok(decision) => (Some(decision), None),
        Err(rejection) => (rejection.decision(), Some(rejection.status().as_u16())),
    };
    let client = decision.and_then(Decision::client_ip);
    let provenance = client.map(|c| c.provenance());
    AuditEvent {
        layer: "enforce_policy",
        outcome: if outcome.is_ok() { Outcome::Allow } else { Outcome::Deny },
        reason: match &outcome {
            Ok(decision) => decision,
            Err(rejection) => rejection,
        },
        status,
        client_ip: client.map(|c| c.addr()),
        provenance: provenance.as_ref().map(|p| p as _),
        client_id: principal,
        method,
        route: path,
    }
    .emit();
    outcome
}
