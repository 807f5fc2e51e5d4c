//! Fuzz-target bodies, shared by the cargo-fuzz targets in `fuzz/` (nightly, libFuzzer) and the
//! stable smoke fuzzer `tests/fuzz_smoke.rs` that runs with every `cargo test`. Not public API.
//!
//! Every function takes arbitrary bytes and must never panic. It returns `Ok(true)` when the
//! input was accepted (the key imported, the ciphertext decrypted, the token verified),
//! `Ok(false)` when it was rejected with a proper error, and `Err(violation)` when an invariant
//! broke: an `Internal` error caused by caller input (a 500 instead of a 400), key material in an
//! error message, or an oracle mismatch (an imported key that cannot verify its own signature, a
//! deterministic decryption that does not re-encrypt to its ciphertext). The fuzz targets turn a
//! violation into a panic so libFuzzer records it.
//!
//! The fixed keys are the RFC 7515 Appendix A.2 (RSA-2048) and A.3 (P-256) example keys, public
//! test vectors, plus symmetric keys of every size with the bytes 0, 1, 2, ….

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;
use strongbox_types::{Error, ErrorKind, Result};

use crate::aes::{AesAlg, AesMode, SymParams};
use crate::jws::{self, PublicKey};
use crate::jwt::{self, VerifyKey};
use crate::keys::handle::KeyHandle;
use crate::keys::{CipherAlg, EncAlg, JsonWebKey, KeyKind, KeyMaterial, SignAlg};
use crate::{b64url, b64url_decode};

/// The RFC 7515 A.2 RSA-2048 key (public test vector).
pub const RFC7515_RSA_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";
const RFC7515_RSA_D: &str = "Eq5xpGnNCivDflJsRQBXHx1hdR1k6Ulwe2JZD50LpXyWPEAeP88vLNO97IjlA7_GQ5sLKMgvfTeXZx9SE-7YwVol2NXOoAJe46sui395IW_GO-pWJ1O0BkTGoVEn2bKVRUCgu-GjBVaYLU6f3l9kJfFNS3E0QbVdxzubSu3Mkqzjkn439X0M_V51gfpRLI9JYanrC4D4qAdGcopV_0ZHHzQlBjudU2QvXt4ehNYTCBr6XCLQUShb1juUO1ZdiYoFaFQT5Tw8bGUl_x_jTj3ccPDVZFD9pIuhLhBOneufuBiB4cS98l2SR_RQyGWSeWjnczT0QU91p1DhOVRuOopznQ";
const RFC7515_RSA_P: &str = "4BzEEOtIpmVdVEZNCqS7baC4crd0pqnRH_5IB3jw3bcxGn6QLvnEtfdUdiYrqBdss1l58BQ3KhooKeQTa9AB0Hw_Py5PJdTJNPY8cQn7ouZ2KKDcmnPGBY5t7yLc1QlQ5xHdwW1VhvKn-nXqhJTBgIPgtldC-KDV5z-y2XDwGUc";
const RFC7515_RSA_Q: &str = "uQPEfgmVtjL0Uyyx88GZFF1fOunH3-7cepKmtH4pxhtCoHqpWmT8YAmZxaewHgHAjLYsp1ZSe7zFYHj7C6ul7TjeLQeZD_YwD66t62wDmpe_HlB-TnBA-njbglfIsRLtXlnDzQkv5dTltRJ11BKBBypeeF6689rjcJIDEz9RWdc";
const RFC7515_RSA_DP: &str = "BwKfV3Akq5_MFZDFZCnW-wzl-CCo83WoZvnLQwCTeDv8uzluRSnm71I3QCLdhrqE2e9YkxvuxdBfpT_PI7Yz-FOKnu1R6HsJeDCjn12Sk3vmAktV2zb34MCdy7cpdTh_YVr7tss2u6vneTwrA86rZtu5Mbr1C1XsmvkxHQAdYo0";
const RFC7515_RSA_DQ: &str = "h_96-mK1R_7glhsum81dZxjTnYynPbZpHziZjeeHcXYsXaaMwkOlODsWa7I9xXDoRwbKgB719rrmI2oKr6N3Do9U0ajaHF-NKJnwgjMd2w9cjz3_-kyNlxAr2v4IKhGNpmM5iIgOS1VZnOZ68m6_pbLBSp3nssTdlqvd0tIiTHU";
const RFC7515_RSA_QI: &str = "IYd7DHOhrWvxkwPQsRM2tOgrjbcrfvtQJipd-DlcxyVuuM9sQLdgjVk2oy26F0EmpScGLq2MowX7fhd_QJQ3ydy5cY7YIBi87w93IKLEdfnbJtoOPLUW0ITrJReOgo1cq9SbsxYawBgfp_gh6A5603k2-ZQwVK0JKSHuLFkuQ3U";
/// The RFC 7515 A.3 P-256 key (public test vector).
pub const RFC7515_EC_X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
pub const RFC7515_EC_Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
const RFC7515_EC_D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";
/// The `kid` under which [`jws_verify`] knows the A.3 key for [`jws::verify`].
pub const JWS_KID: &str = "rfc7515-a3";

