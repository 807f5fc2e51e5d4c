//! The key-handle abstraction the services use for every key, wherever its private part lives:
//! [`KeyHandle`] is one usable key version (software [`KeyMaterial`](super::KeyMaterial) or
//! an object inside an HSM), [`KeyProvider`] creates and finds keys that live outside the
//! process (the PKCS#11 provider in `strongbox-hsm`).
//!
//! A provider key is known to storage only by its opaque handle id (for PKCS#11: the object's
//! `CKA_ID`); the private part never leaves the provider. [`PublicKeyMaterial`] lets a provider
//! check inputs and build the JWK from the public half in software.
//!
//! [`PublicKeyMaterial`]: super::PublicKeyMaterial

use std::fmt;
use std::sync::Arc;

use strongbox_types::{Result, SecretBytes};

use super::{CipherAlg, Curve, JsonWebKey, KeyKind, SignAlg};
use crate::aes::{SymOutput, SymParams};

/// One key version ready for operations. Implementations never print key material.
pub trait KeyHandle: Send + Sync + fmt::Debug {
    fn kind(&self) -> KeyKind;
    /// RSA modulus size, curve size or symmetric key size, in bits.
    fn bits(&self) -> usize;
    /// The public JWK (`kty` without `-HSM`; no `kid`/`key_ops`).
    fn public_jwk(&self) -> JsonWebKey;
    /// Signs a caller-supplied digest.
    fn sign(&self, alg: SignAlg, digest: &[u8]) -> Result<Vec<u8>>;
    /// Verifies a signature over a digest; `Ok(false)` when it does not verify.
    fn verify(&self, alg: SignAlg, digest: &[u8], signature: &[u8]) -> Result<bool>;
    /// encrypt / wrapKey.
    fn encrypt(&self, alg: CipherAlg, data: &[u8], p: &SymParams) -> Result<SymOutput>;
    /// decrypt / unwrapKey. Failures of the ciphertext are the uniform `UNDECRYPTABLE` error.
    fn decrypt(&self, alg: CipherAlg, data: &[u8], p: &SymParams) -> Result<SecretBytes>;
    /// Whether operations wait on a device (an HSM behind PKCS#11) rather than only use the
    /// CPU for microseconds: async callers then run them on a blocking thread.
    fn blocking(&self) -> bool {
        false
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    Rsa(usize),
    Ec(Curve),
    Oct(usize),
}

/// A place outside the process where keys are generated, imported and used (an HSM).
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// A short description for logs (`pkcs11 token 'kv-test'`); never a secret.
    fn describe(&self) -> String;
    /// Generates a key inside the provider. Returns the handle id to store, and the handle.
    fn generate(&self, spec: KeySpec) -> Result<(String, Arc<dyn KeyHandle>)>;
    /// Imports a validated private JWK into the provider (as a non-extractable key).
    fn import(&self, jwk: &JsonWebKey) -> Result<(String, Arc<dyn KeyHandle>)>;
    /// Finds a key by the handle id `generate`/`import` returned.
    fn open(&self, id: &str) -> Result<Arc<dyn KeyHandle>>;
    /// Destroys the key (purge). A key that is already gone is not an error.
    fn destroy(&self, id: &str) -> Result<()>;
}
