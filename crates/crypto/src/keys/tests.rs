use std::sync::OnceLock;

use aws_lc_rs::digest;
use strongbox_types::{Error, ErrorKind, Result};

use super::der::bit_len;
use super::handle::KeyHandle;
use super::*;
use crate::aes::SymParams;
use crate::{b64url, b64url_decode};

const RSA_SIZES_UNDER_TEST: [usize; 3] = [2048, 3072, 4096];

/// Generated RSA keys are shared between tests: 4096-bit generation is slow in debug builds.
fn rsa(bits: usize) -> &'static KeyMaterial {
    static KEYS: [OnceLock<KeyMaterial>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let i = RSA_SIZES_UNDER_TEST.iter().position(|&b| b == bits).unwrap();
    KEYS[i].get_or_init(|| KeyMaterial::generate_rsa(bits).unwrap())
}

fn ec(curve: Curve) -> KeyMaterial {
    KeyMaterial::generate_ec(curve).unwrap()
}

fn digest_for(alg: SignAlg, msg: &[u8]) -> Vec<u8> {
    digest::digest(alg.digest_alg(), msg).as_ref().to_vec()
}

fn assert_bad(r: Result<impl std::fmt::Debug>, needle: &str) {
    let e = r.unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParameter, "{e}");
    assert!(e.message.contains(needle), "message {:?} lacks {needle:?}", e.message);
}

fn rsa_algs() -> impl Iterator<Item = SignAlg> {
    SignAlg::ALL.into_iter().filter(|a| a.is_rsa())
}

#[test]
fn names_parse_and_print() {
    for a in SignAlg::ALL {
        assert_eq!(SignAlg::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.to_string(), a.as_str());
    }
    for a in EncAlg::ALL {
        assert_eq!(EncAlg::parse(a.as_str()).unwrap(), a);
    }
    for c in Curve::ALL {
        assert_eq!(Curve::parse(c.as_str()).unwrap(), c);
        assert_eq!(c.sign_alg().curve(), Some(c));
    }
    assert_eq!(Curve::parse("SECP256K1").unwrap(), Curve::P256K);
    assert_eq!(SignAlg::parse("HS256").unwrap_err().kind, ErrorKind::NotImplemented);
    assert_eq!(EncAlg::parse("A256GCM").unwrap_err().kind, ErrorKind::NotImplemented);
    assert_eq!(CipherAlg::parse("A192KW").unwrap().as_str(), "A192KW");
    assert_eq!(CipherAlg::parse("RSA-OAEP-256").unwrap(), CipherAlg::Rsa(EncAlg::RsaOaep256));
    assert_eq!(CipherAlg::parse("CKM_AES_KEY_WRAP").unwrap_err().kind, ErrorKind::NotImplemented);
    assert_bad(CipherAlg::parse("A512GCM"), "encryption algorithm is not valid");
    assert_bad(SignAlg::parse("rs256"), "signature algorithm");
    assert_bad(SignAlg::parse("ES256k"), "signature algorithm");
    assert_bad(EncAlg::parse("RSA-OAEP-384"), "encryption algorithm");
    assert_bad(Curve::parse("P-192"), "curve");
    let lens: Vec<usize> = SignAlg::ALL.iter().map(|a| a.digest_len()).collect();
    assert_eq!(lens, [32, 48, 64, 32, 48, 64, 32, 48, 64, 32]);
    assert_eq!(EncAlg::Rsa15.max_plaintext_len(256), 245);
    assert_eq!(EncAlg::RsaOaep.max_plaintext_len(256), 214);
    assert_eq!(EncAlg::RsaOaep256.max_plaintext_len(256), 190);
    assert_eq!(KeyKind::Ec(Curve::P256).kty(), "EC");
}

#[test]
fn key_material_is_send_sync_and_debug_is_quiet() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<KeyMaterial>();
    let k = ec(Curve::P256);
    let dbg = format!("{k:?}");
    assert_eq!(dbg, "KeyMaterial { kind: Ec(P256), bits: 256, .. }");
}

