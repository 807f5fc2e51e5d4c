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
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use strongbox_authz::DenyAssignment;
use strongbox_core::{AccessPolicy, EligibleAssignment, NewDenyAssignment, PermissionModelUpdate};
use strongbox_types::{Error, Result};

use crate::context::{RequestContext, json as reply, parse_json};

const ASSIGN_WRITE: &str = "Microsoft.KeyVault/vaults/roleAssignments/write/action";

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

type Reply = Result<Response>;

/// `PATCH /_strongbox/vaults/{vault}`
pub(crate) async fn update_vault_authorization(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let name = ctx.param("vault")?.to_owned();
    let b: VaultPatch = parse_json(body)?;
    let u = PermissionModelUpdate {
        enable_rbac_authorization: b.enable_rbac_authorization,
        access_policies: b.access_policies,
    };
    Ok(ok(&core.access.update_permission_model(&name, u).await?))
}

/// `PUT /_strongbox/vaults/{vault}/accessPolicies/{object}`
pub(crate) async fn put_access_policy(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let vault = ctx.param("vault")?.to_owned();
    let oid = ctx.param("object")?.to_owned();
    let b: PolicyBody = parse_json(body)?;
    let pm = b.permissions;
    let info = core
        .access
        .set_access_policy(&vault, &oid, b.application_id.as_deref(), pm.keys, pm.secrets, pm.certificates)
        .await?;
    Ok(ok(&info))
}

/// `DELETE /_strongbox/vaults/{vault}/accessPolicies/{object}`
pub(crate) async fn delete_access_policy(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let vault = ctx.param("vault")?.to_owned();
    let oid = ctx.param("object")?.to_owned();
    Ok(ok(&core.access.delete_access_policy(&vault, &oid, ctx.query("applicationId")).await?))
}

/// Longest single time shift: ten years.
const MAX_SHIFT: i64 = 10 * 366 * 86_400;

/// `POST /_strongbox/dev/time-shift` `{"seconds": N}`: moves a `--dev` server's clock forward,
/// then runs the scheduled jobs once (purge, key rotation, certificate renewal, ended role
/// activations) so what came due is done when this answers. Refused on other servers.
pub(crate) async fn time_shift(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Shift {
        seconds: i64,
    }
    let Some(clock) = &ctx.app.cfg.dev_clock else {
        return Err(Error::new(
            strongbox_types::ErrorKind::Forbidden,
            "The clock can be moved only on a server started with --dev.",
        ));
    };
    let s: Shift = parse_json(body)?;
    if !(1..=MAX_SHIFT).contains(&s.seconds) {
        return Err(Error::bad(format!("seconds must be between 1 and {MAX_SHIFT} (the clock only moves forward).")));
    }
    let offset = clock.shift(s.seconds);
    let core = &ctx.app.core;
    let purged = core.purge_expired().await?;
    let rotated = core.keys.rotate_due().await?;
    let renewed = core.certificates.renew_due().await?;
    let activations_ended = core.access.pim_sweep().await?;
    tracing::info!(shifted = s.seconds, offset, "dev mode: clock moved forward");
    Ok(reply(
        StatusCode::OK,
        &json!({ "offsetSeconds": offset, "now": core.now(), "purged": purged, "rotated": rotated,
                 "renewed": renewed, "activationsEnded": activations_ended }),
    ))
}

/// `GET /_strongbox/groups`
pub(crate) async fn list_groups(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    Ok(ok(&json!({ "value": core.access.list_groups().await? })))
}

/// `POST /_strongbox/groups`
pub(crate) async fn create_group(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let b: GroupBody = parse_json(body)?;
    let g = core.access.create_group(&need(b.display_name, "displayName")?, &b.description).await?;
    Ok(reply(StatusCode::CREATED, &g))
}

/// `GET /_strongbox/groups/{group}`
pub(crate) async fn get_group(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let g = ctx.param("group")?.to_owned();
    Ok(ok(&core.access.group(&g).await?))
}

/// `DELETE /_strongbox/groups/{group}`
pub(crate) async fn delete_group(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let g = ctx.param("group")?.to_owned();
    Ok(ok(&core.access.delete_group(&g).await?))
}

/// `GET /_strongbox/groups/{group}/members`
pub(crate) async fn list_group_members(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let g = ctx.param("group")?.to_owned();
    let g = core.access.group(&g).await?;
    Ok(ok(&json!({ "value": core.access.group_members(&g.id).await? })))
}

