//! Fuzz target `decrypt`: the body is `strongbox_crypto::fuzzing::decrypt` (also run on stable by
//! crates/crypto/tests/fuzz_smoke.rs). Errors are expected; a panic or a broken invariant is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = strongbox_crypto::fuzzing::decrypt(data) {
        panic!("decrypt: {violation}");
    }
});
