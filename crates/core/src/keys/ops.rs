//! Key operations: sign, verify, encrypt/wrapKey, decrypt/unwrapKey, with the checks of
//! `enabled`, `key_ops` and the `nbf`/`exp` window, served from the operation cache when hot.

use std::sync::Arc;

use strongbox_crypto::aes::SymParams;
use strongbox_crypto::handle::KeyHandle;
use strongbox_crypto::keys::{CipherAlg, SignAlg};
use strongbox_types::{Error, ErrorKind, ObjectName, Result, SecretBytes};

use super::runtime::{HANDLE_CACHE_MAX, OP_META_TTL, OpMeta};
use super::{CipherInput, KEYS, KeyOpResult, KeyStorageSummary, Keys};

/// The operations refused outside a key's `nbf`/`exp` window (the others recover existing data).
const WINDOWED_OPS: &[&str] = &["encrypt", "wrapKey", "sign"];

/// A key operation's input, owned (and the data wiped on drop) so it can move to a thread.
struct OwnedInput {
    value: SecretBytes,
    iv: Option<Vec<u8>>,
    aad: Option<Vec<u8>>,
    tag: Option<Vec<u8>>,
}

fn owned_input(i: &CipherInput) -> OwnedInput {
    OwnedInput { value: SecretBytes::new(i.value.clone()), iv: i.iv.clone(), aad: i.aad.clone(), tag: i.tag.clone() }
}

/// Runs a key operation: inline for software keys (microseconds of CPU), on the blocking pool
/// for keys whose operations wait on a device ([`KeyHandle::blocking`]), so a slow or busy HSM
/// never stalls the async workers that serve every other request.
pub(super) async fn run_key_op<T: Send + 'static>(
    h: &Arc<dyn KeyHandle>,
    op: impl FnOnce(&dyn KeyHandle) -> Result<T> + Send + 'static,
) -> Result<T> {
    if !h.blocking() {
        return op(h.as_ref());
    }
    // A bounded number of device operations in flight (a network HSM serves a few dozen
    // sessions; more threads would only queue inside the module).
    static DEVICE_OPS: std::sync::LazyLock<Arc<tokio::sync::Semaphore>> =
        std::sync::LazyLock::new(|| Arc::new(tokio::sync::Semaphore::new(32)));
    let h = h.clone();
    crate::bounded::run_bounded(&DEVICE_OPS, "the key operation was interrupted", move || op(h.as_ref())).await
}

fn op_cache_key(vault: &str, lc: &str, version: Option<&str>) -> String {
    format!("{vault}/{lc}/{}", version.unwrap_or_default().to_ascii_lowercase())
}

impl Keys {
    /// Loads the key for an operation and enforces `enabled`, `key_ops` and, for the protecting
    /// operations ([`WINDOWED_OPS`]), `nbf` and `exp`. A hot
    /// key is served from the operation cache without reading storage.
    async fn key_for(&self, vault: &str, name: &str, version: Option<&str>, op: &str) -> Result<Arc<OpMeta>> {
        let version = version.filter(|s| !s.is_empty());
        let now = self.clock.now();
        let ck = op_cache_key(&vault.to_ascii_lowercase(), &name.to_ascii_lowercase(), version);
        let cached = self.runtime.ops.read().ok().and_then(|c| c.get(&ck).cloned());
        let m = match cached {
            Some(m) if now >= m.cached_at && now - m.cached_at <= OP_META_TTL => m,
            _ => {
                let v = self.vaults.record(vault).await?;
                let name = ObjectName::parse(name)?;
                let o = self.store.get(&v, &name, version).await?;
                let p = o.payload.ok_or_else(|| Error::internal("key payload missing"))?;
                let handle = self.runtime.handle(&v, &o.name, &o.meta.version, &p)?;
                let m = Arc::new(OpMeta {
                    name: o.name,
                    version: o.meta.version,
                    enabled: o.meta.enabled,
                    nbf: o.meta.nbf,
                    exp: o.meta.exp,
                    key_ops: p.key_ops,
                    handle,
                    cached_at: now,
                });
                if !o.meta.managed
                    && let Ok(mut c) = self.runtime.ops.write()
                {
                    if c.len() >= HANDLE_CACHE_MAX {
                        c.clear();
                    }
                    c.insert(ck, m.clone());
                }
                m
            }
        };
        if !m.enabled {
            return Err(Error::new(KEYS.disabled, "Operation get is not allowed on a disabled key."));
        }
        // Azure's rule: outside `nbf`..`exp` a key no longer protects new data (encrypt, wrapKey,
        // sign), but still recovers what it protected (decrypt, unwrapKey, verify), so data
        // encrypted under a key that has since expired is never locked out.
        if WINDOWED_OPS.contains(&op) && (m.nbf.is_some_and(|n| now < n) || m.exp.is_some_and(|e| now >= e)) {
            return Err(Error::new(
                ErrorKind::OperationNotPermitted,
                format!(
                    "Operation {op} is not allowed: the key is not yet valid or has expired (decrypt, unwrapKey and verify still are)."
                ),
            ));
        }
        if !m.key_ops.iter().any(|k| k == op) {
            return Err(Error::new(
                ErrorKind::OperationNotPermitted,
                format!("Operation {op} is not permitted on this key (key_ops: {}).", m.key_ops.join(", ")),
            ));
        }
        Ok(m)
    }

