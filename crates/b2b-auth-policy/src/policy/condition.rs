//! `Condition` operators, compiled once: strings, numbers, dates, booleans, `Null` and IP
//! ranges, with `...IfExists` and the `ForAnyValue:` / `ForAllValues:` set qualifiers.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::decision::ConditionRef;
use crate::error::{PolicyError, PolicyErrorKind};
use crate::glob::glob_match;
use crate::ipset::{CidrDialect, IpSet, IpSetWarning};
use crate::policy::RequestContext;

const SOURCE_IP: &str = "aws:sourceip";
const CURRENT_TIME: &str = "aws:currenttime";
const EPOCH_TIME: &str = "aws:epochtime";

/// A set qualifier: how a multivalued request key is compared.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum SetQualifier {
    /// `ForAnyValue:` — at least one request value satisfies the operator; false when absent.
    AnyValue,
    /// `ForAllValues:` — every request value satisfies it; true when absent or empty.
    AllValues,
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, request: T, policy: T) -> bool {
        match self {
            Self::Eq => request == policy,
            Self::Lt => request < policy,
            Self::Le => request <= policy,
            Self::Gt => request > policy,
            Self::Ge => request >= policy,
        }
    }
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum StrHow {
    Equals,
    EqualsIgnoreCase,
    Like,
}

#[derive(Clone, Debug)]
enum Test {
    Str { how: StrHow, values: Vec<String> },
    Num { cmp: Cmp, values: Vec<f64> },
    Date { cmp: Cmp, values: Vec<i128> },
    Bool { values: Vec<bool> },
    Ip { set: IpSet },
    Null { absent: bool },
}

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Key {
    SourceIp,
    CurrentTime,
    EpochTime,
    Context,
}

/// One operator applied to one key: `"IpAddress": {"aws:SourceIp": [...]}`.
#[derive(Clone, Debug)]
pub(crate) struct Condition {
    written: ConditionRef,
    /// The key, lowercased: condition keys are case-insensitive.
    key_name: String,
    key: Key,
    set: Option<SetQualifier>,
    if_exists: bool,
    negated: bool,
    test: Test,
}

/// A request value, typed as far as the key's source knows.
#[derive(Clone, Copy, Debug)]
enum Value<'a> {
    Str(&'a str),
    Ip(IpAddr),
    /// Nanoseconds since the Unix epoch.
    Time(i128),
}

/// The result of one condition: whether it holds, and the network that matched, for IP tests.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outcome {
    pub(crate) holds: bool,
    pub(crate) cidr: Option<IpNet>,
}

/// The time, read from the clock at most once per evaluation and only when a condition asks.
pub(crate) struct Now<'c> {
    clock: &'c dyn b2b_auth_core::Clock,
    read: Option<i128>,
}

impl<'c> Now<'c> {
    pub(crate) fn new(clock: &'c dyn b2b_auth_core::Clock) -> Self {
        Self { clock, read: None }
    }

    fn nanos(&mut self) -> i128 {
        *self.read.get_or_insert_with(|| nanos_since_epoch(self.clock.now()))
    }
}

fn nanos_since_epoch(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i128::try_from(after.as_nanos()).unwrap_or(i128::MAX),
        Err(before) => -i128::try_from(before.duration().as_nanos()).unwrap_or(i128::MAX),
    }
}

