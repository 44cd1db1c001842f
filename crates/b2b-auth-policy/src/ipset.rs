//! IP sets: IPv4 and IPv6 CIDRs compiled into sorted disjoint ranges, looked up by binary
//! search (O(log n), no allocation), with the CIDR that matched.

use std::fmt;
use std::net::IpAddr;

use ipnet::{IpNet, Ipv4Net};

use crate::addr::{normalize, parse_ip_unmapped};
use crate::error::{IpSetError, excerpt};

/// How strictly CIDR text is read, after the systems whose configurations it comes from.
///
/// | | `Strict` (default) | `Iam` | `Waf` |
/// |---|---|---|---|
/// | host bits set (`10.0.0.1/8`) | error | masked, with a warning | error |
/// | bare address (`10.0.0.1`) | `/32` or `/128` | `/32` or `/128` | error |
/// | `/0` | error | accepted, with a warning | error |
///
/// Duplicates and prefixes covered by another one are accepted with a warning in every
/// dialect. `Iam` reads `aws:SourceIp` values of policy documents; `Waf` reads AWS WAF IP sets,
/// which refuse `/0` and bare addresses.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum CidrDialect {
    /// For configurations written for this crate.
    #[default]
    Strict,
    /// As IAM policy conditions (`aws:SourceIp`) are read.
    Iam,
    /// As AWS WAF IP sets are read.
    Waf,
}

/// Something accepted into an [`IpSet`] that is probably a mistake.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IpSetWarning {
    input: String,
    kind: IpSetWarningKind,
}

impl IpSetWarning {
    /// The CIDR as given (cut after 64 characters).
    pub fn input(&self) -> &str {
        &self.input
    }

    /// What is suspicious about it.
    pub fn kind(&self) -> &IpSetWarningKind {
        &self.kind
    }
}

impl fmt::Display for IpSetWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cidr {:?}: {}", self.input, self.kind)
    }
}

/// The kind of an [`IpSetWarning`].
#[derive(Clone, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum IpSetWarningKind {
    /// Host bits were set and masked off (`Iam` dialect).
    HostBitsMasked {
        /// The network used.
        network: IpNet,
    },
    /// The same network was given more than once.
    Duplicate,
    /// A wider network in the set already covers this one.
    CoveredBy {
        /// The covering network.
        network: IpNet,
    },
    /// The prefix is `/0` and matches every address of its family (`Iam` dialect).
    MatchesEverything,
}

impl fmt::Display for IpSetWarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HostBitsMasked { network } => write!(f, "host bits set, masked to {network}"),
            Self::Duplicate => f.write_str("duplicate"),
            Self::CoveredBy { network } => write!(f, "already covered by {network}"),
            Self::MatchesEverything => f.write_str("matches every address"),
        }
    }
}

/// Sorted, disjoint networks of one address family, as integers.
#[derive(Clone, Debug, Default)]
struct Table<T> {
    starts: Vec<T>,
    ends: Vec<T>,
    nets: Vec<IpNet>,
}

impl<T: Copy + Ord> Table<T> {
    fn lookup(&self, ip: T) -> Option<IpNet> {
        // The last network starting at or before `ip` is the only one that can hold it,
        // since the networks are disjoint.
        let i = self.starts.partition_point(|&start| start <= ip).checked_sub(1)?;
        (ip <= *self.ends.get(i)?).then(|| self.nets.get(i).copied()).flatten()
    }

    fn push(&mut self, start: T, end: T, net: IpNet) {
        self.starts.push(start);
        self.ends.push(end);
        self.nets.push(net);
    }
}

/// A set of IPv4 and IPv6 networks, for allowlists and `aws:SourceIp` conditions.
///
/// Lookups are binary searches over sorted disjoint ranges: O(log n), no allocation, about the
/// same time for 10 or 100,000 prefixes (see `benches/README.md`). A lookup returns the
/// widest network of the set that holds the address: nested prefixes are kept only as
/// warnings, so that every answer names the entry that decided it.
///
/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are matched as IPv4, both as addresses looked
/// up and as prefixes of `/96` or longer given to the set.
///
/// ```
/// use std::net::IpAddr;
/// use b2b_auth_policy::IpSet;
///
/// let partners = IpSet::parse(["192.0.2.0/24", "2001:db8::/32", "198.51.100.7"])?;
/// let ip: IpAddr = "::ffff:192.0.2.44".parse()?;
/// assert_eq!(partners.lookup(ip).map(|net| net.to_string()).as_deref(), Some("192.0.2.0/24"));
/// assert!(partners.contains("198.51.100.7".parse()?));
/// assert!(!partners.contains("203.0.113.1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct IpSet {
    v4: Table<u32>,
    v6: Table<u128>,
    warnings: Vec<IpSetWarning>,
}

