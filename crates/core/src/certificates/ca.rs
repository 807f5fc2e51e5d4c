//! The built-in private certificate authority: root or intermediate CAs per vault, whose keys
//! stay in the barrier or, with `hsm`, in the PKCS#11 token (the token then signs every
//! certificate the CA issues), and issuance of certificates whose policy names the CA as issuer.
//!
//! Storage: the [`CERT_AUTHORITIES`](strongbox_barrier::keyspace::CERT_AUTHORITIES) area,
//! `{vault}/{name}`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_crypto::certs::{self as x509, CertKey, X509Spec};
use strongbox_crypto::handle::{KeyHandle, KeySpec};
use strongbox_crypto::keys::{Curve, KeyMaterial};
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretString};

use super::{Certificates, b64, key_from_hex, key_hex, record_key, unb64};
use crate::vaults::VaultRecord;

const MAX_CA_MONTHS: u32 = 360;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CaRec {
    name: String,
    subject: String,
    /// DER of the CA certificate, standard base64.
    cer: String,
    /// The issuers above it (intermediates), leaf-most first, standard base64.
    chain: Vec<String>,
    parent: Option<String>,
    /// `KeyMaterial::to_storage`, hex (barrier-encrypted like every record); empty when the key
    /// lives in the HSM.
    key: SecretString,
    /// The HSM provider's handle id of the CA key (never key material).
    #[serde(default)]
    hsm: Option<String>,
    not_before: i64,
    not_after: i64,
    created: i64,
}

/// A CA as the API shows it (never its key).
#[derive(Debug, Clone)]
pub struct CaView {
    pub name: String,
    pub subject: String,
    pub cer: Vec<u8>,
    /// Issuers above it, leaf-most first.
    pub chain: Vec<Vec<u8>>,
    pub parent: Option<String>,
    pub not_before: i64,
    pub not_after: i64,
    pub created: i64,
    /// The CA key lives in the HSM.
    pub hsm: bool,
}

/// `strongbox ca create`.
#[derive(Debug, Default)]
pub struct NewCa {
    pub subject: String,
    /// Sign with this CA (an intermediate); a self-signed root when `None`.
    pub parent: Option<String>,
    /// `RSA` or `EC` (default EC P-256).
    pub kty: Option<String>,
    pub key_size: Option<u32>,
    pub crv: Option<String>,
    pub validity_months: Option<u32>,
    pub path_len: Option<u8>,
    /// Keep the CA key in the HSM (needs a configured PKCS#11 provider; RSA, P-256 or P-384).
    pub hsm: bool,
}

fn ca_not_found(name: &str) -> Error {
    Error::new(ErrorKind::IssuerNotFound, format!("Certificate authority not found: {name}"))
}

fn view(r: &CaRec) -> Result<CaView> {
    Ok(CaView {
        name: r.name.clone(),
        subject: r.subject.clone(),
        cer: unb64(&r.cer)?,
        chain: r.chain.iter().map(|c| unb64(c)).collect::<Result<_>>()?,
        parent: r.parent.clone(),
        not_before: r.not_before,
        not_after: r.not_after,
        created: r.created,
        hsm: r.hsm.is_some(),
    })
}

/// A CA's signing key, loaded: software, or a handle into the HSM.
enum CaSigner {
    Soft(KeyMaterial),
    Hsm(Arc<dyn KeyHandle>),
}

impl CaSigner {
    fn as_cert_key(&self) -> CertKey<'_> {
        match self {
            CaSigner::Soft(k) => CertKey::Soft(k),
            CaSigner::Hsm(h) => CertKey::Handle(h.as_ref()),
        }
    }
}

fn no_hsm() -> Error {
    Error::new(
        ErrorKind::NotImplemented,
        "CA keys in the HSM need a PKCS#11 token, and this server has none configured (STRONGBOX_PKCS11_MODULE, STRONGBOX_PKCS11_TOKEN, STRONGBOX_PKCS11_PIN).",
    )
}

impl Certificates {
    async fn read_ca(&self, v: &VaultRecord, name: &str) -> Result<Option<CaRec>> {
        self.authorities.get(&record_key(&v.name, name)).await
    }

    fn ca_signer(&self, r: &CaRec) -> Result<CaSigner> {
        match &r.hsm {
            Some(id) => Ok(CaSigner::Hsm(self.key_provider().map_err(|_| no_hsm())?.open(id)?)),
            None => Ok(CaSigner::Soft(key_from_hex(&r.key)?)),
        }
    }

