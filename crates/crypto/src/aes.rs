//! Symmetric (`oct`) key operations with Key Vault's algorithm names: AES-GCM (A128/192/256GCM),
//! AES-CBC without padding (A128/192/256CBC) and with PKCS#7 padding (A128/192/256CBCPAD), and
//! RFC 3394 AES key wrap (A128/192/256KW).
//!
//! Key wrap is built on the AES block function (aws-lc-rs ECB over single blocks) so that all
//! three KEK sizes share one implementation: aws-lc-rs' `key_wrap` module has no AES-192, and a
//! second AES implementation is not worth one key size. It is checked against the RFC 3394 test
//! vectors and, for 128/256-bit KEKs, against aws-lc-rs' own `key_wrap`.
//!
//! Wire rules (Azure Managed HSM): GCM uses a 12-byte IV that the service generates on encrypt
//! and a 16-byte tag; CBC takes a 16-byte IV from the caller (generated when absent); the key
//! size must match the algorithm (an A256* algorithm needs a 256-bit key). Every decryption or
//! unwrap failure is the same error ([`crate::UNDECRYPTABLE`]).

use std::fmt;

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::cipher::{
    self, DecryptingKey, DecryptionContext, EncryptingKey, EncryptionContext, PaddedBlockDecryptingKey,
    PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::iv::FixedLength;
use strongbox_types::{Error, ErrorKind, Result, SecretBytes};
use zeroize::Zeroizing;

use crate::UNDECRYPTABLE;

/// GCM IV length Key Vault uses (bytes).
pub const GCM_IV_LEN: usize = 12;
/// GCM tag length Key Vault uses (bytes).
pub const GCM_TAG_LEN: usize = 16;
/// AES block / CBC IV length (bytes).
pub const BLOCK_LEN: usize = 16;

/// The AES mode of an algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AesMode {
    Gcm,
    Cbc,
    CbcPad,
    Kw,
}

/// A symmetric algorithm: mode and key size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AesAlg {
    pub mode: AesMode,
    /// Key size in bits (128, 192 or 256).
    pub bits: usize,
}

impl AesAlg {
    pub const ALL: [AesAlg; 12] = [
        AesAlg { mode: AesMode::Gcm, bits: 128 },
        AesAlg { mode: AesMode::Gcm, bits: 192 },
        AesAlg { mode: AesMode::Gcm, bits: 256 },
        AesAlg { mode: AesMode::Cbc, bits: 128 },
        AesAlg { mode: AesMode::Cbc, bits: 192 },
        AesAlg { mode: AesMode::Cbc, bits: 256 },
        AesAlg { mode: AesMode::CbcPad, bits: 128 },
        AesAlg { mode: AesMode::CbcPad, bits: 192 },
        AesAlg { mode: AesMode::CbcPad, bits: 256 },
        AesAlg { mode: AesMode::Kw, bits: 128 },
        AesAlg { mode: AesMode::Kw, bits: 192 },
        AesAlg { mode: AesMode::Kw, bits: 256 },
    ];

    /// Parses Azure's name (`A256GCM`, `A128CBCPAD`, `A192KW`, …); `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match (self.mode, self.bits) {
            (AesMode::Gcm, 128) => "A128GCM",
            (AesMode::Gcm, 192) => "A192GCM",
            (AesMode::Gcm, _) => "A256GCM",
            (AesMode::Cbc, 128) => "A128CBC",
            (AesMode::Cbc, 192) => "A192CBC",
            (AesMode::Cbc, _) => "A256CBC",
            (AesMode::CbcPad, 128) => "A128CBCPAD",
            (AesMode::CbcPad, 192) => "A192CBCPAD",
            (AesMode::CbcPad, _) => "A256CBCPAD",
            (AesMode::Kw, 128) => "A128KW",
            (AesMode::Kw, 192) => "A192KW",
            (AesMode::Kw, _) => "A256KW",
        }
    }
}

impl fmt::Display for AesAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Optional inputs of a symmetric operation (decoded from the request's `iv`, `aad`, `tag`).
#[derive(Debug, Default, Clone, Copy)]
pub struct SymParams<'a> {
    pub iv: Option<&'a [u8]>,
    pub aad: Option<&'a [u8]>,
    pub tag: Option<&'a [u8]>,
}

