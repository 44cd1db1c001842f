//! Sharing one token across a fleet: the [`TokenStore`] contract, the versioned
//! [`TokenEnvelope`] stores keep, and the in-process [`MemoryStore`].

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use b2b_auth_core::unix_secs;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::error::{TokenError, TokenErrorKind};
use crate::source::{BoxFuture, FetchedToken, SourceKey};
use crate::token::{AccessToken, fingerprint};

/// The envelope format version this crate writes and reads.
pub const ENVELOPE_VERSION: u32 = 1;

/// A token as a store keeps it: the token, its type, absolute UTC issue and expiry times,
/// scopes, a generation that grows with every write, the writer's id, and a fingerprint of
/// the [`SourceKey`] it was fetched for (a reader configured for other scopes or another
/// client never adopts it).
///
/// Serialized as versioned JSON ([`TokenEnvelope::to_json`]); treat that text as a secret.
/// `Debug` shows the token's fingerprint only.
#[derive(Clone)]
pub struct TokenEnvelope {
    access_token: SecretString,
    token_type: String,
    issued_at: u64,
    expires_at: u64,
    scope: Option<String>,
    generation: u64,
    writer: String,
    key: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    v: u32,
    access_token: &'a str,
    token_type: &'a str,
    issued_at: u64,
    expires_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
    generation: u64,
    writer: &'a str,
    key: &'a str,
}

impl TokenEnvelope {
    /// An envelope for `token`, issued at `issued_at`, fetched for `key`.
    pub fn new(
        token: &AccessToken,
        issued_at: SystemTime,
        key: &SourceKey,
        generation: u64,
        writer: impl Into<String>,
    ) -> Self {
        Self {
            access_token: SecretString::from(token.expose_secret()),
            token_type: "Bearer".to_owned(),
            issued_at: unix_secs(issued_at),
            expires_at: unix_secs(token.expires_at()),
            scope: token.scope().map(str::to_owned),
            generation,
            writer: writer.into(),
            key: key_fingerprint(key),
        }
    }

    /// An envelope for a token just fetched: issued `lifetime` before it expires.
    pub(crate) fn for_fetched(
        fetched: &FetchedToken,
        key: &SourceKey,
        generation: u64,
        writer: &str,
    ) -> Self {
        let issued_at = fetched.token.expires_at() - fetched.lifetime;
        Self::new(&fetched.token, issued_at, key, generation, writer)
    }

    /// Parses the JSON a store kept.
    ///
    /// # Errors
    /// [`TokenErrorKind::Store`] for malformed JSON, another version, a token type other than
    /// Bearer, or an expiry before the issue time.
    pub fn from_json(json: &str) -> Result<Self, TokenError> {
        let malformed = |reason: &str| {
            TokenError::new(TokenErrorKind::Store).with_source(EnvelopeError(reason.to_owned()))
        };
        let wire: Wire<'_> = serde_json::from_str(json).map_err(|e| malformed(&e.to_string()))?;
        if wire.v != ENVELOPE_VERSION {
            return Err(malformed("unsupported envelope version"));
        }
        if !wire.token_type.eq_ignore_ascii_case("bearer") {
            return Err(malformed("token type is not Bearer"));
        }
        if wire.expires_at <= wire.issued_at {
            return Err(malformed("expires before it was issued"));
        }
        Ok(Self {
            access_token: SecretString::from(wire.access_token),
            token_type: wire.token_type.to_owned(),
            issued_at: wire.issued_at,
            expires_at: wire.expires_at,
            scope: wire.scope.map(str::to_owned),
            generation: wire.generation,
            writer: wire.writer.to_owned(),
            key: wire.key.to_owned(),
        })
    }

    /// The JSON to store. It contains the token: keep it in a secret store (an SSM
    /// `SecureString`, a password-protected Redis).
    pub fn to_json(&self) -> SecretString {
        let wire = Wire {
            v: ENVELOPE_VERSION,
            access_token: self.access_token.expose_secret(),
            token_type: &self.token_type,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            scope: self.scope.as_deref(),
            generation: self.generation,
            writer: &self.writer,
            key: &self.key,
        };
        // Serializing strings and integers into a String cannot fail.
        SecretString::from(serde_json::to_string(&wire).unwrap_or_default())
    }

