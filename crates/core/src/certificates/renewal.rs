//! Lifetime actions, run by the server's background task: `AutoRenew` issues a new version
//! when it is due, `EmailContacts` raises one notification per version.

use strongbox_types::{Error, ObjectName, Result};

use super::issuance::IssueKey;
use super::{CertPayload, Certificates, record_key};
use crate::records::{HeadRec, VersionMeta};

/// Certificates read per storage round trip while looking for due actions.
const PAGE: usize = 100;

impl Certificates {
    /// Carries out due lifetime actions of every live certificate: `AutoRenew` issues a new
    /// version (a new key unless `reuse_key`), `EmailContacts` raises one notification per
    /// version. Returns how many certificates were renewed.
    pub async fn renew_due(&self) -> Result<usize> {
        let now = self.now();
        let heads = &self.certs.raw().heads;
        let mut start = String::new();
        let mut renewed = 0;
        loop {
            let rows = heads.scan::<HeadRec<CertPayload>>("", &start, PAGE).await?;
            let Some((last, _)) = rows.last() else { return Ok(renewed) };
            start = format!("{last}\0");
            for (rel, head) in rows {
                let Some(payload) = head.latest_payload else { continue };
                let Some(vault) = rel.split('/').next() else { continue };
                let (Some(nbf), Some(exp)) = (head.latest.nbf, head.latest.exp) else { continue };
                for a in &payload.policy.lifetime_actions {
                    let due_at = match (a.lifetime_percentage, a.days_before_expiry) {
                        (Some(p), _) => nbf + (exp - nbf) * i64::from(p) / 100,
                        (None, Some(d)) => exp - i64::from(d) * 86_400,
                        _ => continue,
                    };
                    if now < due_at {
                        continue;
                    }
                    match a.action.as_str() {
                        "AutoRenew" => match self.renew(vault, &head.name, &payload, &head.latest).await {
                            Ok(true) => renewed += 1,
                            Ok(false) => {}
                            Err(e) => {
                                tracing::warn!(vault = %vault, certificate = %head.name, error = %e, "certificate renewal failed")
                            }
                        },
                        _ => self.notify_contacts(vault, &head.name, &head.latest.version).await?,
                    }
                }
            }
        }
    }

    /// Issues the next version of a certificate whose `AutoRenew` is due; `false` when its
    /// issuer cannot sign here or an operation is already in progress.
    async fn renew(&self, vault: &str, name: &str, p: &CertPayload, meta: &VersionMeta) -> Result<bool> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        if p.policy.issuer == "Unknown" || self.pending_in_progress(&v, name.as_str()).await? {
            return Ok(false);
        }
        // Only issuers that can sign here renew (a public CA's would fail again every round).
        if p.policy.issuer != "Self" && !self.has_ca(&v, &p.policy.issuer).await? {
            return Ok(false);
        }
        let reuse = if p.policy.reuse_key {
            let k = self.keys.get(&v, &name, Some(&meta.version)).await?;
            let kp = k.payload.ok_or_else(|| Error::internal("key payload missing"))?;
            Some(match &kp.hsm {
                Some(id) => self.open_hsm_key(id)?,
                None => IssueKey::Soft(crate::keys::material_of(&kp)?),
            })
        } else {
            None
        };
        let op = self.issue(&v, &name, p.policy.clone(), meta.tags.clone(), Some(true), reuse).await?;
        tracing::info!(vault = %vault, certificate = %name, status = %op.status, "certificate auto-renewal");
        Ok(op.status == "completed")
    }

    /// The hook for `EmailContacts` lifetime actions: recorded once per version; delivery comes
    /// with the events work.
    async fn notify_contacts(&self, vault: &str, name: &str, version: &str) -> Result<()> {
        let notes = &self.notes;
        let rel = format!("{}/{version}", record_key(vault, name));
        if notes.exists(&rel).await? {
            return Ok(());
        }
        // Another node may record it first; either way it is recorded once.
        notes.create(&rel, &self.now()).await?;
        tracing::info!(vault = %vault, certificate = %name, version = %version, "certificate lifetime action: notify contacts");
        Ok(())
    }
}
