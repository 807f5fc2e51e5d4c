//! AES-256-GCM with caller-supplied associated data. The nonce is random (96 bits) per message,
//! so one key should seal well under 2^32 messages (the NIST SP 800-38D bound for random nonces).
//! Nothing counts how many messages a key has sealed, here or in the barrier: keeping under the
//! bound is up to whoever rotates the key (the barrier keyring adds a term with
//! `Barrier::rotate`; nothing calls it automatically).

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use strongbox_types::{Error, Result, SecretBytes};

pub const NONCE_BYTES: usize = NONCE_LEN;
pub const TAG_BYTES: usize = 16;

/// An AES-256-GCM key ready for use. Does not print or expose its bytes.
pub struct AeadKey(LessSafeKey);

impl std::fmt::Debug for AeadKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AeadKey([REDACTED])")
    }
}

impl AeadKey {
    /// A key from 32 bytes; any other length is an `Internal` error.
    pub fn new(key: &SecretBytes) -> Result<Self> {
        let k = UnboundKey::new(&AES_256_GCM, key.expose())
            .map_err(|_| Error::internal("AES-256-GCM key must be 32 bytes"))?;
        Ok(Self(LessSafeKey::new(k)))
    }

    /// Returns `nonce ‖ ciphertext ‖ tag`, appended to `out`.
    pub fn seal_into(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let nonce_bytes: [u8; NONCE_LEN] = crate::random_array()?;
        out.extend_from_slice(&nonce_bytes);
        let start = out.len();
        out.extend_from_slice(plaintext);
        let mut body = out.split_off(start);
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce_bytes), Aad::from(aad), &mut body)
            .map_err(|_| Error::internal("AES-GCM seal failed"))?;
        out.extend_from_slice(&body);
        Ok(())
    }

    /// Returns `nonce ‖ ciphertext ‖ tag` in a new buffer.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_BYTES);
        self.seal_into(aad, plaintext, &mut out)?;
        Ok(out)
    }

    /// Opens `nonce ‖ ciphertext ‖ tag`. Any tampering, wrong key or wrong AAD fails the same way.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<SecretBytes> {
        if sealed.len() < NONCE_LEN + TAG_BYTES {
            return Err(Error::internal("sealed value too short"));
        }
        let (n, ct) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(n).map_err(|_| Error::internal("bad nonce"))?;
        let mut buf = ct.to_vec();
        let len = self
            .0
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| Error::internal("authenticated decryption failed"))?
            .len();
        buf.truncate(len);
        Ok(SecretBytes::new(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_aad_binding() {
        let key = AeadKey::new(&crate::random_key().unwrap()).unwrap();
        let sealed = key.seal(b"path/a", b"hello").unwrap();
        assert_eq!(key.open(b"path/a", &sealed).unwrap().expose(), b"hello");
        assert!(key.open(b"path/b", &sealed).is_err());
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(key.open(b"path/a", &flipped).is_err());
        let other = AeadKey::new(&crate::random_key().unwrap()).unwrap();
        assert!(other.open(b"path/a", &sealed).is_err());
    }

    /// NIST GCM test vector (AES-256, 96-bit IV, empty AAD) checked through `open`.
    #[test]
    fn known_vector_decrypts() {
        // Test Case 16 of the GCM specification (McGrew & Viega), without AAD variant: case 15.
        let key = hexd("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
        let iv = hexd("cafebabefacedbaddecaf888");
        let pt = hexd(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
        );
        let ct = hexd(
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
        );
        let tag = hexd("b094dac5d93471bdec1a502270e3cc6c");
        let k = AeadKey::new(&SecretBytes::new(key)).unwrap();
        let mut sealed = iv;
        sealed.extend_from_slice(&ct);
        sealed.extend_from_slice(&tag);
        assert_eq!(k.open(b"", &sealed).unwrap().expose(), &pt[..]);
    }

    fn hexd(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
