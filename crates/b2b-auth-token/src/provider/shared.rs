//! Sharing one token through a [`TokenStore`]: who fetches, who reads, and what happens when
//! the shared token is missing, stale, or the store is down.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::Instant;

use super::{Outcome, TokenProvider, lock};
use crate::error::{TokenError, TokenErrorKind};
use crate::schedule::RefreshPolicy;
use crate::source::{FetchedToken, SourceKey};
use crate::store::{TokenEnvelope, TokenStore};
use crate::token::AccessToken;

/// How a provider with a [`TokenStore`] takes part in sharing the token.
///
/// In every role a provider first adopts a fresh shared token, keeps it locally until its
/// refresh point (no store round-trip per request) and reads the store again then; it never
/// adopts a token older than the one it holds, one whose generation went backwards, or one a
/// resource server refused. When the store is unreachable, every role refreshes in-process
/// and logs it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum StoreRole {
    /// Reads the shared token that a writer (a [`Refresher`](crate::Refresher) job, or a
    /// provider in [`Writer`](Self::Writer) role) keeps fresh. While the shared token is due
    /// the reader keeps using it and looks again every poll interval; when it is missing or
    /// stale (the writer is down) the reader fetches its own — at most once per fallback
    /// interval, after a random delay and a last look — and writes it back for the others.
    Reader,
    /// Fetches at its own refresh points and writes the token for the readers.
    Writer,
    /// Readers elect one refresher through the store's lock: when the shared token is due,
    /// the instance that takes the lock fetches and writes, the others keep the valid token
    /// and adopt the new one. A refresher that dies holding the lock is replaced once the
    /// lock's TTL runs out. No separate job is needed.
    Hybrid,
}

/// The sharing settings of a provider.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SharingSettings {
    pub(crate) role: StoreRole,
    pub(crate) lock_ttl: Duration,
    pub(crate) poll_interval: Duration,
    pub(crate) fallback_interval: Duration,
    pub(crate) fallback_jitter: Duration,
}

impl Default for SharingSettings {
    fn default() -> Self {
        Self {
            role: StoreRole::Reader,
            lock_ttl: super::DEFAULT_LOCK_TTL,
            poll_interval: Duration::from_secs(5),
            fallback_interval: Duration::from_secs(60),
            fallback_jitter: Duration::from_secs(2),
        }
    }
}

/// A shared token that may be adopted, scheduled from its issue time.
#[derive(Clone, Debug)]
pub(crate) struct Adoptable {
    pub(crate) token: AccessToken,
    pub(crate) sent_at: Instant,
    pub(crate) lifetime: Duration,
    pub(crate) generation: u64,
}

/// What the store holds, from one provider's point of view.
#[derive(Clone, Debug)]
pub(crate) enum Shared {
    /// Before its refresh point: use it.
    Fresh(Adoptable),
    /// Past its refresh point but still valid: someone should be refreshing it.
    Due(Adoptable),
    /// Missing, stale, for another source, or going backwards.
    Unusable(&'static str),
}

/// Classifies an envelope for `key` at `now` (wall and monotonic), refusing generations below
/// `min_generation`.
pub(crate) fn classify(
    envelope: Option<&TokenEnvelope>,
    key: &SourceKey,
    policy: &RefreshPolicy,
    now_wall: SystemTime,
    now: Instant,
    min_generation: u64,
) -> Shared {
    let Some(envelope) = envelope else { return Shared::Unusable("no shared token") };
    if !envelope.is_for(key) {
        return Shared::Unusable("shared token is for another client, scope or audience");
    }
    if envelope.generation() < min_generation {
        return Shared::Unusable("shared token generation went backwards");
    }
    let Ok(token) = envelope.token() else { return Shared::Unusable("malformed shared token") };
    let Ok(lifetime) = envelope.expires_at().duration_since(envelope.issued_at()) else {
        return Shared::Unusable("malformed shared token");
    };
    let age = now_wall.duration_since(envelope.issued_at()).unwrap_or_default();
    let zones = policy.zones(lifetime, 0.0);
    if age >= zones.stale_after {
        return Shared::Unusable("shared token is stale");
    }
    let Some(sent_at) = now.checked_sub(age) else {
        return Shared::Unusable("shared token is stale");
    };
    let adoptable = Adoptable { token, sent_at, lifetime, generation: envelope.generation() };
    if age < zones.refresh_after { Shared::Fresh(adoptable) } else { Shared::Due(adoptable) }
}

#[derive(Debug, thiserror::Error)]
#[error("the shared token is unusable and this instance fetched its own too recently")]
struct FallbackLimited;

impl TokenProvider {
    /// One refresh of a provider with a store, by role.
    pub(super) async fn refresh_shared(&self, store: &Arc<dyn TokenStore>) -> Outcome {
        let shared = match self.read_store(store).await {
            Ok(shared) => shared,
            Err(error) => return self.refresh_without_store(&error).await,
        };
        match (self.inner.sharing.role, shared) {
            (_, Shared::Fresh(adoptable)) => Ok(self.adopt(adoptable)),
            (StoreRole::Writer, _) => self.fetch_and_install(Some(store)).await,
            (StoreRole::Reader, Shared::Due(adoptable)) => Ok(self.adopt_and_poll(adoptable)),
            (StoreRole::Reader, Shared::Unusable(reason)) => self.fall_back(store, reason).await,
            (StoreRole::Hybrid, shared) => self.elect(store, shared).await,
        }
    }

