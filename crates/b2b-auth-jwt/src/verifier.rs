//! The JWT verifier: routes a token to its trusted issuer, verifies it, checks its claims,
//! and remembers tokens it verified.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use b2b_auth_core::{Clock, SystemClock, unix_secs};
use moka::Expiry;

use crate::claims::{Claims, RawClaims, issuer_of};
use crate::error::{ConfigError, JwksError, VerifyError, VerifyErrorKind};
use crate::issuer::TrustedIssuer;
use crate::jws::{CompactJws, DEFAULT_MAX_TOKEN_LEN};
use crate::keyset::VerifyingKey;
use crate::scope::ScopePolicy;

const DEFAULT_CACHE_CAPACITY: u64 = 10_000;

/// Verifies access tokens of one or more trusted issuers. Cheap to clone (shared state).
///
/// For each token: strict compact parsing (size cap first), routing by exact `iss` to a
/// [`TrustedIssuer`], the key from that issuer's JWKS only (keys are bound to their issuer),
/// the signature, then the claims — `exp` required, `nbf`/`iat` with leeway, audience or
/// client id, `token_use`, `typ` as configured.
///
/// Tokens that verified are kept in a bounded cache (default 10,000 tokens), keyed by the
/// whole token: an entry lives no longer than the token, is dropped when its key leaves the
/// issuer's JWKS, and the time, audience and scope checks run again on every hit.
///
/// ```no_run
/// use b2b_auth_jwt::{ScopePolicy, TrustedIssuer, Verifier};
///
/// # async fn run(token: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = Verifier::builder()
///     .issuer(TrustedIssuer::cognito("eu-west-1", "eu-west-1_AbCdEf123").client_ids(["car-orders"]).build()?)
///     .build()?;
/// let write = ScopePolicy::all(["tires/orders.write"]);
/// let claims = verifier.verify_for(token, &write).await?;
/// println!("call from {:?}", claims.client_id());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuers: Vec<TrustedIssuer>,
    clock: Arc<dyn Clock>,
    max_token_len: usize,
    cache: Option<moka::sync::Cache<Box<str>, Entry>>,
}

#[derive(Clone)]
struct Entry {
    claims: Claims,
    issuer: usize,
    key: Arc<VerifyingKey>,
    lifetime: Duration,
}

/// Cache entries expire with their token.
struct ExpireWithToken;

impl Expiry<Box<str>, Entry> for ExpireWithToken {
    fn expire_after_create(
        &self,
        _token: &Box<str>,
        entry: &Entry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(entry.lifetime)
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.inner.issuers)
            .field("max_token_len", &self.inner.max_token_len)
            .field("cache", &self.inner.cache.as_ref().map(|c| c.entry_count()))
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Starts configuring a verifier.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder {
            issuers: Vec::new(),
            clock: Arc::new(SystemClock),
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
        }
    }

    /// The trusted issuers.
    pub fn issuers(&self) -> &[TrustedIssuer] {
        &self.inner.issuers
    }

    /// Verifies `token` (the compact JWT, without `Bearer `) and returns its claims.
    ///
    /// # Errors
    /// A [`VerifyError`] whose [`kind`](VerifyError::kind) says why; its
    /// [`bearer_error`](VerifyError::bearer_error) is the RFC 6750 answer.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let result = self.verify_token(token).await;
        if let Err(error) = &result {
            // Per rejection at debug only: an attacker must not be able to flood the logs.
            tracing::debug!(kind = ?error.kind(), "token rejected");
        }
        result
    }

    /// Verifies `token` and checks its scopes against `policy`.
    ///
    /// # Errors
    /// As [`Verifier::verify`], and [`VerifyErrorKind::InsufficientScope`] with the failed
    /// requirement in [`VerifyError::scope_denied`].
    pub async fn verify_for(
        &self,
        token: &str,
        policy: &ScopePolicy,
    ) -> Result<Claims, VerifyError> {
        let claims = self.verify(token).await?;
        if let Err(denied) = policy.check(claims.scopes()) {
            tracing::debug!(%denied, "token lacks scope");
            return Err(denied.into());
        }
        Ok(claims)
    }

    /// Fetches every issuer's keys now (warm start), concurrently.
    ///
    /// # Errors
    /// The first issuer's fetch error; the other issuers were fetched all the same.
    pub async fn hydrate(&self) -> Result<(), JwksError> {
        let mut tasks = tokio::task::JoinSet::new();
        for issuer in &self.inner.issuers {
            let jwks = issuer.jwks.clone();
            tasks.spawn(async move { jwks.hydrate().await });
        }
        let mut first = Ok(());
        while let Some(result) = tasks.join_next().await {
            if let (Ok(()), Ok(Err(error))) = (&first, result) {
                first = Err(error);
            }
        }
        first
    }

    async fn verify_token(&self, token: &str) -> Result<Claims, VerifyError> {
        // Before the cache: hashing an oversized token would be work done for an attacker.
        if token.len() > self.inner.max_token_len {
            return Err(VerifyError::new(VerifyErrorKind::TokenTooLarge));
        }
        let now = unix_secs(self.inner.clock.now());
        if let Some(claims) = self.cached(token, now) {
            return claims;
        }
        let jws = CompactJws::parse_with_max(token, self.inner.max_token_len)?;
        let (index, issuer) = self.route(jws.payload())?;
        let raw = RawClaims::parse(jws.payload(), &issuer.names)?;
        if raw.iss.as_deref() != Some(issuer.issuer.as_str()) {
            return Err(VerifyError::new(VerifyErrorKind::UntrustedIssuer));
        }
        let key = issuer.jwks.key_for(&jws, issuer.algorithms).await?;
        jws.verify_signature(&key)?;
        issuer.check(&raw, jws.header(), now)?;
        let lifetime = raw.exp.map_or(0, |exp| exp.saturating_sub(now));
        let (header, payload) = jws.into_parts();
        let claims = Claims::new(raw, header, payload);
        if let Some(cache) = &self.inner.cache
            && lifetime > 0
        {
            let entry = Entry {
                claims: claims.clone(),
                issuer: index,
                key,
                lifetime: Duration::from_secs(lifetime),
            };
            cache.insert(token.into(), entry);
        }
        Ok(claims)
    }

    /// A cache hit, re-checked: `None` if the token is not cached or its key is gone.
    fn cached(&self, token: &str, now: u64) -> Option<Result<Claims, VerifyError>> {
        let cache = self.inner.cache.as_ref()?;
        let entry = cache.get(token)?;
        let issuer = self.inner.issuers.get(entry.issuer)?;
        if !issuer.jwks.holds(&entry.key) {
            cache.invalidate(token);
            return None;
        }
        let claims = entry.claims;
        Some(issuer.check(claims.raw(), claims.header(), now).map(|()| claims))
    }

    /// The trusted issuer a payload names. One issuer: that one (its `iss` is checked after
    /// parsing); several: a quick scan for `iss` first, since each issuer may read its claims
    /// under other names.
    fn route(&self, payload: &[u8]) -> Result<(usize, &TrustedIssuer), VerifyError> {
        let untrusted = || VerifyError::new(VerifyErrorKind::UntrustedIssuer);
        match self.inner.issuers.as_slice() {
            [only] => Ok((0, only)),
            issuers => {
                let iss = issuer_of(payload)?.ok_or_else(untrusted)?;
                issuers.iter().enumerate().find(|(_, i)| i.issuer == iss).ok_or_else(untrusted)
            }
        }
    }
}

