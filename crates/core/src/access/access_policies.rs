//! The vault permission model and legacy vault access policies (wire §11.2).
//!
//! A vault's data plane is authorised either by RBAC (`enableRbacAuthorization`, the default)
//! or by its access policies. An access policy names a principal (or a group, or an application
//! acting for a user with `applicationId`) and the permissions it has on keys, secrets and
//! certificates. Both live in the vault record (whose shape, with [`AccessPolicy`], is the
//! vaults service's); changing them bumps the authorization generation so other nodes drop
//! their cached vault records.
//!
//! ("Access policy" here is never the identity policy, a certificate policy, a key release
//! policy or a key rotation policy.)

use strongbox_types::{Error, ErrorKind, Result};

use super::Access;
use super::names::check_guid;
use crate::vaults::{AccessPolicy, AccessPolicyPermissions, VaultRecord};
use crate::{Principal, VaultInfo};

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

/// Validates and canonicalises an access policy; an empty tenant becomes ours.
fn normalized(mut p: AccessPolicy, tenant: &str) -> Result<AccessPolicy> {
    check_guid("objectId", &p.object_id)?;
    p.object_id = p.object_id.to_ascii_lowercase();
    if let Some(a) = &p.application_id {
        check_guid("applicationId", a)?;
        p.application_id = Some(a.to_ascii_lowercase());
    }
    if p.tenant_id.is_empty() {
        p.tenant_id = tenant.to_owned();
    } else if !p.tenant_id.eq_ignore_ascii_case(tenant) {
        return Err(Error::bad("The access policy's tenantId is not this deployment's tenant."));
    }
    p.permissions.keys = canonical("keys", KEY_PERMS, &p.permissions.keys)?;
    p.permissions.secrets = canonical("secrets", SECRET_PERMS, &p.permissions.secrets)?;
    p.permissions.certificates = canonical("certificates", CERT_PERMS, &p.permissions.certificates)?;
    Ok(p)
}

/// The permissions `p` grants in `area`.
fn permissions_in(p: &AccessPolicy, area: AccessPolicyArea) -> &[String] {
    match area {
        AccessPolicyArea::Keys => &p.permissions.keys,
        AccessPolicyArea::Secrets => &p.permissions.secrets,
        AccessPolicyArea::Certificates => &p.permissions.certificates,
    }
}

/// Whether `a` and `b` are the entry of the same (principal, application).
fn same_identity(a: &AccessPolicy, b: &AccessPolicy) -> bool {
    a.object_id == b.object_id && a.application_id == b.application_id
}

/// A change to a vault's permission model and/or its access policy list.
#[derive(Debug, Clone, Default)]
pub struct PermissionModelUpdate {
    pub enable_rbac_authorization: Option<bool>,
    /// Replaces the whole list.
    pub access_policies: Option<Vec<AccessPolicy>>,
}

impl Access {
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
                && permissions_in(pol, c.area).iter().any(|x| {
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
                self.issuer,
                c.area.noun(),
                c.permission,
                v.name
            ),
        ))
    }

    /// Applies `f` to the vault record with compare-and-set, bumping the authorization
    /// generation in the same transaction; the vaults service refreshes this node's copy.
    async fn update_vault_record(&self, name: &str, f: impl Fn(&mut VaultRecord) -> Result<()>) -> Result<VaultInfo> {
        let changed = || Error::new(ErrorKind::Conflict, "The vault changed concurrently; retry.");
        let change = |rec: &mut VaultRecord| {
            f(rec)?;
            if rec.access_policies.len() > MAX_ACCESS_POLICIES {
                return Err(Error::bad(format!("A vault holds at most {MAX_ACCESS_POLICIES} access policies.")));
            }
            Ok(())
        };
        let rec = self.vaults.update_record(name, changed, change, |txn| self.store.bump(txn)).await?;
        Ok(self.vaults.info(&rec))
    }

    /// Switches the permission model and/or replaces the access policy list.
    pub async fn update_permission_model(&self, name: &str, u: PermissionModelUpdate) -> Result<VaultInfo> {
        let tenant = self.tenant_id.as_str();
        let policies = match u.access_policies {
            Some(list) => Some(list.into_iter().map(|p| normalized(p, tenant)).collect::<Result<Vec<_>>>()?),
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
        let given = normalized(
            AccessPolicy {
                tenant_id: String::new(),
                object_id: object_id.to_owned(),
                application_id: application_id.map(str::to_owned),
                permissions: AccessPolicyPermissions {
                    keys: keys.clone().unwrap_or_default(),
                    secrets: secrets.clone().unwrap_or_default(),
                    certificates: certificates.clone().unwrap_or_default(),
                },
            },
            &self.tenant_id,
        )?;
        self.update_vault_record(vault, |rec| {
            match rec.access_policies.iter_mut().find(|p| same_identity(p, &given)) {
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
