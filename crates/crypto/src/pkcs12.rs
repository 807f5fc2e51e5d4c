//! PKCS#12 (PFX) files: read one key with its certificates (import), write one (the secret
//! behind a certificate). Written files use PBES2 with AES-256-CBC and an HMAC-SHA256 MAC;
//! reading also accepts the legacy 3DES/RC2 bags older tools write.

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, Pkcs12Archive, PrivateKey, PrivateKeyChain};
use strongbox_types::{Error, Result, SecretBytes};
use zeroize::Zeroizing;

use crate::certs::MAX_CHAIN;

/// What a PFX held: at most one private key (PKCS#8 DER) and its certificates (DER), in file
/// order.
pub struct PfxContents {
    pub key: Option<SecretBytes>,
    pub certs: Vec<Vec<u8>>,
}

impl std::fmt::Debug for PfxContents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PfxContents")
            .field("key", &self.key.as_ref().map(|_| "[REDACTED]"))
            .field("certs", &self.certs.len())
            .finish()
    }
}

/// Parses a PFX with `password` (empty for none). A wrong password, a bad MAC and a corrupt
/// file are all `BadParameter`; the message never says which, nor echoes anything.
///
/// The work is bounded first ([`prescan`]): the size, the key-derivation parameters, one private
/// key and at most [`MAX_CHAIN`] certificates.
pub fn read_pfx(data: &[u8], password: &str) -> Result<PfxContents> {
    prescan(data, password, MAX_CHAIN)?;
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(|_| unreadable())?;
    if archive.keys.len() > 1 {
        return Err(Error::bad("The PKCS#12 (PFX) content holds more than one private key."));
    }
    if archive.certs.len() > MAX_CHAIN {
        return Err(Error::bad(format!("The PKCS#12 (PFX) content holds more than {MAX_CHAIN} certificates.")));
    }
    let key = archive.keys.first().map(|k| SecretBytes::new(k.key.as_der().to_vec()));
    let certs = archive.certs.iter().map(|c| c.cert.as_der().to_vec()).collect();
    Ok(PfxContents { key, certs })
}

/// Writes a PFX holding `key` (PKCS#8 DER, optional) and `chain` (leaf first), protected by
/// `password` (empty for the password-less files Key Vault hands out).
pub fn write_pfx(key: Option<&SecretBytes>, chain: &[Vec<u8>], password: &str) -> Result<Vec<u8>> {
    let err = |_| Error::internal("PKCS#12 encoding failed");
    let certs = chain.iter().map(|c| Certificate::from_der(c).map_err(err)).collect::<Result<Vec<_>>>()?;
    let mut ks = KeyStore::new();
    match key {
        Some(k) => {
            let pk = PrivateKey::from_der(k.expose()).map_err(err)?;
            let leaf = chain.first().ok_or_else(|| Error::internal("a PFX needs a certificate"))?;
            let id = crate::certs::sha1(leaf);
            ks.add_entry("1", KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(id, pk, certs)));
        }
        None => {
            for (i, c) in certs.into_iter().enumerate() {
                ks.add_entry(&format!("{}", i + 1), KeyStoreEntry::Certificate(c));
            }
        }
    }
    ks.writer(password).write().map_err(err)
}

/// Largest PFX accepted (a key and a chain of [`crate::certs::MAX_CHAIN`] certificates fit).
pub const MAX_PFX_BYTES: usize = 256 * 1024;
/// Most iterations one password-based key derivation (MAC or encryption) may ask for.
pub const MAX_KDF_ITERATIONS: u64 = 600_000;
/// Most iterations all the key derivations of one file may ask for together.
pub const MAX_TOTAL_KDF_ITERATIONS: u64 = 1_000_000;
/// Most scrypt work (N · r · p) one file may ask for; 128 · N · r bytes of memory each time.
pub const MAX_SCRYPT_WORK: u64 = 1 << 18;
/// Most memory (128 · N · r bytes) one scrypt derivation may ask for.
pub const MAX_SCRYPT_MEMORY: u64 = 32 << 20;
/// Most content containers (ContentInfo) in the authenticated safe.
const MAX_CONTAINERS: usize = 8;

