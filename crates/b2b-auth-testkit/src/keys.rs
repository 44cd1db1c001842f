//! Fixed test keys (RSA-2048, P-256, Ed25519, and a too-short RSA-1024), committed under
//! `keys/` so that tests are reproducible. Public, hence worthless outside tests.

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::Value;

/// A private test key with its `kid` and algorithm.
#[derive(Clone, Copy, Debug)]
pub struct TestKey {
    kid: &'static str,
    algorithm: Algorithm,
    pem: &'static str,
}

impl TestKey {
    /// RSA-2048 for RS256 (also usable with RS384/512 and PS*).
    pub const RSA: Self = Self {
        kid: "test-rsa",
        algorithm: Algorithm::RS256,
        pem: include_str!("../keys/rsa-2048.pem"),
    };
    /// A second RSA-2048 key, for rotation and wrong-key tests.
    pub const RSA_B: Self = Self {
        kid: "test-rsa-b",
        algorithm: Algorithm::RS256,
        pem: include_str!("../keys/rsa-2048-b.pem"),
    };
    /// P-256 for ES256.
    pub const P256: Self = Self {
        kid: "test-p256",
        algorithm: Algorithm::ES256,
        pem: include_str!("../keys/p256.pem"),
    };
    /// Ed25519 for EdDSA.
    pub const ED25519: Self = Self {
        kid: "test-ed25519",
        algorithm: Algorithm::EdDSA,
        pem: include_str!("../keys/ed25519.pem"),
    };
    /// RSA-1024: too short, for tests that must refuse it.
    pub const RSA_1024_WEAK: Self = Self {
        kid: "test-rsa-1024",
        algorithm: Algorithm::RS256,
        pem: include_str!("../keys/rsa-1024-weak.pem"),
    };

    /// The key id.
    pub fn kid(&self) -> &'static str {
        self.kid
    }

    /// The algorithm it signs with by default.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The PKCS#8 PEM of the private key.
    pub fn private_pem(&self) -> &'static str {
        self.pem
    }

    /// The key as jsonwebtoken's `EncodingKey`.
    ///
    /// # Panics
    /// Never for the keys above (they are checked by this crate's tests).
    pub fn encoding_key(&self) -> EncodingKey {
        let key = match self.algorithm {
            Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(self.pem.as_bytes()),
            Algorithm::EdDSA => EncodingKey::from_ed_pem(self.pem.as_bytes()),
            _ => EncodingKey::from_rsa_pem(self.pem.as_bytes()),
        };
        key.unwrap_or_else(|e| panic!("test key {} does not load: {e}", self.kid))
    }

    /// The public key as a JWK with `kid`, `alg` and `use: sig`.
    ///
    /// # Panics
    /// Never for the keys above.
    pub fn public_jwk(&self) -> Jwk {
        let mut jwk = Jwk::from_encoding_key(&self.encoding_key(), self.algorithm)
            .unwrap_or_else(|e| panic!("test key {} has no public JWK: {e}", self.kid));
        jwk.common.key_id = Some(self.kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(key_algorithm(self.algorithm));
        jwk
    }

    /// The public key as a JSON value, ready to edit for malformed-JWKS tests.
    pub fn public_jwk_json(&self) -> Value {
        serde_json::to_value(self.public_jwk()).unwrap_or_default()
    }

    /// Signs `claims` with this key's algorithm and `kid`.
    ///
    /// # Panics
    /// If `claims` does not serialize.
    pub fn sign(&self, claims: &impl Serialize) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.to_owned());
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` under a header of the caller's making (for `typ`, `crit`, wrong `alg`...).
    ///
    /// # Panics
    /// If the header's algorithm does not fit the key or `claims` does not serialize.
    pub fn sign_with_header(&self, header: &Header, claims: &impl Serialize) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding_key())
            .unwrap_or_else(|e| panic!("signing with test key {} failed: {e}", self.kid))
    }

    /// The key as the issuer's signing key (RSA keys only), keeping this `kid`.
    ///
    /// # Panics
    /// For a non-RSA or too-short key.
    pub fn issuer_signing_key(&self) -> b2b_auth_issuer::SigningKey {
        b2b_auth_issuer::SigningKey::from_rsa_pem(self.pem.as_bytes())
            .unwrap_or_else(|e| panic!("test key {} is not an issuer key: {e}", self.kid))
            .with_kid(self.kid)
    }
}

fn key_algorithm(algorithm: Algorithm) -> KeyAlgorithm {
    match algorithm {
        Algorithm::RS384 => KeyAlgorithm::RS384,
        Algorithm::RS512 => KeyAlgorithm::RS512,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::PS384 => KeyAlgorithm::PS384,
        Algorithm::PS512 => KeyAlgorithm::PS512,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::ES384 => KeyAlgorithm::ES384,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        Algorithm::HS256 => KeyAlgorithm::HS256,
        Algorithm::HS384 => KeyAlgorithm::HS384,
        Algorithm::HS512 => KeyAlgorithm::HS512,
        _ => KeyAlgorithm::RS256,
    }
}

/// A JWKS document (`{"keys":[...]}`) of these keys' public halves.
pub fn jwks(keys: &[TestKey]) -> Value {
    serde_json::json!({ "keys": keys.iter().map(TestKey::public_jwk_json).collect::<Vec<_>>() })
}

/// The header and claims of a JWT exactly as the server wrote them, decoded without verifying
/// anything: for asserting what went into a token, never for trusting it.
///
/// # Panics
/// If `token` is not a compact JWT with JSON header and claims.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let mut decode = |what: &str| -> Value {
        let part = parts.next().unwrap_or_else(|| panic!("JWT without {what}"));
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap_or_else(|e| panic!("JWT {what} is not base64url: {e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("JWT {what} is not JSON: {e}"))
    };
    (decode("header"), decode("claims"))
}