#[test]
fn generate_rejects_unsupported_sizes() {
    for bits in [0, 1024, 2047, 2049, 8192] {
        assert_bad(KeyMaterial::generate_rsa(bits), "use 2048, 3072 or 4096");
    }
    for bits in [0, 64, 512, 255] {
        assert_bad(KeyMaterial::generate_oct(bits), "use 128, 192 or 256");
    }
}

#[test]
fn rsa_sign_verify_every_alg_and_size() {
    for bits in RSA_SIZES_UNDER_TEST {
        let k = rsa(bits);
        assert_eq!(k.kind(), KeyKind::Rsa);
        assert_eq!(k.bits(), bits);
        for alg in rsa_algs() {
            let d = digest_for(alg, b"message");
            let s = k.sign(alg, &d).unwrap();
            assert_eq!(s.len(), bits / 8, "{alg}");
            assert!(k.verify(alg, &d, &s).unwrap(), "{alg} {bits}");
            // tampered signature, other digest, truncated / empty signature
            let mut t = s.clone();
            t[bits / 16] ^= 0x01;
            assert!(!k.verify(alg, &d, &t).unwrap());
            assert!(!k.verify(alg, &digest_for(alg, b"other"), &s).unwrap());
            assert!(!k.verify(alg, &d, &s[1..]).unwrap());
            assert!(!k.verify(alg, &d, &[]).unwrap());
            // a signature made with another padding or hash does not verify
            for other in rsa_algs().filter(|o| *o != alg && o.digest_len() == alg.digest_len()) {
                assert!(!k.verify(other, &d, &s).unwrap(), "{alg} sig accepted as {other}");
            }
        }
        // PKCS#1 v1.5 is deterministic, PSS is randomized
        let d = digest_for(SignAlg::RS256, b"x");
        assert_eq!(k.sign(SignAlg::RS256, &d).unwrap(), k.sign(SignAlg::RS256, &d).unwrap());
        assert_ne!(k.sign(SignAlg::PS256, &d).unwrap(), k.sign(SignAlg::PS256, &d).unwrap());
    }
    // another key's signature does not verify
    let d = digest_for(SignAlg::RS256, b"message");
    let s = rsa(2048).sign(SignAlg::RS256, &d).unwrap();
    assert!(!KeyMaterial::generate_rsa(2048).unwrap().verify(SignAlg::RS256, &d, &s).unwrap());
}

#[test]
fn ec_sign_verify_every_curve() {
    for curve in Curve::ALL {
        let k = ec(curve);
        assert_eq!(k.kind(), KeyKind::Ec(curve));
        let alg = curve.sign_alg();
        let d = digest_for(alg, b"message");
        let s = k.sign(alg, &d).unwrap();
        assert_eq!(s.len(), 2 * curve.field_len(), "{curve}: raw r||s");
        assert!(k.verify(alg, &d, &s).unwrap(), "{curve}");
        let mut t = s.clone();
        t[3] ^= 0x80;
        assert!(!k.verify(alg, &d, &t).unwrap());
        let mut t = s.clone();
        let last = t.len() - 1;
        t[last] ^= 0x01;
        assert!(!k.verify(alg, &d, &t).unwrap());
        assert!(!k.verify(alg, &digest_for(alg, b"other"), &s).unwrap());
        assert!(!k.verify(alg, &d, &s[..s.len() - 1]).unwrap());
        assert!(!ec(curve).verify(alg, &d, &s).unwrap(), "another key");
    }
}

#[test]
fn wrong_digest_length_is_rejected() {
    let p256 = ec(Curve::P256);
    let k = rsa(2048);
    for alg in SignAlg::ALL {
        let key = if alg.is_rsa() { k } else { &ec(alg.curve().unwrap()) };
        for len in [0, alg.digest_len() - 1, alg.digest_len() + 1, 20] {
            let d = vec![7u8; len];
            let msg = format!("must be {} bytes long, but {len} bytes", alg.digest_len());
            assert_bad(key.sign(alg, &d), &msg);
            assert_bad(key.verify(alg, &d, &[0u8; 64]), &msg);
        }
    }
    // a full message instead of a digest
    assert_bad(p256.sign(SignAlg::ES256, b"this is a message, not a 32-byte digest"), "must be 32 bytes");
}

