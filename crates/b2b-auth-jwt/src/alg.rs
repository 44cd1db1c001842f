//! The signature algorithms we accept (RFC 7518 §3, RFC 8037 §3.1) and their aws-lc-rs
//! primitives.

use std::fmt;

use aws_lc_rs::signature::{self, VerificationAlgorithm};

/// An asymmetric JWS signature algorithm. Symmetric (`HS*`) and `none` are deliberately absent:
/// a verifier with a public key set must never accept them.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// RSASSA-PSS with SHA-384.
    PS384,
    /// RSASSA-PSS with SHA-512.
    PS512,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// ECDSA on P-384 with SHA-384.
    ES384,
    /// EdDSA on Ed25519 (RFC 8037).
    EdDSA,
}

/// The kind of key an algorithm needs.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl Algorithm {
    /// Every supported algorithm: the default allowlist.
    pub const ALL: [Algorithm; 9] = [
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::EdDSA,
    ];

    /// The algorithm with this JOSE name (`"RS256"`, `"EdDSA"`, ...); `None` for unknown,
    /// symmetric and `none` names.
    ///
    /// ```
    /// use b2b_auth_jwt::Algorithm;
    /// assert_eq!(Algorithm::from_name("ES256"), Some(Algorithm::ES256));
    /// assert_eq!(Algorithm::from_name("HS256"), None);
    /// assert_eq!(Algorithm::from_name("none"), None);
    /// ```
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }

    pub(crate) fn key_kind(self) -> KeyKind {
        match self {
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                KeyKind::Rsa
            }
            Self::ES256 => KeyKind::P256,
            Self::ES384 => KeyKind::P384,
            Self::EdDSA => KeyKind::Ed25519,
        }
    }

    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The aws-lc-rs primitive. RSA ones accept 2048 to 8192-bit moduli; ECDSA ones take the
    /// fixed-size `R || S` signature of RFC 7518 §3.4, not DER.
    pub(crate) fn primitive(self) -> &'static dyn VerificationAlgorithm {
        match (self, self.rsa_parameters()) {
            (_, Some(rsa)) => rsa,
            (Self::ES256, None) => &signature::ECDSA_P256_SHA256_FIXED,
            (Self::ES384, None) => &signature::ECDSA_P384_SHA384_FIXED,
            (_, None) => &signature::ED25519,
        }
    }

    /// The aws-lc-rs RSA parameters of the RSA algorithms.
    pub(crate) fn rsa_parameters(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Self::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Self::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Self::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Self::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Self::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Self::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Self::ES256 | Self::ES384 | Self::EdDSA => return None,
        })
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of algorithms, as a bit set (the allowlist of a trusted issuer).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct AlgorithmSet(u16);

impl AlgorithmSet {
    pub(crate) fn all() -> Self {
        Self::from_iter(Algorithm::ALL)
    }

    pub(crate) fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl FromIterator<Algorithm> for AlgorithmSet {
    fn from_iter<I: IntoIterator<Item = Algorithm>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |bits, alg| bits | alg.bit()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
        for rejected in ["none", "None", "HS256", "HS384", "HS512", "rs256", "ES512", ""] {
            assert_eq!(Algorithm::from_name(rejected), None, "{rejected}");
        }
    }

    #[test]
    fn sets() {
        let set: AlgorithmSet = [Algorithm::RS256, Algorithm::EdDSA].into_iter().collect();
        assert!(set.contains(Algorithm::RS256) && set.contains(Algorithm::EdDSA));
        assert!(!set.contains(Algorithm::PS256));
        assert!(AlgorithmSet::from_iter([]).is_empty());
        assert!(Algorithm::ALL.iter().all(|a| AlgorithmSet::all().contains(*a)));
    }
}
