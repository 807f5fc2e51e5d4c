//! Secrets: versions, attributes, soft delete, recovery, purge, backup and restore.

use serde::{Deserialize, Serialize};
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretBytes, SecretString, Version};

use crate::records::{
    HeadRec, SecretBackup, Tags, VersionMeta, VersionRec, deleted_key, head_key, purge_key, version_key,
    versions_prefix,
};
use crate::vaults::VaultRecord;
use crate::{CAS_RETRIES, Core, decode, encode};

pub const MAX_VALUE_BYTES: usize = 25 * 1024;
pub const MAX_CONTENT_TYPE: usize = 255;
pub const MAX_TAGS: usize = 15;
pub const MAX_TAG_NAME: usize = 512;
pub const MAX_TAG_VALUE: usize = 256;
pub const MAX_BACKUP_VERSIONS: usize = 500;
const BACKUP_MAGIC: &[u8; 4] = b"SBK1";
const BACKUP_AAD: &[u8] = b"strongbox/backup/v1/secret";

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
    /// Present only on get/set/recover/restore, never in lists or deleted bundles.
    pub value: Option<SecretString>,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    pub recovery_level: &'static str,
    pub recoverable_days: i64,
    pub deleted: Option<DeletedInfo>,
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
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

fn not_found(name: &str, version: Option<&str>) -> Error {
    let what = match version {
        Some(v) => format!("{name}/{v}"),
        None => name.to_owned(),
    };
    Error::new(
        ErrorKind::SecretNotFound,
        format!(
            "A secret with (name/id) {what} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command."
        ),
    )
}

fn deleted_conflict(name: &str) -> Error {
    Error::new(
        ErrorKind::DeletedButRecoverable,
        format!(
            "Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged."
        ),
    )
}

fn deleted_not_found(name: &str) -> Error {
    Error::new(ErrorKind::SecretNotFound, format!("Deleted Secret not found: {name}"))
}

fn check_tags(tags: &Option<Tags>) -> Result<()> {
    if let Some(t) = tags {
        if t.len() > MAX_TAGS {
            return Err(Error::bad(format!("An object may have at most {MAX_TAGS} tags.")));
        }
        for (k, v) in t {
            if k.is_empty() || k.len() > MAX_TAG_NAME || v.len() > MAX_TAG_VALUE {
                return Err(Error::bad(format!(
                    "Tag names must be 1-{MAX_TAG_NAME} characters and tag values at most {MAX_TAG_VALUE} characters."
                )));
            }
        }
    }
    Ok(())
}

fn check_content_type(ct: &Option<String>) -> Result<()> {
    match ct {
        Some(c) if c.chars().count() > MAX_CONTENT_TYPE => {
            Err(Error::bad(format!("The contentType must be at most {MAX_CONTENT_TYPE} characters.")))
        }
        _ => Ok(()),
    }
}

fn check_dates(nbf: Option<i64>, exp: Option<i64>) -> Result<()> {
    if let (Some(n), Some(e)) = (nbf, exp)
        && n > e
    {
        return Err(Error::bad("The 'nbf' attribute must not be later than 'exp'."));
    }
    Ok(())
}

impl Core {
    fn view(
        &self,
        v: &VaultRecord,
        name: &str,
        m: &VersionMeta,
        value: Option<SecretString>,
        deleted: Option<DeletedInfo>,
    ) -> SecretView {
        SecretView {
            name: name.to_owned(),
            version: m.version.clone(),
            value,
            content_type: m.content_type.clone(),
            tags: m.tags.clone(),
            enabled: m.enabled,
            nbf: m.nbf,
            exp: m.exp,
            created: m.created,
            updated: m.updated,
            recovery_level: v.recovery_level(),
            recoverable_days: i64::from(v.retention_days),
            deleted,
        }
    }

    fn new_version(&self) -> Result<String> {
        Ok(Version::from_random(strongbox_crypto::random_array()?).as_str().to_owned())
    }