impl IpSet {
    /// An empty set: matches nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder, to choose the [`CidrDialect`] or add typed networks.
    pub fn builder() -> IpSetBuilder {
        IpSetBuilder::default()
    }

    /// Parses CIDRs (or bare addresses) in the [`CidrDialect::Strict`] dialect.
    ///
    /// # Errors
    /// The first entry that does not parse, as an [`IpSetError`] naming it.
    pub fn parse<I>(cidrs: I) -> Result<Self, IpSetError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::builder().cidrs(cidrs).build()
    }

    /// True when a network of the set holds `ip`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.lookup(ip).is_some()
    }

    /// The network of the set that holds `ip` (the widest, when networks were nested).
    pub fn lookup(&self, ip: IpAddr) -> Option<IpNet> {
        match normalize(ip) {
            IpAddr::V4(v4) => self.v4.lookup(u32::from(v4)),
            IpAddr::V6(v6) => self.v6.lookup(u128::from(v6)),
        }
    }

    /// The number of networks after duplicates and covered prefixes were dropped.
    pub fn len(&self) -> usize {
        self.v4.nets.len() + self.v6.nets.len()
    }

    /// True when the set matches nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The networks of the set, IPv4 first, each in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = IpNet> + '_ {
        self.v4.nets.iter().chain(&self.v6.nets).copied()
    }

    /// What was accepted but looks like a mistake (also logged at `warn` when the set is built).
    pub fn warnings(&self) -> &[IpSetWarning] {
        &self.warnings
    }
}

