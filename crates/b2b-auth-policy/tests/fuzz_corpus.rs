//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`) through the parsers the
//! fuzz targets drive, so that an input that once crashed them stays fixed. The fuzz targets
//! themselves run with `cargo +nightly fuzz run <target>` from `fuzz/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::path::PathBuf;

use b2b_auth_policy::{
    Api, RequestContext, ResourcePolicy, parse_forwarded, parse_x_forwarded_for,
};

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    b2b_auth_testkit::fuzz_corpus(target)
}

fn lines(data: &[u8]) -> Vec<&[u8]> {
    data.split(|&b| b == b'\n').collect()
}

#[test]
fn policy_json_corpus() {
    let mut compiled = 0;
    for (_, data) in corpus("policy_json") {
        let Ok(json) = std::str::from_utf8(&data) else { continue };
        let api = Api::new("eu-west-1", "111122223333", "tires").unwrap();
        if let Ok(policy) = ResourcePolicy::parse(json, api) {
            compiled += 1;
            let ctx = RequestContext::new("POST", "/orders/1").source_ip([198, 51, 100, 3].into());
            let _ = policy.evaluate(&ctx).to_string();
        }
    }
    assert!(compiled > 0, "no seed compiles: the corpus no longer exercises evaluation");
}

#[test]
fn x_forwarded_for_corpus() {
    for (_, data) in corpus("x_forwarded_for") {
        let _ = parse_x_forwarded_for(lines(&data));
    }
}

#[test]
fn forwarded_corpus() {
    for (_, data) in corpus("forwarded") {
        let _ = parse_forwarded(lines(&data));
    }
}
