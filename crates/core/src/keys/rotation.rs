//! Key rotation: `POST /keys/{name}/rotate`, rotation policies, and the scheduler that carries
//! out `Rotate` lifetime actions when they come due (driven by the injected clock).
//!
//! Durations are ISO-8601 (`P90D`, `P1Y2M`, `PT12H`, `P2W`); years count 365 days and months
//! 30 days, which is how a due date is computed here (Azure does not document its calendar
//! arithmetic). `Notify` actions are stored and validated; the events that deliver them come
//! with the events issue.

use serde::{Deserialize, Serialize};
use strongbox_barrier::BTxn;
use strongbox_types::{Error, ObjectName, Result};

use super::{KeyProps, KeyView, Keys};
use crate::objects::MAX_TIMESTAMP;

const MIN_EXPIRY_SECS: i64 = 28 * 86_400;

/// The longest duration accepted: the whole range of timestamps (see [`MAX_TIMESTAMP`]), so any
/// time plus or minus a duration is computed without overflow, and checked against the range.
pub(super) const MAX_DURATION: i64 = MAX_TIMESTAMP;

/// Parses an ISO-8601 duration into seconds (at most [`MAX_DURATION`]).
pub fn parse_duration(s: &str) -> Result<i64> {
    let bad = || {
        Error::bad(format!(
            "'{}' is not an ISO-8601 duration such as P90D or P1Y.",
            s.chars().take(32).collect::<String>()
        ))
    };
    let rest = s.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (rest, None),
    };
    let mut total: i64 = 0;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, i64)]| -> Result<()> {
        let mut num = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() {
                num.push(ch);
                continue;
            }
            let mult = units.iter().find(|(u, _)| *u == ch).map(|(_, m)| *m).ok_or_else(bad)?;
            let n: i64 = num.parse().map_err(|_| bad())?;
            total = total.checked_add(n.checked_mul(mult).ok_or_else(bad)?).ok_or_else(bad)?;
            num.clear();
            any = true;
        }
        if num.is_empty() { Ok(()) } else { Err(bad()) }
    };
    add(date, &[('Y', 365 * 86_400), ('M', 30 * 86_400), ('W', 7 * 86_400), ('D', 86_400)])?;
    if let Some(t) = time {
        if t.is_empty() {
            return Err(bad());
        }
        add(t, &[('H', 3600), ('M', 60), ('S', 1)])?;
    }
    if !any {
        return Err(bad());
    }
    if total > MAX_DURATION {
        return Err(Error::bad(format!(
            "The duration '{}' is out of range: it must be at most {MAX_DURATION} seconds (about 8,000 years).",
            s.chars().take(32).collect::<String>()
        )));
    }
    Ok(total)
}