const OID_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01];
const OID_ENCRYPTED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x06];
const OID_PBES2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d];
const OID_PBKDF2: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0c];
const OID_SCRYPT: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x04, 0x0b];
/// `pkcs-12PbeIds` (1.2.840.113549.1.12.1.N): the legacy RC4/3DES/RC2 schemes.
const OID_PKCS12_PBE_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x01];
/// `bagtypes` (1.2.840.113549.1.12.10.1.N).
const OID_BAG_PREFIX: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x0c, 0x0a, 0x01];
const BAG_KEY: u8 = 1;
const BAG_SHROUDED_KEY: u8 = 2;
const BAG_CERT: u8 = 3;
const BAG_SECRET: u8 = 5;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const EXPLICIT_0: u8 = 0xa0;

/// One DER element: its tag and contents.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads DER elements one after the other (definite lengths, low tag numbers: what
/// p12-keystore accepts too).
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn next(&mut self) -> Option<Tlv<'a>> {
        let (&tag, rest) = self.0.split_first()?;
        if tag & 0x1f == 0x1f {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let (bytes, rest) = rest.split_at(n);
            (bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)), rest)
        };
        if rest.len() < len {
            return None;
        }
        let (body, rest) = rest.split_at(len);
        self.0 = rest;
        Some(Tlv { tag, body })
    }

    /// The next element, which must carry `tag`.
    fn expect(&mut self, tag: u8) -> Result<&'a [u8]> {
        match self.next() {
            Some(t) if t.tag == tag => Ok(t.body),
            _ => Err(corrupt()),
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A wrong password, a bad MAC or a corrupt encrypted part: the message never says which.
fn unreadable() -> Error {
    Error::bad(
        "The PKCS#12 (PFX) content could not be read: it is corrupt, or the password is wrong, or it uses an unsupported encryption.",
    )
}

fn corrupt() -> Error {
    Error::bad("The PKCS#12 (PFX) content is not a well-formed PFX file.")
}

/// A non-negative INTEGER's value; `u64::MAX` for anything larger (it is refused as too large).
fn uint(body: &[u8]) -> Result<u64> {
    match body {
        [] => Err(corrupt()),
        [b, ..] if b & 0x80 != 0 => Err(corrupt()),
        _ => {
            let digits = body.iter().skip_while(|b| **b == 0).count();
            if digits > 8 {
                return Ok(u64::MAX);
            }
            Ok(body.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
        }
    }
}

/// The key-derivation work a PFX asks for, added up as it is found.
#[derive(Default)]
struct Budget {
    iterations: u64,
    scrypt: u64,
}

impl Budget {
    fn iterations(&mut self, n: u64) -> Result<()> {
        if n > MAX_KDF_ITERATIONS {
            return Err(Error::bad(format!(
                "The PKCS#12 (PFX) content asks for {n} key-derivation iterations; at most {MAX_KDF_ITERATIONS} are accepted."
            )));
        }
        self.iterations = self.iterations.saturating_add(n);
        if self.iterations > MAX_TOTAL_KDF_ITERATIONS {
            return Err(Error::bad(format!(
                "The PKCS#12 (PFX) content asks for more than {MAX_TOTAL_KDF_ITERATIONS} key-derivation iterations in all."
            )));
        }
        Ok(())
    }

    fn scrypt(&mut self, n: u64, r: u64, p: u64) -> Result<()> {
        let memory = n.saturating_mul(r).saturating_mul(128);
        let work = n.saturating_mul(r).saturating_mul(p);
        self.scrypt = self.scrypt.saturating_add(work);
        if n < 2 || r == 0 || p == 0 || memory > MAX_SCRYPT_MEMORY || self.scrypt > MAX_SCRYPT_WORK {
            return Err(Error::bad(format!(
                "The PKCS#12 (PFX) content asks for scrypt parameters beyond the accepted limits (128·N·r at most {MAX_SCRYPT_MEMORY} bytes, N·r·p at most {MAX_SCRYPT_WORK} in all)."
            )));
        }
        Ok(())
    }

    /// Checks a password-based encryption AlgorithmIdentifier (its contents). Unknown schemes
    /// pass: the parser refuses them without deriving anything.
    fn algorithm(&mut self, alg: &[u8]) -> Result<()> {
        let mut d = Der(alg);
        let oid = d.expect(OID)?;
        if oid == OID_PBES2 {
            let mut params = Der(d.expect(SEQUENCE)?);
            let mut kdf = Der(params.expect(SEQUENCE)?);
            let kdf_oid = kdf.expect(OID)?;
            let mut p = Der(kdf.expect(SEQUENCE)?);
            if kdf_oid == OID_PBKDF2 {
                // salt (OCTET STRING, or an AlgorithmIdentifier), iterationCount, ...
                p.next().ok_or_else(corrupt)?;
                self.iterations(uint(p.expect(INTEGER)?)?)?;
            } else if kdf_oid == OID_SCRYPT {
                p.expect(OCTET_STRING)?;
                let n = uint(p.expect(INTEGER)?)?;
                let r = uint(p.expect(INTEGER)?)?;
                let par = uint(p.expect(INTEGER)?)?;
                self.scrypt(n, r, par)?;
            }
        } else if oid.starts_with(OID_PKCS12_PBE_PREFIX) && oid.len() == OID_PKCS12_PBE_PREFIX.len() + 1 {
            let mut p = Der(d.expect(SEQUENCE)?);
            p.expect(OCTET_STRING)?;
            self.iterations(uint(p.expect(INTEGER)?)?)?;
        }
        Ok(())
    }
}

/// What the structure of a PFX shows (encrypted containers included, once decrypted).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PfxShape {
    /// Private key bags (plain or encrypted).
    pub keys: usize,
    /// Certificate bags.
    pub certs: usize,
    /// Encrypted containers (decrypted and scanned like the others).
    pub encrypted_containers: usize,
}

/// Checks, before the parser runs, that the work a PFX asks for is bounded: its size, the
/// MAC's and every encryption's key-derivation iterations and scrypt parameters (summed over
/// the file), at most one private key, no secret bag and at most `max_certs` certificates.
/// Encrypted containers are decrypted here with `password` once their own key derivation has
/// passed the budget, and their bags are counted the same way. Refusals are `BadParameter`
/// naming the limit (or the unsupported scheme); a wrong password gets the parser's message.
pub fn prescan(data: &[u8], password: &str, max_certs: usize) -> Result<PfxShape> {
    if data.len() > MAX_PFX_BYTES {
        return Err(Error::bad(format!("The PKCS#12 (PFX) content is larger than {MAX_PFX_BYTES} bytes.")));
    }
    let mut budget = Budget::default();
    let mut shape = PfxShape::default();
    let mut outer = Der(data);
    let mut pfx = Der(outer.expect(SEQUENCE)?);
    if !outer.is_empty() {
        return Err(corrupt());
    }
    pfx.expect(INTEGER)?;
    let mut auth_safe = Der(pfx.expect(SEQUENCE)?);
    if auth_safe.expect(OID)? != OID_DATA {
        return Err(Error::bad("The PKCS#12 (PFX) content uses public-key integrity, which is not supported."));
    }
    let safes = Der(Der(auth_safe.expect(EXPLICIT_0)?).expect(OCTET_STRING)?).expect(SEQUENCE)?;
    if let Some(mac) = pfx.next() {
        if mac.tag != SEQUENCE {
            return Err(corrupt());
        }
        let mut m = Der(mac.body);
        m.expect(SEQUENCE)?; // DigestInfo
        m.expect(OCTET_STRING)?; // salt
        // iterations DEFAULT 1
        if let Some(it) = m.next() {
            if it.tag != INTEGER {
                return Err(corrupt());
            }
            budget.iterations(uint(it.body)?)?;
        }
    }
    let mut safes = Der(safes);
    let mut containers = 0;
    while let Some(ci) = safes.next() {
        containers += 1;
        if ci.tag != SEQUENCE || containers > MAX_CONTAINERS {
            return Err(if ci.tag == SEQUENCE {
                Error::bad(format!("The PKCS#12 (PFX) content has more than {MAX_CONTAINERS} content containers."))
            } else {
                corrupt()
            });
        }
        let mut ci = Der(ci.body);
        let kind = ci.expect(OID)?;
        let content = Der(ci.expect(EXPLICIT_0)?);
        if kind == OID_DATA {
            let mut content = content;
            let bags = Der(content.expect(OCTET_STRING)?).expect(SEQUENCE)?;
            scan_bags(bags, &mut budget, &mut shape)?;
        } else if kind == OID_ENCRYPTED_DATA {
            let mut content = content;
            let mut ed = Der(content.expect(SEQUENCE)?);
            ed.expect(INTEGER)?;
            let mut eci = Der(ed.expect(SEQUENCE)?);
            eci.expect(OID)?;
            let alg = eci.expect(SEQUENCE)?;
            budget.algorithm(alg)?;
            shape.encrypted_containers += 1;
            // encryptedContent [0] IMPLICIT OCTET STRING OPTIONAL
            match eci.next() {
                None => {}
                Some(t) if t.tag == 0x80 => {
                    let plain = decrypt_container(alg, t.body, password)?;
                    let bags = Der(&plain).expect(SEQUENCE).map_err(|_| unreadable())?;
                    scan_bags(bags, &mut budget, &mut shape)?;
                }
                Some(_) => return Err(corrupt()),
            }
        }
        // Other container kinds (enveloped data) are refused by the parser unopened.
    }
    if shape.keys > 1 {
        return Err(Error::bad("The PKCS#12 (PFX) content holds more than one private key."));
    }
    if shape.certs > max_certs {
        return Err(Error::bad(format!("The PKCS#12 (PFX) content holds more than {max_certs} certificates.")));
    }
    Ok(shape)
}

/// SafeContents: counts key and certificate bags and checks the encrypted keys' parameters.
fn scan_bags(bags: &[u8], budget: &mut Budget, shape: &mut PfxShape) -> Result<()> {
    let mut bags = Der(bags);
    while let Some(bag) = bags.next() {
        if bag.tag != SEQUENCE {
            return Err(corrupt());
        }
        let mut b = Der(bag.body);
        let id = b.expect(OID)?;
        let value = b.expect(EXPLICIT_0)?;
        let kind = match id.strip_prefix(OID_BAG_PREFIX) {
            Some([k]) => *k,
            _ => continue,
        };
        match kind {
            BAG_KEY | BAG_SHROUDED_KEY => {
                shape.keys += 1;
                // Counted before anything is decrypted: a second key is refused unopened.
                if shape.keys > 1 {
                    return Err(Error::bad("The PKCS#12 (PFX) content holds more than one private key."));
                }
                if kind == BAG_SHROUDED_KEY {
                    let mut epki = Der(Der(value).expect(SEQUENCE)?);
                    budget.algorithm(epki.expect(SEQUENCE)?)?;
                }
            }
            BAG_CERT => shape.certs += 1,
            BAG_SECRET => {
                // The parser tries to decrypt secret bags too; certificates never carry one.
                return Err(Error::bad(
                    "The PKCS#12 (PFX) content holds a secret bag, which a certificate cannot use.",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

const OID_HMAC_SHA1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x07];
const OID_HMAC_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x09];
const OID_HMAC_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0a];
const OID_HMAC_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x0b];
const OID_AES128_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x02];
const OID_AES192_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x16];
const OID_AES256_CBC: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01, 0x2a];
/// `pbeWithSHAAnd3-KeyTripleDES-CBC` and `pbeWithSHAAnd40BitRC2-CBC` (the last byte of the
/// `pkcs-12PbeIds` OID).
const PBE_SHA_3DES: u8 = 3;
const PBE_SHA_RC2_40: u8 = 6;

