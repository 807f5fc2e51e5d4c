//! A certificate version and the key and secret behind it, kept in step: a new version is
//! written to all three collections (and completes its pending operation) in one transaction,
//! and soft delete and recovery move all three together. (That the key and secret then refuse
//! direct changes is the object store's managed-by rule, `Spec::managed`.)

use serde::Serialize;
use serde::de::{DeserializeOwned, IgnoredAny};
use strongbox_barrier::BTxn;
use strongbox_crypto::certs::{self as x509, CertInfo};
use strongbox_crypto::keys::KeyKind;
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretString, Version};

use super::encoding::secret_value;
use super::issuance::{IssueKey, key_ops};
use super::pending::PendingRec;
use super::{CERTS, CertPayload, CertPolicy, CertView, Certificates, b64, record_key};
use crate::DeletedInfo;
use crate::keys::KeyPayload;
use crate::objects::{Object, RawStore, check_tags};
use crate::records::{HeadRec, Tags, VersionMeta, VersionRec};
use crate::vaults::VaultRecord;

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

impl Certificates {
    /// Adds a new version (with the given meta and payload) of `name` in `store` to `txn`. The
    /// name must not be soft-deleted; in the key and secret collections an existing object must
    /// be managed by this certificate.
    async fn stage_version<P: Serialize + Clone>(
        &self,
        store: &RawStore,
        v: &VaultRecord,
        name: &ObjectName,
        meta: &VersionMeta,
        payload: &P,
        txn: BTxn,
    ) -> Result<BTxn> {
        let r = record_key(&v.name, name.as_str());
        let (display, txn) = match store.heads.get_versioned::<HeadRec<IgnoredAny>>(&r).await? {
            Some((head, stamp)) => {
                if store.spec.heads != CERTS.heads && !head.latest.managed {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!(
                            "A {} named {} already exists and is not managed by a certificate.",
                            store.spec.noun,
                            name.as_str()
                        ),
                    ));
                }
                (head.name, store.heads.unchanged(txn, &r, &stamp))
            }
            None => {
                if store.deleted.exists(&r).await? {
                    return Err(store.spec.deleted_conflict(name.as_str()));
                }
                (name.as_str().to_owned(), store.deleted.absent(store.heads.absent(txn, &r), &r))
            }
        };
        let vr = format!("{r}/{}", meta.version);
        let rec = VersionRec { meta: meta.clone(), payload: payload.clone() };
        let head =
            HeadRec { name: display, latest: meta.clone(), latest_payload: Some(payload.clone()), deleted: None };
        let txn = store.versions.put(store.versions.absent(txn, &vr), &vr, &rec)?;
        store.heads.put(txn, &r, &head)
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
        let (info, tags, policy, op) = (&info, &tags, &policy, &op);
        let (key_payload, cert_payload, secret) = (&key_payload, &cert_payload, &secret);
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
                    txn = self.stage_version(self.certs.raw(), v, name, &cert_meta, cert_payload, txn).await?;
                    txn = self.stage_version(self.keys.raw(), v, name, &base, key_payload, txn).await?;
                    txn = self.stage_version(self.secrets.raw(), v, name, &secret_meta, secret, txn).await?;
                    if let Some(o) = op {
                        let done = completed(o.clone(), &version);
                        txn = self.operations.put(txn, &record_key(&v.name, name.as_str()), &done)?;
                    }
                    Ok((txn, cert_meta))
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

    /// Moves the object `lc` of `store` to deleted in `txn`; `false` when there is no live head.
    pub(super) async fn stage_delete<P: Serialize + DeserializeOwned>(
        &self,
        store: &RawStore,
        v: &VaultRecord,
        lc: &str,
        info: DeletedInfo,
        txn: BTxn,
    ) -> Result<(BTxn, bool)> {
        let r = record_key(&v.name, lc);
        let Some((mut head, stamp)) = store.heads.get_versioned::<HeadRec<P>>(&r).await? else {
            return Ok((txn, false));
        };
        head.deleted = Some(info);
        let txn = store.heads.unchanged(txn, &r, &stamp);
        let txn = store.heads.delete(store.deleted.absent(txn, &r), &r);
        let txn = store.deleted.put(txn, &r, &head)?;
        let when = store.spec.schedule_rel(info.scheduled_purge_date, &v.name, lc);
        Ok((self.schedule.put_bytes(txn, &when, Vec::new()), true))
    }

    /// Moves the object `lc` of `store` back from deleted in `txn`; `false` when it is not
    /// deleted.
    pub(super) async fn stage_recover<P: Serialize + DeserializeOwned>(
        &self,
        store: &RawStore,
        v: &VaultRecord,
        lc: &str,
        txn: BTxn,
    ) -> Result<(BTxn, bool)> {
        let r = record_key(&v.name, lc);
        let Some((mut head, stamp)) = store.deleted.get_versioned::<HeadRec<P>>(&r).await? else {
            return Ok((txn, false));
        };
        let txn = store.deleted.unchanged(txn, &r, &stamp);
        let mut txn = store.deleted.delete(store.heads.absent(txn, &r), &r);
        if let Some(info) = head.deleted.take() {
            txn = self.schedule.delete(txn, &store.spec.schedule_rel(info.scheduled_purge_date, &v.name, lc));
        }
        Ok((store.heads.put(txn, &r, &head)?, true))
    }
}
