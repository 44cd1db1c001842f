//! Signing keys and the published key set, with rotation and retirement.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Serialize;

use crate::error::KeyError;

/// An RSA private key that signs access tokens with RS256, and its public JWK.
///
/// The key id defaults to the key's RFC 7638 thumbprint (SHA-256), so that the same key always
/// gets the same `kid`. `Debug` shows the key id only.
///
/// ```
/// use b2b_auth_issuer::SigningKey;
///
/// let key = SigningKey::generate()?.with_kid("2026-11");
/// assert_eq!(key.kid(), "2026-11");
/// # Ok::<(), b2b_auth_issuer::KeyError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public: Jwk,
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key.
    ///
    /// # Errors
    /// [`KeyError::Generation`] if the system random number generator fails.
    pub fn generate() -> Result<Self, KeyError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyError::Generation)?;
        let pkcs8 = pair.as_der().map_err(|_| KeyError::Generation)?;
        let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref()));
        Self::from_rsa_pem(pem.as_bytes())
    }

    /// Loads an RSA private key from PEM (PKCS#1 `RSA PRIVATE KEY` or PKCS#8 `PRIVATE KEY`).
    ///
    /// # Errors
    /// [`KeyError::Invalid`] if it is not an RSA private key, [`KeyError::TooShort`] below
    /// 2048 bits.
    pub fn from_rsa_pem(pem: &[u8]) -> Result<Self, KeyError> {
        let encoding = EncodingKey::from_rsa_pem(pem).map_err(|_| KeyError::Invalid)?;
        // EncodingKey holds the PKCS#1 DER; parse it once here so that a bad key fails now,
        // not at the first token.
        // aws-lc refuses moduli under 2048 bits ("TooSmall"), which is also our floor.
        KeyPair::from_der(encoding.as_bytes()).map_err(|rejected| {
            if rejected.description_() == "TooSmall" {
                KeyError::TooShort
            } else {
                KeyError::Invalid
            }
        })?;
        let mut public =
            Jwk::from_encoding_key(&encoding, Algorithm::RS256).map_err(|_| KeyError::Invalid)?;
        public.common.public_key_use = Some(PublicKeyUse::Signature);
        public.common.key_algorithm = Some(KeyAlgorithm::RS256);
        let kid = public.thumbprint(ThumbprintHash::SHA256).map_err(|_| KeyError::Invalid)?;
        Ok(Self { encoding, public, kid }.with_kid_unchecked())
    }

    /// Replaces the key id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self.with_kid_unchecked()
    }

    fn with_kid_unchecked(mut self) -> Self {
        self.public.common.key_id = Some(self.kid.clone());
        self
    }

    /// The key id (`kid`) that tokens signed by this key carry.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK (`kty`, `n`, `e`, `kid`, `alg: RS256`, `use: sig`).
    pub fn public_jwk(&self) -> serde_json::Value {
        serde_json::to_value(&self.public).unwrap_or_default()
    }

    pub(crate) fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// A key replaced by a rotation, published until its grace period is over.
#[derive(Clone, Debug)]
struct Retiring {
    key: Arc<SigningKey>,
    retire_at: SystemTime,
}

/// One generation of keys: the signing key, and older keys in their grace period.
#[derive(Debug)]
struct KeySet {
    signer: Arc<SigningKey>,
    retiring: Vec<Retiring>,
}

impl KeySet {
    /// The published keys at `now`, the signing key first.
    fn published(&self, now: SystemTime) -> impl Iterator<Item = &SigningKey> {
        let retiring = self.retiring.iter().filter(move |k| now < k.retire_at).map(|k| &*k.key);
        std::iter::once(&*self.signer).chain(retiring)
    }
}

/// What the JWKS endpoint serves.
#[derive(Serialize)]
pub(crate) struct JwkSet<'a> {
    keys: Vec<&'a Jwk>,
}

/// The signing key and the published keys. Readers take a snapshot without locking; writers
/// (rotation, retirement) are serialized so that two rotations never lose a key.
#[derive(Debug)]
pub(crate) struct KeyRing {
    current: ArcSwap<KeySet>,
    write: Mutex<()>,
}

/// A snapshot of the key ring, valid for one request.
pub(crate) struct KeySnapshot(Arc<KeySet>);

impl KeySnapshot {
    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.0.signer
    }

    pub(crate) fn jwks(&self, now: SystemTime) -> JwkSet<'_> {
        JwkSet { keys: self.0.published(now).map(|key| &key.public).collect() }
    }

    pub(crate) fn published_kids(&self, now: SystemTime) -> Vec<String> {
        self.0.published(now).map(|k| k.kid.clone()).collect()
    }
}

impl KeyRing {
    pub(crate) fn new(key: SigningKey) -> Self {
        let set = KeySet { signer: Arc::new(key), retiring: Vec::new() };
        Self { current: ArcSwap::from_pointee(set), write: Mutex::new(()) }
    }

