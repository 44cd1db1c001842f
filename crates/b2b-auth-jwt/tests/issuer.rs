//! Against our Cognito-shaped issuer over HTTP: valid tokens, every claim check, forged and
//! mangled tokens, issuer binding, rotation and the verified-token cache.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use std::time::Duration;

use b2b_auth_issuer::{Issuer, IssuerServer, SigningKey};
use b2b_auth_jwt::{ScopePolicy, TrustedIssuer, TrustedIssuerBuilder, Verifier, VerifyErrorKind};
use b2b_auth_testkit::{ManualClock, TestKey, jwt_parts, sample_pool, start_issuer};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{Value, json};

struct Setup {
    server: IssuerServer,
    clock: ManualClock,
}

impl Setup {
    /// The sample pool signing with the fixed test RSA key, on a manual clock.
    async fn start() -> Self {
        let clock = ManualClock::starting_now();
        let builder = Issuer::builder(sample_pool())
            .signing_key(TestKey::RSA.issuer_signing_key())
            .clock(clock.clone());
        Self { server: start_issuer(builder).await, clock }
    }

    fn issuer(&self) -> &Issuer {
        self.server.issuer()
    }

    /// The Cognito preset's checks, for this issuer.
    fn trusted(&self) -> TrustedIssuerBuilder {
        TrustedIssuer::builder(self.issuer().url())
            .jwks_uri(self.issuer().jwks_uri())
            .token_use("access")
            .scope_claims(["scope"])
            .client_ids(["car-orders"])
    }

    fn verifier_with(&self, trusted: TrustedIssuerBuilder) -> Verifier {
        Verifier::builder()
            .issuer(trusted.build().unwrap())
            .clock(self.clock.clone())
            .build()
            .unwrap()
    }

    fn verifier(&self) -> Verifier {
        self.verifier_with(self.trusted())
    }

    fn token(&self, client: &str) -> String {
        self.issuer().issue_token(client, None).unwrap().access_token().to_owned()
    }

    /// A genuine token's claims after `edit`, signed again with the issuer's own key.
    fn forged(&self, edit: impl FnOnce(&mut Value)) -> String {
        let (_, mut claims) = jwt_parts(&self.token("car-orders"));
        edit(&mut claims);
        TestKey::RSA.sign(&claims)
    }

    fn now(&self) -> u64 {
        self.clock.unix_secs()
    }
}

#[tokio::test]
async fn issuer_tokens_verify_with_typed_claims() {
    let setup = Setup::start().await;
    let verifier = setup.verifier();
    let token = setup.token("car-orders");
    let claims = verifier.verify(&token).await.unwrap();
    assert_eq!(claims.issuer(), setup.issuer().url());
    assert_eq!(claims.client_id(), Some("car-orders"));
    assert_eq!(claims.subject(), Some("car-orders"));
    assert_eq!(claims.token_use(), Some("access"));
    assert_eq!(
        claims.scopes().iter().collect::<Vec<_>>(),
        ["tires/orders.read", "tires/orders.write"]
    );
    assert_eq!(claims.header().kid(), Some(TestKey::RSA.kid()));
    assert_eq!(claims.get("version"), Some(&json!(2)));
    #[derive(serde::Deserialize)]
    struct Mine {
        jti: String,
        version: u8,
    }
    let mine: Mine = claims.deserialize().unwrap();
    assert_eq!((mine.jti.len(), mine.version), (36, 2));
    assert!(format!("{claims:?}").contains("car-orders"));
    assert!(!format!("{claims:?}").contains(&token[token.len() - 20..]), "no signature in Debug");

    let write = ScopePolicy::all(["tires/orders.write"]);
    assert!(verifier.verify_for(&token, &write).await.is_ok());
    let admin = ScopePolicy::all(["tires/admin"]);
    let denied = verifier.verify_for(&token, &admin).await.unwrap_err();
    assert_eq!(denied.kind(), VerifyErrorKind::InsufficientScope);
    assert_eq!(denied.scope_denied().unwrap().scope_param(), "tires/admin");
    assert_eq!(setup.issuer().stats().jwks_requests, 1, "one fetch, then cached keys");
}