/// Configures a [`Verifier`].
#[derive(Debug)]
pub struct VerifierBuilder {
    issuers: Vec<TrustedIssuer>,
    clock: Arc<dyn Clock>,
    max_token_len: usize,
    cache_capacity: u64,
}

impl VerifierBuilder {
    /// Trusts an issuer (call once per issuer). At least one is required.
    pub fn issuer(mut self, issuer: TrustedIssuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// The wall clock for `exp`, `nbf` and `iat`. Default: [`SystemClock`].
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The longest token accepted, in bytes; longer ones are refused before any parsing.
    /// Default: 16 KiB ([`DEFAULT_MAX_TOKEN_LEN`]).
    pub fn max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// How many verified tokens to remember; `0` turns the cache off. Default: 10,000.
    pub fn cache_capacity(mut self, tokens: u64) -> Self {
        self.cache_capacity = tokens;
        self
    }

    /// Checks the configuration and builds the verifier. Nothing is fetched yet: keys are
    /// fetched on the first token, or by [`Verifier::hydrate`].
    ///
    /// # Errors
    /// [`ConfigError::NoIssuer`], [`ConfigError::DuplicateIssuer`],
    /// [`ConfigError::InvalidSetting`] for a zero token length.
    pub fn build(self) -> Result<Verifier, ConfigError> {
        if self.issuers.is_empty() {
            return Err(ConfigError::NoIssuer);
        }
        for (i, issuer) in self.issuers.iter().enumerate() {
            if self.issuers.iter().skip(i + 1).any(|other| other.issuer == issuer.issuer) {
                return Err(ConfigError::DuplicateIssuer(issuer.issuer.clone()));
            }
        }
        if self.max_token_len == 0 {
            return Err(ConfigError::InvalidSetting {
                name: "max_token_len",
                reason: "must be positive",
            });
        }
        let cache = (self.cache_capacity > 0).then(|| {
            moka::sync::Cache::builder()
                .max_capacity(self.cache_capacity)
                .expire_after(ExpireWithToken)
                .build()
        });
        Ok(Verifier {
            inner: Arc::new(Inner {
                issuers: self.issuers,
                clock: self.clock,
                max_token_len: self.max_token_len,
                cache,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyset::JwkSet;

    fn verifier() -> Verifier {
        let issuer = TrustedIssuer::builder("https://issuer.example")
            .static_keys(JwkSet::default())
            .any_audience()
            .build()
            .unwrap();
        Verifier::builder().issuer(issuer).build().unwrap()
    }

    #[test]
    fn futures_are_send_for_any_tower_server() {
        fn send<T: Send>(_: &T) {}
        let verifier = verifier();
        send(&verifier.verify("a.b.c"));
        send(&verifier.verify_for("a.b.c", &ScopePolicy::allow_all()));
        send(&verifier.hydrate());
    }

    #[test]
    fn without_a_tokio_runtime_keys_are_unavailable_not_a_panic() {
        use std::future::Future as _;
        let issuer = TrustedIssuer::builder("https://issuer.example")
            .jwks_uri("https://issuer.example/jwks")
            .any_audience()
            .build()
            .unwrap();
        let verifier = Verifier::builder().issuer(issuer).build().unwrap();
        let token =
            "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIn0.AAAA";
        let mut future = std::pin::pin!(verifier.verify(token));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(Err(error)) = future.as_mut().poll(&mut context) else {
            panic!("expected an immediate error");
        };
        assert_eq!(error.kind(), VerifyErrorKind::JwksUnavailable);
        assert_eq!(error.bearer_error().status(), 503);
    }

    #[test]
    fn builder_refuses_empty_and_zero_settings() {
        assert!(matches!(Verifier::builder().build(), Err(ConfigError::NoIssuer)));
        let issuer = verifier().issuers().first().cloned().unwrap();
        assert!(matches!(
            Verifier::builder().issuer(issuer).max_token_len(0).build(),
            Err(ConfigError::InvalidSetting { name: "max_token_len", .. })
        ));
    }
}