    pub(crate) fn snapshot(&self) -> KeySnapshot {
        KeySnapshot(self.current.load_full())
    }

    /// Makes `key` the signing key; the previous signing key stays published until
    /// `now + grace`. Keys whose grace period is over are dropped.
    pub(crate) fn rotate(
        &self,
        key: SigningKey,
        now: SystemTime,
        grace: Duration,
    ) -> Result<(), KeyError> {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load();
        if current.published(now).any(|k| k.kid == key.kid) {
            return Err(KeyError::DuplicateKid { kid: key.kid });
        }
        let previous = Retiring { key: current.signer.clone(), retire_at: now + grace };
        let retiring = std::iter::once(previous)
            .chain(current.retiring.iter().cloned())
            .filter(|k| now < k.retire_at)
            .collect();
        self.current.store(Arc::new(KeySet { signer: Arc::new(key), retiring }));
        Ok(())
    }

    /// Unpublishes a key now, before its grace period is over.
    pub(crate) fn retire(&self, kid: &str, now: SystemTime) -> Result<(), KeyError> {
        let _guard = self.write.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load();
        if current.signer.kid == kid {
            return Err(KeyError::ActiveKey { kid: kid.to_owned() });
        }
        if !current.published(now).any(|k| k.kid == kid) {
            return Err(KeyError::UnknownKid { kid: kid.to_owned() });
        }
        let retiring = current
            .retiring
            .iter()
            .filter(|k| k.key.kid != kid && now < k.retire_at)
            .cloned()
            .collect();
        self.current.store(Arc::new(KeySet { signer: current.signer.clone(), retiring }));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    fn key(kid: &str) -> SigningKey {
        SigningKey::from_rsa_pem(include_bytes!("../../b2b-auth-testkit/keys/rsa-2048.pem"))
            .unwrap()
            .with_kid(kid)
    }

    #[test]
    fn kid_defaults_to_the_rfc7638_thumbprint() {
        let pem = include_bytes!("../../b2b-auth-testkit/keys/rsa-2048.pem");
        let a = SigningKey::from_rsa_pem(pem).unwrap();
        let b = SigningKey::from_rsa_pem(pem).unwrap();
        assert_eq!(a.kid(), b.kid());
        assert_eq!(a.kid().len(), 43, "base64url of a SHA-256 digest");
        assert_eq!(a.public_jwk()["kid"], a.kid());
        assert!(a.public_jwk().get("d").is_none(), "no private member");
    }

    #[test]
    fn short_and_non_rsa_keys_are_refused() {
        let weak = include_bytes!("../../b2b-auth-testkit/keys/rsa-1024-weak.pem");
        assert!(matches!(SigningKey::from_rsa_pem(weak), Err(KeyError::TooShort)));
        let ec = include_bytes!("../../b2b-auth-testkit/keys/p256.pem");
        assert!(matches!(SigningKey::from_rsa_pem(ec), Err(KeyError::Invalid)));
        assert!(matches!(SigningKey::from_rsa_pem(b"garbage"), Err(KeyError::Invalid)));
    }

    #[test]
    fn generated_keys_differ() {
        let a = SigningKey::generate().unwrap();
        let b = SigningKey::generate().unwrap();
        assert_ne!(a.kid(), b.kid());
        assert!(!format!("{a:?}").contains("PRIVATE"));
    }

    #[test]
    fn rotation_keeps_the_old_key_for_the_grace_period_only() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ring = KeyRing::new(key("a"));
        ring.rotate(key("b"), t0, Duration::from_secs(60)).unwrap();
        let snap = ring.snapshot();
        assert_eq!(snap.signing_key().kid(), "b");
        assert_eq!(snap.published_kids(t0), ["b", "a"]);
        assert_eq!(snap.published_kids(t0 + Duration::from_secs(59)), ["b", "a"]);
        assert_eq!(snap.published_kids(t0 + Duration::from_secs(60)), ["b"]);

        // A later rotation drops what has expired and starts a grace period for "b".
        let t1 = t0 + Duration::from_secs(61);
        ring.rotate(key("c"), t1, Duration::from_secs(60)).unwrap();
        assert_eq!(ring.snapshot().published_kids(t1), ["c", "b"]);
        assert!(matches!(
            ring.rotate(key("b"), t1, Duration::ZERO),
            Err(KeyError::DuplicateKid { .. })
        ));
    }

    #[test]
    fn retirement_is_immediate_and_refuses_the_signer() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let ring = KeyRing::new(key("a"));
        assert!(matches!(ring.retire("a", t0), Err(KeyError::ActiveKey { .. })));
        ring.rotate(key("b"), t0, Duration::from_secs(3600)).unwrap();
        ring.retire("a", t0).unwrap();
        assert_eq!(ring.snapshot().published_kids(t0), ["b"]);
        assert!(matches!(ring.retire("a", t0), Err(KeyError::UnknownKid { .. })));
    }
}
