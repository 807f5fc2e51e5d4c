//! Software keys: [`KeyMaterial`] holds the private half (generated here, imported from a JWK in
//! `jwk.rs` or rebuilt from storage) next to its public half, and performs the private
//! operations (sign, decrypt) as well as the public ones.

use std::fmt;

use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey,
    PrivateDecryptingKey,
};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, RsaKeyPair};
use strongbox_types::{Error, Result, SecretBytes};
use zeroize::Zeroizing;

use super::algorithms::{
    CipherAlg, Curve, EncAlg, KeyKind, OCT_SIZES, RSA_ALGS, SignAlg, no_sym_params, rsa_policy_allows, rsa_size_error,
    wrong_cipher_alg, wrong_sign_alg,
};
use super::der::{bit_len, ec_pkcs8, rsa_pkcs8};
use super::handle::KeyHandle;
use super::jwk::JsonWebKey;
use super::public::{EcPublic, RsaPublic};
use crate::aes::{SymOutput, SymParams};

pub use crate::UNDECRYPTABLE;

/// A software key with its parsed aws-lc-rs handles. `Send + Sync`; never prints key material.
pub struct KeyMaterial(Inner);

enum Inner {
    Rsa(Box<RsaKey>),
    Ec(Box<EcKey>),
    Oct(OctKey),
}

struct RsaKey {
    pkcs8: SecretBytes,
    pair: RsaKeyPair,
    oaep_dec: OaepPrivateDecryptingKey,
    pkcs1_dec: Pkcs1PrivateDecryptingKey,
    public: RsaPublic,
}

struct EcKey {
    pkcs8: SecretBytes,
    pair: EcdsaKeyPair,
    public: EcPublic,
}

struct OctKey {
    k: SecretBytes,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial").field("kind", &self.kind()).field("bits", &self.bits()).finish_non_exhaustive()
    }
}

/// Storage format version (first byte of [`KeyMaterial::to_storage`]).
const STORAGE_V1: u8 = 1;
const TAG_RSA: u8 = 1;
const TAG_EC: u8 = 2;
const TAG_OCT: u8 = 3;

/// The storage tag of a curve (third byte of [`KeyMaterial::to_storage`]; 0 means no curve).
fn curve_tag(curve: Curve) -> u8 {
    match curve {
        Curve::P256 => 1,
        Curve::P384 => 2,
        Curve::P521 => 3,
        Curve::P256K => 4,
    }
}

fn curve_from_tag(tag: u8) -> Option<Curve> {
    Curve::ALL.into_iter().find(|c| curve_tag(*c) == tag)
}

impl KeyMaterial {
    /// A new RSA key of 2048, 3072 or 4096 bits with public exponent 65537.
    pub fn generate_rsa(bits: usize) -> Result<Self> {
        let size = match bits {
            2048 => KeySize::Rsa2048,
            3072 => KeySize::Rsa3072,
            4096 => KeySize::Rsa4096,
            _ => return Err(rsa_size_error(bits)),
        };
        let pair = RsaKeyPair::generate(size).map_err(|_| Error::internal("RSA key generation failed"))?;
        Self::from_rsa_pair(pair)
    }

    /// A new EC key on `curve`.
    pub fn generate_ec(curve: Curve) -> Result<Self> {
        let pair = EcdsaKeyPair::generate(curve.signing())
            .map_err(|_| Error::internal(format!("{curve} key generation failed")))?;
        Self::from_ec_pair(curve, pair)
    }

    /// A new random symmetric key of 128, 192 or 256 bits.
    pub fn generate_oct(bits: usize) -> Result<Self> {
        if !OCT_SIZES.contains(&bits) {
            return Err(Error::bad(format!(
                "The key size {bits} is not supported for symmetric keys; use 128, 192 or 256."
            )));
        }
        let mut k = vec![0u8; bits / 8];
        crate::fill_random(&mut k)?;
        Ok(Self::from_oct_bytes(SecretBytes::new(k)))
    }

