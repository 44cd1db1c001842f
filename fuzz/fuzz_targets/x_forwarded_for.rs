//! The X-Forwarded-For parser on arbitrary header lines (one per input line), then the
//! trusted-proxy walk and the WAF-style rule over the same header.
#![no_main]

use b2b_auth_policy::{
    ClientIpSource, FallbackBehavior, ForwardedIpConfig, ForwardedIpPosition, IpRule, IpSet,
    TrustedProxies, parse_x_forwarded_for,
};
use http::{HeaderMap, HeaderValue, header::HeaderName};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let _ = parse_x_forwarded_for(&lines);

    let mut headers = HeaderMap::new();
    for line in &lines {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append("x-forwarded-for", value);
        }
    }
    let Ok(proxies) = IpSet::parse(["10.0.0.0/8", "fd00::/8"]) else { return };
    let source = ClientIpSource::TrustedProxies(TrustedProxies::new(proxies));
    let peer = std::net::SocketAddr::from(([10, 0, 0, 1], 443));
    let _ = source.resolve(peer, &headers);
    let Ok(set) = IpSet::parse(["198.51.100.0/24"]) else { return };
    for position in [ForwardedIpPosition::First, ForwardedIpPosition::Last, ForwardedIpPosition::Any] {
        let config = ForwardedIpConfig::new(
            HeaderName::from_static("x-forwarded-for"),
            position,
            FallbackBehavior::NoMatch,
        );
        let _ = IpRule::block(set.clone()).forwarded_ip(config).evaluate(peer.ip(), &headers);
    }
});
