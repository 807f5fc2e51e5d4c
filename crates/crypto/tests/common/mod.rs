//! Test-only helpers: a tiny DER reader/writer, SubjectPublicKeyInfo built from a public JWK,
//! private JWKs extracted from PKCS#8 DER, and PEM. Written independently of the code under test
//! so that the cross-checks mean something.
#![allow(
    clippy::indexing_slicing,
    reason = "test support: indexes into vectors and documents the tests have just checked; a panic fails the test"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers
#![allow(dead_code)]

use base64::Engine;
use strongbox_crypto::keys::{JsonWebKey, KeyMaterial};
use strongbox_crypto::{b64url, b64url_decode};

pub(crate) const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
pub(crate) const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
pub(crate) const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
pub(crate) const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
pub(crate) const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
pub(crate) const OID_SECP256K1: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x0a];

/// (JWK crv, OID, field length in bytes)
pub(crate) const CURVES: [(&str, &[u8], usize); 4] =
    [("P-256", OID_P256, 32), ("P-384", OID_P384, 48), ("P-521", OID_P521, 66), ("P-256K", OID_SECP256K1, 32)];

// ----- DER writer -----

pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().iter().copied().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

pub(crate) fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// An unsigned big-endian integer as a DER INTEGER (minimal, with a 0x00 if the top bit is set).
pub(crate) fn uint(be: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = be.iter().copied().skip_while(|&b| b == 0).collect();
    if v.is_empty() || v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

pub(crate) fn oid(der_body: &[u8]) -> Vec<u8> {
    tlv(0x06, der_body)
}

pub(crate) fn bit_string(bytes: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8];
    v.extend_from_slice(bytes);
    tlv(0x03, &v)
}

// ----- DER reader -----

/// Splits one TLV off the front: (tag, content, rest).
pub(crate) fn read_tlv(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let first = input[1] as usize;
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        (input[2..2 + n].iter().fold(0usize, |a, &b| (a << 8) | b as usize), 2 + n)
    };
    (tag, &input[hdr..hdr + len], &input[hdr + len..])
}

/// Reads every TLV of a constructed value's content.
pub(crate) fn read_all(mut content: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (t, c, rest) = read_tlv(content);
        out.push((t, c));
        content = rest;
    }
    out
}

fn strip(be: &[u8]) -> &[u8] {
    let i = be.iter().position(|&b| b != 0).unwrap_or(be.len().saturating_sub(1));
    &be[i..]
}

fn left_pad(be: &[u8], len: usize) -> Vec<u8> {
    let be = strip(be);
    assert!(be.len() <= len);
    let mut v = vec![0u8; len - be.len()];
    v.extend_from_slice(be);
    v
}

// ----- keys -----

/// SubjectPublicKeyInfo DER built from a public JWK (RSA or EC).
pub(crate) fn spki_from_jwk(jwk: &JsonWebKey) -> Vec<u8> {
    match jwk.kty.as_deref().unwrap() {
        "RSA" => {
            let n = b64url_decode(jwk.n.as_deref().unwrap()).unwrap();
            let e = b64url_decode(jwk.e.as_deref().unwrap()).unwrap();
            let rsa_public_key = seq(&[uint(&n), uint(&e)]);
            seq(&[seq(&[oid(OID_RSA), tlv(0x05, &[])]), bit_string(&rsa_public_key)])
        }
        "EC" => {
            let crv = jwk.crv.as_deref().unwrap();
            let (_, curve_oid, _) = CURVES.iter().find(|(c, _, _)| *c == crv).unwrap();
            let mut point = vec![4u8];
            point.extend(b64url_decode(jwk.x.as_deref().unwrap()).unwrap());
            point.extend(b64url_decode(jwk.y.as_deref().unwrap()).unwrap());
            seq(&[seq(&[oid(OID_EC_PUBLIC_KEY), oid(curve_oid)]), bit_string(&point)])
        }
        other => panic!("no SPKI for kty {other}"),
    }
}

/// The private JWK (all members) of an unencrypted PKCS#8 RSA or EC private key.
pub(crate) fn private_jwk_from_pkcs8(der: &[u8]) -> JsonWebKey {
    let (t, body, _) = read_tlv(der);
    assert_eq!(t, 0x30);
    let items = read_all(body);
    let alg = read_all(items[1].1);
    assert_eq!(alg[0].0, 0x06);
    assert_eq!(items[2].0, 0x04, "privateKey OCTET STRING");
    let (t, inner, _) = read_tlv(items[2].1);
    assert_eq!(t, 0x30);
    let fields = read_all(inner);
    if alg[0].1 == OID_RSA {
        let m = |i: usize| {
            assert_eq!(fields[i].0, 0x02);
            b64url(strip(fields[i].1))
        };
        JsonWebKey {
            kty: Some("RSA".into()),
            n: Some(m(1)),
            e: Some(m(2)),
            d: Some(m(3)),
            p: Some(m(4)),
            q: Some(m(5)),
            dp: Some(m(6)),
            dq: Some(m(7)),
            qi: Some(m(8)),
            ..Default::default()
        }
    } else if alg[0].1 == OID_EC_PUBLIC_KEY {
        let (crv, _, fl) = *CURVES.iter().find(|(_, o, _)| *o == alg[1].1).expect("known curve");
        assert_eq!(fields[1].0, 0x04, "ECPrivateKey d");
        let public = fields.iter().find(|(t, _)| *t == 0xa1).expect("ECPrivateKey carries the public key");
        let (t, bits, _) = read_tlv(public.1);
        assert_eq!(t, 0x03);
        let point = &bits[1..];
        assert_eq!(point[0], 4, "uncompressed point");
        JsonWebKey {
            kty: Some("EC".into()),
            crv: Some(crv.into()),
            x: Some(b64url(&point[1..1 + fl])),
            y: Some(b64url(&point[1 + fl..])),
            d: Some(b64url(&left_pad(fields[1].1, fl))),
            ..Default::default()
        }
    } else {
        panic!("unexpected PKCS#8 algorithm")
    }
}

/// The PKCS#8 DER inside `to_storage()` (3-byte header: version, kind, curve).
pub(crate) fn pkcs8_of(k: &KeyMaterial) -> Vec<u8> {
    let s = k.to_storage();
    assert_eq!(s.expose()[0], 1, "storage format v1");
    s.expose()[3..].to_vec()
}

/// Raw fixed-size ECDSA `r ‖ s` as a DER `ECDSA-Sig-Value`.
pub(crate) fn ecdsa_raw_to_der(sig: &[u8]) -> Vec<u8> {
    let (r, s) = sig.split_at(sig.len() / 2);
    seq(&[uint(r), uint(s)])
}

/// DER `ECDSA-Sig-Value` as raw `r ‖ s`, each left-padded to `field_len`.
pub(crate) fn ecdsa_der_to_raw(der: &[u8], field_len: usize) -> Vec<u8> {
    let (t, body, _) = read_tlv(der);
    assert_eq!(t, 0x30);
    let ints = read_all(body);
    let mut out = left_pad(ints[0].1, field_len);
    out.extend(left_pad(ints[1].1, field_len));
    out
}

pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
