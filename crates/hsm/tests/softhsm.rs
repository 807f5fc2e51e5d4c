//! The PKCS#11 provider against a real token (SoftHSM2 in CI; `scripts/test.sh` initialises one
//! and exports `SOFTHSM2_CONF` and `STRONGBOX_PKCS11_{MODULE,TOKEN,PIN}`). Without a token these
//! tests print SKIPPED, or fail when `STRONGBOX_REQUIRE_SOFTHSM=1`.
//!
//! Outputs of the token are checked against a second implementation: signatures verify with
//! aws-lc-rs on the public key (and the deterministic RS256 signature of RFC 7515 A.2 matches
//! byte for byte); AES results are compared with the software AES of `strongbox-crypto`, itself
//! tested against NIST and RFC 3394 vectors.
#![allow(
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "integration test: indexes into responses whose shape it has just asserted (a panic fails the test) and prints SKIPPED notices"
)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::OnceLock;

use strongbox_crypto::aes::{self, SymParams};
use strongbox_crypto::handle::{KeyProvider, KeySpec};
use strongbox_crypto::keys::{CipherAlg, Curve, EncAlg, JsonWebKey, KeyKind, KeyMaterial, SignAlg, UNDECRYPTABLE};
use strongbox_hsm::{Pkcs11Config, Pkcs11Provider};
use strongbox_types::ErrorKind;

fn provider() -> Option<&'static Pkcs11Provider> {
    static P: OnceLock<Option<Pkcs11Provider>> = OnceLock::new();
    P.get_or_init(|| match Pkcs11Config::from_env().unwrap() {
        Some(cfg) => Some(Pkcs11Provider::open(&cfg).unwrap()),
        None => {
            if std::env::var("STRONGBOX_REQUIRE_SOFTHSM").as_deref() == Ok("1") {
                panic!(
                    "STRONGBOX_REQUIRE_SOFTHSM=1 but STRONGBOX_PKCS11_MODULE is not set (scripts/test.sh sets it up)"
                );
            }
            None
        }
    })
    .as_ref()
}

macro_rules! token_or_skip {
    ($name:expr) => {
        match provider() {
            Some(p) => p,
            None => {
                println!("SKIPPED: {} (no PKCS#11 token: install softhsm2 and run scripts/test.sh)", $name);
                return;
            }
        }
    };
}

fn digest(alg: SignAlg, msg: &[u8]) -> Vec<u8> {
    let d = match alg.digest_len() {
        48 => &aws_lc_rs::digest::SHA384,
        64 => &aws_lc_rs::digest::SHA512,
        _ => &aws_lc_rs::digest::SHA256,
    };
    aws_lc_rs::digest::digest(d, msg).as_ref().to_vec()
}

fn none() -> SymParams<'static> {
    SymParams::default()
}

#[test]
fn rsa_keys_live_in_the_token() {
    let p = token_or_skip!("rsa_keys_live_in_the_token");
    let (id, k) = p.generate(KeySpec::Rsa(2048)).unwrap();
    assert_eq!(k.kind(), KeyKind::Rsa);
    assert_eq!(k.bits(), 2048);
    assert_eq!(p.protection(&id).unwrap(), (true, false), "sensitive and not extractable");
    let dbg = format!("{k:?}");
    assert!(dbg.starts_with("HsmKey"), "{dbg}");

    for alg in SignAlg::ALL.into_iter().filter(|a| a.is_rsa()) {
        let d = digest(alg, b"signed inside the token");
        let sig = k.sign(alg, &d).unwrap();
        assert_eq!(sig.len(), 256);
        assert!(k.verify(alg, &d, &sig).unwrap(), "{alg}");
        assert!(!k.verify(alg, &digest(alg, b"other"), &sig).unwrap());
    }
    // wrong algorithm / digest size: the same 400s as software keys
    let e = k.sign(SignAlg::ES256, &[0; 32]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadParameter);
    let e = k.sign(SignAlg::RS256, &[0; 31]).unwrap_err();
    assert!(e.message.contains("must be 32 bytes"), "{e}");

    for alg in [EncAlg::Rsa15, EncAlg::RsaOaep] {
        let ct = k.encrypt(CipherAlg::Rsa(alg), b"content key 0123456789abcdef", &none()).unwrap();
        assert_eq!(
            k.decrypt(CipherAlg::Rsa(alg), &ct.value, &none()).unwrap().expose(),
            b"content key 0123456789abcdef"
        );
        let mut t = ct.value.clone();
        t[10] ^= 0x20;
        match k.decrypt(CipherAlg::Rsa(alg), &t, &none()) {
            Err(e) => assert_eq!(e.message, UNDECRYPTABLE),
            Ok(v) => assert!(alg == EncAlg::Rsa15 && v.expose() != b"content key 0123456789abcdef"),
        }
    }
    // SoftHSM2 has no OAEP-SHA256: a clear 501, never a software fallback.
    let oaep256 = CipherAlg::Rsa(EncAlg::RsaOaep256);
    match k.encrypt(oaep256, b"x", &none()) {
        Ok(ct) => assert_eq!(k.decrypt(oaep256, &ct.value, &none()).unwrap().expose(), b"x"),
        Err(e) => {
            println!("RSA-OAEP-256 with HSM keys: not supported by this token ({})", e.message);
            assert_eq!(e.kind, ErrorKind::NotImplemented, "{e}");
            assert!(e.message.contains("does not support OAEP with SHA-256"));
            assert_eq!(k.decrypt(oaep256, &[0; 256], &none()).unwrap_err().kind, ErrorKind::NotImplemented);
        }
    }

    // reopened by its handle id: same public key, still usable
    let again = p.open(&id).unwrap();
    assert_eq!(again.public_jwk(), k.public_jwk());
    let d = digest(SignAlg::RS256, b"x");
    assert_eq!(again.sign(SignAlg::RS256, &d).unwrap(), k.sign(SignAlg::RS256, &d).unwrap());

    p.destroy(&id).unwrap();
    assert!(!p.exists(&id).unwrap());
    assert!(p.open(&id).is_err());
    p.destroy(&id).unwrap();
}

