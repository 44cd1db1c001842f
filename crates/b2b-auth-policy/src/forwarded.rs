//! Parsers of the forwarding headers: `X-Forwarded-For` (de facto) and `Forwarded`
//! (RFC 7239). Both take every line of the header, in order, and refuse the whole header on
//! the first malformed element.

use std::fmt;
use std::net::IpAddr;

use http::HeaderName;
use http::header::FORWARDED;

use crate::addr::parse_ip;
use crate::error::{ForwardedError, ForwardedErrorKind};

/// A forwarding header.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
#[non_exhaustive]
pub enum ForwardedHeader {
    /// `X-Forwarded-For`: a comma-separated list of addresses, client first.
    XForwardedFor,
    /// `Forwarded` (RFC 7239): comma-separated elements of `for=`, `by=`, `host=`, `proto=`.
    Forwarded,
}

impl ForwardedHeader {
    /// The header's name.
    pub fn name(self) -> HeaderName {
        match self {
            Self::XForwardedFor => HeaderName::from_static("x-forwarded-for"),
            Self::Forwarded => FORWARDED,
        }
    }
}

impl fmt::Display for ForwardedHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        })
    }
}

/// One hop of a forwarding chain, as a proxy recorded it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Node {
    /// An address, IPv4-mapped IPv6 normalised to IPv4, with the port when one was given.
    Ip {
        /// The address.
        addr: IpAddr,
        /// The port, when given as a number.
        port: Option<u16>,
    },
    /// `unknown`: the proxy did not know or would not say.
    Unknown,
    /// An RFC 7239 §6.3 obfuscated identifier (`_hidden`).
    Obfuscated,
}

/// One element of a `Forwarded` header (RFC 7239 §4): what one proxy recorded.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct ForwardedElement {
    for_node: Option<Node>,
    by: Option<Node>,
    host: Option<String>,
    proto: Option<String>,
}

impl ForwardedElement {
    /// `for=`: the node that made the request to this proxy.
    pub fn for_node(&self) -> Option<Node> {
        self.for_node
    }

    /// `by=`: the proxy's own interface.
    pub fn by(&self) -> Option<Node> {
        self.by
    }

    /// `host=`: the `Host` the proxy received.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// `proto=`: the scheme the proxy received.
    pub fn proto(&self) -> Option<&str> {
        self.proto.as_deref()
    }
}

/// Parses every line of an `X-Forwarded-For` header, in order, into its hops (client first).
///
/// Elements are separated by commas with optional spaces or tabs around them. An element is an
/// IPv4 or IPv6 address (strictly, see [`parse_ip`]), `IPv4:port`, `[IPv6]` or `[IPv6]:port`,
/// or `unknown`. Anything else — an empty element, a host name, a zone id, a leading-zero
/// octet, a bare IPv6 with a port — refuses the whole header.
///
/// # Errors
/// [`ForwardedError`] naming the element at fault.
///
/// ```
/// use b2b_auth_policy::{Node, parse_x_forwarded_for};
///
/// let hops = parse_x_forwarded_for(["203.0.113.9, [2001:db8::7]:443", "10.0.0.2:5000"])?;
/// assert_eq!(hops.len(), 3);
/// assert_eq!(hops[1], Node::Ip { addr: "2001:db8::7".parse()?, port: Some(443) });
/// assert!(parse_x_forwarded_for(["203.0.113.9,,10.0.0.2"]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_x_forwarded_for<I>(lines: I) -> Result<Vec<Node>, ForwardedError>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let header = ForwardedHeader::XForwardedFor;
    let mut hops = Vec::new();
    for line in lines {
        let line = text(line.as_ref()).ok_or(ForwardedError::new(
            header,
            hops.len(),
            ForwardedErrorKind::NotText,
        ))?;
        for element in line.split(',') {
            let fail = |kind| ForwardedError::new(header, hops.len(), kind);
            let element = element.trim_matches(is_ows);
            if element.is_empty() {
                return Err(fail(ForwardedErrorKind::EmptyElement));
            }
            hops.push(xff_node(element).map_err(fail)?);
        }
    }
    Ok(hops)
}

