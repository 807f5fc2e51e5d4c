//! Security events: sign-ins, credential changes, role activations. Each event is written as a
//! structured `tracing` record on the `strongbox::security` target and kept, sealed like every
//! other record, under `events/sec/`, so tests and operators can list them. The audit issue
//! will replace this sink with the tamper-evident log; callers only use [`SecurityLog::record`].
//!
//! An event never carries a credential, assertion, token or secret value: only ids, names and
//! a stable reason code.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strongbox_barrier::{BTxn, View};
use strongbox_types::{Clock, Result};

/// One recorded security event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEvent {
    /// Seconds since the epoch.
    pub time: i64,
    /// What happened, e.g. `signin`, `credential.reset`, `role.activate`.
    pub kind: String,
    /// `success` or `failure`.
    pub outcome: String,
    /// Who acted or tried to (object id or client id; may be empty for unknown callers).
    pub actor: String,
    /// What it acted on, if anything (principal, role, scope, request id).
    pub target: String,
    /// A stable reason or detail code (an AADSTS code, a policy name). Never a credential.
    pub detail: String,
}

impl SecurityEvent {
    pub fn new(kind: &str, outcome: &str, actor: &str, target: &str, detail: &str) -> Self {
        Self {
            time: 0,
            kind: kind.to_owned(),
            outcome: outcome.to_owned(),
            actor: actor.to_owned(),
            target: target.to_owned(),
            detail: detail.to_owned(),
        }
    }
}

/// The security event log: a sink every service records its events in.
#[derive(Clone)]
pub struct SecurityLog {
    view: View,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SecurityLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecurityLog").field("view", &self.view).finish_non_exhaustive()
    }
}

impl SecurityLog {
    /// The log kept in `view` (the `SECURITY_EVENTS` area), with event times from `clock`.
    pub fn new(view: View, clock: Arc<dyn Clock>) -> Self {
        Self { view, clock }
    }

    /// Records `ev` (its time is set here). A failure to persist is logged and swallowed: a
    /// sign-in must not fail because the event store is unavailable.
    pub async fn record(&self, mut ev: SecurityEvent) {
        ev.time = self.clock.now();
        tracing::info!(
            target: "strongbox::security",
            kind = %ev.kind,
            outcome = %ev.outcome,
            actor = %ev.actor,
            target_id = %ev.target,
            detail = %ev.detail,
            "security event"
        );
        let id = match strongbox_crypto::random_array::<8>() {
            Ok(r) => strongbox_crypto::hex(&r),
            Err(_) => return,
        };
        let rel = format!("{:016x}-{id}", ev.time.max(0));
        let stored = match self.view.put(BTxn::new(), &rel, &ev) {
            Ok(txn) => self.view.commit(txn).await,
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            tracing::warn!(kind = %ev.kind, error = %e.message, "security event not persisted");
        }
    }

    /// Events at or after `since` (oldest first), at most `limit`.
    pub async fn list(&self, since: i64, limit: usize) -> Result<Vec<SecurityEvent>> {
        let start = format!("{:016x}", since.max(0));
        Ok(self.view.scan("", &start, limit).await?.into_iter().map(|(_, ev)| ev).collect())
    }
}
