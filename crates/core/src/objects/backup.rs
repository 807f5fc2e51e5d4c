//! Backup blobs: every version of an object, encrypted and authenticated under the
//! deployment's backup key and bound to the collection, and restore from them.

use serde::Serialize;
use serde::de::DeserializeOwned;
use strongbox_barrier::{BTxn, encode};
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretBytes, Version};

use super::collection::rel;
use super::store::RawStore;
use super::{MAX_BACKUP_VERSIONS, Object};
use crate::records::{Backup, HeadRec, VersionRec};
use crate::vaults::VaultRecord;

const BACKUP_MAGIC: &[u8; 4] = b"SBK1";

fn invalid() -> Error {
    Error::bad("The backup blob is invalid, corrupt, or was not created by this deployment.")
}

impl RawStore {
    /// Every version, encrypted and authenticated under the deployment backup key.
    pub(crate) async fn backup<P: Serialize + DeserializeOwned>(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
    ) -> Result<Vec<u8>> {
        let r = rel(&v.name, &name.key());
        let head: HeadRec<P> = self.heads.get(&r).await?.ok_or_else(|| self.spec.not_found(name.as_str(), None))?;
        let prefix = format!("{r}/");
        let rows = self.versions.scan::<VersionRec<P>>(&prefix, &prefix, MAX_BACKUP_VERSIONS + 1).await?;
        if rows.len() > MAX_BACKUP_VERSIONS {
            return Err(Error::bad(format!(
                "A {} with more than {MAX_BACKUP_VERSIONS} versions cannot be backed up.",
                self.spec.noun
            )));
        }
        let versions = rows.into_iter().map(|(_, rec)| rec).collect();
        let doc =
            Backup { format: 1, kind: self.spec.noun.into(), name: head.name, latest: head.latest.version, versions };
        let plain = SecretBytes::new(encode(&doc)?);
        let mut blob = BACKUP_MAGIC.to_vec();
        self.backup_key.seal_into(self.spec.backup_aad, plain.expose(), &mut blob)?;
        Ok(blob)
    }

    /// Restores every version with its original id. The name must be free.
    pub(crate) async fn restore<P: Serialize + DeserializeOwned + Clone>(
        &self,
        v: &VaultRecord,
        blob: &[u8],
    ) -> Result<Object<P>> {
        let doc = self.open_backup::<P>(blob)?;
        let (o, txn) = self.stage_restore::<P>(v, doc, BTxn::new()).await?;
        self.barrier()
            .commit(txn)
            .await
            .map_err(|e| if e.kind == ErrorKind::Conflict { self.spec.exists(&o.name) } else { e })?;
        Ok(o)
    }

    /// Decrypts, authenticates and checks a backup blob of this collection.
    pub(crate) fn open_backup<P: DeserializeOwned>(&self, blob: &[u8]) -> Result<Backup<P>> {
        let body = blob.strip_prefix(BACKUP_MAGIC.as_slice()).ok_or_else(invalid)?;
        let plain = self.backup_key.open(self.spec.backup_aad, body).map_err(|_| invalid())?;
        let doc: Backup<P> = serde_json::from_slice(plain.expose()).map_err(|_| invalid())?;
        if doc.format != 1 || doc.kind != self.spec.noun {
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
    pub(crate) async fn stage_restore<P: Serialize + DeserializeOwned + Clone>(
        &self,
        v: &VaultRecord,
        doc: Backup<P>,
        txn: BTxn,
    ) -> Result<(Object<P>, BTxn)> {
        let name = ObjectName::parse(&doc.name).map_err(|_| invalid())?;
        let r = rel(&v.name, &name.key());
        if self.deleted.exists(&r).await? {
            return Err(self.spec.deleted_conflict(name.as_str()));
        }
        if self.heads.exists(&r).await? {
            return Err(self.spec.exists(name.as_str()));
        }
        let latest = doc.versions.iter().find(|rec| rec.meta.version == doc.latest).ok_or_else(invalid)?;
        let head = HeadRec {
            name: name.as_str().to_owned(),
            latest: latest.meta.clone(),
            latest_payload: Some(latest.payload.clone()),
            deleted: None,
        };
        let txn = self.deleted.absent(self.heads.absent(txn, &r), &r);
        let mut txn = self.heads.put(txn, &r, &head)?;
        for rec in &doc.versions {
            txn = self.versions.put(txn, &format!("{r}/{}", rec.meta.version), rec)?;
        }
        Ok((Object { name: head.name, meta: head.latest, payload: head.latest_payload, deleted: None }, txn))
    }
}