impl Condition {
    /// Compiles `operator` (as written, qualifiers included) on `key` with `values`.
    pub(crate) fn compile(
        operator: &str,
        key: &str,
        values: &[String],
    ) -> Result<(Self, Vec<IpSetWarning>), PolicyError> {
        let bad_operator = || PolicyError::new(PolicyErrorKind::UnknownOperator, operator);
        let (set, base) = match operator.split_once(':') {
            Some(("ForAnyValue", base)) => (Some(SetQualifier::AnyValue), base),
            Some(("ForAllValues", base)) => (Some(SetQualifier::AllValues), base),
            Some(_) => return Err(bad_operator()),
            None => (None, operator),
        };
        let (base, if_exists) = match base.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (base, false),
        };
        let key_name = key.to_ascii_lowercase();
        let key_kind = match key_name.as_str() {
            SOURCE_IP => Key::SourceIp,
            CURRENT_TIME => Key::CurrentTime,
            EPOCH_TIME => Key::EpochTime,
            _ => Key::Context,
        };
        let bad_value = |value: &str, what: &str| {
            PolicyError::new(
                PolicyErrorKind::InvalidConditionValue,
                format!("{operator} {key}: {value:?} is not {what}"),
            )
        };
        let strings = |how| Test::Str { how, values: values.to_vec() };
        let numbers = |cmp| -> Result<Test, PolicyError> {
            let values = values
                .iter()
                .map(|v| parse_number(v).ok_or_else(|| bad_value(v, "a decimal number")))
                .collect::<Result<_, _>>()?;
            Ok(Test::Num { cmp, values })
        };
        let dates = |cmp| -> Result<Test, PolicyError> {
            let values = values
                .iter()
                .map(|v| {
                    parse_date(v).ok_or_else(|| bad_value(v, "an RFC 3339 date or epoch seconds"))
                })
                .collect::<Result<_, _>>()?;
            Ok(Test::Date { cmp, values })
        };
        let mut warnings = Vec::new();
        let (test, negated) = match base {
            "StringEquals" => (strings(StrHow::Equals), false),
            "StringNotEquals" => (strings(StrHow::Equals), true),
            "StringEqualsIgnoreCase" => (strings(StrHow::EqualsIgnoreCase), false),
            "StringNotEqualsIgnoreCase" => (strings(StrHow::EqualsIgnoreCase), true),
            "StringLike" => (strings(StrHow::Like), false),
            "StringNotLike" => (strings(StrHow::Like), true),
            "NumericEquals" => (numbers(Cmp::Eq)?, false),
            "NumericNotEquals" => (numbers(Cmp::Eq)?, true),
            "NumericLessThan" => (numbers(Cmp::Lt)?, false),
            "NumericLessThanEquals" => (numbers(Cmp::Le)?, false),
            "NumericGreaterThan" => (numbers(Cmp::Gt)?, false),
            "NumericGreaterThanEquals" => (numbers(Cmp::Ge)?, false),
            "DateEquals" => (dates(Cmp::Eq)?, false),
            "DateNotEquals" => (dates(Cmp::Eq)?, true),
            "DateLessThan" => (dates(Cmp::Lt)?, false),
            "DateLessThanEquals" => (dates(Cmp::Le)?, false),
            "DateGreaterThan" => (dates(Cmp::Gt)?, false),
            "DateGreaterThanEquals" => (dates(Cmp::Ge)?, false),
            "Bool" => {
                let values = values
                    .iter()
                    .map(|v| parse_bool(v).ok_or_else(|| bad_value(v, "true or false")))
                    .collect::<Result<_, _>>()?;
                (Test::Bool { values }, false)
            }
            "IpAddress" | "NotIpAddress" => {
                let set = IpSet::builder()
                    .dialect(CidrDialect::Iam)
                    .cidrs(values)
                    .build()
                    .map_err(|e| bad_value(&e.to_string(), "a valid cidr"))?;
                warnings.extend_from_slice(set.warnings());
                (Test::Ip { set }, base == "NotIpAddress")
            }
            "Null" if set.is_none() && !if_exists => match values {
                [value] => {
                    let absent =
                        parse_bool(value).ok_or_else(|| bad_value(value, "true or false"))?;
                    (Test::Null { absent }, false)
                }
                _ => return Err(bad_value(&values.join(","), "a single true or false")),
            },
            _ => return Err(bad_operator()),
        };
        // Typed keys only make sense with their own operators; anything else would silently
        // never match (or, negated, always match).
        let key_fits = match (&test, key_kind) {
            (Test::Null { .. }, _) => true,
            (Test::Ip { .. }, kind) => kind == Key::SourceIp,
            (_, Key::SourceIp) => false,
            (Test::Date { .. }, Key::CurrentTime | Key::EpochTime) => true,
            (Test::Num { .. }, Key::EpochTime) => true,
            (_, Key::CurrentTime | Key::EpochTime) => false,
            (_, Key::Context) => true,
        };
        let single_valued = key_kind != Key::Context;
        if !key_fits || (single_valued && set.is_some()) {
            return Err(PolicyError::new(
                PolicyErrorKind::InvalidConditionKey,
                format!("{key} cannot be used with {operator}"),
            ));
        }
        let condition = Self {
            written: ConditionRef::new(operator, key),
            key_name,
            key: key_kind,
            set,
            if_exists,
            negated,
            test,
        };
        Ok((condition, warnings))
    }

    /// The condition as written.
    pub(crate) fn written(&self) -> &ConditionRef {
        &self.written
    }

    /// The lowercased key.
    pub(crate) fn key_name(&self) -> &str {
        &self.key_name
    }

    pub(crate) fn set(&self) -> Option<SetQualifier> {
        self.set
    }

    /// `NotIpAddress`, or `IpAddressIfExists`: holds for a request without a source address.
    pub(crate) fn passes_without_source_ip(&self) -> bool {
        matches!(self.test, Test::Ip { .. }) && (self.negated || self.if_exists)
    }

    /// Evaluates the condition against the request.
    pub(crate) fn evaluate(&self, ctx: &RequestContext<'_>, now: &mut Now<'_>) -> Outcome {
        let mut cidr = None;
        let mut values = self.values(ctx, now).peekable();
        if values.peek().is_none() {
            let holds = match (&self.test, self.set) {
                (Test::Null { absent }, _) => *absent,
                _ if self.if_exists => true,
                (_, Some(SetQualifier::AllValues)) => true,
                (_, Some(SetQualifier::AnyValue)) => false,
                (_, None) => self.negated,
            };
            return Outcome { holds, cidr };
        }
        if let Test::Null { absent } = self.test {
            return Outcome { holds: !absent, cidr };
        }
        // Per request value: does it satisfy the operator (for a negated operator: does no
        // policy value match it)?
        let mut satisfies = |value: Value<'_>| {
            let (matched, net) = self.matches(value);
            if matched && cidr.is_none() {
                cidr = net;
            }
            matched != self.negated
        };
        let holds = match self.set {
            Some(SetQualifier::AllValues) => values.all(&mut satisfies),
            Some(SetQualifier::AnyValue) => values.any(&mut satisfies),
            // Single-valued reading: a negated operator holds when no value matches.
            None if self.negated => values.all(&mut satisfies),
            None => values.any(&mut satisfies),
        };
        Outcome { holds, cidr: if self.negated { None } else { cidr } }
    }

    fn values<'a>(
        &'a self,
        ctx: &'a RequestContext<'a>,
        now: &mut Now<'_>,
    ) -> impl Iterator<Item = Value<'a>> + 'a {
        let typed = match self.key {
            Key::SourceIp => ctx.source_ip.map(Value::Ip),
            // The context may set the time explicitly; otherwise the clock tells.
            Key::CurrentTime | Key::EpochTime if !ctx.has_key(&self.key_name) => {
                Some(Value::Time(now.nanos()))
            }
            _ => None,
        };
        let from_context = (self.key != Key::SourceIp && typed.is_none())
            .then(|| ctx.key_values(&self.key_name).map(Value::Str))
            .into_iter()
            .flatten();
        typed.into_iter().chain(from_context)
    }

    /// Whether some policy value matches `value`, and the network that did for IP tests.
    fn matches(&self, value: Value<'_>) -> (bool, Option<IpNet>) {
        let found = match (&self.test, value) {
            (Test::Ip { set }, Value::Ip(ip)) => {
                return set.lookup(ip).map_or((false, None), |n| (true, Some(n)));
            }
            (Test::Str { how, values }, Value::Str(s)) => values.iter().any(|p| match how {
                StrHow::Equals => p == s,
                StrHow::EqualsIgnoreCase => p
                    .chars()
                    .flat_map(char::to_lowercase)
                    .eq(s.chars().flat_map(char::to_lowercase)),
                StrHow::Like => glob_match(p, s, false),
            }),
            (Test::Num { cmp, values }, value) => {
                let number = match value {
                    Value::Str(s) => parse_number(s),
                    // Epoch seconds, fractional.
                    Value::Time(nanos) => Some(nanos as f64 / 1e9),
                    Value::Ip(_) => None,
                };
                number.is_some_and(|n| values.iter().any(|&p| cmp.holds(n, p)))
            }
            (Test::Date { cmp, values }, value) => {
                let nanos = match value {
                    Value::Str(s) => parse_date(s),
                    Value::Time(nanos) => Some(nanos),
                    Value::Ip(_) => None,
                };
                nanos.is_some_and(|n| values.iter().any(|&p| cmp.holds(n, p)))
            }
            (Test::Bool { values }, Value::Str(s)) => {
                parse_bool(s).is_some_and(|b| values.contains(&b))
            }
            _ => false,
        };
        (found, None)
    }
}