/// `PUT /_strongbox/groups/{group}/members/{member}`
pub(crate) async fn add_group_member(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let g = ctx.param("group")?.to_owned();
    let m = ctx.param("member")?.to_owned();
    let g = core.access.add_group_member(&g, &m).await?;
    Ok(ok(&json!({ "group": g.id, "member": m.to_ascii_lowercase() })))
}

/// `DELETE /_strongbox/groups/{group}/members/{member}`
pub(crate) async fn remove_group_member(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let g = ctx.param("group")?.to_owned();
    let m = ctx.param("member")?.to_owned();
    core.access.remove_group_member(&g, &m).await?;
    Ok(crate::context::empty(StatusCode::NO_CONTENT))
}

/// `GET /_strongbox/denyAssignments`
pub(crate) async fn list_deny_assignments(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let v: Vec<Value> = core.access.list_deny_assignments().await?.iter().map(deny_json).collect();
    Ok(ok(&json!({ "value": v })))
}

/// `GET /_strongbox/denyAssignments/{id}`
pub(crate) async fn get_deny_assignment(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = ctx.param("id")?.to_owned();
    Ok(ok(&deny_json(&core.access.get_deny_assignment(&id).await?)))
}

/// `PUT /_strongbox/denyAssignments/{id}`
pub(crate) async fn put_deny_assignment(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = ctx.param("id")?.to_owned();
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

/// `DELETE /_strongbox/denyAssignments/{id}`
pub(crate) async fn delete_deny_assignment(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = ctx.param("id")?.to_owned();
    Ok(ok(&deny_json(&core.access.delete_deny_assignment(&id).await?)))
}

/// `GET /_strongbox/pim/eligible`
pub(crate) async fn list_eligible_assignments(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    Ok(ok(&json!({ "value": core.access.list_eligible_assignments().await? })))
}

/// `PUT /_strongbox/pim/eligible/{id}`
pub(crate) async fn put_eligible_assignment(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = ctx.param("id")?.to_owned();
    let p = &ctx.caller;
    let b: EligibleBody = parse_json(body)?;
    let role = core.access.resolve_role_id(&need(b.role_definition_id, "roleDefinitionId")?).await?;
    let scope = need(b.scope, "scope")?;
    // the same condition as a permanent assignment (Data Access Administrator)
    core.access.authorize_role_write(p, ASSIGN_WRITE, &strongbox_core::access::normalize_scope(&scope), &role)?;
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

/// `DELETE /_strongbox/pim/eligible/{id}`
pub(crate) async fn delete_eligible_assignment(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = ctx.param("id")?.to_owned();
    Ok(ok(&core.access.delete_eligible_assignment(&id).await?))
}

/// `GET /_strongbox/pim/requests`
pub(crate) async fn list_activations(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let p = &ctx.caller;
    Ok(ok(&json!({ "value": core.access.list_activation_requests(p).await? })))
}

/// `POST /_strongbox/pim/requests`
pub(crate) async fn request_activation(ctx: &RequestContext<'_>, body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let p = &ctx.caller;
    let b: ActivationBody = parse_json(body)?;
    let role = need(b.role_definition_id, "roleDefinitionId")?;
    let scope = need(b.scope, "scope")?;
    let secs = duration(b.duration, "duration")?;
    let r = core.access.request_activation(p, &role, &scope, secs, &b.justification).await?;
    Ok(reply(StatusCode::CREATED, &r))
}

/// `POST /_strongbox/pim/requests/{id}/approve`
pub(crate) async fn approve_activation(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = ctx.param("id")?.to_owned();
    let p = &ctx.caller;
    Ok(ok(&core.access.approve_activation(p, &id).await?))
}

/// `POST /_strongbox/pim/requests/{id}/deny`
pub(crate) async fn deny_activation(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = ctx.param("id")?.to_owned();
    let p = &ctx.caller;
    Ok(ok(&core.access.deny_activation(p, &id).await?))
}

/// `POST /_strongbox/pim/requests/{id}/revoke`
pub(crate) async fn revoke_activation(ctx: &RequestContext<'_>, _body: Option<Bytes>) -> Reply {
    let core = &ctx.app.core;
    let id = ctx.param("id")?.to_owned();
    let p = &ctx.caller;
    Ok(ok(&core.access.revoke_activation(p, &id).await?))
}

fn ok<T: serde::Serialize>(v: &T) -> Response {
    reply(StatusCode::OK, v)
}
