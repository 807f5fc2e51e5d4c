//! Certificate issuers (`/certificates/issuers/{name}`): per-vault records naming a CA
//! provider and the account to use with it. Stored so the SDKs' issuer calls work; this
//! deployment cannot reach public CA providers (see [`super::issuance`]).

use serde::{Deserialize, Serialize};
use strongbox_barrier::Change;
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretString};

use super::{CERTS, Certificates, record_key};
use crate::vaults::VaultRecord;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct AdminDetail {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// An issuer record. The credential password is kept (encrypted by the barrier) but never
/// shown again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct IssuerRec {
    name: String,
    pub(super) provider: String,
    account_id: Option<String>,
    password: Option<SecretString>,
    org_id: Option<String>,
    admin_details: Vec<AdminDetail>,
    enabled: bool,
    created: i64,
    updated: i64,
}

/// An issuer as the API shows it.
#[derive(Debug, Clone)]
pub struct IssuerView {
    pub name: String,
    pub provider: String,
    pub account_id: Option<String>,
    pub org_id: Option<String>,
    pub admin_details: Vec<AdminDetail>,
    pub enabled: bool,
    pub created: i64,
    pub updated: i64,
}

/// `PUT` (all of it) or `PATCH` (what is `Some`) of an issuer.
#[derive(Debug, Default)]
pub struct IssuerInput {
    pub provider: Option<String>,
    pub account_id: Option<String>,
    pub password: Option<SecretString>,
    pub org_id: Option<String>,
    pub admin_details: Option<Vec<AdminDetail>>,
    pub enabled: Option<bool>,
}

fn view_issuer(r: IssuerRec) -> IssuerView {
    IssuerView {
        name: r.name,
        provider: r.provider,
        account_id: r.account_id,
        org_id: r.org_id,
        admin_details: r.admin_details,
        enabled: r.enabled,
        created: r.created,
        updated: r.updated,
    }
}

fn issuer_not_found(name: &str) -> Error {
    Error::new(ErrorKind::IssuerNotFound, format!("Issuer not found: {name}"))
}

impl Certificates {
    pub(super) async fn read_issuer(&self, v: &VaultRecord, name: &str) -> Result<Option<IssuerRec>> {
        self.issuers.get(&record_key(&v.name, name)).await
    }

    /// `PUT /certificates/issuers/{name}` (create or replace).
    pub async fn set_issuer(&self, vault: &str, name: &str, input: IssuerInput) -> Result<IssuerView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if ["self", "unknown"].contains(&name.key().as_str()) {
            return Err(Error::bad("'Self' and 'Unknown' are reserved issuer names."));
        }
        let provider = input
            .provider
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| Error::bad("The 'provider' member is required (for example DigiCert or GlobalSign)."))?;
        let now = self.now();
        let rel = record_key(&v.name, name.as_str());
        self.issuers
            .update(
                &rel,
                || CERTS.busy(),
                |old: Option<IssuerRec>| {
                    let rec = IssuerRec {
                        name: name.as_str().to_owned(),
                        provider: provider.clone(),
                        account_id: input.account_id.clone(),
                        password: input.password.clone(),
                        org_id: input.org_id.clone(),
                        admin_details: input.admin_details.clone().unwrap_or_default(),
                        enabled: input.enabled.unwrap_or(true),
                        created: old.map(|o| o.created).unwrap_or(now),
                        updated: now,
                    };
                    Ok(Change::Put(rec.clone(), view_issuer(rec)))
                },
            )
            .await
    }

    /// `PATCH /certificates/issuers/{name}`.
    pub async fn update_issuer(&self, vault: &str, name: &str, input: IssuerInput) -> Result<IssuerView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let rel = record_key(&v.name, name.as_str());
        let now = self.now();
        self.issuers
            .update(
                &rel,
                || CERTS.busy(),
                |rec: Option<IssuerRec>| {
                    let mut rec = rec.ok_or_else(|| issuer_not_found(name.as_str()))?;
                    if let Some(p) = input.provider.as_ref().filter(|p| !p.trim().is_empty()) {
                        rec.provider = p.clone();
                    }
                    if input.account_id.is_some() {
                        rec.account_id = input.account_id.clone();
                    }
                    if input.password.is_some() {
                        rec.password = input.password.clone();
                    }
                    if input.org_id.is_some() {
                        rec.org_id = input.org_id.clone();
                    }
                    if let Some(a) = &input.admin_details {
                        rec.admin_details = a.clone();
                    }
                    if let Some(e) = input.enabled {
                        rec.enabled = e;
                    }
                    rec.updated = now;
                    Ok(Change::Put(rec.clone(), view_issuer(rec)))
                },
            )
            .await
    }

    pub async fn get_issuer(&self, vault: &str, name: &str) -> Result<IssuerView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        self.read_issuer(&v, name.as_str()).await?.map(view_issuer).ok_or_else(|| issuer_not_found(name.as_str()))
    }

    pub async fn delete_issuer(&self, vault: &str, name: &str) -> Result<IssuerView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let rel = record_key(&v.name, name.as_str());
        self.issuers
            .update(
                &rel,
                || CERTS.busy(),
                |rec: Option<IssuerRec>| {
                    rec.map(|r| Change::Delete(view_issuer(r))).ok_or_else(|| issuer_not_found(name.as_str()))
                },
            )
            .await
    }

    /// `GET /certificates/issuers`: one page of issuers, by name. The resume token is the
    /// storage key of the next issuer.
    pub async fn list_issuers(
        &self,
        vault: &str,
        resume: Option<&str>,
        max: usize,
    ) -> Result<(Vec<IssuerView>, Option<String>)> {
        let v = self.vault(vault).await?;
        let issuers = &self.issuers;
        let prefix = format!("{}/", v.name);
        let start = match resume {
            None => prefix.clone(),
            Some(r) => match issuers.relative(r) {
                Some(rel) if rel.starts_with(&prefix) => rel.to_owned(),
                _ => return Err(Error::bad("The $skiptoken does not belong to this listing.")),
            },
        };
        let mut rows = issuers.scan::<IssuerRec>(&prefix, &start, max + 1).await?;
        let next = if rows.len() > max { rows.pop().map(|(rel, _)| issuers.key(&rel)) } else { None };
        Ok((rows.into_iter().map(|(_, r)| view_issuer(r)).collect(), next))
    }
}
