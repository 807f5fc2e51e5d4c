//! The public half of RSA and EC keys: signature verification, RSA encryption and the public JWK.
//!
//! Software keys ([`KeyMaterial`](super::KeyMaterial)) keep one next to their private half;
//! [`PublicKeyMaterial`] is the public half alone, for keys whose private half lives elsewhere
//! (an HSM).

use std::fmt;

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey,
    PublicKeyComponents,
};
use aws_lc_rs::signature::ParsedPublicKey;
use strongbox_types::{Error, Result};

use super::algorithms::{
    CipherAlg, Curve, EncAlg, KeyKind, RSA_ALGS, SignAlg, no_sym_params, rsa_policy_allows, wrong_cipher_alg,
    wrong_sign_alg,
};
use super::der::{bit_len, strip_leading_zeros};
use super::jwk::JsonWebKey;
use crate::aes::{SymOutput, SymParams};
use crate::b64url;

/// The public half of an RSA key with its parsed aws-lc-rs handles.
pub(super) struct RsaPublic {
    oaep_enc: OaepPublicEncryptingKey,
    pkcs1_enc: Pkcs1PublicEncryptingKey,
    /// One parsed public key per entry of [`RSA_ALGS`] (aws-lc-rs binds the algorithm at parse time).
    verifiers: Vec<ParsedPublicKey>,
    /// Modulus, big-endian without leading zero.
    n: Vec<u8>,
    /// Public exponent, big-endian without leading zero.
    e: Vec<u8>,
    /// Modulus length in bytes.
    pub(super) modulus_len: usize,
    pub(super) bits: usize,
}

impl RsaPublic {
    /// Builds the handles from a modulus and exponent without leading zeros, whose size and
    /// exponent the caller has checked with [`rsa_policy_allows`].
    pub(super) fn new(n: Vec<u8>, e: Vec<u8>, bits: usize) -> Result<Self> {
        let components = PublicKeyComponents { n: n.as_slice(), e: e.as_slice() };
        let verifiers = RSA_ALGS
            .iter()
            .map(|(_, _, params)| components.to_parsed_public_key(params))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::internal("RSA public key parse failed"))?;
        let enc: PublicEncryptingKey =
            components.try_into().map_err(|_| Error::internal("RSA public key rejected for encryption"))?;
        let handle_err = |_| Error::internal("RSA encryption handle setup failed");
        let oaep_enc = OaepPublicEncryptingKey::new(enc.clone()).map_err(handle_err)?;
        let pkcs1_enc = Pkcs1PublicEncryptingKey::new(enc).map_err(handle_err)?;
        let modulus_len = n.len();
        Ok(Self { oaep_enc, pkcs1_enc, verifiers, n, e, modulus_len, bits })
    }

    /// `kty` `RSA` with `n` and `e`.
    pub(super) fn jwk(&self) -> JsonWebKey {
        JsonWebKey {
            kty: Some(KeyKind::Rsa.kty().to_owned()),
            n: Some(b64url(&self.n)),
            e: Some(b64url(&self.e)),
            ..JsonWebKey::default()
        }
    }

    /// See [`PublicKeyMaterial::verify`].
    pub(super) fn verify(&self, alg: SignAlg, digest: &[u8], signature: &[u8]) -> Result<bool> {
        let verifier =
            alg.rsa_index().and_then(|i| self.verifiers.get(i)).ok_or_else(|| wrong_sign_alg(KeyKind::Rsa, alg))?;
        let d = alg.digest(digest)?;
        Ok(verifier.verify_digest_sig(&d, signature).is_ok())
    }

    /// See [`PublicKeyMaterial::encrypt`].
    pub(super) fn encrypt(&self, alg: EncAlg, plaintext: &[u8]) -> Result<Vec<u8>> {
        let max = alg.max_plaintext_len(self.modulus_len);
        if plaintext.len() > max {
            return Err(Error::bad(format!(
                "The plaintext is too long for {alg} with a {}-bit key: at most {max} bytes are allowed, {} were given.",
                self.bits,
                plaintext.len()
            )));
        }
        let mut out = vec![0u8; self.modulus_len];
        let len = match alg {
            EncAlg::Rsa15 => self.pkcs1_enc.encrypt(plaintext, &mut out),
            EncAlg::RsaOaep => self.oaep_enc.encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None),
            EncAlg::RsaOaep256 => self.oaep_enc.encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None),
        }
        .map_err(|_| Error::internal(format!("{alg} encryption failed")))?
        .len();
        out.truncate(len);
        Ok(out)
    }
}

/// The public half of an EC key with its parsed aws-lc-rs verifier.
pub(super) struct EcPublic {
    pub(super) curve: Curve,
    verifier: ParsedPublicKey,
    /// Coordinates, left-padded to the field size.
    x: Vec<u8>,
    y: Vec<u8>,
}

impl EcPublic {
    /// Parses an uncompressed point (`04 ‖ x ‖ y`) on `curve`.
    pub(super) fn new(curve: Curve, point: &[u8]) -> Result<Self> {
        let fl = curve.field_len();
        let coords = match point.split_first() {
            Some((4, xy)) if xy.len() == 2 * fl => xy,
            _ => return Err(Error::internal("unexpected EC public point encoding")),
        };
        let (x, y) = coords.split_at(fl);
        let verifier = ParsedPublicKey::new(curve.verification(), point)
            .map_err(|_| Error::internal("EC public key parse failed"))?;
        Ok(Self { curve, verifier, x: x.to_vec(), y: y.to_vec() })
    }

