//! The forms a certificate takes outside its record: the secret's value (base64 PFX without a
//! password, or PEM with the key first and then the chain), conversion between the two for
//! `GET /secrets/{name}?outContentType=…`, and the decoding and checking of imported PFX and PEM
//! files.

use std::sync::Arc;

use strongbox_crypto::certs::{self as x509, CertInfo};
use strongbox_crypto::keys::KeyMaterial;
use strongbox_types::{Error, Result, SecretBytes, SecretString};

use super::issuance::IssueKey;
use super::{CertPolicy, Certificates, b64, unb64};
use crate::SecretView;

pub const CT_PKCS12: &str = "application/x-pkcs12";
pub const CT_PEM: &str = "application/x-pem-file";

/// The secret value: base64 PFX without a password, or PEM (key first, then the chain). The
/// private key is included only when the policy makes it exportable.
pub(super) fn secret_value(policy: &CertPolicy, key: &IssueKey, chain: &[Vec<u8>]) -> Result<SecretString> {
    let pkcs8 = match key {
        IssueKey::Soft(k) if policy.exportable => Some(x509::pkcs8_of(k)),
        _ => None,
    };
    encode_secret(&policy.content_type, pkcs8.as_ref(), chain)
}

fn encode_secret(content_type: &str, pkcs8: Option<&SecretBytes>, chain: &[Vec<u8>]) -> Result<SecretString> {
    if content_type == CT_PEM {
        let mut s = String::new();
        if let Some(k) = pkcs8 {
            s.push_str(&x509::to_pem("PRIVATE KEY", k.expose()));
        }
        for c in chain {
            s.push_str(&x509::to_pem("CERTIFICATE", c));
        }
        Ok(SecretString::new(s))
    } else {
        let pfx = SecretBytes::new(strongbox_crypto::pkcs12::write_pfx(pkcs8, chain, "")?);
        Ok(SecretString::new(b64(pfx.expose())))
    }
}

/// The key (PKCS#8, when exportable) and chain held in a certificate's secret.
fn decode_secret(content_type: &str, value: &SecretString) -> Result<(Option<SecretBytes>, Vec<Vec<u8>>)> {
    if content_type == CT_PEM {
        pem_key_and_certs(value.expose())
    } else {
        let der = SecretBytes::new(unb64(value.expose())?);
        let c = strongbox_crypto::pkcs12::read_pfx(der.expose(), "")?;
        Ok((c.key, c.certs))
    }
}

/// The private key (PKCS#8) and the certificates of a PEM text, in order; other blocks are
/// skipped. At most one key, which must be unencrypted PKCS#8.
fn pem_key_and_certs(text: &str) -> Result<(Option<SecretBytes>, Vec<Vec<u8>>)> {
    let mut key = None;
    let mut certs = Vec::new();
    for b in x509::parse_pem(text)? {
        match b.label.as_str() {
            "PRIVATE KEY" if key.is_none() => key = Some(b.der),
            "PRIVATE KEY" => return Err(Error::bad("The PEM content holds more than one private key.")),
            "CERTIFICATE" => certs.push(b.der.expose().to_vec()),
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                return Err(Error::bad("The PEM private key must be an unencrypted PKCS#8 key ('BEGIN PRIVATE KEY')."));
            }
            _ => {}
        }
    }
    Ok((key, certs))
}

/// Which certificate of `certs` belongs to `key`, and the rest.
fn split_leaf(key: &KeyMaterial, certs: Vec<Vec<u8>>) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let spki = x509::spki_of(key)?;
    let mut rest = Vec::new();
    let mut leaf = None;
    for c in certs {
        if leaf.is_none() && x509::inspect(&c)?.spki == spki {
            leaf = Some(c);
        } else {
            rest.push(c);
        }
    }
    let leaf = leaf.ok_or_else(|| {
        Error::bad("The private key does not match the public key of any certificate in the content.")
    })?;
    Ok((leaf, rest))
}

/// What an imported PFX or PEM holds, checked: its key, its chain (leaf first, ordered) and
/// the leaf's facts.
pub(super) struct ParsedImport {
    pub(super) key: KeyMaterial,
    pub(super) chain: Vec<Vec<u8>>,
    pub(super) info: CertInfo,
    pub(super) sniffed: &'static str,
}

/// Most imports (and merges) parsed at once; the others wait their turn. Parsing runs on the
/// blocking pool, so even the slowest accepted file never holds an async worker.
static IMPORT_PARSES: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(2)));

/// Runs the CPU-heavy part of an import or merge (PFX key derivation, key and certificate
/// parsing, chain ordering) off the async workers, a bounded number at a time.
pub(super) async fn run_import_parse<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    crate::bounded::run_bounded(&IMPORT_PARSES, "the certificate import was interrupted", work).await
}

