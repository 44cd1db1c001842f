//! Where tokens come from: the [`TokenSource`] trait that [`ClientCredentials`] implements
//! and [`TokenProvider`] drives.
//!
//! [`ClientCredentials`]: crate::ClientCredentials
//! [`TokenProvider`]: crate::TokenProvider

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::TokenError;
use crate::token::AccessToken;

/// A boxed, sendable future, as [`TokenSource::fetch`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A token just fetched, with what the provider needs to schedule its refresh.
#[derive(Clone, Debug)]
pub struct FetchedToken {
    pub(crate) token: AccessToken,
    pub(crate) lifetime: Duration,
    pub(crate) sent_at: Instant,
}

impl FetchedToken {
    /// A token valid for `lifetime` counted from `sent_at`, the moment its request was sent
    /// (never the moment the answer arrived: the server started the clock first).
    pub fn new(token: AccessToken, lifetime: Duration, sent_at: Instant) -> Self {
        Self { token, lifetime, sent_at }
    }

    /// The token.
    pub fn token(&self) -> &AccessToken {
        &self.token
    }

    /// How long it is valid from [`FetchedToken::sent_at`].
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// When its request was sent.
    pub fn sent_at(&self) -> Instant {
        self.sent_at
    }
}

/// What makes one source's tokens different from another's: token URL (or issuer), client
/// id, scopes, audience and resources. Sources with equal keys issue interchangeable tokens,
/// so their concurrent fetches are merged into one.
#[derive(Clone, Eq, Hash, PartialEq)]
pub struct SourceKey {
    canonical: Arc<str>,
    client_id: Arc<str>,
    host: Arc<str>,
}

impl SourceKey {
    /// A key from its parts. Scopes and resources are sets: their order does not matter.
    pub fn new<'a>(
        endpoint: &str,
        client_id: &str,
        scopes: impl IntoIterator<Item = &'a str>,
        audience: Option<&str>,
        resources: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let mut scopes: Vec<&str> = scopes.into_iter().collect();
        scopes.sort_unstable();
        scopes.dedup();
        let mut resources: Vec<&str> = resources.into_iter().collect();
        resources.sort_unstable();
        resources.dedup();
        // Newlines cannot occur in URLs, client ids or scopes, so the join is unambiguous.
        let canonical = format!(
            "{endpoint}\n{client_id}\n{}\n{}\n{}",
            scopes.join(" "),
            audience.unwrap_or(""),
            resources.join(" ")
        );
        let host = reqwest::Url::parse(endpoint)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default();
        Self { canonical: canonical.into(), client_id: client_id.into(), host: host.into() }
    }

    /// The client id, for logs.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The identity provider's host, for logs.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The whole key as one string (no secrets in it), e.g. to name a shared store entry.
    pub fn as_str(&self) -> &str {
        &self.canonical
    }
}

impl fmt::Debug for SourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SourceKey").field(&self.canonical).finish()
    }
}

/// A source of access tokens, driven by a [`TokenProvider`](crate::TokenProvider).
///
/// [`ClientCredentials`](crate::ClientCredentials) is the one most users need; implement
/// this for another grant or a custom identity provider.
pub trait TokenSource: Send + Sync + 'static {
    /// Fetches a new token. Called by one task at a time per [`SourceKey`].
    fn fetch(&self) -> BoxFuture<'_, Result<FetchedToken, TokenError>>;

    /// What makes this source's tokens different from another's.
    fn key(&self) -> &SourceKey;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_the_order_of_sets_but_nothing_else() {
        let a = SourceKey::new("https://idp/t", "c", ["b", "a"], None, ["r2", "r1"]);
        let b = SourceKey::new("https://idp/t", "c", ["a", "b", "a"], None, ["r1", "r2"]);
        assert_eq!(a, b);
        assert_eq!(a.host(), "idp");
        for other in [
            SourceKey::new("https://idp/u", "c", ["a", "b"], None, ["r1", "r2"]),
            SourceKey::new("https://idp/t", "d", ["a", "b"], None, ["r1", "r2"]),
            SourceKey::new("https://idp/t", "c", ["a"], None, ["r1", "r2"]),
            SourceKey::new("https://idp/t", "c", ["a", "b"], Some("api"), ["r1", "r2"]),
            SourceKey::new("https://idp/t", "c", ["a", "b"], None, ["r1"]),
        ] {
            assert_ne!(a, other, "{other:?}");
        }
    }
}
