//! JWK Sets (RFC 7517) parsed once into ready-to-use aws-lc-rs verifying keys.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::signature::{ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::alg::{Algorithm, KeyKind};
use crate::error::{JwksError, JwksErrorKind};

/// Keys per set unless configured otherwise: real issuers publish two to a dozen.
pub const DEFAULT_MAX_KEYS: usize = 64;
/// RSA moduli shorter than this are refused (NIST SP 800-131A; aws-lc's floor too).
pub const MIN_RSA_BITS: usize = 2048;
const MAX_RSA_BITS: usize = 8192;
/// `kid`s longer than this are refused, in keys and in token headers.
pub(crate) const MAX_KID_LEN: usize = 256;

/// Decodes unpadded base64url, refusing padding, other alphabets and non-zero trailing bits:
/// every value has exactly one accepted spelling.
pub(crate) fn b64(input: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(input).ok()
}

/// Whether `bytes` (after JSON whitespace) open a JSON object. serde's derived `Deserialize`
/// also accepts an array for a struct, which JOSE objects never are.
pub(crate) fn is_json_object(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) == Some(&b'{')
}

/// One public key of a set, parsed for every algorithm it may verify.
pub(crate) struct VerifyingKey {
    kid: Option<Box<str>>,
    kind: KeyKind,
    /// The JWK's own `alg`, when it names one: then only that algorithm is accepted.
    alg: Option<Algorithm>,
    parsed: Vec<(Algorithm, ParsedPublicKey)>,
    /// The key's type and components: equal material means the same key, so a refresh keeps
    /// the parsed key (and the verified-token cache entries that point at it).
    material: Box<[u8]>,
}

impl VerifyingKey {
    pub(crate) fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub(crate) fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The parsed key for `alg`, if this key may verify `alg`.
    pub(crate) fn for_alg(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        self.parsed.iter().find(|(a, _)| *a == alg).map(|(_, key)| key)
    }

    fn same_as(&self, other: &Self) -> bool {
        self.kid == other.kid
            && self.kind == other.kind
            && self.alg == other.alg
            && self.material == other.material
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// A parsed JWK Set: the usable signature-verification keys of an issuer.
///
/// Parsing follows RFC 7517 §5: keys that cannot be used are skipped, not fatal — unknown
/// `kty` or `crv`, `use` other than `sig`, `key_ops` without `verify`, an `alg` that is not a
/// supported asymmetric algorithm or does not fit the key, malformed members. Some keys are
/// refused for safety and also skipped, with a warning: symmetric (`oct`) keys, keys with
/// private members (`d`, `p`, `k`...), RSA keys under 2048 bits, and keys whose `kid` and
/// type repeat another key's (ambiguous). The set as a whole is refused only when it is not
/// a JWK Set at all or holds more keys than allowed.
///
/// ```
/// use b2b_auth_jwt::JwkSet;
///
/// let set = JwkSet::from_json(br#"{"keys":[
///   {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
///   {"kty":"oct","kid":"hmac","k":"c2VjcmV0"}
/// ]}"#)?;
/// assert_eq!(set.len(), 1);
/// assert_eq!(set.skipped(), 1);
/// assert!(set.contains_kid("ed"));
/// # Ok::<(), b2b_auth_jwt::JwksError>(())
/// ```
#[derive(Clone, Default)]
pub struct JwkSet {
    keys: Vec<Arc<VerifyingKey>>,
    skipped: usize,
}

impl fmt::Debug for JwkSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwkSet")
            .field("kids", &self.keys.iter().map(|k| k.kid()).collect::<Vec<_>>())
            .field("skipped", &self.skipped)
            .finish()
    }
}

// Other members are ignored (RFC 7517 §5); a repeated `keys` fails.
#[derive(Deserialize)]
struct RawSet<'a> {
    #[serde(borrow)]
    keys: Vec<&'a RawValue>,
}

