//! Every error of the crate: typed, `Clone` (a [`Decision`](crate::Decision) carries the one
//! that decided it), with short lowercase messages that quote at most a short, escaped excerpt
//! of the input at fault.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::forwarded::ForwardedHeader;
use crate::policy::StatementId;

/// Longest excerpt of untrusted input quoted in an error message.
const MAX_EXCERPT: usize = 64;

/// A short excerpt of `input`, cut on a character boundary: errors name the bad input without
/// copying an attacker's megabyte into the logs.
pub(crate) fn excerpt(input: &str) -> String {
    match input.char_indices().nth(MAX_EXCERPT) {
        Some((end, _)) => format!("{}...", input.get(..end).unwrap_or_default()),
        None => input.to_owned(),
    }
}

/// An IP address that [`parse_ip`](crate::parse_ip) refuses.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("invalid ip address {input:?}: {kind}")]
pub struct AddrError {
    input: String,
    kind: AddrErrorKind,
}

impl AddrError {
    pub(crate) fn new(input: &str, kind: AddrErrorKind) -> Self {
        Self { input: excerpt(input), kind }
    }

    /// What is wrong with the address.
    pub fn kind(&self) -> AddrErrorKind {
        self.kind
    }

    /// The address as given (cut after 64 characters).
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// Why an IP address was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum AddrErrorKind {
    /// The text is empty.
    Empty,
    /// The address has a zone id (`fe80::1%eth0`).
    ZoneId,
    /// An IPv4 octet has a leading zero (`010.0.0.1`), which some parsers read as octal.
    LeadingZero,
    /// The text is not an IPv4 or IPv6 address in standard notation.
    Invalid,
}

impl fmt::Display for AddrErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty",
            Self::ZoneId => "zone ids are not accepted",
            Self::LeadingZero => "leading zeros are ambiguous",
            Self::Invalid => "not an ip address in standard notation",
        })
    }
}

/// A CIDR that cannot go into an [`IpSet`](crate::IpSet) under the chosen
/// [`CidrDialect`](crate::CidrDialect).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IpSetError {
    /// The address part is not a valid address.
    #[error("invalid cidr {input:?}")]
    InvalidAddress {
        /// The CIDR as given.
        input: String,
        /// What is wrong with the address.
        source: AddrError,
    },
    /// The prefix length is not a decimal number within the address family's range.
    #[error("invalid cidr {input:?}: bad prefix length")]
    InvalidPrefixLength {
        /// The CIDR as given.
        input: String,
    },
    /// Bits beyond the prefix length are set (`10.0.0.1/8`).
    #[error("invalid cidr {input:?}: host bits set, the network is {network}")]
    HostBitsSet {
        /// The CIDR as given.
        input: String,
        /// The network it would mask to.
        network: IpNet,
    },
    /// The prefix is `/0`, which matches every address of its family.
    #[error("cidr {input:?} matches every address")]
    MatchesEverything {
        /// The CIDR as given.
        input: String,
    },
    /// The dialect requires CIDR notation and a bare address was given.
    #[error("bare address {input:?}: write it with a prefix length (/32 or /128)")]
    BareAddress {
        /// The address as given.
        input: String,
    },
}

/// A forwarding header that does not follow its grammar.
///
/// The whole header is refused: a chain with one unreadable hop has no trustworthy client
/// address.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("invalid {header} header, element {element}: {kind}")]
pub struct ForwardedError {
    header: ForwardedHeader,
    element: usize,
    kind: ForwardedErrorKind,
}

impl ForwardedError {
    pub(crate) fn new(header: ForwardedHeader, element: usize, kind: ForwardedErrorKind) -> Self {
        Self { header, element, kind }
    }

    /// The header at fault.
    pub fn header(&self) -> ForwardedHeader {
        self.header
    }

    /// The 0-based index of the bad element, counted from the left over all header lines.
    pub fn element(&self) -> usize {
        self.element
    }

    /// What is wrong.
    pub fn kind(&self) -> ForwardedErrorKind {
        self.kind
    }
}

