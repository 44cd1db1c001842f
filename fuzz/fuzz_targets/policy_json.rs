//! The resource-policy compiler on arbitrary documents, then evaluation of what compiles.
#![no_main]

use b2b_auth_policy::{Api, RequestContext, ResourcePolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(json) = std::str::from_utf8(data) else { return };
    let Ok(api) = Api::new("eu-west-1", "111122223333", "tires") else { return };
    let Ok(policy) = ResourcePolicy::parse(json, api) else { return };
    for lint in policy.lints() {
        let _ = lint.to_string();
    }
    for (method, path) in [("GET", "/"), ("POST", "/orders/1"), ("GET", "/a/../b")] {
        let ctx = RequestContext::new(method, path)
            .source_ip(std::net::Ipv4Addr::new(198, 51, 100, 3).into())
            .principal("car-orders")
            .key("b2b:Tags", "a")
            .key("b2b:Tags", "b");
        let _ = policy.evaluate(&ctx).to_string();
    }
});
