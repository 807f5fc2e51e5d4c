//! Secure key release: the wrapping Azure Key Vault applies to a released key (the `enc` of a
//! release request), and its inverse for clients and tests.
//!
//! `CKM_RSA_AES_KEY_WRAP` (PKCS#11 v2.40 §2.1.21), and Azure's `RSA_AES_KEY_WRAP_256` /
//! `RSA_AES_KEY_WRAP_384`: a fresh AES-256 key is encrypted with RSA-OAEP under the target's
//! public key (OAEP and MGF1 with SHA-1, SHA-256 or SHA-384 respectively, empty label), then the
//! key material is wrapped under that AES key with AES key wrap with padding (RFC 5649). The
//! ciphertext is the RSA-OAEP block (modulus length) followed by the AES-KWP output.
//!
//! The wrapped material is the PKCS#8 `PrivateKeyInfo` DER for RSA and EC keys (as PKCS#11 wraps
//! private keys) and the raw key bytes for symmetric (`oct`) keys.

use aws_lc_rs::key_wrap::{AES_256, KeyEncryptionKey, KeyWrapPadded};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OaepAlgorithm, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, PrivateDecryptingKey, PublicEncryptingKey, PublicKeyComponents,
};
use strongbox_types::{Error, Result, SecretBytes};
use zeroize::Zeroizing;

use crate::keys::{KeyKind, KeyMaterial};

/// The wrapping algorithms of a release (`enc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseEnc {
    CkmRsaAesKeyWrap,
    RsaAesKeyWrap256,
    RsaAesKeyWrap384,
}

