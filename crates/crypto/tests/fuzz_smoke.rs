//! Stable smoke fuzzer: the bodies of the cargo-fuzz targets (`strongbox_crypto::fuzzing`) run on
//! the seed corpus in `fuzz/corpus/<target>/` and on a few thousand deterministic mutations of it
//! (a fixed-seed PRNG: bit flips, truncations, splices, length edits, and structure-aware edits:
//! JWK members swapped, given wrong types and sizes, crossed between keys; decrypt headers and
//! tags changed; JWS headers re-encoded with other algorithms).
//!
//! Each input must not panic and must keep the invariants the bodies check; every `seed-*` file
//! must still be accepted (so a regression that rejects valid keys or ciphertexts fails here).
//! Other files in the corpus (rejected-on-purpose seeds, inputs libFuzzer found) only must not
//! break an invariant.
//!
//! `cargo test -p strongbox-crypto --test fuzz_smoke -- --ignored write_seed_corpus` rewrites the
//! seed files.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::path::PathBuf;

use serde_json::{Value, json};
use strongbox_crypto::fuzzing::{self, DecryptInput, FLAG_AAD, FLAG_IV, FLAG_TAG, FLAG_WRONG_KEY};
use strongbox_crypto::jws::SigningKey;
use strongbox_crypto::keys::{Curve, JsonWebKey, KeyMaterial, SignAlg};
use strongbox_crypto::{b64url, b64url_decode};
use strongbox_types::SecretBytes;

type Body = fn(&[u8]) -> Result<bool, String>;

/// SplitMix64: small, fixed-seed, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.byte()).collect()
    }
}

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target)
}

/// Every corpus file of `target` as (name, bytes), sorted by name.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("seed corpus {} missing: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    assert!(out.iter().filter(|(n, _)| n.starts_with("seed-")).count() >= 3, "too few seeds for {target}");
    out
}

/// Runs `body` on `input`; a panic or an invariant violation fails the test with the input in hex.
#[track_caller]
fn run(target: &str, body: Body, input: &[u8]) -> bool {
    let r = std::panic::catch_unwind(|| body(input));
    match r {
        Ok(Ok(accepted)) => accepted,
        Ok(Err(v)) => panic!("{target}: invariant broken: {v}\ninput (hex): {}", strongbox_crypto::hex(input)),
        Err(_) => panic!("{target}: panicked on input (hex): {}", strongbox_crypto::hex(input)),
    }
}

/// Seeds must be accepted; every other corpus file must only keep the invariants.
fn check_corpus(target: &str, body: Body) -> Vec<Vec<u8>> {
    let files = corpus(target);
    for (name, data) in &files {
        let accepted = run(target, body, data);
        if name.starts_with("seed-") {
            assert!(accepted, "{target}: valid seed {name} was rejected");
        }
    }
    files.into_iter().map(|(_, d)| d).collect()
}

/// Generic byte-level mutations.
fn mutate_bytes(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(3) {
        let len = v.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = *rng.pick(&[0, 1, 0x7f, 0x80, 0xff, b'"', b'.', b'=', b'\n', b'{', b'-', b'_']);
            }
            2 => v.truncate(rng.below(len + 1)),
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let ins = rng.bytes(n);
                v.splice(i..i, ins);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(32)).min(len);
                v.drain(a..b);
            }
            5 if len > 0 => {
                // duplicate a range
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                let dup = v[a..b].to_vec();
                v.splice(b..b, dup);
            }
            6 if !others.is_empty() => {
                // splice: our head with another input's tail
                let other = rng.pick(others);
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => {
                let i = rng.below(len);
                v[i] = v[i].wrapping_add(*rng.pick(&[1u8, 255, 16, 240]));
            }
            _ => {
                let n = rng.below(8);
                let bytes = rng.bytes(n);
                v.extend_from_slice(&bytes);
            }
        }
    }
    v
}

// ---------------------------------------------------------------------------------------------
// jwk_import
// ---------------------------------------------------------------------------------------------

const JWK_MEMBERS: [&str; 16] =
    ["kty", "n", "e", "d", "p", "q", "dp", "dq", "qi", "crv", "x", "y", "k", "key_ops", "key_hsm", "kid"];