/// Builds an [`IpSet`]. Entries are checked when [`build`](Self::build) runs.
#[derive(Clone, Debug, Default)]
pub struct IpSetBuilder {
    dialect: CidrDialect,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
enum Entry {
    Text(String),
    Net(IpNet),
}

impl IpSetBuilder {
    /// How CIDR text is read. Default: [`CidrDialect::Strict`].
    pub fn dialect(mut self, dialect: CidrDialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Adds one CIDR or bare address.
    pub fn cidr(mut self, cidr: impl Into<String>) -> Self {
        self.entries.push(Entry::Text(cidr.into()));
        self
    }

    /// Adds CIDRs or bare addresses.
    pub fn cidrs<I>(mut self, cidrs: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.entries.extend(cidrs.into_iter().map(|c| Entry::Text(c.as_ref().to_owned())));
        self
    }

    /// Adds a typed network; host bits and `/0` are checked as for text in the dialect.
    pub fn net(mut self, net: IpNet) -> Self {
        self.entries.push(Entry::Net(net));
        self
    }

    /// Checks every entry and compiles the set.
    ///
    /// # Errors
    /// The first entry the dialect refuses.
    pub fn build(self) -> Result<IpSet, IpSetError> {
        let mut warnings = Vec::new();
        let mut nets = Vec::with_capacity(self.entries.len());
        for entry in &self.entries {
            let (input, net) = match entry {
                Entry::Text(text) => (excerpt(text), parse_cidr(text, self.dialect)?),
                Entry::Net(net) => (net.to_string(), *net),
            };
            let net = check_net(&input, net, self.dialect, &mut warnings)?;
            nets.push((input, net));
        }
        // Widest first among equal starts, so that a covering network is kept and the networks
        // it covers become warnings.
        nets.sort_by_key(|(_, net)| (matches!(net, IpNet::V6(_)), start(net), net.prefix_len()));
        let mut set = IpSet::default();
        for (input, net) in nets {
            let last =
                if matches!(net, IpNet::V4(_)) { set.v4.nets.last() } else { set.v6.nets.last() };
            if let Some(&kept) = last.filter(|kept| kept.contains(&net)) {
                let kind = if kept == net {
                    IpSetWarningKind::Duplicate
                } else {
                    IpSetWarningKind::CoveredBy { network: kept }
                };
                warnings.push(IpSetWarning { input, kind });
                continue;
            }
            match net {
                IpNet::V4(v4) => {
                    set.v4.push(u32::from(v4.network()), u32::from(v4.broadcast()), net);
                }
                IpNet::V6(v6) => {
                    set.v6.push(u128::from(v6.network()), u128::from(v6.broadcast()), net);
                }
            }
        }
        for warning in &warnings {
            tracing::warn!(%warning, "ip set entry accepted with a warning");
        }
        set.warnings = warnings;
        Ok(set)
    }
}

fn start(net: &IpNet) -> u128 {
    match net {
        IpNet::V4(v4) => u128::from(u32::from(v4.network())),
        IpNet::V6(v6) => u128::from(v6.network()),
    }
}

/// Parses `addr/len` or a bare address; the prefix length is plain decimal without a leading
/// zero or sign.
fn parse_cidr(text: &str, dialect: CidrDialect) -> Result<IpNet, IpSetError> {
    let input = || excerpt(text);
    let (addr_text, len_text) = match text.split_once('/') {
        Some((addr, len)) => (addr, Some(len)),
        None => (text, None),
    };
    let addr = parse_ip_unmapped(addr_text)
        .map_err(|source| IpSetError::InvalidAddress { input: input(), source })?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len_text {
        None if dialect == CidrDialect::Waf => {
            return Err(IpSetError::BareAddress { input: input() });
        }
        None => max,
        Some(len)
            if !len.is_empty()
                && len.len() <= 3
                && len.bytes().all(|b| b.is_ascii_digit())
                && (len == "0" || !len.starts_with('0')) =>
        {
            len.parse::<u8>()
                .ok()
                .filter(|&l| l <= max)
                .ok_or_else(|| IpSetError::InvalidPrefixLength { input: input() })?
        }
        Some(_) => return Err(IpSetError::InvalidPrefixLength { input: input() }),
    };
    IpNet::new(addr, len).map_err(|_| IpSetError::InvalidPrefixLength { input: input() })
}

/// Applies the dialect's host-bit and `/0` rules and maps `::ffff:0:0/96` prefixes to IPv4.
fn check_net(
    input: &str,
    net: IpNet,
    dialect: CidrDialect,
    warnings: &mut Vec<IpSetWarning>,
) -> Result<IpNet, IpSetError> {
    let net = map_v4(net);
    let masked = net.trunc();
    if masked != net {
        if dialect != CidrDialect::Iam {
            return Err(IpSetError::HostBitsSet { input: input.to_owned(), network: masked });
        }
        let kind = IpSetWarningKind::HostBitsMasked { network: masked };
        warnings.push(IpSetWarning { input: input.to_owned(), kind });
    }
    if masked.prefix_len() == 0 {
        if dialect != CidrDialect::Iam {
            return Err(IpSetError::MatchesEverything { input: input.to_owned() });
        }
        let kind = IpSetWarningKind::MatchesEverything;
        warnings.push(IpSetWarning { input: input.to_owned(), kind });
    }
    Ok(masked)
}

fn map_v4(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        _ => net,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use ipnet::Ipv6Net;
    use proptest::prelude::*;

    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn lookup_names_the_widest_network() {
        let set =
            IpSet::parse(["10.1.0.0/16", "10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]).unwrap();
        assert_eq!(set.lookup(ip("10.1.2.3")), Some(net("10.0.0.0/8")));
        assert_eq!(set.lookup(ip("192.0.2.7")), Some(net("192.0.2.7/32")));
        assert_eq!(set.lookup(ip("192.0.2.8")), None);
        assert_eq!(set.lookup(ip("2001:db8:ffff::1")), Some(net("2001:db8::/32")));
        assert_eq!(set.lookup(ip("2001:db9::1")), None);
        assert_eq!(set.len(), 3);
        assert_eq!(
            set.warnings()[0].kind(),
            &IpSetWarningKind::CoveredBy { network: net("10.0.0.0/8") }
        );
    }

    #[test]
    fn boundaries_are_inclusive() {
        let set = IpSet::parse(["192.0.2.0/24"]).unwrap();
        assert!(set.contains(ip("192.0.2.0")));
        assert!(set.contains(ip("192.0.2.255")));
        assert!(!set.contains(ip("192.0.1.255")));
        assert!(!set.contains(ip("192.0.3.0")));
    }

    #[test]
    fn families_do_not_mix_but_mapped_addresses_are_ipv4() {
        let set = IpSet::parse(["::ffff:192.0.2.0/120", "0.0.0.0/1"]).unwrap();
        assert_eq!(set.iter().collect::<Vec<_>>(), [net("0.0.0.0/1"), net("192.0.2.0/24")]);
        assert!(set.contains(ip("::ffff:192.0.2.9")));
        assert!(!set.contains(ip("::1")));
        assert!(!IpSet::parse(["::/1"]).unwrap().contains(ip("10.0.0.1")));
    }

    #[test]
    fn strict_dialect_refuses_host_bits_and_slash_zero() {
        assert_eq!(
            IpSet::parse(["10.0.0.1/8"]).unwrap_err(),
            IpSetError::HostBitsSet { input: "10.0.0.1/8".into(), network: net("10.0.0.0/8") }
        );
        assert!(matches!(
            IpSet::parse(["0.0.0.0/0"]).unwrap_err(),
            IpSetError::MatchesEverything { .. }
        ));
        assert!(matches!(
            IpSet::builder().net(net("::/0")).build().unwrap_err(),
            IpSetError::MatchesEverything { .. }
        ));
    }

    #[test]
    fn iam_dialect_masks_with_warnings() {
        let set = IpSet::builder()
            .dialect(CidrDialect::Iam)
            .cidrs(["10.0.0.1/8", "0.0.0.0/0", "10.0.0.0/8"])
            .build()
            .unwrap();
        assert!(set.contains(ip("203.0.113.1")));
        let kinds: Vec<_> = set.warnings().iter().map(|w| w.kind().clone()).collect();
        assert!(kinds.contains(&IpSetWarningKind::HostBitsMasked { network: net("10.0.0.0/8") }));
        assert!(kinds.contains(&IpSetWarningKind::MatchesEverything));
        assert!(kinds.contains(&IpSetWarningKind::CoveredBy { network: net("0.0.0.0/0") }));
    }

    #[test]
    fn waf_dialect_wants_cidr_notation() {
        let waf = |c: &str| IpSet::builder().dialect(CidrDialect::Waf).cidr(c).build();
        assert!(matches!(waf("192.0.2.1"), Err(IpSetError::BareAddress { .. })));
        assert!(waf("192.0.2.1/32").is_ok());
        assert!(matches!(waf("192.0.2.1/24"), Err(IpSetError::HostBitsSet { .. })));
    }

    #[test]
    fn duplicates_warn_once_each() {
        let set = IpSet::parse(["192.0.2.0/24", "192.0.2.0/24"]).unwrap();
        assert_eq!(set.len(), 1);
        assert_eq!(set.warnings()[0].kind(), &IpSetWarningKind::Duplicate);
    }

    #[test]
    fn malformed_cidrs_are_typed_errors() {
        for bad in ["10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/+8", "::/129", "/8", "a/8"]
        {
            assert!(IpSet::parse([bad]).is_err(), "{bad}");
        }
        assert!(matches!(
            IpSet::parse(["010.0.0.0/8"]).unwrap_err(),
            IpSetError::InvalidAddress { .. }
        ));
        assert!(matches!(
            IpSet::parse(["fe80::%1/64"]).unwrap_err(),
            IpSetError::InvalidAddress { .. }
        ));
    }

    /// The same question answered by scanning every network.
    fn linear_lookup(nets: &[IpNet], ip: IpAddr) -> bool {
        let ip = normalize(ip);
        nets.iter().any(|net| net.contains(&ip))
    }

    fn arb_net() -> impl Strategy<Value = IpNet> {
        prop_oneof![
            (any::<u32>(), 1u8..=32).prop_map(|(a, l)| {
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc())
            }),
            // A narrow IPv4 space so that prefixes overlap and nest often.
            (0u32..4096, 20u8..=32).prop_map(|(a, l)| {
                IpNet::V4(Ipv4Net::new(Ipv4Addr::from(0x0a00_0000 | a), l).unwrap().trunc())
            }),
            (any::<u128>(), 1u8..=128).prop_map(|(a, l)| {
                IpNet::V6(Ipv6Net::new(Ipv6Addr::from(a), l).unwrap().trunc())
            }),
        ]
    }

    fn arb_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<u32>().prop_map(|a| IpAddr::V4(Ipv4Addr::from(a))),
            (0u32..4096).prop_map(|a| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | a))),
            any::<u128>().prop_map(|a| IpAddr::V6(Ipv6Addr::from(a))),
        ]
    }

    proptest! {
        #[test]
        fn lookup_agrees_with_a_linear_scan(
            nets in proptest::collection::vec(arb_net(), 0..60),
            probes in proptest::collection::vec(arb_ip(), 1..40),
        ) {
            let set = nets.iter().fold(IpSet::builder(), |b, n| b.net(*n)).build().unwrap();
            // Every network given, and their edges, are probed too.
            let edges = nets.iter().flat_map(|n| [n.network(), n.broadcast()]);
            for probe in probes.into_iter().chain(edges) {
                let found = set.lookup(probe);
                prop_assert_eq!(found.is_some(), linear_lookup(&nets, probe), "{}", probe);
                if let Some(found) = found {
                    prop_assert!(found.contains(&probe));
                    prop_assert!(nets.contains(&found));
                }
            }
        }
    }
}
