//! Legacy vault access policies (wire §11.2), used instead of RBAC for the data plane of a
//! vault whose `enableRbacAuthorization` is false. A policy names a principal (or a group, or an
//! application acting for a user with `applicationId`) and the permissions it has on keys,
//! secrets and certificates.

use serde::{Deserialize, Serialize};
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ErrorKind, Result};

use crate::rbac::{bump, check_guid};
use crate::vaults::{VaultRecord, vault_key};
use crate::{CAS_RETRIES, Core, Principal, VaultInfo, encode};

/// At most this many policies per vault (Azure's limit).
pub const MAX_POLICIES: usize = 1024;

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

/// Which permission list a data-plane operation is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyArea {
    Keys,
    Secrets,
    Certificates,
}

impl PolicyArea {
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
pub struct PolicyCheck<'a> {
    pub vault: &'a str,
    pub area: PolicyArea,
    pub permission: &'static str,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
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
    pub permissions: Permissions,
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

    fn list(&self, area: PolicyArea) -> &[String] {
        match area {
            PolicyArea::Keys => &self.permissions.keys,
            PolicyArea::Secrets => &self.permissions.secrets,
            PolicyArea::Certificates => &self.permissions.certificates,
        }
    }

    fn same_identity(&self, other: &AccessPolicy) -> bool {
        self.object_id == other.object_id && self.application_id == other.application_id
    }
}

/// A change to a vault's permission model.
#[derive(Debug, Clone, Default)]
pub struct VaultAuthUpdate {
    pub enable_rbac_authorization: Option<bool>,
    /// Replaces the whole list.
    pub access_policies: Option<Vec<AccessPolicy>>,
}

impl Core {
    pub(crate) fn check_access_policy(&self, v: &VaultRecord, p: &Principal, c: &PolicyCheck<'_>) -> Result<()> {
        let mut groups = self.index_groups_of(&p.object_id);
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
                self.identity.issuer(),
                c.area.noun(),
                c.permission,
                v.name
            ),
        ))
    }

    /// Applies `f` to the vault record with compare-and-set, bumping the authorization
    /// generation, and refreshes this node's cached copy.
    async fn update_vault_record(&self, name: &str, f: impl Fn(&mut VaultRecord) -> Result<()>) -> Result<VaultInfo> {
        let key = vault_key(&name.to_ascii_lowercase());
        for _ in 0..CAS_RETRIES {
            let (mut rec, stamp) = self.read_json_versioned::<VaultRecord>(&key).await?.ok_or_else(|| {
                Error::new(ErrorKind::VaultNotFound, format!("The vault '{name}' does not exist on this server."))
            })?;
            f(&mut rec)?;
            if rec.access_policies.len() > MAX_POLICIES {
                return Err(Error::bad(format!("A vault holds at most {MAX_POLICIES} access policies.")));
            }
            match self.barrier.commit(bump(BTxn::new().unchanged(&key, &stamp).put(&key, encode(&rec)?))?).await {
                Ok(()) => {
                    let rec = self.cache_vault(rec);
                    return self.vault_info(&rec.name).await;
                }
                Err(e) if e.kind == ErrorKind::Conflict => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::new(ErrorKind::Conflict, "The vault changed concurrently; retry."))
    }

    /// Switches the permission model and/or replaces the access policy list.
    pub async fn update_vault_authorization(&self, name: &str, u: VaultAuthUpdate) -> Result<VaultInfo> {
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
            permissions: Permissions {
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
