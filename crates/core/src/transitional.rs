//! transitional: the object-store calls of the old single `Core` (`self.obj_get(&KEYS, …)`),
//! kept so the modules other branches are moving (certificates) compile unchanged. Each
//! forwards to the store of the collection the [`Spec`] names. Removed when certificates move.

use serde::Serialize;
use serde::de::DeserializeOwned;
use strongbox_barrier::BTxn;
use strongbox_types::{ObjectName, Result};

use crate::Core;
use crate::objects::{NewVersion, Object, Page, Spec};
use crate::records::{Backup, VersionMeta};
use crate::vaults::VaultRecord;

#[allow(dead_code)]
impl Core {
    pub(crate) async fn obj_create<P: Serialize + DeserializeOwned + Clone>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
        new: NewVersion<P>,
    ) -> Result<Object<P>> {
        self.raw_store(c)?.create(v, name, new).await
    }

    pub(crate) async fn obj_get<P: DeserializeOwned + Clone>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<Object<P>> {
        self.raw_store(c)?.get(v, name, version).await
    }

    pub(crate) async fn obj_update<P, F>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
        version: Option<&str>,
        change: F,
    ) -> Result<Object<P>>
    where
        P: Serialize + DeserializeOwned + Clone,
        F: FnMut(&mut VersionMeta, &mut P) -> Result<()>,
    {
        self.raw_store(c)?.update(v, name, version, change).await
    }

    pub(crate) async fn obj_list<P>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        deleted: bool,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Page<P>> {
        self.raw_store(c)?.list(v, deleted, resume, max).await
    }

    pub(crate) async fn obj_list_versions<P>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
        resume: Option<&str>,
        max: usize,
    ) -> Result<Page<P>> {
        self.raw_store(c)?.list_versions(v, name, resume, max).await
    }

    pub(crate) async fn obj_delete<P: Serialize + DeserializeOwned>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        self.raw_store(c)?.delete(v, name).await
    }

    pub(crate) async fn obj_get_deleted<P: DeserializeOwned>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        self.raw_store(c)?.get_deleted(v, name).await
    }

    pub(crate) async fn obj_recover<P: Serialize + DeserializeOwned>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Object<P>> {
        self.raw_store(c)?.recover(v, name).await
    }

    pub(crate) async fn obj_purge(&self, c: &Spec, v: &VaultRecord, name: &ObjectName) -> Result<()> {
        self.raw_store(c)?.purge(v, name).await
    }

    pub(crate) async fn purge_now(&self, c: &Spec, vault: &str, lc: &str, due_by: Option<i64>) -> Result<bool> {
        self.raw_store(c)?.purge_now(vault, lc, due_by).await
    }

    pub(crate) async fn obj_backup<P: Serialize + DeserializeOwned>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Vec<u8>> {
        self.raw_store(c)?.backup::<P>(v, name).await
    }

    pub(crate) async fn obj_restore<P: Serialize + DeserializeOwned + Clone>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        blob: &[u8],
    ) -> Result<Object<P>> {
        self.raw_store(c)?.restore(v, blob).await
    }

    pub(crate) fn obj_open_backup<P: DeserializeOwned>(&self, c: &Spec, blob: &[u8]) -> Result<Backup<P>> {
        self.raw_store(c)?.open_backup(blob)
    }

    pub(crate) async fn obj_stage_restore<P: Serialize + DeserializeOwned + Clone>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        doc: Backup<P>,
        txn: BTxn,
    ) -> Result<(Object<P>, BTxn)> {
        self.raw_store(c)?.stage_restore(v, doc, txn).await
    }
}