/// Why a forwarding header was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum ForwardedErrorKind {
    /// The value has bytes other than visible ASCII, space and tab.
    NotText,
    /// An element is empty (`a,,b` or a trailing comma).
    EmptyElement,
    /// A node is neither an address (with optional port), `unknown`, nor an RFC 7239
    /// obfuscated identifier.
    InvalidNode(AddrErrorKind),
    /// A port is not a number in `0..=65535` (or an obfuscated port where allowed).
    InvalidPort,
    /// An IPv6 address is not in brackets, or brackets are not closed.
    Brackets,
    /// An RFC 7239 parameter is not `token=value`.
    InvalidPair,
    /// An RFC 7239 parameter occurs twice in one element.
    DuplicateParameter,
    /// An RFC 7239 quoted string is not terminated or has a bad escape.
    InvalidQuotedString,
    /// An RFC 7239 `proto` value is not a URI scheme.
    InvalidProto,
}

impl fmt::Display for ForwardedErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotText => f.write_str("not visible ascii text"),
            Self::EmptyElement => f.write_str("empty element"),
            Self::InvalidNode(kind) => write!(f, "invalid node: {kind}"),
            Self::InvalidPort => f.write_str("invalid port"),
            Self::Brackets => f.write_str("ipv6 address without matching brackets"),
            Self::InvalidPair => f.write_str("parameter is not token=value"),
            Self::DuplicateParameter => f.write_str("parameter given twice"),
            Self::InvalidQuotedString => f.write_str("invalid quoted string"),
            Self::InvalidProto => f.write_str("proto is not a uri scheme"),
        }
    }
}

/// The client IP address could not be established with the configured
/// [`ClientIpSource`](crate::ClientIpSource).
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientIpError {
    /// A forwarding header from a trusted proxy is malformed.
    #[error(transparent)]
    Header(#[from] ForwardedError),
    /// Walking the chain from the right reached a hop that is not an address before reaching
    /// an untrusted one; skipping it would let whoever wrote it choose the client address.
    #[error("{header} hop {hop} is {node}; refusing to skip it")]
    UnresolvableHop {
        /// The header.
        header: ForwardedHeader,
        /// The 0-based index of the hop, from the left.
        hop: usize,
        /// What the hop holds: `unknown`, `an obfuscated identifier` or `no for parameter`.
        node: &'static str,
    },
    /// The peer is a trusted proxy but sent no forwarding header, and the source is set to
    /// refuse that.
    #[error("trusted proxy {peer} sent no forwarding header")]
    MissingHeader {
        /// The proxy's address.
        peer: IpAddr,
    },
    /// `X-Forwarded-For` and `Forwarded` name different clients.
    #[error("x-forwarded-for names {x_forwarded_for} but forwarded names {forwarded}")]
    Conflict {
        /// The client according to `X-Forwarded-For`.
        x_forwarded_for: IpAddr,
        /// The client according to `Forwarded`.
        forwarded: IpAddr,
    },
}

/// A request path that is not canonical, so the resource authorised could differ from the
/// resource served. See [`canonical_path`](crate::canonical_path).
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
#[error("non-canonical path: {kind}")]
pub struct PathError {
    kind: PathErrorKind,
}

impl PathError {
    pub(crate) fn new(kind: PathErrorKind) -> Self {
        Self { kind }
    }

    /// What is wrong with the path.
    pub fn kind(&self) -> PathErrorKind {
        self.kind
    }
}

/// Why a path was refused.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum PathErrorKind {
    /// The path does not start with `/`.
    NotAbsolute,
    /// The path has an empty segment (`//`).
    EmptySegment,
    /// The path has a `.` or `..` segment (plain or percent-encoded).
    DotSegment,
    /// `..` would climb above the root.
    AboveRoot,
    /// The path has an encoded `/` or `\` (`%2F`, `%5C`), or a raw `\`.
    EncodedSeparator,
    /// A character that never needs encoding is percent-encoded (`%41`), or a percent-encoding
    /// uses lowercase hex digits: the same resource would have two spellings.
    NonCanonicalEncoding,
    /// A `%` is not followed by two hex digits.
    InvalidPercentEncoding,
    /// The path has a control character, `?`, `#` or an encoded NUL.
    ForbiddenCharacter,
}

impl fmt::Display for PathErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotAbsolute => "does not start with /",
            Self::EmptySegment => "empty segment",
            Self::DotSegment => "dot segment",
            Self::AboveRoot => "climbs above the root",
            Self::EncodedSeparator => "encoded or backslash separator",
            Self::NonCanonicalEncoding => "non-canonical percent-encoding",
            Self::InvalidPercentEncoding => "invalid percent-encoding",
            Self::ForbiddenCharacter => "forbidden character",
        })
    }
}

