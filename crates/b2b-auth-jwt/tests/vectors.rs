//! Known-answer vectors: RFC 7515 appendix A (JWS) and RFC 8037 appendix A.4 (Ed25519),
//! through the JWS layer and through the full verifier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)] // test code: a panic is the failure report

use b2b_auth_jwt::{
    Algorithm, CompactJws, JwkSet, ScopePolicy, TrustedIssuer, Verifier, VerifyErrorKind,
};
use b2b_auth_testkit::ManualClock;

/// RFC 7515 A.1-A.3 share this payload: `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`.
const PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const PAYLOAD_JSON: &[u8] =
    b"{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";

/// RFC 7515 A.1: HMAC SHA-256. A verifier of public keys must refuse it.
const A1_HS256: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// RFC 7515 A.2: RSASSA-PKCS1-v1_5 SHA-256, and the public half of its key.
const A2_SIGNATURE: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const A2_JWK: &str = r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"}"#;

/// RFC 7515 A.3: ECDSA P-256 SHA-256 (R || S), and its public key.
const A3_SIGNATURE: &str =
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const A3_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

/// RFC 8037 A.4: Ed25519 over "Example of Ed25519 signing", and the A.2 public key.
const ED_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
const ED_JWK: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

fn set(jwk: &str) -> JwkSet {
    JwkSet::from_json(format!(r#"{{"keys":[{jwk}]}}"#).as_bytes()).unwrap()
}

fn a2() -> String {
    format!("eyJhbGciOiJSUzI1NiJ9.{PAYLOAD}.{A2_SIGNATURE}")
}

fn a3() -> String {
    format!("eyJhbGciOiJFUzI1NiJ9.{PAYLOAD}.{A3_SIGNATURE}")
}

/// Flips one bit of the signature's first character (keeping canonical base64url).
fn tamper(jws: &str) -> String {
    let (signed, signature) = jws.rsplit_once('.').unwrap();
    let mut signature = signature.to_owned();
    let first = if signature.starts_with('A') { "B" } else { "A" };
    signature.replace_range(0..1, first);
    format!("{signed}.{signature}")
}

#[test]
fn rfc7515_a2_a3_and_rfc8037_a4_verify_and_tampered_copies_do_not() {
    let vectors = [
        ("RFC 7515 A.2", a2(), A2_JWK, Algorithm::RS256, PAYLOAD_JSON),
        ("RFC 7515 A.3", a3(), A3_JWK, Algorithm::ES256, PAYLOAD_JSON),
        (
            "RFC 8037 A.4",
            ED_JWS.to_owned(),
            ED_JWK,
            Algorithm::EdDSA,
            &b"Example of Ed25519 signing"[..],
        ),
    ];
    for (name, jws, jwk, alg, payload) in vectors {
        let verified = CompactJws::parse(&jws).unwrap().verify(&set(jwk)).unwrap();
        assert_eq!(verified.header().alg(), alg, "{name}");
        assert_eq!(verified.payload(), payload, "{name}");
        let err = CompactJws::parse(&tamper(&jws)).unwrap().verify(&set(jwk)).unwrap_err();
        assert_eq!(err.kind(), VerifyErrorKind::InvalidSignature, "{name}");
    }
}

#[test]
fn vectors_fail_under_each_others_keys() {
    // Right signature, key of another type: refused before any crypto.
    let err = CompactJws::parse(&a2()).unwrap().verify(&set(A3_JWK)).unwrap_err();
    assert_eq!(err.kind(), VerifyErrorKind::UnknownKey);
    let both = JwkSet::from_json(format!(r#"{{"keys":[{A2_JWK},{A3_JWK},{ED_JWK}]}}"#).as_bytes())
        .unwrap();
    // Without a kid, the one key that fits the algorithm is used.
    assert!(CompactJws::parse(&a3()).unwrap().verify(&both).is_ok());
    assert!(CompactJws::parse(ED_JWS).unwrap().verify(&both).is_ok());
}

#[test]
fn rfc7515_a1_hs256_and_a4_es512_are_refused() {
    assert_eq!(CompactJws::parse(A1_HS256).unwrap_err().kind(), VerifyErrorKind::InvalidAlgorithm);
    // A.4's header, {"alg":"ES512"}: P-521 is not supported.
    let es512 = format!("eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.{A3_SIGNATURE}");
    assert_eq!(CompactJws::parse(&es512).unwrap_err().kind(), VerifyErrorKind::InvalidAlgorithm);
}

fn rfc_verifier(clock: &ManualClock, jwk: &str) -> Verifier {
    let issuer =
        TrustedIssuer::builder("joe").static_keys(set(jwk)).any_audience().build().unwrap();
    Verifier::builder().issuer(issuer).clock(clock.clone()).build().unwrap()
}

#[tokio::test]
async fn rfc7515_vectors_pass_the_jwt_checks_until_they_expire() {
    let clock = ManualClock::at_unix(1_300_819_000);
    for (jwk, token) in [(A2_JWK, a2()), (A3_JWK, a3())] {
        let verifier = rfc_verifier(&clock, jwk);
        let claims = verifier.verify(&token).await.unwrap();
        assert_eq!(claims.issuer(), "joe");
        assert_eq!(claims.get("http://example.com/is_root"), Some(&serde_json::Value::Bool(true)));
        assert!(claims.scopes().is_empty());
        let denied = verifier.verify_for(&token, &ScopePolicy::all(["a"])).await.unwrap_err();
        assert_eq!(denied.kind(), VerifyErrorKind::InsufficientScope);
    }
    // exp 1300819380 plus the 60 s leeway.
    clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_300_819_440));
    for (jwk, token) in [(A2_JWK, a2()), (A3_JWK, a3())] {
        let verifier = rfc_verifier(&clock, jwk);
        assert_eq!(verifier.verify(&token).await.unwrap_err().kind(), VerifyErrorKind::Expired);
    }
}
