//! The vault permission model and legacy vault access policies (wire §11.2).
//!
//! A vault's data plane is authorised either by RBAC (`enableRbacAuthorization`, the default)
//! or by its access policies. An access policy names a principal (or a group, or an application
//! acting for a user with `applicationId`) and the permissions it has on keys, secrets and
//! certificates. Both live in the vault record; changing them bumps the authorization
//! generation so other nodes drop their cached vault records.
//!
//! ("Access policy" here is never the identity policy, a certificate policy, a key release
//! policy or a key rotation policy.)

use serde::{Deserialize, Serialize};
use strongbox_barrier::keyspace::VAULTS;
use strongbox_barrier::{BTxn, Step, View};
use strongbox_types::{Error, ErrorKind, Result};

use super::names::check_guid;
use crate::vaults::VaultRecord;
use crate::{Core, Principal, VaultInfo};

/// At most this many access policies per vault (Azure's limit).
pub const MAX_ACCESS_POLICIES: usize = 1024;

const KEY_PERMS: &[&str] = &[
    "all",
    "get",
    "list",
    "create",
    "update",
    "import",
    "delete",
    "backup",
    "restore",
    "recover",
    "purge",
    "encrypt",
    "decrypt",
    "wrapKey",
    "unwrapKey",
    "sign",
    "verify",
    "release",
    "rotate",
    "getrotationpolicy",
    "setrotationpolicy",
];
const SECRET_PERMS: &[&str] = &["all", "get", "list", "set", "delete", "backup", "restore", "recover", "purge"];
const CERT_PERMS: &[&str] = &[
    "all",
    "get",
    "list",
    "delete",
    "create",
    "import",
    "update",
    "managecontacts",
    "getissuers",
    "listissuers",
    "setissuers",
    "deleteissuers",
    "manageissuers",
    "recover",
    "purge",
    "backup",
    "restore",
];

/// Which permission list of an access policy a data-plane operation is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessPolicyArea {
    Keys,
    Secrets,
    Certificates,
}

impl AccessPolicyArea {
    fn noun(self) -> &'static str {
        match self {
            Self::Keys => "keys",
            Self::Secrets => "secrets",
            Self::Certificates => "certificates",
        }
    }
}

/// What the central check asks of the access policies: `permission` on `area` in `vault`.
#[derive(Debug, Clone, Copy)]
pub struct AccessPolicyCheck<'a> {
    pub vault: &'a str,
    pub area: AccessPolicyArea,
    pub permission: &'static str,
}

/// The permission lists of one access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicyPermissions {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    #[serde(default)]
    pub certificates: Vec<String>,
}

/// One access policy entry, in Azure's JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessPolicy {
    #[serde(default)]
    pub tenant_id: String,
    pub object_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    #[serde(default)]
    pub permissions: AccessPolicyPermissions,
}

/// Canonical spellings (case-insensitive on input, as ARM and Terraform send `Get`, `List`…).
fn canonical(area: &str, allowed: &[&str], given: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for g in given {
        let c = allowed.iter().find(|a| a.eq_ignore_ascii_case(g.trim())).ok_or_else(|| {
            Error::bad(format!(
                "'{}' is not a {area} permission; use one of: {}.",
                g.chars().take(40).collect::<String>(),
                allowed.join(", ")
            ))
        })?;
        if !out.iter().any(|x| x == c) {
            out.push((*c).to_owned());
        }
    }
    Ok(out)
}

impl AccessPolicy {
    /// Validates and canonicalises a policy; an empty tenant becomes ours.
    pub fn normalized(mut self, tenant: &str) -> Result<Self> {
        check_guid("objectId", &self.object_id)?;
        self.object_id = self.object_id.to_ascii_lowercase();
        if let Some(a) = &self.application_id {
            check_guid("applicationId", a)?;
            self.application_id = Some(a.to_ascii_lowercase());
        }
        if self.tenant_id.is_empty() {
            self.tenant_id = tenant.to_owned();
        } else if !self.tenant_id.eq_ignore_ascii_case(tenant) {
            return Err(Error::bad("The access policy's tenantId is not this deployment's tenant."));
        }
        self.permissions.keys = canonical("keys", KEY_PERMS, &self.permissions.keys)?;
        self.permissions.secrets = canonical("secrets", SECRET_PERMS, &self.permissions.secrets)?;
        self.permissions.certificates = canonical("certificates", CERT_PERMS, &self.permissions.certificates)?;
        Ok(self)
    }

    fn list(&self, area: AccessPolicyArea) -> &[String] {
        match area {
            AccessPolicyArea::Keys => &self.permissions.keys,
            AccessPolicyArea::Secrets => &self.permissions.secrets,
            AccessPolicyArea::Certificates => &self.permissions.certificates,
        }
    }

    fn same_identity(&self, other: &AccessPolicy) -> bool {
        self.object_id == other.object_id && self.application_id == other.application_id
    }
}

/// A change to a vault's permission model and/or its access policy list.
#[derive(Debug, Clone, Default)]
pub struct PermissionModelUpdate {
    pub enable_rbac_authorization: Option<bool>,
    /// Replaces the whole list.
    pub access_policies: Option<Vec<AccessPolicy>>,
}