    pub async fn sign(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        alg: &str,
        digest: &[u8],
    ) -> Result<KeyOpResult> {
        let alg = SignAlg::parse(alg)?;
        let m = self.key_for(vault, name, version, "sign").await?;
        let digest = digest.to_vec();
        let sig = run_key_op(&m.handle, move |h| h.sign(alg, &digest)).await?;
        Ok(KeyOpResult {
            name: m.name.clone(),
            version: m.version.clone(),
            value: SecretBytes::new(sig),
            iv: None,
            tag: None,
        })
    }

    pub async fn verify(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        alg: &str,
        digest: &[u8],
        signature: &[u8],
    ) -> Result<bool> {
        let alg = SignAlg::parse(alg)?;
        let m = self.key_for(vault, name, version, "verify").await?;
        let (digest, signature) = (digest.to_vec(), signature.to_vec());
        run_key_op(&m.handle, move |h| h.verify(alg, &digest, &signature)).await
    }

    /// encrypt / wrapKey (`op` names the key operation that must be allowed).
    pub async fn encrypt(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        op: &str,
        alg: &str,
        input: &CipherInput,
    ) -> Result<KeyOpResult> {
        let alg = CipherAlg::parse(alg)?;
        let m = self.key_for(vault, name, version, op).await?;
        let input = owned_input(input);
        let out = run_key_op(&m.handle, move |h| {
            let params = SymParams { iv: input.iv.as_deref(), aad: input.aad.as_deref(), tag: input.tag.as_deref() };
            h.encrypt(alg, input.value.expose(), &params)
        })
        .await?;
        Ok(KeyOpResult {
            name: m.name.clone(),
            version: m.version.clone(),
            value: SecretBytes::new(out.value),
            iv: out.iv,
            tag: out.tag,
        })
    }

    /// decrypt / unwrapKey.
    pub async fn decrypt(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        op: &str,
        alg: &str,
        input: &CipherInput,
    ) -> Result<KeyOpResult> {
        let alg = CipherAlg::parse(alg)?;
        let m = self.key_for(vault, name, version, op).await?;
        let input = owned_input(input);
        let value = run_key_op(&m.handle, move |h| {
            let params = SymParams { iv: input.iv.as_deref(), aad: input.aad.as_deref(), tag: input.tag.as_deref() };
            h.decrypt(alg, input.value.expose(), &params)
        })
        .await?;
        Ok(KeyOpResult { name: m.name.clone(), version: m.version.clone(), value, iv: None, tag: None })
    }

    /// What storage holds for a key version, described without the key itself (tests and
    /// diagnostics): the payload's member names, the length of the software material and the HSM
    /// handle, for the version record and the head's copy of the latest version.
    pub async fn storage_summary(&self, vault: &str, name: &str, version: &str) -> Result<Vec<KeyStorageSummary>> {
        let v = self.vaults.record(vault).await?;
        let lc = ObjectName::parse(name)?.key();
        let mut out = Vec::new();
        let raw = self.store.raw();
        let (vr, hr) = (format!("{}/{lc}/{version}", v.name), format!("{}/{lc}", v.name));
        for (view, rel, member) in [(&raw.versions, vr, "value"), (&raw.heads, hr, "latest_value")] {
            let Some(doc) = view.get::<serde_json::Value>(&rel).await? else { continue };
            let Some(p) = doc.get(member).and_then(|p| p.as_object()) else { continue };
            out.push(KeyStorageSummary {
                fields: p.keys().cloned().collect(),
                material_len: p.get("material").and_then(|m| m.as_str()).map_or(0, str::len),
                hsm_handle: p.get("hsm").and_then(|h| h.as_str()).map(str::to_owned),
            });
        }
        Ok(out)
    }

    /// `POST /rng`: 1–128 random bytes.
    pub fn random_bytes(&self, count: usize) -> Result<Vec<u8>> {
        if !(1..=128).contains(&count) {
            return Err(Error::bad("'count' must be between 1 and 128."));
        }
        let mut b = vec![0u8; count];
        strongbox_crypto::fill_random(&mut b)?;
        Ok(b)
    }
}
