//! The connection's peer address, which the layers read from the request extensions.

use std::net::SocketAddr;

use b2b_auth_policy::{ClientIp, Decision, Provenance};
use http::Request;

/// The socket address of the connection's peer.
///
/// axum's `ConnectInfo<SocketAddr>` is read directly (feature `axum`). Other servers (hyper,
/// tonic) insert a `PeerAddr` into each request's extensions, so that the layers can resolve
/// the client IP:
///
/// ```
/// use std::net::SocketAddr;
/// use b2b_auth_tower::PeerAddr;
///
/// let peer: SocketAddr = "203.0.113.7:50123".parse()?;
/// let mut request = http::Request::new(());
/// request.extensions_mut().insert(PeerAddr(peer));
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct PeerAddr(pub SocketAddr);

/// The peer address in the request's extensions: a [`PeerAddr`], else axum's `ConnectInfo`.
pub(crate) fn peer_addr<B>(request: &Request<B>) -> Option<SocketAddr> {
    if let Some(PeerAddr(addr)) = request.extensions().get::<PeerAddr>() {
        return Some(*addr);
    }
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        request.extensions().get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    None
}

/// The client address for audit events: as resolved by an enforce-policy layer further out
/// (trusted proxies considered), else the peer address.
pub(crate) fn client_ip<B>(request: &Request<B>) -> Option<ClientIp> {
    match request.extensions().get::<Decision>().and_then(Decision::client_ip) {
        Some(client) => Some(*client),
        None => peer_addr(request).map(|peer| ClientIp::new(peer.ip(), Provenance::Peer)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_comes_from_the_extensions() {
        let addr: SocketAddr = "192.0.2.1:1234".parse().unwrap();
        let mut request = Request::new(());
        assert_eq!(peer_addr(&request), None);
        request.extensions_mut().insert(PeerAddr(addr));
        assert_eq!(peer_addr(&request), Some(addr));
    }

    #[cfg(feature = "axum")]
    #[test]
    fn axum_connect_info_is_read_too() {
        let addr: SocketAddr = "192.0.2.2:1234".parse().unwrap();
        let mut request = Request::new(());
        request.extensions_mut().insert(axum::extract::ConnectInfo(addr));
        assert_eq!(peer_addr(&request), Some(addr));
    }
}