/// The result of a symmetric encryption: ciphertext plus what the caller needs to decrypt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SymOutput {
    pub value: Vec<u8>,
    pub iv: Option<Vec<u8>>,
    pub tag: Option<Vec<u8>>,
}

fn undecryptable() -> Error {
    Error::bad(UNDECRYPTABLE)
}

/// Checks that the key fits the algorithm and that no member is given that the mode does not use.
fn check(alg: AesAlg, key: &[u8], p: &SymParams, decrypt: bool) -> Result<()> {
    if key.len() * 8 != alg.bits {
        return Err(Error::bad(format!(
            "The algorithm {alg} needs a {}-bit key, but this key has {} bits.",
            alg.bits,
            key.len() * 8
        )));
    }
    match alg.mode {
        AesMode::Gcm => {
            if !decrypt && p.iv.is_some() {
                return Err(Error::bad(format!(
                    "'iv' must not be given to encrypt with {alg}: the service generates the GCM nonce."
                )));
            }
            if !decrypt && p.tag.is_some() {
                return Err(Error::bad(format!("'tag' must not be given to encrypt with {alg}.")));
            }
        }
        AesMode::Cbc | AesMode::CbcPad | AesMode::Kw => {
            if p.aad.is_some() || p.tag.is_some() {
                return Err(Error::bad(format!("'aad' and 'tag' apply only to AES-GCM, not to {alg}.")));
            }
            if alg.mode == AesMode::Kw && p.iv.is_some() {
                return Err(Error::bad(format!("'iv' does not apply to {alg} (RFC 3394 uses a fixed IV).")));
            }
        }
    }
    Ok(())
}

fn cipher_alg(bits: usize) -> Result<&'static cipher::Algorithm> {
    match bits {
        128 => Ok(&cipher::AES_128),
        192 => Ok(&cipher::AES_192),
        256 => Ok(&cipher::AES_256),
        _ => Err(Error::internal("unexpected AES key size")),
    }
}

fn gcm_key(key: &[u8]) -> Result<LessSafeKey> {
    let alg = match key.len() {
        16 => &aead::AES_128_GCM,
        24 => &aead::AES_192_GCM,
        32 => &aead::AES_256_GCM,
        _ => return Err(Error::internal("unexpected AES key size")),
    };
    let k = UnboundKey::new(alg, key).map_err(|_| Error::internal("AES-GCM key setup failed"))?;
    Ok(LessSafeKey::new(k))
}

fn cbc_iv(alg: AesAlg, p: &SymParams) -> Result<[u8; BLOCK_LEN]> {
    match p.iv {
        Some(iv) => <[u8; BLOCK_LEN]>::try_from(iv).map_err(|_| {
            Error::bad(format!("The 'iv' for {alg} must be {BLOCK_LEN} bytes long, but {} bytes were given.", iv.len()))
        }),
        None => crate::random_array(),
    }
}