impl Core {
    /// Allows or refuses by the access policies of vault `v` (one that does not use RBAC).
    pub(super) fn check_access_policy(&self, v: &VaultRecord, p: &Principal, c: &AccessPolicyCheck<'_>) -> Result<()> {
        let mut groups = self.groups_of(&p.object_id);
        // groups a corporate IdP token puts the caller in count like stored memberships
        groups.extend(p.token_groups.iter().cloned());
        let oid = p.object_id.to_ascii_lowercase();
        let granted = v.access_policies.iter().any(|pol| {
            let who = pol.object_id == oid || groups.contains(&pol.object_id);
            let app = pol.application_id.as_ref().is_none_or(|a| a.eq_ignore_ascii_case(&p.app_id));
            who && app
                && pol.list(c.area).iter().any(|x| {
                    x == "all"
                        || x.eq_ignore_ascii_case(c.permission)
                        // `manageissuers` stands for the four issuer permissions
                        || (x == "manageissuers" && c.permission.ends_with("issuers"))
                })
        });
        if granted {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::AccessDenied,
            format!(
                "The user, group or application 'appid={};oid={};iss={}' does not have {} {} permission on key vault '{};location=local'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287",
                p.app_id,
                p.object_id,
                self.issuer(),
                c.area.noun(),
                c.permission,
                v.name
            ),
        ))
    }

    /// Applies `f` to the vault record with compare-and-set, bumping the authorization
    /// generation, and refreshes this node's cached copy.
    async fn update_vault_record(&self, name: &str, f: impl Fn(&mut VaultRecord) -> Result<()>) -> Result<VaultInfo> {
        let store = &self.access.store;
        let vaults = &View::new(store.barrier().clone(), VAULTS);
        let (key, f) = (&name.to_ascii_lowercase(), &f);
        let changed = || Error::new(ErrorKind::Conflict, "The vault changed concurrently; retry.");
        let rec = store
            .barrier()
            .transact(changed, || async move {
                let (mut rec, stamp) = vaults.get_versioned::<VaultRecord>(key).await?.ok_or_else(|| {
                    Error::new(ErrorKind::VaultNotFound, format!("The vault '{name}' does not exist on this server."))
                })?;
                f(&mut rec)?;
                if rec.access_policies.len() > MAX_ACCESS_POLICIES {
                    return Err(Error::bad(format!("A vault holds at most {MAX_ACCESS_POLICIES} access policies.")));
                }
                let txn = store.bump(vaults.put(vaults.unchanged(BTxn::new(), key, &stamp), key, &rec)?)?;
                Ok(Step::Commit(txn, rec))
            })
            .await?;
        let rec = self.cache_vault(rec);
        self.vault_info(&rec.name).await
    }

    /// Switches the permission model and/or replaces the access policy list.
    pub async fn update_vault_authorization(&self, name: &str, u: PermissionModelUpdate) -> Result<VaultInfo> {
        let tenant = self.tenant_id().to_owned();
        let policies = match u.access_policies {
            Some(list) => Some(list.into_iter().map(|p| p.normalized(&tenant)).collect::<Result<Vec<_>>>()?),
            None => None,
        };
        self.update_vault_record(name, |rec| {
            if let Some(e) = u.enable_rbac_authorization {
                rec.enable_rbac_authorization = e;
            }
            if let Some(list) = &policies {
                rec.access_policies = list.clone();
            }
            Ok(())
        })
        .await
    }

    /// `az keyvault set-policy`: adds the entry for (objectId, applicationId), or replaces the
    /// permission lists given (`None` leaves a list as it is).
    pub async fn set_access_policy(
        &self,
        vault: &str,
        object_id: &str,
        application_id: Option<&str>,
        keys: Option<Vec<String>>,
        secrets: Option<Vec<String>>,
        certificates: Option<Vec<String>>,
    ) -> Result<VaultInfo> {
        let given = AccessPolicy {
            tenant_id: String::new(),
            object_id: object_id.to_owned(),
            application_id: application_id.map(str::to_owned),
            permissions: AccessPolicyPermissions {
                keys: keys.clone().unwrap_or_default(),
                secrets: secrets.clone().unwrap_or_default(),
                certificates: certificates.clone().unwrap_or_default(),
            },
        }
        .normalized(self.tenant_id())?;
        self.update_vault_record(vault, |rec| {
            match rec.access_policies.iter_mut().find(|p| p.same_identity(&given)) {
                Some(p) => {
                    if keys.is_some() {
                        p.permissions.keys = given.permissions.keys.clone();
                    }
                    if secrets.is_some() {
                        p.permissions.secrets = given.permissions.secrets.clone();
                    }
                    if certificates.is_some() {
                        p.permissions.certificates = given.permissions.certificates.clone();
                    }
                }
                None => rec.access_policies.push(given.clone()),
            }
            Ok(())
        })
        .await
    }

    /// `az keyvault delete-policy`.
    pub async fn delete_access_policy(
        &self,
        vault: &str,
        object_id: &str,
        application_id: Option<&str>,
    ) -> Result<VaultInfo> {
        let oid = object_id.to_ascii_lowercase();
        let app = application_id.map(str::to_ascii_lowercase);
        self.update_vault_record(vault, |rec| {
            let before = rec.access_policies.len();
            rec.access_policies.retain(|p| !(p.object_id == oid && p.application_id == app));
            if rec.access_policies.len() == before {
                return Err(Error::new(ErrorKind::NotFound, "No access policy for this object id on this vault."));
            }
            Ok(())
        })
        .await
    }
}