/// Decodes and checks an import's `value`: base64 PFX (with `password`) or PEM (base64 or
/// text). Every certificate must be one (at most [`x509::MAX_CHAIN`]), the key must match one
/// of them, and the chain is ordered leaf → root.
pub(super) fn parse_import(value: &SecretString, password: Option<&SecretString>) -> Result<ParsedImport> {
    let raw = value.expose().trim();
    // SDKs send base64 of the file (for PEM, base64 of the text); some send PEM text.
    let bytes = if is_pem(raw.as_bytes()) {
        SecretBytes::new(raw.as_bytes().to_vec())
    } else {
        SecretBytes::new(
            x509::b64_std_decode(raw)
                .ok_or_else(|| Error::bad("The certificate content is neither base64 PKCS#12 (PFX) nor PEM."))?,
        )
    };
    let (pkcs8, certs, sniffed) = if is_pem(bytes.expose()) {
        let text = std::str::from_utf8(bytes.expose()).map_err(|_| Error::bad("The PEM content is not text."))?;
        let (key, certs) = pem_key_and_certs(text)?;
        (key, certs, CT_PEM)
    } else {
        let pw = password.map(|p| p.expose()).unwrap_or("");
        let c = strongbox_crypto::pkcs12::read_pfx(bytes.expose(), pw)?;
        (c.key, c.certs, CT_PKCS12)
    };
    let pkcs8 = pkcs8.ok_or_else(|| Error::bad("The certificate content has no private key."))?;
    if certs.is_empty() {
        return Err(Error::bad("The certificate content has no certificate."));
    }
    x509::check_chain(&certs)?;
    let key = x509::key_from_pkcs8(pkcs8.expose())?;
    let (leaf, rest) = split_leaf(&key, certs)?;
    let info = x509::inspect(&leaf)?;
    let chain = x509::order_chain(leaf, rest);
    Ok(ParsedImport { key, chain, info, sniffed })
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN")
}

impl Certificates {
    /// `GET /secrets/{name}[/{version}]?outContentType=…`: the secret `read` yields (a
    /// certificate's), converted to the format `out` (PFX ↔ PEM). `out` is checked first, so
    /// `read` is awaited only for a supported format.
    pub async fn secret_as(&self, out: &str, read: impl Future<Output = Result<SecretView>>) -> Result<SecretView> {
        if out != CT_PKCS12 && out != CT_PEM {
            return Err(Error::bad(format!(
                "outContentType '{}' is not supported; use {CT_PKCS12} or {CT_PEM}.",
                out.chars().take(64).collect::<String>()
            )));
        }
        let mut s = read.await?;
        if !s.managed {
            return Err(Error::bad("outContentType applies only to the secrets of certificates."));
        }
        let from = s.content_type.clone().unwrap_or_else(|| CT_PKCS12.into());
        if from != out {
            let value = s.value.take().ok_or_else(|| Error::internal("certificate secret without a value"))?;
            let (key, chain) = decode_secret(&from, &value)?;
            s.value = Some(encode_secret(out, key.as_ref(), &chain)?);
            s.content_type = Some(out.to_owned());
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use strongbox_crypto::certs::X509Spec;

    use super::*;

    #[test]
    fn secrets_convert_between_pfx_and_pem() {
        let key = KeyMaterial::generate_rsa(2048).unwrap();
        let spec = X509Spec {
            subject: "CN=c".into(),
            not_before: 1_700_000_000,
            not_after: 1_800_000_000,
            ..Default::default()
        };
        let cert = x509::self_signed(&spec, &key).unwrap();
        let pk = x509::pkcs8_of(&key);
        let pfx = encode_secret(CT_PKCS12, Some(&pk), std::slice::from_ref(&cert)).unwrap();
        let (k, chain) = decode_secret(CT_PKCS12, &pfx).unwrap();
        let pem = encode_secret(CT_PEM, k.as_ref(), &chain).unwrap();
        assert!(pem.expose().starts_with("-----BEGIN PRIVATE KEY-----"));
        let (k2, chain2) = decode_secret(CT_PEM, &pem).unwrap();
        assert_eq!(k2.unwrap().expose(), pk.expose());
        assert_eq!(chain2, vec![cert]);
        assert!(x509::add_months(0, 12).unwrap() > 0);
    }

    #[test]
    fn pem_takes_one_unencrypted_pkcs8_key() {
        let key = KeyMaterial::generate_ec(strongbox_crypto::keys::Curve::P256).unwrap();
        let pk = x509::to_pem("PRIVATE KEY", x509::pkcs8_of(&key).expose());
        let cert = x509::to_pem("CERTIFICATE", b"not-parsed-here");
        let (k, certs) = pem_key_and_certs(&format!("{pk}{cert}")).unwrap();
        assert_eq!(k.unwrap().expose(), x509::pkcs8_of(&key).expose());
        assert_eq!(certs, vec![b"not-parsed-here".to_vec()]);
        assert!(pem_key_and_certs(&format!("{pk}{pk}")).is_err());
        assert!(pem_key_and_certs(&x509::to_pem("EC PRIVATE KEY", b"x")).is_err());
    }
}
