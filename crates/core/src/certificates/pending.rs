//! Pending operations (`/certificates/{name}/pending`): the record of the latest issuance
//! request of a certificate, shown, cancelled, deleted, and completed by a merge of the
//! certificate an outside CA signed for its CSR. While it waits for the merge it holds the key.

use serde::{Deserialize, Serialize};
use strongbox_barrier::Change;
use strongbox_crypto::certs as x509;
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretString};

use super::issuance::IssueKey;
use super::{CERTS, CertPolicy, CertView, Certificates, key_from_hex, record_key, unb64};
use crate::objects::Attributes;
use crate::records::{Tags, VersionMeta};
use crate::vaults::VaultRecord;

/// An error recorded in a pending operation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OperationError {
    pub code: String,
    pub message: String,
}

/// The pending operation of a certificate, as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PendingRec {
    pub(super) name: String,
    pub(super) issuer: String,
    pub(super) cert_type: Option<String>,
    pub(super) cert_transparency: Option<bool>,
    pub(super) status: String,
    pub(super) status_details: Option<String>,
    pub(super) error: Option<OperationError>,
    /// PKCS#10 DER, standard base64.
    pub(super) csr: Option<String>,
    pub(super) target_version: Option<String>,
    pub(super) request_id: String,
    pub(super) cancellation_requested: bool,
    /// While waiting for a merge: the key (`KeyMaterial::to_storage`, hex), the policy and the
    /// attributes of the version to create.
    pub(super) key: Option<SecretString>,
    /// While waiting for a merge with an HSM key: the provider's handle id (never material).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) hsm_key: Option<String>,
    pub(super) policy: CertPolicy,
    pub(super) tags: Option<Tags>,
    pub(super) enabled: Option<bool>,
    /// When the operation was started.
    #[serde(default)]
    pub(super) created: i64,
}

/// A pending operation as the API shows it.
#[derive(Debug, Clone)]
pub struct CertOperationView {
    pub name: String,
    pub issuer: String,
    pub cert_type: Option<String>,
    pub cert_transparency: Option<bool>,
    pub csr: Option<Vec<u8>>,
    pub cancellation_requested: bool,
    pub status: String,
    pub status_details: Option<String>,
    pub error: Option<OperationError>,
    /// Version of the certificate the operation produced.
    pub target_version: Option<String>,
    pub request_id: String,
}

/// `POST /certificates/{name}/pending/merge`.
#[derive(Debug, Default)]
pub struct MergeCertificate {
    /// DER certificates, leaf first.
    pub x5c: Vec<Vec<u8>>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
}

pub(super) fn op_not_found(name: &str) -> Error {
    Error::new(ErrorKind::CertificateOperationNotFound, format!("Pending certificate not found: {name}"))
}

pub(super) fn view_op(r: &PendingRec) -> CertOperationView {
    CertOperationView {
        name: r.name.clone(),
        issuer: r.issuer.clone(),
        cert_type: r.cert_type.clone(),
        cert_transparency: r.cert_transparency,
        csr: r.csr.as_deref().and_then(|c| unb64(c).ok()),
        cancellation_requested: r.cancellation_requested,
        status: r.status.clone(),
        status_details: r.status_details.clone(),
        error: r.error.clone(),
        target_version: r.target_version.clone(),
        request_id: r.request_id.clone(),
    }
}

/// How a certificate that exists only as an operation in progress is listed: disabled, without
/// a version.
fn pending_only_view(v: &VaultRecord, op: PendingRec) -> CertView {
    let meta = VersionMeta {
        version: String::new(),
        content_type: None,
        tags: None,
        enabled: false,
        nbf: None,
        exp: None,
        created: op.created,
        updated: op.created,
        managed: false,
    };
    CertView {
        attributes: Attributes::of(v, &meta),
        name: op.name,
        version: String::new(),
        cer: None,
        x5t: None,
        policy: None,
        tags: op.tags,
        deleted: None,
    }
}

impl Certificates {
    pub(super) async fn pending_in_progress(&self, v: &VaultRecord, name: &str) -> Result<bool> {
        let op = self.operations.get::<PendingRec>(&record_key(&v.name, name)).await?;
        Ok(op.is_some_and(|o| o.status == "inProgress"))
    }

    /// Azure: "A new key vault certificate can not be created or imported while a pending key
    /// vault certificate's status is inProgress" (409).
    pub(super) async fn refuse_pending(&self, v: &VaultRecord, name: &ObjectName) -> Result<()> {
        if self.pending_in_progress(v, name.as_str()).await? {
            return Err(Error::new(
                ErrorKind::Conflict,
                format!(
                    "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress ({name})."
                ),
            ));
        }
        Ok(())
    }

    /// The pending operation of `name`.
    async fn pending_op(&self, v: &VaultRecord, name: &ObjectName) -> Result<Option<PendingRec>> {
        self.operations.get(&record_key(&v.name, name.as_str())).await
    }

    /// The policy kept by a certificate that waits for its first merge.
    pub(super) async fn pending_policy(&self, v: &VaultRecord, name: &ObjectName) -> Result<Option<CertPolicy>> {
        Ok(self.pending_op(v, name).await?.map(|op| op.policy))
    }

