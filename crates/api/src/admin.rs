//! Strongbox's own authorization management API (no Azure data-plane equivalent): vault
//! permission model and access policies, groups, deny assignments and just-in-time (PIM)
//! activation. All under `/_strongbox/…` on any host, with the same bearer tokens.
//!
//! | Method + path | Operation |
//! |---|---|
//! | `PATCH /_strongbox/vaults/{v}` `{enableRbacAuthorization?, accessPolicies?}` | switch model / replace policies |
//! | `PUT /_strongbox/vaults/{v}/accessPolicies/{objectId}` `{applicationId?, permissions{keys?,secrets?,certificates?}}` | set-policy |
//! | `DELETE /_strongbox/vaults/{v}/accessPolicies/{objectId}[?applicationId=]` | delete-policy |
//! | `GET/POST /_strongbox/groups`, `GET/DELETE /_strongbox/groups/{id or name}` | groups |
//! | `GET /_strongbox/groups/{g}/members`, `PUT/DELETE /_strongbox/groups/{g}/members/{objectId}` | members |
//! | `GET /_strongbox/denyAssignments`, `GET/PUT/DELETE /_strongbox/denyAssignments/{id}` | deny assignments |
//! | `GET /_strongbox/pim/eligible`, `PUT/DELETE /_strongbox/pim/eligible/{id}` | eligible assignments |
//! | `GET/POST /_strongbox/pim/requests`, `POST /_strongbox/pim/requests/{id}/{approve,deny,revoke}` | activations |

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use strongbox_authz::DenyAssignment;
use strongbox_core::{AccessPolicy, EligibleAssignment, NewDenyAssignment, PermissionModelUpdate};
use strongbox_identity::Principal;
use strongbox_types::{Error, ErrorKind, Result};

use crate::http::{Ctx, json as reply, parse_json};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRoute {
    VaultUpdate(String),
    PutAccessPolicy(String, String),
    DeleteAccessPolicy(String, String),
    GroupList,
    GroupCreate,
    GroupGet(String),
    GroupDelete(String),
    GroupMembers(String),
    GroupMemberAdd(String, String),
    GroupMemberRemove(String, String),
    DenyList,
    DenyGet(String),
    DenyPut(String),
    DenyDelete(String),
    EligibleList,
    EligiblePut(String),
    EligibleDelete(String),
    ActivationList,
    ActivationCreate,
    ActivationApprove(String),
    ActivationDeny(String),
    ActivationRevoke(String),
}

const ASSIGN_WRITE: &str = "Microsoft.KeyVault/vaults/roleAssignments/write/action";

