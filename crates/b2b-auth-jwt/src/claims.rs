//! The claims of a verified access token: standard fields typed, scopes parsed, the rest on
//! demand.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use crate::error::{VerifyError, VerifyErrorKind};
use crate::jws::Header;
use crate::keyset::is_json_object;
use crate::scope::Scopes;

/// The claims of a verified token. Cheap to clone (shared); put it in request extensions.
///
/// Standard claims are typed; [`Claims::scopes`] is the parsed scope set; any other claim is
/// available through [`Claims::get`], [`Claims::as_map`] or [`Claims::deserialize`].
#[derive(Clone)]
pub struct Claims(Arc<Inner>);

struct Inner {
    raw: RawClaims,
    header: Header,
    payload: Box<[u8]>,
    map: OnceLock<Map<String, Value>>,
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = &self.0.raw;
        f.debug_struct("Claims")
            .field("iss", &raw.iss)
            .field("sub", &raw.sub)
            .field("client_id", &raw.client_id)
            .field("aud", &raw.aud)
            .field("scopes", &raw.scopes)
            .field("exp", &raw.exp)
            .field("kid", &self.0.header.kid())
            .finish_non_exhaustive()
    }
}

fn unix(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

impl Claims {
    pub(crate) fn new(raw: RawClaims, header: Header, payload: Vec<u8>) -> Self {
        Self(Arc::new(Inner { raw, header, payload: payload.into(), map: OnceLock::new() }))
    }

    pub(crate) fn raw(&self) -> &RawClaims {
        &self.0.raw
    }

    /// `iss`: the issuer, one of the trusted ones.
    pub fn issuer(&self) -> &str {
        self.0.raw.iss.as_deref().unwrap_or_default()
    }

    /// `sub`: the subject (for client-credentials tokens, usually the client).
    pub fn subject(&self) -> Option<&str> {
        self.0.raw.sub.as_deref()
    }

    /// The client id, from the issuer's client-id claim (`client_id`, `azp`, `cid`, ...).
    pub fn client_id(&self) -> Option<&str> {
        self.0.raw.client_id.as_deref()
    }

    /// `aud`, as a list (a single string becomes one entry).
    pub fn audience(&self) -> &[String] {
        &self.0.raw.aud
    }

    /// `exp`.
    pub fn expires_at(&self) -> SystemTime {
        unix(self.0.raw.exp.unwrap_or_default())
    }

    /// `nbf`.
    pub fn not_before(&self) -> Option<SystemTime> {
        self.0.raw.nbf.map(unix)
    }

    /// `iat`.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.0.raw.iat.map(unix)
    }

    /// `jti`.
    pub fn jwt_id(&self) -> Option<&str> {
        self.0.raw.jti.as_deref()
    }

    /// Cognito's `token_use` (`access` or `id`).
    pub fn token_use(&self) -> Option<&str> {
        self.0.raw.token_use.as_deref()
    }

    /// The scopes the token grants, from the issuer's scope claims.
    pub fn scopes(&self) -> &Scopes {
        &self.0.raw.scopes
    }

    /// The protected header (`alg`, `kid`, `typ`).
    pub fn header(&self) -> &Header {
        &self.0.header
    }

    /// Every claim as a JSON map (parsed on first use, then kept).
    pub fn as_map(&self) -> &Map<String, Value> {
        self.0.map.get_or_init(|| serde_json::from_slice(&self.0.payload).unwrap_or_default())
    }

    /// One claim by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_map().get(name)
    }

    /// The claims as a type of yours (`#[derive(Deserialize)]`), e.g. for custom claims.
    ///
    /// # Errors
    /// [`VerifyErrorKind::InvalidClaim`] if the payload does not fit `T`.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, VerifyError> {
        serde_json::from_slice(&self.0.payload)
            .map_err(|e| VerifyError::new(VerifyErrorKind::InvalidClaim).with_source(e))
    }
}

/// Which claim names carry the client id and the scopes, per issuer.
#[derive(Clone, Debug)]
pub(crate) struct ClaimNames {
    pub(crate) client_id: Box<str>,
    pub(crate) scopes: Vec<Box<str>>,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self { client_id: "client_id".into(), scopes: vec!["scope".into(), "scp".into()] }
    }
}

/// The claims that verification reads, parsed from the untrusted payload in one pass.
#[derive(Debug, Default)]
pub(crate) struct RawClaims {
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<String>,
    pub(crate) aud: Vec<String>,
    pub(crate) exp: Option<u64>,
    pub(crate) nbf: Option<u64>,
    pub(crate) iat: Option<u64>,
    pub(crate) jti: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) token_use: Option<String>,
    pub(crate) scopes: Scopes,
}

