//! Permanent removal: explicit purge of one deleted object, and the scheduled purge that walks
//! the purge schedule (`PURGE_SCHEDULE`: `{when:012}/{heads prefix}{vault}/{name}`) across every
//! collection registered with the [`Purger`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::de::IgnoredAny;
use strongbox_barrier::keyspace::{self, Area};
use strongbox_barrier::{BTxn, Barrier, View};
use strongbox_types::{Error, ErrorKind, ObjectName, Result};

use super::collection::{Collection, rel};
use super::store::{ObjectStore, RawStore};
use crate::records::HeadRec;
use crate::vaults::VaultRecord;

/// A boxed, sendable future (the object-safe form of an `async fn`).
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Work a collection's owner does around a purge (keys: forget cached handles and destroy
/// HSM token objects). Given to the store at construction.
pub(crate) trait PurgeHook: Send + Sync {
    /// Before the purge commits: what [`PurgeHook::purged`] will need (e.g. HSM object ids).
    fn before<'a>(&'a self, vault: &'a str, lc: &'a str) -> BoxFuture<'a, Result<Vec<String>>>;
    /// After the purge committed, with what `before` returned.
    fn purged(&self, vault: &str, lc: &str, noted: &[String]);
}

/// A collection the scheduled purge can reach.
pub(crate) trait Purgeable: Send + Sync {
    /// The heads area: the schedule's entries name it.
    fn heads(&self) -> Area;
    /// Purges `{vault}/{lc}` if it is deleted and its purge date is not after `now`.
    fn purge_due<'a>(&'a self, vault: &'a str, lc: &'a str, now: i64) -> BoxFuture<'a, Result<bool>>;
}

impl RawStore {
    /// Permanent removal of a deleted object. Refused while purge protection holds it.
    pub(crate) async fn purge(&self, v: &VaultRecord, name: &ObjectName) -> Result<()> {
        if v.purge_protection {
            return Err(Error::new(
                ErrorKind::PurgeProtected,
                format!(
                    "Operation 'PurgeDeleted{}' is not allowed because purge protection is enabled for vault '{}'. The {} will be purged automatically after its retention period.",
                    self.spec.title, v.name, self.spec.noun
                ),
            ));
        }
        if !self.purge_now(&v.name, &name.key(), None).await? {
            return Err(self.spec.deleted_not_found(name.as_str()));
        }
        Ok(())
    }

    /// Removes a deleted object and every version. Returns false when it is not deleted (or,
    /// with `due_by`, when its scheduled purge date is later than that).
    pub(crate) async fn purge_now(&self, vault: &str, lc: &str, due_by: Option<i64>) -> Result<bool> {
        let r = rel(vault, lc);
        // The payload is not needed to purge: read the head generically.
        let Some((head, stamp)) = self.deleted.get_versioned::<HeadRec<IgnoredAny>>(&r).await? else {
            return Ok(false);
        };
        if let (Some(t), Some(info)) = (due_by, head.deleted)
            && info.scheduled_purge_date > t
        {
            return Ok(false);
        }
        let mut txn = self.deleted.delete(self.deleted.unchanged(BTxn::new(), &r, &stamp), &r);
        if let Some(info) = head.deleted {
            txn = self.schedule.delete(txn, &self.schedule_key(info.scheduled_purge_date, vault, lc));
        }
        let prefix = format!("{r}/");
        let mut start = prefix.clone();
        loop {
            let keys = self.versions.scan_keys(&prefix, &start, 1000).await?;
            let Some(last) = keys.last() else { break };
            start = format!("{last}\0");
            for k in keys {
                txn = self.versions.delete(txn, &k);
            }
        }
        let noted = match &self.hook {
            Some(h) => h.before(vault, lc).await?,
            None => Vec::new(),
        };
        self.barrier().commit(txn).await?;
        if let Some(h) = &self.hook {
            h.purged(vault, lc, &noted);
        }
        Ok(true)
    }
}

impl<C: Collection> Purgeable for ObjectStore<C> {
    fn heads(&self) -> Area {
        self.spec().heads
    }

    fn purge_due<'a>(&'a self, vault: &'a str, lc: &'a str, now: i64) -> BoxFuture<'a, Result<bool>> {
        Box::pin(self.raw().purge_now(vault, lc, Some(now)))
    }
}

/// The scheduled purge over every registered collection.
pub(crate) struct Purger {
    schedule: View,
    collections: Vec<Arc<dyn Purgeable>>,
}

impl Purger {
    pub(crate) fn new(barrier: Arc<Barrier>, collections: Vec<Arc<dyn Purgeable>>) -> Self {
        Self { schedule: View::new(barrier, keyspace::PURGE_SCHEDULE), collections }
    }

    /// Purges every deleted object whose `scheduledPurgeDate` is not after `now`. Returns how
    /// many.
    pub(crate) async fn purge_expired(&self, now: i64) -> Result<usize> {
        let end = format!("{:012}/\u{7f}", now.max(0));
        let mut purged = 0;
        loop {
            let keys = self.schedule.scan_keys("", "", 100).await?;
            let due: Vec<String> = keys.into_iter().filter(|k| k.as_str() < end.as_str()).collect();
            if due.is_empty() {
                return Ok(purged);
            }
            for k in due {
                // {when}/{heads prefix without its slash}/{vault}/{name}
                let parts: Vec<&str> = k.splitn(4, '/').collect();
                if let [_, heads, vault, name] = parts.as_slice()
                    && let Some(c) = self.collections.iter().find(|c| c.heads().prefix.strip_suffix('/') == Some(heads))
                    && c.purge_due(vault, name, now).await?
                {
                    purged += 1;
                    continue;
                }
                // stale or unknown entry: drop it
                self.schedule.commit(self.schedule.delete(BTxn::new(), &k)).await?;
            }
        }
    }
}
