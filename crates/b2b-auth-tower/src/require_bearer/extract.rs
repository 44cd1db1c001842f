//! The axum extractor of the verified claims (feature `axum`).

use std::fmt;
use std::ops::Deref;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use b2b_auth_jwt::Claims;
use http::StatusCode;
use http::request::Parts;

/// The claims of the token that [`RequireBearerLayer`](crate::RequireBearerLayer) verified, as
/// an axum extractor (feature `axum`).
///
/// Without the layer in front of the handler there are no claims, and the extractor answers
/// `500 Internal Server Error` ([`MissingClaims`]): a server mistake, never a way in.
///
/// ```
/// use b2b_auth_tower::VerifiedClaims;
///
/// async fn create_order(VerifiedClaims(claims): VerifiedClaims) -> String {
///     format!("order placed by {}", claims.client_id().unwrap_or("?"))
/// }
/// # let _ = axum::Router::<()>::new().route("/orders", axum::routing::post(create_order));
/// ```
#[derive(Clone, Debug)]
pub struct VerifiedClaims(pub Claims);

impl Deref for VerifiedClaims {
    type Target = Claims;

    fn deref(&self) -> &Claims {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedClaims {
    type Rejection = MissingClaims;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, MissingClaims> {
        parts.extensions.get::<Claims>().cloned().map(Self).ok_or(MissingClaims)
    }
}

/// The rejection of [`VerifiedClaims`] when the request has no verified claims, because no
/// [`RequireBearerLayer`](crate::RequireBearerLayer) runs in front of the handler: `500`.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub struct MissingClaims;

impl fmt::Display for MissingClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no verified claims: the require-bearer layer is not in front of this handler")
    }
}

impl std::error::Error for MissingClaims {}

impl IntoResponse for MissingClaims {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}