#[test]
fn wrong_alg_for_key_is_rejected() {
    let d32 = [1u8; 32];
    let d48 = [1u8; 48];
    let r = rsa(2048);
    assert_bad(r.sign(SignAlg::ES256, &d32), "cannot be used with an RSA key");
    assert_bad(r.verify(SignAlg::ES256K, &d32, &[0; 64]), "cannot be used with an RSA key");
    let p256 = ec(Curve::P256);
    assert_bad(p256.sign(SignAlg::RS256, &d32), "cannot be used with a P-256 key; use ES256");
    assert_bad(p256.sign(SignAlg::ES256K, &d32), "cannot be used with a P-256 key");
    assert_bad(p256.sign(SignAlg::ES384, &d48), "cannot be used with a P-256 key");
    assert_bad(p256.verify(SignAlg::PS256, &d32, &[0; 64]), "cannot be used with a P-256 key");
    let k1 = ec(Curve::P256K);
    assert_bad(k1.sign(SignAlg::ES256, &d32), "cannot be used with a P-256K key; use ES256K");
    assert_bad(p256.encrypt(EncAlg::RsaOaep, b"x"), "cannot be used with an EC key");
    assert_bad(p256.decrypt(EncAlg::Rsa15, &[0; 64]), "cannot be used with an EC key");
    let oct = KeyMaterial::generate_oct(256).unwrap();
    assert_bad(oct.sign(SignAlg::RS256, &d32), "symmetric (oct) key");
    assert_bad(oct.verify(SignAlg::RS256, &d32, &[]), "symmetric (oct) key");
    assert_bad(oct.encrypt(EncAlg::RsaOaep, b"x"), "symmetric (oct) key");
    assert_bad(oct.decrypt(EncAlg::RsaOaep, b"x"), "symmetric (oct) key");
    // through the handle interface: AES algorithms on RSA/EC keys, RSA algorithms on oct keys
    let h: &dyn KeyHandle = &oct;
    let none = SymParams::default();
    let a256 = CipherAlg::parse("A256GCM").unwrap();
    assert_bad(h.encrypt(CipherAlg::Rsa(EncAlg::RsaOaep), b"x", &none), "symmetric (oct) key");
    assert_bad((r as &dyn KeyHandle).encrypt(a256, b"x", &none), "cannot be used with an RSA key");
    assert_bad((&p256 as &dyn KeyHandle).decrypt(a256, b"x", &none), "cannot be used with an EC key");
    let iv = [0u8; 16];
    let with_iv = SymParams { iv: Some(&iv), ..Default::default() };
    assert_bad((r as &dyn KeyHandle).encrypt(CipherAlg::Rsa(EncAlg::RsaOaep), b"x", &with_iv), "'iv', 'aad'");
    // the handle's key size must fit the algorithm
    assert_bad(h.encrypt(CipherAlg::parse("A128KW").unwrap(), &[0; 16], &none), "needs a 128-bit key");
    let out = h.encrypt(a256, b"secret", &none).unwrap();
    let p = SymParams { iv: out.iv.as_deref(), tag: out.tag.as_deref(), aad: None };
    assert_eq!(h.decrypt(a256, &out.value, &p).unwrap().expose(), b"secret");
}

#[test]
fn rsa_encrypt_decrypt_every_alg_and_size() {
    for bits in RSA_SIZES_UNDER_TEST {
        let k = rsa(bits);
        let modulus_len = bits / 8;
        for alg in EncAlg::ALL {
            let max = alg.max_plaintext_len(modulus_len);
            for pt in [vec![], b"a 256-bit content key, say......".to_vec(), vec![0xA5; max]] {
                let ct = k.encrypt(alg, &pt).unwrap();
                assert_eq!(ct.len(), modulus_len);
                assert_eq!(k.decrypt(alg, &ct).unwrap().expose(), &pt[..], "{alg} {bits}");
            }
            // randomized padding
            assert_ne!(k.encrypt(alg, b"same").unwrap(), k.encrypt(alg, b"same").unwrap());
            assert_bad(k.encrypt(alg, &vec![0; max + 1]), &format!("at most {max} bytes"));
        }
    }
}

