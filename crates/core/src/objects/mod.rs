//! Versioned objects with soft delete, shared by every collection (secrets, keys,
//! certificates): a new version per write, a head record per name, move-on-delete, recovery,
//! purge (explicit and scheduled), and encrypted backup blobs.
//!
//! A collection is a type implementing [`Collection`] (its payload type and [`Spec`]: the three
//! areas, nouns, error kinds and managed-by rule). Its service holds an [`ObjectStore<C>`].
//! Layout in each area (names lower-case): heads `{vault}/{name}`, versions
//! `{vault}/{name}/{version}`, deleted heads `{vault}/{name}`; the purge schedule (shared)
//! `{when:012}/{heads prefix}{vault}/{name}`.

mod backup;
mod collection;
mod purge;
mod store;

pub(crate) use collection::{Collection, Spec};
pub(crate) use purge::{BoxFuture, PurgeHook, Purgeable, Purger};
pub(crate) use store::{ObjectStore, RawStore, StoreDeps};

use crate::DeletedInfo;
use crate::records::{Tags, VersionMeta};
use crate::vaults::VaultRecord;
use strongbox_types::{Error, Result};

pub(crate) const MAX_TAGS: usize = 15;
pub(crate) const MAX_TAG_NAME: usize = 512;
pub(crate) const MAX_TAG_VALUE: usize = 256;
pub(crate) const MAX_BACKUP_VERSIONS: usize = 500;

/// The attributes every object version shows (Azure's `attributes` member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub enabled: bool,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    pub created: i64,
    pub updated: i64,
    pub recovery_level: &'static str,
    pub recoverable_days: i64,
}

impl Attributes {
    pub(crate) fn of(v: &VaultRecord, m: &VersionMeta) -> Self {
        Self {
            enabled: m.enabled,
            nbf: m.nbf,
            exp: m.exp,
            created: m.created,
            updated: m.updated,
            recovery_level: v.recovery_level(),
            recoverable_days: i64::from(v.retention_days),
        }
    }
}

/// Attribute and tag changes common to every collection; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct CommonUpdate {
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

impl CommonUpdate {
    pub(crate) fn apply(&self, m: &mut VersionMeta) {
        if let Some(t) = &self.tags {
            m.tags = Some(t.clone());
        }
        if let Some(e) = self.enabled {
            m.enabled = e;
        }
        if self.nbf.is_some() {
            m.nbf = self.nbf;
        }
        if self.exp.is_some() {
            m.exp = self.exp;
        }
    }
}

/// One version as the services hand it to the API layer.
#[derive(Debug, Clone)]
pub(crate) struct Object<P> {
    pub name: String,
    pub meta: VersionMeta,
    pub payload: Option<P>,
    pub deleted: Option<DeletedInfo>,
}

pub(crate) struct Page<P> {
    pub items: Vec<Object<P>>,
    pub next: Option<String>,
}

/// Fields of a new version.
pub(crate) struct NewVersion<P> {
    pub payload: P,
    pub content_type: Option<String>,
    pub tags: Option<Tags>,
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

pub(crate) fn check_tags(tags: &Option<Tags>) -> Result<()> {
    if let Some(t) = tags {
        if t.len() > MAX_TAGS {
            return Err(Error::bad(format!("An object may have at most {MAX_TAGS} tags.")));
        }
        for (k, v) in t {
            if k.is_empty() || k.len() > MAX_TAG_NAME || v.len() > MAX_TAG_VALUE {
                return Err(Error::bad(format!(
                    "Tag names must be 1-{MAX_TAG_NAME} characters and tag values at most {MAX_TAG_VALUE} characters."
                )));
            }
        }
    }
    Ok(())
}

/// The latest `nbf`/`exp` accepted (9999-12-31T23:59:59Z, the last second every SDK's date type
/// and X.509 can show). The earliest is the Unix epoch. Keeping input times in this range keeps
/// every sum of a time and a bounded duration far from `i64` overflow.
pub(crate) const MAX_TIMESTAMP: i64 = 253_402_300_799;

/// Refuses an input time outside `0..=MAX_TIMESTAMP` (400 BadParameter).
pub(crate) fn check_timestamp(what: &str, t: Option<i64>) -> Result<()> {
    match t {
        Some(t) if !(0..=MAX_TIMESTAMP).contains(&t) => Err(Error::bad(format!(
            "The '{what}' attribute must be a Unix time in seconds from 0 to {MAX_TIMESTAMP} (9999-12-31T23:59:59Z)."
        ))),
        _ => Ok(()),
    }
}

pub(crate) fn check_dates(nbf: Option<i64>, exp: Option<i64>) -> Result<()> {
    if let (Some(n), Some(e)) = (nbf, exp)
        && n > e
    {
        return Err(Error::bad("The 'nbf' attribute must not be later than 'exp'."));
    }
    Ok(())
}
