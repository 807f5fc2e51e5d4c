//! Private JWK import: round trips for every key type/size/curve (the JWK is extracted from the
//! key's PKCS#8 by an independent DER reader) and every rejection case, each with a clear
//! `BadParameter` message that never contains key material.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

mod common;

use std::sync::OnceLock;

use common::{pkcs8_of, private_jwk_from_pkcs8};
use strongbox_crypto::keys::{Curve, EncAlg, JsonWebKey, KeyKind, KeyMaterial, SignAlg};
use strongbox_crypto::{b64url, b64url_decode, sha256};
use strongbox_types::ErrorKind;

fn rsa2048_jwk() -> &'static JsonWebKey {
    static JWK: OnceLock<JsonWebKey> = OnceLock::new();
    JWK.get_or_init(|| private_jwk_from_pkcs8(&pkcs8_of(&KeyMaterial::generate_rsa(2048).unwrap())))
}

fn ec_jwk(curve: Curve) -> JsonWebKey {
    private_jwk_from_pkcs8(&pkcs8_of(&KeyMaterial::generate_ec(curve).unwrap()))
}

/// Every base64url member value of `jwk` (for the "no key material in messages" check).
fn member_values(jwk: &JsonWebKey) -> Vec<String> {
    [&jwk.n, &jwk.e, &jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi, &jwk.x, &jwk.y, &jwk.k]
        .into_iter()
        .flatten()
        .filter(|v| v.len() >= 8)
        .cloned()
        .collect()
}

/// Import must fail with `BadParameter`, a message containing `needle`, and no key material.
#[track_caller]
fn rejects(jwk: &JsonWebKey, needle: &str) {
    let e = KeyMaterial::import_jwk(jwk).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParameter, "{e}");
    assert!(e.message.contains(needle), "message {:?} lacks {needle:?}", e.message);
    for v in member_values(jwk) {
        assert!(!e.message.contains(&v[..8]), "message leaks key material: {:?}", e.message);
    }
    let dbg = format!("{jwk:?}");
    let public: Vec<&String> = [&jwk.n, &jwk.e, &jwk.x, &jwk.y].into_iter().flatten().collect();
    for private in [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi, &jwk.k].into_iter().flatten() {
        // (some cases put a public value into a private member on purpose)
        if private.len() >= 8 && !public.contains(&private) {
            assert!(!dbg.contains(&private[..8]), "Debug leaks a private member");
        }
    }
}

fn with(jwk: &JsonWebKey, f: impl FnOnce(&mut JsonWebKey)) -> JsonWebKey {
    let mut j = jwk.clone();
    f(&mut j);
    j
}

fn b(bytes: &[u8]) -> Option<String> {
    Some(b64url(bytes))
}

fn dec(v: &Option<String>) -> Vec<u8> {
    b64url_decode(v.as_deref().unwrap()).unwrap()
}

