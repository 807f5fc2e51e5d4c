//! Failed sign-in limiting with exponential back-off.
//!
//! Client credentials are limited per (client id, source address), per source address, and
//! per client id with a much higher ceiling. Client ids are public (every token carries
//! `appid`), so failures from one address must not lock the client out everywhere: an
//! address that has not failed for a client is always verified. Only past the per-client
//! ceiling (a guess distributed over many addresses) does an address that has failed for the
//! client even once get no further verification, until the window ends; fresh addresses are
//! still served, so the owner is never locked out.
//!
//! User sign-ins (the device-code page) are limited the same way: per (resolved user, address)
//! (whatever spelling of the name was typed), with a per-user ceiling across addresses, per
//! device code and per address; user-code guesses per address. User names are not secret, so
//! one address's failures must not lock the user out elsewhere.
//!
//! Addresses are bucketed: IPv4 (and IPv4-mapped IPv6) per address, other IPv6 per /64 (one
//! host usually holds a whole /64).
//!
//! Failures are counted within a window; from the threshold on, each further failure doubles
//! the time during which every attempt is refused unverified (no Argon2 work, no signature
//! check). A success clears only its own (client, address) counter, never the address's or the
//! client's (an attacker holding one valid credential must not be able to reset the limits).
//! Memory is bounded. State is per node: with several nodes an attacker gets at most N times
//! the budget, still throttled.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::error::{Aadsts, OAuthError};
use crate::{Identity, TokenRequest};

/// Failures counted within this many seconds.
const WINDOW: i64 = 15 * 60;
/// Failures per (client id, address) before back-off starts.
pub(crate) const PAIR_THRESHOLD: u32 = 5;
/// Failures per client id, from all addresses, past which an address that has failed for the
/// client is refused unverified for the rest of the window.
pub(crate) const CLIENT_CEILING: u32 = 100;
/// Failures per source address before back-off starts (several clients may share one NAT).
pub(crate) const ADDRESS_THRESHOLD: u32 = 20;
/// Failed user sign-ins per (user, address), however the name was typed, before back-off starts.
pub(crate) const USER_THRESHOLD: u32 = 5;
/// Failed sign-ins per user, from all addresses, past which an address that has failed for the
/// user is refused unverified for the rest of the window.
pub(crate) const USER_CEILING: u32 = 100;
/// Unknown or expired user codes entered from one address before back-off starts.
pub(crate) const USER_CODE_GUESSES: u32 = 10;
/// Failed sign-ins against one device code before back-off starts.
pub(crate) const DEVICE_CODE_FAILURES: u32 = 5;
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

    /// Failures of `key` in the current window, and the seconds left in it.
    fn failures(&self, key: &str, now: i64) -> (u32, i64) {
        match self.entries.get(key) {
            Some(e) if now - e.window_start < WINDOW => (e.failures, e.window_start + WINDOW - now),
            _ => (0, 0),
        }
    }

    /// Counts a failure; from `threshold` failures on, back-off (`None`: never).
    fn fail(&mut self, key: &str, now: i64, threshold: Option<u32>) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(key) {
            self.make_room(now);
        }
        let e =
            self.entries.entry(key.to_owned()).or_insert(Entry { failures: 0, window_start: now, blocked_until: 0 });
        if now - e.window_start >= WINDOW && e.blocked_until <= now {
            *e = Entry { failures: 0, window_start: now, blocked_until: 0 };
        }
        e.failures = e.failures.saturating_add(1);
        if let Some(threshold) = threshold
            && e.failures >= threshold
        {
            let exp = (e.failures - threshold).min(16);
            let wait = BASE_BACKOFF.saturating_mul(1i64 << exp).min(MAX_BACKOFF);
            e.blocked_until = now + wait;
        }
    }

    /// Frees a tenth of the table: expired entries first, then the oldest entries not in
    /// back-off; entries in back-off only when nothing else is left (those ending soonest).
    /// Linear work, once per `MAX_ENTRIES / 10` new keys at most.
    fn make_room(&mut self, now: i64) {
        self.entries.retain(|_, e| now - e.window_start < WINDOW || e.blocked_until > now);
        let want = MAX_ENTRIES / 10;
        if self.entries.len() + want <= MAX_ENTRIES {
            return;
        }
        let mut victims: Vec<(i64, String)> = self
            .entries
            .iter()
            .filter(|(_, e)| e.blocked_until <= now)
            .map(|(k, e)| (e.window_start, k.clone()))
            .collect();
        if victims.is_empty() {
            victims = self.entries.iter().map(|(k, e)| (e.blocked_until, k.clone())).collect();
        }
        if victims.len() > want {
            victims.select_nth_unstable(want);
            victims.truncate(want);
        }
        for (_, k) in victims {
            self.entries.remove(&k);
        }
    }

    fn clear(&mut self, key: &str) {
        self.entries.remove(key);
    }
}