    /// A software key from a validated RSA key pair.
    pub(super) fn from_rsa_pair(pair: RsaKeyPair) -> Result<Self> {
        let pkcs8 = rsa_pkcs8(&pair)?;
        Ok(Self(Inner::Rsa(Box::new(RsaKey::new(pair, pkcs8)?))))
    }

    /// A software key from a validated EC key pair on `curve`.
    pub(super) fn from_ec_pair(curve: Curve, pair: EcdsaKeyPair) -> Result<Self> {
        let pkcs8 = ec_pkcs8(&pair)?;
        Ok(Self(Inner::Ec(Box::new(EcKey::new(curve, pair, pkcs8)?))))
    }

    /// A symmetric key from its bytes, whose length the caller has checked against [`OCT_SIZES`].
    pub(super) fn from_oct_bytes(k: SecretBytes) -> Self {
        Self(Inner::Oct(OctKey { k }))
    }

    /// A self-describing serialization for storage (to be kept encrypted by the barrier):
    ///
    /// `[format version = 1][kind: 1 RSA, 2 EC, 3 oct][curve: 0 none, 1 P-256, 2 P-384, 3 P-521,
    /// 4 P-256K][payload]`, where the payload is the PKCS#8 v1 DER for RSA and EC keys and the raw
    /// key bytes for `oct` keys.
    pub fn to_storage(&self) -> SecretBytes {
        let (kind, curve, payload) = match &self.0 {
            Inner::Rsa(k) => (TAG_RSA, 0, &k.pkcs8),
            Inner::Ec(k) => (TAG_EC, curve_tag(k.public.curve), &k.pkcs8),
            Inner::Oct(k) => (TAG_OCT, 0, &k.k),
        };
        let mut out = Vec::with_capacity(3 + payload.len());
        out.extend_from_slice(&[STORAGE_V1, kind, curve]);
        out.extend_from_slice(payload.expose());
        SecretBytes::new(out)
    }

    /// Rebuilds a key from [`Self::to_storage`] output, validating it again. Failures are
    /// `Internal` (stored data is ours; the detail never reaches the caller).
    pub fn from_storage(bytes: &[u8]) -> Result<Self> {
        let corrupt = |what: &str| Error::internal(format!("stored key material is corrupt: {what}"));
        let Some((&[version, kind, curve], payload)) = bytes.split_first_chunk::<3>() else {
            return Err(corrupt("too short"));
        };
        if version != STORAGE_V1 {
            return Err(corrupt("unknown format version"));
        }
        let payload = SecretBytes::new(payload.to_vec());
        match (kind, curve) {
            (TAG_RSA, 0) => {
                let pair = RsaKeyPair::from_pkcs8(payload.expose()).map_err(|_| corrupt("RSA PKCS#8 rejected"))?;
                Ok(Self(Inner::Rsa(Box::new(RsaKey::new(pair, payload)?))))
            }
            (TAG_EC, tag) => {
                let curve = curve_from_tag(tag).ok_or_else(|| corrupt("unknown curve"))?;
                let pair = EcdsaKeyPair::from_pkcs8(curve.signing(), payload.expose())
                    .map_err(|_| corrupt("EC PKCS#8 rejected"))?;
                Ok(Self(Inner::Ec(Box::new(EcKey::new(curve, pair, payload)?))))
            }
            (TAG_OCT, 0) => {
                if !OCT_SIZES.contains(&(payload.len() * 8)) {
                    return Err(corrupt("bad symmetric key length"));
                }
                Ok(Self::from_oct_bytes(payload))
            }
            _ => Err(corrupt("unknown key kind")),
        }
    }

    pub fn kind(&self) -> KeyKind {
        match &self.0 {
            Inner::Rsa(_) => KeyKind::Rsa,
            Inner::Ec(k) => KeyKind::Ec(k.public.curve),
            Inner::Oct(_) => KeyKind::Oct,
        }
    }

