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

/// Wraps `material` to the RSA public key (`n`, `e`, big-endian) per `enc`.
pub fn wrap_for_release(enc: ReleaseEnc, n: &[u8], e: &[u8], material: &[u8]) -> Result<Vec<u8>> {
    let bad_key =
        || Error::bad("The attestation token's runtime key is not a usable RSA public key (2048 bits or more).");
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
    fn enc_names() {
        assert_eq!(ReleaseEnc::parse(None).unwrap(), ReleaseEnc::CkmRsaAesKeyWrap);
        assert_eq!(ReleaseEnc::parse(Some("RSA_AES_KEY_WRAP_384")).unwrap().as_str(), "RSA_AES_KEY_WRAP_384");
        assert!(ReleaseEnc::parse(Some("A256KW")).is_err());
    }
}
