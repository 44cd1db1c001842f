//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): a short
//! JWT signed with the client's private key stands in for a shared secret.

use std::fmt;
use std::time::{Duration, SystemTime};

use b2b_auth_core::unix_secs;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::error::{ConfigError, TokenError, TokenErrorKind};

/// How long a client assertion is valid: long enough to reach the server, too short to be
/// worth stealing.
pub(crate) const ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// The signature algorithm of a client assertion.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum AssertionAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (an RSA key of 2048 bits or more).
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl AssertionAlgorithm {
    fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    fn jwt(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::PS256 => Algorithm::PS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
}

/// The client's private key for `private_key_jwt`, with its algorithm and optional key id.
/// `Debug` shows the algorithm and key id only.
///
/// ```
/// use b2b_auth_token::{AssertionAlgorithm, PrivateKey};
///
/// # let pem = include_bytes!("../../b2b-auth-testkit/keys/p256.pem");
/// let key = PrivateKey::from_pem(pem, AssertionAlgorithm::ES256)?.kid("car-orders-2026");
/// # Ok::<(), b2b_auth_token::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    key: EncodingKey,
    algorithm: AssertionAlgorithm,
    kid: Option<String>,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

impl PrivateKey {
    /// Loads a PEM private key (PKCS#8, or PKCS#1 for RSA) for `algorithm`.
    ///
    /// # Errors
    /// [`ConfigError::InvalidPrivateKey`] if the key does not load or cannot sign with
    /// `algorithm` (checked by signing once).
    pub fn from_pem(pem: &[u8], algorithm: AssertionAlgorithm) -> Result<Self, ConfigError> {
        let invalid = || ConfigError::InvalidPrivateKey { algorithm: algorithm.name() };
        let key = match algorithm {
            AssertionAlgorithm::RS256 | AssertionAlgorithm::PS256 => EncodingKey::from_rsa_pem(pem),
            AssertionAlgorithm::ES256 => EncodingKey::from_ec_pem(pem),
            AssertionAlgorithm::EdDSA => EncodingKey::from_ed_pem(pem),
        }
        .map_err(|_| invalid())?;
        let key = Self { key, algorithm, kid: None };
        key.sign("probe", "https://probe.invalid/token", SystemTime::UNIX_EPOCH)
            .map_err(|_| invalid())?;
        Ok(key)
    }

    /// Sets the `kid` header, so the server can pick the right registered key. Default: none.
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Signs a fresh assertion: `iss` = `sub` = the client id, `aud` = the token endpoint, a
    /// random `jti`, `exp` one minute after `now`.
    pub(crate) fn sign(
        &self,
        client_id: &str,
        audience: &str,
        now: SystemTime,
    ) -> Result<String, TokenError> {
        let iat = unix_secs(now);
        let claims = AssertionClaims {
            iss: client_id,
            sub: client_id,
            aud: audience,
            jti: uuid::Uuid::new_v4().to_string(),
            iat,
            exp: iat + ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(self.algorithm.jwt());
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| TokenError::new(TokenErrorKind::Signing).with_source(e))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use b2b_auth_testkit::{TestKey, jwt_parts};

    use super::*;

    #[test]
    fn assertions_follow_rfc7523() {
        let key =
            PrivateKey::from_pem(TestKey::P256.private_pem().as_bytes(), AssertionAlgorithm::ES256)
                .unwrap()
                .kid("k1");
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let assertion = key.sign("car-orders", "https://idp/token", now).unwrap();
        let (header, claims) = jwt_parts(&assertion);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
        assert_eq!(claims["iss"], "car-orders");
        assert_eq!(claims["sub"], "car-orders");
        assert_eq!(claims["aud"], "https://idp/token");
        assert_eq!(claims["iat"], 1_800_000_000u64);
        assert_eq!(claims["exp"], 1_800_000_060u64);
        let again = key.sign("car-orders", "https://idp/token", now).unwrap();
        assert_ne!(jwt_parts(&again).1["jti"], claims["jti"], "fresh jti each time");
        assert!(!format!("{key:?}").contains("PRIVATE"));
    }

    #[test]
    fn keys_must_fit_their_algorithm() {
        let rsa = TestKey::RSA.private_pem().as_bytes();
        let ed = TestKey::ED25519.private_pem().as_bytes();
        assert!(PrivateKey::from_pem(rsa, AssertionAlgorithm::RS256).is_ok());
        assert!(PrivateKey::from_pem(rsa, AssertionAlgorithm::PS256).is_ok());
        assert!(PrivateKey::from_pem(ed, AssertionAlgorithm::EdDSA).is_ok());
        for (pem, algorithm) in [
            (rsa, AssertionAlgorithm::ES256),
            (ed, AssertionAlgorithm::RS256),
            (TestKey::RSA_1024_WEAK.private_pem().as_bytes(), AssertionAlgorithm::RS256),
            (b"garbage".as_slice(), AssertionAlgorithm::EdDSA),
        ] {
            assert_eq!(
                PrivateKey::from_pem(pem, algorithm).unwrap_err(),
                ConfigError::InvalidPrivateKey { algorithm: algorithm.name() }
            );
        }
    }
}
