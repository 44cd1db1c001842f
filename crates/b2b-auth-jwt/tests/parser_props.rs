//! Property tests of the compact parser and the JWK Set parser, and a replay of the fuzz
//! corpora committed under `fuzz/corpus/` through the fuzz targets' entry points.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use b2b_auth_jwt::{Algorithm, CompactJws, JwkSet, VerifyErrorKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use serde_json::json;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

fn segment() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 1..200)
}

fn token(alg: Algorithm, kid: &str, payload: &[u8], signature: &[u8]) -> String {
    let header = json!({ "alg": alg.name(), "kid": kid }).to_string();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(input in ".{0,400}") {
        let _ = CompactJws::parse(&input);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_jwk_set_parser(input in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = JwkSet::from_json(&input);
    }

    #[test]
    fn well_formed_tokens_parse_to_their_header(
        alg in algorithm(),
        kid in "[ -~]{0,64}",
        payload in segment(),
        signature in segment(),
    ) {
        let token = token(alg, &kid, &payload, &signature);
        let jws = CompactJws::parse(&token).unwrap();
        prop_assert_eq!(jws.header().alg(), alg);
        prop_assert_eq!(jws.header().kid(), Some(kid.as_str()));
    }

    #[test]
    fn non_canonical_base64_is_refused(
        alg in algorithm(),
        payload in segment(),
        signature in segment(),
        which in 0usize..3,
    ) {
        let good = token(alg, "k", &payload, &signature);
        let mut segments: Vec<String> = good.split('.').map(str::to_owned).collect();
        // Standard base64 with padding: the same bytes, another spelling.
        let bytes = URL_SAFE_NO_PAD.decode(&segments[which]).unwrap();
        let padded = STANDARD.encode(&bytes);
        prop_assume!(padded != segments[which]);
        segments[which] = padded;
        let error = CompactJws::parse(&segments.join(".")).unwrap_err();
        prop_assert_eq!(error.kind(), VerifyErrorKind::Malformed);
    }

    #[test]
    fn segment_counts_other_than_three_are_refused(
        parts in prop::collection::vec("[A-Za-z0-9_-]{2,20}", 0..7),
    ) {
        prop_assume!(parts.len() != 3);
        let error = CompactJws::parse(&parts.join(".")).unwrap_err();
        prop_assert_eq!(error.kind(), VerifyErrorKind::Malformed);
    }

    #[test]
    fn tokens_over_the_cap_are_refused_before_parsing(extra in 1usize..1000) {
        let input = "a".repeat(b2b_auth_jwt::DEFAULT_MAX_TOKEN_LEN + extra);
        prop_assert_eq!(CompactJws::parse(&input).unwrap_err().kind(), VerifyErrorKind::TokenTooLarge);
    }
}

#[test]
fn committed_fuzz_corpora_replay_without_panics() {
    type Target = fn(&[u8]);
    let targets: [(&str, Target); 2] = [
        ("compact_jws", b2b_auth_jwt::fuzzing::compact_jws),
        ("jwk_set", b2b_auth_jwt::fuzzing::jwk_set),
    ];
    for (target, run) in targets {
        let corpus = b2b_auth_testkit::fuzz_corpus(target);
        assert!(corpus.len() >= 4, "{target}: only {} corpus files", corpus.len());
        for (_, data) in corpus {
            run(&data);
        }
    }
}
