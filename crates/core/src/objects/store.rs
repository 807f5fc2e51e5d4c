//! The store of one collection: new versions, reads, updates, listings, soft delete and
//! recovery. Purge lives in `purge.rs`, backup blobs in `backup.rs`.
//!
//! [`RawStore`] does the work for any payload type; [`ObjectStore<C>`] is the typed face a
//! service holds, fixing the payload to `C::Payload`.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use strongbox_barrier::keyspace::{self, Area};
use strongbox_barrier::{BTxn, Barrier, Step, View};
use strongbox_crypto::aead::AeadKey;
use strongbox_types::{Clock, Error, ObjectName, Result, Version};

use super::collection::{Collection, Spec, rel};
use super::purge::PurgeHook;
use super::{NewVersion, Object, Page, check_dates, check_tags, check_timestamp};
use crate::DeletedInfo;
use crate::records::{HeadRec, VersionMeta, VersionRec};
use crate::vaults::VaultRecord;

/// Everything a store is built from. Each service's stores share one barrier, clock and
/// backup key.
#[derive(Clone)]
pub(crate) struct StoreDeps {
    pub barrier: Arc<Barrier>,
    pub clock: Arc<dyn Clock>,
    pub backup_key: Arc<AeadKey>,
}

/// The versioned-object store of one collection, for any payload type (see [`ObjectStore`]).
pub(crate) struct RawStore {
    pub(crate) spec: Spec,
    pub(crate) heads: View,
    pub(crate) versions: View,
    pub(crate) deleted: View,
    pub(super) schedule: View,
    pub(super) backup_key: Arc<AeadKey>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) hook: Option<Arc<dyn PurgeHook>>,
}

/// The typed store of collection `C`.
pub(crate) struct ObjectStore<C: Collection> {
    raw: RawStore,
    _c: PhantomData<fn() -> C>,
}

impl RawStore {
    pub(crate) fn new(spec: Spec, deps: &StoreDeps, hook: Option<Arc<dyn PurgeHook>>) -> Self {
        let view = |a: Area| View::new(deps.barrier.clone(), a);
        Self {
            heads: view(spec.heads),
            versions: view(spec.versions),
            deleted: view(spec.deleted),
            schedule: view(keyspace::PURGE_SCHEDULE),
            spec,
            backup_key: deps.backup_key.clone(),
            clock: deps.clock.clone(),
            hook,
        }
    }

    pub(super) fn barrier(&self) -> &Arc<Barrier> {
        self.heads.barrier()
    }

    /// The purge-schedule entry of an object whose purge is due at `when`.
    pub(super) fn schedule_key(&self, when: i64, vault: &str, lc: &str) -> String {
        self.spec.schedule_rel(when, vault, lc)
    }

    /// A new version, which becomes the latest. Refused while the name is soft-deleted, and
    /// (the managed-by rule) while the object backs a certificate.
    pub(crate) async fn create<P: Serialize + DeserializeOwned + Clone>(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        new: NewVersion<P>,
    ) -> Result<Object<P>> {
        check_tags(&new.tags)?;
        check_timestamp("nbf", new.nbf)?;
        check_timestamp("exp", new.exp)?;
        check_dates(new.nbf, new.exp)?;
        let r = rel(&v.name, &name.key());
        let (r, new) = (&r, &new);
        self.barrier()
            .transact(
                || self.spec.busy(),
                || async move {
                    let now = self.clock.now();
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
                    let vr = format!("{r}/{}", meta.version);
                    let (display, txn) = match self.heads.get_versioned::<HeadRec<P>>(r).await? {
                        // The key and secret behind a certificate get new versions only from it.
                        Some((head, _)) if head.latest.managed => return Err(self.spec.managed_error("set")),
                        Some((head, stamp)) => (head.name, self.heads.unchanged(BTxn::new(), r, &stamp)),
                        None => {
                            if self.deleted.exists(r).await? {
                                return Err(self.spec.deleted_conflict(name.as_str()));
                            }
                            (name.as_str().to_owned(), self.deleted.absent(self.heads.absent(BTxn::new(), r), r))
                        }
                    };
                    let rec = VersionRec { meta: meta.clone(), payload: new.payload.clone() };
                    let head = HeadRec {
                        name: display.clone(),
                        latest: meta.clone(),
                        latest_payload: Some(new.payload.clone()),
                        deleted: None,
                    };
                    let txn = self.versions.put(self.versions.absent(txn, &vr), &vr, &rec)?;
                    let txn = self.heads.put(txn, r, &head)?;
                    let o = Object { name: display, meta, payload: Some(new.payload.clone()), deleted: None };
                    Ok(Step::Commit(txn, o))
                },
            )
            .await
    }

