//! Key material for Key Vault software keys: RSA (2048/3072/4096, e = 65537), EC (P-256, P-384,
//! P-521, P-256K) and symmetric `oct` keys (storage only for now).
//!
//! A [`KeyMaterial`] is parsed and validated once, when it is built (generation, JWK import or
//! [`KeyMaterial::from_storage`]); it then holds ready aws-lc-rs handles for every operation it
//! supports, so each `sign`/`verify`/`encrypt`/`decrypt` call is just the primitive.
//!
//! Azure semantics: `sign`/`verify` take a caller-computed **digest** whose length must match the
//! algorithm; ECDSA signatures are raw fixed-size `r ‖ s`; RSA-PSS uses a salt as long as the
//! hash and MGF1 with the same hash. Every RSA decryption failure (RSA1_5 or OAEP) produces one
//! uniform error, so the API is not a padding oracle beyond what RSA1_5 inherently is (callers
//! should still rate-limit decrypt/unwrapKey).
//!
//! Error messages never contain key material: at most member names, sizes and algorithm names.

use std::fmt;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{
    KeyPairComponents, KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
    OaepPublicEncryptingKey, Pkcs1PrivateDecryptingKey, Pkcs1PublicEncryptingKey, PrivateDecryptingKey,
    PublicKeyComponents,
};
use aws_lc_rs::signature::{
    self as sig, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair as _, ParsedPublicKey,
    RsaEncoding, RsaKeyPair, RsaParameters,
};
use serde::{Deserialize, Serialize};
use strongbox_types::{Error, ErrorKind, Result, SecretBytes};
use zeroize::Zeroizing;

use crate::aes::{AesAlg, SymOutput, SymParams};
use crate::handle::KeyHandle;
use crate::{b64url, b64url_decode};

/// The message of every RSA decryption failure (see the module documentation).
pub const UNDECRYPTABLE: &str = "The ciphertext could not be decrypted.";

/// The only RSA public exponent accepted (generated keys always use it).
pub const RSA_EXPONENT: u32 = 65537;

/// Supported RSA modulus sizes in bits.
pub const RSA_SIZES: [usize; 3] = [2048, 3072, 4096];

/// Supported symmetric key sizes in bits.
pub const OCT_SIZES: [usize; 3] = [128, 192, 256];

// ---------------------------------------------------------------------------------------------
// Algorithm and curve names
// ---------------------------------------------------------------------------------------------

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

    fn signing(self) -> &'static EcdsaSigningAlgorithm {
        match self {
            Self::P256 => &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            Self::P384 => &sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            Self::P521 => &sig::ECDSA_P521_SHA512_FIXED_SIGNING,
            Self::P256K => &sig::ECDSA_P256K1_SHA256_FIXED_SIGNING,
        }
    }

    fn verification(self) -> &'static EcdsaVerificationAlgorithm {
        match self {
            Self::P256 => &sig::ECDSA_P256_SHA256_FIXED,
            Self::P384 => &sig::ECDSA_P384_SHA384_FIXED,
            Self::P521 => &sig::ECDSA_P521_SHA512_FIXED,
            Self::P256K => &sig::ECDSA_P256K1_SHA256_FIXED,
        }
    }

    fn tag(self) -> u8 {
        match self {
            Self::P256 => 1,
            Self::P384 => 2,
            Self::P521 => 3,
            Self::P256K => 4,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.tag() == tag)
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

    fn digest_alg(self) -> &'static digest::Algorithm {
        match self {
            Self::RS256 | Self::PS256 | Self::ES256 | Self::ES256K => &digest::SHA256,
            Self::RS384 | Self::PS384 | Self::ES384 => &digest::SHA384,
            Self::RS512 | Self::PS512 | Self::ES512 => &digest::SHA512,
        }
    }

    /// Position in [`RSA_ALGS`], for RSA algorithms.
    fn rsa_index(self) -> Option<usize> {
        RSA_ALGS.iter().position(|(a, _, _)| *a == self)
    }

    /// Checks the digest length and wraps it for aws-lc-rs.
    fn digest(self, digest: &[u8]) -> Result<Digest> {
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
static RSA_ALGS: [(SignAlg, &dyn RsaEncoding, &RsaParameters); 6] = [
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

// ---------------------------------------------------------------------------------------------
// JSON Web Key
// ---------------------------------------------------------------------------------------------

/// A JSON Web Key as Key Vault sends and receives it (wire §5.1; RFC 7517/7518 member names).
/// Private members (`d`, `dp`, `dq`, `qi`, `p`, `q`, `k`) are only ever accepted on import and
/// never printed by `Debug`.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonWebKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_ops: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub d: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dq: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qi: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<String>,
    /// BYOK protected key blob (`key_hsm`), import only.
    #[serde(rename = "key_hsm", skip_serializing_if = "Option::is_none")]
    pub key_hsm: Option<String>,
}

impl JsonWebKey {
    /// Whether any private member (`d`, `dp`, `dq`, `qi`, `p`, `q`, `k`) is present.
    pub fn has_private_members(&self) -> bool {
        [&self.d, &self.dp, &self.dq, &self.qi, &self.p, &self.q, &self.k].iter().any(|m| m.is_some())
    }
}

impl fmt::Debug for JsonWebKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn redact(m: &Option<String>) -> Option<&'static str> {
            m.as_ref().map(|_| "[REDACTED]")
        }
        f.debug_struct("JsonWebKey")
            .field("kid", &self.kid)
            .field("kty", &self.kty)
            .field("key_ops", &self.key_ops)
            .field("n", &self.n)
            .field("e", &self.e)
            .field("d", &redact(&self.d))
            .field("dp", &redact(&self.dp))
            .field("dq", &redact(&self.dq))
            .field("qi", &redact(&self.qi))
            .field("p", &redact(&self.p))
            .field("q", &redact(&self.q))
            .field("crv", &self.crv)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("k", &redact(&self.k))
            .field("key_hsm", &self.key_hsm.as_ref().map(|b| format!("[{} chars]", b.len())))
            .finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Key material