#[test]
fn rsa_decrypt_failures_are_uniform() {
    let k = rsa(2048);
    let uniform = Error::bad(UNDECRYPTABLE);
    let secret = b"0123456789abcdef0123456789abcdef";
    for alg in EncAlg::ALL {
        let ct = k.encrypt(alg, secret).unwrap();
        for i in [0, 1, 100, 255] {
            let mut t = ct.clone();
            t[i] ^= 0x40;
            match k.decrypt(alg, &t) {
                Err(e) => assert_eq!(e, uniform, "{alg} byte {i}"),
                // RSA1_5 has no integrity: a tampered ciphertext may (rarely) still unpad.
                Ok(p) => assert!(alg == EncAlg::Rsa15 && p.expose() != secret),
            }
        }
        let zero = vec![0u8; 256];
        let mut one = vec![0u8; 256];
        one[255] = 1;
        for bad in [vec![], vec![0u8; 255], vec![0u8; 257], ct[1..].to_vec(), zero, one, vec![0xFF; 256]] {
            assert_eq!(k.decrypt(alg, &bad).unwrap_err(), uniform, "{alg}");
        }
        // a ciphertext for another key
        let other = rsa(3072).encrypt(alg, secret).unwrap();
        assert_eq!(k.decrypt(alg, &other).unwrap_err(), uniform);
    }
    // OAEP with the other hash fails (deterministically: the label hash check)
    let ct = k.encrypt(EncAlg::RsaOaep, secret).unwrap();
    assert_eq!(k.decrypt(EncAlg::RsaOaep256, &ct).unwrap_err(), uniform);
    let ct = k.encrypt(EncAlg::RsaOaep256, secret).unwrap();
    assert_eq!(k.decrypt(EncAlg::RsaOaep, &ct).unwrap_err(), uniform);
}

#[test]
fn public_jwk_shape() {
    for bits in RSA_SIZES_UNDER_TEST {
        let jwk = rsa(bits).public_jwk();
        assert_eq!(jwk.kty.as_deref(), Some("RSA"));
        assert_eq!(jwk.e.as_deref(), Some("AQAB"));
        let n = b64url_decode(jwk.n.as_deref().unwrap()).unwrap();
        assert_eq!(n.len(), bits / 8, "no leading zero byte");
        assert_ne!(n[0], 0);
        assert_eq!(bit_len(&n), bits);
        assert!(!jwk.has_private_members());
        let json = serde_json::to_value(&jwk).unwrap();
        let mut keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        keys.sort();
        assert_eq!(keys, ["e", "kty", "n"]);
    }
    for curve in Curve::ALL {
        // P-521 coordinates often have leading zero bytes: try several keys.
        for _ in 0..8 {
            let jwk = ec(curve).public_jwk();
            assert_eq!(jwk.kty.as_deref(), Some("EC"));
            assert_eq!(jwk.crv.as_deref(), Some(curve.as_str()));
            assert_eq!(b64url_decode(jwk.x.as_deref().unwrap()).unwrap().len(), curve.field_len());
            assert_eq!(b64url_decode(jwk.y.as_deref().unwrap()).unwrap().len(), curve.field_len());
            assert!(jwk.d.is_none() && !jwk.has_private_members());
            assert!(!jwk.x.as_deref().unwrap().contains('='), "no padding");
        }
    }
    let oct = KeyMaterial::generate_oct(128).unwrap();
    assert_eq!(oct.public_jwk(), JsonWebKey { kty: Some("oct".into()), ..Default::default() });
    assert_eq!(oct.bits(), 128);
}