#[tokio::test]
async fn time_claims_are_checked_with_leeway_on_every_call_and_cache_hit() {
    let setup = Setup::start().await;
    let verifier = setup.verifier();
    let token = setup.token("car-orders"); // valid 3600 s
    assert!(verifier.verify(&token).await.is_ok());
    setup.clock.advance(Duration::from_secs(3600 + 59));
    assert!(verifier.verify(&token).await.is_ok(), "inside the 60 s leeway (a cache hit)");
    setup.clock.advance(Duration::from_secs(1));
    assert_eq!(verifier.verify(&token).await.unwrap_err().kind(), VerifyErrorKind::Expired);

    let now = setup.now();
    let cases = [
        (json!({ "nbf": now + 61 }), VerifyErrorKind::NotYetValid),
        (json!({ "iat": now + 61 }), VerifyErrorKind::NotYetValid),
        (json!({ "exp": null }), VerifyErrorKind::InvalidClaim),
        (json!({ "exp": (now + 100).to_string() }), VerifyErrorKind::InvalidClaim),
        (json!({ "exp": now - 61 }), VerifyErrorKind::Expired),
    ];
    for (patch, expected) in cases {
        let token = setup.forged(|claims| {
            for (k, v) in patch.as_object().unwrap() {
                if v.is_null() {
                    claims.as_object_mut().unwrap().remove(k);
                } else {
                    claims[k] = v.clone();
                }
            }
        });
        assert_eq!(verifier.verify(&token).await.unwrap_err().kind(), expected, "{patch}");
    }
    let nbf_in_leeway = setup.forged(|c| c["nbf"] = json!(now + 59));
    assert!(verifier.verify(&nbf_in_leeway).await.is_ok());

    let aged = setup.verifier_with(setup.trusted().max_age(Duration::from_secs(600)));
    let old = setup.forged(|c| c["iat"] = json!(now - 661));
    assert_eq!(aged.verify(&old).await.unwrap_err().kind(), VerifyErrorKind::TooOld);
    let no_iat = setup.forged(|c| {
        c.as_object_mut().unwrap().remove("iat");
    });
    assert_eq!(aged.verify(&no_iat).await.unwrap_err().kind(), VerifyErrorKind::InvalidClaim);
}

