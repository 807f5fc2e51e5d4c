//! The names Key Vault uses for key types, curves and algorithms, the sizes Strongbox supports,
//! and the checks (with their error messages) that an algorithm fits a key.

use std::fmt;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::signature::{
    self as sig, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, RsaEncoding, RsaParameters,
};
use strongbox_types::{Error, ErrorKind, Result};

use crate::aes::{AesAlg, SymParams};

/// The only RSA public exponent accepted (generated keys always use it).
pub const RSA_EXPONENT: u32 = 65537;

/// Supported RSA modulus sizes in bits.
pub const RSA_SIZES: [usize; 3] = [2048, 3072, 4096];

/// Supported symmetric key sizes in bits.
pub const OCT_SIZES: [usize; 3] = [128, 192, 256];

/// Whether an RSA modulus of `bits` bits with the big-endian exponent `e` (no leading zeros) is
/// one Strongbox supports.
pub(super) fn rsa_policy_allows(bits: usize, e: &[u8]) -> bool {
    RSA_SIZES.contains(&bits) && *e == RSA_EXPONENT.to_be_bytes()[1..]
}

pub(super) fn rsa_size_error(bits: usize) -> Error {
    Error::bad(format!("The key size {bits} is not supported for RSA keys; use 2048, 3072 or 4096."))
}

/// An elliptic curve (JWK `crv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
    /// secp256k1.
    P256K,
}

impl Curve {
    pub const ALL: [Curve; 4] = [Curve::P256, Curve::P384, Curve::P521, Curve::P256K];

    /// Parses Azure's curve names (`P-256`, `P-384`, `P-521`, `P-256K`; the legacy alias
    /// `SECP256K1` is accepted as `P-256K`).
    pub fn parse(crv: &str) -> Result<Self> {
        match crv {
            "P-256" => Ok(Self::P256),
            "P-384" => Ok(Self::P384),
            "P-521" => Ok(Self::P521),
            "P-256K" | "SECP256K1" => Ok(Self::P256K),
            _ => Err(Error::bad("The curve is not supported; use one of P-256, P-384, P-521 or P-256K.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
            Self::P256K => "P-256K",
        }
    }

    /// Size of a field element (and of each JWK coordinate and of `d`) in bytes.
    pub fn field_len(self) -> usize {
        match self {
            Self::P256 | Self::P256K => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// Size of the curve in bits.
    pub fn bits(self) -> usize {
        match self {
            Self::P256 | Self::P256K => 256,
            Self::P384 => 384,
            Self::P521 => 521,
        }
    }

    /// The one signature algorithm Azure pairs with this curve.
    pub fn sign_alg(self) -> SignAlg {
        match self {
            Self::P256 => SignAlg::ES256,
            Self::P384 => SignAlg::ES384,
            Self::P521 => SignAlg::ES512,
            Self::P256K => SignAlg::ES256K,
        }
    }

    pub(super) fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::P384 => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            Self::P521 => &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
            Self::P256K => &sig::ECDSA_P256K1_SHA256_FIXED_SIGNING,
        }
    }

    pub(super) fn verification(self) -> &'static EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &sig::ECDSA_P256_SHA256_FIXED,
            Self::P384 => &sig::ECDSA_P384_SHA384_FIXED,
            Self::P521 => &sig::ECDSA_P521_SHA512_FIXED,
            Self::P256K => &sig::ECDSA_P256K1_SHA256_FIXED,
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a key is. The `-HSM` variants of `kty` are the caller's business.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    Rsa,
    Ec(Curve),
    Oct,
}

impl KeyKind {
    /// The software `kty`: `RSA`, `EC` or `oct`.
    pub fn kty(self) -> &'static str {
        match self {
            Self::Rsa => "RSA",
            Self::Ec(_) => "EC",
            Self::Oct => "oct",
        }
    }
}

/// Signature algorithms (Azure `JsonWebKeySignatureAlgorithm`) implemented for software keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignAlg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    ES256K,
}

/// Azure signature algorithm names that exist but are not implemented here.
const SIGN_ALGS_NOT_IMPLEMENTED: [&str; 4] = ["HS256", "HS384", "HS512", "RSNULL"];

impl SignAlg {
    pub const ALL: [SignAlg; 10] = [
        SignAlg::RS256,
        SignAlg::RS384,
        SignAlg::RS512,
        SignAlg::PS256,
        SignAlg::PS384,
        SignAlg::PS512,
        SignAlg::ES256,
        SignAlg::ES384,
        SignAlg::ES512,
        SignAlg::ES256K,
    ];