impl ReleaseEnc {
    /// `None` is Azure's default, `CKM_RSA_AES_KEY_WRAP`.
    pub fn parse(s: Option<&str>) -> Result<Self> {
        match s {
            None | Some("CKM_RSA_AES_KEY_WRAP") => Ok(Self::CkmRsaAesKeyWrap),
            Some("RSA_AES_KEY_WRAP_256") => Ok(Self::RsaAesKeyWrap256),
            Some("RSA_AES_KEY_WRAP_384") => Ok(Self::RsaAesKeyWrap384),
            Some(other) => Err(Error::bad(format!(
                "The release algorithm ('enc') '{}' is not supported; use CKM_RSA_AES_KEY_WRAP, RSA_AES_KEY_WRAP_256 or RSA_AES_KEY_WRAP_384.",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CkmRsaAesKeyWrap => "CKM_RSA_AES_KEY_WRAP",
            Self::RsaAesKeyWrap256 => "RSA_AES_KEY_WRAP_256",
            Self::RsaAesKeyWrap384 => "RSA_AES_KEY_WRAP_384",
        }
    }

    fn oaep(self) -> &'static OaepAlgorithm {
        match self {
            Self::CkmRsaAesKeyWrap => &OAEP_SHA1_MGF1SHA1,
            Self::RsaAesKeyWrap256 => &OAEP_SHA256_MGF1SHA256,
            Self::RsaAesKeyWrap384 => &OAEP_SHA384_MGF1SHA384,
        }
    }
}

/// The bytes a release wraps: PKCS#8 DER (RSA, EC) or the raw key (`oct`).
pub fn release_material(m: &KeyMaterial) -> Result<SecretBytes> {
    // `to_storage` is `[version, kind, curve] ‖ payload`, the payload being exactly that.
    let stored = m.to_storage();
    let body = stored.expose().get(3..).ok_or_else(|| Error::internal("key serialization too short"))?;
    Ok(SecretBytes::new(body.to_vec()))
}

/// Rebuilds a key of `kind` from [`release_material`] output (clients and tests).
pub fn material_from_release(kind: KeyKind, bytes: &[u8]) -> Result<KeyMaterial> {
    let with = |k: u8, c: u8| {
        let mut v = Zeroizing::new(vec![1u8, k, c]);
        v.extend_from_slice(bytes);
        KeyMaterial::from_storage(&v)
    };
    match kind {
        KeyKind::Rsa => with(1, 0),
        KeyKind::Oct => with(3, 0),
        KeyKind::Ec(_) => (1..=4u8)
            .filter_map(|c| with(2, c).ok())
            .find(|m| m.kind() == kind)
            .ok_or_else(|| Error::bad("The released EC key could not be parsed.")),
    }
}

fn strip_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

/// Wraps `material` to the RSA public key (`n`, `e`, big-endian) per `enc`.
pub fn wrap_for_release(enc: ReleaseEnc, n: &[u8], e: &[u8], material: &[u8]) -> Result<Vec<u8>> {
    let bad_key = || {
        Error::bad(
            "The attestation token's runtime key is not a usable RSA public key (2048 to 8192 bits, odd exponent of at least 3).",
        )
    };
    // The key comes from the caller's token: refuse a weak or malformed one here, as a bad
    // request, rather than leave it to fail (or not) inside the encryption. The exponent must be
    // odd, at least 3 and at most 33 bits (what aws-lc encrypts to), the modulus odd.
    let (n, e) = (strip_zeros(n), strip_zeros(e));
    let odd = |b: &[u8]| b.last().is_some_and(|x| x & 1 == 1);
    let e_ok = odd(e)
        && (e.len() > 1 || e.first().is_some_and(|&x| x >= 3))
        && (e.len() < 5 || (e.len() == 5 && e.first() == Some(&1)));
    if !e_ok || !odd(n) || !(256..=1024).contains(&n.len()) {
        return Err(bad_key());
    }
    let public: PublicEncryptingKey = PublicKeyComponents { n, e }.try_into().map_err(|_| bad_key())?;
    let oaep = OaepPublicEncryptingKey::new(public).map_err(|_| bad_key())?;
    if oaep.key_size_bits() < 2048 {
        return Err(bad_key());
    }
    let aes = Zeroizing::new(crate::random_array::<32>()?);
    let mut out = vec![0u8; oaep.ciphertext_size()];
    let len = oaep
        .encrypt(enc.oaep(), aes.as_slice(), &mut out, None)
        .map_err(|_| Error::internal("RSA-OAEP encryption of the transfer key failed"))?
        .len();
    out.truncate(len);
    let kek = KeyEncryptionKey::new(&AES_256, aes.as_slice()).map_err(|_| Error::internal("AES-KWP key setup"))?;
    let mut wrapped = vec![0u8; material.len().div_ceil(8) * 8 + 16];
    let w = kek
        .wrap_with_padding(material, &mut wrapped)
        .map_err(|_| Error::internal("AES key wrap with padding failed"))?
        .len();
    wrapped.truncate(w);
    out.extend_from_slice(&wrapped);
    Ok(out)
}

/// The inverse of [`wrap_for_release`] with the runtime key's PKCS#8 private key.
pub fn unwrap_release(enc: ReleaseEnc, private_pkcs8: &[u8], ciphertext: &[u8]) -> Result<SecretBytes> {
    let fail = || Error::bad("The released key could not be unwrapped with this key.");
    let key = PrivateDecryptingKey::from_pkcs8(private_pkcs8).map_err(|_| fail())?;
    let oaep = OaepPrivateDecryptingKey::new(key).map_err(|_| fail())?;
    let split = oaep.key_size_bytes();
    let (rsa_part, kwp_part) = (ciphertext.get(..split).ok_or_else(fail)?, ciphertext.get(split..).ok_or_else(fail)?);
    let mut aes = Zeroizing::new(vec![0u8; split]);
    let n = oaep.decrypt(enc.oaep(), rsa_part, &mut aes, None).map_err(|_| fail())?.len();
    let kek = KeyEncryptionKey::new(&AES_256, aes.get(..n).ok_or_else(fail)?).map_err(|_| fail())?;
    let mut out = Zeroizing::new(vec![0u8; kwp_part.len()]);
    let m = kek.unwrap_with_padding(kwp_part, &mut out).map_err(|_| fail())?.len();
    Ok(SecretBytes::new(out.get(..m).ok_or_else(fail)?.to_vec()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::b64url_decode;

    fn runtime() -> (KeyMaterial, Vec<u8>, Vec<u8>) {
        let m = KeyMaterial::generate_rsa(2048).unwrap();
        let jwk = m.public_jwk();
        let n = b64url_decode(jwk.n.as_deref().unwrap()).unwrap();
        let e = b64url_decode(jwk.e.as_deref().unwrap()).unwrap();
        (m, n, e)
    }

    #[test]
    fn round_trip_every_enc_and_kind() {
        let (rt, n, e) = runtime();
        let rt_pkcs8 = release_material(&rt).unwrap();
        let keys = [
            KeyMaterial::generate_rsa(2048).unwrap(),
            KeyMaterial::generate_ec(crate::keys::Curve::P384).unwrap(),
            KeyMaterial::generate_oct(256).unwrap(),
        ];
        for enc in [ReleaseEnc::CkmRsaAesKeyWrap, ReleaseEnc::RsaAesKeyWrap256, ReleaseEnc::RsaAesKeyWrap384] {
            for k in &keys {
                let plain = release_material(k).unwrap();
                let ct = wrap_for_release(enc, &n, &e, plain.expose()).unwrap();
                assert_eq!(ct.len() % 8, 0);
                assert!(ct.len() > 256 + plain.len());
                let back = unwrap_release(enc, rt_pkcs8.expose(), &ct).unwrap();
                assert_eq!(back.expose(), plain.expose());
                let again = material_from_release(k.kind(), back.expose()).unwrap();
                assert_eq!(again.public_jwk(), k.public_jwk());
            }
        }
        // a different hash does not unwrap
        let ct = wrap_for_release(ReleaseEnc::CkmRsaAesKeyWrap, &n, &e, b"0123456789abcdef").unwrap();
        assert!(unwrap_release(ReleaseEnc::RsaAesKeyWrap256, rt_pkcs8.expose(), &ct).is_err());
    }

    #[test]
    fn weak_or_malformed_runtime_keys_are_refused_as_bad_requests() {
        let (_, n, e) = runtime();
        let msg = b"0123456789abcdef";
        assert!(wrap_for_release(ReleaseEnc::CkmRsaAesKeyWrap, &n, &e, msg).is_ok());
        assert!(wrap_for_release(ReleaseEnc::CkmRsaAesKeyWrap, &n, &[3], msg).is_ok());
        let mut zero_padded = vec![0u8];
        zero_padded.extend_from_slice(&n);
        assert!(wrap_for_release(ReleaseEnc::CkmRsaAesKeyWrap, &zero_padded, &e, msg).is_ok());
        let mut even = n.clone();
        if let Some(b) = even.last_mut() {
            *b &= 0xfe;
        }
        // a 1024-bit odd modulus
        let mut small_n = n[..128].to_vec();
        small_n[127] |= 1;
        let cases: [(&[u8], &[u8]); 8] = [
            (&n, &[1]),
            (&n, &[0, 0, 1]),
            (&n, &[2]),
            (&n, &[1, 0, 0]),
            (&n, &[1, 0, 0, 0, 0, 1]),
            (&n, &[]),
            (&even, &e),
            (&small_n, &e),
        ];
        for (n, e) in cases {
            let err = wrap_for_release(ReleaseEnc::RsaAesKeyWrap256, n, e, msg).unwrap_err();
            assert_eq!(err.kind, strongbox_types::ErrorKind::BadParameter, "e={e:?} n bits={}", n.len() * 8);
        }
        let huge = vec![0xffu8; 2048];
        assert_eq!(
            wrap_for_release(ReleaseEnc::CkmRsaAesKeyWrap, &huge, &e, msg).unwrap_err().kind,
            strongbox_types::ErrorKind::BadParameter
        );
    }

    #[test]
    fn enc_names() {
        assert_eq!(ReleaseEnc::parse(None).unwrap(), ReleaseEnc::CkmRsaAesKeyWrap);
        assert_eq!(ReleaseEnc::parse(Some("RSA_AES_KEY_WRAP_384")).unwrap().as_str(), "RSA_AES_KEY_WRAP_384");
        assert!(ReleaseEnc::parse(Some("A256KW")).is_err());
    }
}
