//! A certificate version and the key and secret behind it, kept in step: a new version is
//! written to all three collections (and completes its pending operation) in one transaction,
//! soft delete and recovery move all three together, and the key and secret refuse changes
//! made to them directly (they are managed by the certificate).

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use strongbox_barrier::{BTxn, Step};
use strongbox_crypto::certs::{self as x509, CertInfo};
use strongbox_crypto::keys::KeyKind;
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretString, Version};

use super::encoding::secret_value;
use super::issuance::{IssueKey, key_ops};
use super::pending::PendingRec;
use super::{CERTS, CertPayload, CertPolicy, CertView, b64};
use crate::keys::{KEYS, KeyPayload};
use crate::objects::{Object, Spec, check_tags};
use crate::records::{HeadRec, Tags, VersionMeta, VersionRec};
use crate::secrets::SECRETS;
use crate::vaults::VaultRecord;
use crate::{Core, DeletedInfo, encode};

/// Azure's refusal of a change to a managed key or secret through the keys or secrets API.
pub(crate) fn managed_error(c: &Spec, op: &str) -> Error {
    c.managed_error(op)
}

/// The key record of a certificate version.
fn key_payload(policy: &CertPolicy, key: &IssueKey) -> KeyPayload {
    let kty = match (key.kind(), policy.kty.ends_with("-HSM")) {
        (KeyKind::Rsa, false) => "RSA",
        (KeyKind::Rsa, true) => "RSA-HSM",
        (_, false) => "EC",
        (_, true) => "EC-HSM",
    };
    match key {
        IssueKey::Soft(k) => crate::keys::payload(kty, key_ops(policy, k.kind()), k),
        // Like `-HSM` keys made through the keys API: the record holds only the handle id.
        IssueKey::Hsm { id, handle } => KeyPayload {
            kty: kty.to_owned(),
            key_ops: key_ops(policy, handle.kind()),
            material: SecretString::default(),
            hsm: Some(id.clone()),
            exportable: false,
            release_policy: None,
        },
    }
}

/// `op` as it reads once `version` completed it.
fn completed(mut op: PendingRec, version: &str) -> PendingRec {
    op.status = "completed".into();
    op.status_details = None;
    op.error = None;
    op.key = None;
    op.hsm_key = None;
    op.target_version = Some(version.to_owned());
    op
}

impl Core {
    /// Refuses changes through the keys or secrets API to the objects behind a certificate
    /// (Azure: 403 `KeyManagedByKeyVault` / `SecretManagedByKeyVault`).
    pub(crate) async fn refuse_managed(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
        op: &str,
    ) -> Result<()> {
        let lc = name.key();
        let live = self.read_json::<HeadRec<IgnoredAny>>(&c.head_key(&v.name, &lc)).await?;
        let head = match live {
            Some(h) => Some(h),
            None => self.read_json::<HeadRec<IgnoredAny>>(&c.deleted_key(&v.name, &lc)).await?,
        };
        if head.is_some_and(|h| h.latest.managed) {
            return Err(managed_error(c, op));
        }
        Ok(())
    }