fn xff_node(element: &str) -> Result<Node, ForwardedErrorKind> {
    if element.eq_ignore_ascii_case("unknown") {
        return Ok(Node::Unknown);
    }
    let (name, port, bracketed) = split_node(element)?;
    let addr = address(name)?;
    // Brackets hold IPv6 only; a port needs brackets around IPv6.
    if (bracketed || port.is_some()) && bracketed != name.contains(':') {
        return Err(ForwardedErrorKind::Brackets);
    }
    Ok(Node::Ip { addr, port: port.map(port_number).transpose()? })
}

/// Splits `[v6]:port`, `[v6]`, `name:port` or `name` into the name, the port text, and
/// whether the name was bracketed. Text with several colons outside brackets (a bare IPv6
/// address) comes back whole, without a port.
fn split_node(text: &str) -> Result<(&str, Option<&str>, bool), ForwardedErrorKind> {
    if let Some(inner) = text.strip_prefix('[') {
        let (v6, rest) = inner.split_once(']').ok_or(ForwardedErrorKind::Brackets)?;
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':').ok_or(ForwardedErrorKind::Brackets)?),
        };
        return Ok((v6, port, true));
    }
    match text.split_once(':') {
        Some((name, port)) if !port.contains(':') => Ok((name, Some(port), false)),
        _ => Ok((text, None, false)),
    }
}

fn address(text: &str) -> Result<IpAddr, ForwardedErrorKind> {
    parse_ip(text).map_err(|e| ForwardedErrorKind::InvalidNode(e.kind()))
}

/// RFC 7239 `port = 1*5DIGIT`, within `u16`.
fn port_number(text: &str) -> Result<u16, ForwardedErrorKind> {
    if text.is_empty() || text.len() > 5 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ForwardedErrorKind::InvalidPort);
    }
    text.parse().map_err(|_| ForwardedErrorKind::InvalidPort)
}

/// Parses every line of a `Forwarded` header (RFC 7239 §4), in order, into its elements
/// (client first).
///
/// Follows the RFC's grammar: `token=value` pairs (names case-insensitive, each at most once
/// per element) joined by `;`, elements joined by `,`, values as tokens or quoted strings;
/// IPv6 nodes in brackets and quotes; `unknown` and `_obfuscated` nodes (§6). Spaces and tabs
/// are allowed around `,` and `;`. An empty element, a bad quoted string or a bad node
/// refuses the whole header.
///
/// # Errors
/// [`ForwardedError`] naming the element at fault.
///
/// ```
/// use b2b_auth_policy::{Node, parse_forwarded};
///
/// let elements = parse_forwarded([r#"for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711""#])?;
/// assert_eq!(elements[0].proto(), Some("https"));
/// assert_eq!(elements[1].for_node(), Some(Node::Ip { addr: "2001:db8:cafe::17".parse()?, port: Some(4711) }));
/// assert!(parse_forwarded(["for=192.0.2.60;for=198.51.100.1"]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_forwarded<I>(lines: I) -> Result<Vec<ForwardedElement>, ForwardedError>
where
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut elements = Vec::new();
    for line in lines {
        let fail = |index, kind| ForwardedError::new(ForwardedHeader::Forwarded, index, kind);
        let line =
            text(line.as_ref()).ok_or_else(|| fail(elements.len(), ForwardedErrorKind::NotText))?;
        let mut cursor = Cursor { rest: line };
        loop {
            let element = cursor.element().map_err(|kind| fail(elements.len(), kind))?;
            elements.push(element);
            cursor.skip_ows();
            if cursor.rest.is_empty() {
                break;
            }
            if !cursor.eat(b',') {
                return Err(fail(elements.len() - 1, ForwardedErrorKind::InvalidPair));
            }
        }
    }
    Ok(elements)
}

