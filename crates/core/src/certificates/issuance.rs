//! Issuance of a new certificate version under its policy: the key (software, or generated in
//! the PKCS#11 token for `-HSM` key types), then a self-signed certificate (`Self`), a
//! certificate signed by a built-in CA of the vault, a CSR that waits for a merge (`Unknown`),
//! or a failed operation for issuers this deployment cannot reach.

use std::sync::Arc;

use strongbox_crypto::certs::{self as x509, X509Spec};
use strongbox_crypto::handle::{KeyHandle, KeySpec};
use strongbox_crypto::keys::{KeyKind, KeyMaterial};
use strongbox_types::{Error, ObjectName, Result};

use super::pending::{CertOperationView, OperationError, PendingRec, op_not_found, view_op};
use super::{CertPolicy, Certificates, b64, key_hex, record_key};
use crate::records::Tags;
use crate::vaults::VaultRecord;

/// The key of a certificate version: software, or generated in the PKCS#11 token (`-HSM` key
/// types), where it signs the certificate or CSR through the provider and never leaves.
#[derive(Debug)]
pub(super) enum IssueKey {
    Soft(KeyMaterial),
    Hsm { id: String, handle: Arc<dyn KeyHandle> },
}

impl IssueKey {
    pub(super) fn cert_key(&self) -> x509::CertKey<'_> {
        match self {
            IssueKey::Soft(k) => x509::CertKey::Soft(k),
            IssueKey::Hsm { handle, .. } => x509::CertKey::Handle(handle.as_ref()),
        }
    }

    pub(super) fn kind(&self) -> KeyKind {
        match self {
            IssueKey::Soft(k) => k.kind(),
            IssueKey::Hsm { handle, .. } => handle.kind(),
        }
    }
}

/// Key operations a certificate's key allows, from the policy's key usage.
pub(super) fn key_ops(policy: &CertPolicy, kind: KeyKind) -> Vec<String> {
    let mut ops: Vec<&str> = Vec::new();
    let has = |u: &str| policy.key_usage.iter().any(|k| k == u);
    if has("digitalSignature") || has("nonRepudiation") || has("keyCertSign") || has("cRLSign") {
        ops.extend(["sign", "verify"]);
    }
    if matches!(kind, KeyKind::Rsa) {
        if has("keyEncipherment") {
            ops.extend(["wrapKey", "unwrapKey"]);
        }
        if has("dataEncipherment") || has("keyEncipherment") {
            ops.extend(["encrypt", "decrypt"]);
        }
    }
    if ops.is_empty() {
        ops.extend(["sign", "verify"]);
    }
    ops.into_iter().map(str::to_owned).collect()
}

/// What the certificate (or CSR) of `policy` says, valid from `not_before`.
fn spec_of(policy: &CertPolicy, not_before: i64) -> Result<X509Spec> {
    Ok(X509Spec {
        subject: policy.subject.clone(),
        dns_names: policy.dns_names.clone(),
        emails: policy.emails.clone(),
        upns: policy.upns.clone(),
        // validated and canonical when the policy was built
        ip_addresses: policy.ip_addresses.iter().filter_map(|ip| ip.parse().ok()).collect(),
        uris: policy.uris.clone(),
        ekus: policy.ekus.clone(),
        key_usage: policy.key_usage.clone(),
        not_before,
        not_after: x509::add_months(not_before, policy.validity_months)?,
        ca: None,
    })
}

/// A fresh software key for `policy`.
fn new_soft_key(policy: &CertPolicy) -> Result<KeyMaterial> {
    match policy.kind()? {
        KeyKind::Rsa => KeyMaterial::generate_rsa(policy.key_size.unwrap_or(2048) as usize),
        KeyKind::Ec(c) => KeyMaterial::generate_ec(c),
        KeyKind::Oct => Err(Error::bad("Certificates need an RSA or EC key.")),
    }
}

impl Certificates {
    /// Starts issuance of a new version under `policy`: completes it at once (`Self`, a CA of
    /// the vault), leaves a CSR waiting for a merge (`Unknown`), or records why the issuer
    /// cannot issue. `reuse` is the current key, taken when the policy says `reuse_key`.
    pub(super) async fn issue(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        policy: CertPolicy,
        tags: Option<Tags>,
        enabled: Option<bool>,
        reuse: Option<IssueKey>,
    ) -> Result<CertOperationView> {
        let (key, fresh) = match reuse {
            Some(k) if policy.reuse_key => (k, false),
            _ => (self.new_issue_key(&policy)?, true),
        };
        let mut held = false;
        let r = self.issue_with(v, name, policy, tags, enabled, &key, &mut held).await;
        // A fresh token key that no committed version or pending operation holds is destroyed.
        if fresh && !held {
            self.drop_issue_key(&key);
        }
        r
    }

    /// Generates the key a new version is issued for: in the token for `-HSM` key types.
    fn new_issue_key(&self, policy: &CertPolicy) -> Result<IssueKey> {
        if !policy.kty.ends_with("-HSM") {
            return Ok(IssueKey::Soft(new_soft_key(policy)?));
        }
        let spec = match policy.kind()? {
            KeyKind::Rsa => KeySpec::Rsa(policy.key_size.unwrap_or(2048) as usize),
            KeyKind::Ec(c) => KeySpec::Ec(c),
            KeyKind::Oct => return Err(Error::bad("Certificates need an RSA or EC key.")),
        };
        let (id, handle) = self.key_provider()?.generate(spec)?;
        Ok(IssueKey::Hsm { id, handle })
    }