#[test]
fn ec_keys_every_curve() {
    let p = token_or_skip!("ec_keys_every_curve");
    for curve in Curve::ALL {
        let (id, k) = p.generate(KeySpec::Ec(curve)).unwrap();
        assert_eq!(k.kind(), KeyKind::Ec(curve));
        assert_eq!(p.protection(&id).unwrap(), (true, false));
        let alg = curve.sign_alg();
        let d = digest(alg, b"ecdsa in the token");
        let sig = k.sign(alg, &d).unwrap();
        assert_eq!(sig.len(), 2 * curve.field_len(), "{curve}: raw r||s");
        assert!(k.verify(alg, &d, &sig).unwrap(), "{curve}");
        assert!(!k.verify(alg, &d, &sig[1..]).unwrap(), "wrong length: false, not an error");
        let mut t = sig.clone();
        t[5] ^= 1;
        assert!(!k.verify(alg, &d, &t).unwrap());
        let jwk = k.public_jwk();
        assert_eq!(jwk.crv.as_deref(), Some(curve.as_str()));
        assert_eq!(
            k.encrypt(CipherAlg::Rsa(EncAlg::RsaOaep), b"x", &none()).unwrap_err().kind,
            ErrorKind::BadParameter
        );
        p.destroy(&id).unwrap();
    }
}

/// RFC 7515 A.2 / A.3 keys imported into the token: RS256 is deterministic, so the token's
/// signature must equal the RFC's exactly.
#[test]
fn import_known_keys() {
    let p = token_or_skip!("import_known_keys");
    let jwk: JsonWebKey = serde_json::from_str(RFC7515_A2).unwrap();
    let (id, k) = p.import(&jwk).unwrap();
    assert_eq!(p.protection(&id).unwrap(), (true, false));
    assert_eq!(k.public_jwk().n, jwk.n);
    let input = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
    let sig = k.sign(SignAlg::RS256, &strongbox_crypto::sha256(input.as_bytes())).unwrap();
    assert_eq!(strongbox_crypto::b64url(&sig), RFC7515_A2_SIG);
    p.destroy(&id).unwrap();

    let ec: JsonWebKey = serde_json::from_str(
        r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}"#,
    )
    .unwrap();
    let (id, k) = p.import(&ec).unwrap();
    assert_eq!((k.public_jwk().x, k.public_jwk().y), (ec.x.clone(), ec.y.clone()));
    let d = digest(SignAlg::ES256, b"m");
    let sig = k.sign(SignAlg::ES256, &d).unwrap();
    // the software key from the same JWK verifies the token's signature
    assert!(KeyMaterial::import_jwk(&ec).unwrap().verify(SignAlg::ES256, &d, &sig).unwrap());
    p.destroy(&id).unwrap();

    // bad JWKs are refused before the token is touched, with the software messages
    let mut bad = ec.clone();
    bad.x = Some(strongbox_crypto::b64url(&[1; 32]));
    assert_eq!(p.import(&bad).unwrap_err().kind, ErrorKind::BadParameter);
}