    /// One version (latest when `version` is `None`), with its payload. Disabled versions are
    /// refused, as Azure does.
    pub(crate) async fn get<P: DeserializeOwned + Clone>(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<Object<P>> {
        let r = rel(&v.name, &name.key());
        let head: HeadRec<P> = self.heads.get(&r).await?.ok_or_else(|| self.spec.not_found(name.as_str(), None))?;
        let (meta, payload) = match (version, head.latest_payload) {
            (None, Some(p)) => (head.latest, p),
            (version, _) => {
                let ver = match version {
                    Some(s) => self.spec.parse_version(name, s)?,
                    None => head.latest.version.clone(),
                };
                let rec: VersionRec<P> = self
                    .versions
                    .get(&format!("{r}/{ver}"))
                    .await?
                    .ok_or_else(|| self.spec.not_found(name.as_str(), Some(&ver)))?;
                (rec.meta, rec.payload)
            }
        };
        if !meta.enabled {
            return Err(self.spec.disabled());
        }
        Ok(Object { name: head.name, meta, payload: Some(payload), deleted: None })
    }

    /// Refuses a direct change (`op`) to an object that backs a certificate, live or deleted
    /// (Azure: 403 `KeyManagedByKeyVault` / `SecretManagedByKeyVault`).
    pub(crate) async fn refuse_managed(&self, v: &VaultRecord, name: &ObjectName, op: &str) -> Result<()> {
        let r = rel(&v.name, &name.key());
        let head = match self.heads.get::<HeadRec<IgnoredAny>>(&r).await? {
            Some(h) => Some(h),
            None => self.deleted.get::<HeadRec<IgnoredAny>>(&r).await?,
        };
        if head.is_some_and(|h| h.latest.managed) {
            return Err(self.spec.managed_error(op));
        }
        Ok(())
    }

    /// Changes one version (latest when `version` is `None`) with `change`, keeping the head's
    /// copy in step. Returns the changed version with its payload.
    pub(crate) async fn update<P, F>(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        version: Option<&str>,
        change: F,
    ) -> Result<Object<P>>
    where
        P: Serialize + DeserializeOwned + Clone,
        F: FnMut(&mut VersionMeta, &mut P) -> Result<()>,
    {
        let r = rel(&v.name, &name.key());
        let r = &r;
        let change = std::sync::Mutex::new(change);
        let change = &change;
        self.barrier()
            .transact(
                || self.spec.busy(),
                || async move {
                    let (head, head_stamp) = self
                        .heads
                        .get_versioned::<HeadRec<P>>(r)
                        .await?
                        .ok_or_else(|| self.spec.not_found(name.as_str(), None))?;
                    let ver = match version {
                        Some(s) => self.spec.parse_version(name, s)?,
                        None => head.latest.version.clone(),
                    };
                    let vr = format!("{r}/{ver}");
                    let (mut rec, stamp) = self
                        .versions
                        .get_versioned::<VersionRec<P>>(&vr)
                        .await?
                        .ok_or_else(|| self.spec.not_found(name.as_str(), Some(&ver)))?;
                    let (old_nbf, old_exp) = (rec.meta.nbf, rec.meta.exp);
                    {
                        let mut f = change.lock().map_err(|_| Error::internal("object update poisoned"))?;
                        (*f)(&mut rec.meta, &mut rec.payload)?;
                    }
                    check_tags(&rec.meta.tags)?;
                    // Only times this update sets are range-checked: a certificate's stored
                    // X.509 dates may lie before 1970.
                    if rec.meta.nbf != old_nbf {
                        check_timestamp("nbf", rec.meta.nbf)?;
                    }
                    if rec.meta.exp != old_exp {
                        check_timestamp("exp", rec.meta.exp)?;
                    }
                    check_dates(rec.meta.nbf, rec.meta.exp)?;
                    rec.meta.updated = self.clock.now();
                    let mut new_head = head.clone();
                    if head.latest.version == ver {
                        new_head.latest = rec.meta.clone();
                        new_head.latest_payload = Some(rec.payload.clone());
                    }
                    let txn = self.versions.put(self.versions.unchanged(BTxn::new(), &vr, &stamp), &vr, &rec)?;
                    let txn = self.heads.put(self.heads.unchanged(txn, r, &head_stamp), r, &new_head)?;
                    let o = Object { name: head.name, meta: rec.meta, payload: Some(rec.payload), deleted: None };
                    Ok(Step::Commit(txn, o))
                },
            )
            .await
    }

    /// Latest-version metadata of every live (or deleted) object, by name. Payloads are
    /// skipped while decoding: a list never materialises secret values or key material.
    pub(crate) async fn list<P>(
        &self,
        v: &VaultRecord,
        deleted: bool,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Page<P>> {
        let view = if deleted { &self.deleted } else { &self.heads };
        let (rows, next) = page::<HeadRec<IgnoredAny>>(view, &format!("{}/", v.name), resume, max).await?;
        let items = rows
            .into_iter()
            .map(|h| Object { name: h.name, meta: h.latest, payload: None, deleted: h.deleted })
            .collect();
        Ok(Page { items, next })
    }

    /// Every version of a live object. An unknown or deleted name lists nothing.
    pub(crate) async fn list_versions<P>(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Page<P>> {
        let r = rel(&v.name, &name.key());
        let Some(head) = self.heads.get::<HeadRec<IgnoredAny>>(&r).await? else {
            return Ok(Page { items: Vec::new(), next: None });
        };
        let (rows, next) = page::<VersionRec<IgnoredAny>>(&self.versions, &format!("{r}/"), resume, max).await?;
        let items = rows
            .into_iter()
            .map(|rec| Object { name: head.name.clone(), meta: rec.meta, payload: None, deleted: None })
            .collect();
        Ok(Page { items, next })
    }

    /// Soft delete of every version; visible under deleted at once, and scheduled for purge
    /// after the vault's retention period.
    pub(crate) async fn delete<P: Serialize + DeserializeOwned>(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        let lc = name.key();
        let r = rel(&v.name, &lc);
        let (r, lc) = (&r, &lc);
        self.barrier()
            .transact(
                || self.spec.busy(),
                || async move {
                    let (mut head, stamp) = self
                        .heads
                        .get_versioned::<HeadRec<P>>(r)
                        .await?
                        .ok_or_else(|| self.spec.not_found(name.as_str(), None))?;
                    let now = self.clock.now();
                    let info = DeletedInfo {
                        deleted_date: now,
                        scheduled_purge_date: now + i64::from(v.retention_days) * 86_400,
                    };
                    head.deleted = Some(info);
                    let txn = self.heads.unchanged(BTxn::new(), r, &stamp);
                    let txn = self.heads.delete(self.deleted.absent(txn, r), r);
                    let txn = self.deleted.put(txn, r, &head)?;
                    let txn = self.schedule.put_bytes(
                        txn,
                        &self.schedule_key(info.scheduled_purge_date, &v.name, lc),
                        Vec::new(),
                    );
                    let o = Object {
                        name: head.name,
                        meta: head.latest,
                        payload: head.latest_payload,
                        deleted: Some(info),
                    };
                    Ok(Step::Commit(txn, o))
                },
            )
            .await
    }

    pub(crate) async fn get_deleted<P: DeserializeOwned>(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        let head: HeadRec<P> = self
            .deleted
            .get(&rel(&v.name, &name.key()))
            .await?
            .ok_or_else(|| self.spec.deleted_not_found(name.as_str()))?;
        Ok(Object { name: head.name, meta: head.latest, payload: head.latest_payload, deleted: head.deleted })
    }

    /// Back to live, every version intact.
    pub(crate) async fn recover<P: Serialize + DeserializeOwned>(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        let lc = name.key();
        let r = rel(&v.name, &lc);
        let (mut head, stamp) = self
            .deleted
            .get_versioned::<HeadRec<P>>(&r)
            .await?
            .ok_or_else(|| self.spec.deleted_not_found(name.as_str()))?;
        let txn = self.deleted.unchanged(BTxn::new(), &r, &stamp);
        let mut txn = self.deleted.delete(self.heads.absent(txn, &r), &r);
        if let Some(info) = head.deleted.take() {
            txn = self.schedule.delete(txn, &self.schedule_key(info.scheduled_purge_date, &v.name, &lc));
        }
        let txn = self.heads.put(txn, &r, &head)?;
        self.barrier().commit(txn).await?;
        Ok(Object { name: head.name, meta: head.latest, payload: head.latest_payload, deleted: None })
    }
}

/// One page of `view`'s records under `rel_prefix`, and where the next page starts. The resume
/// token is the full storage key of the next record (it must lie under the prefix).
async fn page<T: DeserializeOwned>(
    view: &View,
    rel_prefix: &str,
    resume: Option<&str>,
    max: usize,
) -> Result<(Vec<T>, Option<String>)> {
    let start = match resume {
        None => rel_prefix.to_owned(),
        Some(token) => match view.relative(token) {
            Some(r) if r.starts_with(rel_prefix) => r.to_owned(),
            _ => return Err(Error::bad("The $skiptoken does not belong to this listing.")),
        },
    };
    let mut rows = view.scan::<T>(rel_prefix, &start, max + 1).await?;
    let next = if rows.len() > max { rows.pop().map(|(k, _)| view.key(&k)) } else { None };
    Ok((rows.into_iter().map(|(_, t)| t).collect(), next))
}

impl<C: Collection> ObjectStore<C> {
    pub(crate) fn new(deps: &StoreDeps, hook: Option<Arc<dyn PurgeHook>>) -> Self {
        Self { raw: RawStore::new(C::SPEC, deps, hook), _c: PhantomData }
    }

    /// The untyped store, for transactions that span collections (a certificate with its key
    /// and secret).
    pub(crate) fn raw(&self) -> &RawStore {
        &self.raw
    }

    pub(crate) fn spec(&self) -> &Spec {
        &self.raw.spec
    }

    pub(crate) async fn create(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        new: NewVersion<C::Payload>,
    ) -> Result<Object<C::Payload>> {
        self.raw.create(v, name, new).await
    }

    pub(crate) async fn get(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<Object<C::Payload>> {
        self.raw.get(v, name, version).await
    }

    pub(crate) async fn refuse_managed(&self, v: &VaultRecord, name: &ObjectName, op: &str) -> Result<()> {
        self.raw.refuse_managed(v, name, op).await
    }

    pub(crate) async fn update(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        version: Option<&str>,
        change: impl FnMut(&mut VersionMeta, &mut C::Payload) -> Result<()>,
    ) -> Result<Object<C::Payload>> {
        self.raw.update(v, name, version, change).await
    }

    pub(crate) async fn list(
        &self,
        v: &VaultRecord,
        deleted: bool,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Page<C::Payload>> {
        self.raw.list(v, deleted, resume, max).await
    }

    pub(crate) async fn list_versions(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Page<C::Payload>> {
        self.raw.list_versions(v, name, resume, max).await
    }

    pub(crate) async fn delete(&self, v: &VaultRecord, name: &ObjectName) -> Result<Object<C::Payload>> {
        self.raw.delete(v, name).await
    }

    pub(crate) async fn get_deleted(&self, v: &VaultRecord, name: &ObjectName) -> Result<Object<C::Payload>> {
        self.raw.get_deleted(v, name).await
    }

    pub(crate) async fn recover(&self, v: &VaultRecord, name: &ObjectName) -> Result<Object<C::Payload>> {
        self.raw.recover(v, name).await
    }

    pub(crate) async fn purge(&self, v: &VaultRecord, name: &ObjectName) -> Result<()> {
        self.raw.purge(v, name).await
    }

    pub(crate) async fn backup(&self, v: &VaultRecord, name: &ObjectName) -> Result<Vec<u8>> {
        self.raw.backup::<C::Payload>(v, name).await
    }

    pub(crate) async fn restore(&self, v: &VaultRecord, blob: &[u8]) -> Result<Object<C::Payload>> {
        self.raw.restore(v, blob).await
    }
}