// ---------------------------------------------------------------------------------------------

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
    oaep_enc: OaepPublicEncryptingKey,
    pkcs1_enc: Pkcs1PublicEncryptingKey,
    /// One parsed public key per entry of [`RSA_ALGS`] (aws-lc-rs binds the algorithm at parse time).
    verifiers: Vec<ParsedPublicKey>,
    /// Modulus, big-endian without leading zero.
    n: Vec<u8>,
    /// Public exponent, big-endian without leading zero.
    e: Vec<u8>,
    modulus_len: usize,
    bits: usize,
}

struct EcKey {
    curve: Curve,
    pkcs8: SecretBytes,
    pair: EcdsaKeyPair,
    verifier: ParsedPublicKey,
    /// Coordinates, left-padded to the field size.
    x: Vec<u8>,
    y: Vec<u8>,
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
        let pkcs8 = rsa_pkcs8(&pair)?;
        Ok(Self(Inner::Rsa(Box::new(RsaKey::new(pair, pkcs8)?))))
    }

    /// A new EC key on `curve`.
    pub fn generate_ec(curve: Curve) -> Result<Self> {
        let pair = EcdsaKeyPair::generate(curve.signing())
            .map_err(|_| Error::internal(format!("{curve} key generation failed")))?;
        let pkcs8 = ec_pkcs8(&pair)?;
        Ok(Self(Inner::Ec(Box::new(EcKey::new(curve, pair, pkcs8)?))))
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
        Ok(Self(Inner::Oct(OctKey { k: SecretBytes::new(k) })))
    }

    /// A self-describing serialization for storage (to be kept encrypted by the barrier):
    ///
    /// `[format version = 1][kind: 1 RSA, 2 EC, 3 oct][curve: 0 none, 1 P-256, 2 P-384, 3 P-521,
    /// 4 P-256K][payload]`, where the payload is the PKCS#8 v1 DER for RSA and EC keys and the raw
    /// key bytes for `oct` keys.
    pub fn to_storage(&self) -> SecretBytes {
        let (kind, curve, payload) = match &self.0 {
            Inner::Rsa(k) => (TAG_RSA, 0, &k.pkcs8),
            Inner::Ec(k) => (TAG_EC, k.curve.tag(), &k.pkcs8),
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
                let curve = Curve::from_tag(tag).ok_or_else(|| corrupt("unknown curve"))?;
                let pair = EcdsaKeyPair::from_pkcs8(curve.signing(), payload.expose())
                    .map_err(|_| corrupt("EC PKCS#8 rejected"))?;
                Ok(Self(Inner::Ec(Box::new(EcKey::new(curve, pair, payload)?))))
            }
            (TAG_OCT, 0) => {
                if !OCT_SIZES.contains(&(payload.len() * 8)) {
                    return Err(corrupt("bad symmetric key length"));
                }
                Ok(Self(Inner::Oct(OctKey { k: payload })))
            }
            _ => Err(corrupt("unknown key kind")),
        }
    }

    /// Imports a private JWK (`kty` `RSA`/`EC`/`oct`, with or without `-HSM`). Every rejection is
    /// `BadParameter` with a message naming the problem but never the key material.
    pub fn import_jwk(jwk: &JsonWebKey) -> Result<Self> {
        if jwk.key_hsm.is_some() {
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "Importing a protected key blob ('key_hsm', BYOK) is not supported.",
            ));
        }
        let kty = jwk.kty.as_deref().ok_or_else(|| Error::bad("The key's 'kty' member is required."))?;
        match kty {
            "RSA" | "RSA-HSM" => import_rsa(jwk),
            "EC" | "EC-HSM" => import_ec(jwk),
            "oct" | "oct-HSM" => import_oct(jwk),
            _ => {
                Err(Error::bad("The key type ('kty') is not supported; use RSA, RSA-HSM, EC, EC-HSM, oct or oct-HSM."))
            }
        }
    }

    pub fn kind(&self) -> KeyKind {
        match &self.0 {
            Inner::Rsa(_) => KeyKind::Rsa,
            Inner::Ec(k) => KeyKind::Ec(k.curve),
            Inner::Oct(_) => KeyKind::Oct,
        }
    }

    /// Key size in bits: the RSA modulus size, the curve size, or the symmetric key size.
    pub fn bits(&self) -> usize {
        match &self.0 {
            Inner::Rsa(k) => k.bits,
            Inner::Ec(k) => k.curve.bits(),
            Inner::Oct(k) => k.k.len() * 8,
        }
    }

    /// The public JWK: `kty` plus `n`/`e` (RSA) or `crv`/`x`/`y` (EC); `oct` keys have only `kty`.
    /// Never contains private members. `kid` and `key_ops` are left for the caller.
    pub fn public_jwk(&self) -> JsonWebKey {
        let mut jwk = JsonWebKey { kty: Some(self.kind().kty().to_owned()), ..JsonWebKey::default() };
        match &self.0 {
            Inner::Rsa(k) => {
                jwk.n = Some(b64url(&k.n));
                jwk.e = Some(b64url(&k.e));
            }
            Inner::Ec(k) => {
                jwk.crv = Some(k.curve.as_str().to_owned());
                jwk.x = Some(b64url(&k.x));
                jwk.y = Some(b64url(&k.y));
            }
            Inner::Oct(_) => {}
        }
        jwk
    }

    /// Signs a caller-supplied digest. RSA signatures are modulus-sized; ECDSA signatures are raw
    /// fixed-size `r ‖ s`.
    pub fn sign(&self, alg: SignAlg, digest: &[u8]) -> Result<Vec<u8>> {
        match &self.0 {
            Inner::Rsa(k) => {
                let (_, encoding, _) =
                    alg.rsa_index().and_then(|i| RSA_ALGS.get(i)).ok_or_else(|| self.wrong_alg(alg))?;
                let d = alg.digest(digest)?;
                let mut out = vec![0u8; k.modulus_len];
                k.pair
                    .sign_digest(*encoding, &d, &mut out)
                    .map_err(|_| Error::internal(format!("{alg} signing failed")))?;
                Ok(out)
            }
            Inner::Ec(k) => {
                if alg != k.curve.sign_alg() {
                    return Err(self.wrong_alg(alg));
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
        let verifier = match &self.0 {
            Inner::Rsa(k) => alg.rsa_index().and_then(|i| k.verifiers.get(i)).ok_or_else(|| self.wrong_alg(alg))?,
            Inner::Ec(k) if alg == k.curve.sign_alg() => &k.verifier,
            Inner::Ec(_) => return Err(self.wrong_alg(alg)),
            Inner::Oct(_) => return Err(wrong_sign_alg(KeyKind::Oct, alg)),
        };
        let d = alg.digest(digest)?;
        Ok(verifier.verify_digest_sig(&d, signature).is_ok())
    }

    /// RSA public-key encryption (also used for wrapKey). The plaintext may be at most k−11
    /// (RSA1_5), k−42 (RSA-OAEP) or k−66 (RSA-OAEP-256) bytes, k being the modulus size.
    pub fn encrypt(&self, alg: EncAlg, plaintext: &[u8]) -> Result<Vec<u8>> {
        let k = match &self.0 {
            Inner::Rsa(k) => k,
            Inner::Ec(_) => return Err(self.ec_cannot_encrypt(alg)),
            Inner::Oct(_) => return Err(wrong_cipher_alg(KeyKind::Oct, CipherAlg::Rsa(alg))),
        };
        let max = alg.max_plaintext_len(k.modulus_len);
        if plaintext.len() > max {
            return Err(Error::bad(format!(
                "The plaintext is too long for {alg} with a {}-bit key: at most {max} bytes are allowed, {} were given.",
                k.bits,
                plaintext.len()
            )));
        }
        let mut out = vec![0u8; k.modulus_len];
        let len = match alg {
            EncAlg::Rsa15 => k.pkcs1_enc.encrypt(plaintext, &mut out),
            EncAlg::RsaOaep => k.oaep_enc.encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None),
            EncAlg::RsaOaep256 => k.oaep_enc.encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None),
        }
        .map_err(|_| Error::internal(format!("{alg} encryption failed")))?
        .len();
        out.truncate(len);
        Ok(out)
    }

    /// RSA decryption (also used for unwrapKey). Any failure — wrong length, bad padding, wrong
    /// key — is the same `BadParameter` error with the text [`UNDECRYPTABLE`].
    pub fn decrypt(&self, alg: EncAlg, ciphertext: &[u8]) -> Result<SecretBytes> {
        let k = match &self.0 {
            Inner::Rsa(k) => k,
            Inner::Ec(_) => return Err(self.ec_cannot_encrypt(alg)),
            Inner::Oct(_) => return Err(wrong_cipher_alg(KeyKind::Oct, CipherAlg::Rsa(alg))),
        };
        if ciphertext.len() != k.modulus_len {
            return Err(Error::bad(UNDECRYPTABLE));
        }
        let mut out = Zeroizing::new(vec![0u8; k.modulus_len]);
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

    fn wrong_alg(&self, alg: SignAlg) -> Error {
        match self.kind() {
            KeyKind::Rsa => Error::bad(format!(
                "The algorithm {alg} cannot be used with an RSA key; use RS256, RS384, RS512, PS256, PS384 or PS512."
            )),
            KeyKind::Ec(c) => {
                Error::bad(format!("The algorithm {alg} cannot be used with a {c} key; use {}.", c.sign_alg()))
            }
            KeyKind::Oct => wrong_sign_alg(KeyKind::Oct, alg),
        }
    }

    fn ec_cannot_encrypt(&self, alg: EncAlg) -> Error {
        Error::bad(format!("The algorithm {alg} cannot be used with an EC key; EC keys can only sign and verify."))
    }
}

fn rsa_size_error(bits: usize) -> Error {
    Error::bad(format!("The key size {bits} is not supported for RSA keys; use 2048, 3072 or 4096."))
}

fn rsa_pkcs8(pair: &RsaKeyPair) -> Result<SecretBytes> {
    let der: Pkcs8V1Der<'static> = pair.as_der().map_err(|_| Error::internal("RSA PKCS#8 encoding failed"))?;
    Ok(SecretBytes::new(der.as_ref().to_vec()))
}

fn ec_pkcs8(pair: &EcdsaKeyPair) -> Result<SecretBytes> {
    let doc = pair.to_pkcs8v1().map_err(|_| Error::internal("EC PKCS#8 encoding failed"))?;
    Ok(SecretBytes::new(doc.as_ref().to_vec()))
}

impl RsaKey {
    /// Builds every handle from a validated key pair and its PKCS#8 encoding, and enforces the
    /// size/exponent policy (only reachable with a bad key through `from_storage`).
    fn new(pair: RsaKeyPair, pkcs8: SecretBytes) -> Result<Self> {
        let public = pair.public_key();
        let n = public.modulus().big_endian_without_leading_zero().to_vec();
        let e = public.exponent().big_endian_without_leading_zero().to_vec();
        let bits = bit_len(&n);
        if !RSA_SIZES.contains(&bits) || e != RSA_EXPONENT.to_be_bytes()[1..] {
            return Err(Error::internal("RSA key outside the supported sizes or exponent"));
        }
        let dec = PrivateDecryptingKey::from_pkcs8(pkcs8.expose())
            .map_err(|_| Error::internal("RSA PKCS#8 rejected for decryption"))?;
        let enc = dec.public_key();
        let handle_err = |_| Error::internal("RSA encryption handle setup failed");
        let oaep_dec = OaepPrivateDecryptingKey::new(dec.clone()).map_err(handle_err)?;
        let pkcs1_dec = Pkcs1PrivateDecryptingKey::new(dec).map_err(handle_err)?;
        let oaep_enc = OaepPublicEncryptingKey::new(enc.clone()).map_err(handle_err)?;
        let pkcs1_enc = Pkcs1PublicEncryptingKey::new(enc).map_err(handle_err)?;
        let components = PublicKeyComponents { n: n.as_slice(), e: e.as_slice() };
        let verifiers = RSA_ALGS
            .iter()
            .map(|(_, _, params)| components.to_parsed_public_key(params))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::internal("RSA public key parse failed"))?;
        let modulus_len = pair.public_modulus_len();
        Ok(Self { pkcs8, pair, oaep_dec, pkcs1_dec, oaep_enc, pkcs1_enc, verifiers, n, e, modulus_len, bits })
    }
}

