use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use b2b_auth_token::{AccessToken, TokenProvider};
use http::header::AUTHORIZATION;
use http::{Request, Response};
use tower::{BoxError, ServiceExt as _};
use tower_service::Service;

use super::{ReplayBody, replacement_token, token_refused};

/// The future of [`AddBearer`]: boxed, since it may await the token and send twice.
pub type ResponseFuture<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// The service of [`AddBearerLayer`](super::AddBearerLayer).
///
/// Its error is tower's `BoxError`: the inner service's error, or the
/// [`TokenError`](b2b_auth_token::TokenError) when no token could be had.
#[derive(Clone)]
pub struct AddBearer<S> {
    inner: S,
    provider: TokenProvider,
}

impl<S> AddBearer<S> {
    /// Wraps `inner`, adding `provider`'s token to each request.
    pub fn new(inner: S, provider: TokenProvider) -> Self {
        Self { inner, provider }
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

impl<S: fmt::Debug> fmt::Debug for AddBearer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddBearer")
            .field("inner", &self.inner)
            .field("provider", &self.provider)
            .finish()
    }
}

fn authorize<B>(request: &mut Request<B>, token: &AccessToken) {
    // The prepared value is marked sensitive.
    request.headers_mut().insert(AUTHORIZATION, token.authorization().clone());
}

/// A copy of `request` to send again, if its body can be replayed.
fn replay<B: ReplayBody>(request: &Request<B>) -> Option<Request<B>> {
    let body = request.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AddBearer<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    ReqBody: ReplayBody + Send + 'static,
    ResBody: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this call; the fresh clone stays behind
        // (https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let provider = self.provider.clone();
        Box::pin(async move {
            let token = provider.token().await?;
            authorize(&mut request, &token);
            let again = replay(&request);
            let response = inner.call(request).await.map_err(Into::into)?;
            let Some(mut again) =
                again.filter(|_| token_refused(response.status(), response.headers()))
            else {
                return Ok(response);
            };
            let Some(fresh) = replacement_token(&provider, &token).await? else {
                return Ok(response);
            };
            authorize(&mut again, &fresh);
            let inner = inner.ready().await.map_err(Into::into)?;
            inner.call(again).await.map_err(Into::into)
        })
    }
}