/// Encrypts (or, for KW, wraps) `data` under `key`.
pub fn encrypt(alg: AesAlg, key: &[u8], data: &[u8], p: &SymParams) -> Result<SymOutput> {
    check(alg, key, p, false)?;
    match alg.mode {
        AesMode::Gcm => {
            let k = gcm_key(key)?;
            let iv: [u8; GCM_IV_LEN] = crate::random_array()?;
            let mut out = data.to_vec();
            let tag = k
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(iv),
                    Aad::from(p.aad.unwrap_or_default()),
                    &mut out,
                )
                .map_err(|_| Error::internal("AES-GCM encryption failed"))?;
            Ok(SymOutput { value: out, iv: Some(iv.to_vec()), tag: Some(tag.as_ref().to_vec()) })
        }
        AesMode::Cbc => {
            if data.is_empty() || !data.len().is_multiple_of(BLOCK_LEN) {
                return Err(Error::bad(format!(
                    "The plaintext for {alg} must be a non-empty multiple of {BLOCK_LEN} bytes (use {}PAD to pad it); {} bytes were given.",
                    alg.as_str(),
                    data.len()
                )));
            }
            let iv = cbc_iv(alg, p)?;
            let k = EncryptingKey::cbc(unbound(alg, key)?).map_err(|_| Error::internal("AES-CBC key setup failed"))?;
            let mut out = data.to_vec();
            k.less_safe_encrypt(&mut out, EncryptionContext::Iv128(FixedLength::from(iv)))
                .map_err(|_| Error::internal("AES-CBC encryption failed"))?;
            Ok(SymOutput { value: out, iv: Some(iv.to_vec()), tag: None })
        }
        AesMode::CbcPad => {
            let iv = cbc_iv(alg, p)?;
            let k = PaddedBlockEncryptingKey::cbc_pkcs7(unbound(alg, key)?)
                .map_err(|_| Error::internal("AES-CBC key setup failed"))?;
            let mut out = data.to_vec();
            k.less_safe_encrypt(&mut out, EncryptionContext::Iv128(FixedLength::from(iv)))
                .map_err(|_| Error::internal("AES-CBC encryption failed"))?;
            Ok(SymOutput { value: out, iv: Some(iv.to_vec()), tag: None })
        }
        AesMode::Kw => Ok(SymOutput { value: kw_wrap(key, data)?, iv: None, tag: None }),
    }
}

/// Decrypts (or, for KW, unwraps) `data` under `key`. Any failure of the ciphertext itself
/// (tag mismatch, bad padding, integrity check) is the uniform [`UNDECRYPTABLE`] error; missing
/// or mis-sized `iv`/`tag` are named.
pub fn decrypt(alg: AesAlg, key: &[u8], data: &[u8], p: &SymParams) -> Result<SecretBytes> {
    check(alg, key, p, true)?;
    match alg.mode {
        AesMode::Gcm => {
            let iv = p.iv.ok_or_else(|| Error::bad(format!("The 'iv' member is required to decrypt with {alg}.")))?;
            let iv = <[u8; GCM_IV_LEN]>::try_from(iv).map_err(|_| {
                Error::bad(format!(
                    "The 'iv' for {alg} must be {GCM_IV_LEN} bytes long, but {} bytes were given.",
                    iv.len()
                ))
            })?;
            let tag =
                p.tag.ok_or_else(|| Error::bad(format!("The 'tag' member is required to decrypt with {alg}.")))?;
            if tag.len() != GCM_TAG_LEN {
                return Err(Error::bad(format!(
                    "The 'tag' for {alg} must be {GCM_TAG_LEN} bytes long, but {} bytes were given.",
                    tag.len()
                )));
            }
            let k = gcm_key(key)?;
            let mut buf = Zeroizing::new(data.to_vec());
            let len = k
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(iv),
                    Aad::from(p.aad.unwrap_or_default()),
                    tag,
                    &mut buf,
                )
                .map_err(|_| undecryptable())?
                .len();
            buf.truncate(len);
            Ok(SecretBytes::new(std::mem::take(&mut *buf)))
        }
        AesMode::Cbc | AesMode::CbcPad => {
            let iv = p.iv.ok_or_else(|| Error::bad(format!("The 'iv' member is required to decrypt with {alg}.")))?;
            let iv = <[u8; BLOCK_LEN]>::try_from(iv).map_err(|_| {
                Error::bad(format!(
                    "The 'iv' for {alg} must be {BLOCK_LEN} bytes long, but {} bytes were given.",
                    iv.len()
                ))
            })?;
            if data.is_empty() || !data.len().is_multiple_of(BLOCK_LEN) {
                return Err(undecryptable());
            }
            let mut buf = Zeroizing::new(data.to_vec());
            let ctx = DecryptionContext::Iv128(FixedLength::from(iv));
            let len = if alg.mode == AesMode::Cbc {
                let k =
                    DecryptingKey::cbc(unbound(alg, key)?).map_err(|_| Error::internal("AES-CBC key setup failed"))?;
                k.decrypt(&mut buf, ctx).map_err(|_| undecryptable())?.len()
            } else {
                let k = PaddedBlockDecryptingKey::cbc_pkcs7(unbound(alg, key)?)
                    .map_err(|_| Error::internal("AES-CBC key setup failed"))?;
                k.decrypt(&mut buf, ctx).map_err(|_| undecryptable())?.len()
            };
            buf.truncate(len);
            Ok(SecretBytes::new(std::mem::take(&mut *buf)))
        }
        AesMode::Kw => kw_unwrap(key, data),
    }
}