    /// Adds a new version (with the given meta and payload) of `c/{name}` to `txn`. The name
    /// must not be soft-deleted; in the key and secret collections an existing object must be
    /// managed by this certificate.
    async fn stage_version<P: Serialize + Clone>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        name: &ObjectName,
        meta: &VersionMeta,
        payload: &P,
        txn: BTxn,
    ) -> Result<BTxn> {
        let lc = name.key();
        let hk = c.head_key(&v.name, &lc);
        let dk = c.deleted_key(&v.name, &lc);
        let (display, txn) = match self.read_json_versioned::<HeadRec<IgnoredAny>>(&hk).await? {
            Some((head, stamp)) => {
                if c.heads != CERTS.heads && !head.latest.managed {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "A {} named {} already exists and is not managed by a certificate.",
                            c.noun,
                            name.as_str()
                        ),
                    ));
                }
                (head.name, txn.unchanged(&hk, &stamp))
            }
            None => {
                if self.barrier.get(&dk).await?.is_some() {
                    return Err(c.deleted_conflict(name.as_str()));
                }
                (name.as_str().to_owned(), txn.absent(&hk).absent(&dk))
            }
        };
        let vk = c.version_key(&v.name, &lc, &meta.version);
        let rec = VersionRec { meta: meta.clone(), payload: payload.clone() };
        let head =
            HeadRec { name: display, latest: meta.clone(), latest_payload: Some(payload.clone()), deleted: None };
        Ok(txn.absent(&vk).put(&vk, encode(&rec)?).put(&hk, encode(&head)?))
    }

    /// Writes a new certificate version with its key and secret, and marks the pending
    /// operation completed; all in one transaction.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn commit_version(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        key: &IssueKey,
        chain: Vec<Vec<u8>>,
        policy: CertPolicy,
        tags: Option<Tags>,
        enabled: Option<bool>,
        op: Option<PendingRec>,
    ) -> Result<CertView> {
        check_tags(&tags)?;
        let leaf = chain.first().ok_or_else(|| Error::internal("empty certificate chain"))?;
        let info: CertInfo = x509::inspect(leaf)?;
        let secret = secret_value(&policy, key, &chain)?;
        let key_payload = key_payload(&policy, key);
        let cert_payload = CertPayload {
            cer: b64(leaf),
            chain: chain.iter().skip(1).map(|c| b64(c)).collect(),
            policy: policy.clone(),
        };
        let operations = self.cert_stores().operations;
        let (info, tags, policy, op) = (&info, &tags, &policy, &op);
        let (key_payload, cert_payload, secret, operations) = (&key_payload, &cert_payload, &secret, &operations);
        let cert_meta = self
            .barrier
            .transact(
                || CERTS.busy(),
                || async move {
                    let now = self.now();
                    let version = Version::from_random(strongbox_crypto::random_array()?).as_str().to_owned();
                    let base = VersionMeta {
                        version: version.clone(),
                        content_type: None,
                        tags: None,
                        enabled: enabled.unwrap_or(true),
                        nbf: Some(info.not_before),
                        exp: Some(info.not_after),
                        created: now,
                        updated: now,
                        managed: true,
                    };
                    let cert_meta = VersionMeta {
                        content_type: Some(info.x5t.clone()),
                        tags: tags.clone(),
                        managed: false,
                        ..base.clone()
                    };
                    let secret_meta = VersionMeta { content_type: Some(policy.content_type.clone()), ..base.clone() };
                    let mut txn = BTxn::new();
                    txn = self.stage_version(&CERTS, v, name, &cert_meta, cert_payload, txn).await?;
                    txn = self.stage_version(&KEYS, v, name, &base, key_payload, txn).await?;
                    txn = self.stage_version(&SECRETS, v, name, &secret_meta, secret, txn).await?;
                    if let Some(o) = op {
                        let done = completed(o.clone(), &version);
                        txn = operations.put(txn, &super::record_key(&v.name, name.as_str()), &done)?;
                    }
                    Ok(Step::Commit(txn, cert_meta))
                },
            )
            .await?;
        let o = Object {
            name: name.as_str().to_owned(),
            meta: cert_meta,
            payload: Some(cert_payload.clone()),
            deleted: None,
        };
        self.cert_view(v, o, true)
    }

    /// Moves `c/{name}` to deleted in `txn`; `None` when there is no live head.
    pub(super) async fn stage_delete<P: Serialize + DeserializeOwned>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        lc: &str,
        info: DeletedInfo,
        txn: BTxn,
    ) -> Result<(BTxn, bool)> {
        let hk = c.head_key(&v.name, lc);
        let dk = c.deleted_key(&v.name, lc);
        let Some((mut head, stamp)) = self.read_json_versioned::<HeadRec<P>>(&hk).await? else {
            return Ok((txn, false));
        };
        head.deleted = Some(info);
        let txn = txn
            .unchanged(&hk, &stamp)
            .absent(&dk)
            .delete(&hk)
            .put(&dk, encode(&head)?)
            .put(c.purge_key(info.scheduled_purge_date, &v.name, lc), Vec::new());
        Ok((txn, true))
    }

    /// Moves `c/{name}` back from deleted in `txn`; `false` when it is not deleted.
    pub(super) async fn stage_recover<P: Serialize + DeserializeOwned>(
        &self,
        c: &Spec,
        v: &VaultRecord,
        lc: &str,
        txn: BTxn,
    ) -> Result<(BTxn, bool)> {
        let hk = c.head_key(&v.name, lc);
        let dk = c.deleted_key(&v.name, lc);
        let Some((mut head, stamp)) = self.read_json_versioned::<HeadRec<P>>(&dk).await? else {
            return Ok((txn, false));
        };
        let mut txn = txn.unchanged(&dk, &stamp).absent(&hk).delete(&dk);
        if let Some(info) = head.deleted.take() {
            txn = txn.delete(c.purge_key(info.scheduled_purge_date, &v.name, lc));
        }
        Ok((txn.put(&hk, encode(&head)?), true))
    }
}