/// A member value of the wrong type, size or encoding.
fn odd_value(rng: &mut Rng, current: Option<&Value>, other_keys: &[Value]) -> Value {
    let cur = current.and_then(Value::as_str).unwrap_or("AQAB");
    let decoded = b64url_decode(cur).unwrap_or_default();
    match rng.below(16) {
        0 => json!(null),
        1 => json!(65537),
        2 => json!(true),
        3 => json!([cur]),
        4 => json!({"v": cur}),
        5 => json!(""),
        6 => json!("A"),
        7 => json!("!!not base64!!"),
        8 => json!(format!("{cur}==")),
        9 => json!(b64url(&[0])),
        10 => {
            let mut padded = vec![0u8; 1 + rng.below(3)];
            padded.extend_from_slice(&decoded);
            json!(b64url(&padded))
        }
        11 => json!(b64url(&decoded[..decoded.len().saturating_sub(1 + rng.below(4))])),
        12 => json!(b64url(&vec![0xFF; decoded.len() + rng.below(3)])),
        13 => json!(b64url(&vec![0; decoded.len()])),
        14 => json!(cur.chars().rev().collect::<String>()),
        _ => {
            // the same member from another seed key (crosses RSA CRT members between keys)
            let other = rng.pick(other_keys);
            let name = *rng.pick(&JWK_MEMBERS);
            other.get(name).cloned().unwrap_or(json!("AQAB"))
        }
    }
}

fn mutate_jwk_json(rng: &mut Rng, seed: &[u8], keys: &[Value]) -> Vec<u8> {
    let Ok(mut body) = serde_json::from_slice::<Value>(seed) else {
        return mutate_bytes(rng, seed, &[]);
    };
    let Some(key) = body.get_mut("key").and_then(Value::as_object_mut) else {
        return serde_json::to_vec(&body).unwrap();
    };
    for _ in 0..=rng.below(2) {
        let name = *rng.pick(&JWK_MEMBERS);
        match rng.below(8) {
            0 => {
                key.remove(name);
            }
            1 => {
                let other = *rng.pick(&JWK_MEMBERS);
                let (a, b) = (key.get(name).cloned(), key.get(other).cloned());
                match b {
                    Some(b) => key.insert(name.into(), b),
                    None => key.remove(name),
                };
                match a {
                    Some(a) => key.insert(other.into(), a),
                    None => key.remove(other),
                };
            }
            2 => {
                let kty = *rng.pick(&["RSA", "RSA-HSM", "EC", "EC-HSM", "oct", "oct-HSM", "rsa", "", "OKP"]);
                key.insert("kty".into(), json!(kty));
            }
            3 => {
                let crv = *rng.pick(&["P-256", "P-384", "P-521", "P-256K", "SECP256K1", "X25519", ""]);
                key.insert("crv".into(), json!(crv));
            }
            4 => {
                // the exponent, with sizes and values around 65537
                let choices: [&[u8]; 6] = [&[1, 0, 1], &[3], &[1, 0, 0, 1], &[0, 1, 0, 1], &[1; 9], &[]];
                let e = *rng.pick(&choices);
                key.insert("e".into(), json!(b64url(e)));
            }
            _ => {
                let v = odd_value(rng, key.get(name), keys);
                key.insert(name.into(), v);
            }
        }
    }
    if rng.below(10) == 0 {
        // the envelope itself
        let k = body.get("key").cloned().unwrap_or(Value::Null);
        body = match rng.below(3) {
            0 => json!({"key": [k]}),
            1 => json!({"Hsm": "yes", "key": k}),
            _ => k,
        };
    }
    serde_json::to_vec(&body).unwrap()
}

#[test]
fn jwk_import_smoke() {
    let target = "jwk_import";
    let inputs = check_corpus(target, fuzzing::jwk_import);
    let keys: Vec<Value> =
        inputs.iter().filter_map(|d| serde_json::from_slice::<Value>(d).ok()?.get("key").cloned()).collect();
    assert!(keys.len() >= 3);
    let mut rng = Rng(0x5EED_0001);
    let (mut accepted, mut total) = (0, 0);
    for i in 0..2500 {
        let seed = rng.pick(&inputs).clone();
        let m =
            if i % 4 == 0 { mutate_bytes(&mut rng, &seed, &inputs) } else { mutate_jwk_json(&mut rng, &seed, &keys) };
        accepted += usize::from(run(target, fuzzing::jwk_import, &m));
        total += 1;
    }
    // Sanity: the mutations neither all pass nor all fail (else they would test little).
    eprintln!("jwk_import: {accepted} of {total} mutations accepted");
    assert!(accepted > 0 && accepted < total, "jwk_import: {accepted} of {total} mutations accepted");
}

// ---------------------------------------------------------------------------------------------
// decrypt
// ---------------------------------------------------------------------------------------------

