//! PKCS#12 (PFX) files: read one key with its certificates (import), write one (the secret
//! behind a certificate). Written files use PBES2 with AES-256-CBC and an HMAC-SHA256 MAC;
//! reading also accepts the legacy 3DES/RC2 bags older tools write.

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, Pkcs12Archive, PrivateKey, PrivateKeyChain};
use strongbox_types::{Error, Result, SecretBytes};

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
    prescan(data, MAX_CHAIN)?;
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(|_| {
        Error::bad(
            "The PKCS#12 (PFX) content could not be read: it is corrupt, or the password is wrong, or it uses an unsupported encryption.",
        )
    })?;
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

/// What the unencrypted structure of a PFX shows.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PfxShape {
    /// Private key bags (plain or encrypted) outside encrypted containers.
    pub keys: usize,
    /// Certificate bags outside encrypted containers.
    pub certs: usize,
    /// Encrypted containers (their bags are seen only once they are decrypted).
    pub encrypted_containers: usize,
}

/// Checks, before any password is tried, that the work a PFX asks for is bounded: its size,
/// the MAC's and every visible encryption's key-derivation iterations and scrypt parameters,
/// at most one private key and at most `max_certs` certificates. Refusals are `BadParameter`
/// naming the limit.
pub fn prescan(data: &[u8], max_certs: usize) -> Result<PfxShape> {
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
            budget.algorithm(eci.expect(SEQUENCE)?)?;
            shape.encrypted_containers += 1;
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
        let shape = prescan(&pfx, MAX_CHAIN).unwrap();
        assert_eq!(shape.keys, 1);
        let open = write_pfx(None, &[cert.clone(), cert.clone()], "").unwrap();
        assert!(prescan(&open, MAX_CHAIN).is_ok());
        assert!(prescan(b"\x30\x03\x02\x01\x03", MAX_CHAIN).is_err());
        assert!(prescan(&vec![0u8; MAX_PFX_BYTES + 1], MAX_CHAIN).unwrap_err().message.contains("larger than"));
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
