use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use b2b_auth_token::BoxFuture;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::keys::ApiKey;
use super::service::Shared;
use super::store::{Usage, UsageStoreError};

pin_project! {
    /// The response future of [`RequireApiKey`](super::RequireApiKey).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        /// Waiting for the usage store; then the request goes to `inner`, or is refused.
        Usage {
            decision: BoxFuture<'static, Result<Usage, UsageStoreError>>,
            pending: Option<Pending<S, ReqBody>>,
        },
        Inner {
            #[pin]
            future: S::Future,
        },
        Done {
            response: Option<S::Response>,
        },
    }
}

/// What the request needs once the store has decided.
struct Pending<S, ReqBody> {
    request: Request<ReqBody>,
    inner: S,
    key: ApiKey,
    shared: Arc<Shared>,
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(super) fn usage(
        decision: BoxFuture<'static, Result<Usage, UsageStoreError>>,
        request: Request<ReqBody>,
        inner: S,
        key: ApiKey,
        shared: Arc<Shared>,
    ) -> Self {
        let pending = Some(Pending { request, inner, key, shared });
        Self { state: State::Usage { decision, pending } }
    }

    pub(super) fn inner(future: S::Future) -> Self {
        Self { state: State::Inner { future } }
    }

    pub(super) fn done(response: S::Response) -> Self {
        Self { state: State::Done { response: Some(response) } }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Usage { decision, pending } => {
                    let decision = ready!(decision.as_mut().poll(cx));
                    // `None` only if polled after completion, which may pend forever.
                    let Some(Pending { mut request, mut inner, key, shared }) = pending.take()
                    else {
                        return Poll::Pending;
                    };
                    match shared.settle(decision, &mut request, key) {
                        Ok(()) => State::Inner { future: inner.call(request) },
                        Err(response) => State::Done { response: Some(response) },
                    }
                }
                StateProj::Inner { future } => return future.poll(cx),
                StateProj::Done { response } => {
                    return match response.take() {
                        Some(response) => Poll::Ready(Ok(response)),
                        None => Poll::Pending,
                    };
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}
