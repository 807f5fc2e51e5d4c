//! The `Secrets` service: a collection of versioned objects whose payload is the secret value.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretString};

use crate::objects::{Attributes, Collection, CommonUpdate, NewVersion, Object, ObjectStore, Page, Spec};
use crate::records::Tags;
use crate::vaults::VaultRecord;
use crate::vaults::Vaults;
use strongbox_barrier::keyspace;

pub(crate) const MAX_VALUE_BYTES: usize = 25 * 1024;
pub(crate) const MAX_CONTENT_TYPE: usize = 255;

pub(crate) const SECRETS: Spec = Spec {
    heads: keyspace::SECRET_HEADS,
    versions: keyspace::SECRET_VERSIONS,
    deleted: keyspace::DELETED_SECRETS,
    noun: "secret",
    title: "Secret",
    not_found: ErrorKind::SecretNotFound,
    disabled: ErrorKind::ObjectDisabled,
    backup_aad: b"strongbox/backup/v1/secret",
    managed: Some(ErrorKind::SecretManaged),
};

/// The secrets collection of the object store.
pub(crate) struct SecretObjects;

impl Collection for SecretObjects {
    type Payload = SecretString;
    const SPEC: Spec = SECRETS;
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeletedInfo {
    pub deleted_date: i64,
    pub scheduled_purge_date: i64,
}

/// A secret (one version) as the API shows it.
#[derive(Debug, Clone)]
pub struct SecretView {
    /// Original-case name.
    pub name: String,
    pub version: String,
    /// Present only on get/set/update/recover/restore, never in lists or deleted bundles.
    pub value: Option<SecretString>,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub attributes: Attributes,
    pub deleted: Option<DeletedInfo>,
    /// Backs a certificate (Azure `managed: true`): changed only through the certificates API.
    pub managed: bool,
}

/// One page of a list, with where to resume.
#[derive(Debug)]
pub struct Listing {
    pub items: Vec<SecretView>,
    /// Opaque resume key for the next page (`None` on the last page).
    pub next: Option<String>,
}

#[derive(Debug)]
pub struct SetSecret {
    pub value: SecretString,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// Fields left `None` stay as they are.
#[derive(Debug, Default)]
pub struct SecretUpdate {
    pub content_type: Option<String>,
    pub common: CommonUpdate,
}

fn check_content_type(ct: &Option<String>) -> Result<()> {
    match ct {
        Some(c) if c.chars().count() > MAX_CONTENT_TYPE => {
            Err(Error::bad(format!("The contentType must be at most {MAX_CONTENT_TYPE} characters.")))
        }
        _ => Ok(()),
    }
}

fn view(v: &VaultRecord, o: Object<SecretString>, with_value: bool) -> SecretView {
    SecretView {
        attributes: Attributes::of(v, &o.meta),
        name: o.name,
        version: o.meta.version,
        value: if with_value { o.payload } else { None },
        content_type: o.meta.content_type,
        tags: o.meta.tags,
        deleted: o.deleted,
        managed: o.meta.managed,
    }
}

fn listing(v: &VaultRecord, p: Page<SecretString>) -> Listing {
    Listing { items: p.items.into_iter().map(|o| view(v, o, false)).collect(), next: p.next }
}

/// Secrets: the object store of the secrets collection, reached through the vaults.
pub struct Secrets {
    vaults: Arc<Vaults>,
    store: Arc<ObjectStore<SecretObjects>>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").finish_non_exhaustive()
    }
}

impl Secrets {
    pub(crate) fn new(vaults: Arc<Vaults>, store: Arc<ObjectStore<SecretObjects>>) -> Self {
        Self { vaults, store }
    }

