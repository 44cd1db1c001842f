//! The IAM JSON shape, read strictly: unknown members, duplicate members and wrong types are
//! errors, never ignored or overwritten.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::error::{PolicyError, PolicyErrorKind};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPolicy {
    #[serde(rename = "Version")]
    pub(crate) version: Option<String>,
    #[serde(rename = "Id")]
    pub(crate) _id: Option<String>,
    #[serde(rename = "Statement")]
    pub(crate) statement: OneOrMany<RawStatement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStatement {
    #[serde(rename = "Sid")]
    pub(crate) sid: Option<String>,
    #[serde(rename = "Effect")]
    pub(crate) effect: Option<String>,
    #[serde(rename = "Principal")]
    pub(crate) principal: Option<RawPrincipal>,
    #[serde(rename = "NotPrincipal")]
    pub(crate) not_principal: Option<RawPrincipal>,
    #[serde(rename = "Action")]
    pub(crate) action: Option<OneOrMany<String>>,
    #[serde(rename = "NotAction")]
    pub(crate) not_action: Option<OneOrMany<String>>,
    #[serde(rename = "Resource")]
    pub(crate) resource: Option<OneOrMany<String>>,
    #[serde(rename = "NotResource")]
    pub(crate) not_resource: Option<OneOrMany<String>>,
    #[serde(rename = "Condition")]
    pub(crate) condition: Option<UniqueMap<UniqueMap<OneOrMany<Scalar>>>>,
}

/// `"*"` or `{"AWS": ...}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawPrincipal {
    Star(String),
    Map(UniqueMap<OneOrMany<String>>),
}

/// A JSON value or an array of them, as IAM allows for most elements.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub(crate) fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// Condition values: IAM takes strings, and numbers and booleans as their text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Scalar {
    Str(String),
    Bool(bool),
    Num(serde_json::Number),
}

impl Scalar {
    pub(crate) fn into_string(self) -> String {
        match self {
            Self::Str(s) => s,
            Self::Bool(b) => b.to_string(),
            Self::Num(n) => n.to_string(),
        }
    }
}

/// A JSON object kept in document order, refusing a member name given twice: serde's maps
/// would silently keep the last one, and `{"Effect": "Allow", "Effect": "Deny"}` must not
/// quietly mean either.
#[derive(Debug)]
pub(crate) struct UniqueMap<V>(pub(crate) Vec<(String, V)>);

impl<'de, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UniqueVisitor<V>(PhantomData<V>);

        impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueVisitor<V> {
            type Value = UniqueMap<V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries: Vec<(String, V)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if entries.iter().any(|(k, _)| *k == key) {
                        return Err(de::Error::custom(format_args!("duplicate member {key:?}")));
                    }
                    let value = map.next_value()?;
                    entries.push((key, value));
                }
                Ok(UniqueMap(entries))
            }
        }

        deserializer.deserialize_map(UniqueVisitor(PhantomData))
    }
}

/// Parses the document's JSON, mapping serde's error to a [`PolicyError`] with its position.
pub(crate) fn parse(json: &str) -> Result<RawPolicy, PolicyError> {
    serde_json::from_str(json).map_err(|e| {
        let message = e.to_string();
        // serde_json appends " at line L column C"; keep one copy of the position.
        let message = message.split(" at line ").next().unwrap_or(&message);
        PolicyError::new(
            PolicyErrorKind::Json,
            format!("line {}, column {}: {message}", e.line(), e.column()),
        )
    })
}