impl AdminRoute {
    /// `segs` starts with `_strongbox`. `None` when the path is not one of these routes.
    pub fn parse(method: &Method, segs: &[&str]) -> Option<Result<AdminRoute>> {
        let lit = |i: usize, s: &str| segs.get(i).is_some_and(|x| x.eq_ignore_ascii_case(s));
        let own = |i: usize| segs.get(i).map(|s| (*s).to_owned()).unwrap_or_default();
        let na =
            || Error::new(ErrorKind::MethodNotAllowed, format!("The method {method} is not supported on this path."));
        let m = method.clone();
        let r = match segs.len() {
            3 if lit(1, "vaults") && m == Method::PATCH => Ok(Self::VaultUpdate(own(2))),
            5 if lit(1, "vaults") && lit(3, "accesspolicies") => match m {
                Method::PUT => Ok(Self::PutAccessPolicy(own(2), own(4))),
                Method::DELETE => Ok(Self::DeleteAccessPolicy(own(2), own(4))),
                _ => Err(na()),
            },
            2 if lit(1, "groups") => match m {
                Method::GET => Ok(Self::GroupList),
                Method::POST => Ok(Self::GroupCreate),
                _ => Err(na()),
            },
            3 if lit(1, "groups") => match m {
                Method::GET => Ok(Self::GroupGet(own(2))),
                Method::DELETE => Ok(Self::GroupDelete(own(2))),
                _ => Err(na()),
            },
            4 if lit(1, "groups") && lit(3, "members") => match m {
                Method::GET => Ok(Self::GroupMembers(own(2))),
                _ => Err(na()),
            },
            5 if lit(1, "groups") && lit(3, "members") => match m {
                Method::PUT => Ok(Self::GroupMemberAdd(own(2), own(4))),
                Method::DELETE => Ok(Self::GroupMemberRemove(own(2), own(4))),
                _ => Err(na()),
            },
            2 if lit(1, "denyassignments") => match m {
                Method::GET => Ok(Self::DenyList),
                _ => Err(na()),
            },
            3 if lit(1, "denyassignments") => match m {
                Method::GET => Ok(Self::DenyGet(own(2))),
                Method::PUT => Ok(Self::DenyPut(own(2))),
                Method::DELETE => Ok(Self::DenyDelete(own(2))),
                _ => Err(na()),
            },
            3 if lit(1, "pim") && lit(2, "eligible") => match m {
                Method::GET => Ok(Self::EligibleList),
                _ => Err(na()),
            },
            4 if lit(1, "pim") && lit(2, "eligible") => match m {
                Method::PUT => Ok(Self::EligiblePut(own(3))),
                Method::DELETE => Ok(Self::EligibleDelete(own(3))),
                _ => Err(na()),
            },
            3 if lit(1, "pim") && lit(2, "requests") => match m {
                Method::GET => Ok(Self::ActivationList),
                Method::POST => Ok(Self::ActivationCreate),
                _ => Err(na()),
            },
            5 if lit(1, "pim") && lit(2, "requests") => match (m, segs[4].to_ascii_lowercase().as_str()) {
                (Method::POST, "approve") => Ok(Self::ActivationApprove(own(3))),
                (Method::POST, "deny") => Ok(Self::ActivationDeny(own(3))),
                (Method::POST, "revoke") => Ok(Self::ActivationRevoke(own(3))),
                (Method::POST, _) => return None,
                _ => Err(na()),
            },
            _ => return None,
        };
        Some(r)
    }

