//! Checks and normal forms of the identifiers access control accepts: GUIDs, scopes, role
//! definition ids and action patterns.

use strongbox_types::{Error, Result};

pub(super) fn check_guid(what: &str, s: &str) -> Result<()> {
    if uuid::Uuid::parse_str(s).is_err() {
        return Err(Error::bad(format!("The {what} '{}' is not a GUID.", s.chars().take(64).collect::<String>())));
    }
    Ok(())
}

/// Normalises a scope: leading `/`, no trailing `/`, no empty segments.
pub fn normalize_scope(s: &str) -> String {
    let segs: Vec<&str> = s.split('/').filter(|x| !x.is_empty()).collect();
    format!("/{}", segs.join("/"))
}

/// Checks an absolute scope's shape: `/`, `/vaults/{v}`, `/vaults/{v}/{collection}[/{name}]`.
pub fn check_scope(s: &str) -> Result<String> {
    let n = normalize_scope(s);
    let segs: Vec<&str> = n.split('/').filter(|x| !x.is_empty()).collect();
    let ok = match segs.as_slice() {
        [] => true,
        ["vaults", _] => true,
        ["vaults", _, c] | ["vaults", _, c, _] => {
            ["secrets", "keys", "certificates"].iter().any(|x| x.eq_ignore_ascii_case(c))
        }
        _ => false,
    };
    if !ok || n.len() > 400 {
        return Err(Error::bad(format!(
            "The scope '{}' is not valid: use '/', '/vaults/{{vault}}' or '/vaults/{{vault}}/{{secrets|keys|certificates}}[/{{name}}]'.",
            n.chars().take(100).collect::<String>()
        )));
    }
    Ok(n)
}

/// Role id from a role definition id (`/providers/Microsoft.Authorization/roleDefinitions/{id}`
/// or the bare GUID).
pub fn role_id_of(s: &str) -> String {
    s.trim_end_matches('/').rsplit('/').next().unwrap_or(s).to_ascii_lowercase()
}

/// Checks a list of action patterns (`actions`, `dataActions`, …).
pub(super) fn check_patterns(what: &str, list: &[String]) -> Result<()> {
    if list.len() > 200 {
        return Err(Error::bad(format!("Too many {what} (at most 200).")));
    }
    for p in list {
        let ok =
            !p.is_empty() && p.len() <= 256 && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"./*_-".contains(&b));
        if !ok {
            return Err(Error::bad(format!(
                "The {what} entry '{}' is not a valid action pattern.",
                p.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(())
}
