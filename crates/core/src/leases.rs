//! Leases: which node of a deployment runs each background job.
//!
//! A lease is one record (`sys/lease/{job}`) naming its holder, a term that grows by one at every
//! handover, and an expiry. The holder renews it every [`RENEW_EVERY`]; any node may take it over
//! once it has expired ([`LEASE_TTL`] after the last renewal), so a dead holder's job moves to
//! another node within `LEASE_TTL + RENEW_EVERY` (20 s). A node that stops cleanly gives its
//! leases up at once.
//!
//! Every write and every take-over is a compare-and-set on the record, so two nodes can never both
//! believe they won the same term. Fencing: the job runs inside [`Barrier::fenced`] with the
//! record as this node last wrote it, so each of its commits also requires that record unchanged,
//! atomically with its writes. A holder that was paused past its expiry (GC, swap, a stalled
//! disk) and lost the lease therefore cannot commit anything afterwards, even if it has not yet
//! noticed. Clocks only decide *when* a lease may be taken over; skew between nodes can shorten
//! or lengthen that wait, never let two holders write.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strongbox_barrier::keyspace::LEASES;
use strongbox_barrier::{BTxn, Barrier, Fence, View};
use strongbox_types::{Clock, ErrorKind, Result};

/// Seconds after its last renewal that a lease may be taken over.
pub const LEASE_TTL: i64 = 15;
/// How often a holder renews (and a follower checks whether it may take over).
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

#[derive(Serialize, Deserialize, Clone)]
struct LeaseRec {
    /// The holder's node id (unique per process start).
    holder: String,
    /// The holder's node name, for people.
    holder_name: String,
    term: u64,
    acquired: i64,
    expires: i64,
}

/// One lease as the health endpoint shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseStatus {
    pub name: String,
    pub holder: String,
    pub holder_name: String,
    pub term: u64,
    /// When it was taken by its holder, and until when it holds without renewal (Unix seconds).
    pub acquired: i64,
    pub expires: i64,
    pub held_by_this_node: bool,
}

/// This node's view of the deployment's leases.
pub struct Leases {
    view: View,
    clock: Arc<dyn Clock>,
    node_id: String,
    node_name: String,
    /// Terms this node holds, by lease name.
    held: Mutex<BTreeMap<String, u64>>,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases").field("node_id", &self.node_id).finish_non_exhaustive()
    }
}

