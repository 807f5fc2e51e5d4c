//! Token signing keys: the newest key signs; every key that may still have unexpired tokens out
//! stays in the JWKS and keeps verifying. A new key is generated when the newest one is older
//! than the tenant's rotation period; a superseded key is deleted once the longest-lived token
//! it could have signed has expired (superseded + token lifetime + skew).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, View};
use strongbox_crypto::jws::{PublicKey, SigningKey};
use strongbox_types::{Clock, Error, Result, SecretBytes, SecretString};

use crate::{Identity, SKEW, SecurityEvent};

/// Default signing-key rotation period: 30 days.
pub(crate) const DEFAULT_ROTATION: i64 = 30 * 86_400;

#[derive(Serialize, Deserialize)]
struct SigningRec {
    kid: String,
    created: i64,
    pkcs8_hex: SecretString,
}

/// Tenant-wide identity settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityPolicy {
    /// Seconds between signing-key rotations.
    #[serde(default = "default_rotation")]
    pub signing_key_rotation_seconds: i64,
    /// Users must sign in with a second factor (TOTP).
    #[serde(default = "yes")]
    pub mfa_required_for_users: bool,
}

fn default_rotation() -> i64 {
    DEFAULT_ROTATION
}
fn yes() -> bool {
    true
}

impl Default for IdentityPolicy {
    fn default() -> Self {
        Self { signing_key_rotation_seconds: DEFAULT_ROTATION, mfa_required_for_users: true }
    }
}

pub(crate) struct KeySet {
    pub signer: SigningKey,
    pub public: Vec<PublicKey>,
}

/// The stored signing keys (`keys` is the `SIGNING_KEYS` view), oldest first.
async fn load(keys: &View) -> Result<Vec<(i64, SigningKey)>> {
    let rows: Vec<(String, SigningRec)> = keys.scan("", "", 1000).await?;
    let mut out = Vec::new();
    for (_, rec) in rows {
        let der =
            strongbox_crypto::unhex(rec.pkcs8_hex.expose()).ok_or_else(|| Error::internal("signing key corrupt"))?;
        out.push((rec.created, SigningKey::from_pkcs8(rec.kid.clone(), SecretBytes::new(der))?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.kid().cmp(b.1.kid())));
    Ok(out)
}

async fn create_key(keys: &View, now: i64) -> Result<()> {
    let kid = uuid::Uuid::new_v4().simple().to_string();
    let k = SigningKey::generate(kid.clone())?;
    let rec = SigningRec {
        kid: kid.clone(),
        created: now,
        pkcs8_hex: SecretString::new(strongbox_crypto::hex(k.pkcs8().expose())),
    };
    // (a fresh random kid: `false`, created concurrently, cannot happen in practice)
    keys.create(&kid, &rec).await.map(|_| ())
}

fn keyset(mut keys: Vec<(i64, SigningKey)>) -> Result<KeySet> {
    let public = keys.iter().map(|(_, k)| k.public()).collect();
    let signer = keys.pop().map(|(_, k)| k).ok_or_else(|| Error::internal("no token signing key"))?;
    Ok(KeySet { signer, public })
}

pub(crate) async fn load_or_create(view: &View, clock: &dyn Clock) -> Result<KeySet> {
    let mut keys = load(view).await?;
    if keys.is_empty() {
        create_key(view, clock.now()).await?;
        keys = load(view).await?;
    }
    keyset(keys)
}

impl Identity {
    pub async fn identity_policy(&self) -> Result<IdentityPolicy> {
        Ok(self.store.policy.get("").await?.unwrap_or_default())
    }

    pub async fn set_identity_policy(&self, p: IdentityPolicy) -> Result<IdentityPolicy> {
        if p.signing_key_rotation_seconds < 3600 {
            return Err(Error::bad("signingKeyRotationSeconds must be at least 3600."));
        }
        let policy = &self.store.policy;
        policy.commit(policy.put(BTxn::new(), "", &p)?).await?;
        self.security_event(SecurityEvent::new("policy.update", "success", "", "identity-policy", "")).await;
        Ok(p)
    }

    /// Re-reads the signing keys from storage (another node may have rotated them).
    pub(crate) async fn reload_signing_keys(&self) -> Result<()> {
        let keys = load(&self.store.signing_keys).await?;
        if keys.is_empty() {
            return Ok(());
        }
        let set = Arc::new(keyset(keys)?);
        if let Ok(mut k) = self.keys.write() {
            *k = set;
        }
        Ok(())
    }

    /// Rotates when the newest key is older than the policy's period and deletes keys that can
    /// no longer have valid tokens out. Returns whether a new key was made.
    pub async fn rotate_signing_key_if_due(&self) -> Result<bool> {
        let now = self.now();
        let policy = self.identity_policy().await?;
        let view = &self.store.signing_keys;
        let keys = load(view).await?;
        let newest = keys.last().map(|(c, _)| *c).unwrap_or(i64::MIN);
        let rotated = keys.is_empty() || now.saturating_sub(newest) >= policy.signing_key_rotation_seconds;
        if rotated {
            create_key(view, now).await?;
            tracing::info!("token signing key rotated");
            self.security_event(SecurityEvent::new("signing-key.rotate", "success", "", "", "")).await;
        }
        // Key i was superseded when key i+1 was created; its tokens live at most a lifetime.
        let keys = load(view).await?;
        let mut txn = BTxn::new();
        let mut dropped = 0;
        for (old, next) in keys.iter().zip(keys.iter().skip(1)) {
            let superseded = next.0;
            if superseded.saturating_add(self.cfg.token_lifetime + SKEW) < now {
                txn = view.delete(txn, old.1.kid());
                dropped += 1;
            }
        }
        if dropped > 0 {
            view.commit(txn).await?;
        }
        self.reload_signing_keys().await?;
        Ok(rotated)
    }

    /// Kid of the key that signs new tokens.
    pub fn current_signing_kid(&self) -> String {
        self.keyset().map(|k| k.signer.kid().to_owned()).unwrap_or_default()
    }
}