#[test]
fn round_trip_every_rsa_size_and_curve() {
    for bits in [2048, 3072, 4096] {
        let original = KeyMaterial::generate_rsa(bits).unwrap();
        let jwk = private_jwk_from_pkcs8(&pkcs8_of(&original));
        let imported = KeyMaterial::import_jwk(&jwk).unwrap();
        assert_eq!(imported.kind(), KeyKind::Rsa);
        assert_eq!(imported.bits(), bits);
        assert_eq!(imported.public_jwk(), original.public_jwk());
        let d = sha256(b"imported");
        assert!(original.verify(SignAlg::PS256, &d, &imported.sign(SignAlg::PS256, &d).unwrap()).unwrap());
        let ct = original.encrypt(EncAlg::RsaOaep, b"kek").unwrap();
        assert_eq!(imported.decrypt(EncAlg::RsaOaep, &ct).unwrap().expose(), b"kek");
    }
    for curve in Curve::ALL {
        let original = KeyMaterial::generate_ec(curve).unwrap();
        let jwk = private_jwk_from_pkcs8(&pkcs8_of(&original));
        let imported = KeyMaterial::import_jwk(&jwk).unwrap();
        assert_eq!(imported.kind(), KeyKind::Ec(curve));
        assert_eq!(imported.public_jwk(), original.public_jwk());
        let alg = curve.sign_alg();
        let d = vec![0x5a; alg.digest_len()];
        assert!(original.verify(alg, &d, &imported.sign(alg, &d).unwrap()).unwrap());
        // survives storage too
        let back = KeyMaterial::from_storage(imported.to_storage().expose()).unwrap();
        assert_eq!(back.public_jwk(), original.public_jwk());
    }
    for len in [16, 24, 32] {
        let k = KeyMaterial::import_jwk(&JsonWebKey {
            kty: Some("oct".into()),
            k: b(&vec![9u8; len]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!((k.kind(), k.bits()), (KeyKind::Oct, len * 8));
        assert_eq!(&k.to_storage().expose()[3..], &vec![9u8; len][..]);
    }
}

#[test]
fn hsm_kty_variants_and_lenient_encodings_are_accepted() {
    let jwk = rsa2048_jwk();
    let expected = KeyMaterial::import_jwk(jwk).unwrap().public_jwk();
    let hsm = KeyMaterial::import_jwk(&with(jwk, |j| j.kty = Some("RSA-HSM".into()))).unwrap();
    assert_eq!(hsm.public_jwk(), expected, "public_jwk reports the software kty; -HSM is the caller's");
    // a leading zero byte on n, padding characters, extra members (kid, key_ops) are tolerated
    let mut n = vec![0u8];
    n.extend(dec(&jwk.n));
    let lenient = with(jwk, |j| {
        j.n = b(&n);
        j.e = Some("AQAB".into());
        j.d = Some(format!("{}==", j.d.as_deref().unwrap()));
        j.kid = Some("https://vault/keys/k/1".into());
        j.key_ops = Some(vec!["sign".into()]);
    });
    assert_eq!(KeyMaterial::import_jwk(&lenient).unwrap().public_jwk(), expected);
    let ec = ec_jwk(Curve::P384);
    let k = KeyMaterial::import_jwk(&with(&ec, |j| j.kty = Some("EC-HSM".into()))).unwrap();
    assert_eq!(k.kind(), KeyKind::Ec(Curve::P384));
    let oct = JsonWebKey { kty: Some("oct-HSM".into()), k: b(&[1; 32]), ..Default::default() };
    assert_eq!(KeyMaterial::import_jwk(&oct).unwrap().kind(), KeyKind::Oct);
}

#[test]
fn kty_problems() {
    let jwk = rsa2048_jwk();
    rejects(&with(jwk, |j| j.kty = None), "'kty' member is required");
    rejects(&with(jwk, |j| j.kty = Some("OKP".into())), "key type ('kty') is not supported");
    rejects(&with(jwk, |j| j.kty = Some("rsa".into())), "key type ('kty') is not supported");
    let e = KeyMaterial::import_jwk(&with(jwk, |j| j.key_hsm = Some("blob".into()))).unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotImplemented);
}

#[test]
fn rsa_missing_and_malformed_members() {
    let jwk = rsa2048_jwk();
    type Field = fn(&mut JsonWebKey) -> &mut Option<String>;
    let fields: [(&str, Field); 8] = [
        ("n", |j| &mut j.n),
        ("e", |j| &mut j.e),
        ("d", |j| &mut j.d),
        ("p", |j| &mut j.p),
        ("q", |j| &mut j.q),
        ("dp", |j| &mut j.dp),
        ("dq", |j| &mut j.dq),
        ("qi", |j| &mut j.qi),
    ];
    for (name, field) in fields {
        rejects(&with(jwk, |j| *field(j) = None), &format!("missing the '{name}' member"));
        rejects(
            &with(jwk, |j| *field(j) = Some("not*base64url!".into())),
            &format!("'{name}' member is not valid base64url"),
        );
        rejects(&with(jwk, |j| *field(j) = Some(String::new())), &format!("'{name}' member is empty"));
    }
    // a public-only JWK is refused (private key required)
    let public = KeyMaterial::import_jwk(jwk).unwrap().public_jwk();
    rejects(&public, "missing the 'd' member");
}

#[test]
fn rsa_exponent_and_size_policy() {
    let jwk = rsa2048_jwk();
    // 3, 1, 65536, 65535 (with a leading zero byte)
    for weak in [&[3u8][..], &[1], &[0x01, 0x00, 0x00], &[0x00, 0xff, 0xff]] {
        rejects(&with(jwk, |j| j.e = b(weak)), "too small (weak)");
    }
    for other in [&[0x01u8, 0x00, 0x03][..], &[0x01, 0x00, 0x00, 0x01], &[0xff; 9]] {
        rejects(&with(jwk, |j| j.e = b(other)), "only 65537 is supported");
    }
    let n = dec(&jwk.n);
    // 1024-bit and 2047-bit moduli (sizes are checked before consistency)
    rejects(&with(jwk, |j| j.n = b(&n[..128])), "key size 1024 is not supported");
    let mut n2047 = n.clone();
    n2047[0] = 0x7f;
    rejects(&with(jwk, |j| j.n = b(&n2047)), "key size 2047 is not supported");
    let mut n8192 = vec![0xc5; 1024];
    n8192[1023] |= 1;
    rejects(&with(jwk, |j| j.n = b(&n8192)), "key size 8192 is not supported");
    // every member shaped for 1024 bits (real OpenSSL-generated 1024-bit and e=3 keys are
    // refused in openssl_interop.rs)
    rejects(&small_rsa_jwk(), "key size 1024 is not supported");
}

/// A JWK with every member sized for a 1024-bit key (not a real key: the size check comes first).
fn small_rsa_jwk() -> JsonWebKey {
    let jwk = rsa2048_jwk();
    with(jwk, |j| {
        j.n = b(&[0xb7; 128]);
        j.d = b(&[0x11; 128]);
        j.p = b(&[0xe3; 64]);
        j.q = b(&[0xc1; 64]);
        j.dp = b(&[0x22; 64]);
        j.dq = b(&[0x33; 64]);
        j.qi = b(&[0x44; 64]);
    })
}

#[test]
fn rsa_wrong_sizes_and_inconsistent_members() {
    let jwk = rsa2048_jwk();
    let n = dec(&jwk.n);
    rejects(&with(jwk, |j| j.p = b(&n)), "'p' member is too long");
    rejects(&with(jwk, |j| j.qi = b(&n)), "'qi' member is too long");
    let mut long_d = vec![1u8];
    long_d.extend(&n);
    rejects(&with(jwk, |j| j.d = b(&long_d)), "'d' member is too long");
    // right sizes, wrong values
    rejects(&with(jwk, |j| std::mem::swap(&mut j.dp, &mut j.dq)), "inconsistent");
    rejects(&with(jwk, |j| std::mem::swap(&mut j.p, &mut j.q)), "inconsistent");
    let mut d = dec(&jwk.d);
    let last = d.len() - 1;
    d[last] ^= 0x02;
    rejects(&with(jwk, |j| j.d = b(&d)), "inconsistent");
    let mut n_off = n.clone();
    n_off[100] ^= 0x10;
    rejects(&with(jwk, |j| j.n = b(&n_off)), "inconsistent");
    // members of another key
    let other = private_jwk_from_pkcs8(&pkcs8_of(&KeyMaterial::generate_rsa(2048).unwrap()));
    rejects(&with(jwk, |j| j.qi = other.qi.clone()), "inconsistent");
    rejects(&with(jwk, |j| j.n = other.n.clone()), "inconsistent");
}

#[test]
fn ec_rejections() {
    for curve in Curve::ALL {
        let jwk = ec_jwk(curve);
        let fl = curve.field_len();
        rejects(&with(&jwk, |j| j.crv = None), "missing the 'crv' member");
        rejects(&with(&jwk, |j| j.x = None), "missing the 'x' member");
        rejects(&with(&jwk, |j| j.y = None), "missing the 'y' member");
        rejects(&with(&jwk, |j| j.d = None), "missing the 'd' member");
        rejects(&with(&jwk, |j| j.x = Some("x+y/z".into())), "'x' member is not valid base64url");
        rejects(&with(&jwk, |j| j.crv = Some("P-192".into())), "curve is not supported");
        rejects(&with(&jwk, |j| j.crv = Some("p-256".into())), "curve is not supported");
        // wrong sizes: one byte short (e.g. a stripped leading zero) or long
        let x = dec(&jwk.x);
        rejects(&with(&jwk, |j| j.x = b(&x[1..])), &format!("'x' member must be {fl} bytes long"));
        let mut long = vec![0u8];
        long.extend(&x);
        rejects(&with(&jwk, |j| j.x = b(&long)), &format!("'x' member must be {fl} bytes long"));
        let d = dec(&jwk.d);
        rejects(&with(&jwk, |j| j.d = b(&d[..fl - 1])), &format!("'d' member must be {fl} bytes long"));
        // not on the curve
        let mut y = dec(&jwk.y);
        y[fl - 1] ^= 0x01;
        rejects(&with(&jwk, |j| j.y = b(&y)), &format!("not a point on curve {curve}"));
        rejects(&with(&jwk, |j| j.x = b(&vec![0u8; fl])), "not a point on curve");
        // d out of range or not matching (x, y)
        rejects(&with(&jwk, |j| j.d = b(&vec![0u8; fl])), "is not valid for curve");
        rejects(&with(&jwk, |j| j.d = b(&vec![0xffu8; fl])), "is not valid for curve");
        let other = ec_jwk(curve);
        rejects(&with(&jwk, |j| j.d = other.d.clone()), "does not match 'x' and 'y'");
    }
    // a P-256 point declared as P-256K (same sizes, other curve)
    let p256 = ec_jwk(Curve::P256);
    rejects(&with(&p256, |j| j.crv = Some("P-256K".into())), "not a point on curve P-256K");
    // a P-384 key declared as P-256
    let p384 = ec_jwk(Curve::P384);
    rejects(&with(&p384, |j| j.crv = Some("P-256".into())), "must be 32 bytes long");
}

#[test]
fn oct_rejections() {
    let base = JsonWebKey { kty: Some("oct".into()), ..Default::default() };
    rejects(&base, "missing the 'k' member");
    rejects(&with(&base, |j| j.k = Some("***".into())), "'k' member is not valid base64url");
    for len in [1, 8, 15, 17, 31, 33, 64] {
        rejects(&with(&base, |j| j.k = b(&vec![7u8; len])), &format!("but is {} bits", len * 8));
    }
}

#[test]
fn imported_keys_still_reject_misuse() {
    let k = KeyMaterial::import_jwk(&ec_jwk(Curve::P521)).unwrap();
    let e = k.sign(SignAlg::ES256, &[0u8; 32]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParameter);
    let e = k.sign(SignAlg::ES512, &[0u8; 32]).unwrap_err();
    assert!(e.message.contains("must be 64 bytes long"), "{e}");
}
