//! Strict parsing of IP addresses from configuration and from request headers.

use std::net::IpAddr;

use crate::error::{AddrError, AddrErrorKind};

/// Parses one IP address, strictly, and normalises IPv4-mapped IPv6 to IPv4.
///
/// Accepted: dotted-quad IPv4 (`192.0.2.1`) and RFC 4291 IPv6 text (`2001:db8::1`,
/// `::ffff:192.0.2.1`). Refused, because different parsers read them differently and an
/// allowlist must not depend on which one the attacker guessed:
/// - zone ids (`fe80::1%eth0`): they name an interface of the host that printed them;
/// - IPv4 octets with leading zeros (`010.0.0.1`, read as octal by `inet_aton`), and the
///   shortened, hexadecimal and integer IPv4 forms (`10.1`, `0x7f.0.0.1`, `2130706433`);
/// - surrounding whitespace, brackets and ports (see the forwarded-header parsers for those).
///
/// `::ffff:a.b.c.d` is returned as the IPv4 address `a.b.c.d`: dual-stack listeners report
/// IPv4 clients that way, and IP sets match them as IPv4.
///
/// # Errors
/// [`AddrError`] naming the input and what is wrong with it.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use b2b_auth_policy::parse_ip;
///
/// assert_eq!(parse_ip("::ffff:192.0.2.1")?, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
/// assert!(parse_ip("010.0.0.1").is_err());
/// assert!(parse_ip("fe80::1%eth0").is_err());
/// # Ok::<(), b2b_auth_policy::AddrError>(())
/// ```
pub fn parse_ip(input: &str) -> Result<IpAddr, AddrError> {
    parse_ip_unmapped(input).map(normalize)
}

/// [`parse_ip`] without the IPv4-mapped normalisation, for CIDRs whose prefix length counts
/// IPv6 bits.
pub(crate) fn parse_ip_unmapped(input: &str) -> Result<IpAddr, AddrError> {
    let kind = if input.is_empty() {
        AddrErrorKind::Empty
    } else if input.contains('%') {
        AddrErrorKind::ZoneId
    } else if has_leading_zero_octet(input) {
        AddrErrorKind::LeadingZero
    } else {
        match input.parse::<IpAddr>() {
            Ok(ip) => return Ok(ip),
            Err(_) => AddrErrorKind::Invalid,
        }
    };
    Err(AddrError::new(input, kind))
}

/// Returns the IPv4 address for an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`), otherwise the
/// address unchanged.
///
/// IPv4-compatible addresses (`::a.b.c.d`, deprecated by RFC 4291 §2.5.5.1) are left as IPv6.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
/// let mapped = IpAddr::V6(Ipv4Addr::new(198, 51, 100, 7).to_ipv6_mapped());
/// assert_eq!(b2b_auth_policy::normalize(mapped), IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
/// assert_eq!(b2b_auth_policy::normalize(IpAddr::V6(Ipv6Addr::LOCALHOST)), IpAddr::V6(Ipv6Addr::LOCALHOST));
/// ```
pub fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// True when a dotted-decimal part (the whole input, or the IPv4 tail of an IPv6 address)
/// has an octet with a leading zero. The standard library refuses those too; checking first
/// gives the caller a precise reason.
fn has_leading_zero_octet(input: &str) -> bool {
    let tail = input.rsplit(':').next().unwrap_or(input);
    if !tail.contains('.') {
        return false;
    }
    tail.split('.').any(|octet| {
        octet.len() > 1 && octet.starts_with('0') && octet.bytes().all(|b| b.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn kind(input: &str) -> AddrErrorKind {
        parse_ip(input).unwrap_err().kind()
    }

    #[test]
    fn accepts_canonical_forms() {
        assert_eq!(parse_ip("192.0.2.1").unwrap(), IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(parse_ip("0.0.0.0").unwrap(), IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(parse_ip("2001:db8::1").unwrap(), "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(parse_ip("2001:0db8::0001").unwrap(), "2001:db8::1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn maps_v4_mapped_but_not_v4_compatible() {
        assert_eq!(parse_ip("::ffff:10.1.2.3").unwrap(), IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));
        assert_eq!(parse_ip("::FFFF:a01:203").unwrap(), IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));
        assert!(parse_ip("::10.1.2.3").unwrap().is_ipv6());
    }

    #[test]
    fn refuses_ambiguous_forms_with_a_reason() {
        assert_eq!(kind(""), AddrErrorKind::Empty);
        assert_eq!(kind("fe80::1%eth0"), AddrErrorKind::ZoneId);
        assert_eq!(kind("fe80::1%25eth0"), AddrErrorKind::ZoneId);
        assert_eq!(kind("010.0.0.1"), AddrErrorKind::LeadingZero);
        assert_eq!(kind("10.0.0.01"), AddrErrorKind::LeadingZero);
        assert_eq!(kind("::ffff:10.0.0.01"), AddrErrorKind::LeadingZero);
        for bad in
            ["10.1", "0x7f.0.0.1", "2130706433", " 10.0.0.1", "10.0.0.1 ", "[::1]", "1.2.3.4:80"]
        {
            assert_eq!(kind(bad), AddrErrorKind::Invalid, "{bad}");
        }
    }
}