/// The header value as text, when it is only visible ASCII, spaces and tabs.
fn text(bytes: &[u8]) -> Option<&str> {
    if bytes.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b)) {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// RFC 7230 §3.2.6 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_ows(&mut self) {
        self.rest = self.rest.trim_start_matches(is_ows);
    }

    fn eat(&mut self, byte: u8) -> bool {
        match self.rest.as_bytes().first() {
            Some(&b) if b == byte => {
                self.rest = self.rest.get(1..).unwrap_or_default();
                true
            }
            _ => false,
        }
    }

    fn token(&mut self) -> Option<&'a str> {
        let end = self.rest.bytes().position(|b| !is_tchar(b)).unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at_checked(end)?;
        self.rest = rest;
        (!token.is_empty()).then_some(token)
    }

    /// A token or a quoted string, unescaped.
    fn value(&mut self) -> Result<String, ForwardedErrorKind> {
        if !self.eat(b'"') {
            return self.token().map(str::to_owned).ok_or(ForwardedErrorKind::InvalidPair);
        }
        let mut value = String::new();
        let mut chars = self.rest.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = self.rest.get(i + 1..).unwrap_or_default();
                    return Ok(value);
                }
                '\\' => match chars.next() {
                    Some((_, escaped)) => value.push(escaped),
                    None => break,
                },
                _ => value.push(c),
            }
        }
        Err(ForwardedErrorKind::InvalidQuotedString)
    }

    /// `forwarded-pair *( ";" forwarded-pair )`.
    fn element(&mut self) -> Result<ForwardedElement, ForwardedErrorKind> {
        let mut element = ForwardedElement::default();
        let mut extensions: Vec<String> = Vec::new();
        self.skip_ows();
        if self.rest.is_empty() || self.rest.starts_with(',') {
            return Err(ForwardedErrorKind::EmptyElement);
        }
        loop {
            let name = self.token().ok_or(ForwardedErrorKind::InvalidPair)?;
            if !self.eat(b'=') {
                return Err(ForwardedErrorKind::InvalidPair);
            }
            let value = self.value()?;
            let name = name.to_ascii_lowercase();
            let duplicate = match name.as_str() {
                "for" => element.for_node.replace(forwarded_node(&value)?).is_some(),
                "by" => element.by.replace(forwarded_node(&value)?).is_some(),
                "host" => element.host.replace(value).is_some(),
                "proto" => element.proto.replace(scheme(value)?).is_some(),
                _ if extensions.contains(&name) => true,
                _ => {
                    extensions.push(name);
                    false
                }
            };
            if duplicate {
                return Err(ForwardedErrorKind::DuplicateParameter);
            }
            self.skip_ows();
            if !self.eat(b';') {
                return Ok(element);
            }
            self.skip_ows();
        }
    }
}

/// RFC 7239 §6: `node = nodename [ ":" node-port ]`, where an IPv6 nodename is bracketed and
/// a port may be obfuscated (then dropped).
fn forwarded_node(value: &str) -> Result<Node, ForwardedErrorKind> {
    let (name, port, bracketed) = split_node(value)?;
    let port = match port {
        Some(port) if !is_obfuscated(port) => Some(port_number(port)?),
        _ => None,
    };
    if !bracketed && name.eq_ignore_ascii_case("unknown") {
        Ok(Node::Unknown)
    } else if !bracketed && is_obfuscated(name) {
        Ok(Node::Obfuscated)
    } else {
        let addr = address(name)?;
        // IPv6 only in brackets, IPv4 never (an IPv4-mapped one is normalised, so look at the
        // text).
        if bracketed != name.contains(':') {
            return Err(ForwardedErrorKind::Brackets);
        }
        Ok(Node::Ip { addr, port })
    }
}

/// RFC 7239 §6.3 `obfnode` / `obfport`: `"_" 1*( ALPHA / DIGIT / "." / "_" / "-" )`.
fn is_obfuscated(text: &str) -> bool {
    text.strip_prefix('_').is_some_and(|rest| {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    })
}

