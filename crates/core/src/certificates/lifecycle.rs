//! The lifecycle of a certificate: create (through [`super::issuance`]) and import, get,
//! update and list, its policy, soft delete, recovery, purge, backup and restore. Each step
//! acts on the certificate and on the key and secret behind it together (see
//! [`super::versions`]).

use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretString};

use super::encoding::{ParsedImport, parse_import, run_import_parse};
use super::issuance::IssueKey;
use super::pending::CertOperationView;
use super::{
    CERTS, CertListing, CertPayload, CertPolicy, CertView, Certificates, PolicyInput, policy, record_key, unb64,
};
use crate::DeletedInfo;
use crate::keys::{KEYS, KeyPayload};
use crate::objects::{Attributes, Object, Page, Spec, check_tags};
use crate::records::{HeadRec, Tags, VersionMeta, VersionRec};
use crate::secrets::SECRETS;
use crate::vaults::VaultRecord;

/// The first bytes of a certificate backup blob.
const BACKUP_MAGIC: &[u8; 4] = b"SBC1";

/// `POST /certificates/{name}/create`.
#[derive(Debug, Default)]
pub struct CreateCertificate {
    pub policy: Option<PolicyInput>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
}

/// `POST /certificates/{name}/import`. `value` is the request's `value` member as sent.
#[derive(Debug)]
pub struct ImportCertificate {
    pub value: SecretString,
    pub password: Option<SecretString>,
    pub policy: Option<PolicyInput>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
}

/// `PATCH /certificates/{name}/{version}`: fields left `None` stay.
#[derive(Debug, Default)]
pub struct CertUpdate {
    pub policy: Option<PolicyInput>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
}

/// `input` merged into `old` by a policy update: keeps the creation time, stamps `now`.
fn merged_policy(input: &PolicyInput, old: &CertPolicy, v: &VaultRecord, now: i64) -> Result<CertPolicy> {
    let mut np = policy::build(input, Some(old), v, now)?;
    np.created = old.created;
    np.updated = now;
    Ok(np)
}

/// A restore refused because the name of the certificate's key or secret is taken.
fn name_taken(c: &Spec, cert: &str, e: Error) -> Error {
    if matches!(e.kind, ErrorKind::Conflict | ErrorKind::DeletedButRecoverable) {
        Error::new(
            ErrorKind::Conflict,
            format!(
                "Certificate {cert} cannot be restored: the name of its {} is taken ({}) Nothing was restored.",
                c.noun, e.message
            ),
        )
    } else {
        e
    }
}

impl Certificates {
    /// How a version is shown: with its DER and policy when `full` (lists leave them out).
    pub(super) fn cert_view(&self, v: &VaultRecord, o: Object<CertPayload>, full: bool) -> Result<CertView> {
        let (cer, policy) = match (&o.payload, full) {
            (Some(p), true) => (Some(unb64(&p.cer)?), Some(p.policy.clone())),
            _ => (None, None),
        };
        Ok(CertView {
            attributes: Attributes::of(v, &o.meta),
            name: o.name,
            x5t: o.meta.content_type.clone(),
            version: o.meta.version,
            cer,
            policy,
            tags: o.meta.tags,
            deleted: o.deleted,
        })
    }

    fn cert_listing(&self, v: &VaultRecord, p: Page<CertPayload>) -> Result<CertListing> {
        let items = p.items.into_iter().map(|o| self.cert_view(v, o, false)).collect::<Result<Vec<_>>>()?;
        Ok(CertListing { items, next: p.next })
    }

    /// Refuses a new version while the name is soft-deleted.
    pub(super) async fn refuse_deleted_cert(&self, v: &VaultRecord, name: &ObjectName) -> Result<()> {
        if self.certs.raw().deleted.exists(&record_key(&v.name, name.as_str())).await? {
            return Err(CERTS.deleted_conflict(name.as_str()));
        }
        Ok(())
    }

