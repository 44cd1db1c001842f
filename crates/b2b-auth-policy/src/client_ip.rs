//! Which address is the client: the socket peer, or the first untrusted hop of a forwarding
//! chain written by trusted proxies.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;

use crate::addr::normalize;
use crate::error::ClientIpError;
use crate::forwarded::{
    ForwardedElement, ForwardedHeader, Node, parse_forwarded, parse_x_forwarded_for,
};
use crate::ipset::IpSet;

/// A resolved client address and where it came from.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ClientIp {
    addr: IpAddr,
    provenance: Provenance,
}

impl ClientIp {
    /// A client address with its provenance; IPv4-mapped IPv6 is normalised to IPv4.
    pub fn new(addr: IpAddr, provenance: Provenance) -> Self {
        Self { addr: normalize(addr), provenance }
    }

    /// The address.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// Where the address came from.
    pub fn provenance(&self) -> Provenance {
        self.provenance
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.addr, self.provenance)
    }
}

/// Where a [`ClientIp`] came from.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
#[non_exhaustive]
pub enum Provenance {
    /// The connection's peer address.
    Peer,
    /// A hop of a forwarding header written by trusted proxies.
    Header {
        /// The header.
        header: ForwardedHeader,
        /// The 0-based index of the hop, from the left.
        hop: usize,
        /// The number of hops in the header.
        hops: usize,
    },
}

impl fmt::Display for Provenance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Peer => f.write_str("peer"),
            Self::Header { header, hop, hops } => write!(f, "{header} hop {hop} of {hops}"),
        }
    }
}

/// How the client address is established. Default: [`ClientIpSource::Peer`].
///
/// ```
/// use std::net::SocketAddr;
/// use b2b_auth_policy::{ClientIpSource, IpSet, Provenance, TrustedProxies};
/// use http::HeaderMap;
///
/// let source = ClientIpSource::TrustedProxies(TrustedProxies::new(IpSet::parse(["10.0.0.0/8"])?));
/// let mut headers = HeaderMap::new();
/// // The client prepended a forged address; the load balancer appended the real one.
/// headers.insert("x-forwarded-for", "192.0.2.1, 203.0.113.9, 10.0.0.7".parse()?);
/// let peer: SocketAddr = "10.0.0.2:41000".parse()?;
///
/// let client = source.resolve(peer, &headers)?;
/// assert_eq!(client.addr().to_string(), "203.0.113.9");
/// assert!(matches!(client.provenance(), Provenance::Header { hop: 1, hops: 3, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum ClientIpSource {
    /// The connection's peer address; forwarding headers are ignored.
    #[default]
    Peer,
    /// Forwarding headers, when and only when the peer is a trusted proxy.
    TrustedProxies(TrustedProxies),
}

impl ClientIpSource {
    /// The client address of a request that arrived from `peer` with `headers`.
    ///
    /// # Errors
    /// [`ClientIpError`] when the peer is a trusted proxy and its forwarding headers are
    /// malformed, conflicting, missing (if so configured), or lead to a hop that is not an
    /// address.
    pub fn resolve(
        &self,
        peer: SocketAddr,
        headers: &HeaderMap,
    ) -> Result<ClientIp, ClientIpError> {
        match self {
            Self::Peer => Ok(ClientIp::new(peer.ip(), Provenance::Peer)),
            Self::TrustedProxies(proxies) => proxies.resolve(peer.ip(), headers),
        }
    }
}

/// Which forwarding headers trusted proxies write.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum ProxyHeaders {
    /// `X-Forwarded-For` only (what most load balancers write). The default.
    #[default]
    XForwardedFor,
    /// `Forwarded` (RFC 7239) only.
    Forwarded,
    /// Both; when both are present they must name the same client.
    Both,
}

/// What to do when a trusted proxy sends no forwarding header.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
#[non_exhaustive]
pub enum MissingHeader {
    /// Refuse the request ([`ClientIpError::MissingHeader`]). The default.
    #[default]
    Reject,
    /// Take the proxy itself as the client (for example its health checks).
    UsePeer,
}