    /// `PUT /secrets/{name}`: a new version, which becomes the latest.
    pub async fn set_secret(&self, vault: &str, name: &str, input: SetSecret) -> Result<SecretView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if input.value.expose().len() > MAX_VALUE_BYTES {
            return Err(Error::bad(format!("The secret value exceeds the maximum size of {MAX_VALUE_BYTES} bytes.")));
        }
        check_content_type(&input.content_type)?;
        check_tags(&input.tags)?;
        check_dates(input.nbf, input.exp)?;
        let lc = name.key();
        let hk = head_key(&v.name, &lc);
        for _ in 0..CAS_RETRIES {
            let now = self.now();
            let meta = VersionMeta {
                version: self.new_version()?,
                content_type: input.content_type.clone(),
                tags: input.tags.clone(),
                enabled: input.enabled.unwrap_or(true),
                nbf: input.nbf,
                exp: input.exp,
                created: now,
                updated: now,
            };
            let vk = version_key(&v.name, &lc, &meta.version);
            let rec = VersionRec { meta: meta.clone(), value: input.value.clone() };
            let current = self.read_json_versioned::<HeadRec>(&hk).await?;
            let (display, mut txn) = match &current {
                Some((head, stamp)) => (head.name.clone(), BTxn::new().unchanged(&hk, stamp)),
                None => {
                    if self.barrier.get(&deleted_key(&v.name, &lc)).await?.is_some() {
                        return Err(deleted_conflict(name.as_str()));
                    }
                    (name.as_str().to_owned(), BTxn::new().absent(&hk).absent(deleted_key(&v.name, &lc)))
                }
            };
            let head = HeadRec {
                name: display.clone(),
                latest: meta.clone(),
                latest_value: Some(input.value.clone()),
                deleted: None,
            };
            txn = txn.absent(&vk).put(&vk, encode_secret(&rec)?).put(&hk, encode(&head)?);
            match self.barrier.commit(txn).await {
                Ok(()) => return Ok(self.view(&v, &display, &meta, Some(input.value), None)),
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The secret is being changed by another request; retry."))
    }

    async fn live_head(&self, v: &VaultRecord, name: &ObjectName) -> Result<HeadRec> {
        self.read_json::<HeadRec>(&head_key(&v.name, &name.key())).await?.ok_or_else(|| not_found(name.as_str(), None))
    }

    /// `GET /secrets/{name}[/{version}]`. Disabled versions are refused (403), as in Azure.
    pub async fn get_secret(&self, vault: &str, name: &str, version: Option<&str>) -> Result<SecretView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let head = self.live_head(&v, &name).await?;
        let disabled = || Error::new(ErrorKind::ObjectDisabled, "Operation get is not allowed on a disabled secret.");
        let ver = match (version, &head.latest_value) {
            (Some(s), _) => Version::parse(s).map_err(|_| not_found(name.as_str(), Some(s)))?.as_str().to_owned(),
            (None, Some(value)) => {
                if !head.latest.enabled {
                    return Err(disabled());
                }
                return Ok(self.view(&v, &head.name, &head.latest, Some(value.clone()), None));
            }
            (None, None) => head.latest.version.clone(),
        };
        let rec: VersionRec = self
            .read_secret(&version_key(&v.name, &name.key(), &ver))
            .await?
            .ok_or_else(|| not_found(name.as_str(), Some(&ver)))?;
        if !rec.meta.enabled {
            return Err(disabled());
        }
        Ok(self.view(&v, &head.name, &rec.meta, Some(rec.value.clone()), None))
    }

    async fn read_secret(&self, key: &str) -> Result<Option<VersionRec>> {
        self.read_json(key).await
    }

