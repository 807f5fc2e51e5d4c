//! Single-core speed of the private-key operations behind the key API, through the same
//! `KeyMaterial` calls the server makes, to set next to `openssl speed rsa2048 ecdsap256`.
//! It separates the cost of the cryptography (aws-lc) from the cost of the HTTPS/JSON path.
//!
//! Run by hand: `cargo run --release -p strongbox-crypto --example op_speed [seconds]`.
#![allow(clippy::print_stdout, clippy::indexing_slicing, reason = "a measuring example: it prints its figures")]

use std::time::{Duration, Instant};

use strongbox_crypto::keys::{Curve, EncAlg, KeyMaterial, SignAlg};

fn rate(label: &str, secs: f64, mut op: impl FnMut()) {
    // Warm up, then count whole operations for `secs` seconds.
    for _ in 0..20 {
        op();
    }
    let start = Instant::now();
    let limit = Duration::from_secs_f64(secs);
    let mut n = 0u64;
    while start.elapsed() < limit {
        op();
        n += 1;
    }
    let el = start.elapsed().as_secs_f64();
    println!("{label:<32} {:>10.0} ops/s {:>9.1} µs/op", n as f64 / el, el * 1e6 / n as f64);
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let digest = [7u8; 32];
    let rsa = KeyMaterial::generate_rsa(2048)?;
    let ec = KeyMaterial::generate_ec(Curve::P256)?;
    let ct = rsa.encrypt(EncAlg::RsaOaep, b"thirty-two bytes of plaintext...")?;
    println!("single core, {secs} s per line");
    rate("RSA-2048 sign RS256 (aws-lc)", secs, || {
        let _ = rsa.sign(SignAlg::RS256, &digest);
    });
    rate("RSA-2048 sign PS256 (aws-lc)", secs, || {
        let _ = rsa.sign(SignAlg::PS256, &digest);
    });
    rate("RSA-2048 decrypt OAEP (aws-lc)", secs, || {
        let _ = rsa.decrypt(EncAlg::RsaOaep, &ct);
    });
    rate("P-256 sign ES256 (aws-lc)", secs, || {
        let _ = ec.sign(SignAlg::ES256, &digest);
    });
    Ok(())
}