/// The RFC 7515 A.2 private JWK.
pub fn rfc7515_rsa_jwk() -> JsonWebKey {
    let s = |v: &str| Some(v.to_owned());
    JsonWebKey {
        kty: s("RSA"),
        n: s(RFC7515_RSA_N),
        e: s("AQAB"),
        d: s(RFC7515_RSA_D),
        p: s(RFC7515_RSA_P),
        q: s(RFC7515_RSA_Q),
        dp: s(RFC7515_RSA_DP),
        dq: s(RFC7515_RSA_DQ),
        qi: s(RFC7515_RSA_QI),
        ..JsonWebKey::default()
    }
}

/// The RFC 7515 A.3 private JWK.
pub fn rfc7515_ec_jwk() -> JsonWebKey {
    let s = |v: &str| Some(v.to_owned());
    JsonWebKey {
        kty: s("EC"),
        crv: s("P-256"),
        x: s(RFC7515_EC_X),
        y: s(RFC7515_EC_Y),
        d: s(RFC7515_EC_D),
        ..JsonWebKey::default()
    }
}

/// A symmetric JWK of `bits` bits with the key bytes 0, 1, 2, ….
pub fn oct_jwk(bits: usize) -> JsonWebKey {
    let k: Vec<u8> = (0..bits / 8).map(|i| i as u8).collect();
    JsonWebKey { kty: Some("oct".into()), k: Some(b64url(&k)), ..JsonWebKey::default() }
}

// ---------------------------------------------------------------------------------------------
// jwk_import
// ---------------------------------------------------------------------------------------------

/// The part of the `PUT /keys/{name}` body (wire `KeyImportParameters`) that reaches key import.
#[derive(Deserialize)]
struct ImportBody {
    #[serde(rename = "Hsm", default)]
    _hsm: Option<bool>,
    key: Option<JsonWebKey>,
}

/// Arbitrary bytes as a key-import request body: JSON parse as the server does, then
/// [`KeyMaterial::import_jwk`]. An accepted key must survive storage, sign and verify (RSA/EC) and
/// give a public JWK without private members; a rejection must be `BadParameter` (or
/// `NotImplemented` for `key_hsm`) without key material in the message.
pub fn jwk_import(data: &[u8]) -> std::result::Result<bool, String> {
    let Ok(body) = serde_json::from_slice::<ImportBody>(data) else {
        return Ok(false);
    };
    let Some(jwk) = body.key else {
        return Ok(false);
    };
    match KeyMaterial::import_jwk(&jwk) {
        Err(e) => {
            if !matches!(e.kind, ErrorKind::BadParameter | ErrorKind::NotImplemented) {
                return Err(format!("import rejected with {:?} instead of BadParameter: {}", e.kind, e.message));
            }
            check_no_material(&e, &jwk)?;
            Ok(false)
        }
        Ok(k) => {
            check_imported(&k, &jwk)?;
            Ok(true)
        }
    }
}