// Unknown members are ignored (RFC 7517 §4); duplicate known members fail the key.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
    // Private or symmetric key material: never expected in a published set.
    d: Option<serde::de::IgnoredAny>,
    p: Option<serde::de::IgnoredAny>,
    q: Option<serde::de::IgnoredAny>,
    dp: Option<serde::de::IgnoredAny>,
    dq: Option<serde::de::IgnoredAny>,
    qi: Option<serde::de::IgnoredAny>,
    oth: Option<serde::de::IgnoredAny>,
    k: Option<serde::de::IgnoredAny>,
}

/// Why a key was skipped, for the log.
#[derive(Debug)]
enum Skip {
    Malformed,
    PrivateMaterial,
    Symmetric,
    UnsupportedType,
    NotForSignatures,
    UnsupportedAlgorithm,
    WeakRsa(usize),
    InvalidKey,
    KidTooLong,
    DuplicateKid,
}

impl JwkSet {
    /// Parses a JWK Set document, allowing at most [`DEFAULT_MAX_KEYS`] keys.
    ///
    /// # Errors
    /// [`JwksErrorKind::Malformed`] if the document is not a JSON object with a `keys` array,
    /// [`JwksErrorKind::TooManyKeys`] above the key limit. Unusable keys are skipped, not
    /// errors.
    pub fn from_json(json: &[u8]) -> Result<Self, JwksError> {
        Self::parse(json, DEFAULT_MAX_KEYS, None)
    }

    /// Parses `json`, reusing the already parsed keys of `previous` that did not change.
    pub(crate) fn parse(
        json: &[u8],
        max_keys: usize,
        previous: Option<&JwkSet>,
    ) -> Result<Self, JwksError> {
        if !is_json_object(json) {
            return Err(JwksError::new(JwksErrorKind::Malformed).detail("not a json object"));
        }
        let raw: RawSet<'_> = serde_json::from_slice(json)
            .map_err(|e| JwksError::new(JwksErrorKind::Malformed).with_source(e))?;
        if raw.keys.len() > max_keys {
            return Err(JwksError::new(JwksErrorKind::TooManyKeys)
                .detail(format!("{} keys, at most {max_keys} allowed", raw.keys.len())));
        }
        let mut keys: Vec<Arc<VerifyingKey>> = Vec::with_capacity(raw.keys.len());
        let mut skipped = 0;
        for (index, jwk) in raw.keys.iter().enumerate() {
            match parse_jwk(jwk.get()) {
                Ok(key) => {
                    let reused =
                        previous.and_then(|p| p.keys.iter().find(|old| old.same_as(&key))).cloned();
                    keys.push(reused.unwrap_or_else(|| Arc::new(key)));
                }
                Err(reason) => {
                    skipped += 1;
                    log_skip(index, &reason);
                }
            }
        }
        // Two usable keys with one kid and one type make a token's key ambiguous: use neither.
        let mut unique = Vec::with_capacity(keys.len());
        for key in &keys {
            let same = |other: &&Arc<VerifyingKey>| {
                other.kid() == key.kid() && other.kind() == key.kind() && !Arc::ptr_eq(other, key)
            };
            if key.kid().is_some() && keys.iter().any(|k| same(&k)) {
                skipped += 1;
                tracing::warn!(kid = key.kid(), reason = ?Skip::DuplicateKid, "jwk refused");
            } else {
                unique.push(Arc::clone(key));
            }
        }
        Ok(Self { keys: unique, skipped })
    }

    /// The number of usable keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of keys skipped as unusable or unsafe.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The `kid`s of the usable keys, in document order (`None` for a key without one).
    pub fn kids(&self) -> impl Iterator<Item = Option<&str>> {
        self.keys.iter().map(|k| k.kid())
    }