    /// When the token was issued (the send time of its request), UTC.
    pub fn issued_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.issued_at)
    }

    /// When the token expires, UTC.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.expires_at)
    }

    /// The write counter: every write of a new token increments it.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Who wrote it.
    pub fn writer(&self) -> &str {
        &self.writer
    }

    /// The granted scopes, if known.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// Whether it was fetched for `key`.
    pub fn is_for(&self, key: &SourceKey) -> bool {
        self.key == key_fingerprint(key)
    }

    /// The token, as callers get it.
    ///
    /// # Errors
    /// [`TokenErrorKind::Store`] if the stored token cannot be a bearer header.
    pub fn token(&self) -> Result<AccessToken, TokenError> {
        AccessToken::new(self.access_token.expose_secret(), self.scope.clone(), self.expires_at())
            .map_err(|_| TokenError::new(TokenErrorKind::Store))
    }
}

impl fmt::Debug for TokenEnvelope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenEnvelope")
            .field("fingerprint", &fingerprint(self.access_token.expose_secret()))
            .field("issued_at", &self.issued_at)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field("generation", &self.generation)
            .field("writer", &self.writer)
            .finish()
    }
}

fn key_fingerprint(key: &SourceKey) -> String {
    fingerprint(key.as_str())
}

#[derive(Debug, thiserror::Error)]
#[error("malformed token envelope: {0}")]
struct EnvelopeError(String);

/// A refresh lock taken in a store: proof of being the one instance that refreshes, until
/// its TTL runs out. Release it with [`TokenStore::unlock`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct StoreLock {
    owner: String,
}

impl StoreLock {
    /// A lock with a fresh random owner token (for stores implementing
    /// [`TokenStore::try_lock`]): only the holder of this value may release it.
    pub fn new() -> Self {
        Self { owner: uuid::Uuid::new_v4().to_string() }
    }

    /// The owner token, as the store keeps it.
    pub fn owner(&self) -> &str {
        &self.owner
    }
}

impl Default for StoreLock {
    fn default() -> Self {
        Self::new()
    }
}

/// Where a fleet shares its token: one writer refreshes, every instance reads.
///
/// Implementations: [`MemoryStore`] (in-process), `b2b-auth-ssm` (AWS SSM Parameter Store)
/// and `b2b-auth-redis`. A store keeps one envelope; `load` returns the latest write. A store
/// that can lock ([`supports_locking`](Self::supports_locking)) lets a fleet of providers
/// elect one refresher among themselves ([`StoreRole::Hybrid`](crate::StoreRole::Hybrid)).
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The latest envelope, or `None` if nothing was written yet.
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenEnvelope>, TokenError>>;

    /// Replaces the envelope.
    fn save<'a>(&'a self, envelope: &'a TokenEnvelope) -> BoxFuture<'a, Result<(), TokenError>>;

    /// Whether [`try_lock`](Self::try_lock) really excludes other instances. Default: `false`.
    fn supports_locking(&self) -> bool {
        false
    }

    /// Takes the refresh lock for `ttl` if nobody holds it: `Ok(None)` when another instance
    /// does. The default, for stores without locks, always succeeds.
    fn try_lock(&self, ttl: Duration) -> BoxFuture<'_, Result<Option<StoreLock>, TokenError>> {
        let _ = ttl;
        Box::pin(async { Ok(Some(StoreLock::new())) })
    }

    /// Releases `lock` if it is still the holder's (a lock whose TTL ran out and was taken by
    /// another instance is left alone). The default does nothing.
    fn unlock<'a>(&'a self, lock: &'a StoreLock) -> BoxFuture<'a, Result<(), TokenError>> {
        let _ = lock;
        Box::pin(async { Ok(()) })
    }
}