/// No member value (8+ characters) of `jwk` may appear in the error message.
fn check_no_material(e: &Error, jwk: &JsonWebKey) -> std::result::Result<(), String> {
    let members = [&jwk.n, &jwk.e, &jwk.d, &jwk.p, &jwk.q, &jwk.dp, &jwk.dq, &jwk.qi, &jwk.x, &jwk.y, &jwk.k];
    for v in members.into_iter().flatten() {
        if let Some(head) = v.get(..8)
            && e.message.contains(head)
        {
            return Err(format!("error message contains key material ({:?})", e.kind));
        }
    }
    Ok(())
}

fn check_imported(k: &KeyMaterial, jwk: &JsonWebKey) -> std::result::Result<(), String> {
    let kty = jwk.kty.as_deref().unwrap_or_default().trim_end_matches("-HSM");
    if k.kind().kty() != kty {
        return Err(format!("imported kty {kty} became {}", k.kind().kty()));
    }
    let public = k.public_jwk();
    if public.has_private_members() {
        return Err("the public JWK of an imported key has private members".into());
    }
    let back = KeyMaterial::from_storage(k.to_storage().expose())
        .map_err(|e| format!("an imported key does not load from storage: {e}"))?;
    if back.kind() != k.kind() || back.bits() != k.bits() || back.public_jwk() != public {
        return Err("an imported key changed through storage".into());
    }
    let alg = match k.kind() {
        KeyKind::Rsa => SignAlg::PS256,
        KeyKind::Ec(c) => c.sign_alg(),
        KeyKind::Oct => return Ok(()),
    };
    let digest = vec![0x5A; alg.digest_len()];
    let sig = k.sign(alg, &digest).map_err(|e| format!("an imported key cannot sign: {e}"))?;
    // Verify with the reloaded key, whose public part came from storage: an inconsistent private
    // key (CRT members not matching n) would produce a signature that does not verify.
    match back.verify(alg, &digest, &sig) {
        Ok(true) => Ok(()),
        Ok(false) => Err("an imported key's signature does not verify".into()),
        Err(e) => Err(format!("verification with an imported key failed: {e}")),
    }
}

// ---------------------------------------------------------------------------------------------
// decrypt
// ---------------------------------------------------------------------------------------------

/// The algorithms of the decrypt target, indexed by the input's first byte (mod 15).
pub fn decrypt_algs() -> [CipherAlg; 15] {
    let a = AesAlg::ALL;
    [
        CipherAlg::Rsa(EncAlg::Rsa15),
        CipherAlg::Rsa(EncAlg::RsaOaep),
        CipherAlg::Rsa(EncAlg::RsaOaep256),
        CipherAlg::Aes(a[0]),
        CipherAlg::Aes(a[1]),
        CipherAlg::Aes(a[2]),
        CipherAlg::Aes(a[3]),
        CipherAlg::Aes(a[4]),
        CipherAlg::Aes(a[5]),
        CipherAlg::Aes(a[6]),
        CipherAlg::Aes(a[7]),
        CipherAlg::Aes(a[8]),
        CipherAlg::Aes(a[9]),
        CipherAlg::Aes(a[10]),
        CipherAlg::Aes(a[11]),
    ]
}

/// Input flags of the decrypt target (byte 1).
pub const FLAG_IV: u8 = 1;
pub const FLAG_AAD: u8 = 2;
pub const FLAG_TAG: u8 = 4;
/// Use a key that does not fit the algorithm (oct for RSA; RSA, EC or another AES size for AES).
pub const FLAG_WRONG_KEY: u8 = 8;

struct Keys {
    rsa: KeyMaterial,
    ec: KeyMaterial,
    /// 128, 192 and 256 bits.
    oct: [KeyMaterial; 3],
}

fn keys() -> std::result::Result<&'static Keys, String> {
    static KEYS: OnceLock<std::result::Result<Keys, String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let import = |jwk: JsonWebKey| KeyMaterial::import_jwk(&jwk).map_err(|e| format!("fixed key: {e}"));
        Ok(Keys {
            rsa: import(rfc7515_rsa_jwk())?,
            ec: import(rfc7515_ec_jwk())?,
            oct: [import(oct_jwk(128))?, import(oct_jwk(192))?, import(oct_jwk(256))?],
        })
    })
    .as_ref()
    .map_err(Clone::clone)
}

