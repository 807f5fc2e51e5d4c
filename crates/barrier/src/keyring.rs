//! Keyring rotation: new terms, how nodes learn of them, and when rotation is due.
//!
//! A rotation adds a term to the keyring record and makes it active, in one compare-and-set
//! commit: new writes are encrypted under it, values written before still decrypt under their own
//! term (the envelope names it). Other nodes learn of a new term three ways: a value whose term
//! they do not know makes them re-read the keyring before decrypting; the server re-reads it when
//! storage announces a change of [`KEYRING_PATH`](crate::KEYRING_PATH) (PostgreSQL `NOTIFY`); and
//! every node re-reads it on its maintenance tick.
//!
//! Usage: each node counts the values it encrypts under the active term and adds the count to a
//! stored record ([`USAGE_PATH`]) on its maintenance tick, so the deployment-wide count survives
//! restarts (a crash loses at most one tick of counting). Rotation is due after
//! [`ROTATE_AFTER_ENCRYPTIONS`] values (a quarter of the 2^32 messages NIST SP 800-38D allows one
//! AES-GCM key with random nonces) or [`ROTATE_AFTER_SECONDS`].

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};
use strongbox_crypto::aead::AeadKey;
use strongbox_storage::{Cond, Op, Storage, Txn};
use strongbox_types::{Error, Result, SecretBytes};

use crate::{Barrier, KEYRING_PATH, KeyringDoc, Term, Unsealed, sealed, storage_err};

/// The stored count of values encrypted under each term (encrypted like any record).
pub const USAGE_PATH: &str = "sys/barrier/usage";
/// Encryptions under one term after which it is rotated: 2^30.
pub const ROTATE_AFTER_ENCRYPTIONS: u64 = 1 << 30;
/// Age after which the active term is rotated: 90 days.
pub const ROTATE_AFTER_SECONDS: i64 = 90 * 86_400;

/// The keyring as `GET /_strongbox/sys/keyring` shows it (no key material).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyringStatus {
    /// The term new values are encrypted under.
    pub active: u32,
    /// Every term, oldest first, with when it was made (Unix seconds; 0 when not recorded).
    pub terms: Vec<(u32, i64)>,
    /// Values encrypted under the active term: stored count plus this node's uncounted ones.
    pub encryptions: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct Usage {
    /// term -> values encrypted under it (all nodes, as flushed)
    counts: BTreeMap<u32, u64>,
}

/// The keyring record as stored (its exact bytes, for compare-and-set) and opened with `root`.
pub(crate) async fn stored_doc(storage: &dyn Storage, root: &AeadKey) -> Result<(Vec<u8>, KeyringDoc)> {
    let raw =
        storage.get(KEYRING_PATH).await.map_err(storage_err)?.ok_or_else(|| Error::internal("keyring missing"))?;
    let plain = root.open(KEYRING_PATH.as_bytes(), &raw)?;
    let doc = serde_json::from_slice(plain.expose()).map_err(|_| Error::internal("keyring corrupt"))?;
    Ok((raw, doc))
}

/// A term's key from its hex in the keyring record.
pub(crate) fn term_key(hex: &str) -> Result<Term> {
    let key = SecretBytes::new(strongbox_crypto::unhex(hex).ok_or_else(|| Error::internal("keyring corrupt"))?);
    Ok(Term { key: AeadKey::new(&key)? })
}

/// Replaces the keyring record if it is still exactly `raw` (else `Conflict`, nothing written).
async fn replace_doc(storage: &dyn Storage, root: &AeadKey, raw: Vec<u8>, doc: &KeyringDoc) -> Result<()> {
    let bytes = SecretBytes::new(serde_json::to_vec(doc).map_err(|e| Error::internal(e.to_string()))?);
    let sealed_doc = root.seal(KEYRING_PATH.as_bytes(), bytes.expose())?;
    let txn = Txn {
        conds: vec![Cond::Equals(KEYRING_PATH.into(), raw)],
        ops: vec![Op::Put(KEYRING_PATH.into(), sealed_doc)],
    };
    storage.commit(txn).await.map_err(storage_err)
}

