//! A token endpoint's answer (status and body) through the client's strict parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| b2b_auth_token::fuzzing::token_response(data));