impl EcKey {
    fn new(curve: Curve, pair: EcdsaKeyPair, pkcs8: SecretBytes) -> Result<Self> {
        let point = pair.public_key().as_ref();
        let fl = curve.field_len();
        let coords = match point.split_first() {
            Some((4, xy)) if xy.len() == 2 * fl => xy,
            _ => return Err(Error::internal("unexpected EC public point encoding")),
        };
        let (x, y) = coords.split_at(fl);
        let verifier = ParsedPublicKey::new(curve.verification(), point)
            .map_err(|_| Error::internal("EC public key parse failed"))?;
        Ok(Self { curve, pkcs8, verifier, x: x.to_vec(), y: y.to_vec(), pair })
    }
}

/// Number of significant bits of a big-endian unsigned integer.
fn bit_len(be: &[u8]) -> usize {
    let be = strip_leading_zeros(be);
    match be.first() {
        Some(&b) => (be.len() - 1) * 8 + (8 - b.leading_zeros() as usize),
        None => 0,
    }
}

fn strip_leading_zeros(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default()
}

/// A required JWK member, base64url-decoded into zeroizing memory.
fn member(value: &Option<String>, name: &str, kty: &str) -> Result<Zeroizing<Vec<u8>>> {
    let s = value.as_deref().ok_or_else(|| Error::bad(format!("The {kty} key is missing the '{name}' member.")))?;
    let bytes = Zeroizing::new(
        b64url_decode(s).map_err(|_| Error::bad(format!("The '{name}' member is not valid base64url.")))?,
    );
    if bytes.is_empty() {
        return Err(Error::bad(format!("The '{name}' member is empty.")));
    }
    Ok(bytes)
}