/// `t + d` as a timestamp in range, or 400 BadParameter naming `what`.
fn time_after(t: i64, d: i64, what: &str) -> Result<i64> {
    t.checked_add(d).filter(|x| (0..=MAX_TIMESTAMP).contains(x)).ok_or_else(|| {
        Error::bad(format!("The rotation policy '{what}' is out of range: it would end after 9999-12-31T23:59:59Z."))
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ActionType {
    Rotate,
    Notify,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifetimeAction {
    pub action: ActionType,
    pub time_after_create: Option<String>,
    pub time_before_expiry: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationPolicy {
    pub lifetime_actions: Vec<LifetimeAction>,
    pub expiry_time: Option<String>,
    pub created: Option<i64>,
    pub updated: Option<i64>,
}

impl RotationPolicy {
    /// What a key without a stored policy behaves as: notify 30 days before expiry.
    fn default_policy() -> Self {
        Self {
            lifetime_actions: vec![LifetimeAction {
                action: ActionType::Notify,
                time_after_create: None,
                time_before_expiry: Some("P30D".into()),
            }],
            expiry_time: None,
            created: None,
            updated: None,
        }
    }

    /// Checks the policy; `now` bounds the durations so that a key created now can carry them.
    fn validate(&self, now: i64) -> Result<()> {
        if let Some(e) = &self.expiry_time {
            let d = parse_duration(e)?;
            if d < MIN_EXPIRY_SECS {
                return Err(Error::bad("The rotation policy 'expiryTime' must be at least 28 days (P28D)."));
            }
            time_after(now, d, "expiryTime")?;
        }
        let mut seen = Vec::new();
        for a in &self.lifetime_actions {
            if seen.contains(&a.action) {
                return Err(Error::bad("A rotation policy may hold at most one Rotate and one Notify action."));
            }
            seen.push(a.action.clone());
            match (&a.time_after_create, &a.time_before_expiry) {
                (Some(d), None) => {
                    time_after(now, parse_duration(d)?, "timeAfterCreate")?;
                }
                (None, Some(d)) => {
                    parse_duration(d)?;
                }
                _ => {
                    return Err(Error::bad(
                        "Each lifetime action needs exactly one trigger: timeAfterCreate or timeBeforeExpiry.",
                    ));
                }
            }
            if a.time_before_expiry.is_some() && a.action == ActionType::Rotate && self.expiry_time.is_none() {
                return Err(Error::bad("A Rotate action triggered before expiry needs the policy's 'expiryTime'."));
            }
        }
        Ok(())
    }
}

/// A policy's key in `KEY_ROTATION_POLICIES`.
fn policy_rel(vault: &str, lc: &str) -> String {
    format!("{vault}/{lc}")
}

impl Keys {
    pub async fn rotation_policy(&self, vault: &str, name: &str) -> Result<RotationPolicy> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        self.get(vault, name.as_str(), None).await?; // 404 for a missing key
        Ok(self
            .rotation_policies
            .get(&policy_rel(&v.name, &name.key()))
            .await?
            .unwrap_or_else(RotationPolicy::default_policy))
    }

    pub async fn set_rotation_policy(&self, vault: &str, name: &str, mut p: RotationPolicy) -> Result<RotationPolicy> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        let now = self.clock.now();
        p.validate(now)?;
        self.get(vault, name.as_str(), None).await?;
        let rel = policy_rel(&v.name, &name.key());
        let old: Option<RotationPolicy> = self.rotation_policies.get(&rel).await?;
        p.created = Some(old.and_then(|o| o.created).unwrap_or(now));
        p.updated = Some(now);
        // Last writer wins, as before: a policy is replaced whole.
        self.rotation_policies.commit(self.rotation_policies.put(BTxn::new(), &rel, &p)?).await?;
        Ok(p)
    }

    /// `POST /keys/{name}/rotate`: a new version of the same type, size/curve and operations,
    /// expiring after the policy's `expiryTime` when it has one.
    pub async fn rotate(&self, vault: &str, name: &str) -> Result<KeyView> {
        let v = self.vaults.record(vault).await?;
        let name = ObjectName::parse(name)?;
        let latest = self.store.get(&v, &name, None).await?;
        let p = latest.payload.ok_or_else(|| Error::internal("key payload missing"))?;
        // Same type, size or curve and operations; HSM keys get their new version in the token.
        let payload = self.rotated_payload(&v, &latest.name, &latest.meta.version, &p)?;
        let policy: Option<RotationPolicy> = self.rotation_policies.get(&policy_rel(&v.name, &name.key())).await?;
        let exp = match policy.and_then(|p| p.expiry_time) {
            Some(e) => Some(time_after(self.clock.now(), parse_duration(&e)?, "expiryTime")?),
            None => None,
        };
        let props = KeyProps { tags: latest.meta.tags.clone(), enabled: Some(true), nbf: None, exp };
        self.add_version(&v, &name, payload, props).await
    }

    /// Rotates every key whose policy's Rotate action is due. Returns how many were rotated.
    pub async fn rotate_due(&self) -> Result<usize> {
        let now = self.clock.now();
        let mut rotated = 0;
        let mut start = String::new();
        loop {
            let rows = self.rotation_policies.scan::<RotationPolicy>("", &start, 200).await?;
            let Some((last, _)) = rows.last() else { return Ok(rotated) };
            start = format!("{last}\0");
            for (k, policy) in rows {
                let Some(action) = policy.lifetime_actions.iter().find(|a| a.action == ActionType::Rotate) else {
                    continue;
                };
                let Some((vault, _)) = k.split_once('/') else { continue };
                // The head holds the latest version's dates; a deleted key has no live head.
                let Some(head) =
                    self.store.raw().heads.get::<crate::records::HeadRec<serde::de::IgnoredAny>>(&k).await?
                else {
                    continue;
                };
                // Checked arithmetic: a policy stored before durations were bounded (or any
                // sum out of range) is never due, and does not stop the other keys' rotation.
                let after = |d: &String| parse_duration(d).ok();
                let due = match (&action.time_after_create, &action.time_before_expiry, head.latest.exp) {
                    (Some(d), _, _) => {
                        after(d).and_then(|d| head.latest.created.checked_add(d)).is_some_and(|t| t <= now)
                    }
                    (None, Some(d), Some(exp)) => after(d).and_then(|d| exp.checked_sub(d)).is_some_and(|t| t <= now),
                    _ => false,
                };
                if due {
                    self.rotate(vault, &head.name).await?;
                    tracing::info!(vault = %vault, key = %head.name, "rotated key by policy");
                    rotated += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("P90D").unwrap(), 90 * 86_400);
        assert_eq!(parse_duration("P1Y").unwrap(), 365 * 86_400);
        assert_eq!(
            parse_duration("P1Y2M3DT4H5M6S").unwrap(),
            365 * 86_400 + 60 * 86_400 + 3 * 86_400 + 4 * 3600 + 5 * 60 + 6
        );
        assert_eq!(parse_duration("P2W").unwrap(), 14 * 86_400);
        assert_eq!(parse_duration("PT36H").unwrap(), 36 * 3600);
        assert_eq!(parse_duration("PT253402300799S").unwrap(), super::MAX_DURATION);
        for bad in [
            "",
            "P",
            "90D",
            "PT",
            "P1X",
            "P1",
            "PD",
            "P-1D",
            "P99999999999999999999D",
            "PT9223372036000000000S",
            "PT253402300800S",
            "P8100Y",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
