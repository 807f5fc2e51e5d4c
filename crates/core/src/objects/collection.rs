//! What differs between the collections of versioned objects: the [`Collection`] trait (the
//! payload type and a [`Spec`]) and the [`Spec`] itself (the storage areas, the nouns of the
//! messages, the error kinds, the backup blob's domain, and the managed-by rule).

use serde::Serialize;
use serde::de::DeserializeOwned;
use strongbox_barrier::keyspace::Area;
use strongbox_types::{Error, ErrorKind, ObjectName, Result, Version};

/// One collection of versioned objects (secrets, keys, certificates). Implemented by a marker
/// type per collection; [`ObjectStore`](super::ObjectStore) is generic over it.
pub(crate) trait Collection: Send + Sync + 'static {
    /// What a version stores besides its metadata (a secret's value, a key's material).
    type Payload: Serialize + DeserializeOwned + Clone + Send + Sync + 'static;
    /// Areas, nouns, error kinds and the managed-by rule.
    const SPEC: Spec;
}

/// The static description of a collection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    /// Per-name head records: `{vault}/{name}`.
    pub heads: Area,
    /// Version records: `{vault}/{name}/{version}`.
    pub versions: Area,
    /// Soft-deleted heads: `{vault}/{name}`.
    pub deleted: Area,
    /// Lower-case noun for messages ("secret").
    pub noun: &'static str,
    /// Capitalised noun for messages ("Secret").
    pub title: &'static str,
    pub not_found: ErrorKind,
    pub disabled: ErrorKind,
    /// Associated data binding a backup blob to this collection.
    pub backup_aad: &'static [u8],
    /// The managed-by rule: objects of this collection may be marked `managed` (they back a
    /// certificate), and then a direct write is refused with this kind. `None`: never managed.
    pub managed: Option<ErrorKind>,
}

impl Spec {
    /// The purge-schedule entry (relative to `PURGE_SCHEDULE`) of an object whose purge is due
    /// at `when`.
    pub(crate) fn schedule_rel(&self, when: i64, vault: &str, lc: &str) -> String {
        format!("{:012}/{}{}", when.max(0), self.heads.prefix, rel(vault, lc))
    }

    pub(crate) fn not_found(&self, name: &str, version: Option<&str>) -> Error {
        let what = match version {
            Some(v) => format!("{name}/{v}"),
            None => name.to_owned(),
        };
        Error::new(
            self.not_found,
            format!(
                "A {} with (name/id) {what} was not found in this key vault. If you recently deleted this {} you may be able to recover it using the correct recovery command.",
                self.noun, self.noun
            ),
        )
    }

    pub(crate) fn disabled(&self) -> Error {
        Error::new(self.disabled, format!("Operation get is not allowed on a disabled {}.", self.noun))
    }

    pub(crate) fn deleted_conflict(&self, name: &str) -> Error {
        Error::new(
            ErrorKind::DeletedButRecoverable,
            format!(
                "{} {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the {} can only be recovered or purged.",
                self.title, self.noun
            ),
        )
    }

    pub(crate) fn deleted_not_found(&self, name: &str) -> Error {
        Error::new(self.not_found, format!("Deleted {} not found: {name}", self.title))
    }

    pub(crate) fn exists(&self, name: &str) -> Error {
        Error::new(ErrorKind::Conflict, format!("{} {name} already exists in this vault.", self.title))
    }

    pub(crate) fn busy(&self) -> Error {
        Error::new(ErrorKind::Conflict, format!("The {} is being changed by another request; retry.", self.noun))
    }

    /// Azure's refusal of a direct change (`op`) to a managed object (403
    /// `KeyManagedByKeyVault` / `SecretManagedByKeyVault`).
    pub(crate) fn managed_error(&self, op: &str) -> Error {
        let kind = self.managed.unwrap_or(ErrorKind::SecretManaged);
        Error::new(
            kind,
            format!("Operation \"{op}\" is not allowed as this object's lifetime is managed by Key Vault."),
        )
    }

    pub(crate) fn parse_version(&self, name: &ObjectName, v: &str) -> Result<String> {
        Version::parse(v).map(|v| v.as_str().to_owned()).map_err(|_| self.not_found(name.as_str(), Some(v)))
    }
}

/// The key of an object relative to any of its collection's areas.
pub(crate) fn rel(vault: &str, lc: &str) -> String {
    format!("{vault}/{lc}")
}
