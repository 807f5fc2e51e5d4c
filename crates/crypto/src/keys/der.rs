//! Byte-level encodings around keys: the DER OIDs of the curves and the PKCS#1 `DigestInfo`
//! prefixes (for PKCS#11 tokens), PKCS#8 export of aws-lc-rs key pairs, and big-endian integer
//! helpers.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::signature::{EcdsaKeyPair, RsaKeyPair};
use strongbox_types::{Error, Result, SecretBytes};

use super::algorithms::{Curve, SignAlg};

/// The DER `OBJECT IDENTIFIER` of a curve (PKCS#11 `CKA_EC_PARAMS`, namedCurve form).
pub fn curve_oid_der(curve: Curve) -> &'static [u8] {
    match curve {
        Curve::P256 => &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07],
        Curve::P384 => &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22],
        Curve::P521 => &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23],
        Curve::P256K => &[0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x0A],
    }
}

/// The curve of a DER OID from [`curve_oid_der`].
pub fn curve_from_oid_der(der: &[u8]) -> Option<Curve> {
    Curve::ALL.into_iter().find(|c| curve_oid_der(*c) == der)
}

/// The DER `DigestInfo` prefix PKCS#1 v1.5 signatures put before a digest (RFC 8017 §9.2 note 1),
/// for tokens that sign with raw `CKM_RSA_PKCS`.
pub fn pkcs1_digest_info_prefix(alg: SignAlg) -> Option<&'static [u8]> {
    match alg {
        SignAlg::RS256 => Some(&[
            0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
            0x20,
        ]),
        SignAlg::RS384 => Some(&[
            0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04,
            0x30,
        ]),
        SignAlg::RS512 => Some(&[
            0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04,
            0x40,
        ]),
        _ => None,
    }
}

/// The PKCS#8 v1 DER of an RSA key pair (the storage payload of RSA keys).
pub(super) fn rsa_pkcs8(pair: &RsaKeyPair) -> Result<SecretBytes> {
    let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| Error::internal("RSA PKCS#8 encoding failed"))?;
    Ok(SecretBytes::new(der.as_ref().to_vec()))
}

/// The PKCS#8 v1 DER of an EC key pair (the storage payload of EC keys).
pub(super) fn ec_pkcs8(pair: &EcdsaKeyPair) -> Result<SecretBytes> {
    let doc = pair.to_pkcs8v1().map_err(|_| Error::internal("EC PKCS#8 encoding failed"))?;
    Ok(SecretBytes::new(doc.as_ref().to_vec()))
}

/// Number of significant bits of a big-endian unsigned integer.
pub(super) fn bit_len(be: &[u8]) -> usize {
    let be = strip_leading_zeros(be);
    match be.first() {
        Some(&b) => (be.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
        None => 0,
    }
}

/// A big-endian unsigned integer without its leading zero bytes.
pub(super) fn strip_leading_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default()
}