fn import_rsa(jwk: &JsonWebKey) -> Result<KeyMaterial> {
    // Public members first, so a public-only JWK gets a message about the missing private part.
    let n_raw = member(&jwk.n, "n", "RSA")?;
    let e_raw = member(&jwk.e, "e", "RSA")?;
    let n = strip_leading_zeros(&n_raw);
    let e = strip_leading_zeros(&e_raw);

    let e_value = if e.len() <= 8 { e.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)) } else { u64::MAX };
    if e_value < u64::from(RSA_EXPONENT) {
        return Err(Error::bad("The RSA public exponent ('e') is too small (weak); only 65537 is supported."));
    }
    if e_value != u64::from(RSA_EXPONENT) {
        return Err(Error::bad("The RSA public exponent ('e') is not supported; only 65537 is supported."));
    }
    let bits = bit_len(n);
    if !RSA_SIZES.contains(&bits) {
        return Err(rsa_size_error(bits));
    }

    let d = member(&jwk.d, "d", "RSA")?;
    let p = member(&jwk.p, "p", "RSA")?;
    let q = member(&jwk.q, "q", "RSA")?;
    let dp = member(&jwk.dp, "dp", "RSA")?;
    let dq = member(&jwk.dq, "dq", "RSA")?;
    let qi = member(&jwk.qi, "qi", "RSA")?;

    // Size sanity before the (more expensive) consistency check; leading zeros are tolerated.
    let half = n.len().div_ceil(2);
    let limits: [(&str, &[u8], usize); 6] =
        [("d", &d, n.len()), ("p", &p, half), ("q", &q, half), ("dp", &dp, half), ("dq", &dq, half), ("qi", &qi, half)];
    for (name, value, max) in limits {
        if strip_leading_zeros(value).len() > max {
            return Err(Error::bad(format!("The '{name}' member is too long for a {bits}-bit RSA key.")));
        }
    }

    let components = KeyPairComponents {
        public_key: PublicKeyComponents { n, e },
        d: d.as_slice(),
        p: p.as_slice(),
        q: q.as_slice(),
        dP: dp.as_slice(),
        dQ: dq.as_slice(),
        qInv: qi.as_slice(),
    };
    let pair = RsaKeyPair::from_components(&components).map_err(|_| {
        Error::bad(
            "The RSA key members are inconsistent: n, e, d, p, q, dp, dq and qi do not form a valid private key.",
        )
    })?;
    let pkcs8 = rsa_pkcs8(&pair)?;
    Ok(KeyMaterial(Inner::Rsa(Box::new(RsaKey::new(pair, pkcs8)?))))
}