    pub fn data_action(&self) -> &'static str {
        match self {
            Self::VaultUpdate(_) => "Microsoft.KeyVault/vaults/write",
            Self::PutAccessPolicy(..) | Self::DeleteAccessPolicy(..) => {
                "Microsoft.KeyVault/vaults/accessPolicies/write"
            }
            Self::GroupList | Self::GroupGet(_) | Self::GroupMembers(_) => "Microsoft.KeyVault/vaults/groups/read",
            Self::GroupCreate | Self::GroupDelete(_) | Self::GroupMemberAdd(..) | Self::GroupMemberRemove(..) => {
                "Microsoft.KeyVault/vaults/groups/write"
            }
            Self::DenyList | Self::DenyGet(_) => "Microsoft.KeyVault/vaults/denyAssignments/read",
            Self::DenyPut(_) | Self::DenyDelete(_) => "Microsoft.KeyVault/vaults/denyAssignments/write",
            Self::EligibleList => "Microsoft.KeyVault/vaults/roleAssignments/read/action",
            Self::EligiblePut(_) | Self::EligibleDelete(_) => ASSIGN_WRITE,
            Self::ActivationList
            | Self::ActivationCreate
            | Self::ActivationApprove(_)
            | Self::ActivationDeny(_)
            | Self::ActivationRevoke(_) => "Microsoft.KeyVault/vaults/roleAssignments/activate/action",
        }
    }

    pub fn scope(&self) -> String {
        match self {
            Self::VaultUpdate(v) | Self::PutAccessPolicy(v, _) | Self::DeleteAccessPolicy(v, _) => {
                format!("/vaults/{v}")
            }
            _ => "/".into(),
        }
    }

    /// PIM activation routes are open to every authenticated principal: eligibility, approver
    /// lists and ownership are checked by the service, not by a role.
    pub fn self_authorized(&self) -> bool {
        matches!(
            self,
            Self::ActivationList
                | Self::ActivationCreate
                | Self::ActivationApprove(_)
                | Self::ActivationDeny(_)
                | Self::ActivationRevoke(_)
        )
    }

    pub fn wants_body(&self) -> bool {
        matches!(
            self,
            Self::VaultUpdate(_)
                | Self::PutAccessPolicy(..)
                | Self::GroupCreate
                | Self::DenyPut(_)
                | Self::EligiblePut(_)
                | Self::ActivationCreate
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VaultPatch {
    enable_rbac_authorization: Option<bool>,
    access_policies: Option<Vec<AccessPolicy>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PolicyPerms {
    keys: Option<Vec<String>>,
    secrets: Option<Vec<String>>,
    certificates: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyBody {
    application_id: Option<String>,
    #[serde(default)]
    permissions: PolicyPerms,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupBody {
    display_name: Option<String>,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DenyBody {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    principal_ids: Vec<String>,
    #[serde(default)]
    exclude_principal_ids: Vec<String>,
    #[serde(default)]
    data_actions: Vec<String>,
    #[serde(default)]
    not_data_actions: Vec<String>,
    scope: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EligibleBody {
    principal_id: Option<String>,
    role_definition_id: Option<String>,
    scope: Option<String>,
    /// ISO 8601 duration (`PT8H`) or seconds.
    maximum_duration: Option<Value>,
    #[serde(default)]
    justification_required: bool,
    #[serde(default)]
    mfa_required: bool,
    #[serde(default)]
    approval_required: bool,
    #[serde(default)]
    approvers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivationBody {
    role_definition_id: Option<String>,
    scope: Option<String>,
    duration: Option<Value>,
    #[serde(default)]
    justification: String,
}

/// Seconds from `3600` or `"PT1H"`.
fn duration(v: Option<Value>, what: &str) -> Result<i64> {
    match v {
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| Error::bad(format!("'{what}' must be whole seconds."))),
        Some(Value::String(s)) => strongbox_core::parse_duration(&s),
        _ => Err(Error::bad(format!("'{what}' is required (seconds or an ISO-8601 duration such as PT1H)."))),
    }
}

fn deny_json(d: &DenyAssignment) -> Value {
    json!({
        "id": d.id,
        "name": d.name,
        "description": d.description,
        "principalIds": d.principals,
        "excludePrincipalIds": d.exclude_principals,
        "dataActions": d.data_actions,
        "notDataActions": d.not_data_actions,
        "scope": d.scope,
    })
}

fn need<T>(v: Option<T>, what: &str) -> Result<T> {
    v.ok_or_else(|| Error::bad(format!("The '{what}' member is required.")))
}

pub async fn serve(ctx: &Ctx<'_>, route: AdminRoute, p: &Principal, body: Option<Bytes>) -> Result<Response> {
    let core = &ctx.st.core;
    match route {
        AdminRoute::VaultUpdate(name) => {
            let b: VaultPatch = parse_json(body)?;
            let u = PermissionModelUpdate {
                enable_rbac_authorization: b.enable_rbac_authorization,
                access_policies: b.access_policies,
            };
            Ok(ok(&core.access.update_permission_model(&name, u).await?))
        }
        AdminRoute::PutAccessPolicy(vault, oid) => {
            let b: PolicyBody = parse_json(body)?;
            let pm = b.permissions;
            let info = core
                .access
                .set_access_policy(&vault, &oid, b.application_id.as_deref(), pm.keys, pm.secrets, pm.certificates)
                .await?;
            Ok(ok(&info))
        }
        AdminRoute::DeleteAccessPolicy(vault, oid) => {
            Ok(ok(&core.access.delete_access_policy(&vault, &oid, ctx.q("applicationId")).await?))
        }
        AdminRoute::GroupList => Ok(ok(&json!({ "value": core.access.list_groups().await? }))),
        AdminRoute::GroupCreate => {
            let b: GroupBody = parse_json(body)?;
            let g = core.access.create_group(&need(b.display_name, "displayName")?, &b.description).await?;
            Ok(reply(StatusCode::CREATED, &g))
        }
        AdminRoute::GroupGet(g) => Ok(ok(&core.access.group(&g).await?)),
        AdminRoute::GroupDelete(g) => Ok(ok(&core.access.delete_group(&g).await?)),
        AdminRoute::GroupMembers(g) => {
            let g = core.access.group(&g).await?;
            Ok(ok(&json!({ "value": core.access.group_members(&g.id).await? })))
        }
        AdminRoute::GroupMemberAdd(g, m) => {
            let g = core.access.add_group_member(&g, &m).await?;
            Ok(ok(&json!({ "group": g.id, "member": m.to_ascii_lowercase() })))
        }
        AdminRoute::GroupMemberRemove(g, m) => {
            core.access.remove_group_member(&g, &m).await?;
            Ok(crate::http::empty(StatusCode::NO_CONTENT))
        }
        AdminRoute::DenyList => {
            let v: Vec<Value> = core.access.list_deny_assignments().await?.iter().map(deny_json).collect();
            Ok(ok(&json!({ "value": v })))
        }
        AdminRoute::DenyGet(id) => Ok(ok(&deny_json(&core.access.get_deny_assignment(&id).await?))),
        AdminRoute::DenyPut(id) => {
            let b: DenyBody = parse_json(body)?;
            let d = NewDenyAssignment {
                name: b.name,
                description: b.description,
                principals: b.principal_ids,
                exclude_principals: b.exclude_principal_ids,
                data_actions: b.data_actions,
                not_data_actions: b.not_data_actions,
                scope: need(b.scope, "scope")?,
            };
            Ok(reply(StatusCode::CREATED, &deny_json(&core.access.put_deny_assignment(&id, d).await?)))
        }
        AdminRoute::DenyDelete(id) => Ok(ok(&deny_json(&core.access.delete_deny_assignment(&id).await?))),
        AdminRoute::EligibleList => Ok(ok(&json!({ "value": core.access.list_eligible_assignments().await? }))),
        AdminRoute::EligiblePut(id) => {
            let b: EligibleBody = parse_json(body)?;
            let role = core.access.resolve_role_id(&need(b.role_definition_id, "roleDefinitionId")?).await?;
            let scope = need(b.scope, "scope")?;
            // the same condition as a permanent assignment (Data Access Administrator)
            core.access.authorize_role_write(
                p,
                ASSIGN_WRITE,
                &strongbox_core::access::normalize_scope(&scope),
                &role,
            )?;
            let e = EligibleAssignment {
                id: id.clone(),
                principal_id: need(b.principal_id, "principalId")?,
                role_id: role,
                scope,
                max_duration: duration(b.maximum_duration, "maximumDuration")?,
                justification_required: b.justification_required,
                mfa_required: b.mfa_required,
                approval_required: b.approval_required,
                approvers: b.approvers,
            };
            Ok(reply(StatusCode::CREATED, &core.access.put_eligible_assignment(&id, e).await?))
        }
        AdminRoute::EligibleDelete(id) => Ok(ok(&core.access.delete_eligible_assignment(&id).await?)),
        AdminRoute::ActivationList => Ok(ok(&json!({ "value": core.access.list_activation_requests(p).await? }))),
        AdminRoute::ActivationCreate => {
            let b: ActivationBody = parse_json(body)?;
            let role = need(b.role_definition_id, "roleDefinitionId")?;
            let scope = need(b.scope, "scope")?;
            let secs = duration(b.duration, "duration")?;
            let r = core.access.request_activation(p, &role, &scope, secs, &b.justification).await?;
            Ok(reply(StatusCode::CREATED, &r))
        }
        AdminRoute::ActivationApprove(id) => Ok(ok(&core.access.approve_activation(p, &id).await?)),
        AdminRoute::ActivationDeny(id) => Ok(ok(&core.access.deny_activation(p, &id).await?)),
        AdminRoute::ActivationRevoke(id) => Ok(ok(&core.access.revoke_activation(p, &id).await?)),
    }
}

fn ok<T: serde::Serialize>(v: &T) -> Response {
    reply(StatusCode::OK, v)
}