/// The limiter's bucket of an address: IPv4 (also IPv4-mapped IPv6) as is, other IPv6 by /64.
pub(crate) fn addr(peer: Option<IpAddr>) -> String {
    match peer {
        None => String::new(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let net = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(net))
            }
        },
    }
}

fn client_key(req: &TokenRequest) -> Option<String> {
    req.client_id.as_ref().map(|c| format!("c:{}", c.to_ascii_lowercase()))
}

fn pair_key(req: &TokenRequest) -> Option<String> {
    req.client_id.as_ref().map(|c| format!("p:{}|{}", c.to_ascii_lowercase(), addr(req.peer)))
}

fn address_key(peer: Option<IpAddr>) -> Option<String> {
    peer.map(|p| format!("a:{}", addr(Some(p))))
}

fn user_pair_key(user_key: &str, peer: Option<IpAddr>) -> String {
    format!("up:{user_key}|{}", addr(peer))
}

/// The limiter key of a user sign-in: the resolved user's object id when the name is known,
/// else the name as typed (lower case).
pub(crate) fn user_key(resolved: Option<&str>, typed: &str) -> String {
    match resolved {
        Some(oid) => format!("u:{}", oid.to_ascii_lowercase()),
        None => format!("u?:{}", typed.trim().to_ascii_lowercase()),
    }
}

impl Identity {
    /// Seconds the caller must wait, if its (client id, address) pair or address is in
    /// back-off, or the client is past its ceiling and this address has failed for it.
    pub(crate) fn throttled(&self, req: &TokenRequest) -> Option<i64> {
        let now = self.now();
        let l = self.limiter.lock().ok()?;
        let pair = pair_key(req);
        let a = pair.as_ref().and_then(|k| l.blocked(k, now));
        let b = address_key(req.peer).and_then(|k| l.blocked(&k, now));
        let c = match (client_key(req), &pair) {
            (Some(ck), Some(pk)) => {
                let (n, left) = l.failures(&ck, now);
                (n >= CLIENT_CEILING && l.failures(pk, now).0 > 0).then_some(left)
            }
            _ => None,
        };
        a.max(b).max(c)
    }

    /// The 429 every credential exchange answers while the caller is in back-off.
    pub(crate) fn back_off(&self, req: &TokenRequest) -> Result<(), OAuthError> {
        match self.throttled(req) {
            None => Ok(()),
            Some(wait) => Err(too_many(wait)),
        }
    }

    pub(crate) fn note_failure(&self, req: &TokenRequest) {
        let now = self.now();
        if let Ok(mut l) = self.limiter.lock() {
            if let Some(k) = pair_key(req) {
                l.fail(&k, now, Some(PAIR_THRESHOLD));
            }
            if let Some(k) = client_key(req) {
                l.fail(&k, now, None);
            }
            if let Some(k) = address_key(req.peer) {
                l.fail(&k, now, Some(ADDRESS_THRESHOLD));
            }
        }
    }

    /// Counts one occurrence of `key` (e.g. an unauthenticated device-code request from one
    /// address); returns the wait if `key` is in back-off. The occurrence that crosses
    /// `threshold` starts the back-off for the next ones.
    pub(crate) fn rate_event(&self, key: &str, threshold: u32) -> Option<i64> {
        let now = self.now();
        let mut l = self.limiter.lock().ok()?;
        if let Some(wait) = l.blocked(key, now) {
            return Some(wait);
        }
        l.fail(key, now, Some(threshold));
        None
    }

    /// The wait, if any of `keys` or the address is in back-off (nothing is counted).
    pub(crate) fn blocked_any(&self, keys: &[&str], peer: Option<IpAddr>) -> Option<i64> {
        let now = self.now();
        let l = self.limiter.lock().ok()?;
        let addr = address_key(peer);
        keys.iter().copied().chain(addr.as_deref()).filter_map(|k| l.blocked(k, now)).max()
    }

    /// Counts a failure of each `(key, threshold)`, and of the address.
    pub(crate) fn note_failures(&self, keys: &[(&str, u32)], peer: Option<IpAddr>) {
        let now = self.now();
        if let Ok(mut l) = self.limiter.lock() {
            for (k, t) in keys {
                l.fail(k, now, Some(*t));
            }
            if let Some(k) = address_key(peer) {
                l.fail(&k, now, Some(ADDRESS_THRESHOLD));
            }
        }
    }

