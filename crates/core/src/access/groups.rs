//! Groups: named sets of principals (users, service principals, managed identities). A role
//! assignment, deny assignment or access policy made to a group applies to its members. The
//! authorization index expands memberships when they change, so a request still looks only at
//! its caller's own list. Groups do not nest.
//!
//! Storage: GROUPS `{id}` the group, GROUP_NAMES `{lower-case name}` → id (names are unique, so
//! the CLI can address groups by name), GROUP_MEMBERS `{group}/{member}` one membership.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, Barrier};
use strongbox_identity::{GroupFuture, GroupLookup};
use strongbox_types::{Error, ErrorKind, Result};

use super::Access;
use super::names::check_guid;
use super::store::{AccessStore, GroupNameRec, MemberRec};

/// A group as callers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub created: i64,
}

fn not_found(g: &str) -> Error {
    Error::new(ErrorKind::NotFound, format!("The group '{}' does not exist.", g.chars().take(64).collect::<String>()))
}

fn member_key(group: &str, member: &str) -> String {
    format!("{group}/{member}")
}

/// A group by id or display name.
async fn find_group(store: &AccessStore, id_or_name: &str) -> Result<Group> {
    if uuid::Uuid::parse_str(id_or_name).is_ok()
        && let Some(g) = store.groups.get::<Group>(&id_or_name.to_ascii_lowercase()).await?
    {
        return Ok(g);
    }
    let n: GroupNameRec =
        store.group_names.get(&id_or_name.trim().to_lowercase()).await?.ok_or_else(|| not_found(id_or_name))?;
    store.groups.get(&n.id).await?.ok_or_else(|| not_found(id_or_name))
}

/// The groups as the identity service looks them up (the `groupMap` of trusted issuers and the
/// group claims of their tokens). Built before the access service, which needs the identity
/// service's tenant; it reads the same areas.
pub(crate) struct GroupDirectory(AccessStore);

impl GroupDirectory {
    pub(crate) fn new(barrier: &Arc<Barrier>) -> Self {
        Self(AccessStore::new(barrier))
    }
}

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

impl Access {
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
        let store = &self.store;
        let name_key = name.to_lowercase();
        let txn = BTxn::new();
        let txn = store.group_names.put(
            store.group_names.absent(txn, &name_key),
            &name_key,
            &GroupNameRec { id: g.id.clone() },
        )?;
        let txn = store.groups.put(store.groups.absent(txn, &g.id), &g.id, &g)?;
        store.barrier().commit(txn).await.map_err(|e| {
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
        find_group(&self.store, id_or_name).await
    }

    pub async fn list_groups(&self) -> Result<Vec<Group>> {
        let rows = self.store.groups.scan_all::<Group>("").await?;
        let mut out: Vec<Group> = rows.into_iter().map(|(_, g)| g).collect();
        out.sort_by_key(|g| g.display_name.to_lowercase());
        Ok(out)
    }

    /// Deletes a group and its memberships. Assignments made to the group stay (as Azure keeps
    /// assignments of deleted principals) but no longer reach anyone.
    pub async fn delete_group(&self, id_or_name: &str) -> Result<Group> {
        let g = self.group(id_or_name).await?;
        let store = &self.store;
        let txn = store.groups.delete(BTxn::new(), &g.id);
        let mut txn = store.group_names.delete(txn, &g.display_name.to_lowercase());
        for m in self.group_members(&g.id).await? {
            txn = store.group_members.delete(txn, &member_key(&g.id, &m));
        }
        store.barrier().commit(store.bump(txn)?).await?;
        self.index.update(|i| i.remove_group(&g.id));
        Ok(g)
    }

    pub async fn group_members(&self, group_id: &str) -> Result<Vec<String>> {
        let prefix = member_key(&group_id.to_ascii_lowercase(), "");
        let keys = self.store.group_members.scan_keys(&prefix, &prefix, 100_000).await?;
        Ok(keys.iter().filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned)).collect())
    }

    pub async fn add_group_member(&self, id_or_name: &str, member: &str) -> Result<Group> {
        let g = self.group(id_or_name).await?;
        check_guid("member object id", member)?;
        let member = member.to_ascii_lowercase();
        let store = &self.store;
        if store.groups.get::<Group>(&member).await?.is_some() {
            return Err(Error::bad(
                "Groups do not nest: a member must be a user, service principal or managed identity.",
            ));
        }
        let rec = MemberRec { group: g.id.clone(), member: member.clone(), added: self.now() };
        // the group must still exist when the membership is written
        let (_, stamp) = store.groups.get_versioned::<Group>(&g.id).await?.ok_or_else(|| not_found(id_or_name))?;
        let txn = store.groups.unchanged(BTxn::new(), &g.id, &stamp);
        let txn = store.group_members.put(txn, &member_key(&g.id, &member), &rec)?;
        store.barrier().commit(store.bump(txn)?).await?;
        self.index.update(|i| i.add_member(&g.id, &member));
        Ok(g)
    }

    pub async fn remove_group_member(&self, id_or_name: &str, member: &str) -> Result<()> {
        let g = self.group(id_or_name).await?;
        let member = member.to_ascii_lowercase();
        let store = &self.store;
        let key = member_key(&g.id, &member);
        if !store.group_members.exists(&key).await? {
            return Err(Error::new(ErrorKind::NotFound, format!("'{member}' is not a member of this group.")));
        }
        store.barrier().commit(store.bump(store.group_members.delete(BTxn::new(), &key))?).await?;
        self.index.update(|i| i.remove_member(&g.id, &member));
        Ok(())
    }

    /// The groups `principal` belongs to by stored membership (from the index).
    pub fn groups_of(&self, principal: &str) -> Vec<String> {
        self.index.groups_of(principal)
    }
}
