//! The CDR writer: one task that applies the SIP core's call events to the
//! store in order. A failed write is retried (with backoff) until it lands,
//! so a database hiccup delays CDRs but loses none; every write is
//! idempotent, so a retry after an ambiguous failure is harmless.

use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::CallStore;
use crate::sip::calls::CallEvent;

/// Answered calls with no BYE for this long are closed as `interrupted`.
pub const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// How often the stale sweep runs.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Sends call events to the writer. Dropping every sender stops the writer
/// once it has written what it was given.
pub type CdrSender = mpsc::UnboundedSender<CallEvent>;

/// Starts the writer for server run `run` (a token unique to this start).
pub fn spawn<S: CallStore>(store: S, run: String) -> (CdrSender, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(write_loop(store, run, rx));
    (tx, task)
}

async fn write_loop<S: CallStore>(
    store: S,
    run: String,
    mut rx: mpsc::UnboundedReceiver<CallEvent>,
) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            event = rx.recv() => {
                let Some(event) = event else { break };
                write_until_done(&store, &run, &event).await;
            }
            _ = sweep.tick() => {
                if let Some(before) = SystemTime::now().checked_sub(STALE_AFTER) {
                    match store.reconcile_stale(before).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(calls = n, "closed calls without BYE as interrupted"),
                        Err(error) => tracing::warn!(%error, "stale call sweep failed"),
                    }
                }
            }
        }
    }
}

async fn write_until_done<S: CallStore>(store: &S, run: &str, event: &CallEvent) {
    let mut backoff = Duration::from_millis(100);
    loop {
        match store.record(run, event).await {
            Ok(()) => {
                metrics::counter!("voip_cdr_events_written_total").increment(1);
                return;
            }
            Err(error) => {
                metrics::counter!("voip_cdr_write_errors_total").increment(1);
                tracing::warn!(call_id = event.call_id(), %error, "CDR write failed; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::store::StoreError;

    /// A store whose first `failures` writes fail, then records in memory.
    #[derive(Clone, Default)]
    struct Flaky {
        failures: Arc<Mutex<u32>>,
        written: Arc<Mutex<Vec<String>>>,
    }

    impl CallStore for Flaky {
        async fn record(&self, _run: &str, event: &CallEvent) -> Result<(), StoreError> {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(StoreError::BadRow("database away".into()));
            }
            self.written
                .lock()
                .unwrap()
                .push(event.call_id().to_owned());
            Ok(())
        }

        async fn reconcile_startup(&self, _run: &str, _now: SystemTime) -> Result<u64, StoreError> {
            Ok(0)
        }

        async fn reconcile_stale(&self, _older_than: SystemTime) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn a_failing_store_delays_records_but_loses_none_and_keeps_order() {
        let store = Flaky::default();
        *store.failures.lock().unwrap() = 2;
        let (tx, task) = spawn(store.clone(), "run".into());
        for id in ["a", "b", "c"] {
            tx.send(CallEvent::Answered {
                call_id: id.into(),
                at: SystemTime::now(),
            })
            .unwrap();
        }
        // dropping the sender: the writer finishes what it has, then stops
        drop(tx);
        task.await.unwrap();
        assert_eq!(*store.written.lock().unwrap(), ["a", "b", "c"]);
    }
}