fn mutate_decrypt(rng: &mut Rng, seed: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let d = DecryptInput::parse(seed);
    let mut iv = d.iv.to_vec();
    let mut aad = d.aad.to_vec();
    let mut tag = d.tag.to_vec();
    let mut ct = d.ciphertext.to_vec();
    let (mut alg, mut flags) = (d.alg, d.flags);
    for _ in 0..=rng.below(2) {
        let field = match rng.below(4) {
            0 => &mut iv,
            1 => &mut aad,
            2 => &mut tag,
            _ => &mut ct,
        };
        match rng.below(9) {
            0 => alg = rng.byte(),
            1 => flags ^= *rng.pick(&[FLAG_IV, FLAG_AAD, FLAG_TAG, FLAG_WRONG_KEY, 0x10, 0x20]),
            2 if !field.is_empty() => {
                let i = rng.below(field.len());
                field[i] ^= 1 << rng.below(8);
            }
            3 => {
                // length edits around the block, IV, tag and modulus sizes
                let to = *rng.pick(&[0usize, 1, 8, 12, 15, 16, 17, 24, 32, 255, 256, 257]);
                field.resize(to, 0);
            }
            4 => field.truncate(field.len().saturating_sub(1 + rng.below(16))),
            5 => {
                let n = 1 + rng.below(16);
                field.extend(rng.bytes(n));
            }
            6 => *field = rng.bytes(field.len()),
            7 => {
                // the tag or iv of another seed
                let other: &Vec<u8> = rng.pick(others);
                let o = DecryptInput::parse(other);
                *field = rng.pick(&[o.iv, o.tag, o.aad]).to_vec();
            }
            _ => {
                let tail = field.split_off(rng.below(field.len() + 1));
                field.extend(tail.iter().rev());
            }
        }
    }
    let mut out = DecryptInput { alg, flags, iv: &iv, aad: &aad, tag: &tag, ciphertext: &ct }.to_bytes();
    if rng.below(8) == 0 {
        // a header whose lengths disagree with the parts
        out[2 + rng.below(3)] = rng.byte();
    }
    out
}

#[test]
fn decrypt_smoke() {
    let target = "decrypt";
    let inputs = check_corpus(target, fuzzing::decrypt);
    // every algorithm has an accepted seed
    let mut algs: Vec<usize> =
        corpus(target).iter().filter(|(n, _)| n.starts_with("seed-")).map(|(_, d)| usize::from(d[0]) % 15).collect();
    algs.sort();
    algs.dedup();
    assert_eq!(algs.len(), 15, "a decrypt seed for each algorithm");
    // fresh valid inputs (new IVs, RSA padding) decrypt as well
    for alg in 0..15u8 {
        let fresh = fuzzing::decrypt_seed(alg, &[0x42; 32], b"aad").unwrap();
        assert!(run(target, fuzzing::decrypt, &fresh), "fresh input for algorithm {alg}");
    }
    let mut rng = Rng(0x5EED_0002);
    let (mut accepted, mut total) = (0, 0);
    for i in 0..3000 {
        let seed = rng.pick(&inputs).clone();
        let m =
            if i % 3 == 0 { mutate_bytes(&mut rng, &seed, &inputs) } else { mutate_decrypt(&mut rng, &seed, &inputs) };
        accepted += usize::from(run(target, fuzzing::decrypt, &m));
        total += 1;
    }
    eprintln!("decrypt: {accepted} of {total} mutations accepted");
    assert!(accepted > 0 && accepted < total, "decrypt: {accepted} of {total} mutations accepted");
    // pure noise
    for n in [0, 1, 4, 5, 6, 21, 40, 261, 300, 1000] {
        let noise = rng.bytes(n);
        run(target, fuzzing::decrypt, &noise);
    }
}

// ---------------------------------------------------------------------------------------------
// jws_verify
// ---------------------------------------------------------------------------------------------

