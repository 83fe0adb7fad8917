//! The seam between the call router and wherever call records go: the
//! CDR writer ([`super::cdr`]) works on any [`CallStore`]. [`Store`]
//! (SQLite by default, PostgreSQL with `--db-url`) is the one the server
//! ships; an embedding application can put its own behind the trait (a
//! message queue, another database), as long as writes are idempotent.

use std::future::Future;
use std::time::SystemTime;

use super::{Store, StoreError};
use crate::sip::calls::CallEvent;

/// Where call events become call records (`call_logs`, `active_calls`).
///
/// Every method may be retried after a failure or an ambiguous answer, so
/// each must be idempotent: the same event twice changes nothing.
pub trait CallStore: Clone + Send + Sync + 'static {
    /// Applies one event written by server run `run`.
    fn record(
        &self,
        run: &str,
        event: &CallEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// At start-up: closes the calls earlier runs left open (a crash or a
    /// SIGKILL) as `interrupted`; returns how many.
    fn reconcile_startup(
        &self,
        run: &str,
        now: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Closes calls without an end that started before `older_than` (a
    /// BYE that never came); returns how many.
    fn reconcile_stale(
        &self,
        older_than: SystemTime,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl CallStore for Store {
    async fn record(&self, run: &str, event: &CallEvent) -> Result<(), StoreError> {
        Store::record(self, run, event).await
    }

    async fn reconcile_startup(&self, run: &str, now: SystemTime) -> Result<u64, StoreError> {
        Store::reconcile_startup(self, run, now).await
    }

    async fn reconcile_stale(&self, older_than: SystemTime) -> Result<u64, StoreError> {
        Store::reconcile_stale(self, older_than).await
    }
}
