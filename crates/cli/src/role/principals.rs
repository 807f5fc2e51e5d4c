//! Naming principals on the command line: `--assignee` (an object id, app id, sign-in name or
//! group name) resolved to an object id in the directory, and role names resolved to role ids.

use anyhow::{Context, bail};
use serde_json::Value;

use super::DEFS;
use crate::client::Client;

/// A role's id from its name or id, through the vault's role definition list (on the caller's
/// connection: a second one would repeat the challenge probe and the token request).
pub(super) async fn role_id(cl: &Client, role: &str) -> anyhow::Result<String> {
    let defs = cl.list(DEFS).await?;
    let found = defs.iter().find(|d| {
        d.pointer("/properties/roleName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(role))
            || d.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(role))
    });
    match found.and_then(|d| d.get("name")).and_then(Value::as_str) {
        Some(id) => Ok(id.to_owned()),
        None => bail!("no role definition named '{role}'"),
    }
}

/// The object id that `assignee` names, resolved the way `az role assignment create
/// --assignee` resolves it: a sign-in name (`name@domain`) is a user; a GUID is a service
/// principal's app id or object id, else a user's or group's object id; anything else is a
/// group's display name. Nothing found is an error: an assignment to an id that is no object
/// (an app id, a typo) would never match a token's `oid`.
pub(super) async fn resolve_assignee(cl: &Client, assignee: &str) -> anyhow::Result<String> {
    let a = assignee.trim();
    let hint = "resolving --assignee reads the directory (deployment administrators); give \
                --assignee-object-id to use an object id as it is";
    let text = |v: &Value, f: &str| v.get(f).and_then(Value::as_str).map(str::to_ascii_lowercase);
    if uuid::Uuid::parse_str(a).is_ok() {
        for (path, field) in [("serviceprincipals", "objectId"), ("users", "objectId"), ("groups", "id")] {
            let found = cl.get_opt(&format!("/_strongbox/{path}/{a}")).await.context(hint)?;
            if let Some(id) = found.as_ref().and_then(|v| text(v, field)) {
                return Ok(id);
            }
        }
    } else if a.contains('@') {
        let users = cl.list("/_strongbox/users").await.context(hint)?;
        if let Some(id) = users
            .iter()
            .find(|u| u.get("userPrincipalName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(a)))
            .and_then(|u| text(u, "objectId"))
        {
            return Ok(id);
        }
    } else {
        let groups = cl.list("/_strongbox/groups").await.context(hint)?;
        let named: Vec<String> = groups
            .iter()
            .filter(|g| g.get("displayName").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(a)))
            .filter_map(|g| text(g, "id"))
            .collect();
        match named.as_slice() {
            [one] => return Ok(one.clone()),
            [] => {}
            _ => bail!("more than one group is named '{a}'; give its object id"),
        }
    }
    bail!(
        "cannot find a user, group or service principal for '{a}' in the directory (give an object id, app id, \
         sign-in name or group name, or --assignee-object-id for an id outside the directory)"
    )
}

/// `--assignee` resolved, or `--assignee-object-id` as given (a GUID).
pub(super) async fn assignee_id(
    cl: &Client,
    assignee: Option<String>,
    object_id: Option<String>,
) -> anyhow::Result<String> {
    match (object_id, assignee) {
        (Some(oid), _) => {
            uuid::Uuid::parse_str(oid.trim()).with_context(|| format!("--assignee-object-id '{oid}' is not a GUID"))?;
            Ok(oid.trim().to_ascii_lowercase())
        }
        (None, Some(a)) => resolve_assignee(cl, &a).await,
        (None, None) => bail!("give --assignee or --assignee-object-id"),
    }
}

/// Deny assignment principals and approvers: resolved like `--assignee`; a GUID the directory
/// does not know (or the caller may not read) is kept as given, since naming an unknown id there
/// grants nothing.
pub(super) async fn known_or_guid(cl: &Client, a: &str) -> anyhow::Result<String> {
    match resolve_assignee(cl, a).await {
        Ok(id) => Ok(id),
        Err(_) if uuid::Uuid::parse_str(a.trim()).is_ok() => Ok(a.trim().to_ascii_lowercase()),
        Err(e) => Err(e),
    }
}

/// An `--assignee` filter (list, delete) as an object id when the directory resolves it, else
/// as given: a filter grants nothing, so a caller who cannot read the directory still filters by
/// object id.
pub(super) async fn filter_assignee(cl: &Client, assignee: Option<String>) -> Option<String> {
    let a = assignee?;
    Some(resolve_assignee(cl, &a).await.unwrap_or(a))
}