fn mutate_jws(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(seed).into_owned();
    let (prefix, token) = match text.split_once('\n') {
        Some((j, t)) => (Some(j.to_owned()), t.to_owned()),
        None => (None, text),
    };
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    match rng.below(6) {
        0 if !parts.is_empty() => {
            // a header with another alg (or kid / typ / wrong types)
            let mut h: Value = b64url_decode(&parts[0])
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_else(|| json!({}));
            let algs = [
                json!("none"),
                json!("HS256"),
                json!("RS256"),
                json!("PS512"),
                json!("ES256"),
                json!("ES384"),
                json!(""),
                json!(7),
                json!(null),
            ];
            h["alg"] = rng.pick(&algs).clone();
            if rng.below(2) == 0 {
                h["kid"] = rng.pick(&[json!(fuzzing::JWS_KID), json!(1), json!("other")]).clone();
            }
            parts[0] = b64url(&serde_json::to_vec(&h).unwrap());
        }
        1 if parts.len() > 1 => {
            let claims = [
                json!([]),
                json!("x"),
                json!({"aud": ["a", 1], "exp": 1e300, "iss": {}}),
                json!({"exp": "soon", "aud": null}),
            ];
            parts[1] = b64url(&serde_json::to_vec(rng.pick(&claims)).unwrap());
        }
        2 => {
            let i = rng.below(parts.len());
            let dup = parts[i].clone();
            parts.insert(i, dup);
        }
        3 if !parts.is_empty() => {
            let last = parts.len() - 1;
            let sig = b64url_decode(&parts[last]).unwrap_or_default();
            let cut = rng.below(sig.len() + 1);
            parts[last] = b64url(&sig[..cut]);
        }
        4 => parts.truncate(rng.below(parts.len() + 1)),
        _ => {
            let bytes = mutate_bytes(rng, parts.join(".").as_bytes(), &[]);
            parts = vec![String::from_utf8_lossy(&bytes).into_owned()];
        }
    }
    let token = parts.join(".");
    let prefix = match (prefix, rng.below(6)) {
        (_, 0) => Some(
            rng.pick(&[
                json!({"kty": "RSA", "n": b64url(&[0xC1; 256]), "e": "AQAB"}),
                json!({"kty": "RSA", "n": "", "e": ""}),
                json!({"kty": "EC", "crv": "P-384", "x": b64url(&[1; 48]), "y": b64url(&[2; 48])}),
                json!({"kty": "EC", "crv": "P-256", "x": b64url(&[1; 31]), "y": b64url(&[2; 32])}),
                json!({"kty": "oct", "k": "AQAB"}),
            ])
            .to_string(),
        ),
        (p, _) => p,
    };
    match prefix {
        Some(p) => format!("{p}\n{token}").into_bytes(),
        None => token.into_bytes(),
    }
}

#[test]
fn jws_verify_smoke() {
    let target = "jws_verify";
    let inputs = check_corpus(target, fuzzing::jws_verify);
    let mut rng = Rng(0x5EED_0003);
    let (mut accepted, mut total) = (0, 0);
    for i in 0..2500 {
        let seed = rng.pick(&inputs).clone();
        let m = if i % 4 == 0 { mutate_bytes(&mut rng, &seed, &inputs) } else { mutate_jws(&mut rng, &seed) };
        accepted += usize::from(run(target, fuzzing::jws_verify, &m));
        total += 1;
    }
    eprintln!("jws_verify: {accepted} of {total} mutations accepted");
    assert!(accepted < total, "jws_verify: every mutation verified");
    // an oversized token is refused before decoding
    let mut big = inputs[0].clone();
    big.extend(std::iter::repeat_n(b'A', 17 * 1024));
    assert!(!run(target, fuzzing::jws_verify, &big));
}

// ---------------------------------------------------------------------------------------------
// seed corpus writer
// ---------------------------------------------------------------------------------------------

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = corpus_dir(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
}

fn import_body(jwk: &JsonWebKey) -> Vec<u8> {
    serde_json::to_vec_pretty(&json!({"key": jwk})).unwrap()
}

