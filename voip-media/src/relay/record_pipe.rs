//! The driver's path from the core's recording tap to the disk: a thread
//! runs a [`RecordingWriter`]; the core task hands it messages through a
//! bounded channel without ever waiting on it.
//!
//! ```text
//! core task: poll_recording() ─► backlog ─(try_send)─► sync_channel(1024) ─► "relay-recorder" thread ─► RecordingWriter ─► WAV files
//! ```
//!
//! When the thread falls behind (a slow disk) the backlog grows to
//! [`MAX_BACKLOG`] messages; past that, frames are dropped (never the
//! open/stop messages) and counted. The assembler turns the missing frames
//! into silence, so the recording stays in time.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};

use tokio::sync::oneshot;

use super::record::RecordingEvent;
use super::record_writer::{RecordingOptions, RecordingWriter};
use crate::audio::WavError;

/// Messages in the channel to the thread.
const CHANNEL: usize = 1024;
/// Messages the core task keeps when the channel is full (≈ 40 s of one
/// call's two legs at 50 packets/s).
pub(crate) const MAX_BACKLOG: usize = 4096;

pub(crate) enum ToWriter {
    Open {
        call: Arc<str>,
        path: PathBuf,
        options: RecordingOptions,
        reply: oneshot::Sender<Result<(), WavError>>,
    },
    Event(RecordingEvent),
}

/// The core task's end of the pipe.
#[derive(Default)]
pub(crate) struct RecordingPipe {
    tx: Option<SyncSender<ToWriter>>,
    backlog: VecDeque<ToWriter>,
    pub(crate) dropped: u64,
}

impl RecordingPipe {
    /// Queues a message (the thread starts with the first).
    pub(crate) fn push(&mut self, msg: ToWriter) {
        if self.tx.is_none() {
            let (tx, rx) = sync_channel(CHANNEL);
            let spawned = std::thread::Builder::new()
                .name("relay-recorder".into())
                .spawn(move || run(rx));
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "cannot start the recording thread");
                if let ToWriter::Open { reply, .. } = msg {
                    let _ = reply.send(Err(WavError::Io(e)));
                }
                return;
            }
            self.tx = Some(tx);
        }
        if self.backlog.len() >= MAX_BACKLOG
            && matches!(msg, ToWriter::Event(RecordingEvent::Frame(_)))
        {
            self.dropped += 1;
            return;
        }
        self.backlog.push_back(msg);
    }

    /// Hands the backlog to the thread until its channel is full; `true`
    /// when something is left for later.
    pub(crate) fn pump(&mut self) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        while let Some(msg) = self.backlog.pop_front() {
            match tx.try_send(msg) {
                Ok(()) => {}
                Err(TrySendError::Full(msg)) => {
                    self.backlog.push_front(msg);
                    return true;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.backlog.clear();
                    self.tx = None;
                    return false;
                }
            }
        }
        false
    }
}

fn run(rx: Receiver<ToWriter>) {
    let mut writer = RecordingWriter::new();
    for msg in rx {
        match msg {
            ToWriter::Open {
                call,
                path,
                options,
                reply,
            } => {
                let result = writer.open(call.clone(), &path, options);
                if let Err(e) = &result {
                    tracing::warn!(call_id = %call, path = %path.display(), error = %e, "recording not started");
                }
                let _ = reply.send(result);
            }
            ToWriter::Event(event) => {
                if let Some(done) = writer.handle(event) {
                    match &done.error {
                        None => tracing::debug!(
                            call_id = %done.call,
                            path = %done.path.display(),
                            samples = done.samples,
                            "recording finished"
                        ),
                        Some(e) => tracing::warn!(
                            call_id = %done.call,
                            path = %done.path.display(),
                            error = %e,
                            "recording finished with a write error"
                        ),
                    }
                }
            }
        }
    }
    // The driver ended: finish what is still open.
    for done in writer.finish_all() {
        tracing::debug!(call_id = %done.call, path = %done.path.display(), "recording finished at shutdown");
    }
}
