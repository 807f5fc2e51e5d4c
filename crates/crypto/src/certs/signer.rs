//! The keys certificates are signed with and certified for: software keys (through their
//! PKCS#8 encoding) and provider handles whose private part stays in an HSM, as rcgen sees them.

use rcgen::{KeyPair, PublicKeyData, SignatureAlgorithm, SigningKey};
use rustls_pki_types::PrivatePkcs8KeyDer;
use strongbox_types::{Error, Result, SecretBytes};

use crate::keys::handle::KeyHandle;
use crate::keys::{Curve, KeyKind, KeyMaterial, SignAlg};

pub(super) fn gen_err(e: rcgen::Error) -> Error {
    Error::internal(format!("certificate generation failed: {e}"))
}

/// The PKCS#8 v1 DER of a software key.
pub fn pkcs8_of(key: &KeyMaterial) -> SecretBytes {
    let st = key.to_storage();
    SecretBytes::new(st.expose().get(3..).unwrap_or_default().to_vec())
}

/// A key from PKCS#8 DER (RSA 2048/3072/4096 or EC P-256/P-384/P-521/P-256K).
pub fn key_from_pkcs8(der: &[u8]) -> Result<KeyMaterial> {
    // The storage format is `[1, kind, curve] ‖ PKCS#8`: try each kind the DER could be.
    let candidates: [(u8, u8); 5] = [(1, 0), (2, 1), (2, 2), (2, 3), (2, 4)];
    for (kind, curve) in candidates {
        let mut v = Vec::with_capacity(der.len() + 3);
        v.extend_from_slice(&[1u8, kind, curve]);
        v.extend_from_slice(der);
        let buf = SecretBytes::new(v);
        if let Ok(k) = KeyMaterial::from_storage(buf.expose()) {
            return Ok(k);
        }
    }
    Err(Error::bad(
        "The private key is not a supported PKCS#8 key (RSA 2048, 3072 or 4096 bits, or EC P-256, P-384, P-521).",
    ))
}

fn signature_alg(key: &KeyMaterial) -> Result<&'static SignatureAlgorithm> {
    match key.kind() {
        KeyKind::Rsa => Ok(&rcgen::PKCS_RSA_SHA256),
        KeyKind::Ec(Curve::P256) => Ok(&rcgen::PKCS_ECDSA_P256_SHA256),
        KeyKind::Ec(Curve::P384) => Ok(&rcgen::PKCS_ECDSA_P384_SHA384),
        KeyKind::Ec(Curve::P521) => Ok(&rcgen::PKCS_ECDSA_P521_SHA512),
        KeyKind::Ec(Curve::P256K) => {
            Err(Error::bad("Certificates cannot use the P-256K curve; use P-256, P-384 or P-521."))
        }
        KeyKind::Oct => Err(Error::bad("Certificates need an RSA or EC key.")),
    }
}

fn rcgen_key(key: &KeyMaterial) -> Result<KeyPair> {
    let alg = signature_alg(key)?;
    let der = pkcs8_of(key);
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(der.expose()), alg).map_err(gen_err)
}

/// The DER SubjectPublicKeyInfo of a key.
pub fn spki_of(key: &KeyMaterial) -> Result<Vec<u8>> {
    Ok(rcgen_key(key)?.subject_public_key_info())
}

/// provider (an HSM), which then signs inside the token.
#[derive(Debug, Clone, Copy)]
pub enum CertKey<'a> {
    Soft(&'a KeyMaterial),
    Handle(&'a dyn KeyHandle),
}

/// A [`CertKey`] as rcgen sees it: a key pair, or a remote signer with its public key.
pub(super) enum Signer<'a> {
    Soft(KeyPair),
    Handle { handle: &'a dyn KeyHandle, public: Vec<u8>, alg: &'static SignatureAlgorithm, sign: SignAlg },
}

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

fn der_tlv(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_uint(n: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_none_or(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    der_tlv(0x02, &v)
}

impl<'a> Signer<'a> {
    pub(super) fn of(key: CertKey<'a>) -> Result<Self> {
        match key {
            CertKey::Soft(k) => Ok(Signer::Soft(rcgen_key(k)?)),
            CertKey::Handle(h) => {
                let jwk = h.public_jwk();
                let part = |v: &Option<String>| {
                    v.as_deref()
                        .and_then(|s| crate::b64url_decode(s).ok())
                        .ok_or_else(|| Error::internal("the provider key has an incomplete public key"))
                };
                let (public, alg, sign) = match h.kind() {
                    KeyKind::Rsa => {
                        let body = [der_uint(&part(&jwk.n)?), der_uint(&part(&jwk.e)?)].concat();
                        (der_tlv(0x30, &body), &rcgen::PKCS_RSA_SHA256, SignAlg::RS256)
                    }
                    KeyKind::Ec(c) => {
                        let (alg, sign) = match c {
                            Curve::P256 => (&rcgen::PKCS_ECDSA_P256_SHA256, SignAlg::ES256),
                            Curve::P384 => (&rcgen::PKCS_ECDSA_P384_SHA384, SignAlg::ES384),
                            _ => return Err(Error::bad("A CA key in the HSM must be RSA, P-256 or P-384.")),
                        };
                        ([[0x04].as_slice(), &part(&jwk.x)?, &part(&jwk.y)?].concat(), alg, sign)
                    }
                    KeyKind::Oct => return Err(Error::bad("Certificates need an RSA or EC key.")),
                };
                Ok(Signer::Handle { handle: h, public, alg, sign })
            }
        }
    }
}

impl PublicKeyData for Signer<'_> {
    fn der_bytes(&self) -> &[u8] {
        match self {
            Signer::Soft(k) => k.der_bytes(),
            Signer::Handle { public, .. } => public,
        }
    }
    fn algorithm(&self) -> &'static SignatureAlgorithm {
        match self {
            Signer::Soft(k) => k.algorithm(),
            Signer::Handle { alg, .. } => alg,
        }
    }
}

impl SigningKey for Signer<'_> {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        use aws_lc_rs::digest;
        match self {
            Signer::Soft(k) => k.sign(msg),
            Signer::Handle { handle, sign, .. } => {
                let d = match sign {
                    SignAlg::ES384 => digest::digest(&digest::SHA384, msg),
                    _ => digest::digest(&digest::SHA256, msg),
                };
                let sig = handle.sign(*sign, d.as_ref()).map_err(|_| rcgen::Error::RemoteKeyError)?;
                if matches!(sign, SignAlg::RS256) {
                    return Ok(sig);
                }
                // The token answers ECDSA as r ‖ s; X.509 wants the DER ECDSA-Sig-Value.
                if sig.is_empty() || sig.len() % 2 != 0 {
                    return Err(rcgen::Error::RemoteKeyError);
                }
                let (r, s) = sig.split_at(sig.len() / 2);
                Ok(der_tlv(0x30, &[der_uint(r), der_uint(s)].concat()))
            }
        }
    }
}

/// The DER SubjectPublicKeyInfo of any [`CertKey`].
pub fn spki_by(key: CertKey<'_>) -> Result<Vec<u8>> {
    Ok(Signer::of(key)?.subject_public_key_info())
}