    /// `PATCH /secrets/{name}[/{version}]`: attributes, tags and content type of one version.
    pub async fn update_secret(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        upd: SecretUpdate,
    ) -> Result<SecretView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        check_content_type(&upd.content_type)?;
        check_tags(&upd.tags)?;
        let lc = name.key();
        let hk = head_key(&v.name, &lc);
        for _ in 0..CAS_RETRIES {
            let (head, head_stamp) =
                self.read_json_versioned::<HeadRec>(&hk).await?.ok_or_else(|| not_found(name.as_str(), None))?;
            let ver = match version {
                Some(s) => Version::parse(s).map_err(|_| not_found(name.as_str(), Some(s)))?.as_str().to_owned(),
                None => head.latest.version.clone(),
            };
            let vk = version_key(&v.name, &lc, &ver);
            let (mut rec, stamp) = self
                .read_json_versioned::<VersionRec>(&vk)
                .await?
                .ok_or_else(|| not_found(name.as_str(), Some(&ver)))?;
            let m = &mut rec.meta;
            if let Some(ct) = &upd.content_type {
                m.content_type = Some(ct.clone());
            }
            if let Some(t) = &upd.tags {
                m.tags = Some(t.clone());
            }
            if let Some(e) = upd.enabled {
                m.enabled = e;
            }
            if upd.nbf.is_some() {
                m.nbf = upd.nbf;
            }
            if upd.exp.is_some() {
                m.exp = upd.exp;
            }
            check_dates(m.nbf, m.exp)?;
            m.updated = self.now();
            let mut txn = BTxn::new().unchanged(&vk, &stamp).put(&vk, encode_secret(&rec)?);
            // The head must stay in step with the version it mirrors, and must still be live.
            let mut new_head = head.clone();
            if head.latest.version == ver {
                new_head.latest = rec.meta.clone();
            }
            txn = txn.unchanged(&hk, &head_stamp).put(&hk, encode(&new_head)?);
            match self.barrier.commit(txn).await {
                Ok(()) => return Ok(self.view(&v, &head.name, &rec.meta, None, None)),
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The secret is being changed by another request; retry."))
    }

    /// `GET /secrets`: latest-version metadata of every live secret, by name.
    pub async fn list_secrets(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<Listing> {
        let v = self.vault(vault).await?;
        self.list_heads(&v, &format!("sec/{}/", v.name), resume, max, false).await
    }

    /// `GET /deletedsecrets`.
    pub async fn list_deleted_secrets(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<Listing> {
        let v = self.vault(vault).await?;
        self.list_heads(&v, &format!("dsec/{}/", v.name), resume, max, true).await
    }

    async fn list_heads(
        &self,
        v: &VaultRecord,
        prefix: &str,
        resume: Option<&str>,
        max: usize,
        deleted: bool,
    ) -> Result<Listing> {
        let start = resume_start(prefix, resume)?;
        let mut rows = self.barrier.scan_prefix(prefix, &start, max + 1).await?;
        let next = if rows.len() > max { rows.pop().map(|(k, _)| k) } else { None };
        let mut items = Vec::with_capacity(rows.len());
        for (k, b) in rows {
            let h: HeadRec = decode(&k, &b)?;
            let del = if deleted { h.deleted } else { None };
            items.push(self.view(v, &h.name, &h.latest, None, del));
        }
        Ok(Listing { items, next })
    }

    /// `GET /secrets/{name}/versions`. An unknown or deleted name lists nothing.
    pub async fn list_secret_versions(
        &self,
        vault: &str,
        name: &str,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Listing> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let Some(head) = self.read_json::<HeadRec>(&head_key(&v.name, &name.key())).await? else {
            return Ok(Listing { items: Vec::new(), next: None });
        };
        let prefix = versions_prefix(&v.name, &name.key());
        let start = resume_start(&prefix, resume)?;
        let mut rows = self.barrier.scan_prefix(&prefix, &start, max + 1).await?;
        let next = if rows.len() > max { rows.pop().map(|(k, _)| k) } else { None };
        let mut items = Vec::with_capacity(rows.len());
        for (k, b) in rows {
            let r: VersionRec = decode(&k, &b)?;
            items.push(self.view(&v, &head.name, &r.meta, None, None));
        }
        Ok(Listing { items, next })
    }

    /// `DELETE /secrets/{name}`: soft delete of every version; visible under deleted at once.
    pub async fn delete_secret(&self, vault: &str, name: &str) -> Result<SecretView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let lc = name.key();
        let hk = head_key(&v.name, &lc);
        let dk = deleted_key(&v.name, &lc);
        for _ in 0..CAS_RETRIES {
            let (mut head, stamp) =
                self.read_json_versioned::<HeadRec>(&hk).await?.ok_or_else(|| not_found(name.as_str(), None))?;
            let now = self.now();
            let info =
                DeletedInfo { deleted_date: now, scheduled_purge_date: now + i64::from(v.retention_days) * 86_400 };
            head.deleted = Some(info);
            let txn = BTxn::new()
                .unchanged(&hk, &stamp)
                .absent(&dk)
                .delete(&hk)
                .put(&dk, encode(&head)?)
                .put(purge_key(info.scheduled_purge_date, &v.name, &lc), Vec::new());
            match self.barrier.commit(txn).await {
                Ok(()) => return Ok(self.view(&v, &head.name, &head.latest, None, Some(info))),
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The secret is being changed by another request; retry."))
    }

    /// `GET /deletedsecrets/{name}`.
    pub async fn get_deleted_secret(&self, vault: &str, name: &str) -> Result<SecretView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let head: HeadRec = self
            .read_json(&deleted_key(&v.name, &name.key()))
            .await?
            .ok_or_else(|| deleted_not_found(name.as_str()))?;
        Ok(self.view(&v, &head.name, &head.latest, None, head.deleted))
    }

    /// `POST /deletedsecrets/{name}/recover`: back to live, all versions intact.
    pub async fn recover_secret(&self, vault: &str, name: &str) -> Result<SecretView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let lc = name.key();
        let hk = head_key(&v.name, &lc);
        let dk = deleted_key(&v.name, &lc);
        let (mut head, stamp) =
            self.read_json_versioned::<HeadRec>(&dk).await?.ok_or_else(|| deleted_not_found(name.as_str()))?;
        let mut txn = BTxn::new().unchanged(&dk, &stamp).absent(&hk).delete(&dk);
        if let Some(info) = head.deleted.take() {
            txn = txn.delete(purge_key(info.scheduled_purge_date, &v.name, &lc));
        }
        txn = txn.put(&hk, encode(&head)?);
        self.barrier.commit(txn).await?;
        Ok(self.view(&v, &head.name, &head.latest, None, None))
    }

    /// `DELETE /deletedsecrets/{name}`: permanent. Refused while purge protection holds it.
    pub async fn purge_secret(&self, vault: &str, name: &str) -> Result<()> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if v.purge_protection {
            return Err(Error::new(
                ErrorKind::PurgeProtected,
                format!(
                    "Operation 'PurgeDeletedSecret' is not allowed because purge protection is enabled for vault '{}'. The secret will be purged automatically after its retention period.",
                    v.name
                ),
            ));
        }
        if !self.purge_now(&v.name, &name.key(), None).await? {
            return Err(deleted_not_found(name.as_str()));
        }
        Ok(())
    }

    /// Removes a deleted secret and every version. Returns false when it is not deleted (or,
    /// with `due_by`, when its scheduled purge date is later than that).
    async fn purge_now(&self, vault: &str, lc: &str, due_by: Option<i64>) -> Result<bool> {
        let dk = deleted_key(vault, lc);
        let Some((head, stamp)) = self.read_json_versioned::<HeadRec>(&dk).await? else {
            return Ok(false);
        };
        if let (Some(t), Some(info)) = (due_by, head.deleted)
            && info.scheduled_purge_date > t
        {
            return Ok(false);
        }
        let prefix = versions_prefix(vault, lc);
        let mut txn = BTxn::new().unchanged(&dk, &stamp).delete(&dk);
        if let Some(info) = head.deleted {
            txn = txn.delete(purge_key(info.scheduled_purge_date, vault, lc));
        }
        let mut start = prefix.clone();
        loop {
            let keys = self.barrier.scan_keys(&prefix, &start, 1000).await?;
            let Some(last) = keys.last() else { break };
            start = format!("{last}\0");
            for k in keys {
                txn = txn.delete(k);
            }
        }
        self.barrier.commit(txn).await?;
        Ok(true)
    }

    /// Purges every deleted secret whose `scheduledPurgeDate` has passed. Returns how many.
    pub async fn purge_expired(&self) -> Result<usize> {
        let now = self.now();
        let end = format!("purge/{:012}/\u{7f}", now.max(0));
        let mut purged = 0;
        loop {
            let keys = self.barrier.scan_keys("purge/", "purge/", 100).await?;
            let due: Vec<String> = keys.into_iter().filter(|k| k.as_str() < end.as_str()).collect();
            if due.is_empty() {
                return Ok(purged);
            }
            for k in due {
                // purge/{when}/sec/{vault}/{name}
                let parts: Vec<&str> = k.splitn(5, '/').collect();
                if let [_, _, "sec", vault, name] = parts.as_slice()
                    && self.purge_now(vault, name, Some(now)).await?
                {
                    purged += 1;
                    continue;
                }
                // stale or unknown index entry: drop it
                self.barrier.commit(BTxn::new().delete(k)).await?;
            }
        }
    }

    /// `POST /secrets/{name}/backup`: every version, encrypted under the deployment backup key.
    pub async fn backup_secret(&self, vault: &str, name: &str) -> Result<Vec<u8>> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let head = self.live_head(&v, &name).await?;
        let prefix = versions_prefix(&v.name, &name.key());
        let rows = self.barrier.scan_prefix(&prefix, &prefix, MAX_BACKUP_VERSIONS + 1).await?;
        if rows.len() > MAX_BACKUP_VERSIONS {
            return Err(Error::bad(format!(
                "A secret with more than {MAX_BACKUP_VERSIONS} versions cannot be backed up."
            )));
        }
        let versions = rows.iter().map(|(k, b)| decode::<VersionRec>(k, b)).collect::<Result<Vec<_>>>()?;
        let doc =
            SecretBackup { format: 1, kind: "secret".into(), name: head.name, latest: head.latest.version, versions };
        let plain = SecretBytes::new(encode(&doc)?);
        let mut blob = BACKUP_MAGIC.to_vec();
        self.backup_key.seal_into(BACKUP_AAD, plain.expose(), &mut blob)?;
        Ok(blob)
    }