#[tokio::test]
async fn issuer_client_and_token_use_are_required_to_match() {
    let setup = Setup::start().await;
    let verifier = setup.verifier();
    let other_client = setup.token("tire-orders");
    assert_eq!(
        verifier.verify(&other_client).await.unwrap_err().kind(),
        VerifyErrorKind::WrongAudience
    );
    let cases = [
        (
            setup.forged(|c| c["iss"] = json!("https://evil.example")),
            VerifyErrorKind::UntrustedIssuer,
        ),
        (
            setup.forged(|c| {
                c.as_object_mut().unwrap().remove("iss");
            }),
            VerifyErrorKind::UntrustedIssuer,
        ),
        (setup.forged(|c| c["iss"] = json!(5)), VerifyErrorKind::InvalidClaim),
        (setup.forged(|c| c["token_use"] = json!("id")), VerifyErrorKind::WrongTokenUse),
        (
            setup.forged(|c| {
                c.as_object_mut().unwrap().remove("token_use");
            }),
            VerifyErrorKind::WrongTokenUse,
        ),
        (
            setup.forged(|c| {
                c.as_object_mut().unwrap().remove("client_id");
            }),
            VerifyErrorKind::WrongAudience,
        ),
        (setup.forged(|c| c["client_id"] = json!(["car-orders"])), VerifyErrorKind::InvalidClaim),
        (setup.forged(|c| c["scope"] = json!(7)), VerifyErrorKind::InvalidClaim),
    ];
    for (token, expected) in cases {
        assert_eq!(verifier.verify(&token).await.unwrap_err().kind(), expected);
    }
    let by_audience = setup.verifier_with(
        TrustedIssuer::builder(setup.issuer().url())
            .jwks_uri(setup.issuer().jwks_uri())
            .audience("tires"),
    );
    let with_aud = setup.forged(|c| c["aud"] = json!(["cars", "tires"]));
    assert!(by_audience.verify(&with_aud).await.is_ok());
    let wrong_aud = setup.forged(|c| c["aud"] = json!("cars"));
    assert_eq!(
        by_audience.verify(&wrong_aud).await.unwrap_err().kind(),
        VerifyErrorKind::WrongAudience
    );
    assert_eq!(
        by_audience.verify(&setup.token("car-orders")).await.unwrap_err().kind(),
        VerifyErrorKind::WrongAudience,
        "no aud at all"
    );
    let typed = setup.verifier_with(setup.trusted().require_type("at+jwt"));
    assert_eq!(
        typed.verify(&setup.token("car-orders")).await.unwrap_err().kind(),
        VerifyErrorKind::WrongType
    );
    let (_, claims) = jwt_parts(&setup.token("car-orders"));
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(TestKey::RSA.kid().into());
    header.typ = Some("application/at+jwt".into());
    assert!(typed.verify(&TestKey::RSA.sign_with_header(&header, &claims)).await.is_ok());
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn forged_and_mangled_tokens_are_refused() {
    let setup = Setup::start().await;
    let verifier = setup.verifier();
    let token = setup.token("car-orders");
    let (header, claims) = jwt_parts(&token);
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let (header_b64, payload_b64) = signed.split_once('.').unwrap();
    let kid = TestKey::RSA.kid();

    let none = format!("{}.{}.", b64(&json!({"alg": "none", "kid": kid})), b64(&claims));
    // HS256 keyed with the RSA public key as published (the classic confusion attack).
    let mut hs = Header::new(Algorithm::HS256);
    hs.kid = Some(kid.into());
    let public_json = TestKey::RSA.public_jwk_json().to_string();
    let hs256 = jsonwebtoken::encode(
        &hs,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public_json.as_bytes()),
    )
    .unwrap();
    // The attacker's own key, embedded in the header, under the issuer's kid or its own.
    let mut embedded = Header::new(Algorithm::RS256);
    embedded.kid = Some(kid.into());
    embedded.jwk = Some(TestKey::RSA_B.public_jwk());
    let embedded_jwk = TestKey::RSA_B.sign_with_header(&embedded, &claims);
    embedded.kid = Some(TestKey::RSA_B.kid().into());
    let embedded_own_kid = TestKey::RSA_B.sign_with_header(&embedded, &claims);
    let mut jku = Header::new(Algorithm::RS256);
    jku.kid = Some(TestKey::RSA_B.kid().into());
    jku.jku = Some("https://evil.example/jwks".into());
    let jku_token = TestKey::RSA_B.sign_with_header(&jku, &claims);
    let mut with_crit = header.clone();
    with_crit["crit"] = json!(["exp"]);
    let crit = format!("{}.{payload_b64}.{signature}", b64(&with_crit));
    let mut escalated = claims.clone();
    escalated["scope"] = json!("tires/admin");
    let altered = format!("{header_b64}.{}.{signature}", b64(&escalated));
    let mut ps = header.clone();
    ps["alg"] = json!("PS256");
    let ps_under_rs_key = format!("{}.{payload_b64}.{signature}", b64(&ps));
    let mut es = header.clone();
    es["alg"] = json!("ES256");
    let es_under_rsa_kid = format!("{}.{payload_b64}.{signature}", b64(&es));
    let padded = format!("{header_b64}.{payload_b64}=.{signature}");
    let stray_bits = format!("{signed}.{}", flip_last_bits(signature));
    let standard_alphabet = format!("{signed}.{}", signature.replace('-', "+").replace('_', "/"));
    let header_array =
        format!("{}.{payload_b64}.{signature}", URL_SAFE_NO_PAD.encode(r#"["RS256"]"#));
    let huge = format!("{header_b64}.{}.{signature}", "A".repeat(1 << 20));

    let cases = [
        (none, VerifyErrorKind::InvalidAlgorithm),
        (hs256, VerifyErrorKind::InvalidAlgorithm),
        (embedded_jwk, VerifyErrorKind::InvalidSignature),
        (embedded_own_kid, VerifyErrorKind::UnknownKey),
        (jku_token, VerifyErrorKind::UnknownKey),
        (crit, VerifyErrorKind::UnsupportedCritical),
        (format!("{signed}."), VerifyErrorKind::InvalidSignature),
        (signed.to_owned(), VerifyErrorKind::Malformed),
        (format!("{token}.x"), VerifyErrorKind::Malformed),
        (altered, VerifyErrorKind::InvalidSignature),
        (ps_under_rs_key, VerifyErrorKind::InvalidAlgorithm),
        (es_under_rsa_kid, VerifyErrorKind::InvalidAlgorithm),
        (padded, VerifyErrorKind::Malformed),
        (stray_bits, VerifyErrorKind::Malformed),
        (standard_alphabet, VerifyErrorKind::Malformed),
        (header_array, VerifyErrorKind::Malformed),
        (huge, VerifyErrorKind::TokenTooLarge),
        (String::new(), VerifyErrorKind::Malformed),
        (format!(" {token}"), VerifyErrorKind::Malformed),
    ];
    for (bad, expected) in cases {
        let error = verifier.verify(&bad).await.unwrap_err();
        assert_eq!(error.kind(), expected, "{}", bad.get(..60).unwrap_or(&bad));
        assert!(!error.to_string().contains(signature), "the error names no token");
    }
    assert!(verifier.verify(&token).await.is_ok(), "the genuine token still verifies");
}

/// The last character of an unpadded base64url segment with non-zero unused bits.
fn flip_last_bits(segment: &str) -> String {
    let mut chars: Vec<char> = segment.chars().collect();
    assert_ne!(segment.len() % 4, 0, "an RSA-2048 signature leaves unused bits");
    let last = chars.last_mut().unwrap();
    *last = if *last == 'B' { 'C' } else { 'B' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn keys_are_bound_to_their_issuer() {
    let a = Setup::start().await;
    let clock = a.clock.clone();
    let b_server = start_issuer(
        Issuer::builder(sample_pool())
            .signing_key(TestKey::RSA_B.issuer_signing_key())
            .clock(clock.clone()),
    )
    .await;
    let b = b_server.issuer();
    let verifier = Verifier::builder()
        .issuer(a.trusted().build().unwrap())
        .issuer(
            TrustedIssuer::builder(b.url())
                .jwks_uri(b.jwks_uri())
                .client_ids(["tire-orders"])
                .build()
                .unwrap(),
        )
        .clock(clock)
        .build()
        .unwrap();
    let from_a = a.token("car-orders");
    let from_b = b.issue_token("tire-orders", None).unwrap().access_token().to_owned();
    assert_eq!(verifier.verify(&from_a).await.unwrap().issuer(), a.issuer().url());
    assert_eq!(verifier.verify(&from_b).await.unwrap().issuer(), b.url());
    // B's key, claiming to be A: A's key set does not hold B's key.
    let (_, mut claims) = jwt_parts(&from_b);
    claims["iss"] = json!(a.issuer().url());
    claims["client_id"] = json!("car-orders");
    assert_eq!(
        verifier.verify(&TestKey::RSA_B.sign(&claims)).await.unwrap_err().kind(),
        VerifyErrorKind::UnknownKey
    );
    claims["iss"] = json!("https://unknown.example");
    assert_eq!(
        verifier.verify(&TestKey::RSA_B.sign(&claims)).await.unwrap_err().kind(),
        VerifyErrorKind::UntrustedIssuer
    );
    assert!(matches!(
        Verifier::builder()
            .issuer(a.trusted().build().unwrap())
            .issuer(a.trusted().build().unwrap())
            .build(),
        Err(b2b_auth_jwt::ConfigError::DuplicateIssuer(_))
    ));
}

#[tokio::test]
async fn rotation_new_keys_are_fetched_and_removed_keys_stop_verifying() {
    let setup = Setup::start().await;
    let ttl = Duration::from_secs(3);
    let cooldown = Duration::from_secs(1);
    let verifier = setup.verifier_with(
        setup.trusted().jwks_with(|j| j.ttl(ttl).ttl_bounds(ttl, ttl).cooldown(cooldown)),
    );
    // Generated up front: RSA key generation on a loaded machine can outlast the cool-down.
    let newer_key = SigningKey::generate().unwrap();
    let old = setup.token("car-orders");
    assert!(verifier.verify(&old).await.is_ok());
    setup.issuer().rotate_to(TestKey::RSA_B.issuer_signing_key()).unwrap();
    let new = setup.token("car-orders");
    assert_eq!(jwt_parts(&new).0["kid"], json!(TestKey::RSA_B.kid()));
    // Right after the first fetch: the unknown kid causes one refresh, then verifies.
    assert!(verifier.verify(&new).await.is_ok(), "unknown kid: one refresh, then verified");
    assert!(verifier.verify(&old).await.is_ok(), "the old key is still published");
    assert_eq!(setup.issuer().stats().jwks_requests, 2);
    // Inside the cool-down of that refresh, the next unknown kid fails at once ...
    setup.issuer().rotate_to(newer_key).unwrap();
    let newer = setup.token("car-orders");
    assert_eq!(verifier.verify(&newer).await.unwrap_err().kind(), VerifyErrorKind::UnknownKey);
    assert_eq!(setup.issuer().stats().jwks_requests, 2);
    // ... and after it, one more refresh learns it.
    tokio::time::sleep(cooldown + Duration::from_millis(100)).await;
    assert!(verifier.verify(&newer).await.is_ok());
    assert_eq!(setup.issuer().stats().jwks_requests, 3);

    setup.issuer().retire_key(TestKey::RSA.kid()).unwrap();
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    assert_eq!(
        verifier.verify(&old).await.unwrap_err().kind(),
        VerifyErrorKind::UnknownKey,
        "a removed key stops verifying within one TTL, cached token included"
    );
    assert!(verifier.verify(&new).await.is_ok());
}

#[tokio::test]
async fn the_cache_is_bounded_by_the_setting_and_can_be_off() {
    let setup = Setup::start().await;
    let no_cache = Verifier::builder()
        .issuer(setup.trusted().build().unwrap())
        .clock(setup.clock.clone())
        .cache_capacity(0)
        .build()
        .unwrap();
    let token = setup.token("car-orders");
    for _ in 0..3 {
        assert!(no_cache.verify(&token).await.is_ok());
    }
    // Without the cache an expired token is refused all the same.
    setup.clock.advance(Duration::from_secs(3700));
    assert_eq!(no_cache.verify(&token).await.unwrap_err().kind(), VerifyErrorKind::Expired);
}