    /// Whether a usable key has this `kid`.
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid() == Some(kid))
    }

    /// Whether `key` (from an earlier lookup) is still in this set.
    pub(crate) fn holds(&self, key: &Arc<VerifyingKey>) -> bool {
        self.keys.iter().any(|k| Arc::ptr_eq(k, key))
    }

    /// The key that verifies `alg` under `kid`.
    ///
    /// With a `kid`, the key with that `kid` and the algorithm's key type; without one, the
    /// only key of the set that can verify `alg`.
    pub(crate) fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&Arc<VerifyingKey>, KeyLookup> {
        let mut found = None;
        let mut kid_seen = false;
        for key in &self.keys {
            if kid.is_some() && key.kid() != kid {
                continue;
            }
            kid_seen = true;
            if key.kind() != alg.key_kind() {
                continue;
            }
            if found.is_some() {
                return Err(KeyLookup::Ambiguous);
            }
            found = Some(key);
        }
        match found {
            Some(key) if key.for_alg(alg).is_some() => Ok(key),
            Some(_) => Err(KeyLookup::AlgorithmMismatch),
            None if kid.is_some() && kid_seen => Err(KeyLookup::AlgorithmMismatch),
            None => Err(KeyLookup::Unknown),
        }
    }
}

/// Why [`JwkSet::find`] found no key.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum KeyLookup {
    /// No key with this `kid` (or, without a `kid`, none for the algorithm).
    Unknown,
    /// No `kid`, and several keys could verify the algorithm.
    Ambiguous,
    /// The key with this `kid` is of another type, or its own `alg` differs.
    AlgorithmMismatch,
}

fn log_skip(index: usize, reason: &Skip) {
    match reason {
        Skip::WeakRsa(bits) => tracing::warn!(index, bits, "jwk refused: rsa key too short"),
        Skip::PrivateMaterial | Skip::Symmetric => tracing::warn!(index, ?reason, "jwk refused"),
        _ => tracing::debug!(index, ?reason, "jwk skipped"),
    }
}

fn parse_jwk(json: &str) -> Result<VerifyingKey, Skip> {
    if !is_json_object(json.as_bytes()) {
        return Err(Skip::Malformed);
    }
    let jwk: RawJwk = serde_json::from_str(json).map_err(|_| Skip::Malformed)?;
    if jwk.kty == "oct" || jwk.k.is_some() {
        return Err(Skip::Symmetric);
    }
    let private = [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi, &jwk.oth];
    if private.iter().any(|member| member.is_some()) {
        return Err(Skip::PrivateMaterial);
    }
    if jwk.kid.as_ref().is_some_and(|kid| kid.len() > MAX_KID_LEN) {
        return Err(Skip::KidTooLong);
    }
    if jwk.use_.as_ref().is_some_and(|u| u != "sig")
        || jwk.key_ops.as_ref().is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return Err(Skip::NotForSignatures);
    }
    let alg = match &jwk.alg {
        None => None,
        Some(name) => Some(Algorithm::from_name(name).ok_or(Skip::UnsupportedAlgorithm)?),
    };
    let component = |value: &Option<String>| value.as_deref().and_then(b64).ok_or(Skip::Malformed);
    let (kind, material, parsed) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("RSA", _) => {
            let (n, e) = (component(&jwk.n)?, component(&jwk.e)?);
            rsa_key(&n, &e, alg)?
        }
        ("EC", Some(crv @ ("P-256" | "P-384"))) => {
            let (algorithm, len) =
                if crv == "P-256" { (Algorithm::ES256, 32) } else { (Algorithm::ES384, 48) };
            let (x, y) = (component(&jwk.x)?, component(&jwk.y)?);
            if x.len() != len || y.len() != len {
                return Err(Skip::InvalidKey);
            }
            let point: Vec<u8> = [&[0x04][..], &x, &y].concat();
            single_key(algorithm, alg, point)?
        }
        ("OKP", Some("Ed25519")) => {
            let x = component(&jwk.x)?;
            if x.len() != 32 {
                return Err(Skip::InvalidKey);
            }
            single_key(Algorithm::EdDSA, alg, x)?
        }
        _ => return Err(Skip::UnsupportedType),
    };
    Ok(VerifyingKey { kid: jwk.kid.map(String::into_boxed_str), kind, alg, parsed, material })
}

type Parsed = (KeyKind, Box<[u8]>, Vec<(Algorithm, ParsedPublicKey)>);

