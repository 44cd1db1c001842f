//! The JWK Set parser on arbitrary input: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    b2b_auth_jwt::fuzzing::jwk_set(data);
});