/// Whether one of these envelopes names a term this node does not hold (another node rotated):
/// the caller then re-reads the keyring before decrypting. An envelope naming a term no keyring
/// holds still fails to decrypt afterwards, with the usual error.
pub(crate) fn misses_a_term<'a>(st: &Unsealed, mut raws: impl Iterator<Item = &'a [u8]>) -> bool {
    raws.any(|raw| term_of(raw).is_some_and(|t| !st.terms.contains_key(&t)))
}

/// The term named by an envelope's header, if it has one.
fn term_of(raw: &[u8]) -> Option<u32> {
    raw.split_first_chunk::<4>().map(|(t, _)| u32::from_be_bytes(*t))
}

impl Barrier {
    /// Adds a new keyring term and makes it active; returns it. Old terms stay to decrypt old
    /// values. `now` is recorded as the term's birth. A concurrent rotation by another node
    /// makes this one fail with `Conflict` (nothing written); this node then has the other's term.
    pub async fn rotate(&self, now: i64) -> Result<u32> {
        let mut guard = self.state.write().await;
        let st = guard.as_mut().ok_or_else(sealed)?;
        let (raw, mut doc) = stored_doc(&*self.storage, &st.root).await?;
        let next = doc.terms.keys().max().copied().unwrap_or(0) + 1;
        let key = strongbox_crypto::random_key()?;
        doc.terms.insert(next, strongbox_crypto::hex(key.expose()));
        doc.installed.insert(next, now);
        doc.active = next;
        replace_doc(&*self.storage, &st.root, raw, &doc).await?;
        st.terms.insert(next, Term { key: AeadKey::new(&key)? });
        st.installed.insert(next, now);
        st.active = next;
        st.encryptions.store(0, Ordering::Relaxed);
        tracing::info!(term = next, "keyring rotated: new values are encrypted under the new term");
        Ok(next)
    }

    /// Re-reads the keyring record and takes any term another node added (and its choice of the
    /// active term). Returns whether something changed.
    pub async fn reload_keyring(&self) -> Result<bool> {
        let mut guard = self.state.write().await;
        let st = guard.as_mut().ok_or_else(sealed)?;
        let (_, doc) = stored_doc(&*self.storage, &st.root).await?;
        let mut changed = false;
        for (t, h) in &doc.terms {
            if !st.terms.contains_key(t) {
                st.terms.insert(*t, term_key(h)?);
                changed = true;
            }
        }
        if !st.terms.contains_key(&doc.active) {
            return Err(Error::internal("keyring has no active term"));
        }
        if doc.active != st.active {
            st.active = doc.active;
            st.encryptions.store(0, Ordering::Relaxed);
            changed = true;
            tracing::info!(term = doc.active, "keyring: another node rotated; new values use its term");
        }
        st.installed.clone_from(&doc.installed);
        Ok(changed)
    }

    /// Adds this node's count of encryptions under the active term to the stored count, and
    /// returns the stored total for the active term.
    pub async fn flush_usage(&self) -> Result<u64> {
        let (active, mine) = {
            let guard = self.state.read().await;
            let st = guard.as_ref().ok_or_else(sealed)?;
            (st.active, st.encryptions.swap(0, Ordering::Relaxed))
        };
        for _ in 0..crate::CAS_RETRIES {
            let current = self.get_versioned(USAGE_PATH).await?;
            let mut usage: Usage = match &current {
                Some(v) => {
                    serde_json::from_slice(v.value.expose()).map_err(|_| Error::internal("usage record corrupt"))?
                }
                None => Usage::default(),
            };
            let total = usage.counts.entry(active).or_insert(0);
            *total = total.saturating_add(mine);
            let total = *total;
            if mine == 0 {
                return Ok(total);
            }
            let bytes = serde_json::to_vec(&usage).map_err(|e| Error::internal(e.to_string()))?;
            let txn = match &current {
                Some(v) => crate::BTxn::new().unchanged(USAGE_PATH, &v.stamp),
                None => crate::BTxn::new().absent(USAGE_PATH),
            }
            .put(USAGE_PATH, bytes);
            match self.commit(txn).await {
                Ok(()) => return Ok(total),
                Err(e) if e.kind == strongbox_types::ErrorKind::Conflict => continue,
                Err(e) => {
                    self.give_back(active, mine).await;
                    return Err(e);
                }
            }
        }
        self.give_back(active, mine).await;
        Err(Error::internal("the keyring usage count stayed contended"))
    }