/// RFC 3986 §3.1 `scheme`.
fn scheme(value: String) -> Result<String, ForwardedErrorKind> {
    let mut bytes = value.bytes();
    let valid = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if valid { Ok(value) } else { Err(ForwardedErrorKind::InvalidProto) }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use proptest::prelude::*;

    use super::*;

    fn ip(addr: &str, port: Option<u16>) -> Node {
        Node::Ip { addr: addr.parse().unwrap(), port }
    }

    fn xff_err(lines: &[&str]) -> ForwardedErrorKind {
        parse_x_forwarded_for(lines).unwrap_err().kind()
    }

    #[test]
    fn xff_reads_all_lines_in_order() {
        let hops = parse_x_forwarded_for(["1.1.1.1 ,\t2.2.2.2", "::ffff:3.3.3.3", "unknown"]);
        assert_eq!(
            hops.unwrap(),
            [ip("1.1.1.1", None), ip("2.2.2.2", None), ip("3.3.3.3", None), Node::Unknown]
        );
    }

    #[test]
    fn xff_ports_and_brackets() {
        let hops = parse_x_forwarded_for(["1.2.3.4:80, [2001:db8::1], [2001:db8::1]:8443, ::1"]);
        assert_eq!(
            hops.unwrap(),
            [
                ip("1.2.3.4", Some(80)),
                ip("2001:db8::1", None),
                ip("2001:db8::1", Some(8443)),
                ip("::1", None)
            ]
        );
    }

    #[test]
    fn xff_refuses_garbage() {
        assert_eq!(xff_err(&[""]), ForwardedErrorKind::EmptyElement);
        assert_eq!(xff_err(&["1.2.3.4,"]), ForwardedErrorKind::EmptyElement);
        assert_eq!(
            xff_err(&["1.2.3.4 5.6.7.8"]),
            ForwardedErrorKind::InvalidNode(crate::AddrErrorKind::Invalid)
        );
        assert_eq!(
            xff_err(&["1.2.3.4;5.6.7.8"]),
            ForwardedErrorKind::InvalidNode(crate::AddrErrorKind::Invalid)
        );
        assert_eq!(
            xff_err(&["localhost"]),
            ForwardedErrorKind::InvalidNode(crate::AddrErrorKind::Invalid)
        );
        assert_eq!(
            xff_err(&["010.1.1.1"]),
            ForwardedErrorKind::InvalidNode(crate::AddrErrorKind::LeadingZero)
        );
        assert_eq!(
            xff_err(&["fe80::1%eth0"]),
            ForwardedErrorKind::InvalidNode(crate::AddrErrorKind::ZoneId)
        );
        assert_eq!(xff_err(&["1.2.3.4:99999"]), ForwardedErrorKind::InvalidPort);
        assert_eq!(xff_err(&["1.2.3.4:"]), ForwardedErrorKind::InvalidPort);
        assert_eq!(xff_err(&["[1.2.3.4]"]), ForwardedErrorKind::Brackets);
        assert_eq!(xff_err(&["[2001:db8::1"]), ForwardedErrorKind::Brackets);
        assert_eq!(xff_err(&["[2001:db8::1]80"]), ForwardedErrorKind::Brackets);
        assert_eq!(
            xff_err(&["_hidden"]),
            ForwardedErrorKind::InvalidNode(crate::AddrErrorKind::Invalid)
        );
        assert_eq!(
            parse_x_forwarded_for([b"1.2.3.4\xff".as_slice()]).unwrap_err().kind(),
            ForwardedErrorKind::NotText
        );
    }

    #[test]
    fn xff_error_names_the_element_across_lines() {
        let err = parse_x_forwarded_for(["1.1.1.1, 2.2.2.2", "3.3.3.3, bad"]).unwrap_err();
        assert_eq!(err.element(), 3);
        assert_eq!(err.header(), ForwardedHeader::XForwardedFor);
    }

    #[test]
    fn forwarded_follows_rfc_7239_examples() {
        let elements = parse_forwarded([
            r#"for="_gazonk""#,
            r#"For="[2001:db8:cafe::17]:4711""#,
            "for=192.0.2.60;proto=http;by=203.0.113.43",
            "for=192.0.2.43, for=198.51.100.17",
            r#"for=unknown;by="_proxy:_port";host="example.com:8080""#,
        ])
        .unwrap();
        let fors: Vec<_> = elements.iter().map(|e| e.for_node().unwrap()).collect();
        assert_eq!(
            fors,
            [
                Node::Obfuscated,
                ip("2001:db8:cafe::17", Some(4711)),
                ip("192.0.2.60", None),
                ip("192.0.2.43", None),
                ip("198.51.100.17", None),
                Node::Unknown
            ]
        );
        assert_eq!(elements[2].proto(), Some("http"));
        assert_eq!(elements[2].by(), Some(ip("203.0.113.43", None)));
        assert_eq!(elements[5].by(), Some(Node::Obfuscated));
        assert_eq!(elements[5].host(), Some("example.com:8080"));
    }

    #[test]
    fn forwarded_elements_without_for_and_extensions() {
        let elements = parse_forwarded(["proto=https; ext=\"a\\\"b\" ;by=10.0.0.1"]).unwrap();
        assert_eq!(elements.len(), 1);
        assert_eq!(elements[0].for_node(), None);
        assert_eq!(elements[0].by(), Some(ip("10.0.0.1", None)));
    }

    #[test]
    fn forwarded_refuses_ambiguity() {
        let err = |line: &str| parse_forwarded([line]).unwrap_err().kind();
        assert_eq!(err("for=1.2.3.4;FOR=5.6.7.8"), ForwardedErrorKind::DuplicateParameter);
        assert_eq!(err("x=1;x=2"), ForwardedErrorKind::DuplicateParameter);
        assert_eq!(err("for=1.2.3.4,,for=5.6.7.8"), ForwardedErrorKind::EmptyElement);
        assert_eq!(err("for=1.2.3.4,"), ForwardedErrorKind::EmptyElement);
        assert_eq!(err(""), ForwardedErrorKind::EmptyElement);
        assert_eq!(err("for=[2001:db8::1]"), ForwardedErrorKind::InvalidPair);
        assert_eq!(err("for=\"2001:db8::1\""), ForwardedErrorKind::Brackets);
        assert_eq!(err("for=\"1.2.3.4"), ForwardedErrorKind::InvalidQuotedString);
        assert_eq!(err("for = 1.2.3.4"), ForwardedErrorKind::InvalidPair);
        assert_eq!(err("for=1.2.3.4 by=5.6.7.8"), ForwardedErrorKind::InvalidPair);
        assert_eq!(
            err("for=example.com"),
            ForwardedErrorKind::InvalidNode(crate::AddrErrorKind::Invalid)
        );
        assert_eq!(err("for=\"1.2.3.4:x\""), ForwardedErrorKind::InvalidPort);
        assert_eq!(err("proto=1http"), ForwardedErrorKind::InvalidProto);
        assert_eq!(err("for=_"), ForwardedErrorKind::InvalidNode(crate::AddrErrorKind::Invalid));
    }

    fn arb_hop() -> impl Strategy<Value = (IpAddr, Option<u16>, String)> {
        prop_oneof![
            (any::<u32>(), proptest::option::of(any::<u16>())).prop_map(|(a, port)| {
                let addr = IpAddr::V4(Ipv4Addr::from(a));
                let text = port.map_or(addr.to_string(), |p| format!("{addr}:{p}"));
                (addr, port, text)
            }),
            (any::<u128>(), proptest::option::of(any::<u16>()), any::<bool>()).prop_map(
                |(a, port, bracket)| {
                    let addr = crate::normalize(IpAddr::V6(Ipv6Addr::from(a)));
                    let v6 = Ipv6Addr::from(a);
                    let text = match port {
                        Some(p) => format!("[{v6}]:{p}"),
                        None if bracket => format!("[{v6}]"),
                        None => v6.to_string(),
                    };
                    (addr, port, text)
                }
            ),
        ]
    }

    proptest! {
        #[test]
        fn xff_reads_back_what_proxies_write(hops in proptest::collection::vec(arb_hop(), 1..8)) {
            let line = hops.iter().map(|(_, _, text)| text.as_str()).collect::<Vec<_>>().join(", ");
            let parsed = parse_x_forwarded_for([line.as_str()]).unwrap();
            let expected: Vec<Node> =
                hops.iter().map(|&(addr, port, _)| Node::Ip { addr, port }).collect();
            prop_assert_eq!(parsed, expected);
        }

        #[test]
        fn parsers_never_panic_on_printable_input(line in "[ -~\t]{0,64}") {
            let _ = parse_x_forwarded_for([line.as_str()]);
            let _ = parse_forwarded([line.as_str()]);
        }
    }
}
