use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

pin_project! {
    /// Response future of [`EnforcePolicy`](super::EnforcePolicy): the inner service's, or the
    /// refusal.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Called {
            #[pin]
            future: F,
        },
        Refused {
            // Taken when returned.
            response: Option<Response<B>>,
        },
    }
}

impl<F, B> ResponseFuture<F, B> {
    pub(super) fn called(future: F) -> Self {
        Self { kind: Kind::Called { future } }
    }

    pub(super) fn refused(response: Response<B>) -> Self {
        Self { kind: Kind::Refused { response: Some(response) } }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Called { future } => future.poll(cx),
            // Polled after completion: never ready again, rather than a panic.
            KindProj::Refused { response } => {
                response.take().map_or(Poll::Pending, |r| Poll::Ready(Ok(r)))
            }
        }
    }
}
