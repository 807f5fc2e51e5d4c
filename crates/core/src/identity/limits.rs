//! Failed sign-in limiting, per client id and per source address, with exponential back-off.
//!
//! Failures are counted within a window; from the threshold on, each further failure doubles
//! the time during which every attempt is refused unverified (no Argon2 work, no signature
//! check). A success clears the client's counter, never the address's (an attacker holding one
//! valid credential must not be able to reset the address limit). Memory is bounded. State is
//! per node: with several nodes an attacker gets at most N times the budget, still throttled.

use std::collections::HashMap;

use super::{OAuthError, TokenRequest};
use crate::Core;

/// Failures counted within this many seconds.
const WINDOW: i64 = 15 * 60;
/// Failures per client id before back-off starts.
pub const CLIENT_THRESHOLD: u32 = 5;
/// Failures per source address before back-off starts (several clients may share one NAT).
pub const ADDRESS_THRESHOLD: u32 = 20;
/// First back-off, doubled per further failure, capped.
const BASE_BACKOFF: i64 = 5;
const MAX_BACKOFF: i64 = 15 * 60;
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start: i64,
    blocked_until: i64,
}

#[derive(Debug, Default)]
pub(crate) struct Limiter {
    entries: HashMap<String, Entry>,
}

impl Limiter {
    /// Seconds to wait if `key` is blocked now.
    fn blocked(&self, key: &str, now: i64) -> Option<i64> {
        self.entries.get(key).filter(|e| e.blocked_until > now).map(|e| e.blocked_until - now)
    }

    fn fail(&mut self, key: &str, now: i64, threshold: u32) {
        if self.entries.len() >= MAX_ENTRIES {
            self.entries.retain(|_, e| now - e.window_start < WINDOW || e.blocked_until > now);
            if self.entries.len() >= MAX_ENTRIES {
                self.entries.clear();
            }
        }
        let e =
            self.entries.entry(key.to_owned()).or_insert(Entry { failures: 0, window_start: now, blocked_until: 0 });
        if now - e.window_start >= WINDOW && e.blocked_until <= now {
            *e = Entry { failures: 0, window_start: now, blocked_until: 0 };
        }
        e.failures = e.failures.saturating_add(1);
        if e.failures >= threshold {
            let exp = (e.failures - threshold).min(16);
            let wait = BASE_BACKOFF.saturating_mul(1i64 << exp).min(MAX_BACKOFF);
            e.blocked_until = now + wait;
        }
    }

    fn clear(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

fn client_key(req: &TokenRequest) -> Option<String> {
    req.client_id.as_ref().map(|c| format!("c:{}", c.to_ascii_lowercase()))
}

fn address_key(req: &TokenRequest) -> Option<String> {
    req.peer.map(|p| format!("a:{p}"))
}

impl Core {
    /// Seconds the caller must wait, if its client id or address is in back-off.
    pub(super) fn throttled(&self, req: &TokenRequest) -> Option<i64> {
        let now = self.now();
        let l = self.ident.limiter.lock().ok()?;
        let a = client_key(req).and_then(|k| l.blocked(&k, now));
        let b = address_key(req).and_then(|k| l.blocked(&k, now));
        a.max(b)
    }

    /// The 429 every credential exchange answers while its client id or address is in back-off.
    pub(super) fn back_off(&self, req: &TokenRequest) -> Result<(), OAuthError> {
        match self.throttled(req) {
            None => Ok(()),
            Some(wait) => {
                let mut e = OAuthError::new(
                    429,
                    "temporarily_unavailable",
                    format!(
                        "AADSTS50053: Too many failed sign-in attempts for this client or address. Retry after {wait} seconds."
                    ),
                );
                e.retry_after = Some(wait);
                Err(e)
            }
        }
    }

    pub(super) fn note_failure(&self, req: &TokenRequest) {
        let now = self.now();
        if let Ok(mut l) = self.ident.limiter.lock() {
            if let Some(k) = client_key(req) {
                l.fail(&k, now, CLIENT_THRESHOLD);
            }
            if let Some(k) = address_key(req) {
                l.fail(&k, now, ADDRESS_THRESHOLD);
            }
        }
    }

    /// Counts one occurrence of `key` (e.g. an unauthenticated device-code request from one
    /// address); returns the wait if `key` is in back-off. The occurrence that crosses
    /// `threshold` starts the back-off for the next ones.
    pub(super) fn rate_event(&self, key: &str, threshold: u32) -> Option<i64> {
        let now = self.now();
        let mut l = self.ident.limiter.lock().ok()?;
        if let Some(wait) = l.blocked(key, now) {
            return Some(wait);
        }
        l.fail(key, now, threshold);
        None
    }

    pub(super) fn note_success(&self, req: &TokenRequest) {
        if let (Ok(mut l), Some(k)) = (self.ident.limiter.lock(), client_key(req)) {
            l.clear(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_threshold_and_doubles() {
        let mut l = Limiter::default();
        for _ in 0..4 {
            l.fail("k", 100, 5);
        }
        assert_eq!(l.blocked("k", 100), None);
        l.fail("k", 100, 5);
        assert_eq!(l.blocked("k", 100), Some(5));
        assert_eq!(l.blocked("k", 105), None);
        l.fail("k", 105, 5);
        assert_eq!(l.blocked("k", 105), Some(10));
        l.clear("k");
        assert_eq!(l.blocked("k", 105), None);
        // failures spread beyond the window start over
        let mut l = Limiter::default();
        for i in 0..4 {
            l.fail("k", i * 1000, 5);
        }
        assert_eq!(l.blocked("k", 4000), None);
    }
}
