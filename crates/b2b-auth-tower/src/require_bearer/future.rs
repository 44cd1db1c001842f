use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use b2b_auth_jwt::{Claims, VerifyError};
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::layer::Config;
use super::service::authorize;

/// The verifier's future, boxed: `Verifier::verify` is an `async fn`.
type Verify = Pin<Box<dyn Future<Output = Result<Claims, VerifyError>> + Send>>;

pin_project! {
    /// Response future of [`RequireBearer`](super::RequireBearer): verifies the token, then
    /// calls the inner service or answers the refusal.
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody, S::Future, S::Response>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody, F, R> {
        Verifying {
            verify: Verify,
            // Taken when the verification completes.
            call: Option<(S, Request<ReqBody>)>,
            config: Arc<Config>,
        },
        Calling {
            #[pin]
            future: F,
        },
        Refused {
            // Taken when returned.
            response: Option<R>,
        },
    }
}

impl<S, ReqBody> ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>>,
{
    pub(super) fn verifying(
        verify: Verify,
        inner: S,
        request: Request<ReqBody>,
        config: Arc<Config>,
    ) -> Self {
        Self { state: State::Verifying { verify, call: Some((inner, request)), config } }
    }

    pub(super) fn rejected(response: S::Response) -> Self {
        Self { state: State::Refused { response: Some(response) } }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Verifying { verify, call, config } => {
                    let verified = ready!(verify.as_mut().poll(cx));
                    // Polled after completion: never ready again, rather than a panic.
                    let Some((mut inner, mut request)) = call.take() else {
                        return Poll::Pending;
                    };
                    match authorize(config, verified, &request) {
                        Ok(claims) => {
                            request.extensions_mut().insert(claims);
                            let future = inner.call(request);
                            state.set(State::Calling { future });
                        }
                        Err(response) => state.set(State::Refused { response: Some(response) }),
                    }
                }
                StateProj::Calling { future } => return future.poll(cx),
                StateProj::Refused { response } => {
                    return match response.take() {
                        Some(response) => Poll::Ready(Ok(response)),
                        None => Poll::Pending,
                    };
                }
            }
        }
    }
}