impl Leases {
    /// `node_name` is for people (a host name); the node id adds a random part so that two
    /// processes with one name never share a lease.
    pub fn new(barrier: Arc<Barrier>, clock: Arc<dyn Clock>, node_name: &str) -> Result<Self> {
        let random = strongbox_crypto::random_array::<6>()?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            view: View::new(barrier, LEASES),
            clock,
            node_id: format!("{node_name}/{suffix}"),
            node_name: node_name.to_owned(),
            held: Mutex::new(BTreeMap::new()),
        })
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    fn set_held(&self, name: &str, term: Option<u64>) {
        if let Ok(mut h) = self.held.lock() {
            match term {
                Some(t) => h.insert(name.to_owned(), t),
                None => h.remove(name),
            };
        }
    }

    /// Renews `name` when this node holds it, takes it when it is free or expired. Returns the
    /// fence to run the job under while this node holds it, `None` while another node does.
    pub async fn hold(&self, name: &str) -> Result<Option<Fence>> {
        let now = self.clock.now();
        let current = self.view.get_versioned::<LeaseRec>(name).await?;
        let (txn, rec) = match current {
            None => {
                let rec = self.record(1, now, now);
                (self.view.absent(BTxn::new(), name), rec)
            }
            Some((mut rec, stamp)) if rec.holder == self.node_id => {
                rec.expires = now.saturating_add(LEASE_TTL);
                (self.view.unchanged(BTxn::new(), name, &stamp), rec)
            }
            Some((rec, stamp)) if rec.expires <= now => {
                let next = self.record(rec.term.saturating_add(1), now, now);
                tracing::info!(lease = name, from = %rec.holder, term = next.term, "taking over an expired lease");
                (self.view.unchanged(BTxn::new(), name, &stamp), next)
            }
            Some(_) => {
                self.set_held(name, None);
                return Ok(None);
            }
        };
        let term = rec.term;
        match self.view.commit(self.view.put(txn, name, &rec)?).await {
            Ok(()) => {}
            Err(e) if e.kind == ErrorKind::Conflict => {
                self.set_held(name, None);
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        // The fence is the record exactly as stored, so read it back.
        let Some((stored, stamp)) = self.view.get_versioned::<LeaseRec>(name).await? else {
            self.set_held(name, None);
            return Ok(None);
        };
        if stored.holder != self.node_id || stored.term != term {
            self.set_held(name, None);
            return Ok(None);
        }
        let newly = self.held.lock().map(|h| h.get(name) != Some(&term)).unwrap_or(true);
        if newly {
            tracing::info!(lease = name, term, node = %self.node_id, "this node now holds the lease");
        }
        self.set_held(name, Some(term));
        Ok(Some(Fence::new(self.view.key(name), stamp)))
    }

    fn record(&self, term: u64, acquired: i64, now: i64) -> LeaseRec {
        LeaseRec {
            holder: self.node_id.clone(),
            holder_name: self.node_name.clone(),
            term,
            acquired,
            expires: now.saturating_add(LEASE_TTL),
        }
    }

    /// Gives up every lease this node holds (a clean stop), so another node takes over at its
    /// next check instead of after the expiry.
    pub async fn release_all(&self) {
        let names: Vec<String> = self.held.lock().map(|h| h.keys().cloned().collect()).unwrap_or_default();
        for name in names {
            let released = self
                .view
                .update(
                    &name,
                    || strongbox_types::Error::internal("lease busy"),
                    |rec: Option<LeaseRec>| match rec {
                        Some(mut r) if r.holder == self.node_id => {
                            r.expires = 0;
                            Ok(strongbox_barrier::Change::Put(r, ()))
                        }
                        _ => Ok(strongbox_barrier::Change::Keep(())),
                    },
                )
                .await;
            match released {
                Ok(()) => tracing::info!(lease = %name, "released the lease"),
                Err(e) => {
                    tracing::warn!(lease = %name, error = %e, "could not release the lease; it expires by itself")
                }
            }
            self.set_held(&name, None);
        }
    }

    /// Every lease of the deployment, as stored.
    pub async fn status(&self) -> Result<Vec<LeaseStatus>> {
        let recs = self.view.scan_all::<LeaseRec>("").await?;
        Ok(recs
            .into_iter()
            .map(|(name, r)| LeaseStatus {
                held_by_this_node: r.holder == self.node_id && r.expires > self.clock.now(),
                name,
                holder: r.holder,
                holder_name: r.holder_name,
                term: r.term,
                acquired: r.acquired,
                expires: r.expires,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use strongbox_barrier::Barrier;
    use strongbox_storage::MemoryStorage;
    use strongbox_types::FakeClock;

    use super::*;

    async fn barrier() -> Arc<Barrier> {
        let b = Arc::new(Barrier::new(Arc::new(MemoryStorage::new())));
        let kek = strongbox_crypto::random_key().unwrap();
        b.initialize(&kek).await.unwrap();
        b.unseal(&kek).await.unwrap();
        b
    }

    #[tokio::test]
    async fn one_holder_at_a_time_and_fenced_writes_stop_after_a_takeover() {
        let b = barrier().await;
        let clock = Arc::new(FakeClock::new(1_000));
        let a = Leases::new(b.clone(), clock.clone(), "a").unwrap();
        let c = Leases::new(b.clone(), clock.clone(), "a").unwrap();
        assert_ne!(a.node_id(), c.node_id(), "one name, two processes: two ids");

        let fence_a = a.hold("jobs").await.unwrap().expect("a free lease is taken");
        assert!(c.hold("jobs").await.unwrap().is_none(), "held and not expired: not taken");
        let data = View::new(b.clone(), strongbox_barrier::keyspace::VAULTS);
        Barrier::fenced(fence_a.clone(), data.commit(data.put_bytes(BTxn::new(), "x", b"1".to_vec())))
            .await
            .expect("the holder writes");

        // a renews; its old fence (the record before renewal) no longer matches
        clock.advance(LEASE_TTL - 1);
        let fence_a2 = a.hold("jobs").await.unwrap().expect("renewed");
        assert!(c.hold("jobs").await.unwrap().is_none(), "renewed: still not taken");

        // a stops renewing; after the expiry c takes over with the next term
        clock.advance(LEASE_TTL);
        let fence_c = c.hold("jobs").await.unwrap().expect("expired: taken over");
        let st = c.status().await.unwrap();
        assert_eq!(st.len(), 1);
        assert_eq!((st[0].term, st[0].holder.as_str(), st[0].held_by_this_node), (2, c.node_id(), true));

        // a's late write is refused, and says why; nothing was written
        let late = Barrier::fenced(fence_a2, data.commit(data.put_bytes(BTxn::new(), "x", b"late".to_vec())))
            .await
            .expect_err("a lost the lease");
        assert!(late.message.contains("no longer holds the lease"), "{late}");
        assert_eq!(data.get_bytes("x").await.unwrap().unwrap().expose(), b"1");
        Barrier::fenced(fence_c, data.commit(data.put_bytes(BTxn::new(), "x", b"2".to_vec()))).await.unwrap();
        assert!(a.hold("jobs").await.unwrap().is_none(), "a sees c's lease");

        // a clean stop hands over at once
        c.release_all().await;
        assert!(a.hold("jobs").await.unwrap().is_some(), "released: taken at the next check");
        assert_eq!(a.status().await.unwrap()[0].term, 3);
    }
}
