//! Versioned objects with soft delete, shared by every collection (secrets, keys, and later
//! certificates): a new version per write, a head record per name, move-on-delete, recovery,
//! purge (explicit and scheduled), and encrypted backup blobs.
//!
//! Storage layout, for a collection with prefixes `L` (live), `V` (versions), `D` (deleted):
//! `L/{vault}/{name}` head, `V/{vault}/{name}/{version}` versions, `D/{vault}/{name}` deleted head,
//! `purge/{when:012}/L/{vault}/{name}` scheduled purge index. Names are stored lower-case.

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretBytes, Version};

use crate::records::{Backup, HeadRec, Tags, VersionMeta, VersionRec};
use crate::vaults::VaultRecord;
use crate::{CAS_RETRIES, Core, DeletedInfo, decode, encode};

pub const MAX_TAGS: usize = 15;
pub const MAX_TAG_NAME: usize = 512;
pub const MAX_TAG_VALUE: usize = 256;
pub const MAX_BACKUP_VERSIONS: usize = 500;
const BACKUP_MAGIC: &[u8; 4] = b"SBK1";

/// What differs between collections.
pub(crate) struct Collection {
    pub live: &'static str,
    pub versions: &'static str,
    pub deleted: &'static str,
    /// Lower-case noun for messages ("secret").
    pub noun: &'static str,
    /// Capitalised noun for messages ("Secret").
    pub title: &'static str,
    pub not_found: ErrorKind,
    pub disabled: ErrorKind,
    pub backup_aad: &'static [u8],
}

/// Every collection, so background purge can find what an index entry points to.
pub(crate) const COLLECTIONS: &[&Collection] =
    &[&crate::secrets::SECRETS, &crate::keys::KEYS, &crate::certificates::CERTS];

/// The attributes every object version shows (Azure's `attributes` member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    pub recovery_level: &'static str,
    pub recoverable_days: i64,
}

impl Attributes {
    pub(crate) fn of(v: &VaultRecord, m: &VersionMeta) -> Self {
        Self {
            enabled: m.enabled,
            nbf: m.nbf,
            exp: m.exp,
            created: m.created,
            updated: m.updated,
            recovery_level: v.recovery_level(),
            recoverable_days: i64::from(v.retention_days),
        }
    }
}

/// Attribute and tag changes common to every collection; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct CommonUpdate {
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

impl CommonUpdate {
    pub(crate) fn apply(&self, m: &mut VersionMeta) {
        if let Some(t) = &self.tags {
            m.tags = Some(t.clone());
        }
        if let Some(e) = self.enabled {
            m.enabled = e;
        }
        if self.nbf.is_some() {
            m.nbf = self.nbf;
        }
        if self.exp.is_some() {
            m.exp = self.exp;
        }
    }
}

/// One version as the services hand it to the API layer.
#[derive(Debug, Clone)]
pub(crate) struct Object<P> {
    pub name: String,
    pub meta: VersionMeta,
    pub payload: Option<P>,
    pub deleted: Option<DeletedInfo>,
}

pub(crate) struct Page<P> {
    pub items: Vec<Object<P>>,
    pub next: Option<String>,
}

/// Fields of a new version.
pub(crate) struct NewVersion<P> {
    pub payload: P,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

impl Collection {
    pub(crate) fn head_key(&self, vault: &str, lc: &str) -> String {
        format!("{}/{vault}/{lc}", self.live)
    }
    pub(crate) fn deleted_key(&self, vault: &str, lc: &str) -> String {
        format!("{}/{vault}/{lc}", self.deleted)
    }
    pub(crate) fn versions_prefix(&self, vault: &str, lc: &str) -> String {
        format!("{}/{vault}/{lc}/", self.versions)
    }
    pub(crate) fn version_key(&self, vault: &str, lc: &str, version: &str) -> String {
        format!("{}/{vault}/{lc}/{version}", self.versions)
    }
    pub(crate) fn purge_key(&self, when: i64, vault: &str, lc: &str) -> String {
        format!("purge/{:012}/{}/{vault}/{lc}", when.max(0), self.live)
    }

