//! Validation of bearer tokens on every request ([`Identity::authenticate`]): our own tokens
//! (signature, times, audience, issuer, tenant) and, through `external`, user tokens of trusted
//! IdPs; then the revocation check against the status table (see the crate documentation).

use std::sync::Arc;

use strongbox_crypto::jws;
use strongbox_types::{Error, Result};

use crate::error::AuthFailure;
use crate::status::{
    CachedToken, PUBLIC_CLIENT_CRED, PrincipalStatus, public_client_key, public_client_status, status_of,
};
use crate::token::Claims;
use crate::trusted_issuers::TrustedIssuerRec;
use crate::{
    BUILTIN_PUBLIC_CLIENTS, Identity, Principal, SKEW, STATUS_TTL, TOKEN_CACHE_MAX, external, trusted_issuers, users,
};

impl Identity {
    /// Validates a bearer token: signature, expiry (with skew), not-before, audience, issuer,
    /// tenant, and that its principal and credential have not been disabled or removed.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, AuthFailure> {
        let now = self.now();
        let digest = strongbox_crypto::sha256(token.as_bytes());
        let hit = self.cache.read().ok().and_then(|c| c.get(&digest).cloned());
        if let Some(t) = hit
            && now < t.exp.saturating_add(SKEW)
        {
            self.check_status(&t.status_key, t.cred.as_deref()).await?;
            if let Some((key, iss)) = &t.issuer_check {
                self.check_status(key, Some(iss)).await?;
            }
            return Ok(t.principal.clone());
        }
        let c = match self.verify_our_token(token).await {
            Ok(c) => c,
            // Not verifiable with our keys: a token of a trusted external issuer, perhaps.
            Err(f) => {
                return match external::foreign_issuer(token, &self.issuer()) {
                    Some(iss) => self.authenticate_external(token, digest, &iss).await,
                    None => Err(f),
                };
            }
        };
        if now >= c.exp + SKEW {
            return Err(AuthFailure("AKV10022: Token is expired."));
        }
        if c.nbf > now + SKEW {
            return Err(AuthFailure("AKV10023: Token is not yet valid."));
        }
        if c.aud != self.cfg.resource {
            return Err(AuthFailure("AKV10022: Invalid audience."));
        }
        if c.iss != self.issuer() {
            return Err(AuthFailure("AKV10032: Invalid issuer."));
        }
        if c.tid != self.tenant_id {
            return Err(AuthFailure("AKV10032: Invalid tenant."));
        }
        let status_key =
            if c.idtyp == "user" { self.store.users.key(&c.oid) } else { self.store.principals.key(&c.appid) };
        self.check_status(&status_key, c.sbx_cred.as_deref()).await?;
        // A user token's `appid` must name a registered public client (compound identities,
        // `applicationId` in access policies, trust it).
        let app_check = if c.idtyp == "user" {
            let key = public_client_key(&c.appid);
            self.check_status(&key, Some(PUBLIC_CLIENT_CRED)).await?;
            Some((key, PUBLIC_CLIENT_CRED.to_owned()))
        } else {
            None
        };
        let p = Principal { object_id: c.oid, app_id: c.appid, tenant_id: c.tid, amr: c.amr, token_groups: Vec::new() };
        if let Ok(mut cache) = self.cache.write() {
            if cache.len() >= TOKEN_CACHE_MAX {
                cache.clear();
            }
            cache.insert(
                digest,
                Arc::new(CachedToken {
                    principal: p.clone(),
                    exp: c.exp,
                    status_key,
                    cred: c.sbx_cred,
                    issuer_check: app_check,
                }),
            );
        }
        Ok(p)
    }

    async fn verify_our_token(&self, token: &str) -> Result<Claims, AuthFailure> {
        let map = |e: jws::JwsError| match e {
            jws::JwsError::UnknownKey => {
                AuthFailure("AKV10046: Unable to resolve the key used for signature validation.")
            }
            jws::JwsError::BadSignature => AuthFailure("AKV10031: Token signature validation failed."),
            jws::JwsError::Malformed => AuthFailure("AKV10000: Request is missing a Bearer or PoP token."),
        };
        let keys = self.keyset().ok_or(AuthFailure("AKV10046: Signing keys unavailable."))?;
        match jws::verify::<Claims>(token, &keys.public) {
            // (a foreign issuer's token does not make us re-read our keys)
            Err(jws::JwsError::UnknownKey)
                if external::foreign_issuer(token, &self.issuer()).is_none() && self.may_reload_keys() =>
            {
                // Another node may have rotated the signing key: re-read the keys (throttled).
                if self.reload_signing_keys().await.is_err() {
                    return Err(map(jws::JwsError::UnknownKey));
                }
                let keys = self.keyset().ok_or(AuthFailure("AKV10046: Signing keys unavailable."))?;
                jws::verify::<Claims>(token, &keys.public).map_err(map)
            }
            other => other.map_err(map),
        }
    }

    fn may_reload_keys(&self) -> bool {
        let now = self.now();
        match self.last_key_reload.lock() {
            Ok(mut last) if now.saturating_sub(*last) >= 5 => {
                *last = now;
                true
            }
            _ => false,
        }
    }

    /// The revocation check (see the module comment).
    pub(crate) async fn check_status(&self, key: &str, cred: Option<&str>) -> Result<(), AuthFailure> {
        let now = self.now();
        // Hot path: decided under the read lock, nothing cloned.
        let fresh = self
            .status
            .read()
            .ok()
            .and_then(|m| m.get(key).filter(|s| now.saturating_sub(s.loaded) < STATUS_TTL).map(|s| s.allows(cred)));
        let allowed = match fresh {
            Some(a) => a,
            None => self.load_status(key).await.map_err(|_| AuthFailure::UNCHECKED)?.allows(cred),
        };
        if allowed {
            Ok(())
        } else {
            Err(AuthFailure("AKV10032: The principal is disabled or deleted, or its credential was removed."))
        }
    }

    async fn load_status(&self, key: &str) -> Result<PrincipalStatus> {
        let now = self.now();
        let st = &self.store;
        let status = if let Some(oid) = st.users.relative(key) {
            users::user_status(st.users.get(oid).await?.as_ref(), now)
        } else if let Some(app) = st.public_clients.relative(key) {
            if builtin_public_client(app).is_some() {
                public_client_status(None, true, now)
            } else {
                public_client_status(st.principals.get(app).await?.as_ref(), false, now)
            }
        } else if let Some(name) = st.issuers.relative(key) {
            let r: Option<TrustedIssuerRec> = st.issuers.get(name).await?;
            trusted_issuers::issuer_status(r.as_ref(), now)
        } else if let Some(app) = st.principals.relative(key) {
            status_of(st.principals.get(app).await?.as_ref(), now)
        } else {
            return Err(Error::internal("unknown status row"));
        };
        self.put_status(key, status.clone());
        Ok(status)
    }

    /// Another node changed the record behind the status row `key` (`None`: possibly any): the
    /// next request re-reads it instead of trusting it up to [`STATUS_TTL`].
    pub fn forget_status(&self, key: Option<&str>) {
        if let Ok(mut m) = self.status.write() {
            match key {
                Some(k) => {
                    m.remove(k);
                }
                None => m.clear(),
            }
        }
    }

    pub(crate) fn put_status(&self, key: &str, status: PrincipalStatus) {
        if let Ok(mut m) = self.status.write() {
            if m.len() >= TOKEN_CACHE_MAX {
                m.clear();
            }
            m.insert(key.to_owned(), status);
        }
    }

    /// Periodic identity upkeep for the server's background loop: rotates the signing key when
    /// due (and drops keys whose tokens have all expired), re-reads keys other nodes may have
    /// rotated, forgets expired assertion ids and stale status rows.
    pub async fn maintenance(&self) -> Result<()> {
        self.rotate_signing_key_if_due().await?;
        self.purge_expired_jtis().await?;
        self.purge_expired_user_grants().await?;
        let now = self.now();
        if let Ok(mut m) = self.status.write() {
            m.retain(|_, s| now.saturating_sub(s.loaded) < STATUS_TTL);
        }
        if let Ok(mut c) = self.cache.write() {
            c.retain(|_, t| now < t.exp.saturating_add(SKEW));
        }
        Ok(())
    }
}

/// The display name of a built-in public client.
pub(crate) fn builtin_public_client(client_id: &str) -> Option<&'static str> {
    BUILTIN_PUBLIC_CLIENTS.iter().find(|(id, _)| id.eq_ignore_ascii_case(client_id)).map(|(_, name)| *name)
}
