//! The built-in private certificate authority: root or intermediate CAs per vault, whose keys
//! stay in the barrier, and issuance of certificates whose policy names the CA as issuer.
//!
//! Storage: `certca/{vault}/{name}`.

use serde::{Deserialize, Serialize};
use strongbox_barrier::BTxn;
use strongbox_crypto::certs::{self as x509, X509Spec};
use strongbox_crypto::keys::{Curve, KeyMaterial};
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretString};

use super::{b64, key_from_hex, key_hex, unb64};
use crate::vaults::VaultRecord;
use crate::{Core, decode, encode};

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
    /// `KeyMaterial::to_storage`, hex (barrier-encrypted like every record).
    key: SecretString,
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
    /// Keep the CA key in the HSM (not available yet).
    pub hsm: bool,
}

fn ca_key(vault: &str, lc: &str) -> String {
    format!("certca/{vault}/{lc}")
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
    })
}

impl Core {
    async fn read_ca(&self, v: &VaultRecord, name: &str) -> Result<Option<CaRec>> {
        self.read_json(&ca_key(&v.name, &name.to_ascii_lowercase())).await
    }

    /// Creates a root (self-signed) or intermediate (signed by `parent`) CA.
    pub async fn create_ca(&self, vault: &str, name: &str, req: NewCa) -> Result<CaView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if ["self", "unknown"].contains(&name.key().as_str()) {
            return Err(Error::bad("'Self' and 'Unknown' are reserved issuer names."));
        }
        if req.hsm {
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "CA keys in the HSM are not available in this Strongbox release yet.",
            ));
        }
        if req.subject.trim().is_empty() {
            return Err(Error::bad("A CA needs a subject such as 'CN=Example Root CA'."));
        }
        x509::parse_subject(&req.subject)?;
        let months = req.validity_months.unwrap_or(120);
        if !(1..=MAX_CA_MONTHS).contains(&months) {
            return Err(Error::bad(format!("A CA's validity must be between 1 and {MAX_CA_MONTHS} months.")));
        }
        let key = match req.kty.as_deref().unwrap_or("EC") {
            "RSA" => KeyMaterial::generate_rsa(req.key_size.unwrap_or(3072) as usize)?,
            "EC" => KeyMaterial::generate_ec(match req.crv.as_deref().unwrap_or("P-256") {
                "P-256" => Curve::P256,
                "P-384" => Curve::P384,
                "P-521" => Curve::P521,
                _ => return Err(Error::bad("A CA's curve must be P-256, P-384 or P-521.")),
            })?,
            _ => return Err(Error::bad("A CA's key type must be RSA or EC.")),
        };
        let now = self.now();
        let mut spec = X509Spec {
            subject: req.subject.clone(),
            key_usage: vec!["digitalSignature".into(), "keyCertSign".into(), "cRLSign".into()],
            not_before: now,
            not_after: x509::add_months(now, months)?,
            ca: Some(req.path_len),
            ..Default::default()
        };
        let k = ca_key(&v.name, &name.key());
        if self.barrier.get(&k).await?.is_some() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("A certificate authority named {name} already exists."),
            ));
        }
        let (der, chain, parent) = match &req.parent {
            None => (x509::self_signed(&spec, &key)?, Vec::new(), None),
            Some(p) => {
                let parent = self.read_ca(&v, p).await?.ok_or_else(|| ca_not_found(p))?;
                spec.not_after = spec.not_after.min(parent.not_after);
                let pder = unb64(&parent.cer)?;
                let der = x509::issue(&spec, &key, &pder, &key_from_hex(&parent.key)?)?;
                let mut chain = vec![parent.cer.clone()];
                chain.extend(parent.chain.iter().cloned());
                (der, chain, Some(parent.name))
            }
        };
        let rec = CaRec {
            name: name.as_str().to_owned(),
            subject: req.subject,
            cer: b64(&der),
            chain,
            parent,
            key: key_hex(&key),
            not_before: spec.not_before,
            not_after: spec.not_after,
            created: now,
        };
        self.barrier.commit(BTxn::new().absent(&k).put(&k, encode(&rec)?)).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, format!("A certificate authority named {name} already exists."))
            } else {
                e
            }
        })?;
        view(&rec)
    }

    pub async fn get_ca(&self, vault: &str, name: &str) -> Result<CaView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        view(&self.read_ca(&v, name.as_str()).await?.ok_or_else(|| ca_not_found(name.as_str()))?)
    }

    pub async fn list_cas(&self, vault: &str) -> Result<Vec<CaView>> {
        let v = self.vault(vault).await?;
        let prefix = format!("certca/{}/", v.name);
        let mut out = Vec::new();
        let mut start = prefix.clone();
        loop {
            let rows = self.barrier.scan_prefix(&prefix, &start, 100).await?;
            let Some((last, _)) = rows.last() else { return Ok(out) };
            start = format!("{last}\0");
            for (k, b) in rows {
                out.push(view(&decode::<CaRec>(&k, &b)?)?);
            }
        }
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
        key: &KeyMaterial,
    ) -> Result<Option<Vec<Vec<u8>>>> {
        let Some(ca) = self.read_ca(v, name).await? else { return Ok(None) };
        if spec.not_before >= ca.not_after {
            return Err(Error::bad(format!("The certificate authority {} has expired.", ca.name)));
        }
        spec.not_after = spec.not_after.min(ca.not_after);
        let ca_der = unb64(&ca.cer)?;
        let leaf = x509::issue(&spec, key, &ca_der, &key_from_hex(&ca.key)?)?;
        let mut chain = vec![leaf, ca_der];
        for c in &ca.chain {
            chain.push(unb64(c)?);
        }
        Ok(Some(chain))
    }
}