impl Keys {
    /// The AES key at `i` modulo 3.
    fn oct(&self, i: usize) -> &KeyMaterial {
        let [k128, k192, k256] = &self.oct;
        match i % 3 {
            0 => k128,
            1 => k192,
            _ => k256,
        }
    }
}

/// The decrypt-target algorithm at `i` modulo 15.
fn decrypt_alg(i: u8) -> Option<CipherAlg> {
    let algs = decrypt_algs();
    algs.get(usize::from(i) % algs.len()).copied()
}

fn oct_index(bits: usize) -> usize {
    match bits {
        128 => 0,
        192 => 1,
        _ => 2,
    }
}

/// A decrypt-target input: the header (algorithm index, flags, iv/aad/tag lengths), then iv, aad,
/// tag and the ciphertext.
pub struct DecryptInput<'a> {
    pub alg: u8,
    pub flags: u8,
    pub iv: &'a [u8],
    pub aad: &'a [u8],
    pub tag: &'a [u8],
    pub ciphertext: &'a [u8],
}

impl<'a> DecryptInput<'a> {
    /// Splits arbitrary bytes; missing header bytes count as 0 and lengths are clamped.
    pub fn parse(data: &'a [u8]) -> Self {
        let at = |i: usize| data.get(i).copied().unwrap_or(0);
        let mut rest = data.get(5..).unwrap_or_default();
        let mut take = |n: u8| {
            let (head, tail) = rest.split_at(usize::from(n).min(rest.len()));
            rest = tail;
            head
        };
        let (iv, aad, tag) = (take(at(2)), take(at(3)), take(at(4)));
        Self { alg: at(0), flags: at(1), iv, aad, tag, ciphertext: rest }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let len = |s: &[u8]| u8::try_from(s.len()).unwrap_or(u8::MAX);
        let mut out = vec![self.alg, self.flags, len(self.iv), len(self.aad), len(self.tag)];
        for part in [self.iv, self.aad, self.tag, self.ciphertext] {
            out.extend_from_slice(part);
        }
        out
    }
}

/// A valid decrypt-target input: `plaintext` encrypted under the fixed key for algorithm index
/// `alg` (with `aad` for GCM). For seeds.
pub fn decrypt_seed(alg: u8, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let keys = keys().map_err(Error::internal)?;
    let cipher = decrypt_alg(alg).ok_or_else(|| Error::internal("decrypt algorithm index"))?;
    let (key, aad) = match cipher {
        CipherAlg::Rsa(_) => (&keys.rsa, None),
        CipherAlg::Aes(a) => (keys.oct(oct_index(a.bits)), (a.mode == AesMode::Gcm).then_some(aad)),
    };
    let out = KeyHandle::encrypt(key, cipher, plaintext, &SymParams { aad, ..SymParams::default() })?;
    let iv = out.iv.unwrap_or_default();
    let tag = out.tag.unwrap_or_default();
    let aad = aad.unwrap_or_default();
    let flags = [(FLAG_IV, !iv.is_empty()), (FLAG_AAD, !aad.is_empty()), (FLAG_TAG, !tag.is_empty())]
        .into_iter()
        .filter(|(_, on)| *on)
        .fold(0, |acc, (f, _)| acc | f);
    Ok(DecryptInput { alg, flags, iv: &iv, aad, tag: &tag, ciphertext: &out.value }.to_bytes())
}