    /// `POST /certificates/{name}/create`.
    pub async fn create(&self, vault: &str, name: &str, req: CreateCertificate) -> Result<CertOperationView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        check_tags(&req.tags)?;
        let input = req.policy.ok_or_else(|| Error::bad("The 'policy' member is required."))?;
        let policy = policy::build(&input, None, &v, self.now())?;
        self.refuse_deleted_cert(&v, &name).await?;
        self.refuse_pending(&v, &name).await?;
        let mut op = self.issue(&v, &name, policy, req.tags, req.enabled, None).await?;
        // The create response always shows the request in progress, as Azure's does; the
        // outcome (completed here at once for `Self`, or failed) is what `GET …/pending` shows.
        // The SDK pollers depend on this: they only poll when the first answer is in progress.
        if op.status != "inProgress" {
            op.status = "inProgress".into();
            op.status_details = Some("Pending certificate created. Certificate request is in progress.".into());
            op.error = None;
            op.target_version = None;
        }
        Ok(op)
    }

    /// `POST /certificates/{name}/import`: PFX (base64, with `pwd`) or PEM (key, certificate,
    /// chain).
    pub async fn import(&self, vault: &str, name: &str, req: ImportCertificate) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        check_tags(&req.tags)?;
        let raw = req.value.expose().trim();
        if raw.is_empty() {
            return Err(Error::bad("The 'value' member is required."));
        }
        let password = req.password.clone();
        let value = req.value.clone();
        let parsed = run_import_parse(move || parse_import(&value, password.as_ref())).await?;
        let ParsedImport { key, chain, info, sniffed } = parsed;
        let derived = policy::from_certificate(&info, &key, sniffed);
        let policy = match &req.policy {
            Some(input) => policy::build(input, Some(&derived), &v, self.now())?,
            None => policy::build(&PolicyInput::default(), Some(&derived), &v, self.now())?,
        };
        if policy.kind()? != key.kind() {
            return Err(Error::bad("The policy's key type does not match the imported key."));
        }
        if policy.kty.ends_with("-HSM") {
            return Err(Error::new(
                ErrorKind::NotImplemented,
                "Importing a certificate with an HSM-protected key (RSA-HSM, EC-HSM) is not available in this Strongbox release yet.",
            ));
        }
        let key = IssueKey::Soft(key);
        self.refuse_deleted_cert(&v, &name).await?;
        self.refuse_pending(&v, &name).await?;
        self.commit_version(&v, &name, &key, chain, policy, req.tags, req.enabled, None).await
    }

    /// `GET /certificates/{name}[/{version}]`.
    pub async fn get(&self, vault: &str, name: &str, version: Option<&str>) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.certs.get(&v, &name, version).await?;
        self.cert_view(&v, o, true)
    }

    /// `PATCH /certificates/{name}[/{version}]`: tags and `enabled` of one version (kept in step
    /// on its key and secret), and optionally the policy.
    pub async fn update(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        mut upd: CertUpdate,
    ) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let new_policy = match upd.policy.take() {
            Some(p) => Some(self.update_policy(vault, name.as_str(), p).await?),
            None => None,
        };
        let o = self
            .certs
            .update(&v, &name, version, |m, _| {
                if let Some(t) = &upd.tags {
                    m.tags = Some(t.clone());
                }
                if let Some(e) = upd.enabled {
                    m.enabled = e;
                }
                Ok(())
            })
            .await?;
        if let Some(e) = upd.enabled {
            let ver = o.meta.version.clone();
            self.keys
                .update(&v, &name, Some(&ver), |m, _| {
                    m.enabled = e;
                    Ok(())
                })
                .await?;
            self.secrets
                .update(&v, &name, Some(&ver), |m, _| {
                    m.enabled = e;
                    Ok(())
                })
                .await?;
        }
        self.forget_key_ops(&v.name, &name.key());
        // `o` may be an older version, holding an older policy: show the one just set.
        let mut view = self.cert_view(&v, o, true)?;
        if new_policy.is_some() {
            view.policy = new_policy;
        }
        Ok(view)
    }

    pub async fn list(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<CertListing> {
        let v = self.vault(vault).await?;
        let p = self.certs.list(&v, false, resume, max).await?;
        self.cert_listing(&v, p)
    }

    /// `GET /certificates?includePending=true`: issued certificates by name, then those that
    /// exist only as an operation in progress (shown disabled, without a version, as Azure lists
    /// them). Every page holds at most `max` items; the resume token is the storage key of the
    /// next item, a key of the pending operations area once the listing has reached the pending part.
    pub async fn list_with_pending(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<CertListing> {
        let v = self.vault(vault).await?;
        let pending_prefix = format!("{}/", v.name);
        let operations = &self.operations;
        let pending_resume = resume.and_then(|r| operations.relative(r)).filter(|r| r.starts_with(&pending_prefix));
        let (mut items, pending_from) = match pending_resume {
            Some(r) => (Vec::new(), r.to_owned()),
            None => {
                let l = self.cert_listing(&v, self.certs.list(&v, false, resume, max).await?)?;
                if l.next.is_some() {
                    return Ok(l);
                }
                (l.items, pending_prefix.clone())
            }
        };
        let room = max.saturating_sub(items.len());
        let (pending, next) = self.pending_page(&v, &pending_from, room).await?;
        items.extend(pending);
        Ok(CertListing { items, next })
    }

    pub async fn list_deleted(&self, vault: &str, resume: Option<&str>, max: usize) -> Result<CertListing> {
        let v = self.vault(vault).await?;
        let p = self.certs.list(&v, true, resume, max).await?;
        self.cert_listing(&v, p)
    }

    pub async fn list_versions(
        &self,
        vault: &str,
        name: &str,
        resume: Option<&str>,
        max: usize,
    ) -> Result<CertListing> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let p = self.certs.list_versions(&v, &name, resume, max).await?;
        self.cert_listing(&v, p)
    }

    /// `GET /certificates/{name}/policy` (also while the first version waits for a merge).
    pub async fn get_policy(&self, vault: &str, name: &str) -> Result<CertPolicy> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let r = record_key(&v.name, name.as_str());
        let store = self.certs.raw();
        if let Some(head) = store.heads.get::<HeadRec<CertPayload>>(&r).await? {
            if let Some(p) = head.latest_payload {
                return Ok(p.policy);
            }
            let rec: VersionRec<CertPayload> = store
                .versions
                .get(&format!("{r}/{}", head.latest.version))
                .await?
                .ok_or_else(|| CERTS.not_found(name.as_str(), None))?;
            return Ok(rec.payload.policy);
        }
        self.pending_policy(&v, &name).await?.ok_or_else(|| CERTS.not_found(name.as_str(), None))
    }

    /// `PATCH /certificates/{name}/policy`: merges the given members into the current policy.
    pub async fn update_policy(&self, vault: &str, name: &str, input: PolicyInput) -> Result<CertPolicy> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let now = self.now();
        let mut result = None;
        let updated = self
            .certs
            .update(&v, &name, None, |_, p| {
                let np = merged_policy(&input, &p.policy, &v, now)?;
                p.policy = np.clone();
                result = Some(np);
                Ok(())
            })
            .await;
        match updated {
            Ok(_) => result.ok_or_else(|| Error::internal("policy update produced nothing")),
            Err(e) if e.kind == ErrorKind::CertificateNotFound => {
                // A certificate waiting for its first merge keeps its policy in the operation.
                let merged = |old: &CertPolicy| merged_policy(&input, old, &v, now);
                self.update_pending_policy(&v, &name, merged).await?.ok_or(e)
            }
            Err(e) => Err(e),
        }
    }

    /// `DELETE /certificates/{name}`: soft delete of the certificate with its key and secret
    /// (every version) and its pending operation.
    pub async fn delete(&self, vault: &str, name: &str) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let lc = name.key();
        let operations = &self.operations;
        let (v, name, lc, operations) = (&v, &name, &lc, &operations);
        self.barrier
            .transact(
                || CERTS.busy(),
                || async move {
                    let now = self.now();
                    let info = DeletedInfo {
                        deleted_date: now,
                        scheduled_purge_date: now + i64::from(v.retention_days) * 86_400,
                    };
                    let (txn, found) =
                        self.stage_delete::<CertPayload>(self.certs.raw(), v, lc, info, BTxn::new()).await?;
                    if !found {
                        return Err(CERTS.not_found(name.as_str(), None));
                    }
                    let (txn, _) = self.stage_delete::<KeyPayload>(self.keys.raw(), v, lc, info, txn).await?;
                    let (txn, _) = self.stage_delete::<SecretString>(self.secrets.raw(), v, lc, info, txn).await?;
                    Ok((operations.delete(txn, &record_key(&v.name, lc)), ()))
                },
            )
            .await?;
        self.forget_key_ops(&v.name, lc);
        let o = self.certs.get_deleted(v, name).await?;
        self.cert_view(v, o, true)
    }

    pub async fn get_deleted(&self, vault: &str, name: &str) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let o = self.certs.get_deleted(&v, &name).await?;
        self.cert_view(&v, o, true)
    }

    /// `POST /deletedcertificates/{name}/recover`: the certificate, key and secret come back.
    pub async fn recover(&self, vault: &str, name: &str) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let lc = name.key();
        let (txn, found) = self.stage_recover::<CertPayload>(self.certs.raw(), &v, &lc, BTxn::new()).await?;
        if !found {
            return Err(CERTS.deleted_not_found(name.as_str()));
        }
        let (txn, _) = self.stage_recover::<KeyPayload>(self.keys.raw(), &v, &lc, txn).await?;
        let (txn, _) = self.stage_recover::<SecretString>(self.secrets.raw(), &v, &lc, txn).await?;
        self.barrier.commit(txn).await?;
        self.forget_key_ops(&v.name, &lc);
        self.get(vault, name.as_str(), None).await
    }

    /// `DELETE /deletedcertificates/{name}`: permanent removal of all three.
    pub async fn purge(&self, vault: &str, name: &str) -> Result<()> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        // Refused under purge protection ('PurgeDeletedCertificate') and when not deleted.
        self.certs.purge(&v, &name).await?;
        let lc = name.key();
        self.keys.raw().purge_now(&v.name, &lc, None).await?;
        self.secrets.raw().purge_now(&v.name, &lc, None).await?;
        Ok(())
    }

    /// `POST /certificates/{name}/backup`: the certificate, key and secret backups in one blob
    /// (`SBC1` ‖ three length-prefixed blobs, each encrypted and authenticated on its own).
    pub async fn backup(&self, vault: &str, name: &str) -> Result<Vec<u8>> {
        let v = self.vault(vault).await?;
        let name = ObjectName::parse(name)?;
        let parts = [
            self.certs.backup(&v, &name).await?,
            self.keys.backup(&v, &name).await?,
            self.secrets.backup(&v, &name).await?,
        ];
        let mut out = BACKUP_MAGIC.to_vec();
        for p in parts {
            let len = u32::try_from(p.len()).map_err(|_| Error::internal("backup part too large"))?;
            out.extend_from_slice(&len.to_be_bytes());
            out.extend_from_slice(&p);
        }
        Ok(out)
    }

    /// `POST /certificates/restore`.
    pub async fn restore(&self, vault: &str, blob: &[u8]) -> Result<CertView> {
        let v = self.vault(vault).await?;
        let invalid = || Error::bad("The backup blob is invalid, corrupt, or was not created by this deployment.");
        let mut rest = blob.strip_prefix(BACKUP_MAGIC.as_slice()).ok_or_else(invalid)?;
        let mut parts: [&[u8]; 3] = [&[]; 3];
        for part in &mut parts {
            let (len, tail) = rest.split_first_chunk::<4>().ok_or_else(invalid)?;
            let len = u32::from_be_bytes(*len) as usize;
            if tail.len() < len {
                return Err(invalid());
            }
            let (p, tail) = tail.split_at(len);
            *part = p;
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(invalid());
        }
        // Every name the blob writes is checked first and all three objects are written in one
        // transaction: a taken key or secret name refuses the whole restore, nothing is written.
        let [cert_part, key_part, secret_part] = parts;
        let cd = self.certs.raw().open_backup::<CertPayload>(cert_part)?;
        let kd = self.keys.raw().open_backup::<KeyPayload>(key_part)?;
        let sd = self.secrets.raw().open_backup::<SecretString>(secret_part)?;
        // The three inner blobs must describe one certificate: the same name, the same versions
        // and latest version, and a key and secret managed by it.
        let versions = |vs: Vec<&VersionMeta>| -> Vec<String> {
            let mut ids: Vec<String> = vs.into_iter().map(|m| m.version.clone()).collect();
            ids.sort();
            ids
        };
        let cert_versions = versions(cd.versions.iter().map(|r| &r.meta).collect());
        let consistent = kd.name.eq_ignore_ascii_case(&cd.name)
            && sd.name.eq_ignore_ascii_case(&cd.name)
            && kd.latest == cd.latest
            && sd.latest == cd.latest
            && versions(kd.versions.iter().map(|r| &r.meta).collect()) == cert_versions
            && versions(sd.versions.iter().map(|r| &r.meta).collect()) == cert_versions
            && kd.versions.iter().all(|r| r.meta.managed)
            && sd.versions.iter().all(|r| r.meta.managed);
        if !consistent {
            return Err(Error::bad(
                "The backup blob is invalid: its certificate, key and secret parts do not belong to one certificate.",
            ));
        }
        let (o, txn) = self.certs.raw().stage_restore(&v, cd, BTxn::new()).await?;
        let (_, txn) = self.keys.raw().stage_restore(&v, kd, txn).await.map_err(|e| name_taken(&KEYS, &o.name, e))?;
        let (_, txn) =
            self.secrets.raw().stage_restore(&v, sd, txn).await.map_err(|e| name_taken(&SECRETS, &o.name, e))?;
        self.barrier.commit(txn).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(
                    ErrorKind::Conflict,
                    format!(
                        "Certificate {} cannot be restored: its name, or the name of its key or secret, was taken meanwhile. Nothing was restored.",
                        o.name
                    ),
                )
            } else {
                e
            }
        })?;
        self.forget_key_ops(&v.name, &o.name.to_ascii_lowercase());
        self.cert_view(&v, o, true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::certificates::{CertUpdate, CreateCertificate};

    #[tokio::test]
    async fn policy_patch_on_an_older_version_shows_the_new_policy() {
        use std::sync::Arc;
        let barrier = Arc::new(strongbox_barrier::Barrier::new(Arc::new(strongbox_storage::MemoryStorage::new())));
        let kek = strongbox_crypto::random_key().unwrap();
        barrier.initialize(&kek).await.unwrap();
        barrier.unseal(&kek).await.unwrap();
        let clock = strongbox_types::FakeClock::new(1_800_000_000);
        let cfg = crate::CoreConfig {
            dns_suffix: "vault.localhost".into(),
            public_port: 8443,
            authority_host: "localhost".into(),
            token_lifetime: 3600,
        };
        let c = crate::Services::open(barrier, Arc::new(clock.clone()), cfg).await.unwrap();
        c.bootstrap("default").await.unwrap();
        let create = |subject: &str| CreateCertificate {
            policy: Some(PolicyInput {
                subject: Some(subject.into()),
                issuer: Some("Self".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        c.certificates.create("default", "c", create("CN=one")).await.unwrap();
        let first = c.certificates.get("default", "c", None).await.unwrap().version;
        clock.advance(5);
        c.certificates.create("default", "c", create("CN=two")).await.unwrap();
        let upd = CertUpdate {
            policy: Some(PolicyInput { subject: Some("CN=three".into()), ..Default::default() }),
            ..Default::default()
        };
        let view = c.certificates.update("default", "c", Some(&first), upd).await.unwrap();
        assert_eq!(view.version, first);
        assert_eq!(view.policy.unwrap().subject, "CN=three");
        assert_eq!(c.certificates.get_policy("default", "c").await.unwrap().subject, "CN=three");
    }
}