/// A trusted-proxy chain: the CIDRs of your own proxies and which headers they write.
///
/// The chain is walked from the right (the hop nearest to us): trusted hops are skipped, and
/// the first untrusted one is the client. A client can prepend whatever it likes to the
/// header, but it cannot make our proxies append its forgeries, so the walk never reaches
/// them. A hop that is `unknown`, obfuscated, or a `Forwarded` element without `for=`, reached
/// before an untrusted address, is refused rather than skipped. When every hop is trusted, the
/// leftmost one is the client. When the peer is not a trusted proxy, headers are ignored (the
/// peer wrote them) and the peer is the client.
#[derive(Clone, Debug)]
pub struct TrustedProxies {
    proxies: IpSet,
    headers: ProxyHeaders,
    missing: MissingHeader,
}

impl TrustedProxies {
    /// Trust the proxies in `proxies`, reading `X-Forwarded-For` and refusing requests from
    /// them without it.
    pub fn new(proxies: IpSet) -> Self {
        Self { proxies, headers: ProxyHeaders::default(), missing: MissingHeader::default() }
    }

    /// Which headers the proxies write. Default: [`ProxyHeaders::XForwardedFor`].
    pub fn headers(mut self, headers: ProxyHeaders) -> Self {
        self.headers = headers;
        self
    }

    /// What to do when a trusted proxy sends no header. Default: [`MissingHeader::Reject`].
    pub fn missing_header(mut self, missing: MissingHeader) -> Self {
        self.missing = missing;
        self
    }

    fn resolve(&self, peer: IpAddr, headers: &HeaderMap) -> Result<ClientIp, ClientIpError> {
        let peer = normalize(peer);
        if !self.proxies.contains(peer) {
            return Ok(ClientIp::new(peer, Provenance::Peer));
        }
        let xff = match self.headers {
            ProxyHeaders::XForwardedFor | ProxyHeaders::Both => {
                self.client_from(ForwardedHeader::XForwardedFor, headers)?
            }
            ProxyHeaders::Forwarded => None,
        };
        let forwarded = match self.headers {
            ProxyHeaders::Forwarded | ProxyHeaders::Both => {
                self.client_from(ForwardedHeader::Forwarded, headers)?
            }
            ProxyHeaders::XForwardedFor => None,
        };
        match (xff, forwarded) {
            (Some(a), Some(b)) if a.addr != b.addr => {
                Err(ClientIpError::Conflict { x_forwarded_for: a.addr, forwarded: b.addr })
            }
            (Some(client), _) | (None, Some(client)) => Ok(client),
            (None, None) => match self.missing {
                MissingHeader::Reject => Err(ClientIpError::MissingHeader { peer }),
                MissingHeader::UsePeer => Ok(ClientIp::new(peer, Provenance::Peer)),
            },
        }
    }

    /// The client according to one header, or `None` when the header is absent.
    fn client_from(
        &self,
        header: ForwardedHeader,
        headers: &HeaderMap,
    ) -> Result<Option<ClientIp>, ClientIpError> {
        let lines = headers.get_all(header.name());
        if lines.iter().next().is_none() {
            return Ok(None);
        }
        match header {
            ForwardedHeader::XForwardedFor => {
                self.walk(header, parse_x_forwarded_for(lines)?.into_iter().map(Some))
            }
            ForwardedHeader::Forwarded => {
                self.walk(header, parse_forwarded(lines)?.iter().map(ForwardedElement::for_node))
            }
        }
    }