    /// `PUT /secrets/{name}`: a new version, which becomes the latest.
    pub async fn set(&self, vault: &str, name: &str, input: SetSecret) -> Result<SecretView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        if input.value.expose().len() > MAX_VALUE_BYTES {
            return Err(Error::bad(format!("The secret value exceeds the maximum size of {MAX_VALUE_BYTES} bytes.")));
        }
        check_content_type(&input.content_type)?;
        let new = NewVersion {
            payload: input.value,
            content_type: input.content_type,
            tags: input.tags,
            enabled: input.enabled,
            nbf: input.nbf,
            exp: input.exp,
        };
        Ok(view(&v, self.store.create(&v, &name, new).await?, true))
    }

    /// `GET /secrets/{name}[/{version}]`. Disabled versions are refused (403), as in Azure.
    pub async fn get(&self, vault: &str, name: &str, version: Option<&str>) -> Result<SecretView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        Ok(view(&v, self.store.get(&v, &name, version).await?, true))
    }

    /// `PATCH /secrets/{name}[/{version}]`: attributes, tags and content type of one version.
    pub async fn update(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        upd: SecretUpdate,
    ) -> Result<SecretView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        check_content_type(&upd.content_type)?;
        self.store.refuse_managed(&v, &name, "update").await?;
        let o = self
            .store
            .update(&v, &name, version, |m, _| {
                if let Some(ct) = &upd.content_type {
                    m.content_type = Some(ct.clone());
                }
                upd.common.apply(m);
                Ok(())
            })
            .await?;
        // The update result carries no value, as in Azure.
        Ok(view(&v, o, false))
    }

    /// `GET /secrets`: latest-version metadata of every live secret, by name.
    pub async fn list(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<Listing> {
        let v = self.vaults.record(vault).await?;
        Ok(listing(&v, self.store.list(&v, false, resume, max).await?))
    }

    /// `GET /deletedsecrets`.
    pub async fn list_deleted(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<Listing> {
        let v = self.vaults.record(vault).await?;
        Ok(listing(&v, self.store.list(&v, true, resume, max).await?))
    }

    /// `GET /secrets/{name}/versions`. An unknown or deleted name lists nothing.
    pub async fn list_versions(&self, vault: &str, name: &str, resume: Option<&str>, max: usize) -> Result<Listing> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        Ok(listing(&v, self.store.list_versions(&v, &name, resume, max).await?))
    }

    /// `DELETE /secrets/{name}`: soft delete of every version; visible under deleted at once.
    pub async fn delete(&self, vault: &str, name: &str) -> Result<SecretView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        self.store.refuse_managed(&v, &name, "delete").await?;
        Ok(view(&v, self.store.delete(&v, &name).await?, false))
    }

    /// `GET /deletedsecrets/{name}`.
    pub async fn get_deleted(&self, vault: &str, name: &str) -> Result<SecretView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        Ok(view(&v, self.store.get_deleted(&v, &name).await?, false))
    }

    /// `POST /deletedsecrets/{name}/recover`: back to live, all versions intact.
    pub async fn recover(&self, vault: &str, name: &str) -> Result<SecretView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        self.store.refuse_managed(&v, &name, "recover").await?;
        Ok(view(&v, self.store.recover(&v, &name).await?, false))
    }

    /// `DELETE /deletedsecrets/{name}`: permanent. Refused while purge protection holds it.
    pub async fn purge(&self, vault: &str, name: &str) -> Result<()> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        self.store.refuse_managed(&v, &name, "purge").await?;
        self.store.purge(&v, &name).await
    }

    /// `POST /secrets/{name}/backup`: every version, encrypted under the deployment backup key.
    pub async fn backup(&self, vault: &str, name: &str) -> Result<Vec<u8>> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        self.store.backup(&v, &name).await
    }

    /// `POST /secrets/restore`: all versions with their original ids. The name must be free.
    pub async fn restore(&self, vault: &str, blob: &[u8]) -> Result<SecretView> {
        let v = self.vaults.record(vault).await?;
        Ok(view(&v, self.store.restore(&v, blob).await?, true))
    }
}
