//! The in-memory authorization index of this node, and how it stays fresh across nodes.
//!
//! Each node keeps an [`Index`] that its own writes update before they return, so a change
//! applies to that node's next request. Other nodes on the same database notice a change by
//! reading the generation token ([`AccessStore::bump`]) at most every [`SYNC_INTERVAL_MS`] (one
//! small read, off the per-request path except once per interval); when it differs from the
//! token seen at their last load they reload the index and forget their cached vault settings.
//! So across nodes a change takes effect within about one interval.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use strongbox_authz::{Assignment, DenyAssignment, Index, RoleDefinition, builtin_roles};
use strongbox_types::Result;

use super::Access;
use super::store::{AccessStore, AssignmentRec, MemberRec};

/// How often a node checks whether another node changed the authorization state.
pub const SYNC_INTERVAL_MS: u64 = 1000;

/// This node's index and what it knows about its freshness.
pub(crate) struct IndexCache {
    index: RwLock<Index>,
    base: Instant,
    last_check_ms: AtomicU64,
    interval_ms: AtomicU64,
    reloading: AtomicBool,
    /// The generation token read before the index was last loaded.
    seen: Mutex<Option<Vec<u8>>>,
    /// Counts this node's own index updates, so a reload that raced with one is discarded
    /// instead of swapping in an index that misses it.
    local_updates: AtomicU64,
}

/// Loads the index from storage, and the generation token read before loading it.
async fn load(store: &AccessStore) -> Result<(Index, Option<Vec<u8>>)> {
    let seen = store.generation().await?;
    let mut roles = builtin_roles();
    roles.extend(store.role_definitions.scan_all::<RoleDefinition>("").await?.into_iter().map(|(_, r)| r));
    let assignments = store.role_assignments.scan_all::<AssignmentRec>("").await?;
    let assignments: Vec<Assignment> = assignments.into_iter().map(|(_, a)| a.into()).collect();
    let denies = store.deny_assignments.scan_all::<DenyAssignment>("").await?;
    let denies: Vec<DenyAssignment> = denies.into_iter().map(|(_, d)| d).collect();
    let members = store.group_members.scan_all::<MemberRec>("").await?;
    let memberships: Vec<(String, String)> = members.into_iter().map(|(_, m)| (m.group, m.member)).collect();
    Ok((Index::build(roles, assignments, denies, memberships), seen))
}

impl IndexCache {
    pub(crate) async fn load(store: &AccessStore) -> Result<Self> {
        let (index, seen) = load(store).await?;
        Ok(Self {
            index: RwLock::new(index),
            base: Instant::now(),
            last_check_ms: AtomicU64::new(0),
            interval_ms: AtomicU64::new(SYNC_INTERVAL_MS),
            reloading: AtomicBool::new(false),
            seen: Mutex::new(seen),
            local_updates: AtomicU64::new(0),
        })
    }

    fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Applies this node's own write to the index (`None` if the lock is poisoned).
    pub(super) fn update<T>(&self, f: impl FnOnce(&mut Index) -> T) -> Option<T> {
        self.index.write().ok().map(|mut idx| {
            self.local_updates.fetch_add(1, Ordering::AcqRel);
            f(&mut idx)
        })
    }

    /// Reads the index (`None` if the lock is poisoned).
    pub(super) fn read<T>(&self, f: impl FnOnce(&Index) -> T) -> Option<T> {
        self.index.read().ok().map(|idx| f(&idx))
    }

    /// The groups `principal` belongs to.
    pub(super) fn groups_of(&self, principal: &str) -> Vec<String> {
        self.read(|i| i.groups_of(principal)).unwrap_or_default()
    }

    /// Re-reads the generation token when the sync interval has passed (or `force`), and
    /// reloads the index when another node changed the authorization state. Returns whether
    /// the token differed (the caller then forgets what it caches from the same state).
    async fn sync(&self, store: &AccessStore, force: bool) -> Result<bool> {
        let now = self.elapsed_ms();
        let last = self.last_check_ms.load(Ordering::Relaxed);
        if !force && now.saturating_sub(last) < self.interval_ms.load(Ordering::Relaxed) && last != 0 {
            return Ok(false);
        }
        if self.reloading.swap(true, Ordering::AcqRel) {
            return Ok(false); // someone else is checking; use the current index meanwhile
        }
        let result = async {
            self.last_check_ms.store(now.max(1), Ordering::Relaxed);
            let current = store.generation().await?;
            let seen = self.seen.lock().map(|g| g.clone()).unwrap_or(None);
            if current == seen {
                return Ok(false);
            }
            let before = self.local_updates.load(Ordering::Acquire);
            let (idx, token) = load(store).await?;
            let swapped = match self.index.write() {
                // a local write landed meanwhile: keep the current index; the next check
                // reloads again because `seen` is left as it was
                Ok(mut g) if self.local_updates.load(Ordering::Acquire) == before => {
                    *g = idx;
                    true
                }
                _ => false,
            };
            if swapped && let Ok(mut g) = self.seen.lock() {
                *g = token;
            }
            Ok(true)
        }
        .await;
        self.reloading.store(false, Ordering::Release);
        result
    }
}

impl Access {
    /// Re-reads the generation token when the sync interval has passed (or `force`), and
    /// reloads the index when another node changed the authorization state (forgetting the
    /// cached vault settings too, since access policies live in the vault records).
    pub async fn sync_authorization(&self, force: bool) -> Result<()> {
        if self.index.sync(&self.store, force).await? {
            self.vaults.forget_all();
        }
        Ok(())
    }

    /// Another node changed the authorization state (a storage notification): the next request
    /// re-reads the generation token instead of waiting for the sync interval.
    pub fn mark_stale(&self) {
        self.index.last_check_ms.store(0, Ordering::Relaxed);
    }

    /// Sets how often this node looks for changes made by other nodes (tests use 0).
    pub fn set_authorization_sync_interval(&self, ms: u64) {
        self.index.interval_ms.store(ms, Ordering::Relaxed);
    }
}
