//! Keeps the `agents` table current: one writer task applies the IVR's
//! agent rows in order (status online, offline or busy; current and total
//! calls; when the last call ended).

use std::time::SystemTime;

use tokio::sync::mpsc;

use crate::store::Store;

/// One `agents` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRow {
    /// The extension.
    pub extension: String,
    /// The display name (the extension when none is configured).
    pub name: String,
    /// online, offline or busy.
    pub status: String,
    /// Calls it is in.
    pub current_calls: i64,
    /// Calls it answered.
    pub total_calls: i64,
    /// When its last call ended.
    pub last_call_end: Option<SystemTime>,
}

/// The IVR's end of the writer.
#[derive(Debug, Clone)]
pub struct AgentWriter {
    tx: mpsc::UnboundedSender<AgentRow>,
}

impl AgentWriter {
    /// Queues a row; a stopped writer drops it.
    pub fn send(&self, row: AgentRow) {
        let _ = self.tx.send(row);
    }

    /// Starts the writer on `store`.
    pub fn spawn(store: Store) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<AgentRow>();
        tokio::spawn(async move {
            while let Some(row) = rx.recv().await {
                if let Err(error) = store.upsert_agent(&row).await {
                    tracing::warn!(%error, extension = %row.extension, "agents row not written");
                }
            }
        });
        Self { tx }
    }
}
