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
//!
//! The module is split by concern; everything public is re-exported here, so callers name
//! `strongbox_crypto::keys::X` whatever file `X` lives in:
//! - `algorithms.rs`: curves, key kinds, signature and encryption algorithms, supported sizes, and
//!   the checks that an algorithm fits a key;
//! - `jwk.rs`: the JSON Web Key and private JWK import;
//! - `private.rs`: software keys ([`KeyMaterial`]): generation, storage format, private operations;
//! - `public.rs`: the public half ([`PublicKeyMaterial`]): verification, RSA encryption, public JWK;
//! - `der.rs`: curve OIDs, PKCS#1 `DigestInfo` prefixes, PKCS#8 and big-endian helpers.

mod algorithms;
mod der;
pub mod handle;
mod jwk;
mod private;
mod public;

pub use algorithms::{
    CipherAlg, Curve, EncAlg, KeyKind, OCT_SIZES, RSA_EXPONENT, RSA_SIZES, SignAlg, check_sign_input, wrong_cipher_alg,
};
pub use der::{curve_from_oid_der, curve_oid_der, pkcs1_digest_info_prefix};
pub use jwk::{JsonWebKey, PrivateComponents};
pub use private::{KeyMaterial, UNDECRYPTABLE};
pub use public::PublicKeyMaterial;

#[cfg(test)]
mod tests;