/// The dotted form of an OID's contents, to name an unsupported scheme.
fn oid_text(oid: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for b in oid {
        acc = acc.saturating_mul(128).saturating_add(u64::from(b & 0x7f));
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = acc.min(80) / 40;
                arcs.push(first);
                arcs.push(acc - first * 40);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        }
    }
    arcs.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

fn unsupported(scheme: &str) -> Error {
    Error::bad(format!(
        "The PKCS#12 (PFX) content has a container encrypted with {scheme}, which is not supported (supported: PBES2 with PBKDF2 and AES-CBC, pbeWithSHAAnd3-KeyTripleDES-CBC, pbeWithSHAAnd40BitRC2-CBC)."
    ))
}

/// Decrypts an EncryptedData container's content with `password`, as p12-keystore does:
/// PBES2 takes the password's UTF-8 bytes, the PKCS#12 schemes its BMP string. Its key
/// derivation must already have passed the [`Budget`].
fn decrypt_container(alg: &[u8], data: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut d = Der(alg);
    let oid = d.expect(OID)?;
    if oid == OID_PBES2 {
        return decrypt_pbes2(d.expect(SEQUENCE)?, data, password);
    }
    match oid.strip_prefix(OID_PKCS12_PBE_PREFIX) {
        Some([id @ (PBE_SHA_3DES | PBE_SHA_RC2_40)]) => {
            let mut p = Der(d.expect(SEQUENCE)?);
            let salt = p.expect(OCTET_STRING)?;
            let rounds = uint(p.expect(INTEGER)?)?;
            let pass = bmp_password(password)?;
            let key_len = if *id == PBE_SHA_3DES { 24 } else { 5 };
            let key = Zeroizing::new(pkcs12_kdf(&pass, salt, 1, rounds, key_len));
            let iv = pkcs12_kdf(&pass, salt, 2, rounds, 8);
            let plain = if *id == PBE_SHA_3DES {
                let c =
                    <des::TdesEde3 as des::cipher::KeyInit>::new_from_slice(key.as_slice()).map_err(|_| corrupt())?;
                cbc_decrypt(&c, &iv, data)?
            } else {
                let c = <rc2::Rc2 as rc2::cipher::KeyInit>::new_from_slice(key.as_slice()).map_err(|_| corrupt())?;
                cbc_decrypt(&c, &iv, data)?
            };
            Ok(plain)
        }
        Some([5]) => Err(unsupported("pbeWithSHAAnd128BitRC2-CBC")),
        Some([4]) => Err(unsupported("pbeWithSHAAnd2-KeyTripleDES-CBC")),
        Some([1 | 2]) => Err(unsupported("RC4")),
        _ => Err(unsupported(&format!("the scheme {}", oid_text(oid)))),
    }
}