#[test]
fn storage_round_trip() {
    let mut keys: Vec<&KeyMaterial> = RSA_SIZES_UNDER_TEST.iter().map(|&b| rsa(b)).collect();
    let ecs: Vec<KeyMaterial> = Curve::ALL.into_iter().map(ec).collect();
    keys.extend(ecs.iter());
    for k in keys {
        let stored = k.to_storage();
        let back = KeyMaterial::from_storage(stored.expose()).unwrap();
        assert_eq!(back.kind(), k.kind());
        assert_eq!(back.bits(), k.bits());
        assert_eq!(back.public_jwk(), k.public_jwk());
        assert_eq!(back.to_storage(), stored, "stable encoding");
        let alg = match k.kind() {
            KeyKind::Ec(c) => c.sign_alg(),
            _ => SignAlg::PS384,
        };
        let d = digest_for(alg, b"after restore");
        assert!(k.verify(alg, &d, &back.sign(alg, &d).unwrap()).unwrap());
        assert!(back.verify(alg, &d, &k.sign(alg, &d).unwrap()).unwrap());
        if k.kind() == KeyKind::Rsa {
            let ct = k.encrypt(EncAlg::RsaOaep256, b"wrapped").unwrap();
            assert_eq!(back.decrypt(EncAlg::RsaOaep256, &ct).unwrap().expose(), b"wrapped");
        }
    }
    for bits in OCT_SIZES {
        let k = KeyMaterial::generate_oct(bits).unwrap();
        let stored = k.to_storage();
        assert_eq!(stored.len(), 3 + bits / 8);
        let back = KeyMaterial::from_storage(stored.expose()).unwrap();
        assert_eq!(back.kind(), KeyKind::Oct);
        assert_eq!(back.to_storage(), stored);
    }
    // two fresh symmetric keys differ
    assert_ne!(
        KeyMaterial::generate_oct(256).unwrap().to_storage(),
        KeyMaterial::generate_oct(256).unwrap().to_storage()
    );
}

#[test]
fn storage_header_layout() {
    let s = rsa(2048).to_storage();
    assert_eq!(&s.expose()[..3], &[1, 1, 0]);
    assert_eq!(s.expose()[3], 0x30, "PKCS#8 DER SEQUENCE follows");
    for (curve, tag) in [(Curve::P256, 1), (Curve::P384, 2), (Curve::P521, 3), (Curve::P256K, 4)] {
        assert_eq!(&ec(curve).to_storage().expose()[..3], &[1, 2, tag]);
    }
    assert_eq!(&KeyMaterial::generate_oct(192).unwrap().to_storage().expose()[..3], &[1, 3, 0]);
}

#[test]
fn corrupt_storage_is_internal() {
    let rsa_s = rsa(2048).to_storage().expose().to_vec();
    let p256 = ec(Curve::P256).to_storage().expose().to_vec();
    let mut cases: Vec<Vec<u8>> = vec![vec![], vec![1], vec![1, 1], vec![1, 1, 0]];
    let mut v = rsa_s.clone();
    v[0] = 2; // unknown version
    cases.push(v);
    let mut v = rsa_s.clone();
    v[1] = 9; // unknown kind
    cases.push(v);
    let mut v = rsa_s.clone();
    v[2] = 1; // RSA with a curve
    cases.push(v);
    cases.push(rsa_s[..rsa_s.len() - 10].to_vec()); // truncated DER
    let mut v = p256.clone();
    v[2] = 2; // P-256 key labelled P-384
    cases.push(v);
    let mut v = p256.clone();
    v[2] = 0; // EC without curve
    cases.push(v);
    let mut v = p256.clone();
    v[1] = 1; // EC DER labelled RSA
    cases.push(v);
    cases.push(vec![1, 3, 0, 1, 2, 3]); // 24-bit oct key
    for c in cases {
        let e = KeyMaterial::from_storage(&c).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Internal, "{c:?}");
    }
}

/// RFC 7515 Appendix A.2 (RS256): the private JWK, the signing input and the exact signature.
fn rfc7515_a2() -> JsonWebKey {
    JsonWebKey {
        kty: Some("RSA".into()),
        n: Some("ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ".into()),
        e: Some("AQAB".into()),
        d: Some("Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ".into()),
        p: Some("4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc".into()),
        q: Some("uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc".into()),
        dp: Some("BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0".into()),
        dq: Some("h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU".into()),
        qi: Some("IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U".into()),
        ..Default::default()
    }
}