    /// Seconds to wait, if this (user, address) pair is in back-off, or the user is past its
    /// ceiling and this address has failed for the user. `user_key` is [`user_key`]'s.
    pub(crate) fn user_throttled(&self, user_key: &str, peer: Option<IpAddr>) -> Option<i64> {
        let now = self.now();
        let l = self.limiter.lock().ok()?;
        let pair = user_pair_key(user_key, peer);
        let a = l.blocked(&pair, now);
        let (n, left) = l.failures(user_key, now);
        let b = (n >= USER_CEILING && l.failures(&pair, now).0 > 0).then_some(left);
        a.max(b)
    }

    /// Counts a failed sign-in of the user from this address.
    pub(crate) fn note_user_failure(&self, user_key: &str, peer: Option<IpAddr>) {
        let now = self.now();
        if let Ok(mut l) = self.limiter.lock() {
            l.fail(&user_pair_key(user_key, peer), now, Some(USER_THRESHOLD));
            l.fail(user_key, now, None);
        }
    }

    /// A correct sign-in clears the user's counter for this address only.
    pub(crate) fn note_user_success(&self, user_key: &str, peer: Option<IpAddr>) {
        if let Ok(mut l) = self.limiter.lock() {
            l.clear(&user_pair_key(user_key, peer));
        }
    }

    /// A correct credential clears its own (client, address) counter only.
    pub(crate) fn note_success(&self, req: &TokenRequest) {
        if let (Ok(mut l), Some(k)) = (self.limiter.lock(), pair_key(req)) {
            l.clear(&k);
        }
    }
}

pub(crate) fn too_many(wait: i64) -> OAuthError {
    OAuthError::Throttled {
        reason: Aadsts::new(
            50053,
            format!("Too many failed sign-in attempts for this client or address. Retry after {wait} seconds."),
        ),
        retry_after: wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_starts_at_threshold_and_doubles() {
        let mut l = Limiter::default();
        for _ in 0..4 {
            l.fail("k", 100, Some(5));
        }
        assert_eq!(l.blocked("k", 100), None);
        l.fail("k", 100, Some(5));
        assert_eq!(l.blocked("k", 100), Some(5));
        assert_eq!(l.blocked("k", 105), None);
        l.fail("k", 105, Some(5));
        assert_eq!(l.blocked("k", 105), Some(10));
        l.clear("k");
        assert_eq!(l.blocked("k", 105), None);
        // failures spread beyond the window start over
        let mut l = Limiter::default();
        for i in 0..4 {
            l.fail("k", i * 1000, Some(5));
        }
        assert_eq!(l.blocked("k", 4000), None);
    }

    #[test]
    fn a_full_table_keeps_active_blocks() {
        let mut l = Limiter::default();
        for _ in 0..5 {
            l.fail("victim", 100, Some(5));
        }
        for i in 0..MAX_ENTRIES {
            l.fail(&format!("k{i}"), 101, Some(5));
        }
        l.fail("new", 102, Some(5));
        assert!(l.blocked("victim", 102).is_some());
        assert!(l.entries.len() <= MAX_ENTRIES);
        assert!(l.entries.contains_key("new"));
        // only blocked entries left: the ones ending soonest go, the table stays bounded
        let mut l = Limiter::default();
        for i in 0..MAX_ENTRIES + 1 {
            l.fail(&format!("b{i}"), 100, Some(1));
        }
        assert!(l.entries.len() <= MAX_ENTRIES);
    }

    #[test]
    fn ipv6_addresses_count_per_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap_or(IpAddr::from([0; 4]));
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap_or(IpAddr::from([0; 4]));
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap_or(IpAddr::from([0; 4]));
        let m: IpAddr = "::ffff:192.0.2.1".parse().unwrap_or(IpAddr::from([0; 4]));
        let v4 = IpAddr::from([192, 0, 2, 1]);
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        assert_ne!(address_key(Some(a)), address_key(Some(c)));
        assert_eq!(address_key(Some(m)), address_key(Some(v4)));
        assert_eq!(addr(Some(a)), addr(Some(b)));
        assert_eq!(addr(Some(m)), "192.0.2.1");
        assert_ne!(addr(Some(v4)), addr(Some(IpAddr::from([192, 0, 2, 2]))));
        assert_eq!(user_pair_key("u:x", Some(a)), user_pair_key("u:x", Some(b)));
    }

    #[test]
    fn failures_are_counted_in_the_window_without_back_off_when_asked() {
        let mut l = Limiter::default();
        for _ in 0..200 {
            l.fail("c", 100, None);
        }
        assert_eq!(l.blocked("c", 100), None);
        assert_eq!(l.failures("c", 100), (200, WINDOW));
        assert_eq!(l.failures("c", 100 + WINDOW), (0, 0));
    }
}
