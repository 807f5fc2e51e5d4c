//! Cryptography for Strongbox, on one stack (aws-lc-rs): AES-256-GCM, random bytes, ES256 token
//! signing keys and compact JWS, Argon2id password hashing, and X.509 for the local CA.
//!
//! Private key material only ever lives in [`SecretBytes`] and in aws-lc-rs key objects, none of
//! which print their contents.

pub mod aead;
pub mod aes;
pub mod certs;
#[doc(hidden)]
pub mod fuzzing;
pub mod jws;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod pkcs12;
pub mod release;
pub mod shamir;
pub mod x509;

/// The key handle trait, software and HSM (kept at its old path `strongbox_crypto::handle`).
pub use keys::handle;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use strongbox_types::{Error, Result, SecretBytes};

/// The message of every failure to decrypt or unwrap a ciphertext, RSA or AES, software or HSM:
/// one uniform error, so a caller learns nothing of why it failed (see the `keys` module).
/// Also at `keys::UNDECRYPTABLE`.
pub const UNDECRYPTABLE: &str = "The ciphertext could not be decrypted.";

/// Fills `buf` from the operating system's CSPRNG.
pub fn fill_random(buf: &mut [u8]) -> Result<()> {
    SystemRandom::new().fill(buf).map_err(|_| Error::internal("system random number generator failed"))
}

pub fn random_array<const N: usize>() -> Result<[u8; N]> {
    let mut b = [0u8; N];
    fill_random(&mut b)?;
    Ok(b)
}

/// A fresh 256-bit key.
pub fn random_key() -> Result<SecretBytes> {
    let mut k = vec![0u8; 32];
    fill_random(&mut k)?;
    Ok(SecretBytes::new(k))
}

pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url, tolerating padding (some clients add it).
pub fn b64url_decode(s: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| Error::bad("The value is not valid base64url."))
}

/// Hex-encodes bytes (lower case).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes lower- or upper-case hex; `None` for odd lengths or non-hex characters.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect()
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}