/// PBES2-params: PBKDF2 (HMAC-SHA1/256/384/512) and AES-128/192/256-CBC.
fn decrypt_pbes2(params: &[u8], data: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>> {
    use aws_lc_rs::cipher::{AES_128, AES_192, AES_256, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
    use aws_lc_rs::pbkdf2;
    let mut params = Der(params);
    let mut kdf = Der(params.expect(SEQUENCE)?);
    let kdf_oid = kdf.expect(OID)?;
    if kdf_oid == OID_SCRYPT {
        return Err(unsupported("PBES2 with scrypt"));
    }
    if kdf_oid != OID_PBKDF2 {
        return Err(unsupported(&format!("PBES2 with the key derivation {}", oid_text(kdf_oid))));
    }
    let mut p = Der(kdf.expect(SEQUENCE)?);
    let salt = match p.next() {
        Some(t) if t.tag == OCTET_STRING => t.body,
        Some(t) if t.tag == SEQUENCE => return Err(unsupported("PBES2 with a PBKDF2 salt from another source")),
        _ => return Err(corrupt()),
    };
    let iterations =
        u32::try_from(uint(p.expect(INTEGER)?)?).ok().and_then(std::num::NonZeroU32::new).ok_or_else(corrupt)?;
    let mut key_length = None;
    let mut prf = pbkdf2::PBKDF2_HMAC_SHA1;
    while let Some(t) = p.next() {
        match t.tag {
            INTEGER if key_length.is_none() => key_length = Some(uint(t.body)?),
            SEQUENCE => {
                let prf_oid = Der(t.body).expect(OID)?;
                prf = match prf_oid {
                    OID_HMAC_SHA1 => pbkdf2::PBKDF2_HMAC_SHA1,
                    OID_HMAC_SHA256 => pbkdf2::PBKDF2_HMAC_SHA256,
                    OID_HMAC_SHA384 => pbkdf2::PBKDF2_HMAC_SHA384,
                    OID_HMAC_SHA512 => pbkdf2::PBKDF2_HMAC_SHA512,
                    other => return Err(unsupported(&format!("PBES2 with the PBKDF2 PRF {}", oid_text(other)))),
                };
            }
            _ => return Err(corrupt()),
        }
    }
    let mut enc = Der(params.expect(SEQUENCE)?);
    let enc_oid = enc.expect(OID)?;
    let (cipher, key_len) = match enc_oid {
        OID_AES128_CBC => (&AES_128, 16),
        OID_AES192_CBC => (&AES_192, 24),
        OID_AES256_CBC => (&AES_256, 32),
        other => return Err(unsupported(&format!("PBES2 with the cipher {}", oid_text(other)))),
    };
    let iv: [u8; 16] = enc.expect(OCTET_STRING)?.try_into().map_err(|_| corrupt())?;
    if key_length.is_some_and(|n| n != key_len as u64) {
        return Err(corrupt());
    }
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    pbkdf2::derive(prf, iterations, salt, password.as_bytes(), key.as_mut_slice());
    let key = UnboundCipherKey::new(cipher, key.as_slice()).map_err(|_| corrupt())?;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(key).map_err(|_| corrupt())?;
    let mut buf = Zeroizing::new(data.to_vec());
    let n = key.decrypt(buf.as_mut_slice(), DecryptionContext::Iv128(iv.into())).map_err(|_| unreadable())?.len();
    buf.truncate(n);
    Ok(buf)
}

/// The password as p12-keystore hands it to the PKCS#12 KDF: its BMP string (UTF-16BE, no
/// surrogates) and two zero bytes.
fn bmp_password(password: &str) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Vec::with_capacity(password.len() * 2 + 2);
    for c in password.chars() {
        let u = u16::try_from(u32::from(c)).map_err(|_| unreadable())?;
        out.extend_from_slice(&u.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    Ok(Zeroizing::new(out))
}

/// The PKCS#12 key derivation (RFC 7292 appendix B.2) with SHA-1: `id` 1 for a key, 2 for an
/// IV. `rounds` has passed the [`Budget`]; 0 counts as 1.
fn pkcs12_kdf(pass: &[u8], salt: &[u8], id: u8, rounds: u64, len: usize) -> Vec<u8> {
    use aws_lc_rs::digest::{Context, SHA1_FOR_LEGACY_USE_ONLY};
    const V: usize = 64; // SHA-1 block
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            return Vec::new();
        }
        let n = V * src.len().div_ceil(V);
        src.iter().copied().cycle().take(n).collect()
    };
    let d = [id; V];
    let mut i = fill(salt);
    i.extend_from_slice(&fill(pass));
    let mut i = Zeroizing::new(i);
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
        ctx.update(&d);
        ctx.update(i.as_slice());
        let mut a = ctx.finish();
        for _ in 1..rounds {
            let mut ctx = Context::new(&SHA1_FOR_LEGACY_USE_ONLY);
            ctx.update(a.as_ref());
            a = ctx.finish();
        }
        let a = a.as_ref();
        let want = len - out.len();
        out.extend(a.iter().copied().take(want));
        if out.len() >= len {
            break;
        }
        // B = A repeated to V bytes; each V-byte block of I becomes (I_j + B + 1) mod 2^(8V).
        let b: Vec<u8> = a.iter().copied().cycle().take(V).collect();
        for block in i.as_mut_slice().chunks_mut(V) {
            let mut carry = 1u16;
            for (x, y) in block.iter_mut().zip(&b).rev() {
                let s = u16::from(*x) + u16::from(*y) + carry;
                *x = (s & 0xff) as u8;
                carry = s >> 8;
            }
        }
    }
    out
}

