use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds since the Unix epoch: the unit of every timestamp on the Key Vault wire.
pub type UnixTime = i64;

/// The only source of wall-clock time. Injected so expiry, retention and purge are testable.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixTime;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one sanctioned wall-clock read
    fn now(&self) -> UnixTime {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

/// The system clock plus an offset that only moves forward: `strongbox server --dev`'s clock,
/// so tests can make expiry, purge, rotation and renewal come due without waiting.
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock(Arc<AtomicI64>);

impl ShiftedClock {
    /// Moves the clock forward by `secs` (more than 0); returns the whole offset.
    pub fn shift(&self, secs: i64) -> i64 {
        let secs = secs.max(0);
        self.0.fetch_add(secs, Ordering::SeqCst).saturating_add(secs)
    }
    /// Seconds the clock is ahead of the system clock.
    pub fn offset(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> UnixTime {
        SystemClock.now().saturating_add(self.offset())
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone)]
pub struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    pub fn new(start: UnixTime) -> Self {
        Self(Arc::new(AtomicI64::new(start)))
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
    pub fn set(&self, t: UnixTime) {
        self.0.store(t, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> UnixTime {
        self.0.load(Ordering::SeqCst)
    }
}