    /// The store failed: refresh in-process, and say so.
    async fn refresh_without_store(&self, error: &TokenError) -> Outcome {
        tracing::warn!(%error, "token store unreachable; refreshing in-process");
        self.fetch_and_install(None).await
    }

    /// Reads the store and classifies what it holds, refusing tokens this provider must not
    /// adopt: older than the one in hand, or the one a resource server refused.
    async fn read_store(&self, store: &Arc<dyn TokenStore>) -> Result<Shared, TokenError> {
        let envelope = store.load().await?;
        let min_generation = {
            // Writes continue from the highest generation seen, whatever the envelope holds.
            let mut state = lock(&self.inner.state);
            let seen = state.max_generation;
            state.max_generation = seen.max(envelope.as_ref().map_or(0, TokenEnvelope::generation));
            seen
        };
        let shared = classify(
            envelope.as_ref(),
            self.inner.source.key(),
            &self.inner.policy,
            self.inner.clock.now(),
            Instant::now(),
            min_generation,
        );
        let (Shared::Fresh(adoptable) | Shared::Due(adoptable)) = &shared else {
            return Ok(shared);
        };
        if let Some(current) = self.inner.current.load().as_deref() {
            let same = current.token.expose_secret() == adoptable.token.expose_secret();
            if same && current.invalidated {
                return Ok(Shared::Unusable("shared token was refused by a resource server"));
            }
            if !same
                && !current.invalidated
                && current.token.expires_at() > adoptable.token.expires_at()
            {
                return Ok(Shared::Unusable("shared token is older than the one in hand"));
            }
        }
        Ok(shared)
    }

    /// Adopts a shared token, to be read again at its refresh point: a writer's or elected
    /// refresher's jittered one, or — for readers — just after the writer's latest one.
    fn adopt(&self, adoptable: Adoptable) -> AccessToken {
        tracing::Span::current().record("outcome", "adopted");
        let policy = &self.inner.policy;
        let stale_at = adoptable.sent_at + policy.zones(adoptable.lifetime, 0.0).stale_after;
        let refresh_after = match self.inner.sharing.role {
            StoreRole::Reader => {
                let latest = policy.zones(adoptable.lifetime, 0.0).refresh_after;
                let spread = (adoptable.lifetime / 20).min(Duration::from_secs(30));
                latest + spread.mul_f64(fastrand::f64())
            }
            StoreRole::Writer | StoreRole::Hybrid => {
                policy.zones(adoptable.lifetime, fastrand::f64()).refresh_after
            }
        };
        tracing::debug!(generation = adoptable.generation, "shared token adopted");
        self.install(&adoptable.token, adoptable.sent_at + refresh_after, stale_at)
    }

    /// Adopts a valid but due shared token and reads the store again after the poll interval.
    fn adopt_and_poll(&self, adoptable: Adoptable) -> AccessToken {
        tracing::Span::current().record("outcome", "polling");
        let stale_at =
            adoptable.sent_at + self.inner.policy.zones(adoptable.lifetime, 0.0).stale_after;
        self.install(&adoptable.token, Instant::now() + self.inner.sharing.poll_interval, stale_at)
    }

    /// Hybrid: whoever takes the lock refreshes; the others keep a valid token and look again,
    /// and take over once the lock's TTL has passed without a new token.
    async fn elect(&self, store: &Arc<dyn TokenStore>, mut shared: Shared) -> Outcome {
        let settings = self.inner.sharing;
        let deadline = Instant::now() + settings.lock_ttl + settings.poll_interval;
        loop {
            match store.try_lock(settings.lock_ttl).await {
                Err(error) => return self.refresh_without_store(&error).await,
                Ok(Some(held)) => {
                    let outcome = self.refresh_locked(store).await;
                    if let Err(error) = store.unlock(&held).await {
                        tracing::debug!(%error, "refresh lock not released; it expires with its TTL");
                    }
                    return outcome;
                }
                Ok(None) => {}
            }
            // Another instance is refreshing.
            if let Shared::Due(adoptable) = shared {
                return Ok(self.adopt_and_poll(adoptable));
            }
            if let Some(token) = self.keep_current_until(Instant::now() + settings.poll_interval) {
                return Ok(token);
            }
            if Instant::now() >= deadline {
                return self
                    .fall_back(store, "the instance holding the refresh lock is silent")
                    .await;
            }
            tokio::time::sleep(settings.poll_interval).await;
            shared = match self.read_store(store).await {
                Ok(Shared::Fresh(adoptable)) => return Ok(self.adopt(adoptable)),
                Ok(shared) => shared,
                Err(error) => return self.refresh_without_store(&error).await,
            };
        }
    }