    /// Right to left: the first hop outside the trusted proxies is the client.
    fn walk(
        &self,
        header: ForwardedHeader,
        hops: impl DoubleEndedIterator<Item = Option<Node>> + ExactSizeIterator,
    ) -> Result<Option<ClientIp>, ClientIpError> {
        let count = hops.len();
        let mut leftmost = None;
        for (hop, node) in hops.enumerate().rev() {
            let addr = match node {
                Some(Node::Ip { addr, .. }) => addr,
                other => {
                    let node = match other {
                        Some(Node::Obfuscated) => "an obfuscated identifier",
                        None => "no for parameter",
                        _ => "unknown",
                    };
                    return Err(ClientIpError::UnresolvableHop { header, hop, node });
                }
            };
            let client = ClientIp::new(addr, Provenance::Header { header, hop, hops: count });
            if !self.proxies.contains(addr) {
                return Ok(Some(client));
            }
            leftmost = Some(client);
        }
        Ok(leftmost)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    fn source(headers: ProxyHeaders) -> ClientIpSource {
        let proxies = IpSet::parse(["10.0.0.0/8", "2001:db8:ffff::/48"]).unwrap();
        ClientIpSource::TrustedProxies(TrustedProxies::new(proxies).headers(headers))
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    const PROXY: &str = "10.0.0.2:443";

    fn resolve(
        source: &ClientIpSource,
        peer: &str,
        pairs: &[(&str, &str)],
    ) -> Result<ClientIp, ClientIpError> {
        source.resolve(peer.parse().unwrap(), &headers(pairs))
    }

    #[test]
    fn peer_source_ignores_headers_and_normalises_mapped_peers() {
        let client = resolve(
            &ClientIpSource::Peer,
            "[::ffff:192.0.2.1]:1",
            &[("x-forwarded-for", "1.1.1.1")],
        )
        .unwrap();
        assert_eq!(client, ClientIp::new("192.0.2.1".parse().unwrap(), Provenance::Peer));
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_claims() {
        let client =
            resolve(&source(ProxyHeaders::Both), "192.0.2.1:1", &[("x-forwarded-for", "10.0.0.9")])
                .unwrap();
        assert_eq!(client.addr().to_string(), "192.0.2.1");
        assert_eq!(client.provenance(), Provenance::Peer);
    }

    #[test]
    fn multiple_header_lines_form_one_chain() {
        let client = resolve(
            &source(ProxyHeaders::XForwardedFor),
            PROXY,
            &[("x-forwarded-for", "6.6.6.6, 192.0.2.1"), ("x-forwarded-for", "10.1.1.1")],
        )
        .unwrap();
        assert_eq!(client.addr().to_string(), "192.0.2.1");
        let header = ForwardedHeader::XForwardedFor;
        assert_eq!(client.provenance(), Provenance::Header { header, hop: 1, hops: 3 });
    }

    #[test]
    fn all_trusted_chain_yields_the_leftmost_hop() {
        let client = resolve(
            &source(ProxyHeaders::XForwardedFor),
            PROXY,
            &[("x-forwarded-for", "10.9.9.9, 10.1.1.1")],
        )
        .unwrap();
        assert_eq!(client.addr().to_string(), "10.9.9.9");
    }

    #[test]
    fn unknown_hop_before_an_untrusted_one_is_refused() {
        let err = resolve(
            &source(ProxyHeaders::XForwardedFor),
            PROXY,
            &[("x-forwarded-for", "192.0.2.1, unknown, 10.1.1.1")],
        )
        .unwrap_err();
        assert!(matches!(err, ClientIpError::UnresolvableHop { hop: 1, node: "unknown", .. }));
        // Left of the client, an unknown hop does not matter.
        let client = resolve(
            &source(ProxyHeaders::XForwardedFor),
            PROXY,
            &[("x-forwarded-for", "unknown, 192.0.2.1, 10.1.1.1")],
        )
        .unwrap();
        assert_eq!(client.addr().to_string(), "192.0.2.1");
    }

    #[test]
    fn forwarded_header_walk_and_missing_for() {
        let source = source(ProxyHeaders::Forwarded);
        let client = resolve(
            &source,
            PROXY,
            &[("forwarded", r#"for=192.0.2.1, for="[2001:db8:ffff::1]:80";proto=https"#)],
        )
        .unwrap();
        assert_eq!(client.addr().to_string(), "192.0.2.1");
        let err =
            resolve(&source, PROXY, &[("forwarded", "for=192.0.2.1, proto=https")]).unwrap_err();
        assert!(matches!(err, ClientIpError::UnresolvableHop { node: "no for parameter", .. }));
        let err = resolve(&source, PROXY, &[("forwarded", "for=_hidden")]).unwrap_err();
        assert!(matches!(
            err,
            ClientIpError::UnresolvableHop { node: "an obfuscated identifier", .. }
        ));
    }

    #[test]
    fn both_headers_must_agree() {
        let source = source(ProxyHeaders::Both);
        let agree = [("x-forwarded-for", "192.0.2.1"), ("forwarded", "for=192.0.2.1")];
        assert_eq!(resolve(&source, PROXY, &agree).unwrap().addr().to_string(), "192.0.2.1");
        let disagree = [("x-forwarded-for", "192.0.2.1"), ("forwarded", "for=192.0.2.2")];
        assert!(matches!(resolve(&source, PROXY, &disagree), Err(ClientIpError::Conflict { .. })));
        let only_one = [("forwarded", "for=192.0.2.2")];
        assert_eq!(resolve(&source, PROXY, &only_one).unwrap().addr().to_string(), "192.0.2.2");
    }

    #[test]
    fn a_header_not_configured_is_ignored() {
        let client = resolve(
            &source(ProxyHeaders::XForwardedFor),
            PROXY,
            &[("x-forwarded-for", "192.0.2.1"), ("forwarded", "for=garbage!")],
        )
        .unwrap();
        assert_eq!(client.addr().to_string(), "192.0.2.1");
    }

    #[test]
    fn missing_header_rejects_or_uses_the_peer() {
        let err = resolve(&source(ProxyHeaders::XForwardedFor), PROXY, &[]).unwrap_err();
        assert_eq!(err, ClientIpError::MissingHeader { peer: "10.0.0.2".parse().unwrap() });
        let proxies = IpSet::parse(["10.0.0.0/8"]).unwrap();
        let lenient = ClientIpSource::TrustedProxies(
            TrustedProxies::new(proxies).missing_header(MissingHeader::UsePeer),
        );
        assert_eq!(resolve(&lenient, PROXY, &[]).unwrap().provenance(), Provenance::Peer);
    }

    #[test]
    fn malformed_header_from_a_trusted_proxy_is_an_error() {
        let err = resolve(
            &source(ProxyHeaders::XForwardedFor),
            PROXY,
            &[("x-forwarded-for", "1.2.3.4,,")],
        )
        .unwrap_err();
        assert!(matches!(err, ClientIpError::Header(_)));
    }

    proptest! {
        /// Whatever a client prepends, the walk stops at the address our proxies appended.
        #[test]
        fn prepended_hops_never_change_the_client(
            forged in proptest::collection::vec("[0-9a-f.:\\[\\] ,_unkow]{0,20}", 0..5),
            client in any::<u32>().prop_filter("untrusted", |a| a >> 24 != 10),
            proxies in proptest::collection::vec(any::<u32>(), 0..4),
        ) {
            let source = source(ProxyHeaders::XForwardedFor);
            let client = Ipv4Addr::from(client);
            let proxies = proxies.iter().map(|p| Ipv4Addr::from(0x0a00_0000 | (p & 0x00ff_ffff)).to_string());
            let appended: Vec<String> = std::iter::once(client.to_string()).chain(proxies).collect();
            let mut map = HeaderMap::new();
            for forged in &forged {
                if let Ok(value) = HeaderValue::from_str(forged) {
                    map.append("x-forwarded-for", value);
                }
            }
            map.append("x-forwarded-for", HeaderValue::from_str(&appended.join(", ")).unwrap());
            match source.resolve(PROXY.parse().unwrap(), &map) {
                Ok(resolved) => prop_assert_eq!(resolved.addr(), IpAddr::V4(client)),
                // A malformed forged part refuses the whole header: never a wrong client.
                Err(err) => prop_assert!(matches!(err, ClientIpError::Header(_)), "{}", err),
            }
        }
    }
}
