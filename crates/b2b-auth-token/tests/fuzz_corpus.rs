//! Replays the committed fuzz corpora (`fuzz/corpus/token_*`) through the entry points the
//! fuzz targets drive, so that an input that once crashed them stays fixed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use b2b_auth_testkit::fuzz_corpus;
use b2b_auth_token::fuzzing;

#[test]
fn token_response_corpus() {
    for (_, data) in fuzz_corpus("token_response") {
        fuzzing::token_response(&data);
    }
}

#[test]
fn token_envelope_corpus() {
    let mut parsed = 0;
    for (path, data) in fuzz_corpus("token_envelope") {
        fuzzing::token_envelope(&data);
        if b2b_auth_token::TokenEnvelope::from_json(std::str::from_utf8(&data).unwrap_or(""))
            .is_ok()
        {
            parsed += 1;
            assert!(path.ends_with("ok"), "{} should have been refused", path.display());
        }
    }
    assert_eq!(parsed, 1, "the valid seed parses");
}