/// An EC or OKP key: one algorithm per curve, `algorithm`; `alg` must be it when present.
fn single_key(
    algorithm: Algorithm,
    alg: Option<Algorithm>,
    bytes: Vec<u8>,
) -> Result<Parsed, Skip> {
    if alg.is_some_and(|a| a != algorithm) {
        return Err(Skip::UnsupportedAlgorithm);
    }
    let parsed =
        ParsedPublicKey::new(algorithm.primitive(), &bytes).map_err(|_| Skip::InvalidKey)?;
    Ok((algorithm.key_kind(), bytes.into_boxed_slice(), vec![(algorithm, parsed)]))
}

/// An RSA key, parsed for its own `alg` or, without one, for every RSA algorithm.
fn rsa_key(n: &[u8], e: &[u8], alg: Option<Algorithm>) -> Result<Parsed, Skip> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let bits = n.first().map_or(0, |top| (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize));
    if bits < MIN_RSA_BITS {
        return Err(Skip::WeakRsa(bits));
    }
    if bits > MAX_RSA_BITS {
        return Err(Skip::InvalidKey);
    }
    let algorithms: Vec<Algorithm> = match alg {
        Some(alg) if alg.key_kind() == KeyKind::Rsa => vec![alg],
        Some(_) => return Err(Skip::UnsupportedAlgorithm),
        None => Algorithm::ALL.into_iter().filter(|a| a.key_kind() == KeyKind::Rsa).collect(),
    };
    let components = RsaPublicKeyComponents { n, e };
    let mut parsed = Vec::with_capacity(algorithms.len());
    for algorithm in algorithms {
        let params = algorithm.rsa_parameters().ok_or(Skip::UnsupportedAlgorithm)?;
        let key = components.to_parsed_public_key(params).map_err(|_| Skip::InvalidKey)?;
        parsed.push((algorithm, key));
    }
    let material = [n, b"|", e].concat().into_boxed_slice();
    Ok((KeyKind::Rsa, material, parsed))
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use b2b_auth_testkit::{TestKey, jwks};
    use serde_json::json;

    fn parse(value: serde_json::Value) -> Result<JwkSet, JwksError> {
        JwkSet::from_json(value.to_string().as_bytes())
    }

    #[test]
    fn test_keys_parse_for_their_algorithms() {
        let set = parse(jwks(&[TestKey::RSA, TestKey::P256, TestKey::ED25519])).unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.skipped(), 0);
        assert!(set.find(Some("test-rsa"), Algorithm::RS256).is_ok());
        // The test JWKs carry alg, so PS256 does not fit the RS256 key.
        assert_eq!(
            set.find(Some("test-rsa"), Algorithm::PS256).unwrap_err(),
            KeyLookup::AlgorithmMismatch
        );
        assert_eq!(
            set.find(Some("test-rsa"), Algorithm::ES256).unwrap_err(),
            KeyLookup::AlgorithmMismatch
        );
        assert!(set.find(Some("test-p256"), Algorithm::ES256).is_ok());
        assert!(set.find(Some("test-ed25519"), Algorithm::EdDSA).is_ok());
        assert_eq!(set.find(Some("nope"), Algorithm::RS256).unwrap_err(), KeyLookup::Unknown);
        // No kid: the only key that fits.
        assert!(set.find(None, Algorithm::EdDSA).is_ok());
    }

    #[test]
    fn rsa_without_alg_serves_every_rsa_algorithm() {
        let mut jwk = TestKey::RSA.public_jwk_json();
        jwk.as_object_mut().unwrap().remove("alg");
        let set = parse(json!({ "keys": [jwk] })).unwrap();
        let key = set.find(Some("test-rsa"), Algorithm::PS512).unwrap();
        assert!(key.for_alg(Algorithm::RS384).is_some());
    }

    #[test]
    fn unsafe_and_unusable_keys_are_skipped_not_fatal() {
        let good = TestKey::RSA.public_jwk_json();
        let with = |patch: serde_json::Value| {
            let mut jwk = TestKey::P256.public_jwk_json();
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    jwk.as_object_mut().unwrap().remove(k);
                } else {
                    jwk[k] = v.clone();
                }
            }
            jwk
        };
        let bad = [
            json!({"kty": "oct", "kid": "h", "k": "c2VjcmV0"}),
            with(json!({"d": "AAAA"})),
            with(json!({"use": "enc"})),
            with(json!({"key_ops": ["encrypt"]})),
            with(json!({"alg": "HS256"})),
            with(json!({"alg": "RS256"})),
            with(json!({"crv": "P-521"})),
            with(json!({"x": "AAAA"})),
            with(json!({"x": 5})),
            with(json!({"y": null})),
            with(json!({"kid": "k".repeat(300)})),
            // 1024 and 2047 bits: under the floor, whatever aws-lc would say.
            json!({"kty": "RSA", "kid": "weak", "n": URL_SAFE_NO_PAD.encode([0xc1; 128]), "e": "AQAB"}),
            json!({"kty": "RSA", "kid": "2047", "n": URL_SAFE_NO_PAD.encode([0x7f; 256]), "e": "AQAB"}),
            json!({"kty": "OKP", "crv": "X25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}),
            json!({"kty": "foo"}),
            json!([1, 2]),
            json!("text"),
        ];
        let count = bad.len();
        let mut keys = vec![good];
        keys.extend(bad);
        let set = parse(json!({ "keys": keys })).unwrap();
        assert_eq!(set.kids().collect::<Vec<_>>(), [Some("test-rsa")]);
        assert_eq!(set.skipped(), count);
    }

    #[test]
    fn padded_or_non_canonical_base64_is_refused() {
        let mut padded = TestKey::ED25519.public_jwk_json();
        padded["x"] = json!(format!("{}=", padded["x"].as_str().unwrap()));
        let set = parse(json!({ "keys": [padded] })).unwrap();
        assert!(set.is_empty());
        assert!(b64("QQ").is_some());
        assert!(b64("QR").is_none(), "stray bits");
        assert!(b64("QQ==").is_none(), "padding");
        assert!(b64("a+b/").is_none(), "standard alphabet");
    }

    #[test]
    fn duplicate_kids_of_one_type_are_dropped() {
        let a = TestKey::RSA.public_jwk_json();
        let mut b = TestKey::RSA_B.public_jwk_json();
        b["kid"] = a["kid"].clone();
        let mut ed = TestKey::ED25519.public_jwk_json();
        ed["kid"] = a["kid"].clone(); // another type under the same kid is allowed
        let set = parse(json!({ "keys": [a, b, ed] })).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.skipped(), 2);
        assert!(set.find(Some("test-rsa"), Algorithm::EdDSA).is_ok());
        assert_eq!(
            set.find(Some("test-rsa"), Algorithm::RS256).unwrap_err(),
            KeyLookup::AlgorithmMismatch
        );
    }

    #[test]
    fn documents_that_are_not_jwk_sets_fail() {
        for doc in [
            &b"[]"[..],
            b"{}",
            b"{\"keys\":{}}",
            b"{\"keys\":[],\"keys\":[]}",
            b"{\"keys\":[]} x",
            b"null",
            b"",
            b"\xff",
        ] {
            assert_eq!(JwkSet::from_json(doc).unwrap_err().kind(), JwksErrorKind::Malformed);
        }
        let many = json!({ "keys": vec![json!({"kty":"foo"}); DEFAULT_MAX_KEYS + 1] });
        assert_eq!(parse(many).unwrap_err().kind(), JwksErrorKind::TooManyKeys);
        assert!(
            parse(json!({"keys": [], "other": 1})).unwrap().is_empty(),
            "other members ignored"
        );
    }

    #[test]
    fn unchanged_keys_are_reused_across_generations() {
        let doc = jwks(&[TestKey::RSA, TestKey::P256]).to_string();
        let first = JwkSet::from_json(doc.as_bytes()).unwrap();
        let doc2 = jwks(&[TestKey::P256, TestKey::RSA_B]).to_string();
        let second = JwkSet::parse(doc2.as_bytes(), 10, Some(&first)).unwrap();
        let p256 = first.find(Some("test-p256"), Algorithm::ES256).unwrap();
        assert!(second.holds(p256));
        assert!(!second.holds(first.find(Some("test-rsa"), Algorithm::RS256).unwrap()));
    }
}