/// Rewrites the seed corpus (run by hand; RSA keys are generated, so the files change).
#[test]
#[ignore = "writes fuzz/corpus; run by hand to regenerate the seeds"]
fn write_seed_corpus() {
    // jwk_import: every key type, size and curve, as the import request body
    let t = "jwk_import";
    write(t, "seed-rsa2048-rfc7515.json", &import_body(&fuzzing::rfc7515_rsa_jwk()));
    write(t, "seed-ec-p256-rfc7515.json", &import_body(&fuzzing::rfc7515_ec_jwk()));
    for bits in [3072, 4096] {
        let jwk = common::private_jwk_from_pkcs8(&common::pkcs8_of(&KeyMaterial::generate_rsa(bits).unwrap()));
        write(t, &format!("seed-rsa{bits}.json"), &import_body(&jwk));
    }
    for (curve, name) in [(Curve::P384, "p384"), (Curve::P521, "p521"), (Curve::P256K, "p256k")] {
        let jwk = common::private_jwk_from_pkcs8(&common::pkcs8_of(&KeyMaterial::generate_ec(curve).unwrap()));
        write(t, &format!("seed-ec-{name}.json"), &import_body(&jwk));
    }
    for bits in [128, 192, 256] {
        write(t, &format!("seed-oct{bits}.json"), &import_body(&fuzzing::oct_jwk(bits)));
    }
    let mut hsm = serde_json::to_value(fuzzing::rfc7515_rsa_jwk()).unwrap();
    hsm["kty"] = json!("RSA-HSM");
    hsm["key_ops"] = json!(["sign", "verify", "wrapKey"]);
    let full = json!({"Hsm": true, "key": hsm, "attributes": {"enabled": true}, "tags": {"t": "v"}});
    write(t, "seed-rsa-hsm-full-body.json", &serde_json::to_vec_pretty(&full).unwrap());
    // rejected on purpose (corpus variety only)
    let mut public_only = fuzzing::rfc7515_rsa_jwk();
    public_only.d = None;
    write(t, "reject-rsa-public-only.json", &import_body(&public_only));
    let byok = JsonWebKey { kty: Some("RSA-HSM".into()), key_hsm: Some("AQAB".into()), ..Default::default() };
    write(t, "reject-key-hsm.json", &import_body(&byok));

    // decrypt: one valid input per algorithm, plus an empty RSA plaintext and a GCM input without aad
    let t = "decrypt";
    let names = fuzzing::decrypt_algs().map(|a| a.as_str().to_ascii_lowercase());
    for (i, name) in names.iter().enumerate() {
        let input = fuzzing::decrypt_seed(i as u8, b"0123456789abcdef0123456789abcdef", b"fuzz-aad").unwrap();
        write(t, &format!("seed-{name}.bin"), &input);
    }
    write(t, "seed-rsa-oaep-256-empty.bin", &fuzzing::decrypt_seed(2, b"", b"").unwrap());
    write(t, "seed-a256gcm-no-aad.bin", &fuzzing::decrypt_seed(5, b"x", b"").unwrap());

    // jws_verify: RFC 7515 A.2 (RS256) and A.3 (ES256) tokens, a PS256 token, our own ES256 token
    // with kid, and a JWKS-entry-prefixed ES384 token
    let t = "jws_verify";
    let payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let a2 = format!(
        "eyJhbGciOiJSUzI1NiJ9.{payload}.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
    );
    write(t, "seed-rfc7515-a2-rs256.txt", a2.as_bytes());
    let a3 = format!(
        "eyJhbGciOiJFUzI1NiJ9.{payload}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
    );
    write(t, "seed-rfc7515-a3-es256.txt", a3.as_bytes());
    let claims = json!({"iss": "client", "sub": "client", "aud": ["https://login/token", "x"], "exp": 1.9e9, "nbf": 1_700_000_000});
    let sign_with = |k: &KeyMaterial, alg: SignAlg, header: Value| {
        let input =
            format!("{}.{}", b64url(&serde_json::to_vec(&header).unwrap()), b64url(&claims.to_string().into_bytes()));
        let digest = match alg {
            SignAlg::ES384 => aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, input.as_bytes()).as_ref().to_vec(),
            _ => strongbox_crypto::sha256(input.as_bytes()).to_vec(),
        };
        format!("{input}.{}", b64url(&k.sign(alg, &digest).unwrap()))
    };
    let rsa = KeyMaterial::import_jwk(&fuzzing::rfc7515_rsa_jwk()).unwrap();
    let ps = sign_with(&rsa, SignAlg::PS256, json!({"alg": "PS256", "typ": "JWT", "x5t": "AAAA"}));
    write(t, "seed-ps256-assertion.txt", ps.as_bytes());
    let ec = KeyMaterial::import_jwk(&fuzzing::rfc7515_ec_jwk()).unwrap();
    let ours = SigningKey::from_pkcs8(fuzzing::JWS_KID.into(), SecretBytes::new(common::pkcs8_of(&ec))).unwrap();
    write(t, "seed-jws-es256-kid.txt", ours.sign(&claims).unwrap().as_bytes());
    let p384 = KeyMaterial::generate_ec(Curve::P384).unwrap();
    let es384 = sign_with(&p384, SignAlg::ES384, json!({"alg": "ES384", "kid": "k384"}));
    let entry = serde_json::to_string(&p384.public_jwk()).unwrap();
    write(t, "seed-jwks-entry-es384.txt", format!("{entry}\n{es384}").as_bytes());
}