    /// Holding the lock: adopt what another instance wrote just before, or fetch and write.
    async fn refresh_locked(&self, store: &Arc<dyn TokenStore>) -> Outcome {
        if let Ok(Shared::Fresh(adoptable)) = self.read_store(store).await {
            return Ok(self.adopt(adoptable));
        }
        self.fetch_and_install(Some(store)).await
    }

    /// The shared token is unusable: fetch this instance's own, at most once per fallback
    /// interval, after a random delay and one more look at the store.
    async fn fall_back(&self, store: &Arc<dyn TokenStore>, reason: &'static str) -> Outcome {
        let settings = self.inner.sharing;
        let recently = lock(&self.inner.state)
            .last_fallback
            .is_some_and(|last| Instant::now() < last + settings.fallback_interval);
        if recently {
            if let Some(token) = self.keep_current_until(Instant::now() + settings.poll_interval) {
                return Ok(token);
            }
            let error = TokenError::new(TokenErrorKind::Store).with_source(FallbackLimited);
            self.record_failure(&error);
            return Err(error);
        }
        tokio::time::sleep(settings.fallback_jitter.mul_f64(fastrand::f64())).await;
        match self.read_store(store).await {
            Ok(Shared::Fresh(adoptable)) => return Ok(self.adopt(adoptable)),
            Ok(Shared::Due(adoptable)) => return Ok(self.adopt_and_poll(adoptable)),
            Ok(Shared::Unusable(_)) | Err(_) => {}
        }
        lock(&self.inner.state).last_fallback = Some(Instant::now());
        tracing::info!(reason, "shared token unusable; fetching this instance's own");
        self.fetch_and_install(Some(store)).await
    }

    /// Writes a fetched token for the other instances.
    pub(super) async fn save(&self, store: &Arc<dyn TokenStore>, fetched: &FetchedToken) {
        let generation = {
            let mut state = lock(&self.inner.state);
            state.max_generation += 1;
            state.max_generation
        };
        let envelope = TokenEnvelope::for_fetched(
            fetched,
            self.inner.source.key(),
            generation,
            &self.inner.writer,
        );
        if let Err(error) = store.save(&envelope).await {
            tracing::warn!(%error, "token store unwritable; the token is used in this instance only");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SourceKey {
        SourceKey::new("https://idp/t", "car-orders", ["a"], None, [])
    }

    fn envelope(issued: SystemTime, lifetime: Duration, generation: u64) -> TokenEnvelope {
        let token = AccessToken::new("shared.token", None, issued + lifetime).unwrap();
        TokenEnvelope::new(&token, issued, &key(), generation, "writer")
    }

    #[test]
    fn envelopes_are_classified_by_age_key_and_generation() {
        let policy = RefreshPolicy::default().jitter(0.0);
        let issued = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let hour = Duration::from_secs(3600);
        let now = Instant::now() + Duration::from_secs(7200);
        let at = |secs| issued + Duration::from_secs(secs);
        let kind = |shared: Shared| match shared {
            Shared::Fresh(_) => "fresh",
            Shared::Due(_) => "due",
            Shared::Unusable(reason) => reason,
        };
        let e = envelope(issued, hour, 5);
        assert_eq!(kind(classify(Some(&e), &key(), &policy, at(60), now, 0)), "fresh");
        assert_eq!(kind(classify(Some(&e), &key(), &policy, at(2880), now, 0)), "due");
        assert_eq!(
            kind(classify(Some(&e), &key(), &policy, at(3570), now, 0)),
            "shared token is stale"
        );
        assert_eq!(
            kind(classify(Some(&e), &key(), &policy, at(60), now, 6)),
            "shared token generation went backwards"
        );
        assert_eq!(kind(classify(None, &key(), &policy, at(60), now, 0)), "no shared token");
        let other = SourceKey::new("https://idp/t", "car-orders", ["b"], None, []);
        assert_eq!(
            kind(classify(Some(&e), &other, &policy, at(60), now, 0)),
            "shared token is for another client, scope or audience"
        );
        // Issued "in the future" (writer's clock ahead): counted as age zero, still fresh.
        assert_eq!(
            kind(classify(Some(&e), &key(), &policy, issued - Duration::from_secs(5), now, 0)),
            "fresh"
        );
    }
}