/// A decimal number: optional `-`, digits, optional fraction. No exponent, `inf` or `NaN`.
fn parse_number(text: &str) -> Option<f64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, "0"));
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if plain(int) && plain(frac) { text.parse().ok() } else { None }
}

/// An RFC 3339 date-time (`2026-01-31T12:00:00Z`) or integer epoch seconds, as nanoseconds.
fn parse_date(text: &str) -> Option<i128> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse::<i64>().ok().map(|secs| i128::from(secs) * 1_000_000_000);
    }
    OffsetDateTime::parse(text, &Rfc3339).ok().map(OffsetDateTime::unix_timestamp_nanos)
}

fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates_parse_strictly() {
        assert_eq!(parse_number("10"), Some(10.0));
        assert_eq!(parse_number("-2.5"), Some(-2.5));
        for bad in ["", "1e3", "inf", "NaN", ".5", "5.", "+1", "0x10", " 1"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
        assert_eq!(parse_date("1"), Some(1_000_000_000));
        assert_eq!(parse_date("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(parse_date("1970-01-01T01:00:01+01:00"), Some(1_000_000_000));
        for bad in ["", "2026-01-01", "yesterday", "-1", "2026-13-01T00:00:00Z"] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn typed_keys_refuse_foreign_operators() {
        let v = vec!["x".to_owned()];
        let kind = |op: &str, key: &str| Condition::compile(op, key, &v).unwrap_err().kind();
        assert_eq!(kind("StringEquals", "aws:SourceIp"), PolicyErrorKind::InvalidConditionKey);
        assert_eq!(kind("StringLike", "aws:CurrentTime"), PolicyErrorKind::InvalidConditionKey);
        let cidr = vec!["10.0.0.0/8".to_owned()];
        assert!(Condition::compile("IpAddress", "aws:SourceIp", &cidr).is_ok());
        assert_eq!(
            Condition::compile("IpAddress", "aws:VpcSourceIp", &cidr).unwrap_err().kind(),
            PolicyErrorKind::InvalidConditionKey
        );
        assert_eq!(
            Condition::compile("ForAnyValue:IpAddress", "aws:SourceIp", &cidr).unwrap_err().kind(),
            PolicyErrorKind::InvalidConditionKey
        );
    }

    #[test]
    fn operator_names_are_exact() {
        let v = vec!["x".to_owned()];
        for op in [
            "stringequals",
            "StringEqual",
            "ForSomeValues:StringEquals",
            "NullIfExists",
            "ForAnyValue:Null",
            "ArnLike",
            "BinaryEquals",
            "StringEqualsIfExistsIfExists",
        ] {
            assert_eq!(
                Condition::compile(op, "k", &v).unwrap_err().kind(),
                PolicyErrorKind::UnknownOperator,
                "{op}"
            );
        }
    }
}