    /// Key size in bits: the RSA modulus size, the curve size, or the symmetric key size.
    pub fn bits(&self) -> usize {
        match &self.0 {
            Inner::Rsa(k) => k.public.bits,
            Inner::Ec(k) => k.public.curve.bits(),
            Inner::Oct(k) => k.k.len() * 8,
        }
    }

    /// The public JWK: `kty` plus `n`/`e` (RSA) or `crv`/`x`/`y` (EC); `oct` keys have only `kty`.
    /// Never contains private members. `kid` and `key_ops` are left for the caller.
    pub fn public_jwk(&self) -> JsonWebKey {
        match &self.0 {
            Inner::Rsa(k) => k.public.jwk(),
            Inner::Ec(k) => k.public.jwk(),
            Inner::Oct(_) => JsonWebKey { kty: Some(KeyKind::Oct.kty().to_owned()), ..JsonWebKey::default() },
        }
    }

    /// Signs a caller-supplied digest. RSA signatures are modulus-sized; ECDSA signatures are raw
    /// fixed-size `r ‖ s`.
    pub fn sign(&self, alg: SignAlg, digest: &[u8]) -> Result<Vec<u8>> {
        match &self.0 {
            Inner::Rsa(k) => {
                let (_, encoding, _) =
                    alg.rsa_index().and_then(|i| RSA_ALGS.get(i)).ok_or_else(|| wrong_sign_alg(KeyKind::Rsa, alg))?;
                let d = alg.digest(digest)?;
                let mut out = vec![0u8; k.public.modulus_len];
                k.pair
                    .sign_digest(*encoding, &d, &mut out)
                    .map_err(|_| Error::internal(format!("{alg} signing failed")))?;
                Ok(out)
            }
            Inner::Ec(k) => {
                let curve = k.public.curve;
                if alg != curve.sign_alg() {
                    return Err(wrong_sign_alg(KeyKind::Ec(curve), alg));
                }
                let d = alg.digest(digest)?;
                let s = k.pair.sign_digest(&d).map_err(|_| Error::internal(format!("{alg} signing failed")))?;
                Ok(s.as_ref().to_vec())
            }
            Inner::Oct(_) => Err(wrong_sign_alg(KeyKind::Oct, alg)),
        }
    }

    /// Verifies `signature` over a caller-supplied digest. A signature that does not verify
    /// (including one of the wrong length) is `Ok(false)`; a wrong digest length or an algorithm
    /// that does not fit the key is an error.
    pub fn verify(&self, alg: SignAlg, digest: &[u8], signature: &[u8]) -> Result<bool> {
        match &self.0 {
            Inner::Rsa(k) => k.public.verify(alg, digest, signature),
            Inner::Ec(k) => k.public.verify(alg, digest, signature),
            Inner::Oct(_) => Err(wrong_sign_alg(KeyKind::Oct, alg)),
        }
    }

    /// RSA public-key encryption (also used for wrapKey). The plaintext may be at most k−11
    /// (RSA1_5), k−42 (RSA-OAEP) or k−66 (RSA-OAEP-256) bytes, k being the modulus size.
    pub fn encrypt(&self, alg: EncAlg, plaintext: &[u8]) -> Result<Vec<u8>> {
        match &self.0 {
            Inner::Rsa(k) => k.public.encrypt(alg, plaintext),
            _ => Err(wrong_cipher_alg(self.kind(), CipherAlg::Rsa(alg))),
        }
    }