    /// `kty` `EC` with `crv`, `x` and `y`.
    pub(super) fn jwk(&self) -> JsonWebKey {
        JsonWebKey {
            kty: Some(KeyKind::Ec(self.curve).kty().to_owned()),
            crv: Some(self.curve.as_str().to_owned()),
            x: Some(b64url(&self.x)),
            y: Some(b64url(&self.y)),
            ..JsonWebKey::default()
        }
    }

    /// See [`PublicKeyMaterial::verify`].
    pub(super) fn verify(&self, alg: SignAlg, digest: &[u8], signature: &[u8]) -> Result<bool> {
        if alg != self.curve.sign_alg() {
            return Err(wrong_sign_alg(KeyKind::Ec(self.curve), alg));
        }
        let d = alg.digest(digest)?;
        Ok(self.verifier.verify_digest_sig(&d, signature).is_ok())
    }
}

/// The public half of an RSA or EC key, for keys whose private half lives elsewhere (an HSM):
/// verification and RSA encryption in software, and the public JWK.
pub struct PublicKeyMaterial(PublicInner);

enum PublicInner {
    Rsa(RsaPublic),
    Ec(EcPublic),
}

impl fmt::Debug for PublicKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKeyMaterial").field("kind", &self.kind()).field("bits", &self.bits()).finish()
    }
}

impl PublicKeyMaterial {
    /// An RSA public key from its big-endian modulus and exponent (size and exponent policy as for
    /// software keys).
    pub fn rsa(n: &[u8], e: &[u8]) -> Result<Self> {
        let n = strip_leading_zeros(n).to_vec();
        let e = strip_leading_zeros(e).to_vec();
        let bits = bit_len(&n);
        if !rsa_policy_allows(bits, &e) {
            return Err(Error::internal("RSA public key outside the supported sizes or exponent"));
        }
        Ok(Self(PublicInner::Rsa(RsaPublic::new(n, e, bits)?)))
    }

    /// An EC public key from its uncompressed point (`04 ‖ x ‖ y`).
    pub fn ec(curve: Curve, point: &[u8]) -> Result<Self> {
        Ok(Self(PublicInner::Ec(EcPublic::new(curve, point)?)))
    }

    pub fn kind(&self) -> KeyKind {
        match &self.0 {
            PublicInner::Rsa(_) => KeyKind::Rsa,
            PublicInner::Ec(k) => KeyKind::Ec(k.curve),
        }
    }

    /// Key size in bits: the RSA modulus size or the curve size.
    pub fn bits(&self) -> usize {
        match &self.0 {
            PublicInner::Rsa(k) => k.bits,
            PublicInner::Ec(k) => k.curve.bits(),
        }
    }

    /// RSA modulus length in bytes (0 for EC keys).
    pub fn modulus_len(&self) -> usize {
        match &self.0 {
            PublicInner::Rsa(k) => k.modulus_len,
            PublicInner::Ec(_) => 0,
        }
    }

    /// The public JWK: `kty` plus `n`/`e` (RSA) or `crv`/`x`/`y` (EC); `kid` and `key_ops` are
    /// left for the caller.
    pub fn public_jwk(&self) -> JsonWebKey {
        match &self.0 {
            PublicInner::Rsa(k) => k.jwk(),
            PublicInner::Ec(k) => k.jwk(),
        }
    }

    /// Verifies `signature` over a caller-supplied digest. A signature that does not verify
    /// (including one of the wrong length) is `Ok(false)`; an algorithm that does not fit the key
    /// or a wrong digest length is an error.
    pub fn verify(&self, alg: SignAlg, digest: &[u8], signature: &[u8]) -> Result<bool> {
        match &self.0 {
            PublicInner::Rsa(k) => k.verify(alg, digest, signature),
            PublicInner::Ec(k) => k.verify(alg, digest, signature),
        }
    }

    /// RSA public-key encryption (also used for wrapKey). The plaintext may be at most k−11
    /// (RSA1_5), k−42 (RSA-OAEP) or k−66 (RSA-OAEP-256) bytes, k being the modulus size.
    pub fn encrypt(&self, alg: EncAlg, plaintext: &[u8]) -> Result<Vec<u8>> {
        match &self.0 {
            PublicInner::Rsa(k) => k.encrypt(alg, plaintext),
            PublicInner::Ec(_) => Err(wrong_cipher_alg(self.kind(), CipherAlg::Rsa(alg))),
        }
    }

    /// RSA encryption for the key-handle interface (rejects `iv`/`aad`/`tag` and AES algorithms).
    pub fn encrypt_op(&self, alg: CipherAlg, data: &[u8], p: &SymParams) -> Result<SymOutput> {
        match alg {
            CipherAlg::Rsa(a) if self.kind() == KeyKind::Rsa => {
                no_sym_params(p)?;
                Ok(SymOutput { value: self.encrypt(a, data)?, iv: None, tag: None })
            }
            _ => Err(wrong_cipher_alg(self.kind(), alg)),
        }
    }
}
