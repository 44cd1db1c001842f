//! Verifying `private_key_jwt` client assertions (RFC 7523 §3, OpenID Connect Core §9).

use std::time::SystemTime;

use b2b_auth_core::unix_secs;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

/// Clock skew tolerated on `exp` and `iat`.
const LEEWAY_SECS: u64 = 30;
/// Longest an assertion may still be valid: a long-lived assertion is a password in disguise.
const MAX_LIFETIME_SECS: u64 = 300;

/// A client's registered public key and the algorithms it may sign with.
#[derive(Clone)]
pub(crate) struct AssertionKey {
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

impl std::fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionKey").field("algorithms", &self.algorithms).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    exp: u64,
    #[serde(default)]
    iat: Option<u64>,
    #[serde(default)]
    jti: Option<String>,
}

/// What a valid assertion carries for replay protection.
pub(crate) struct Verified {
    pub(crate) jti: String,
    pub(crate) exp: u64,
}

impl AssertionKey {
    /// Accepts a public RSA, EC P-256 or Ed25519 JWK; never symmetric keys or private material.
    pub(crate) fn from_jwk(jwk: &serde_json::Value) -> Result<Self, &'static str> {
        if ["d", "p", "q", "k"].iter().any(|member| jwk.get(member).is_some()) {
            return Err("holds private or symmetric key material");
        }
        let jwk: Jwk = serde_json::from_value(jwk.clone()).map_err(|_| "not a JWK")?;
        let mut algorithms = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => vec![Algorithm::RS256, Algorithm::PS256],
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                vec![Algorithm::ES256]
            }
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                vec![Algorithm::EdDSA]
            }
            _ => return Err("only RSA, EC P-256 and Ed25519 keys are supported"),
        };
        if let Some(alg) = jwk.common.key_algorithm {
            let pinned = match alg {
                KeyAlgorithm::RS256 => Algorithm::RS256,
                KeyAlgorithm::PS256 => Algorithm::PS256,
                KeyAlgorithm::ES256 => Algorithm::ES256,
                KeyAlgorithm::EdDSA => Algorithm::EdDSA,
                _ => return Err("alg does not fit the key"),
            };
            if !algorithms.contains(&pinned) {
                return Err("alg does not fit the key");
            }
            algorithms = vec![pinned];
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| "unusable key")?;
        Ok(Self { key, algorithms })
    }

    /// Checks signature, `iss` = `sub` = the client, `aud` one of `audiences`, `exp` in the
    /// near future, `iat` not in the future, and a `jti`.
    pub(crate) fn verify(
        &self,
        assertion: &str,
        client_id: &str,
        audiences: &[String],
        now: SystemTime,
    ) -> Result<Verified, &'static str> {
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| "malformed assertion")?;
        if !self.algorithms.contains(&header.alg) {
            return Err("algorithm not allowed for this key");
        }
        let mut validation = Validation::new(header.alg);
        // Time is checked below against the issuer's clock, not the system's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.set_issuer(&[client_id]);
        validation.sub = Some(client_id.to_owned());
        validation.set_audience(audiences);
        let claims = jsonwebtoken::decode::<Claims>(assertion, &self.key, &validation)
            .map_err(|_| "invalid signature or claims")?
            .claims;
        let now = unix_secs(now);
        if claims.exp + LEEWAY_SECS <= now {
            return Err("assertion expired");
        }
        if claims.exp > now + MAX_LIFETIME_SECS + LEEWAY_SECS {
            return Err("assertion valid for too long");
        }
        if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECS) {
            return Err("assertion issued in the future");
        }
        let jti = claims.jti.filter(|j| !j.is_empty()).ok_or("assertion without jti")?;
        Ok(Verified { jti, exp: claims.exp })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use b2b_auth_testkit::TestKey;
    use jsonwebtoken::Header;
    use serde_json::json;

    use super::*;

    #[test]
    fn an_rsa_key_without_alg_accepts_rs256_and_ps256() {
        let mut jwk = TestKey::RSA.public_jwk_json();
        jwk.as_object_mut().unwrap().remove("alg");
        let key = AssertionKey::from_jwk(&jwk).unwrap();
        let claims = json!({ "iss": "c", "sub": "c", "aud": "a", "iat": 1_000_000, "exp": 1_000_060, "jti": "j" });
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        for alg in [Algorithm::RS256, Algorithm::PS256] {
            let mut header = Header::new(alg);
            header.kid = Some("k".into());
            let assertion = TestKey::RSA.sign_with_header(&header, &claims);
            let verified = key.verify(&assertion, "c", &["a".to_owned()], now);
            assert_eq!(verified.err(), None, "{alg:?}");
        }
    }
}