/// Arbitrary bytes as a decrypt/unwrapKey call through [`KeyHandle::decrypt`] (the server's
/// path). Every failure must be `BadParameter`; a successful CBC, CBCPAD or KW decryption must
/// re-encrypt (deterministically) to the same ciphertext, and a successful GCM decryption must
/// fail once a tag bit is flipped.
pub fn decrypt(data: &[u8]) -> std::result::Result<bool, String> {
    let keys = keys()?;
    let input = DecryptInput::parse(data);
    let cipher = decrypt_alg(input.alg).ok_or_else(|| "decrypt algorithm index".to_owned())?;
    let wrong = input.flags & FLAG_WRONG_KEY != 0;
    let key = match cipher {
        CipherAlg::Rsa(_) if wrong => keys.oct(usize::from(input.flags >> 4)),
        CipherAlg::Rsa(_) => &keys.rsa,
        CipherAlg::Aes(a) if wrong => match input.flags >> 4 & 3 {
            0 => &keys.rsa,
            1 => &keys.ec,
            n => keys.oct(oct_index(a.bits) + usize::from(n)),
        },
        CipherAlg::Aes(a) => keys.oct(oct_index(a.bits)),
    };
    let p = SymParams {
        iv: (input.flags & FLAG_IV != 0).then_some(input.iv),
        aad: (input.flags & FLAG_AAD != 0).then_some(input.aad),
        tag: (input.flags & FLAG_TAG != 0).then_some(input.tag),
    };
    match KeyHandle::decrypt(key, cipher, input.ciphertext, &p) {
        Err(e) if e.kind == ErrorKind::BadParameter => Ok(false),
        Err(e) => Err(format!("{cipher} decrypt failed with {:?} instead of BadParameter: {}", e.kind, e.message)),
        Ok(plain) => {
            if let CipherAlg::Aes(a) = cipher
                && a.mode != AesMode::Gcm
            {
                let again = KeyHandle::encrypt(key, cipher, plain.expose(), &p)
                    .map_err(|e| format!("{cipher}: a decrypted value does not encrypt again: {e}"))?;
                if again.value != input.ciphertext {
                    return Err(format!("{cipher}: decrypt then encrypt does not give the ciphertext back"));
                }
            }
            if let (CipherAlg::Aes(AesAlg { mode: AesMode::Gcm, .. }), Some(tag)) = (cipher, p.tag) {
                // GCM authenticates: the same input with one tag bit flipped must not decrypt.
                let mut forged = tag.to_vec();
                if let Some(b) = forged.first_mut() {
                    *b ^= 1;
                }
                let p2 = SymParams { tag: Some(&forged), ..p };
                if KeyHandle::decrypt(key, cipher, input.ciphertext, &p2).is_ok() {
                    return Err(format!("{cipher}: a forged tag was accepted"));
                }
            }
            Ok(true)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// jws_verify
// ---------------------------------------------------------------------------------------------

/// Arbitrary bytes as a foreign JWT (client assertion / federated token): [`jwt::parse`], then
/// verification against the fixed RSA and P-256 keys, and against a key taken from a JWKS entry
/// when the input is `<jwk json>\n<token>`; also our own token format ([`jws::verify`]) with
/// the A.3 key under [`JWS_KID`]. Accepted means some key verified the token.
pub fn jws_verify(data: &[u8]) -> std::result::Result<bool, String> {
    let (jwk_part, token) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (data.get(..i), data.get(i + 1..).unwrap_or_default()),
        None => (None, data),
    };
    let Ok(token) = std::str::from_utf8(token) else {
        return Ok(false);
    };
    let mut verify_keys = Vec::with_capacity(3);
    if let Some(v) = jwk_part.and_then(|j| serde_json::from_slice::<Value>(j).ok())
        && let Some(k) = VerifyKey::from_jwk(&v)
    {
        let _ = k.describe();
        verify_keys.push(k);
    }
    let rsa_n = b64url_decode(RFC7515_RSA_N).map_err(|e| e.message)?;
    verify_keys.push(VerifyKey::Rsa { n: rsa_n, e: vec![1, 0, 1] });
    let point = ec_point().map_err(|e| e.message)?;
    verify_keys.push(VerifyKey::Ec { point: point.clone() });

    let mut accepted = false;
    if let Ok(u) = jwt::parse(token) {
        let _ = (u.str_claim("iss"), u.time_claim("exp"), u.audiences(), format!("{u:?}"));
        for k in &verify_keys {
            accepted |= u.verify(k).is_ok();
        }
    }
    let ours = [PublicKey { kid: JWS_KID.into(), point }];
    if jws::verify::<Value>(token, &ours).is_ok() {
        accepted = true;
    }
    Ok(accepted)
}

fn ec_point() -> Result<Vec<u8>> {
    let mut point = vec![4u8];
    point.extend(b64url_decode(RFC7515_EC_X)?);
    point.extend(b64url_decode(RFC7515_EC_Y)?);
    Ok(point)
}
