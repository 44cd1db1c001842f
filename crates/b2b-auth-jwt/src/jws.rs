//! The JWS layer (RFC 7515 compact serialization): strict parsing before any crypto, then the
//! signature against a key set. No claim is looked at here.

use std::fmt;
use std::sync::Arc;

use serde::Deserialize;

use crate::alg::{Algorithm, AlgorithmSet};
use crate::error::{VerifyError, VerifyErrorKind};
use crate::keyset::{JwkSet, KeyLookup, MAX_KID_LEN, VerifyingKey, b64, is_json_object};

/// Tokens longer than this are refused unless configured otherwise (bytes). Access tokens of
/// the supported IdPs stay well under 4 KiB.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 16 * 1024;

/// The protected header of a JWS, as far as verification uses it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Header {
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
}

impl Header {
    /// The signature algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The media type of the whole token, e.g. `at+jwt` (RFC 9068) or `JWT`.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The media type of the payload.
    pub fn cty(&self) -> Option<&str> {
        self.cty.as_deref()
    }
}

/// Present as soon as the member is, whatever its value (`null` included).
#[derive(Default)]
struct Present(bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(deserializer).map(|_| Self(true))
    }
}

// `jwk`, `jku`, `x5u`, `x5c` are not even read: keys come from the issuer's JWKS only.
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    alg: Option<std::borrow::Cow<'a, str>>,
    kid: Option<String>,
    typ: Option<String>,
    cty: Option<String>,
    #[serde(default)]
    crit: Present,
}

/// A compact JWS, parsed but not verified: header checked, segments decoded.
///
/// Parsing is strict and happens before any cryptography: a length cap, exactly three
/// segments, canonical unpadded base64url (RFC 7515 §2, §3.1), a JSON object header with a
/// supported asymmetric `alg`, a bounded `kid`, and no `crit` (none is understood, RFC 7515
/// §4.1.11).
///
/// `Debug` shows the header and a short fingerprint, never the token.
pub struct CompactJws<'a> {
    header: Header,
    signing_input: &'a str,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl fmt::Debug for CompactJws<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompactJws")
            .field("header", &self.header)
            .field("fingerprint", &Fingerprint(&self.signature))
            .finish()
    }
}

/// The first bytes of a signature, in hex: enough to tell tokens apart in a log, useless to
/// replay one.
struct Fingerprint<'a>(&'a [u8]);

impl fmt::Debug for Fingerprint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0.iter().take(4) {
            write!(f, "{byte:02x}")?;
        }
        f.write_str("…")
    }
}

fn malformed() -> VerifyError {
    VerifyError::new(VerifyErrorKind::Malformed)
}

impl<'a> CompactJws<'a> {
    /// Parses a compact JWS of at most [`DEFAULT_MAX_TOKEN_LEN`] bytes.
    ///
    /// # Errors
    /// [`VerifyErrorKind::TokenTooLarge`], [`VerifyErrorKind::Malformed`],
    /// [`VerifyErrorKind::InvalidAlgorithm`] (absent, `none`, symmetric or unknown `alg`),
    /// [`VerifyErrorKind::UnsupportedCritical`], [`VerifyErrorKind::InvalidSignature`] for an
    /// empty signature.
    pub fn parse(token: &'a str) -> Result<Self, VerifyError> {
        Self::parse_with_max(token, DEFAULT_MAX_TOKEN_LEN)
    }

    /// As [`CompactJws::parse`], with another length cap.
    ///
    /// # Errors
    /// As [`CompactJws::parse`].
    pub fn parse_with_max(token: &'a str, max_len: usize) -> Result<Self, VerifyError> {
        if token.len() > max_len {
            return Err(VerifyError::new(VerifyErrorKind::TokenTooLarge));
        }
        let mut segments = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (segments.next(), segments.next(), segments.next(), segments.next())
        else {
            return Err(malformed());
        };
        let signing_input = token.get(..header.len() + 1 + payload.len()).ok_or_else(malformed)?;
        let header = parse_header(&b64(header).ok_or_else(malformed)?)?;
        if payload.is_empty() {
            return Err(malformed());
        }
        let payload = b64(payload).ok_or_else(malformed)?;
        if signature.is_empty() {
            return Err(VerifyError::new(VerifyErrorKind::InvalidSignature));
        }
        let signature = b64(signature).ok_or_else(malformed)?;
        Ok(Self { header, signing_input, payload, signature })
    }