fn unbound(alg: AesAlg, key: &[u8]) -> Result<UnboundCipherKey> {
    UnboundCipherKey::new(cipher_alg(alg.bits)?, key).map_err(|_| Error::internal("AES key setup failed"))
}

/// RFC 3394 default initial value.
const KW_IV: [u8; 8] = [0xA6; 8];

/// One AES block operation (ECB over exactly one block).
struct Block {
    enc: EncryptingKey,
    dec: DecryptingKey,
}

impl Block {
    fn new(key: &[u8]) -> Result<Self> {
        let alg = cipher_alg(key.len() * 8)?;
        let setup = |_| Error::internal("AES key setup failed");
        let enc = EncryptingKey::ecb(UnboundCipherKey::new(alg, key).map_err(setup)?).map_err(setup)?;
        let dec = DecryptingKey::ecb(UnboundCipherKey::new(alg, key).map_err(setup)?).map_err(setup)?;
        Ok(Self { enc, dec })
    }

    /// Encrypts one block, held as its two 64-bit halves (RFC 3394's `MSB(64)` and `LSB(64)`).
    fn encrypt(&self, b: &mut [[u8; 8]; 2]) -> Result<()> {
        self.enc
            .less_safe_encrypt(b.as_flattened_mut(), EncryptionContext::None)
            .map(|_| ())
            .map_err(|_| Error::internal("AES block encryption failed"))
    }

    /// Decrypts one block, held as its two 64-bit halves.
    fn decrypt(&self, b: &mut [[u8; 8]; 2]) -> Result<()> {
        self.dec
            .decrypt(b.as_flattened_mut(), DecryptionContext::None)
            .map(|_| ())
            .map_err(|_| Error::internal("AES block decryption failed"))
    }
}

/// RFC 3394 §2.2.1 wrap. The key to wrap must be at least 16 bytes and a multiple of 8.
pub fn kw_wrap(kek: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
    if plaintext.len() < 16 || !plaintext.len().is_multiple_of(8) {
        return Err(Error::bad(format!(
            "The key to wrap with AES key wrap must be at least 16 bytes and a multiple of 8 bytes long; {} bytes were given.",
            plaintext.len()
        )));
    }
    let aes = Block::new(kek)?;
    let n = plaintext.len() / 8;
    let mut a = KW_IV;
    let mut r = Zeroizing::new(plaintext.to_vec());
    let mut b = Zeroizing::new([[0u8; 8]; 2]);
    for j in 0..6u64 {
        for (i, chunk) in r.chunks_exact_mut(8).enumerate() {
            let [hi, lo] = &mut *b;
            *hi = a;
            lo.copy_from_slice(chunk);
            aes.encrypt(&mut b)?;
            let t = (n as u64) * j + (i as u64) + 1;
            let [hi, lo] = &*b;
            a = *hi;
            for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                *x ^= y;
            }
            chunk.copy_from_slice(lo);
        }
    }
    let mut out = Vec::with_capacity(8 + r.len());
    out.extend_from_slice(&a);
    out.extend_from_slice(&r);
    Ok(out)
}

