//! The `userTokens` settings of a trusted issuer: which of the IdP's user tokens are accepted
//! (audiences, domains), the claim that names the person, how it becomes a principal, and how
//! the IdP's group claim maps to Strongbox groups. Checked when the settings are set; applied by
//! `external.rs` to every token of that issuer.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use strongbox_types::{Error, Result};

use crate::Identity;
use crate::error::AuthFailure;

/// Claims that may name the person.
pub(crate) const USER_CLAIMS: &[&str] = &["email", "preferred_username", "upn", "unique_name", "sub", "oid"];
const MAX_AUDIENCES: usize = 10;
/// Most entries of a `groupMap`.
pub(crate) const MAX_GROUP_MAP: usize = 200;
/// Most values of a token's group claim that are looked at (the rest are ignored).
pub(crate) const MAX_GROUP_VALUES: usize = 200;
/// How a token's user claim becomes a principal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipalMapping {
    /// An existing Strongbox user whose UPN equals the claim value.
    #[default]
    User,
    /// A synthetic principal: object id derived from the issuer and the claim value.
    External,
}

/// The settings of a trusted issuer whose user tokens are accepted on the data plane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserTokens {
    /// Accepted `aud` values (e.g. the vault resource URI or the IdP's app id URI).
    pub audiences: Vec<String>,
    /// The claim naming the person: one of [`USER_CLAIMS`].
    #[serde(default = "default_claim")]
    pub user_claim: String,
    #[serde(default)]
    pub principal_mapping: PrincipalMapping,
    /// The claim listing the person's IdP groups (e.g. `groups`, `roles`); set with `groupMap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_claim: Option<String>,
    /// IdP group value → Strongbox group object id. Only mapped values count.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_map: BTreeMap<String, String>,
    /// With the `user` mapping: the UPN domains this issuer is authoritative for (each domain
    /// federated to one issuer at most, as a domain is in Entra). A token may only name a user
    /// whose claim value ends in `@` one of them, so an IdP cannot sign in as another IdP's
    /// people, nor as local accounts outside its domains.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
}

/// Claims that carry a UPN-like `name@domain` value (what the `user` mapping needs).
const DOMAIN_CLAIMS: &[&str] = &["email", "preferred_username", "upn", "unique_name"];
const MAX_DOMAINS: usize = 50;

/// Whether `d` is a plausible DNS domain name (lower case, labels of letters, digits, `-`).
fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn default_claim() -> String {
    "email".to_owned()
}

impl UserTokens {
    /// Lower-cases and de-duplicates `domains` (DNS names are case-insensitive).
    pub(crate) fn normalize(&mut self) {
        for d in &mut self.domains {
            *d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        }
        self.domains.sort();
        self.domains.dedup();
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.audiences.is_empty() || self.audiences.len() > MAX_AUDIENCES {
            return Err(Error::bad(format!("Give 1-{MAX_AUDIENCES} audiences for user tokens.")));
        }
        for a in &self.audiences {
            if a.is_empty() || a.len() > 600 || a.chars().any(char::is_control) {
                return Err(Error::bad("Each audience must be 1-600 printable characters."));
            }
        }
        if !USER_CLAIMS.contains(&self.user_claim.as_str()) {
            return Err(Error::bad(format!("'userClaim' must be one of: {}.", USER_CLAIMS.join(", "))));
        }
        match self.principal_mapping {
            PrincipalMapping::User => {
                if !DOMAIN_CLAIMS.contains(&self.user_claim.as_str()) {
                    return Err(Error::bad(format!(
                        "The 'user' mapping needs a 'userClaim' holding name@domain: one of {}.",
                        DOMAIN_CLAIMS.join(", ")
                    )));
                }
                if self.domains.is_empty() || self.domains.len() > MAX_DOMAINS {
                    return Err(Error::bad(format!(
                        "The 'user' mapping needs 'domains': the 1-{MAX_DOMAINS} UPN domains this issuer is \
                         authoritative for (only users of those domains can sign in with its tokens)."
                    )));
                }
                if let Some(d) = self.domains.iter().find(|d| !valid_domain(d)) {
                    return Err(Error::bad(format!("'{d}' is not a domain name (lower case, e.g. corp.example).")));
                }
            }
            PrincipalMapping::External if !self.domains.is_empty() => {
                return Err(Error::bad("'domains' applies to the 'user' mapping only."));
            }
            PrincipalMapping::External => {}
        }
        match &self.group_claim {
            None if !self.group_map.is_empty() => {
                return Err(Error::bad("'groupMap' needs 'groupClaim' (the claim listing the groups)."));
            }
            None => {}
            Some(c) => {
                if c.is_empty() || c.len() > 64 || !c.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(Error::bad("'groupClaim' must be 1-64 printable ASCII characters."));
                }
                if self.group_map.is_empty() || self.group_map.len() > MAX_GROUP_MAP {
                    return Err(Error::bad(format!(
                        "'groupClaim' needs a 'groupMap' of 1-{MAX_GROUP_MAP} entries (IdP group value → group id)."
                    )));
                }
            }
        }
        for (k, v) in &self.group_map {
            if k.is_empty() || k.len() > 600 || k.chars().any(char::is_control) {
                return Err(Error::bad("Each 'groupMap' value of the IdP must be 1-600 printable characters."));
            }
            if v.is_empty() || v.len() > 120 {
                return Err(Error::bad("Each 'groupMap' entry must name a Strongbox group (its object id)."));
            }
        }
        Ok(())
    }

    /// The Strongbox group ids a verified token's group claim maps to (deduplicated, in map
    /// order of first appearance). Unmapped and non-string values are ignored.
    pub(crate) fn mapped_groups(&self, claims: &Value) -> Vec<String> {
        let Some(claim) = &self.group_claim else { return Vec::new() };
        let mut out: Vec<String> = Vec::new();
        let mut add = |v: &Value| {
            if let Some(id) = v.as_str().and_then(|s| self.group_map.get(s))
                && !out.contains(id)
            {
                out.push(id.clone());
            }
        };
        match claims.get(claim) {
            Some(Value::Array(a)) => a.iter().take(MAX_GROUP_VALUES).for_each(&mut add),
            Some(v @ Value::String(_)) => add(v),
            _ => {}
        }
        out
    }
}

impl Identity {
    /// Checks that every group a `groupMap` names exists and stores it by object id (a display
    /// name is accepted and resolved here, once).
    pub(crate) async fn resolve_group_map(&self, t: &mut UserTokens) -> Result<()> {
        for v in t.group_map.values_mut() {
            let Some(id) = self.groups.group_id(v).await? else {
                return Err(Error::bad(format!(
                    "'groupMap' names the group '{}', which does not exist.",
                    v.chars().take(64).collect::<String>()
                )));
            };
            *v = id.to_ascii_lowercase();
        }
        Ok(())
    }

    /// The mapped groups of a verified token that still exist (a deleted group's assignments
    /// reach no one, whatever the IdP says).
    pub(crate) async fn token_groups(&self, settings: &UserTokens, claims: &Value) -> Result<Vec<String>, AuthFailure> {
        let mut out = Vec::new();
        for id in settings.mapped_groups(claims) {
            match self.groups.group_id(&id).await {
                Ok(Some(_)) => out.push(id),
                Ok(None) => {}
                Err(_) => return Err(AuthFailure::UNCHECKED),
            }
        }
        Ok(out)
    }
}