#[test]
fn aes_keys_match_software_aes() {
    let p = token_or_skip!("aes_keys_match_software_aes");
    for bits in [128usize, 192, 256] {
        let raw: Vec<u8> = (0..bits / 8).map(|i| (i * 13 + 1) as u8).collect();
        let jwk =
            JsonWebKey { kty: Some("oct-HSM".into()), k: Some(strongbox_crypto::b64url(&raw)), ..Default::default() };
        let (id, k) = p.import(&jwk).unwrap();
        assert_eq!((k.kind(), k.bits()), (KeyKind::Oct, bits));
        assert_eq!(p.protection(&id).unwrap(), (true, false));
        let alg = |m: &str| CipherAlg::parse(&format!("A{bits}{m}")).unwrap();
        let sw = |m: &str| aes::AesAlg::parse(&format!("A{bits}{m}")).unwrap();

        // GCM: the token's output opens in software and vice versa
        let aad = b"header";
        let out = k.encrypt(alg("GCM"), b"gcm plaintext", &SymParams { aad: Some(aad), ..none() }).unwrap();
        let params = SymParams { iv: out.iv.as_deref(), aad: Some(aad), tag: out.tag.as_deref() };
        assert_eq!(aes::decrypt(sw("GCM"), &raw, &out.value, &params).unwrap().expose(), b"gcm plaintext");
        let swo = aes::encrypt(sw("GCM"), &raw, b"from software", &SymParams { aad: Some(aad), ..none() }).unwrap();
        let params = SymParams { iv: swo.iv.as_deref(), aad: Some(aad), tag: swo.tag.as_deref() };
        assert_eq!(k.decrypt(alg("GCM"), &swo.value, &params).unwrap().expose(), b"from software");
        let bad_aad = SymParams { aad: Some(b"other"), ..params };
        assert_eq!(k.decrypt(alg("GCM"), &swo.value, &bad_aad).unwrap_err().message, UNDECRYPTABLE);

        // CBC and CBCPAD with a fixed IV are deterministic: byte-for-byte equal
        let iv = [7u8; 16];
        let with_iv = SymParams { iv: Some(&iv), ..none() };
        for (mode, pt) in [("CBC", &[0x42u8; 32][..]), ("CBCPAD", &b"not a block multiple"[..])] {
            let hw = k.encrypt(alg(mode), pt, &with_iv).unwrap();
            assert_eq!(hw, aes::encrypt(sw(mode), &raw, pt, &with_iv).unwrap(), "A{bits}{mode}");
            assert_eq!(k.decrypt(alg(mode), &hw.value, &with_iv).unwrap().expose(), pt);
        }

        // key wrap through C_WrapKey: equal to RFC 3394 in software
        let cek: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) ^ 0xC3).collect();
        let wrapped = k.encrypt(alg("KW"), &cek, &none()).unwrap();
        assert_eq!(wrapped.value, aes::kw_wrap(&raw, &cek).unwrap(), "A{bits}KW");
        assert_eq!(k.decrypt(alg("KW"), &wrapped.value, &none()).unwrap().expose(), &cek);
        let mut t = wrapped.value.clone();
        t[3] ^= 1;
        assert_eq!(k.decrypt(alg("KW"), &t, &none()).unwrap_err().message, UNDECRYPTABLE);

        // another size's algorithm
        let other = if bits == 256 { "A128GCM" } else { "A256GCM" };
        assert!(k.encrypt(CipherAlg::parse(other).unwrap(), b"x", &none()).unwrap_err().message.contains("-bit key"));
        p.destroy(&id).unwrap();
    }
    // random keys and key data agree with software key wrap
    for _ in 0..20 {
        let raw: [u8; 16] = strongbox_crypto::random_array().unwrap();
        let cek: [u8; 32] = strongbox_crypto::random_array().unwrap();
        let jwk =
            JsonWebKey { kty: Some("oct-HSM".into()), k: Some(strongbox_crypto::b64url(&raw)), ..Default::default() };
        let (id, k) = p.import(&jwk).unwrap();
        let g = CipherAlg::parse("A128GCM").unwrap();
        let out = k.encrypt(g, b"attack at dawn", &SymParams { aad: Some(b"hdr"), ..none() }).unwrap();
        let pp = SymParams { iv: out.iv.as_deref(), aad: Some(b"hdr"), tag: out.tag.as_deref() };
        k.decrypt(g, &out.value, &pp).unwrap();
        let a = CipherAlg::parse("A128KW").unwrap();
        assert_eq!(k.encrypt(a, &cek, &none()).unwrap().value, aes::kw_wrap(&raw, &cek).unwrap());
        p.destroy(&id).unwrap();
    }
    // generated AES keys work too
    let (id, k) = p.generate(KeySpec::Oct(256)).unwrap();
    let a = CipherAlg::parse("A256GCM").unwrap();
    let out = k.encrypt(a, b"x", &none()).unwrap();
    let params = SymParams { iv: out.iv.as_deref(), tag: out.tag.as_deref(), aad: None };
    assert_eq!(k.decrypt(a, &out.value, &params).unwrap().expose(), b"x");
    p.destroy(&id).unwrap();
}

const RFC7515_A2: &str = r#"{"kty":"RSA",
 "n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
 "e":"AQAB",
 "d":"Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ",
 "p":"4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc",
 "q":"uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc",
 "dp":"BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0",
 "dq":"h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU",
 "qi":"IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U"}"#;

const RFC7515_A2_SIG: &str = "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