/// RFC 3394 §2.2.2 unwrap with the integrity check; any failure is [`UNDECRYPTABLE`].
pub fn kw_unwrap(kek: &[u8], ciphertext: &[u8]) -> Result<SecretBytes> {
    if ciphertext.len() < 24 || !ciphertext.len().is_multiple_of(8) {
        return Err(undecryptable());
    }
    let aes = Block::new(kek)?;
    let n = ciphertext.len() / 8 - 1;
    let Some((a0, rest)) = ciphertext.split_first_chunk::<8>() else {
        return Err(undecryptable());
    };
    let mut a = *a0;
    let mut r = Zeroizing::new(rest.to_vec());
    let mut b = Zeroizing::new([[0u8; 8]; 2]);
    for j in (0..6u64).rev() {
        for i in (0..n).rev() {
            let t = (n as u64) * j + (i as u64) + 1;
            for (x, y) in a.iter_mut().zip(t.to_be_bytes()) {
                *x ^= y;
            }
            let chunk = r.get_mut(i * 8..i * 8 + 8).ok_or_else(|| Error::internal("key unwrap index"))?;
            let [hi, lo] = &mut *b;
            *hi = a;
            lo.copy_from_slice(chunk);
            aes.decrypt(&mut b)?;
            let [hi, lo] = &*b;
            a = *hi;
            chunk.copy_from_slice(lo);
        }
    }
    // Compare without an early exit.
    let diff = a.iter().zip(KW_IV).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    if diff != 0 {
        return Err(undecryptable());
    }
    Ok(SecretBytes::new(std::mem::take(&mut *r)))
}

/// Maps an algorithm name to the error Key Vault gives for a known algorithm used with the wrong
/// kind of key.
pub fn not_for_asymmetric(alg: AesAlg, kty: &str) -> Error {
    Error::bad(format!("The algorithm {alg} is for symmetric (oct) keys and cannot be used with an {kty} key."))
}