    /// Parses Azure's name (case-sensitive, as the SDKs send it). Known Azure algorithms that are
    /// not implemented (`HS*`, `RSNULL`) give `NotImplemented`; anything else `BadParameter`.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(a) = Self::ALL.into_iter().find(|a| a.as_str() == s) {
            return Ok(a);
        }
        if SIGN_ALGS_NOT_IMPLEMENTED.contains(&s) {
            return Err(Error::new(ErrorKind::NotImplemented, "This signature algorithm is not supported yet."));
        }
        Err(Error::bad(
            "The signature algorithm is not valid; use one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or ES256K.",
        ))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::ES256K => "ES256K",
        }
    }

    /// Length in bytes of the digest the caller must supply.
    pub fn digest_len(self) -> usize {
        self.digest_alg().output_len()
    }

    /// Whether this is an RSA (PKCS#1 v1.5 or PSS) algorithm.
    pub fn is_rsa(self) -> bool {
        self.rsa_index().is_some()
    }

    /// The curve an ECDSA algorithm belongs to; `None` for RSA algorithms.
    pub fn curve(self) -> Option<Curve> {
        Curve::ALL.into_iter().find(|c| c.sign_alg() == self)
    }

    pub(super) fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            Self::RS256 | Self::PS256 | Self::ES256 | Self::ES256K => &digest::SHA256,
            Self::RS384 | Self::PS384 | Self::ES384 => &digest::SHA384,
            Self::RS512 | Self::PS512 | Self::ES512 => &digest::SHA512,
        }
    }

    /// Position in [`RSA_ALGS`], for RSA algorithms.
    pub(super) fn rsa_index(self) -> Option<usize> {
        RSA_ALGS.iter().position(|(a, _, _)| *a == self)
    }

    /// Checks the digest length and wraps it for aws-lc-rs.
    pub(super) fn digest(self, digest: &[u8]) -> Result<Digest> {
        Digest::import_less_safe(digest, self.digest_alg()).map_err(|_| {
            Error::bad(format!(
                "The digest for {} must be {} bytes long, but {} bytes were given.",
                self.as_str(),
                self.digest_len(),
                digest.len()
            ))
        })
    }
}

impl fmt::Display for SignAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The RSA signature algorithms with their aws-lc-rs signing encoding and verification
/// parameters (PSS: salt length = hash length, MGF1 with the same hash — aws-lc-rs defaults).
pub(super) static RSA_ALGS: [(SignAlg, &dyn RsaEncoding, &RsaParameters); 6] = [
    (SignAlg::RS256, &sig::RSA_PKCS1_SHA256, &sig::RSA_PKCS1_2048_8192_SHA256),
    (SignAlg::RS384, &sig::RSA_PKCS1_SHA384, &sig::RSA_PKCS1_2048_8192_SHA384),
    (SignAlg::RS512, &sig::RSA_PKCS1_SHA512, &sig::RSA_PKCS1_2048_8192_SHA512),
    (SignAlg::PS256, &sig::RSA_PSS_SHA256, &sig::RSA_PSS_2048_8192_SHA256),
    (SignAlg::PS384, &sig::RSA_PSS_SHA384, &sig::RSA_PSS_2048_8192_SHA384),
    (SignAlg::PS512, &sig::RSA_PSS_SHA512, &sig::RSA_PSS_2048_8192_SHA512),
];

/// RSA encryption algorithms, used for encrypt/decrypt and wrapKey/unwrapKey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EncAlg {
    /// `RSA1_5`: RSAES-PKCS1-v1_5.
    Rsa15,
    /// `RSA-OAEP`: OAEP with SHA-1 and MGF1-SHA-1.
    RsaOaep,
    /// `RSA-OAEP-256`: OAEP with SHA-256 and MGF1-SHA-256.
    RsaOaep256,
}

/// Azure encryption algorithm names that exist but are not implemented here (symmetric keys).
const ENC_ALGS_NOT_IMPLEMENTED: [&str; 14] = [
    "A128GCM",
    "A192GCM",
    "A256GCM",
    "A128KW",
    "A192KW",
    "A256KW",
    "A128CBC",
    "A192CBC",
    "A256CBC",
    "A128CBCPAD",
    "A192CBCPAD",
    "A256CBCPAD",
    "CKM_AES_KEY_WRAP",
    "CKM_AES_KEY_WRAP_PAD",
];

impl EncAlg {
    pub const ALL: [EncAlg; 3] = [EncAlg::Rsa15, EncAlg::RsaOaep, EncAlg::RsaOaep256];

