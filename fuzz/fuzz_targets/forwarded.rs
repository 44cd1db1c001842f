//! The RFC 7239 Forwarded parser on arbitrary header lines (one per input line), then the
//! trusted-proxy walk over the same header.
#![no_main]

use b2b_auth_policy::{ClientIpSource, IpSet, ProxyHeaders, TrustedProxies, parse_forwarded};
use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let _ = parse_forwarded(&lines);

    let mut headers = HeaderMap::new();
    for line in &lines {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append("forwarded", value);
        }
    }
    let Ok(proxies) = IpSet::parse(["10.0.0.0/8", "fd00::/8"]) else { return };
    let source =
        ClientIpSource::TrustedProxies(TrustedProxies::new(proxies).headers(ProxyHeaders::Forwarded));
    let _ = source.resolve(std::net::SocketAddr::from(([10, 0, 0, 1], 443)), &headers);
});