const RFC7515_PAYLOAD: &str =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

#[test]
fn rfc7515_a2_rs256_known_answer() {
    let jwk = rfc7515_a2();
    let k = KeyMaterial::import_jwk(&jwk).unwrap();
    assert_eq!(k.kind(), KeyKind::Rsa);
    assert_eq!(k.bits(), 2048);
    let public = k.public_jwk();
    assert_eq!((public.n.as_deref(), public.e.as_deref()), (jwk.n.as_deref(), jwk.e.as_deref()));
    let input = format!("eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}");
    let d = crate::sha256(input.as_bytes());
    let expected = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
    assert_eq!(b64url(&k.sign(SignAlg::RS256, &d).unwrap()), expected);
    assert!(k.verify(SignAlg::RS256, &d, &b64url_decode(expected).unwrap()).unwrap());
    // also survives storage
    let back = KeyMaterial::from_storage(k.to_storage().expose()).unwrap();
    assert_eq!(b64url(&back.sign(SignAlg::RS256, &d).unwrap()), expected);
}

/// RFC 7515 Appendix A.3 (ES256): private JWK and a signature produced by the RFC authors.
#[test]
fn rfc7515_a3_es256_known_answer() {
    let jwk = JsonWebKey {
        kty: Some("EC".into()),
        crv: Some("P-256".into()),
        x: Some("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into()),
        y: Some("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into()),
        d: Some("jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI".into()),
        ..Default::default()
    };
    let k = KeyMaterial::import_jwk(&jwk).unwrap();
    assert_eq!(k.kind(), KeyKind::Ec(Curve::P256));
    let public = k.public_jwk();
    assert_eq!((public.x, public.y), (jwk.x.clone(), jwk.y.clone()));
    let d = crate::sha256(format!("eyJhbGciOiJFUzI1NiJ9.{RFC7515_PAYLOAD}").as_bytes());
    let rfc_sig =
        b64url_decode("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
            .unwrap();
    assert!(k.verify(SignAlg::ES256, &d, &rfc_sig).unwrap());
    assert!(k.verify(SignAlg::ES256, &d, &k.sign(SignAlg::ES256, &d).unwrap()).unwrap());
    // d that does not belong to (x, y)
    let mut wrong = jwk.clone();
    wrong.d = Some(b64url(&[0x11; 32]));
    assert_bad(KeyMaterial::import_jwk(&wrong), "does not match 'x' and 'y'");
}

#[test]
fn jwk_debug_redacts_private_members() {
    let mut jwk = rfc7515_a2();
    jwk.k = Some("c2VjcmV0LXN5bW1ldHJpYy1rZXk".into());
    jwk.key_hsm = Some("protected-blob".into());
    let dbg = format!("{jwk:?}");
    for secret in [&jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi, &jwk.k] {
        let s = secret.as_deref().unwrap();
        assert!(!dbg.contains(&s[..12]), "Debug leaks a private member");
    }
    assert!(!dbg.contains("protected-blob"));
    assert!(dbg.contains("[REDACTED]"));
    assert!(dbg.contains("ofgWCuLjybRlzo0t"), "public members stay visible");
}

#[test]
fn jwk_serde_names() {
    let json = r#"{"kid":"https://v/keys/k/1","kty":"RSA-HSM","key_ops":["sign","verify"],"n":"AQ","e":"AQAB",
        "d":"AQ","dp":"AQ","dq":"AQ","qi":"AQ","p":"AQ","q":"AQ","crv":"P-256","x":"AQ","y":"AQ","k":"AQ",
        "key_hsm":"AQ","alg":"ignored"}"#;
    let jwk: JsonWebKey = serde_json::from_str(json).unwrap();
    assert_eq!(jwk.key_ops.as_deref(), Some(&["sign".to_string(), "verify".to_string()][..]));
    assert_eq!(jwk.key_hsm.as_deref(), Some("AQ"));
    let back = serde_json::to_value(&jwk).unwrap();
    assert_eq!(back.as_object().unwrap().len(), 16);
    assert_eq!(serde_json::to_string(&JsonWebKey::default()).unwrap(), "{}");
}