    /// Puts an unflushed count back (the flush failed), if the term is still active.
    async fn give_back(&self, term: u32, n: u64) {
        if let Some(st) = self.state.read().await.as_ref()
            && st.active == term
        {
            st.encryptions.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Rotates when the active term has encrypted `max_encryptions` values (stored count) or is
    /// older than `max_age` seconds. A term without a recorded birth gets `now` as its birth
    /// (deployments made before births were recorded). Returns the new term if it rotated.
    pub async fn rotate_if_due(&self, now: i64, max_encryptions: u64, max_age: i64) -> Result<Option<u32>> {
        let used = self.flush_usage().await?;
        let born = {
            let guard = self.state.read().await;
            let st = guard.as_ref().ok_or_else(sealed)?;
            st.installed.get(&st.active).copied()
        };
        let born = match born {
            Some(b) => b,
            None => {
                self.record_birth(now).await?;
                now
            }
        };
        if used >= max_encryptions || now.saturating_sub(born) >= max_age {
            tracing::info!(used, age_seconds = now.saturating_sub(born), "keyring rotation is due");
            return self.rotate(now).await.map(Some);
        }
        Ok(None)
    }

    /// Records `now` as the birth of the active term when none is recorded.
    async fn record_birth(&self, now: i64) -> Result<()> {
        let mut guard = self.state.write().await;
        let st = guard.as_mut().ok_or_else(sealed)?;
        let (raw, mut doc) = stored_doc(&*self.storage, &st.root).await?;
        if !doc.installed.contains_key(&doc.active) {
            doc.installed.insert(doc.active, now);
            replace_doc(&*self.storage, &st.root, raw, &doc).await?;
        }
        st.installed.clone_from(&doc.installed);
        Ok(())
    }

    /// Re-encrypts, under the active term, the values (from `start`, at most `limit` read) that an
    /// older term encrypted, each by compare-and-set on its exact stored bytes, so a value changed
    /// meanwhile is left alone (its writer used the active term). Keys under `skip` are passed
    /// over (the barrier's own records, and records whose bytes a holder compares against for a
    /// long time, like lease fences). Returns how many were rewritten and where the next page
    /// starts (`None`: the pass reached the end). Old terms stay in the keyring.
    pub async fn reencrypt_page(&self, start: &str, limit: usize, skip: &[&str]) -> Result<(usize, Option<String>)> {
        let rows = self.storage.scan(start, "\u{10FFFF}", limit).await.map_err(storage_err)?;
        let next = (rows.len() == limit).then(|| rows.last().map(|(k, _)| strongbox_storage::key_after(k))).flatten();
        let mut rewritten = 0;
        for (key, raw) in rows {
            if skip.iter().any(|p| key.starts_with(p)) {
                continue;
            }
            let txn = {
                let guard = self.state.read().await;
                let st = guard.as_ref().ok_or_else(sealed)?;
                match term_of(&raw) {
                    Some(t) if t < st.active && st.terms.contains_key(&t) => {}
                    _ => continue,
                }
                let plain = Self::decrypt(st, &key, &raw)?;
                let fresh = Self::encrypt(st, &key, plain.expose())?;
                Txn { conds: vec![Cond::Equals(key.clone(), raw)], ops: vec![Op::Put(key, fresh)] }
            };
            match self.storage.commit(txn).await {
                Ok(()) => rewritten += 1,
                Err(strongbox_storage::StorageError::ConditionFailed) => {}
                Err(e) => return Err(storage_err(e)),
            }
        }
        Ok((rewritten, next))
    }

    /// The keyring's terms and the active term's usage.
    pub async fn keyring_status(&self) -> Result<KeyringStatus> {
        let stored = match self.get(USAGE_PATH).await? {
            Some(v) => {
                serde_json::from_slice::<Usage>(v.expose()).map_err(|_| Error::internal("usage record corrupt"))?
            }
            None => Usage::default(),
        };
        let guard = self.state.read().await;
        let st = guard.as_ref().ok_or_else(sealed)?;
        let counted = stored.counts.get(&st.active).copied().unwrap_or(0);
        Ok(KeyringStatus {
            active: st.active,
            terms: st.terms.keys().map(|t| (*t, st.installed.get(t).copied().unwrap_or(0))).collect(),
            encryptions: counted.saturating_add(st.encryptions.load(Ordering::Relaxed)),
        })
    }
}