    /// RSA decryption (also used for unwrapKey). Any failure — wrong length, bad padding, wrong
    /// key — is the same `BadParameter` error with the text [`UNDECRYPTABLE`].
    pub fn decrypt(&self, alg: EncAlg, ciphertext: &[u8]) -> Result<SecretBytes> {
        let Inner::Rsa(k) = &self.0 else {
            return Err(wrong_cipher_alg(self.kind(), CipherAlg::Rsa(alg)));
        };
        let modulus_len = k.public.modulus_len;
        if ciphertext.len() != modulus_len {
            return Err(Error::bad(UNDECRYPTABLE));
        }
        let mut out = Zeroizing::new(vec![0u8; modulus_len]);
        let len = match alg {
            EncAlg::Rsa15 => k.pkcs1_dec.decrypt(ciphertext, &mut out),
            EncAlg::RsaOaep => k.oaep_dec.decrypt(&OAEP_SHA1_MGF1SHA1, ciphertext, &mut out, None),
            EncAlg::RsaOaep256 => k.oaep_dec.decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None),
        }
        .map(|p| p.len())
        .map_err(|_| Error::bad(UNDECRYPTABLE))?;
        out.truncate(len);
        Ok(SecretBytes::new(std::mem::take(&mut *out)))
    }
}

impl RsaKey {
    /// Builds every handle from a validated key pair and its PKCS#8 encoding, and enforces the
    /// size/exponent policy (only reachable with a bad key through `from_storage`).
    fn new(pair: RsaKeyPair, pkcs8: SecretBytes) -> Result<Self> {
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let bits = bit_len(&n);
        if !rsa_policy_allows(bits, &e) {
            return Err(Error::internal("RSA key outside the supported sizes or exponent"));
        }
        let dec = PrivateDecryptingKey::from_pkcs8(pkcs8.expose())
            .map_err(|_| Error::internal("RSA PKCS#8 rejected for decryption"))?;
        let handle_err = |_| Error::internal("RSA encryption handle setup failed");
        let oaep_dec = OaepPrivateDecryptingKey::new(dec.clone()).map_err(handle_err)?;
        let pkcs1_dec = Pkcs1PrivateDecryptingKey::new(dec).map_err(handle_err)?;
        let public = RsaPublic::new(n, e, bits)?;
        Ok(Self { pkcs8, pair, oaep_dec, pkcs1_dec, public })
    }
}

impl EcKey {
    fn new(curve: Curve, pair: EcdsaKeyPair, pkcs8: SecretBytes) -> Result<Self> {
        let public = EcPublic::new(curve, pair.public_key().as_ref())?;
        Ok(Self { pkcs8, pair, public })
    }
}

impl KeyHandle for KeyMaterial {
    fn kind(&self) -> KeyKind {
        KeyMaterial::kind(self)
    }
    fn bits(&self) -> usize {
        KeyMaterial::bits(self)
    }
    fn public_jwk(&self) -> JsonWebKey {
        KeyMaterial::public_jwk(self)
    }
    fn sign(&self, alg: SignAlg, digest: &[u8]) -> Result<Vec<u8>> {
        KeyMaterial::sign(self, alg, digest)
    }
    fn verify(&self, alg: SignAlg, digest: &[u8], signature: &[u8]) -> Result<bool> {
        KeyMaterial::verify(self, alg, digest, signature)
    }
    fn encrypt(&self, alg: CipherAlg, data: &[u8], p: &SymParams) -> Result<SymOutput> {
        match (&self.0, alg) {
            (Inner::Rsa(_), CipherAlg::Rsa(a)) => {
                no_sym_params(p)?;
                Ok(SymOutput { value: KeyMaterial::encrypt(self, a, data)?, iv: None, tag: None })
            }
            (Inner::Oct(k), CipherAlg::Aes(a)) => crate::aes::encrypt(a, k.k.expose(), data, p),
            _ => Err(wrong_cipher_alg(self.kind(), alg)),
        }
    }
    fn decrypt(&self, alg: CipherAlg, data: &[u8], p: &SymParams) -> Result<SecretBytes> {
        match (&self.0, alg) {
            (Inner::Rsa(_), CipherAlg::Rsa(a)) => {
                no_sym_params(p)?;
                KeyMaterial::decrypt(self, a, data)
            }
            (Inner::Oct(k), CipherAlg::Aes(a)) => crate::aes::decrypt(a, k.k.expose(), data, p),
            _ => Err(wrong_cipher_alg(self.kind(), alg)),
        }
    }
}
