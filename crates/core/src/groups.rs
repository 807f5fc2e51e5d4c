//! Groups: named sets of principals (users, service principals, managed identities). A role
//! assignment, deny assignment or access policy made to a group applies to its members. The
//! authorization index expands memberships when they change, so a request still looks only at
//! its caller's own list. Groups do not nest.
//!
//! Storage: `id/group/{id}` the group, `id/groupname/{lower-case name}` → id (names are unique,
//! so the CLI can address groups by name), `id/groupmember/{group}/{member}` one membership.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, Barrier};
use strongbox_identity::{GroupFuture, GroupLookup};
use strongbox_types::{Error, ErrorKind, Result};

use crate::rbac::{bump, check_guid, scan_all};
use crate::{Core, decode, encode};

const GROUP: &str = "id/group/";
const NAME: &str = "id/groupname/";
const MEMBER: &str = "id/groupmember/";

/// A group as callers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub created: i64,
}

#[derive(Serialize, Deserialize)]
struct NameRec {
    id: String,
}

#[derive(Serialize, Deserialize)]
struct MemberRec {
    group: String,
    member: String,
    added: i64,
}

/// Every `(group, member)` pair, for the index.
pub(crate) async fn load_memberships(barrier: &Barrier) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (k, b) in scan_all(barrier, MEMBER).await? {
        let m: MemberRec = decode(&k, &b)?;
        out.push((m.group, m.member));
    }
    Ok(out)
}

fn not_found(g: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("The group '{}' does not exist.", g.chars().take(64).collect::<String>()))
}

/// A group by id or display name.
async fn find_group(barrier: &Barrier, id_or_name: &str) -> Result<Group> {
    async fn read<T: serde::de::DeserializeOwned>(barrier: &Barrier, key: String) -> Result<Option<T>> {
        match barrier.get(&key).await? {
            None => Ok(None),
            Some(b) => decode(&key, &b).map(Some),
        }
    }
    if uuid::Uuid::parse_str(id_or_name).is_ok()
        && let Some(g) = read(barrier, format!("{GROUP}{}", id_or_name.to_ascii_lowercase())).await?
    {
        return Ok(g);
    }
    let n: NameRec = read(barrier, format!("{NAME}{}", id_or_name.trim().to_lowercase()))
        .await?
        .ok_or_else(|| not_found(id_or_name))?;
    read(barrier, format!("{GROUP}{}", n.id)).await?.ok_or_else(|| not_found(id_or_name))
}

/// The groups as the identity service looks them up (the `groupMap` of trusted issuers and the
/// group claims of their tokens).
pub(crate) struct GroupDirectory(pub Arc<Barrier>);

impl GroupLookup for GroupDirectory {
    fn group_id<'a>(&'a self, id_or_name: &'a str) -> GroupFuture<'a> {
        Box::pin(async move {
            match find_group(&self.0, id_or_name).await {
                Ok(g) => Ok(Some(g.id)),
                Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        })
    }
}

impl Core {
    pub async fn create_group(&self, display_name: &str, description: &str) -> Result<Group> {
        let name = display_name.trim();
        if name.is_empty() || name.len() > 120 || name.chars().any(char::is_control) {
            return Err(Error::bad("The group display name must be 1-120 printable characters."));
        }
        if description.len() > 1024 {
            return Err(Error::bad("The description is longer than 1024 characters."));
        }
        let g = Group {
            id: uuid::Uuid::new_v4().to_string(),
            display_name: name.to_owned(),
            description: description.to_owned(),
            created: self.now(),
        };
        let key = format!("{GROUP}{}", g.id);
        let name_key = format!("{NAME}{}", name.to_lowercase());
        let txn = BTxn::new()
            .absent(&name_key)
            .put(&name_key, encode(&NameRec { id: g.id.clone() })?)
            .absent(&key)
            .put(&key, encode(&g)?);
        self.barrier.commit(txn).await.map_err(|e| {
            if e.kind == ErrorKind::Conflict {
                Error::new(ErrorKind::Conflict, format!("A group named '{name}' already exists."))
            } else {
                e
            }
        })?;
        Ok(g)
    }

    /// A group by id or display name.
    pub async fn group(&self, id_or_name: &str) -> Result<Group> {
        find_group(&self.barrier, id_or_name).await
    }

    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        let mut out: Vec<Group> =
            scan_all(&self.barrier, GROUP).await?.iter().map(|(k, b)| decode(k, b)).collect::<Result<_>>()?;
        out.sort_by_key(|g| g.display_name.to_lowercase());
        Ok(out)
    }

    /// Deletes a group and its memberships. Assignments made to the group stay (as Azure keeps
    /// assignments of deleted principals) but no longer reach anyone.
    pub async fn delete_group(&self, id_or_name: &str) -> Result<Group> {
        let g = self.group(id_or_name).await?;
        let mut txn =
            BTxn::new().delete(format!("{GROUP}{}", g.id)).delete(format!("{NAME}{}", g.display_name.to_lowercase()));
        for m in self.group_members(&g.id).await? {
            txn = txn.delete(format!("{MEMBER}{}/{m}", g.id));
        }
        self.barrier.commit(bump(txn)?).await?;
        self.with_index(|i| i.remove_group(&g.id));
        Ok(g)
    }

    pub async fn group_members(&self, group_id: &str) -> Result<Vec<String>> {
        let prefix = format!("{MEMBER}{}/", group_id.to_ascii_lowercase());
        let keys = self.barrier.scan_keys(&prefix, &prefix, 100_000).await?;
        Ok(keys.iter().filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned)).collect())
    }

    pub async fn add_group_member(&self, id_or_name: &str, member: &str) -> Result<Group> {
        let g = self.group(id_or_name).await?;
        check_guid("member object id", member)?;
        let member = member.to_ascii_lowercase();
        if self.read_json::<Group>(&format!("{GROUP}{member}")).await?.is_some() {
            return Err(Error::bad(
                "Groups do not nest: a member must be a user, service principal or managed identity.",
            ));
        }
        let key = format!("{MEMBER}{}/{member}", g.id);
        let rec = MemberRec { group: g.id.clone(), member: member.clone(), added: self.now() };
        // the group must still exist when the membership is written
        let gkey = format!("{GROUP}{}", g.id);
        let stamp = self.barrier.get_versioned(&gkey).await?.ok_or_else(|| not_found(id_or_name))?.stamp;
        self.barrier.commit(bump(BTxn::new().unchanged(&gkey, &stamp).put(&key, encode(&rec)?))?).await?;
        self.with_index(|i| i.add_member(&g.id, &member));
        Ok(g)
    }

    pub async fn remove_group_member(&self, id_or_name: &str, member: &str) -> Result<()> {
        let g = self.group(id_or_name).await?;
        let member = member.to_ascii_lowercase();
        let key = format!("{MEMBER}{}/{member}", g.id);
        if self.barrier.get(&key).await?.is_none() {
            return Err(Error::new(ErrorKind::NotFound, format!("'{member}' is not a member of this group.")));
        }
        self.barrier.commit(bump(BTxn::new().delete(&key))?).await?;
        self.with_index(|i| i.remove_member(&g.id, &member));
        Ok(())
    }

    /// The groups `principal` belongs to (from the index).
    pub fn groups_of(&self, principal: &str) -> Vec<String> {
        self.index_groups_of(principal)
    }
}