fn import_ec(jwk: &JsonWebKey) -> Result<KeyMaterial> {
    let crv = jwk.crv.as_deref().ok_or_else(|| Error::bad("The EC key is missing the 'crv' member."))?;
    let curve = Curve::parse(crv)?;
    let fl = curve.field_len();
    let x = member(&jwk.x, "x", "EC")?;
    let y = member(&jwk.y, "y", "EC")?;
    let d = member(&jwk.d, "d", "EC")?;
    for (name, value) in [("x", &x), ("y", &y), ("d", &d)] {
        if value.len() != fl {
            return Err(Error::bad(format!(
                "The '{name}' member must be {fl} bytes long for curve {curve}, but is {} bytes.",
                value.len()
            )));
        }
    }
    let mut point = Vec::with_capacity(1 + 2 * fl);
    point.push(4);
    point.extend_from_slice(&x);
    point.extend_from_slice(&y);
    if ParsedPublicKey::new(curve.verification(), &point).is_err() {
        return Err(Error::bad(format!("The EC public key ('x', 'y') is not a point on curve {curve}.")));
    }
    let pair = EcdsaKeyPair::from_private_key_and_public_key(curve.signing(), &d, &point).map_err(|_| {
        Error::bad(format!("The EC private key ('d') is not valid for curve {curve} or does not match 'x' and 'y'."))
    })?;
    let pkcs8 = ec_pkcs8(&pair)?;
    Ok(KeyMaterial(Inner::Ec(Box::new(EcKey::new(curve, pair, pkcs8)?))))
}