/// CBC decryption with an 8-byte block cipher and PKCS#7 padding; a bad padding is a wrong
/// password.
fn cbc_decrypt<C>(cipher: &C, iv: &[u8], data: &[u8]) -> Result<Zeroizing<Vec<u8>>>
where
    C: rc2::cipher::BlockCipherDecrypt,
{
    const B: usize = 8;
    if data.is_empty() || !data.len().is_multiple_of(B) || iv.len() != B {
        return Err(unreadable());
    }
    let mut prev = [0u8; B];
    prev.copy_from_slice(iv);
    let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
    for chunk in data.chunks(B) {
        let mut block = rc2::cipher::Block::<C>::try_from(chunk).map_err(|_| unreadable())?;
        cipher.decrypt_block(&mut block);
        for (x, p) in block.iter_mut().zip(prev.iter()) {
            *x ^= p;
        }
        out.extend_from_slice(&block);
        prev.copy_from_slice(chunk);
    }
    let pad = usize::from(*out.last().ok_or_else(unreadable)?);
    // `out` holds at least one block, so it has `pad` (at most `B`) bytes to check.
    if pad == 0 || pad > B || out.iter().rev().take(pad).any(|b| usize::from(*b) != pad) {
        return Err(unreadable());
    }
    let n = out.len() - pad;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{X509Spec, pkcs8_of, self_signed};
    use crate::keys::KeyMaterial;

    /// The files we write (one encrypted key, certificates in an encrypted container) pass the
    /// pre-scan; limits are checked on the structure alone.
    #[test]
    fn prescan_bounds_the_work() {
        let key = KeyMaterial::generate_ec(crate::keys::Curve::P256).unwrap();
        let spec = X509Spec {
            subject: "CN=p".into(),
            not_before: 1_700_000_000,
            not_after: 1_800_000_000,
            ..Default::default()
        };
        let cert = self_signed(&spec, &key).unwrap();
        let pfx = write_pfx(Some(&pkcs8_of(&key)), std::slice::from_ref(&cert), "pw").unwrap();
        let shape = prescan(&pfx, "pw", MAX_CHAIN).unwrap();
        assert_eq!(shape.keys, 1);
        let open = write_pfx(None, &[cert.clone(), cert.clone()], "").unwrap();
        assert!(prescan(&open, "", MAX_CHAIN).is_ok());
        assert!(prescan(b"\x30\x03\x02\x01\x03", "", MAX_CHAIN).is_err());
        assert!(prescan(&vec![0u8; MAX_PFX_BYTES + 1], "", MAX_CHAIN).unwrap_err().message.contains("larger than"));
        let mut b = Budget::default();
        assert!(b.iterations(MAX_KDF_ITERATIONS).is_ok());
        assert!(b.iterations(MAX_KDF_ITERATIONS).unwrap_err().message.contains("in all"));
        assert!(Budget::default().iterations(MAX_KDF_ITERATIONS + 1).is_err());
        assert!(Budget::default().scrypt(1 << 14, 8, 1).is_ok());
        assert!(Budget::default().scrypt(1 << 20, 8, 1).is_err());
        assert!(Budget::default().scrypt(1 << 15, 8, 4).is_err());
        assert_eq!(uint(&[0x00, 0xff]).unwrap(), 255);
        assert_eq!(uint(&[1, 2, 3, 4, 5, 6, 7, 8, 9]).unwrap(), u64::MAX);
        assert!(uint(&[0x80]).is_err());
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02X}")).collect()
    }

    /// The PKCS#12 KDF against the published "smeg" vector (BMP password, SHA-1, 1 round).
    #[test]
    fn pkcs12_kdf_matches_the_known_vector() {
        let pass = bmp_password("smeg").unwrap();
        let salt = [0x0a, 0x58, 0xcf, 0x64, 0x53, 0x0d, 0x82, 0x3f];
        assert_eq!(hex(&pkcs12_kdf(&pass, &salt, 1, 1, 24)), "8AAAE6297B6CB04642AB5B077851284EB7128F1A2A7FBCA3");
        assert_eq!(hex(&pkcs12_kdf(&pass, &salt, 2, 1, 8)), "79993DFE048D3B76");
        assert!(bmp_password("\u{1F600}").is_err());
    }

    /// PBES2 with the default PRF (HMAC-SHA1) and AES-128-CBC decrypts; a wrong password is the
    /// usual message; an unknown scheme is named.
    #[test]
    fn pbes2_sha1_aes128_container() {
        use aws_lc_rs::cipher::{AES_128, EncryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey};
        let salt = [9u8; 16];
        let iv = [3u8; 16];
        let mut key = [0u8; 16];
        let it = std::num::NonZeroU32::new(1000).unwrap();
        aws_lc_rs::pbkdf2::derive(aws_lc_rs::pbkdf2::PBKDF2_HMAC_SHA1, it, &salt, b"pw", &mut key);
        let enc = PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_128, &key).unwrap()).unwrap();
        let mut data = b"0123456789abcdefXYZ".to_vec();
        enc.less_safe_encrypt(&mut data, EncryptionContext::Iv128(iv.into())).unwrap();
        let tlv = |tag: u8, body: &[u8]| [&[tag, body.len() as u8][..], body].concat();
        let kdf = tlv(
            SEQUENCE,
            &[tlv(OID, OID_PBKDF2), tlv(SEQUENCE, &[tlv(OCTET_STRING, &salt), tlv(INTEGER, &[0x03, 0xe8])].concat())]
                .concat(),
        );
        let cipher = tlv(SEQUENCE, &[tlv(OID, OID_AES128_CBC), tlv(OCTET_STRING, &iv)].concat());
        let alg = [tlv(OID, OID_PBES2), tlv(SEQUENCE, &[kdf, cipher].concat())].concat();
        assert_eq!(decrypt_container(&alg, &data, "pw").unwrap().as_slice(), b"0123456789abcdefXYZ");
        assert!(decrypt_container(&alg, &data, "wrong").unwrap_err().message.contains("password is wrong"));
        let rc4 = [tlv(OID, &[OID_PKCS12_PBE_PREFIX, &[1]].concat()), tlv(SEQUENCE, &[])].concat();
        assert!(decrypt_container(&rc4, &data, "pw").unwrap_err().message.contains("RC4"));
        let other = [tlv(OID, &[0x2a, 0x03]), tlv(SEQUENCE, &[])].concat();
        assert!(decrypt_container(&other, &data, "pw").unwrap_err().message.contains("1.2.3"));
    }

    #[test]
    fn round_trip_and_wrong_password() {
        let key = KeyMaterial::generate_rsa(2048).unwrap();
        let spec = X509Spec {
            subject: "CN=pfx".into(),
            not_before: 1_700_000_000,
            not_after: 1_800_000_000,
            ..Default::default()
        };
        let cert = self_signed(&spec, &key).unwrap();
        let pk = pkcs8_of(&key);
        let pfx = write_pfx(Some(&pk), std::slice::from_ref(&cert), "pw").unwrap();
        let back = read_pfx(&pfx, "pw").unwrap();
        assert_eq!(back.key.unwrap().expose(), pk.expose());
        assert_eq!(back.certs, vec![cert.clone()]);
        assert!(read_pfx(&pfx, "wrong").is_err());
        assert!(read_pfx(b"garbage", "").is_err());
        let open = write_pfx(None, std::slice::from_ref(&cert), "").unwrap();
        let back = read_pfx(&open, "").unwrap();
        assert!(back.key.is_none());
        assert_eq!(back.certs.len(), 1);
        assert!(!format!("{:?}", read_pfx(&pfx, "pw").unwrap()).contains("MII"));
    }
}
