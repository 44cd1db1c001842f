//! A stored token envelope (SSM parameter, Redis value) through its parser, and back.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| b2b_auth_token::fuzzing::token_envelope(data));