    /// Replaces the policy kept in the pending operation of `name` with `change(old policy)`;
    /// `None` when there is no pending operation.
    pub(super) async fn update_pending_policy(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        change: impl Fn(&CertPolicy) -> Result<CertPolicy>,
    ) -> Result<Option<CertPolicy>> {
        let rel = record_key(&v.name, name.as_str());
        self.operations
            .update(
                &rel,
                || CERTS.busy(),
                |op: Option<PendingRec>| {
                    let Some(mut op) = op else { return Ok(Change::Keep(None)) };
                    let np = change(&op.policy)?;
                    op.policy = np.clone();
                    Ok(Change::Put(op, Some(np)))
                },
            )
            .await
    }

    /// Up to `room` pending-only certificates from the operation `from` on (a key relative to
    /// the operations area, in the vault's part of it), and the full storage key of the next one
    /// if there is one more.
    pub(super) async fn pending_page(
        &self,
        v: &VaultRecord,
        from: &str,
        room: usize,
    ) -> Result<(Vec<CertView>, Option<String>)> {
        let operations = &self.operations;
        let prefix = format!("{}/", v.name);
        let mut start = from.to_owned();
        let mut out = Vec::new();
        loop {
            let rows = operations.scan::<PendingRec>(&prefix, &start, 100).await?;
            let Some((last, _)) = rows.last() else { return Ok((out, None)) };
            start = format!("{last}\0");
            for (rel, op) in rows {
                if op.status != "inProgress" || self.certs.raw().heads.exists(&record_key(&v.name, &op.name)).await? {
                    continue;
                }
                if out.len() == room {
                    return Ok((out, Some(operations.key(&rel))));
                }
                out.push(pending_only_view(v, op));
            }
        }
    }

    /// `GET /certificates/{name}/pending`.
    pub async fn get_operation(&self, vault: &str, name: &str) -> Result<CertOperationView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let op = self.pending_op(&v, &name).await?.ok_or_else(|| op_not_found(name.as_str()))?;
        Ok(view_op(&op))
    }

    /// `PATCH /certificates/{name}/pending` with `cancellation_requested`.
    pub async fn cancel_operation(&self, vault: &str, name: &str, cancel: bool) -> Result<CertOperationView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let rel = record_key(&v.name, name.as_str());
        let (view, hsm_key) = self.operations
            .update(&rel, || CERTS.busy(), |op: Option<PendingRec>| {
                let mut op = op.ok_or_else(|| op_not_found(name.as_str()))?;
                if !cancel {
                    return Ok(Change::Keep((view_op(&op), None)));
                }
                if op.status != "inProgress" {
                    return Err(Error::bad(format!(
                        "The pending operation of certificate {name} is not in progress (status: {}); it cannot be cancelled.",
                        op.status
                    )));
                }
                op.cancellation_requested = true;
                op.status = "cancelled".into();
                op.status_details = Some("The certificate operation was cancelled.".into());
                op.key = None;
                let hsm_key = op.hsm_key.take();
                let view = view_op(&op);
                Ok(Change::Put(op, (view, hsm_key)))
            })
            .await?;
        if let Some(id) = hsm_key {
            self.drop_hsm_id(&id);
        }
        Ok(view)
    }

    /// `DELETE /certificates/{name}/pending`.
    pub async fn delete_operation(&self, vault: &str, name: &str) -> Result<CertOperationView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let rel = record_key(&v.name, name.as_str());
        let op = self
            .operations
            .update(
                &rel,
                || CERTS.busy(),
                |op: Option<PendingRec>| op.map(Change::Delete).ok_or_else(|| op_not_found(name.as_str())),
            )
            .await?;
        if let Some(id) = &op.hsm_key {
            self.drop_hsm_id(id);
        }
        Ok(view_op(&op))
    }

    /// `POST /certificates/{name}/pending/merge`: completes an `Unknown`-issuer operation with the
    /// certificate signed elsewhere (and its chain). The leaf must carry the pending key.
    pub async fn merge(&self, vault: &str, name: &str, req: MergeCertificate) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let op = self.pending_op(&v, &name).await?.ok_or_else(|| op_not_found(name.as_str()))?;
        let key = match (&op.key, &op.hsm_key, op.status.as_str()) {
            (Some(k), _, "inProgress") => IssueKey::Soft(key_from_hex(k)?),
            (None, Some(id), "inProgress") => self.open_hsm_key(id)?,
            _ => {
                return Err(Error::bad(format!(
                    "Certificate {name} has no pending operation waiting for a merge (status: {}).",
                    op.status
                )));
            }
        };
        let leaf = req.x5c.first().ok_or_else(|| Error::bad("The 'x5c' member needs at least one certificate."))?;
        x509::check_chain(&req.x5c)?;
        let info = x509::inspect(leaf)?;
        if info.spki != x509::spki_by(key.cert_key())? {
            return Err(Error::bad(
                "Public key from x509 certificate and key of this instance doesn't match: the merged certificate was not issued for this certificate's pending request.",
            ));
        }
        let (leaf, rest) = (leaf.clone(), req.x5c.iter().skip(1).cloned().collect());
        let chain = super::encoding::run_import_parse(move || Ok(x509::order_chain(leaf, rest))).await?;
        let tags = req.tags.or(op.tags.clone());
        let enabled = req.enabled.or(op.enabled);
        let policy = op.policy.clone();
        self.refuse_deleted_cert(&v, &name).await?;
        self.commit_version(&v, &name, &key, chain, policy, tags, enabled, Some(op)).await
    }
}