/// A store in process memory: providers built with clones of one `MemoryStore` share their
/// token. Cheap to clone.
///
/// ```
/// use b2b_auth_token::MemoryStore;
/// let store = MemoryStore::new();
/// let shared = store.clone(); // give one to each provider
/// # let _ = shared;
/// ```
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    envelope: Option<TokenEnvelope>,
    lock: Option<(StoreLock, tokio::time::Instant)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenStore for MemoryStore {
    fn load(&self) -> BoxFuture<'_, Result<Option<TokenEnvelope>, TokenError>> {
        let envelope = self.inner().envelope.clone();
        Box::pin(async move { Ok(envelope) })
    }

    fn save<'a>(&'a self, envelope: &'a TokenEnvelope) -> BoxFuture<'a, Result<(), TokenError>> {
        self.inner().envelope = Some(envelope.clone());
        Box::pin(async { Ok(()) })
    }

    fn supports_locking(&self) -> bool {
        true
    }

    fn try_lock(&self, ttl: Duration) -> BoxFuture<'_, Result<Option<StoreLock>, TokenError>> {
        let now = tokio::time::Instant::now();
        let mut inner = self.inner();
        let taken = inner.lock.as_ref().is_some_and(|(_, until)| now < *until);
        let lock = (!taken).then(|| {
            let lock = StoreLock::new();
            inner.lock = Some((lock.clone(), now + ttl));
            lock
        });
        Box::pin(async move { Ok(lock) })
    }

    fn unlock<'a>(&'a self, lock: &'a StoreLock) -> BoxFuture<'a, Result<(), TokenError>> {
        let mut inner = self.inner();
        if inner.lock.as_ref().is_some_and(|(held, _)| held == lock) {
            inner.lock = None;
        }
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SourceKey {
        SourceKey::new("https://idp/t", "car-orders", ["tires/orders.write"], None, [])
    }

    fn envelope() -> TokenEnvelope {
        let issued = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let token = AccessToken::new(
            "tok.en.value",
            Some("tires/orders.write".into()),
            issued + Duration::from_secs(3600),
        )
        .unwrap();
        TokenEnvelope::new(&token, issued, &key(), 7, "host-1")
    }

    #[test]
    fn envelopes_round_trip_through_versioned_json() {
        let json = envelope().to_json();
        let text = json.expose_secret();
        assert!(text.starts_with(r#"{"v":1,"#), "{text}");
        let back = TokenEnvelope::from_json(text).unwrap();
        assert_eq!(back.generation(), 7);
        assert_eq!(back.writer(), "host-1");
        assert_eq!(back.expires_at(), UNIX_EPOCH + Duration::from_secs(1_800_003_600));
        assert_eq!(back.issued_at(), UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        assert_eq!(back.scope(), Some("tires/orders.write"));
        assert_eq!(back.token().unwrap().expose_secret(), "tok.en.value");
        assert!(back.is_for(&key()));
        assert!(!back.is_for(&SourceKey::new("https://idp/t", "car-orders", ["other"], None, [])));
    }

    #[test]
    fn malformed_envelopes_are_store_errors() {
        let good = envelope().to_json().expose_secret().to_owned();
        for bad in [
            good.replace(r#""v":1"#, r#""v":2"#),
            good.replace("Bearer", "MAC"),
            good.replace("1800003600", "1799999999"),
            good.replace(r#""writer""#, r#""extra":1,"writer""#),
            "{}".to_owned(),
            "not json".to_owned(),
        ] {
            assert_eq!(
                TokenEnvelope::from_json(&bad).unwrap_err().kind(),
                TokenErrorKind::Store,
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_shows_no_token() {
        let debug = format!("{:?}", envelope());
        assert!(!debug.contains("tok.en.value"), "{debug}");
        assert!(debug.contains("sha256:"), "{debug}");
    }

    #[tokio::test(start_paused = true)]
    async fn memory_store_locks_exclude_until_released_or_expired() {
        let store = MemoryStore::new();
        let ttl = Duration::from_secs(5);
        let first = store.try_lock(ttl).await.unwrap().expect("free");
        assert!(store.try_lock(ttl).await.unwrap().is_none(), "held");
        store.unlock(&StoreLock::new()).await.unwrap();
        assert!(store.try_lock(ttl).await.unwrap().is_none(), "only the owner releases");
        store.unlock(&first).await.unwrap();
        let second = store.try_lock(ttl).await.unwrap().expect("released");
        tokio::time::advance(ttl).await;
        let third = store.try_lock(ttl).await.unwrap().expect("expired");
        store.unlock(&second).await.unwrap();
        assert!(
            store.try_lock(ttl).await.unwrap().is_none(),
            "a stale owner cannot release the new lock"
        );
        assert_ne!(second, third);
    }

    #[tokio::test]
    async fn memory_stores_share_between_clones() {
        let store = MemoryStore::new();
        let other = store.clone();
        assert!(store.load().await.unwrap().is_none());
        other.save(&envelope()).await.unwrap();
        assert_eq!(store.load().await.unwrap().unwrap().generation(), 7);
    }
}
