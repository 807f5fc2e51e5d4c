//! Hashing of credentials for storage. Only the hash is stored.
//!
//! - Passwords people choose (users): Argon2id, a PHC string. Slow on purpose, because such a
//!   password can be guessed from its hash.
//! - Secrets the server generates itself (client secrets: 256 random bits): SHA-256, stored as
//!   `sha256:{hex}`. A 256-bit random value cannot be guessed from its hash whatever the hash
//!   costs, and a slow hash there would only make every token request cost tens of milliseconds
//!   of CPU (measured: client_credentials fell to under 100 tokens/s with Argon2id on 2 cores).
//!
//! Verification compares in constant time either way.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use strongbox_types::{Error, Result};

const SHA256_PREFIX: &str = "sha256:";

/// Argon2id PHC string of a password a person chose.
pub fn hash(secret: &str) -> Result<String> {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| Error::internal("password hashing failed"))
}

/// Hash of a high-entropy secret the server generated (never of a chosen password).
pub fn hash_generated(secret: &str) -> String {
    format!("{SHA256_PREFIX}{}", crate::hex(&crate::sha256(secret.as_bytes())))
}

/// Checks `secret` against a hash made by [`hash`] or [`hash_generated`].
pub fn verify(secret: &str, stored: &str) -> bool {
    if let Some(hex) = stored.strip_prefix(SHA256_PREFIX) {
        return crate::unhex(hex).is_some_and(|want| crate::jwt::ct_eq(&crate::sha256(secret.as_bytes()), &want));
    }
    match argon2::password_hash::phc::PasswordHash::new(stored) {
        Ok(h) => Argon2::default().verify_password(secret.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hash_and_verify() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong", &h));
        assert!(!super::verify("x", "not a phc string"));
    }

    #[test]
    fn generated_secrets_hash_with_sha256() {
        let h = super::hash_generated("sbx~random");
        assert!(h.starts_with("sha256:") && h.len() == 7 + 64);
        assert!(!h.contains("random"));
        assert!(super::verify("sbx~random", &h));
        assert!(!super::verify("sbx~randon", &h));
        assert!(!super::verify("sbx~random", "sha256:zz"));
        assert!(!super::verify("sbx~random", "sha256:"));
    }
}