    pub fn not_found(&self, name: &str, version: Option<&str>) -> Error {
        let what = match version {
            Some(v) => format!("{name}/{v}"),
            None => name.to_owned(),
        };
        Error::new(
            self.not_found,
            format!(
                "A {} with (name/id) {what} was not found in this key vault. If you recently deleted this {} you may be able to recover it using the correct recovery command.",
                self.noun, self.noun
            ),
        )
    }

    pub(crate) fn deleted_conflict(&self, name: &str) -> Error {
        Error::new(
            ErrorKind::DeletedButRecoverable,
            format!(
                "{} {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the {} can only be recovered or purged.",
                self.title, self.noun
            ),
        )
    }

    pub(crate) fn deleted_not_found(&self, name: &str) -> Error {
        Error::new(self.not_found, format!("Deleted {} not found: {name}", self.title))
    }

    pub(crate) fn exists(&self, name: &str) -> Error {
        Error::new(ErrorKind::Conflict, format!("{} {name} already exists in this vault.", self.title))
    }

    pub(crate) fn busy(&self) -> Error {
        Error::new(ErrorKind::Conflict, format!("The {} is being changed by another request; retry.", self.noun))
    }

    pub(crate) fn parse_version(&self, name: &ObjectName, v: &str) -> Result<String> {
        Version::parse(v).map(|v| v.as_str().to_owned()).map_err(|_| self.not_found(name.as_str(), Some(v)))
    }
}

pub(crate) fn check_tags(tags: &Option<Tags>) -> Result<()> {
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

/// The latest `nbf`/`exp` accepted (9999-12-31T23:59:59Z, the last second every SDK's date type
/// and X.509 can show). The earliest is the Unix epoch. Keeping input times in this range keeps
/// every sum of a time and a bounded duration far from `i64` overflow.
pub const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// Refuses an input time outside `0..=MAX_TIMESTAMP` (400 BadParameter).
pub(crate) fn check_timestamp(what: &str, t: Option<i64>) -> Result<()> {
    match t {
        Some(t) if !(0..=MAX_TIMESTAMP).contains(&t) => Err(Error::bad(format!(
            "The '{what}' attribute must be a Unix time in seconds from 0 to {MAX_TIMESTAMP} (9999-12-31T23:59:59Z)."
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn check_dates(nbf: Option<i64>, exp: Option<i64>) -> Result<()> {
    if let (Some(n), Some(e)) = (nbf, exp)
        && n > e
    {
        return Err(Error::bad("The 'nbf' attribute must not be later than 'exp'."));
    }
    Ok(())
}

/// Where a page starts: the prefix itself, or the resume key (which must lie under the prefix).
fn resume_start(prefix: &str, resume: Option<&str>) -> Result<String> {
    match resume {
        None => Ok(prefix.to_owned()),
        Some(r) if r.starts_with(prefix) => Ok(r.to_owned()),
        Some(_) => Err(Error::bad("The $skiptoken does not belong to this listing.")),
    }
}

impl Core {
    /// A new version, which becomes the latest. Refused while the name is soft-deleted.
    pub(crate) async fn obj_create<P: Serialize + DeserializeOwned + Clone>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        name: &ObjectName,
        new: NewVersion<P>,
    ) -> Result<Object<P>> {
        check_tags(&new.tags)?;
        check_timestamp("nbf", new.nbf)?;
        check_timestamp("exp", new.exp)?;
        check_dates(new.nbf, new.exp)?;
        let lc = name.key();
        let hk = c.head_key(&v.name, &lc);
        let dk = c.deleted_key(&v.name, &lc);
        for _ in 0..CAS_RETRIES {
            let now = self.now();
            let meta = VersionMeta {
                version: Version::from_random(strongbox_crypto::random_array()?).as_str().to_owned(),
                content_type: new.content_type.clone(),
                tags: new.tags.clone(),
                enabled: new.enabled.unwrap_or(true),
                nbf: new.nbf,
                exp: new.exp,
                created: now,
                updated: now,
                managed: false,
            };
            let vk = c.version_key(&v.name, &lc, &meta.version);
            let (display, mut txn) = match self.read_json_versioned::<HeadRec<P>>(&hk).await? {
                // The key and secret behind a certificate get new versions only from it.
                Some((head, _)) if head.latest.managed => return Err(crate::certificates::managed_error(c, "set")),
                Some((head, stamp)) => (head.name, BTxn::new().unchanged(&hk, &stamp)),
                None => {
                    if self.barrier.get(&dk).await?.is_some() {
                        return Err(c.deleted_conflict(name.as_str()));
                    }
                    (name.as_str().to_owned(), BTxn::new().absent(&hk).absent(&dk))
                }
            };
            let rec = VersionRec { meta: meta.clone(), payload: new.payload.clone() };
            let head = HeadRec {
                name: display.clone(),
                latest: meta.clone(),
                latest_payload: Some(new.payload.clone()),
                deleted: None,
            };
            txn = txn.absent(&vk).put(&vk, encode(&rec)?).put(&hk, encode(&head)?);
            match self.barrier.commit(txn).await {
                Ok(()) => return Ok(Object { name: display, meta, payload: Some(new.payload), deleted: None }),
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(c.busy())
    }

    /// One version (latest when `version` is `None`), with its payload. Disabled versions are
    /// refused, as Azure does.
    pub(crate) async fn obj_get<P: DeserializeOwned + Clone>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<Object<P>> {
        let lc = name.key();
        let head: HeadRec<P> =
            self.read_json(&c.head_key(&v.name, &lc)).await?.ok_or_else(|| c.not_found(name.as_str(), None))?;
        let disabled = || Error::new(c.disabled, format!("Operation get is not allowed on a disabled {}.", c.noun));
        let (meta, payload) = match (version, head.latest_payload) {
            (None, Some(p)) => (head.latest, p),
            (version, _) => {
                let ver = match version {
                    Some(s) => c.parse_version(name, s)?,
                    None => head.latest.version.clone(),
                };
                let rec: VersionRec<P> = self
                    .read_json(&c.version_key(&v.name, &lc, &ver))
                    .await?
                    .ok_or_else(|| c.not_found(name.as_str(), Some(&ver)))?;
                (rec.meta, rec.payload)
            }
        };
        if !meta.enabled {
            return Err(disabled());
        }
        Ok(Object { name: head.name, meta, payload: Some(payload), deleted: None })
    }

    /// Changes one version (latest when `version` is `None`) with `change`, keeping the head's
    /// copy in step. Returns the changed version with its payload.
    pub(crate) async fn obj_update<P, F>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        name: &ObjectName,
        version: Option<&str>,
        mut change: F,
    ) -> Result<Object<P>>
    where
        P: Serialize + DeserializeOwned + Clone,
        F: FnMut(&mut VersionMeta, &mut P) -> Result<()>,
    {
        let lc = name.key();
        let hk = c.head_key(&v.name, &lc);
        for _ in 0..CAS_RETRIES {
            let (head, head_stamp) =
                self.read_json_versioned::<HeadRec<P>>(&hk).await?.ok_or_else(|| c.not_found(name.as_str(), None))?;
            let ver = match version {
                Some(s) => c.parse_version(name, s)?,
                None => head.latest.version.clone(),
            };
            let vk = c.version_key(&v.name, &lc, &ver);
            let (mut rec, stamp) = self
                .read_json_versioned::<VersionRec<P>>(&vk)
                .await?
                .ok_or_else(|| c.not_found(name.as_str(), Some(&ver)))?;
            let (old_nbf, old_exp) = (rec.meta.nbf, rec.meta.exp);
            change(&mut rec.meta, &mut rec.payload)?;
            check_tags(&rec.meta.tags)?;
            // Only times this update sets are range-checked: a certificate's stored X.509 dates
            // may lie before 1970.
            if rec.meta.nbf != old_nbf {
                check_timestamp("nbf", rec.meta.nbf)?;
            }
            if rec.meta.exp != old_exp {
                check_timestamp("exp", rec.meta.exp)?;
            }
            check_dates(rec.meta.nbf, rec.meta.exp)?;
            rec.meta.updated = self.now();
            let mut new_head = head.clone();
            if head.latest.version == ver {
                new_head.latest = rec.meta.clone();
                new_head.latest_payload = Some(rec.payload.clone());
            }
            let txn = BTxn::new()
                .unchanged(&vk, &stamp)
                .put(&vk, encode(&rec)?)
                .unchanged(&hk, &head_stamp)
                .put(&hk, encode(&new_head)?);
            match self.barrier.commit(txn).await {
                Ok(()) => {
                    return Ok(Object { name: head.name, meta: rec.meta, payload: Some(rec.payload), deleted: None });
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(c.busy())
    }

    /// One page of records under `prefix`, decoded by `f`, and where the next page starts.
    async fn scan_page<T>(
        &self,
        prefix: &str,
        resume: Option<&str>,
        max: usize,
        f: impl Fn(&str, &SecretBytes) -> Result<T>,
    ) -> Result<(Vec<T>, Option<String>)> {
        let start = resume_start(prefix, resume)?;
        let mut rows = self.barrier.scan_prefix(prefix, &start, max + 1).await?;
        let next = if rows.len() > max { rows.pop().map(|(k, _)| k) } else { None };
        let items = rows.iter().map(|(k, b)| f(k, b)).collect::<Result<Vec<_>>>()?;
        Ok((items, next))
    }

    /// Latest-version metadata of every live (or deleted) object, by name. Payloads are
    /// skipped while decoding: a list never materialises secret values or key material.
    pub(crate) async fn obj_list<P>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        deleted: bool,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Page<P>> {
        let prefix = format!("{}/{}/", if deleted { c.deleted } else { c.live }, v.name);
        let (items, next) = self
            .scan_page(&prefix, resume, max, |k, b| {
                let h: HeadRec<IgnoredAny> = decode(k, b)?;
                Ok(Object { name: h.name, meta: h.latest, payload: None, deleted: h.deleted })
            })
            .await?;
        Ok(Page { items, next })
    }

    /// Every version of a live object. An unknown or deleted name lists nothing.
    pub(crate) async fn obj_list_versions<P>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        name: &ObjectName,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Page<P>> {
        let lc = name.key();
        let Some(head) = self.read_json::<HeadRec<IgnoredAny>>(&c.head_key(&v.name, &lc)).await? else {
            return Ok(Page { items: Vec::new(), next: None });
        };
        let (items, next) = self
            .scan_page(&c.versions_prefix(&v.name, &lc), resume, max, |k, b| {
                let r: VersionRec<IgnoredAny> = decode(k, b)?;
                Ok(Object { name: head.name.clone(), meta: r.meta, payload: None, deleted: None })
            })
            .await?;
        Ok(Page { items, next })
    }

    /// Soft delete of every version; visible under deleted at once.
    pub(crate) async fn obj_delete<P: Serialize + DeserializeOwned>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        let lc = name.key();
        let hk = c.head_key(&v.name, &lc);
        let dk = c.deleted_key(&v.name, &lc);
        for _ in 0..CAS_RETRIES {
            let (mut head, stamp) =
                self.read_json_versioned::<HeadRec<P>>(&hk).await?.ok_or_else(|| c.not_found(name.as_str(), None))?;
            let now = self.now();
            let info =
                DeletedInfo { deleted_date: now, scheduled_purge_date: now + i64::from(v.retention_days) * 86_400 };
            head.deleted = Some(info);
            let txn = BTxn::new()
                .unchanged(&hk, &stamp)
                .absent(&dk)
                .delete(&hk)
                .put(&dk, encode(&head)?)
                .put(c.purge_key(info.scheduled_purge_date, &v.name, &lc), Vec::new());
            match self.barrier.commit(txn).await {
                Ok(()) => {
                    return Ok(Object {
                        name: head.name,
                        meta: head.latest,
                        payload: head.latest_payload,
                        deleted: Some(info),
                    });
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(c.busy())
    }

    pub(crate) async fn obj_get_deleted<P: DeserializeOwned>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        let head: HeadRec<P> = self
            .read_json(&c.deleted_key(&v.name, &name.key()))
            .await?
            .ok_or_else(|| c.deleted_not_found(name.as_str()))?;
        Ok(Object { name: head.name, meta: head.latest, payload: head.latest_payload, deleted: head.deleted })
    }

    /// Back to live, every version intact.
    pub(crate) async fn obj_recover<P: Serialize + DeserializeOwned>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        let lc = name.key();
        let hk = c.head_key(&v.name, &lc);
        let dk = c.deleted_key(&v.name, &lc);
        let (mut head, stamp) =
            self.read_json_versioned::<HeadRec<P>>(&dk).await?.ok_or_else(|| c.deleted_not_found(name.as_str()))?;
        let mut txn = BTxn::new().unchanged(&dk, &stamp).absent(&hk).delete(&dk);
        if let Some(info) = head.deleted.take() {
            txn = txn.delete(c.purge_key(info.scheduled_purge_date, &v.name, &lc));
        }
        txn = txn.put(&hk, encode(&head)?);
        self.barrier.commit(txn).await?;
        Ok(Object { name: head.name, meta: head.latest, payload: head.latest_payload, deleted: None })
    }

    /// Permanent removal of a deleted object. Refused while purge protection holds it.
    pub(crate) async fn obj_purge(&self, c: &Collection, v: &VaultRecord, name: &ObjectName) -> Result<()> {
        if v.purge_protection {
            return Err(Error::new(
                ErrorKind::PurgeProtected,
                format!(
                    "Operation 'PurgeDeleted{}' is not allowed because purge protection is enabled for vault '{}'. The {} will be purged automatically after its retention period.",
                    c.title, v.name, c.noun
                ),
            ));
        }
        if !self.purge_now(c, &v.name, &name.key(), None).await? {
            return Err(c.deleted_not_found(name.as_str()));
        }
        Ok(())
    }

    /// Removes a deleted object and every version. Returns false when it is not deleted (or,
    /// with `due_by`, when its scheduled purge date is later than that).
    pub(crate) async fn purge_now(&self, c: &Collection, vault: &str, lc: &str, due_by: Option<i64>) -> Result<bool> {
        let dk = c.deleted_key(vault, lc);
        // The payload is not needed to purge: read the head generically.
        let Some((head, stamp)) = self.read_json_versioned::<HeadRec<IgnoredAny>>(&dk).await? else {
            return Ok(false);
        };
        if let (Some(t), Some(info)) = (due_by, head.deleted)
            && info.scheduled_purge_date > t
        {
            return Ok(false);
        }
        let prefix = c.versions_prefix(vault, lc);
        let mut txn = BTxn::new().unchanged(&dk, &stamp).delete(&dk);
        if let Some(info) = head.deleted {
            txn = txn.delete(c.purge_key(info.scheduled_purge_date, vault, lc));
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
        // HSM-backed keys: their token objects go too (keys.rs).
        let is_key = c.live == crate::keys::KEYS.live;
        let hsm_ids = if is_key { self.hsm_ids_of(vault, lc).await? } else { Vec::new() };
        self.barrier.commit(txn).await?;
        if is_key {
            self.after_key_purge(vault, lc, &hsm_ids);
        }
        Ok(true)
    }

    /// Purges every deleted object whose `scheduledPurgeDate` has passed. Returns how many.
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
                // purge/{when}/{live prefix}/{vault}/{name}
                let parts: Vec<&str> = k.splitn(5, '/').collect();
                if let [_, _, live, vault, name] = parts.as_slice()
                    && let Some(c) = COLLECTIONS.iter().find(|c| c.live == *live)
                    && self.purge_now(c, vault, name, Some(now)).await?
                {
                    purged += 1;
                    continue;
                }
                // stale or unknown index entry: drop it
                self.barrier.commit(BTxn::new().delete(k)).await?;
            }
        }
    }

    /// Every version, encrypted and authenticated under the deployment backup key.
    pub(crate) async fn obj_backup<P: Serialize + DeserializeOwned>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Vec<u8>> {
        let lc = name.key();
        let head: HeadRec<P> =
            self.read_json(&c.head_key(&v.name, &lc)).await?.ok_or_else(|| c.not_found(name.as_str(), None))?;
        let prefix = c.versions_prefix(&v.name, &lc);
        let rows = self.barrier.scan_prefix(&prefix, &prefix, MAX_BACKUP_VERSIONS + 1).await?;
        if rows.len() > MAX_BACKUP_VERSIONS {
            return Err(Error::bad(format!(
                "A {} with more than {MAX_BACKUP_VERSIONS} versions cannot be backed up.",
                c.noun
            )));
        }
        let versions = rows.iter().map(|(k, b)| decode::<VersionRec<P>>(k, b)).collect::<Result<Vec<_>>>()?;
        let doc = Backup { format: 1, kind: c.noun.into(), name: head.name, latest: head.latest.version, versions };
        let plain = SecretBytes::new(encode(&doc)?);
        let mut blob = BACKUP_MAGIC.to_vec();
        self.backup_key.seal_into(c.backup_aad, plain.expose(), &mut blob)?;
        Ok(blob)
    }

    /// Restores every version with its original id. The name must be free.
    pub(crate) async fn obj_restore<P: Serialize + DeserializeOwned + Clone>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        blob: &[u8],
    ) -> Result<Object<P>> {
        let doc = self.obj_open_backup::<P>(c, blob)?;
        let (o, txn) = self.obj_stage_restore::<P>(c, v, doc, BTxn::new()).await?;
        self.barrier
            .commit(txn)
            .await
            .map_err(|e| if e.kind == ErrorKind::Conflict { c.exists(&o.name) } else { e })?;
        Ok(o)
    }

    /// Decrypts, authenticates and checks a backup blob of collection `c`.
    pub(crate) fn obj_open_backup<P: DeserializeOwned>(&self, c: &Collection, blob: &[u8]) -> Result<Backup<P>> {
        let invalid = || Error::bad("The backup blob is invalid, corrupt, or was not created by this deployment.");
        let body = blob.strip_prefix(BACKUP_MAGIC.as_slice()).ok_or_else(invalid)?;
        let plain = self.backup_key.open(c.backup_aad, body).map_err(|_| invalid())?;
        let doc: Backup<P> = serde_json::from_slice(plain.expose()).map_err(|_| invalid())?;
        if doc.format != 1 || doc.kind != c.noun {
            return Err(invalid());
        }
        ObjectName::parse(&doc.name).map_err(|_| invalid())?;
        if !doc.versions.iter().any(|r| r.meta.version == doc.latest) {
            return Err(invalid());
        }
        for r in &doc.versions {
            Version::parse(&r.meta.version).map_err(|_| invalid())?;
        }
        Ok(doc)
    }

    /// Adds the writes of an opened backup (guarded by "the name is free") to `txn` without
    /// committing: for restores that write several objects in one transaction.
    pub(crate) async fn obj_stage_restore<P: Serialize + DeserializeOwned + Clone>(
        &self,
        c: &Collection,
        v: &VaultRecord,
        doc: Backup<P>,
        txn: BTxn,
    ) -> Result<(Object<P>, BTxn)> {
        let invalid = || Error::bad("The backup blob is invalid, corrupt, or was not created by this deployment.");
        let name = ObjectName::parse(&doc.name).map_err(|_| invalid())?;
        let lc = name.key();
        let hk = c.head_key(&v.name, &lc);
        let dk = c.deleted_key(&v.name, &lc);
        if self.barrier.get(&dk).await?.is_some() {
            return Err(c.deleted_conflict(name.as_str()));
        }
        if self.barrier.get(&hk).await?.is_some() {
            return Err(c.exists(name.as_str()));
        }
        let latest = doc.versions.iter().find(|r| r.meta.version == doc.latest).ok_or_else(invalid)?;
        let head = HeadRec {
            name: name.as_str().to_owned(),
            latest: latest.meta.clone(),
            latest_payload: Some(latest.payload.clone()),
            deleted: None,
        };
        let mut txn = txn.absent(&hk).absent(&dk).put(&hk, encode(&head)?);
        for r in &doc.versions {
            txn = txn.put(c.version_key(&v.name, &lc, &r.meta.version), encode(r)?);
        }
        Ok((Object { name: head.name, meta: head.latest, payload: head.latest_payload, deleted: None }, txn))
    }
}
