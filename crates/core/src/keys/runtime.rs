//! Key state held in memory on this node: the HSM provider, the handle cache (a version's key,
//! parsed or found in the token once) and the operation cache ([`OpMeta`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use strongbox_barrier::keyspace;
use strongbox_barrier::{Barrier, View};
use strongbox_crypto::handle::{KeyHandle, KeyProvider};
use strongbox_types::{Error, ErrorKind, Result};

use super::{KeyPayload, material_of};
use crate::objects::{BoxFuture, PurgeHook};
use crate::records::VersionRec;
use crate::vaults::VaultRecord;

pub(super) const HANDLE_CACHE_MAX: usize = 10_000;

pub(crate) type HandleCache = RwLock<HashMap<String, Arc<dyn KeyHandle>>>;

/// What an operation needs of a version, cached per `vault/name/version` (and per `vault/name/`
/// for "latest"): the key handle and the attributes it must check. Entries are dropped whenever
/// this node writes the key (create, import, update, delete, recover, purge, restore, rotate),
/// and they live at most [`OP_META_TTL`] seconds, which bounds staleness from writers on other
/// nodes. Versions behind a certificate (`managed`) are not cached: the certificates service
/// changes them.
#[derive(Debug)]
pub(crate) struct OpMeta {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) enabled: bool,
    pub(super) nbf: Option<i64>,
    pub(super) exp: Option<i64>,
    pub(super) key_ops: Vec<String>,
    pub(super) handle: Arc<dyn KeyHandle>,
    pub(super) cached_at: i64,
}

/// How long (seconds, on the injected clock) an [`OpMeta`] entry may be used.
pub(super) const OP_META_TTL: i64 = 1;

/// Key state held in memory: the HSM provider, the handle cache and the operation cache. It is
/// also the key store's [`PurgeHook`]: a purge forgets the key's cached state and destroys its
/// HSM token objects.
pub(crate) struct KeyRuntime {
    provider: RwLock<Option<Arc<dyn KeyProvider>>>,
    pub(super) ops: RwLock<HashMap<String, Arc<OpMeta>>>,
    handles: HandleCache,
    /// The `KEY_VERSIONS` area, read to find a purged key's HSM objects.
    versions: View,
}

impl std::fmt::Debug for KeyRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRuntime").finish_non_exhaustive()
    }
}

impl KeyRuntime {
    pub(crate) fn new(barrier: Arc<Barrier>) -> Self {
        Self {
            provider: RwLock::new(None),
            ops: RwLock::new(HashMap::new()),
            handles: RwLock::new(HashMap::new()),
            versions: View::new(barrier, keyspace::KEY_VERSIONS),
        }
    }

    pub(crate) fn provider(&self) -> Result<Arc<dyn KeyProvider>> {
        self.provider.read().ok().and_then(|p| p.clone()).ok_or_else(no_provider)
    }

    /// Drops the cached operation state of every version of a key (after any write to it).
    pub(crate) fn forget_ops(&self, vault: &str, lc: &str) {
        let prefix = format!("{vault}/{lc}/");
        if let Ok(mut c) = self.ops.write() {
            c.retain(|k, _| !k.starts_with(&prefix));
        }
    }

    pub(super) fn set_provider(&self, provider: Arc<dyn KeyProvider>) {
        if let Ok(mut p) = self.provider.write() {
            *p = Some(provider);
        }
    }

    /// The key of a version, parsed (software) or found in the token (HSM) once and cached.
    pub(crate) fn handle(
        &self,
        v: &VaultRecord,
        name: &str,
        version: &str,
        p: &KeyPayload,
    ) -> Result<Arc<dyn KeyHandle>> {
        let id = format!("{}/{}/{version}", v.name, name.to_ascii_lowercase());
        if let Some(k) = self.handles.read().ok().and_then(|c| c.get(&id).cloned()) {
            return Ok(k);
        }
        let k: Arc<dyn KeyHandle> = match &p.hsm {
            Some(hid) => self.provider()?.open(hid)?,
            None => Arc::new(material_of(p)?),
        };
        if let Ok(mut c) = self.handles.write() {
            if c.len() >= HANDLE_CACHE_MAX {
                c.clear();
            }
            c.insert(id, k.clone());
        }
        Ok(k)
    }

    /// The HSM object ids of every version of a key.
    pub(crate) async fn hsm_ids_of(&self, vault: &str, lc: &str) -> Result<Vec<String>> {
        let rows = self.versions.scan_all::<VersionRec<KeyPayload>>(&format!("{vault}/{lc}/")).await?;
        Ok(rows.into_iter().filter_map(|(_, r)| r.payload.hsm).collect())
    }
}

impl PurgeHook for KeyRuntime {
    fn before<'a>(&'a self, vault: &'a str, lc: &'a str) -> BoxFuture<'a, Result<Vec<String>>> {
        Box::pin(self.hsm_ids_of(vault, lc))
    }

    /// After a key is purged: forget its cached state and destroy its token objects.
    fn purged(&self, vault: &str, lc: &str, hsm_ids: &[String]) {
        let prefix = format!("{vault}/{lc}/");
        if let Ok(mut c) = self.handles.write() {
            c.retain(|k, _| !k.starts_with(&prefix));
        }
        self.forget_ops(vault, lc);
        if hsm_ids.is_empty() {
            return;
        }
        match self.provider() {
            Ok(p) => {
                for id in hsm_ids {
                    if let Err(e) = p.destroy(id) {
                        tracing::warn!(vault = %vault, key = %lc, error = %e, "could not destroy a purged key's HSM object");
                    }
                }
            }
            Err(_) => {
                tracing::warn!(vault = %vault, key = %lc, "purged an HSM key while no token is configured: its token objects remain")
            }
        }
    }
}

fn no_provider() -> Error {
    Error::new(
        ErrorKind::NotImplemented,
        "HSM-protected keys need a PKCS#11 token, and this server has none configured (STRONGBOX_PKCS11_MODULE, STRONGBOX_PKCS11_TOKEN, STRONGBOX_PKCS11_PIN).",
    )
}
