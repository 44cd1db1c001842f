//! Verification throughput of one Cognito-shaped access token, per algorithm:
//! (a) the aws-lc-rs signature primitive alone on the token's signing input (key pre-parsed),
//! (b) `jsonwebtoken::decode` with a prepared key, (c) our verifier without its cache,
//! (d) our verifier on a cache hit. See benches/README.md for the figures.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // bench code: a panic is the failure report
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use b2b_auth_testkit::TestKey;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use common::{ISSUER, cognito_claims, cognito_verifier, ready};

fn primitive(key: TestKey) -> ParsedPublicKey {
    let jwk = key.public_jwk_json();
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    match key.algorithm() {
        jsonwebtoken::Algorithm::RS256 => RsaPublicKeyComponents { n: field("n"), e: field("e") }
            .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
            .unwrap(),
        jsonwebtoken::Algorithm::ES256 => {
            let point = [&[4u8][..], &field("x"), &field("y")].concat();
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).unwrap()
        }
        _ => ParsedPublicKey::new(&signature::ED25519, field("x")).unwrap(),
    }
}

fn verify(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1)); // one token per iteration: tokens/s
    for key in [TestKey::RSA, TestKey::P256, TestKey::ED25519] {
        let alg = format!("{:?}", key.algorithm());
        let token = key.sign(&cognito_claims());
        let (signing_input, signature_b64) = token.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature_b64).unwrap();

        let parsed = primitive(key);
        group.bench_function(format!("{alg}/a_aws_lc_primitive"), |b| {
            b.iter(|| {
                parsed
                    .verify_sig(black_box(signing_input.as_bytes()), black_box(&signature))
                    .unwrap()
            });
        });

        let decoding = jsonwebtoken::DecodingKey::from_jwk(&key.public_jwk()).unwrap();
        let mut validation = jsonwebtoken::Validation::new(key.algorithm());
        validation.set_issuer(&[ISSUER]);
        validation.validate_aud = false;
        group.bench_function(format!("{alg}/b_jsonwebtoken_decode"), |b| {
            b.iter(|| {
                jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &decoding, &validation)
                    .unwrap()
            });
        });

        let uncached = cognito_verifier(key, 0);
        group.bench_function(format!("{alg}/c_verifier_no_cache"), |b| {
            b.iter(|| ready(uncached.verify(black_box(&token))).unwrap());
        });

        let cached = cognito_verifier(key, 1_000);
        ready(cached.verify(&token)).unwrap();
        group.bench_function(format!("{alg}/d_verifier_cache_hit"), |b| {
            b.iter(|| ready(cached.verify(black_box(&token))).unwrap());
        });
    }
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
