//! The CDR writer: one task that applies the SIP core's call events to the
//! store in order. A failed write is retried (with backoff) until it lands,
//! so a database hiccup delays CDRs but loses none; every write is
//! idempotent, so a retry after an ambiguous failure is harmless.

use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Store;
use crate::sip::calls::CallEvent;

/// Answered calls with no BYE for this long are closed as `interrupted`.
pub const STALE_AFTER: Duration = Duration::from_secs(6 * 3600);

/// How often the stale sweep runs.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Sends call events to the writer. Dropping every sender stops the writer
/// once it has written what it was given.
pub type CdrSender = mpsc::UnboundedSender<CallEvent>;

/// Starts the writer for server run `run` (a token unique to this start).
pub fn spawn(store: Store, run: String) -> (CdrSender, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(write_loop(store, run, rx));
    (tx, task)
}

async fn write_loop(store: Store, run: String, mut rx: mpsc::UnboundedReceiver<CallEvent>) {
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

async fn write_until_done(store: &Store, run: &str, event: &CallEvent) {
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