impl RawClaims {
    /// Parses `payload` with the claim names of its issuer. Claims of the wrong JSON type
    /// and repeated claims fail ([`VerifyErrorKind::InvalidClaim`]): never taken as absent.
    pub(crate) fn parse(payload: &[u8], names: &ClaimNames) -> Result<Self, VerifyError> {
        if !is_json_object(payload) {
            return Err(VerifyError::new(VerifyErrorKind::Malformed));
        }
        let mut deserializer = serde_json::Deserializer::from_slice(payload);
        let claims = ClaimsSeed { names }.deserialize(&mut deserializer).and_then(|claims| {
            deserializer.end()?;
            Ok(claims)
        });
        claims.map_err(claims_error)
    }
}

/// Only the `iss` of a claims set (other members skipped without allocating), for choosing
/// among several trusted issuers before the full parse.
pub(crate) fn issuer_of(payload: &[u8]) -> Result<Option<String>, VerifyError> {
    #[derive(Deserialize)]
    struct Iss {
        iss: Option<String>,
    }
    if !is_json_object(payload) {
        return Err(VerifyError::new(VerifyErrorKind::Malformed));
    }
    serde_json::from_slice::<Iss>(payload).map(|p| p.iss).map_err(claims_error)
}

/// A claim of the wrong type is an invalid claim; anything else, a malformed payload.
fn claims_error(e: serde_json::Error) -> VerifyError {
    let kind = if e.is_data() { VerifyErrorKind::InvalidClaim } else { VerifyErrorKind::Malformed };
    VerifyError::new(kind).with_source(e)
}

struct ClaimsSeed<'n> {
    names: &'n ClaimNames,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = RawClaims;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RawClaims, D::Error> {
        deserializer.deserialize_map(self)
    }
}

/// A map key, borrowed from the payload unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

fn set<T, E: de::Error>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom(format_args!("duplicate claim {name}")));
    }
    *slot = Some(value);
    Ok(())
}

impl<'de> Visitor<'de> for ClaimsSeed<'_> {
    type Value = RawClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claims set")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawClaims, A::Error> {
        let mut c = RawClaims::default();
        let mut aud_seen = false;
        let mut scope_seen: Vec<&str> = Vec::new();
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let name = &*name;
            match name {
                "iss" => set(&mut c.iss, name, map.next_value()?)?,
                "sub" => set(&mut c.sub, name, map.next_value()?)?,
                "jti" => set(&mut c.jti, name, map.next_value()?)?,
                "token_use" => set(&mut c.token_use, name, map.next_value()?)?,
                "exp" => set(&mut c.exp, name, map.next_value::<NumericDate>()?.0)?,
                "nbf" => set(&mut c.nbf, name, map.next_value::<NumericDate>()?.0)?,
                "iat" => set(&mut c.iat, name, map.next_value::<NumericDate>()?.0)?,
                "aud" => {
                    if aud_seen {
                        return Err(de::Error::custom(format_args!("duplicate claim {name}")));
                    }
                    aud_seen = true;
                    c.aud = map.next_value::<StringOrList>()?.0;
                }
                _ if name == &*self.names.client_id => {
                    set(&mut c.client_id, name, map.next_value()?)?;
                }
                _ => match self.names.scopes.iter().find(|s| &***s == name) {
                    Some(claim) => {
                        if scope_seen.contains(&&**claim) {
                            return Err(de::Error::custom(format_args!("duplicate claim {name}")));
                        }
                        scope_seen.push(claim);
                        map.next_value_seed(ScopeSeed(&mut c.scopes))?;
                    }
                    None => {
                        map.next_value::<IgnoredAny>()?;
                    }
                },
            }
        }
        Ok(c)
    }
}

/// RFC 7519 §2 NumericDate: a non-negative JSON number of seconds; fractions are cut.
struct NumericDate(u64);

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;
        impl Visitor<'_> for DateVisitor {
            type Value = NumericDate;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-negative number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                u64::try_from(v).map(NumericDate).map_err(|_| E::custom("negative date"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() && v >= 0.0 {
                    // Saturating conversion: huge values become u64::MAX, far in the future.
                    Ok(NumericDate(v as u64))
                } else {
                    Err(E::custom("negative or non-finite date"))
                }
            }
        }
        deserializer.deserialize_any(DateVisitor)
    }
}