/// Whether `e` is the uniform decryption failure.
pub fn is_undecryptable(e: &Error) -> bool {
    e.kind == ErrorKind::BadParameter && e.message == UNDECRYPTABLE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unhex;

    fn h(s: &str) -> Vec<u8> {
        unhex(&s.replace(' ', "")).unwrap()
    }

    fn alg(name: &str) -> AesAlg {
        AesAlg::parse(name).unwrap()
    }

    /// RFC 3394 §4.1–4.6: every KEK size with every key-data size it covers.
    #[test]
    fn rfc3394_vectors() {
        let kek = h("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F");
        let data = h("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F");
        let cases = [
            (16, 16, "1FA68B0A8112B447 AEF34BD8FB5A7B82 9D3E862371D2CFE5"),
            (24, 16, "96778B25AE6CA435 F92B5B97C050AED2 468AB8A17AD84E5D"),
            (32, 16, "64E8C3F9CE0F5BA2 63E9777905818A2A 93C8191E7D6E8AE7"),
            (24, 24, "031D33264E15D332 68F24EC260743EDC E1C6C7DDEE725A93 6BA814915C6762D2"),
            (32, 24, "A8F9BC1612C68B3F F6E6F4FBE30E71E4 769C8B80A32CB895 8CD5D17D6B254DA1"),
            (32, 32, "28C9F404C4B810F4 CBCCB35CFB87F826 3F5786E2D80ED326 CBC7F0E71A99F43B FB988B9B7A02DD21"),
        ];
        for (kek_len, data_len, expected) in cases {
            let wrapped = kw_wrap(&kek[..kek_len], &data[..data_len]).unwrap();
            assert_eq!(wrapped, h(expected), "KEK {kek_len} data {data_len}");
            let back = kw_unwrap(&kek[..kek_len], &wrapped).unwrap();
            assert_eq!(back.expose(), &data[..data_len]);
            // tampering anywhere fails the integrity check with the uniform error
            for i in [0, 7, 8, wrapped.len() - 1] {
                let mut t = wrapped.clone();
                t[i] ^= 1;
                assert!(is_undecryptable(&kw_unwrap(&kek[..kek_len], &t).unwrap_err()));
            }
        }
    }

    #[test]
    fn kw_matches_aws_lc_for_128_and_256() {
        use aws_lc_rs::key_wrap::{AES_128, AES_256, AesKek, KeyWrap};
        for (bits, block) in [(128, &AES_128), (256, &AES_256)] {
            let kek: Vec<u8> = (0..bits / 8).map(|i| i as u8 * 7).collect();
            let data: Vec<u8> = (0..40).map(|i| i as u8 ^ 0x5c).collect();
            let reference = AesKek::new(block, &kek).unwrap();
            let mut out = vec![0u8; data.len() + 8];
            let expected = reference.wrap(&data, &mut out).unwrap();
            assert_eq!(kw_wrap(&kek, &data).unwrap(), expected);
        }
    }

    #[test]
    fn kw_size_rules() {
        let kek = [1u8; 32];
        for n in [0, 8, 15, 17, 23] {
            assert_eq!(kw_wrap(&kek, &vec![0; n]).unwrap_err().kind, ErrorKind::BadParameter);
        }
        for n in [0, 8, 16, 25] {
            assert!(is_undecryptable(&kw_unwrap(&kek, &vec![0; n]).unwrap_err()));
        }
        let k16 = [2u8; 16];
        let e = encrypt(alg("A256KW"), &k16, &[0; 16], &SymParams::default()).unwrap_err();
        assert!(e.message.contains("needs a 256-bit key"), "{e}");
        let e = encrypt(alg("A128KW"), &k16, &[0; 16], &SymParams { iv: Some(&[0; 16]), ..Default::default() })
            .unwrap_err();
        assert!(e.message.contains("'iv' does not apply"));
    }

    /// NIST GCM test vectors (McGrew & Viega, test cases 4, 10 and 16: with AAD, 96-bit IV).
    #[test]
    fn gcm_known_answers_decrypt() {
        let pt = h(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
        );
        let aad = h("feedfacedeadbeeffeedfacedeadbeefabaddad2");
        let iv = h("cafebabefacedbaddecaf888");
        let cases = [
            (
                "feffe9928665731c6d6a8f9467308308",
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
                "5bc94fbc3221a5db94fae95ae7121a47",
            ),
            (
                "feffe9928665731c6d6a8f9467308308feffe9928665731c",
                "3980ca0b3c00e841eb06fac4872a2757859e1ceaa6efd984628593b40ca1e19c7d773d00c144c525ac619d18c84a3f4718e2448b2fe324d9ccda2710",
                "2519498e80f1478f37ba55bd6d27618c",
            ),
            (
                "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
                "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                "76fc6ece0f4e1768cddf8853bb2d551b",
            ),
        ];
        for (key, ct, tag) in cases {
            let key = h(key);
            let name = format!("A{}GCM", key.len() * 8);
            let (ct, tag) = (h(ct), h(tag));
            let p = SymParams { iv: Some(&iv), aad: Some(&aad), tag: Some(&tag) };
            assert_eq!(decrypt(alg(&name), &key, &ct, &p).unwrap().expose(), &pt[..], "{name}");
            // wrong aad, tag or ciphertext: uniform failure
            let p2 = SymParams { aad: Some(b"other"), ..p };
            assert!(is_undecryptable(&decrypt(alg(&name), &key, &ct, &p2).unwrap_err()));
            let mut t = tag.clone();
            t[0] ^= 1;
            let p3 = SymParams { tag: Some(&t), ..p };
            assert!(is_undecryptable(&decrypt(alg(&name), &key, &ct, &p3).unwrap_err()));
            // round trip through our own encrypt (random IV)
            let out = encrypt(alg(&name), &key, &pt, &SymParams { aad: Some(&aad), ..Default::default() }).unwrap();
            assert_eq!(out.iv.as_ref().unwrap().len(), GCM_IV_LEN);
            assert_eq!(out.tag.as_ref().unwrap().len(), GCM_TAG_LEN);
            let p4 = SymParams { iv: out.iv.as_deref(), aad: Some(&aad), tag: out.tag.as_deref() };
            assert_eq!(decrypt(alg(&name), &key, &out.value, &p4).unwrap().expose(), &pt[..]);
        }
    }

    #[test]
    fn gcm_parameter_rules() {
        let key = [3u8; 32];
        let a = alg("A256GCM");
        let e = encrypt(a, &key, b"x", &SymParams { iv: Some(&[0; 12]), ..Default::default() }).unwrap_err();
        assert!(e.message.contains("generates the GCM nonce"));
        let out = encrypt(a, &key, b"x", &SymParams::default()).unwrap();
        let tag = out.tag.clone().unwrap();
        let iv = out.iv.clone().unwrap();
        let e = decrypt(a, &key, &out.value, &SymParams { tag: Some(&tag), ..Default::default() }).unwrap_err();
        assert!(e.message.contains("'iv' member is required"));
        let e = decrypt(a, &key, &out.value, &SymParams { iv: Some(&iv), ..Default::default() }).unwrap_err();
        assert!(e.message.contains("'tag' member is required"));
        let e = decrypt(a, &key, &out.value, &SymParams { iv: Some(&iv[..8]), tag: Some(&tag), ..Default::default() })
            .unwrap_err();
        assert!(e.message.contains("must be 12 bytes"));
        let e = decrypt(a, &key, &out.value, &SymParams { iv: Some(&iv), tag: Some(&tag[..12]), ..Default::default() })
            .unwrap_err();
        assert!(e.message.contains("must be 16 bytes"));
        let e = encrypt(alg("A128GCM"), &key, b"x", &SymParams::default()).unwrap_err();
        assert!(e.message.contains("needs a 128-bit key"));
    }

    /// NIST SP 800-38A F.2.1 / F.2.3 / F.2.5 (CBC-AES128/192/256, first two blocks).
    #[test]
    fn cbc_known_answers() {
        let iv = h("000102030405060708090a0b0c0d0e0f");
        let pt = h("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let cases = [
            ("2b7e151628aed2a6abf7158809cf4f3c", "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"),
            (
                "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
                "4f021db243bc633d7178183a9fa071e8b4d9ada9ad7dedf4e5e738763f69145a",
            ),
            (
                "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
                "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d",
            ),
        ];
        for (key, ct) in cases {
            let key = h(key);
            let name = format!("A{}CBC", key.len() * 8);
            let p = SymParams { iv: Some(&iv), ..Default::default() };
            let out = encrypt(alg(&name), &key, &pt, &p).unwrap();
            assert_eq!(out.value, h(ct), "{name}");
            assert_eq!(out.iv.as_deref(), Some(&iv[..]));
            assert_eq!(decrypt(alg(&name), &key, &out.value, &p).unwrap().expose(), &pt[..]);
            // CBCPAD: the same blocks followed by one full padding block
            let padded = encrypt(alg(&format!("{name}PAD")), &key, &pt, &p).unwrap();
            assert_eq!(&padded.value[..32], &h(ct)[..]);
            assert_eq!(padded.value.len(), 48);
            assert_eq!(decrypt(alg(&format!("{name}PAD")), &key, &padded.value, &p).unwrap().expose(), &pt[..]);
        }
    }

    #[test]
    fn cbc_parameter_rules() {
        let key = [4u8; 16];
        let a = alg("A128CBC");
        assert!(encrypt(a, &key, &[0; 15], &SymParams::default()).unwrap_err().message.contains("multiple of 16"));
        let e = encrypt(a, &key, &[0; 16], &SymParams { iv: Some(&[0; 12]), ..Default::default() }).unwrap_err();
        assert!(e.message.contains("must be 16 bytes"));
        let e = encrypt(a, &key, &[0; 16], &SymParams { aad: Some(b"x"), ..Default::default() }).unwrap_err();
        assert!(e.message.contains("apply only to AES-GCM"));
        // no iv: one is generated and returned
        let out = encrypt(alg("A128CBCPAD"), &key, b"hello", &SymParams::default()).unwrap();
        assert_eq!(out.value.len(), 16);
        let iv = out.iv.unwrap();
        let p = SymParams { iv: Some(&iv), ..Default::default() };
        assert_eq!(decrypt(alg("A128CBCPAD"), &key, &out.value, &p).unwrap().expose(), b"hello");
        assert!(decrypt(a, &key, &out.value, &SymParams::default()).unwrap_err().message.contains("'iv' member"));
        assert!(is_undecryptable(&decrypt(a, &key, &[0; 17], &p).unwrap_err()));
    }

    #[test]
    fn names() {
        for a in AesAlg::ALL {
            assert_eq!(AesAlg::parse(a.as_str()), Some(a));
        }
        assert_eq!(AesAlg::parse("A512GCM"), None);
        assert_eq!(AesAlg::parse("a256gcm"), None);
    }
}