    /// Parses Azure's name (`RSA1_5`, `RSA-OAEP`, `RSA-OAEP-256`). Known Azure symmetric
    /// algorithms give `NotImplemented`; anything else `BadParameter`.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(a) = Self::ALL.into_iter().find(|a| a.as_str() == s) {
            return Ok(a);
        }
        if ENC_ALGS_NOT_IMPLEMENTED.contains(&s) {
            return Err(Error::new(ErrorKind::NotImplemented, "This encryption algorithm is not supported yet."));
        }
        Err(Error::bad("The encryption algorithm is not valid; use one of RSA1_5, RSA-OAEP or RSA-OAEP-256."))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa15 => "RSA1_5",
            Self::RsaOaep => "RSA-OAEP",
            Self::RsaOaep256 => "RSA-OAEP-256",
        }
    }

    /// The largest plaintext for a modulus of `modulus_len` bytes: k−11 (RSA1_5), k−42 (OAEP
    /// SHA-1), k−66 (OAEP SHA-256).
    pub fn max_plaintext_len(self, modulus_len: usize) -> usize {
        let overhead = match self {
            Self::Rsa15 => 11,
            Self::RsaOaep => 2 * 20 + 2,
            Self::RsaOaep256 => 2 * 32 + 2,
        };
        modulus_len.saturating_sub(overhead)
    }
}

impl fmt::Display for EncAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An encryption / key-wrap algorithm of any key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CipherAlg {
    Rsa(EncAlg),
    Aes(AesAlg),
}

impl CipherAlg {
    /// Parses Azure's name (`RSA-OAEP`, `A256GCM`, `A192KW`, …). `CKM_AES_KEY_WRAP(_PAD)` exist in
    /// Azure but are not implemented here (`NotImplemented`); anything else is `BadParameter`.
    pub fn parse(s: &str) -> Result<Self> {
        if let Some(a) = EncAlg::ALL.into_iter().find(|a| a.as_str() == s) {
            return Ok(Self::Rsa(a));
        }
        if let Some(a) = AesAlg::parse(s) {
            return Ok(Self::Aes(a));
        }
        if s == "CKM_AES_KEY_WRAP" || s == "CKM_AES_KEY_WRAP_PAD" {
            return Err(Error::new(ErrorKind::NotImplemented, "This encryption algorithm is not supported yet."));
        }
        Err(Error::bad(
            "The encryption algorithm is not valid; use one of RSA1_5, RSA-OAEP, RSA-OAEP-256, A128GCM, A192GCM, A256GCM, A128CBC, A192CBC, A256CBC, A128CBCPAD, A192CBCPAD, A256CBCPAD, A128KW, A192KW or A256KW.",
        ))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa(a) => a.as_str(),
            Self::Aes(a) => a.as_str(),
        }
    }
}

impl fmt::Display for CipherAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks that `alg` fits a key of `kind` and that `digest` has the algorithm's length, with the
/// same messages software keys give (for HSM-backed keys, before the token is asked).
pub fn check_sign_input(kind: KeyKind, alg: SignAlg, digest: &[u8]) -> Result<()> {
    let fits = match kind {
        KeyKind::Rsa => alg.is_rsa(),
        KeyKind::Ec(c) => alg == c.sign_alg(),
        KeyKind::Oct => false,
    };
    if !fits {
        return Err(wrong_sign_alg(kind, alg));
    }
    alg.digest(digest).map(|_| ())
}

pub(super) fn wrong_sign_alg(kind: KeyKind, alg: SignAlg) -> Error {
    match kind {
        KeyKind::Rsa => Error::bad(format!(
            "The algorithm {alg} cannot be used with an RSA key; use RS256, RS384, RS512, PS256, PS384 or PS512."
        )),
        KeyKind::Ec(c) => {
            Error::bad(format!("The algorithm {alg} cannot be used with a {c} key; use {}.", c.sign_alg()))
        }
        KeyKind::Oct => Error::bad(format!(
            "The algorithm {alg} cannot be used with a symmetric (oct) key; symmetric keys encrypt, decrypt, wrap and unwrap."
        )),
    }
}

/// The error for a cipher algorithm that does not fit the key kind.
pub fn wrong_cipher_alg(kind: KeyKind, alg: CipherAlg) -> Error {
    match (kind, alg) {
        (KeyKind::Ec(_), _) => {
            Error::bad(format!("The algorithm {alg} cannot be used with an EC key; EC keys can only sign and verify."))
        }
        (KeyKind::Rsa, CipherAlg::Aes(a)) => crate::aes::not_for_asymmetric(a, "RSA"),
        (KeyKind::Oct, CipherAlg::Rsa(_)) => Error::bad(format!(
            "The algorithm {alg} cannot be used with a symmetric (oct) key; use an AES algorithm (A128GCM, A256KW, …)."
        )),
        _ => Error::bad(format!("The algorithm {alg} does not fit this key.")),
    }
}

/// RSA keys take no `iv`, `aad` or `tag`.
pub(super) fn no_sym_params(p: &SymParams) -> Result<()> {
    if p.iv.is_some() || p.aad.is_some() || p.tag.is_some() {
        return Err(Error::bad("'iv', 'aad' and 'tag' apply only to symmetric algorithms, which RSA keys do not use."));
    }
    Ok(())
}