    /// `POST /secrets/restore`: all versions with their original ids. The name must be free.
    pub async fn restore_secret(&self, vault: &str, blob: &[u8]) -> Result<SecretView> {
        let v = self.vault(vault).await?;
        let invalid = || Error::bad("The backup blob is invalid, corrupt, or was not created by this deployment.");
        let body = blob.strip_prefix(BACKUP_MAGIC.as_slice()).ok_or_else(invalid)?;
        let plain = self.backup_key.open(BACKUP_AAD, body).map_err(|_| invalid())?;
        let doc: SecretBackup = serde_json::from_slice(plain.expose()).map_err(|_| invalid())?;
        if doc.format != 1 || doc.kind != "secret" {
            return Err(invalid());
        }
        let name = ObjectName::parse(&doc.name).map_err(|_| invalid())?;
        let lc = name.key();
        let hk = head_key(&v.name, &lc);
        let dk = deleted_key(&v.name, &lc);
        if self.barrier.get(&dk).await?.is_some() {
            return Err(deleted_conflict(name.as_str()));
        }
        if self.barrier.get(&hk).await?.is_some() {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!("Secret {} already exists in this vault.", name.as_str()),
            ));
        }
        let latest = doc.versions.iter().find(|r| r.meta.version == doc.latest).ok_or_else(invalid)?;
        let head = HeadRec {
            name: name.as_str().to_owned(),
            latest: latest.meta.clone(),
            latest_value: Some(latest.value.clone()),
            deleted: None,
        };
        let mut txn = BTxn::new().absent(&hk).absent(&dk).put(&hk, encode(&head)?);
        for r in &doc.versions {
            Version::parse(&r.meta.version).map_err(|_| invalid())?;
            txn = txn.put(version_key(&v.name, &lc, &r.meta.version), encode_secret(r)?);
        }
        self.barrier.commit(txn).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, format!("Secret {} already exists in this vault.", name.as_str()))
            } else {
                e
            }
        })?;
        Ok(self.view(&v, &head.name, &latest.meta, Some(latest.value.clone()), None))
    }
}

/// Serializes a version record; the buffer holds the value and is handed straight to the
/// barrier, which wipes it after encrypting.
fn encode_secret(r: &VersionRec) -> Result<Vec<u8>> {
    encode(r)
}

/// Where a page starts: the prefix itself, or the resume key (which must lie under the prefix).
fn resume_start(prefix: &str, resume: Option<&str>) -> Result<String> {
    match resume {
        None => Ok(prefix.to_owned()),
        Some(r) if r.starts_with(prefix) => Ok(r.to_owned()),
        Some(_) => Err(Error::bad("The $skiptoken does not belong to this listing.")),
    }
}
