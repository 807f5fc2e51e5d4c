//! PKCS#12 (PFX) files: read one key with its certificates (import), write one (the secret
//! behind a certificate). Written files use PBES2 with AES-256-CBC and an HMAC-SHA256 MAC;
//! reading also accepts the legacy 3DES/RC2 bags older tools write.

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, Pkcs12Archive, PrivateKey, PrivateKeyChain};
use strongbox_types::{Error, Result, SecretBytes};

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
pub fn read_pfx(data: &[u8], password: &str) -> Result<PfxContents> {
    let archive = Pkcs12Archive::from_pkcs12(data, password).map_err(|_| {
        Error::bad(
            "The PKCS#12 (PFX) content could not be read: it is corrupt, or the password is wrong, or it uses an unsupported encryption.",
        )
    })?;
    if archive.keys.len() > 1 {
        return Err(Error::bad("The PKCS#12 (PFX) content holds more than one private key."));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::{X509Spec, pkcs8_of, self_signed};
    use crate::keys::KeyMaterial;

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