    /// Destroys the token object of a key that was not kept (best effort, logged).
    fn drop_issue_key(&self, key: &IssueKey) {
        if let IssueKey::Hsm { id, .. } = key {
            self.drop_hsm_id(id);
        }
    }

    /// Destroys the token object `id` (best effort, logged).
    pub(super) fn drop_hsm_id(&self, id: &str) {
        if let Err(e) = self.key_provider().and_then(|p| p.destroy(id)) {
            tracing::warn!(error = %e, "could not destroy the HSM key of a certificate that was not issued");
        }
    }

    /// The token key `id` of a version or pending operation, opened for signing.
    pub(super) fn open_hsm_key(&self, id: &str) -> Result<IssueKey> {
        Ok(IssueKey::Hsm { id: id.to_owned(), handle: self.key_provider()?.open(id)? })
    }

    /// `issue` with the key chosen. Sets `held` once a committed version or a pending operation
    /// holds the key.
    #[allow(clippy::too_many_arguments)]
    async fn issue_with(
        &self,
        v: &VaultRecord,
        name: &ObjectName,
        policy: CertPolicy,
        tags: Option<Tags>,
        enabled: Option<bool>,
        key: &IssueKey,
        held: &mut bool,
    ) -> Result<CertOperationView> {
        let operations = &self.operations;
        let op_rel = record_key(&v.name, name.as_str());
        let mut op = PendingRec {
            name: name.as_str().to_owned(),
            issuer: policy.issuer.clone(),
            cert_type: policy.cert_type.clone(),
            cert_transparency: policy.cert_transparency,
            status: "inProgress".into(),
            status_details: Some("Pending certificate created. Certificate request is in progress.".into()),
            error: None,
            csr: None,
            target_version: None,
            request_id: strongbox_crypto::hex(&strongbox_crypto::random_array::<16>()?),
            cancellation_requested: false,
            key: None,
            hsm_key: None,
            policy: policy.clone(),
            tags: tags.clone(),
            enabled,
            created: self.now(),
        };
        let now = self.now();
        match policy.issuer.as_str() {
            "Self" => {
                let der = x509::self_signed_by(&spec_of(&policy, now)?, key.cert_key())?;
                self.commit_version(v, name, key, vec![der], policy, tags, enabled, Some(op.clone())).await?;
                *held = true;
                let done: PendingRec = operations.get(&op_rel).await?.ok_or_else(|| op_not_found(name.as_str()))?;
                return Ok(view_op(&done));
            }
            "Unknown" => {
                let csr = x509::csr_by(&spec_of(&policy, now)?, key.cert_key())?;
                op.csr = Some(b64(&csr));
                op.status_details =
                    Some("Pending certificate created. Please Perform Merge to complete the request.".into());
                match key {
                    IssueKey::Soft(k) => op.key = Some(key_hex(k)),
                    IssueKey::Hsm { id, .. } => op.hsm_key = Some(id.clone()),
                }
            }
            other => {
                // A built-in CA of this vault signs at once.
                if let Some(chain) = self.issue_with_ca(v, other, spec_of(&policy, now)?, key.cert_key()).await? {
                    self.commit_version(v, name, key, chain, policy, tags, enabled, Some(op.clone())).await?;
                    *held = true;
                    let done: PendingRec = operations.get(&op_rel).await?.ok_or_else(|| op_not_found(name.as_str()))?;
                    return Ok(view_op(&done));
                }
                let provider = match self.read_issuer(v, other).await? {
                    Some(i) => i.provider,
                    None => {
                        return Err(Error::bad(format!(
                            "The issuer '{}' is neither a certificate issuer nor a certificate authority of this vault; create it first, or use Self or Unknown.",
                            other.chars().take(64).collect::<String>()
                        )));
                    }
                };
                op.status = "failed".into();
                op.status_details = None;
                op.error = Some(OperationError {
                    code: "CertificateIssuerUnreachable".into(),
                    message: format!(
                        "The issuer '{other}' uses the provider '{provider}', which this Strongbox deployment cannot reach (no outside network). No certificate was issued."
                    ),
                });
            }
        }
        // The CSR's key waits in the operation record (encrypted by the barrier like any key).
        operations.commit(operations.put(strongbox_barrier::BTxn::new(), &op_rel, &op)?).await?;
        *held = op.hsm_key.is_some();
        Ok(view_op(&op))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::certificates::{CT_PEM, policy};

    #[test]
    fn key_ops_follow_key_usage() {
        let mut p = policy::from_certificate(
            &x509::inspect(
                &x509::self_signed(
                    &X509Spec { subject: "CN=k".into(), not_before: 0, not_after: 86_400, ..Default::default() },
                    &KeyMaterial::generate_ec(strongbox_crypto::keys::Curve::P256).unwrap(),
                )
                .unwrap(),
            )
            .unwrap(),
            &KeyMaterial::generate_ec(strongbox_crypto::keys::Curve::P256).unwrap(),
            CT_PEM,
        );
        p.key_usage = vec!["digitalSignature".into(), "keyEncipherment".into()];
        assert_eq!(key_ops(&p, KeyKind::Rsa), vec!["sign", "verify", "wrapKey", "unwrapKey", "encrypt", "decrypt"]);
        assert_eq!(key_ops(&p, KeyKind::Ec(strongbox_crypto::keys::Curve::P256)), vec!["sign", "verify"]);
    }
}