    /// The protected header (not yet verified).
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The decoded payload (not yet verified).
    pub(crate) fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The header and decoded payload, once the caller has verified the signature.
    pub(crate) fn into_parts(self) -> (Header, Vec<u8>) {
        (self.header, self.payload)
    }

    /// Verifies the signature with the key of `keys` that the header names, accepting every
    /// supported algorithm, and returns the header and payload.
    ///
    /// # Errors
    /// [`VerifyErrorKind::UnknownKey`] if no key has the header's `kid` (or, without a `kid`,
    /// no single key fits the algorithm), [`VerifyErrorKind::InvalidAlgorithm`] if the key is
    /// of another type or names another `alg`, [`VerifyErrorKind::InvalidSignature`].
    ///
    /// ```
    /// use b2b_auth_jwt::{CompactJws, JwkSet};
    ///
    /// // RFC 8037 appendix A.4: an Ed25519 signature over "Example of Ed25519 signing".
    /// let keys = JwkSet::from_json(br#"{"keys":[{"kty":"OKP","crv":"Ed25519",
    ///     "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#)?;
    /// let jws = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCj\
    ///            P0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
    /// let verified = CompactJws::parse(jws)?.verify(&keys)?;
    /// assert_eq!(verified.payload(), b"Example of Ed25519 signing");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(self, keys: &JwkSet) -> Result<VerifiedJws, VerifyError> {
        let key = self.check_key(keys, AlgorithmSet::all())?;
        self.verify_signature(key)?;
        Ok(VerifiedJws { header: self.header, payload: self.payload })
    }

    /// The key of `keys` that must verify this token.
    pub(crate) fn check_key<'k>(
        &self,
        keys: &'k JwkSet,
        allowed: AlgorithmSet,
    ) -> Result<&'k Arc<VerifyingKey>, VerifyError> {
        if !allowed.contains(self.header.alg) {
            return Err(VerifyError::new(VerifyErrorKind::InvalidAlgorithm));
        }
        keys.find(self.header.kid(), self.header.alg).map_err(|lookup| {
            VerifyError::new(match lookup {
                KeyLookup::Unknown | KeyLookup::Ambiguous => VerifyErrorKind::UnknownKey,
                KeyLookup::AlgorithmMismatch => VerifyErrorKind::InvalidAlgorithm,
            })
        })
    }

    /// Verifies with a key already found by [`CompactJws::check_key`].
    pub(crate) fn verify_signature(&self, key: &VerifyingKey) -> Result<(), VerifyError> {
        let parsed = key.for_alg(self.header.alg).ok_or(VerifyErrorKind::InvalidAlgorithm)?;
        parsed
            .verify_sig(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| VerifyError::new(VerifyErrorKind::InvalidSignature))
    }
}

fn parse_header(json: &[u8]) -> Result<Header, VerifyError> {
    if !is_json_object(json) {
        return Err(malformed());
    }
    let raw: RawHeader<'_> =
        serde_json::from_slice(json).map_err(|e| malformed().with_source(e))?;
    if raw.crit.0 {
        return Err(VerifyError::new(VerifyErrorKind::UnsupportedCritical));
    }
    let alg = raw
        .alg
        .as_deref()
        .and_then(Algorithm::from_name)
        .ok_or(VerifyErrorKind::InvalidAlgorithm)?;
    if raw.kid.as_ref().is_some_and(|kid| kid.len() > MAX_KID_LEN) {
        return Err(malformed());
    }
    Ok(Header { alg, kid: raw.kid, typ: raw.typ, cty: raw.cty })
}

/// A JWS whose signature verified: its header and payload bytes. No claim has been checked.
#[derive(Clone)]
pub struct VerifiedJws {
    header: Header,
    payload: Vec<u8>,
}

impl fmt::Debug for VerifiedJws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedJws")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl VerifiedJws {
    /// The protected header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The payload, owned.
    pub fn into_payload(self) -> Vec<u8> {
        self.payload
    }
}
