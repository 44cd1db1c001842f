use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use b2b_auth_jwt::{Claims, ScopePolicy, VerifyError, VerifyErrorKind, bearer_token};
use b2b_auth_policy::{PathMode, canonical_path};
use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response};
use tower_service::Service;

use super::future::ResponseFuture;
use super::layer::Config;
use super::rejection::{BearerRejection, BearerRejectionKind};
use crate::audit::{AuditEvent, Outcome};
use crate::peer::client_ip;
use crate::reject::is_grpc;

/// The layer's name in audit events.
const LAYER: &str = "require_bearer";

/// Middleware that lets a request through only with a valid bearer token meeting its route's
/// scope policy, and puts the verified [`Claims`] into the request extensions. Built by
/// [`RequireBearerLayer`](super::RequireBearerLayer).
#[derive(Clone, Debug)]
pub struct RequireBearer<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> RequireBearer<S> {
    pub(super) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequireBearer<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let credentials = match precheck(&request, &self.config) {
            Ok(credentials) => credentials,
            Err(rejection) => {
                let (route, _) = route(&self.config, &request);
                let response = refuse(&self.config, &rejection, &request, route);
                return ResponseFuture::rejected(response);
            }
        };
        let config = self.config.clone();
        let verify = Box::pin(async move {
            let token = after_scheme(credentials.as_bytes()).and_then(|t| str::from_utf8(t).ok());
            let verified = config.verifier.verify(token.unwrap_or_default()).await;
            // Only a refused token is checked to be one RFC 6750 b64token (else 400): a token
            // the verifier accepts always is one (base64url segments and dots), and the check
            // costs as much as a cache hit.
            verified.map_err(|error| bearer_token(credentials.as_bytes()).err().unwrap_or(error))
        });
        // The service that was polled ready is the one to call; a clone takes its place
        // (https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services).
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture::verifying(verify, inner, request, self.config.clone())
    }
}

/// The checks before verification: the request's one `Authorization` header with the `Bearer`
/// scheme (RFC 6750 §2.1 only: the query and cookies are not read), and, with per-route
/// policies, a canonical path. Returns the header (cheap to clone).
fn precheck<B>(request: &Request<B>, config: &Config) -> Result<HeaderValue, BearerRejection> {
    let query = request.uri().query().unwrap_or_default();
    if form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "access_token") {
        return Err(BearerRejection::new(BearerRejectionKind::TokenInQuery));
    }
    let mut values = request.headers().get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value,
        (None, _) => return Err(BearerRejection::verify(VerifyErrorKind::MissingToken.into())),
        (Some(_), Some(_)) => {
            return Err(BearerRejection::new(BearerRejectionKind::MultipleCredentials));
        }
    };
    if after_scheme(value.as_bytes()).is_none() {
        // Another scheme (no bearer token), or `Bearer` alone (malformed).
        let error = bearer_token(value.as_bytes()).err();
        return Err(BearerRejection::verify(
            error.unwrap_or_else(|| VerifyErrorKind::MissingToken.into()),
        ));
    }
    if config.routes.has_routes() && canonical_path(request.uri().path(), PathMode::Reject).is_err()
    {
        return Err(BearerRejection::new(BearerRejectionKind::NonCanonicalPath));
    }
    Ok(value.clone())
}

/// What follows `Bearer ` (scheme case-insensitive, RFC 9110 §11.1), not yet checked.
fn after_scheme(credentials: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = credentials.split_at_checked(7)?;
    scheme.eq_ignore_ascii_case(b"bearer ").then(|| token.trim_ascii_start())
}

/// The route the request matches (its pattern, else its path) and the policy it must meet
/// (`None`: refused).
fn route<'a, B>(config: &'a Config, request: &'a Request<B>) -> (&'a str, Option<&'a ScopePolicy>) {
    let (method, path) = (request.method(), request.uri().path());
    match config.routes.route_for(method, path) {
        Some((route, policy)) => (route, Some(policy)),
        None => (path, config.routes.fallback()),
    }
}

/// After verification: the route's scope policy, then the audit event. The verified claims,
/// or the refusal.
pub(super) fn authorize<B, ResBody: Default>(
    config: &Config,
    verified: Result<Claims, VerifyError>,
    request: &Request<B>,
) -> Result<Claims, Response<ResBody>> {
    let (route, policy) = route(config, request);
    let checked = verified.map_err(BearerRejection::verify).and_then(|claims| match policy {
        None => Err(BearerRejection::new(BearerRejectionKind::NoRoute)),
        Some(policy) => match policy.check(claims.scopes()) {
            Ok(()) => Ok(claims),
            Err(denied) => Err(BearerRejection::verify(denied.into())),
        },
    });
    match checked {
        Ok(claims) => {
            let reason = "token verified, scopes satisfied";
            audit(request, Outcome::Allow, &reason, None, claims.client_id(), route);
            Ok(claims)
        }
        Err(rejection) => Err(refuse(config, &rejection, request, route)),
    }
}

/// The refusal's response, and its audit event.
fn refuse<B, ResBody: Default>(
    config: &Config,
    rejection: &BearerRejection,
    request: &Request<B>,
    route: &str,
) -> Response<ResBody> {
    let status = Some(rejection.status().as_u16());
    // Claims of a token that did not verify are not to be believed, not even in a log.
    audit(request, Outcome::Deny, rejection, status, None, route);
    rejection.response(&config.realm, is_grpc(request))
}

fn audit<B>(
    request: &Request<B>,
    outcome: Outcome,
    reason: &dyn fmt::Display,
    status: Option<u16>,
    client_id: Option<&str>,
    route: &str,
) {
    let client = client_ip(request);
    let provenance = client.map(|c| c.provenance());
    AuditEvent {
        layer: LAYER,
        outcome,
        reason,
        status,
        client_ip: client.map(|c| c.addr()),
        provenance: provenance.as_ref().map(|p| p as _),
        client_id,
        method: request.method(),
        route,
    }
    .emit();
}