/// A resource-policy document that cannot be compiled.
///
/// Nothing in a document is guessed: an element, operator or key this crate does not evaluate
/// exactly as AWS documents it is an error, never silently ignored.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("{}{kind}: {detail}", statement.as_ref().map(|s| format!("{s}: ")).unwrap_or_default())]
pub struct PolicyError {
    kind: PolicyErrorKind,
    statement: Option<StatementId>,
    detail: String,
}

impl PolicyError {
    pub(crate) fn new(kind: PolicyErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, statement: None, detail: detail.into() }
    }

    pub(crate) fn in_statement(mut self, statement: &StatementId) -> Self {
        self.statement = Some(statement.clone());
        self
    }

    /// What kind of mistake.
    pub fn kind(&self) -> PolicyErrorKind {
        self.kind
    }

    /// The statement at fault, when the mistake is inside one.
    pub fn statement(&self) -> Option<&StatementId> {
        self.statement.as_ref()
    }
}

/// The kind of a [`PolicyError`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum PolicyErrorKind {
    /// The document is not valid JSON, has duplicate or unknown members, or a member of the
    /// wrong type.
    Json,
    /// `Version` is not `2012-10-17` or `2008-10-17`.
    UnsupportedVersion,
    /// A required element is missing or empty (`Effect`, `Principal`, `Action`, `Resource`,
    /// `Statement`).
    MissingElement,
    /// An element and its `Not` form are both given.
    ConflictingElements,
    /// `Effect` is not `Allow` or `Deny`.
    InvalidEffect,
    /// Two statements have the same `Sid`.
    DuplicateSid,
    /// A principal is not `*` or an exact id under `AWS`.
    InvalidPrincipal,
    /// An action is not `*` or `service:action` (wildcards allowed).
    InvalidAction,
    /// A resource is not `*`, an ARN, or an abbreviated `execute-api:/...` resource.
    InvalidResource,
    /// A condition operator is unknown or its qualifiers do not combine.
    UnknownOperator,
    /// A condition key cannot be used with its operator, or appears twice.
    InvalidConditionKey,
    /// A condition value does not parse for its operator (number, date, boolean, CIDR).
    InvalidConditionValue,
    /// A value uses a policy variable (`${...}`), which this evaluator does not substitute.
    PolicyVariable,
}

impl fmt::Display for PolicyErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Json => "invalid policy document",
            Self::UnsupportedVersion => "unsupported version",
            Self::MissingElement => "missing element",
            Self::ConflictingElements => "conflicting elements",
            Self::InvalidEffect => "invalid effect",
            Self::DuplicateSid => "duplicate sid",
            Self::InvalidPrincipal => "invalid principal",
            Self::InvalidAction => "invalid action",
            Self::InvalidResource => "invalid resource",
            Self::UnknownOperator => "unknown condition operator",
            Self::InvalidConditionKey => "invalid condition key",
            Self::InvalidConditionValue => "invalid condition value",
            Self::PolicyVariable => "policy variables are not supported",
        })
    }
}

/// A configuration mistake outside policy documents and IP sets.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A part of the API's ARN (region, account, API id, stage) is empty or has a character
    /// that would change the ARN's structure (`:`, `/`, `*`, `?`, whitespace).
    #[error("invalid api {field} {value:?}")]
    InvalidApi {
        /// Which part.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// An [`AccessGuard`](crate::AccessGuard) was built with neither IP rules nor a resource
    /// policy: it would allow everything.
    #[error("access guard has nothing to enforce; add ip rules or a resource policy")]
    NothingToEnforce,
    /// An [`AccessGuard`](crate::AccessGuard) has only block rules and blocks by default: it
    /// would refuse every request.
    #[error("access guard allows nothing; add an allow rule or allow by default")]
    NothingAllowed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_cuts_long_input_on_a_char_boundary() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(100);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), MAX_EXCERPT + 3);
        assert!(cut.ends_with("..."));
    }

    #[test]
    fn messages_are_lowercase_and_name_the_input() {
        let err = AddrError::new("010.1.1.1", AddrErrorKind::LeadingZero);
        assert_eq!(
            err.to_string(),
            r#"invalid ip address "010.1.1.1": leading zeros are ambiguous"#
        );
        let err = PolicyError::new(PolicyErrorKind::InvalidEffect, "\"allow\"")
            .in_statement(&StatementId::new(1, Some("AllowPartner".into())));
        assert_eq!(err.to_string(), r#"statement "AllowPartner": invalid effect: "allow""#);
    }
}