/// `aud`: one string or an array of strings.
struct StringOrList(Vec<String>);

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = StringOrList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringOrList, E> {
                Ok(StringOrList(vec![v.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StringOrList, A::Error> {
                let mut list = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    list.push(item);
                }
                Ok(StringOrList(list))
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// A scope claim: a space-separated string or an array of strings, added to the set.
struct ScopeSeed<'s>(&'s mut Scopes);

impl<'de> DeserializeSeed<'de> for ScopeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ScopeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a space-separated string or an array of strings")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.insert_list(v);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(Key(scope)) = seq.next_element::<Key<'de>>()? {
            self.0.insert(&scope);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_issuer_is_read_when_routing() {
        assert_eq!(issuer_of(br#"{"iss":"x","other":[1,{"a":2}]}"#).unwrap().as_deref(), Some("x"));
        assert_eq!(issuer_of(b"{}").unwrap(), None);
        assert_eq!(issuer_of(br#"{"iss":1}"#).unwrap_err().kind(), VerifyErrorKind::InvalidClaim);
        assert_eq!(issuer_of(b"[]").unwrap_err().kind(), VerifyErrorKind::Malformed);
    }

    fn parse(value: Value) -> Result<RawClaims, VerifyErrorKind> {
        parse_with(value, &ClaimNames::default())
    }

    fn parse_with(value: Value, names: &ClaimNames) -> Result<RawClaims, VerifyErrorKind> {
        RawClaims::parse(value.to_string().as_bytes(), names).map_err(|e| e.kind())
    }

    #[test]
    fn cognito_claims_parse() {
        let c = parse(json!({
            "sub": "car-orders", "token_use": "access", "scope": "tires/orders.write tires/orders.read",
            "auth_time": 1, "iss": "https://issuer", "exp": 2_000_000_000u64, "iat": 1_999_996_400u64,
            "version": 2, "jti": "j", "client_id": "car-orders"
        }))
        .unwrap();
        assert_eq!(c.iss.as_deref(), Some("https://issuer"));
        assert_eq!(c.client_id.as_deref(), Some("car-orders"));
        assert_eq!(c.exp, Some(2_000_000_000));
        assert_eq!(
            c.scopes.iter().collect::<Vec<_>>(),
            ["tires/orders.write", "tires/orders.read"]
        );
    }

    #[test]
    fn scope_claims_take_strings_and_arrays() {
        let names = ClaimNames {
            client_id: "azp".into(),
            scopes: vec!["roles".into(), "scp".into(), "scope".into()],
        };
        let c = parse_with(
            json!({"roles": ["Orders.Write"], "scp": "a b", "scope": ["c"], "azp": "app", "client_id": 5}),
            &names,
        )
        .unwrap();
        let mut scopes: Vec<_> = c.scopes.iter().collect();
        scopes.sort_unstable();
        assert_eq!(scopes, ["Orders.Write", "a", "b", "c"]);
        assert_eq!(c.client_id.as_deref(), Some("app"));
        // Not configured as a scope claim: ignored.
        let c = parse(json!({"roles": ["x"], "scope": "a"})).unwrap();
        assert_eq!(c.scopes.iter().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn dates_are_non_negative_numbers() {
        assert_eq!(parse(json!({"exp": 1.9})).unwrap().exp, Some(1));
        assert_eq!(parse(json!({"exp": 1e300})).unwrap().exp, Some(u64::MAX));
        for bad in [json!("1"), json!(-1), json!(-0.5), json!(null), json!(true), json!([1])] {
            assert_eq!(
                parse(json!({"exp": bad})).unwrap_err(),
                VerifyErrorKind::InvalidClaim,
                "{bad}"
            );
        }
    }

    #[test]
    fn wrong_types_and_duplicates_are_refused_not_ignored() {
        for bad in [
            json!({"iss": 1}),
            json!({"iss": null}),
            json!({"aud": 1}),
            json!({"aud": ["a", 1]}),
            json!({"client_id": ["a"]}),
            json!({"token_use": {}}),
            json!({"scope": 1}),
            json!({"scp": [1]}),
        ] {
            assert_eq!(parse(bad.clone()).unwrap_err(), VerifyErrorKind::InvalidClaim, "{bad}");
        }
        for dup in [
            r#"{"iss":"a","iss":"b"}"#,
            r#"{"aud":"a","aud":"b"}"#,
            r#"{"scope":"a","scope":"b"}"#,
            r#"{"exp":1,"exp":2}"#,
        ] {
            let err = RawClaims::parse(dup.as_bytes(), &ClaimNames::default()).unwrap_err();
            assert_eq!(err.kind(), VerifyErrorKind::InvalidClaim, "{dup}");
        }
        for not_object in [&b"[1]"[..], b"\"s\"", b"{", b"{} {}", b"null"] {
            assert!(RawClaims::parse(not_object, &ClaimNames::default()).is_err());
        }
    }

    #[test]
    fn escaped_claim_names_match() {
        let c = RawClaims::parse(br#"{"\u0069ss":"x"}"#, &ClaimNames::default()).unwrap();
        assert_eq!(c.iss.as_deref(), Some("x"));
    }
}
