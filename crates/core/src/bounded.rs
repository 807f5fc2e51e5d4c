//! Expensive synchronous work (certificate import parsing, HSM device operations) run on the
//! blocking pool under a concurrency limit.

use std::sync::Arc;

use strongbox_types::{Error, Result};

/// Runs `work` on the blocking pool once one of `permits` is free. The permit moves into the
/// blocking work, so a caller that goes away (a client reset drops the request future) keeps its
/// slot until the work has really ended. `interrupted` is the internal error's message when the
/// pool or the semaphore is gone.
pub(crate) async fn run_bounded<T: Send + 'static>(
    permits: &Arc<tokio::sync::Semaphore>,
    interrupted: &'static str,
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let permit = permits.clone().acquire_owned().await.map_err(|_| Error::internal(interrupted))?;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        work()
    })
    .await
    .map_err(|_| Error::internal(interrupted))?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_that_goes_away_keeps_its_slot_until_the_work_ends() {
        let permits = Arc::new(tokio::sync::Semaphore::new(2));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let p = permits.clone();
        let caller = tokio::spawn(async move {
            run_bounded(&p, "interrupted", move || {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
                Ok(())
            })
            .await
        });
        started_rx.await.unwrap();
        assert_eq!(permits.available_permits(), 1);
        // The client resets: the request future is dropped, the blocking work keeps running.
        caller.abort();
        let _ = caller.await;
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(permits.available_permits(), 1, "the slot was freed while the work still runs");
        release_tx.send(()).unwrap();
        for _ in 0..200 {
            if permits.available_permits() == 2 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the slot was not given back after the work ended");
    }
}
