//! The reqwest side of the add-bearer behaviour (feature `reqwest`).

use std::fmt;

use b2b_auth_token::TokenProvider;
use http::Extensions;
use http::header::AUTHORIZATION;
use reqwest_middleware::{Middleware, Next};

use crate::add_bearer::{replacement_token, token_refused};

/// A [`reqwest_middleware`] middleware that adds `Authorization: Bearer` from a
/// [`TokenProvider`] to every request and retries once with a fresh token after a `401` for a
/// refused token — the [`AddBearerLayer`](crate::AddBearerLayer) behaviour for reqwest.
///
/// ```no_run
/// use b2b_auth_token::{ClientCredentials, TokenProvider};
/// use b2b_auth_tower::BearerMiddleware;
///
/// # async fn call() -> Result<(), Box<dyn std::error::Error>> {
/// let provider = TokenProvider::builder(
///     ClientCredentials::builder()
///         .token_url("https://auth.tires.example/oauth2/token")
///         .client_id("car-orders")
///         .client_secret(std::env::var("CAR_ORDERS_SECRET")?)
///         .scope("tires/orders.write")
///         .build()?,
/// )
/// .build()?;
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(BearerMiddleware::new(provider))
///     .build();
/// let response = client.post("https://api.tires.example/orders").body("{}").send().await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
///
/// A request whose body cannot be cloned (a stream) is not retried. A token that cannot be
/// had fails the request with a middleware error wrapping the
/// [`TokenError`](b2b_auth_token::TokenError).
#[derive(Clone)]
pub struct BearerMiddleware {
    provider: TokenProvider,
}

impl BearerMiddleware {
    /// A middleware handing out `provider`'s token.
    pub fn new(provider: TokenProvider) -> Self {
        Self { provider }
    }
}

impl fmt::Debug for BearerMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerMiddleware").field("provider", &self.provider).finish()
    }
}

#[async_trait::async_trait]
impl Middleware for BearerMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let token = self.provider.token().await.map_err(reqwest_middleware::Error::middleware)?;
        request.headers_mut().insert(AUTHORIZATION, token.authorization().clone());
        let again = request.try_clone();
        let response = next.clone().run(request, extensions).await?;
        let Some(mut again) =
            again.filter(|_| token_refused(response.status(), response.headers()))
        else {
            return Ok(response);
        };
        let fresh = replacement_token(&self.provider, &token)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let Some(fresh) = fresh else {
            return Ok(response);
        };
        again.headers_mut().insert(AUTHORIZATION, fresh.authorization().clone());
        next.run(again, extensions).await
    }
}