    /// Creates a root (self-signed) or intermediate (signed by `parent`) CA.
    pub async fn create_ca(&self, vault: &str, name: &str, req: NewCa) -> Result<CaView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if ["self", "unknown"].contains(&name.key().as_str()) {
            return Err(Error::bad("'Self' and 'Unknown' are reserved issuer names."));
        }
        if req.subject.trim().is_empty() {
            return Err(Error::bad("A CA needs a subject such as 'CN=Example Root CA'."));
        }
        x509::parse_subject(&req.subject)?;
        let months = req.validity_months.unwrap_or(120);
        if !(1..=MAX_CA_MONTHS).contains(&months) {
            return Err(Error::bad(format!("A CA's validity must be between 1 and {MAX_CA_MONTHS} months.")));
        }
        let spec_k = match req.kty.as_deref().unwrap_or("EC") {
            "RSA" => KeySpec::Rsa(req.key_size.unwrap_or(3072) as usize),
            "EC" => KeySpec::Ec(match req.crv.as_deref().unwrap_or("P-256") {
                "P-256" => Curve::P256,
                "P-384" => Curve::P384,
                "P-521" if !req.hsm => Curve::P521,
                "P-521" => return Err(Error::bad("A CA key in the HSM must be RSA, P-256 or P-384.")),
                _ => return Err(Error::bad("A CA's curve must be P-256, P-384 or P-521.")),
            }),
            _ => return Err(Error::bad("A CA's key type must be RSA or EC.")),
        };
        if let KeySpec::Rsa(bits) = spec_k
            && ![2048, 3072, 4096].contains(&bits)
        {
            return Err(Error::bad("A CA's RSA key size must be 2048, 3072 or 4096."));
        }
        let provider = if req.hsm { Some(self.key_provider().map_err(|_| no_hsm())?) } else { None };
        let now = self.now();
        let mut spec = X509Spec {
            subject: req.subject.clone(),
            key_usage: vec!["digitalSignature".into(), "keyCertSign".into(), "cRLSign".into()],
            not_before: now,
            not_after: x509::add_months(now, months)?,
            ca: Some(req.path_len),
            ..Default::default()
        };
        let authorities = &self.authorities;
        let rel = record_key(&v.name, name.as_str());
        if authorities.exists(&rel).await? {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("A certificate authority named {name} already exists."),
            ));
        }
        let parent = match &req.parent {
            Some(p) => Some(self.read_ca(&v, p).await?.ok_or_else(|| ca_not_found(p))?),
            None => None,
        };
        let parent_signer = parent.as_ref().map(|p| self.ca_signer(p)).transpose()?;
        // The key: generated in the token (only its handle id is stored) or in software.
        let (key, hsm_id) = match &provider {
            Some(p) => {
                let (id, h) = p.generate(spec_k)?;
                (CaSigner::Hsm(h), Some(id))
            }
            None => (
                CaSigner::Soft(match spec_k {
                    KeySpec::Rsa(bits) => KeyMaterial::generate_rsa(bits)?,
                    KeySpec::Ec(c) => KeyMaterial::generate_ec(c)?,
                    KeySpec::Oct(_) => return Err(Error::bad("A CA's key type must be RSA or EC.")),
                }),
                None,
            ),
        };
        let drop_hsm_key = |e: Error| {
            if let (Some(p), Some(id)) = (&provider, &hsm_id)
                && let Err(d) = p.destroy(id)
            {
                tracing::warn!(error = %d, "could not destroy the HSM key of a CA that was not created");
            }
            e
        };
        let signed = match (&parent, &parent_signer) {
            (Some(parent), Some(ps)) => {
                spec.not_after = spec.not_after.min(parent.not_after);
                let pder = unb64(&parent.cer)?;
                x509::issue_by(&spec, key.as_cert_key(), &pder, ps.as_cert_key()).map(|der| {
                    let mut chain = vec![parent.cer.clone()];
                    chain.extend(parent.chain.iter().cloned());
                    (der, chain, Some(parent.name.clone()))
                })
            }
            _ => x509::self_signed_by(&spec, key.as_cert_key()).map(|der| (der, Vec::new(), None)),
        };
        let (der, chain, parent) = signed.map_err(drop_hsm_key)?;
        let rec = CaRec {
            name: name.as_str().to_owned(),
            subject: req.subject,
            cer: b64(&der),
            chain,
            parent,
            key: match &key {
                CaSigner::Soft(k) => key_hex(k),
                CaSigner::Hsm(_) => SecretString::default(),
            },
            hsm: hsm_id.clone(),
            not_before: spec.not_before,
            not_after: spec.not_after,
            created: now,
        };
        if !authorities.create(&rel, &rec).await.map_err(drop_hsm_key)? {
            return Err(drop_hsm_key(Error::new(
                ErrorKind::Conflict,
                format!("A certificate authority named {name} already exists."),
            )));
        }
        view(&rec)
    }

    pub async fn get_ca(&self, vault: &str, name: &str) -> Result<CaView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        view(&self.read_ca(&v, name.as_str()).await?.ok_or_else(|| ca_not_found(name.as_str()))?)
    }

    pub async fn list_cas(&self, vault: &str) -> Result<Vec<CaView>> {
        let v = self.vault(vault).await?;
        let rows = self.authorities.scan_all::<CaRec>(&format!("{}/", v.name)).await?;
        rows.iter().map(|(_, r)| view(r)).collect()
    }

    /// Whether the vault has a CA of that name.
    pub(super) async fn has_ca(&self, v: &VaultRecord, name: &str) -> Result<bool> {
        Ok(self.read_ca(v, name).await?.is_some())
    }

    /// Signs a certificate for `key` under `spec` with the CA `name`, if such a CA exists.
    /// Returns the chain (leaf, CA, the CA's issuers). The validity ends no later than the CA's.
    pub(super) async fn issue_with_ca(
        &self,
        v: &VaultRecord,
        name: &str,
        mut spec: X509Spec,
        key: CertKey<'_>,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(ca) = self.read_ca(v, name).await? else { return Ok(None) };
        if spec.not_before >= ca.not_after {
            return Err(Error::bad(format!("The certificate authority {} has expired.", ca.name)));
        }
        spec.not_after = spec.not_after.min(ca.not_after);
        let ca_der = unb64(&ca.cer)?;
        let signer = self.ca_signer(&ca)?;
        let leaf = x509::issue_by(&spec, key, &ca_der, signer.as_cert_key())?;
        let mut chain = vec![leaf, ca_der];
        for c in &ca.chain {
            chain.push(unb64(c)?);
        }
        Ok(Some(chain))
    }
}