fn import_oct(jwk: &JsonWebKey) -> Result<KeyMaterial> {
    let k = member(&jwk.k, "k", "oct")?;
    if !OCT_SIZES.contains(&(k.len() * 8)) {
        return Err(Error::bad(format!(
            "The symmetric key ('k') must be 128, 192 or 256 bits long, but is {} bits.",
            k.len() * 8
        )));
    }
    Ok(KeyMaterial(Inner::Oct(OctKey { k: SecretBytes::new(k.to_vec()) })))
}

// ---------------------------------------------------------------------------------------------
// Cipher algorithms (RSA and AES), the key-handle implementation, public-only keys
// ---------------------------------------------------------------------------------------------

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

fn wrong_sign_alg(kind: KeyKind, alg: SignAlg) -> Error {
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
fn no_sym_params(p: &SymParams) -> Result<()> {
    if p.iv.is_some() || p.aad.is_some() || p.tag.is_some() {
        return Err(Error::bad("'iv', 'aad' and 'tag' apply only to symmetric algorithms, which RSA keys do not use."));
    }
    Ok(())
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

/// The public half of an RSA or EC key, for keys whose private half lives elsewhere (an HSM):
/// verification and RSA encryption in software, and the public JWK.
pub struct PublicKeyMaterial(PublicInner);

enum PublicInner {
    Rsa {
        oaep_enc: OaepPublicEncryptingKey,
        pkcs1_enc: Pkcs1PublicEncryptingKey,
        verifiers: Vec<ParsedPublicKey>,
        n: Vec<u8>,
        e: Vec<u8>,
        modulus_len: usize,
        bits: usize,
    },
    Ec {
        curve: Curve,
        verifier: ParsedPublicKey,
        x: Vec<u8>,
        y: Vec<u8>,
    },
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
        if !RSA_SIZES.contains(&bits) || e != RSA_EXPONENT.to_be_bytes()[1..] {
            return Err(Error::internal("RSA public key outside the supported sizes or exponent"));
        }
        let components = PublicKeyComponents { n: n.as_slice(), e: e.as_slice() };
        let verifiers = RSA_ALGS
            .iter()
            .map(|(_, _, params)| components.to_parsed_public_key(params))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::internal("RSA public key parse failed"))?;
        let enc: aws_lc_rs::rsa::PublicEncryptingKey =
            components.try_into().map_err(|_| Error::internal("RSA public key rejected for encryption"))?;
        let handle_err = |_| Error::internal("RSA encryption handle setup failed");
        let oaep_enc = OaepPublicEncryptingKey::new(enc.clone()).map_err(handle_err)?;
        let pkcs1_enc = Pkcs1PublicEncryptingKey::new(enc).map_err(handle_err)?;
        let modulus_len = n.len();
        Ok(Self(PublicInner::Rsa { oaep_enc, pkcs1_enc, verifiers, n, e, modulus_len, bits }))
    }

    /// An EC public key from its uncompressed point (`04 ‖ x ‖ y`).
    pub fn ec(curve: Curve, point: &[u8]) -> Result<Self> {
        let fl = curve.field_len();
        let coords = match point.split_first() {
            Some((4, xy)) if xy.len() == 2 * fl => xy,
            _ => return Err(Error::internal("unexpected EC public point encoding")),
        };
        let (x, y) = coords.split_at(fl);
        let verifier = ParsedPublicKey::new(curve.verification(), point)
            .map_err(|_| Error::internal("EC public key parse failed"))?;
        Ok(Self(PublicInner::Ec { curve, verifier, x: x.to_vec(), y: y.to_vec() }))
    }

    pub fn kind(&self) -> KeyKind {
        match &self.0 {
            PublicInner::Rsa { .. } => KeyKind::Rsa,
            PublicInner::Ec { curve, .. } => KeyKind::Ec(*curve),
        }
    }

    pub fn bits(&self) -> usize {
        match &self.0 {
            PublicInner::Rsa { bits, .. } => *bits,
            PublicInner::Ec { curve, .. } => curve.bits(),
        }
    }

    /// RSA modulus length in bytes (0 for EC keys).
    pub fn modulus_len(&self) -> usize {
        match &self.0 {
            PublicInner::Rsa { modulus_len, .. } => *modulus_len,
            PublicInner::Ec { .. } => 0,
        }
    }

    pub fn public_jwk(&self) -> JsonWebKey {
        let mut jwk = JsonWebKey { kty: Some(self.kind().kty().to_owned()), ..JsonWebKey::default() };
        match &self.0 {
            PublicInner::Rsa { n, e, .. } => {
                jwk.n = Some(b64url(n));
                jwk.e = Some(b64url(e));
            }
            PublicInner::Ec { curve, x, y, .. } => {
                jwk.crv = Some(curve.as_str().to_owned());
                jwk.x = Some(b64url(x));
                jwk.y = Some(b64url(y));
            }
        }
        jwk
    }

    pub fn verify(&self, alg: SignAlg, digest: &[u8], signature: &[u8]) -> Result<bool> {
        check_sign_input(self.kind(), alg, digest)?;
        let verifier = match &self.0 {
            PublicInner::Rsa { verifiers, .. } => {
                alg.rsa_index().and_then(|i| verifiers.get(i)).ok_or_else(|| wrong_sign_alg(self.kind(), alg))?
            }
            PublicInner::Ec { verifier, .. } => verifier,
        };
        let d = alg.digest(digest)?;
        Ok(verifier.verify_digest_sig(&d, signature).is_ok())
    }

    /// RSA encryption with the public key (plaintext limits as for software keys).
    pub fn encrypt(&self, alg: EncAlg, plaintext: &[u8]) -> Result<Vec<u8>> {
        let PublicInner::Rsa { oaep_enc, pkcs1_enc, modulus_len, bits, .. } = &self.0 else {
            return Err(wrong_cipher_alg(self.kind(), CipherAlg::Rsa(alg)));
        };
        let max = alg.max_plaintext_len(*modulus_len);
        if plaintext.len() > max {
            return Err(Error::bad(format!(
                "The plaintext is too long for {alg} with a {bits}-bit key: at most {max} bytes are allowed, {} were given.",
                plaintext.len()
            )));
        }
        let mut out = vec![0u8; *modulus_len];
        let len = match alg {
            EncAlg::Rsa15 => pkcs1_enc.encrypt(plaintext, &mut out),
            EncAlg::RsaOaep => oaep_enc.encrypt(&OAEP_SHA1_MGF1SHA1, plaintext, &mut out, None),
            EncAlg::RsaOaep256 => oaep_enc.encrypt(&OAEP_SHA256_MGF1SHA256, plaintext, &mut out, None),
        }
        .map_err(|_| Error::internal(format!("{alg} encryption failed")))?
        .len();
        out.truncate(len);
        Ok(out)
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

/// Decoded private JWK members for a provider import, validated by [`KeyMaterial::import_jwk`]
/// first. Zeroized on drop; never printed.
pub enum PrivateComponents {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
        d: Zeroizing<Vec<u8>>,
        p: Zeroizing<Vec<u8>>,
        q: Zeroizing<Vec<u8>>,
        dp: Zeroizing<Vec<u8>>,
        dq: Zeroizing<Vec<u8>>,
        qi: Zeroizing<Vec<u8>>,
    },
    Ec {
        curve: Curve,
        d: Zeroizing<Vec<u8>>,
        point: Vec<u8>,
    },
    Oct {
        k: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for PrivateComponents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateComponents([REDACTED])")
    }
}

impl PrivateComponents {
    /// Validates the JWK exactly as a software import does, then hands out its members.
    pub fn from_jwk(jwk: &JsonWebKey) -> Result<Self> {
        let checked = KeyMaterial::import_jwk(jwk)?;
        let strip = |v: Zeroizing<Vec<u8>>| Zeroizing::new(strip_leading_zeros(&v).to_vec());
        Ok(match checked.kind() {
            KeyKind::Rsa => Self::Rsa {
                n: strip(member(&jwk.n, "n", "RSA")?).to_vec(),
                e: strip(member(&jwk.e, "e", "RSA")?).to_vec(),
                d: strip(member(&jwk.d, "d", "RSA")?),
                p: strip(member(&jwk.p, "p", "RSA")?),
                q: strip(member(&jwk.q, "q", "RSA")?),
                dp: strip(member(&jwk.dp, "dp", "RSA")?),
                dq: strip(member(&jwk.dq, "dq", "RSA")?),
                qi: strip(member(&jwk.qi, "qi", "RSA")?),
            },
            KeyKind::Ec(curve) => {
                let x = member(&jwk.x, "x", "EC")?;
                let y = member(&jwk.y, "y", "EC")?;
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Self::Ec { curve, d: member(&jwk.d, "d", "EC")?, point }
            }
            KeyKind::Oct => Self::Oct { k: member(&jwk.k, "k", "oct")? },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use super::*;

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
}
