//! Server transactions (RFC 3261 §17.2 as updated by RFC 6026).
//!
//! INVITE server transaction:
//!
//! ```text
//!                                |INVITE
//!                                |pass INV to TU
//!             INVITE             V send 100 Trying
//!             send response+-----------+
//!                 +--------|           |--------+ 101-199 from TU
//!                 |        |Proceeding |        | send response
//!                 +------->|           |<-------+
//!                          +-----------+
//!             300-699 from TU |     |2xx from TU
//!             send response   |     |send response
//!              +--------------+     +------------+
//!              |                                 |
//!     INVITE   V          Timer G fires          |
//!     send  +-----------+ send response          |
//!     resp  |           |------+                 |
//!      +----| Completed |      |                 V
//!      +--->|           |<-----+          +-----------+
//!           +-----------+                 | Accepted  |---+ 2xx from TU
//!              |     |  Timer H fires     |           |   | send response
//!          ACK |     +------------------->+-----------+<--+ ACK: to TU
//!              V        inform TU               |
//!           +-----------+                        | Timer L
//!           | Confirmed |                        |
//!           +-----------+                        |
//!                 | Timer I                      |
//!                 V                              V
//!           +--------------------------------------------+
//!           |                 Terminated                 |
//!           +--------------------------------------------+
//! ```
//!
//! Non-INVITE server transaction: Trying -(1xx from TU)-> Proceeding
//! -(final from TU)-> Completed -(Timer J)-> Terminated; request
//! retransmissions get the last response again.

use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::Transmit;

use super::timer::{Timer, TimerTable};
use super::{Outputs, ReplyPath, TransactionConfig, TransactionEvent, TransactionId};
use crate::message::{Method, Request, Response, StatusCode};

/// States of a server transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    /// Non-INVITE received, no response yet.
    Trying,
    /// A provisional response was sent (INVITE: from the start).
    Proceeding,
    /// A final response was sent (non-2xx for INVITE); retransmitting it.
    Completed,
    /// The ACK for a non-2xx final arrived; absorbing ACK retransmissions.
    Confirmed,
    /// A 2xx was sent to INVITE (RFC 6026); ACKs go to the TU.
    Accepted,
    /// Done.
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ServerTransaction {
    pub(crate) id: TransactionId,
    invite: bool,
    pub(crate) request: Request,
    pub(crate) path: ReplyPath,
    pub(crate) state: ServerState,
    pub(crate) timers: TimerTable,
    interval: Duration,
    last_response: Option<Bytes>,
}

impl ServerTransaction {
    pub(crate) fn start(
        id: TransactionId,
        request: Request,
        path: ReplyPath,
        config: &TransactionConfig,
        out: &mut Outputs,
        trying: Option<Response>,
    ) -> Self {
        let invite = request.method == Method::Invite;
        let mut t = Self {
            id,
            invite,
            request,
            path,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            timers: TimerTable::default(),
            interval: config.t1,
            last_response: None,
        };
        if let Some(trying) = trying {
            let bytes = trying.to_bytes();
            t.send(out, bytes.clone());
            t.last_response = Some(bytes);
        }
        t
    }

    fn send(&self, out: &mut Outputs, contents: Bytes) {
        out.transmits.push_back(Transmit {
            protocol: self.path.protocol,
            source: Some(self.path.local),
            destination: self.path.remote,
            connection: self.path.connection,
            contents,
        });
    }

    /// The TU sends a response.
    pub(crate) fn send_response(
        &mut self,
        now: Instant,
        response: &Response,
        config: &TransactionConfig,
        out: &mut Outputs,
    ) -> bool {
        let status = response.status;
        let reliable = self.path.protocol.is_reliable();
        let bytes = response.to_bytes();
        match (self.state, self.invite) {
            (ServerState::Proceeding, true) => {
                self.send(out, bytes.clone());
                self.last_response = Some(bytes);
                if status.is_success() {
                    self.state = ServerState::Accepted;
                    self.timers.set(Timer::L, now + config.t1 * 64);
                } else if status.is_final() {
                    self.state = ServerState::Completed;
                    if !reliable {
                        self.timers.set(Timer::G, now + config.t1);
                    }
                    self.timers.set(Timer::H, now + config.t1 * 64);
                }
                true
            }
            (ServerState::Accepted, true) if status.is_success() => {
                // 2xx retransmissions from the TU (RFC 6026 §7.1)
                self.send(out, bytes);
                true
            }
            (ServerState::Trying | ServerState::Proceeding, false) => {
                self.send(out, bytes.clone());
                self.last_response = Some(bytes);
                if status.is_final() {
                    self.state = ServerState::Completed;
                    self.timers.set(
                        Timer::J,
                        now + if reliable {
                            Duration::ZERO
                        } else {
                            config.t1 * 64
                        },
                    );
                } else {
                    self.state = ServerState::Proceeding;
                }
                true
            }
            _ => false,
        }
    }

    /// A retransmission of the request, or an ACK matching this INVITE.
    pub(crate) fn handle_request(
        &mut self,
        now: Instant,
        request: Request,
        config: &TransactionConfig,
        out: &mut Outputs,
    ) {
        let reliable = self.path.protocol.is_reliable();
        if request.method == Method::Ack {
            match self.state {
                ServerState::Completed => {
                    self.state = ServerState::Confirmed;
                    self.timers.stop(Timer::G);
                    self.timers.stop(Timer::H);
                    self.timers.set(
                        Timer::I,
                        now + if reliable { Duration::ZERO } else { config.t4 },
                    );
                }
                ServerState::Accepted => out.events.push_back(TransactionEvent::Ack {
                    request,
                    path: self.path,
                }),
                _ => {}
            }
            return;
        }
        match self.state {
            ServerState::Proceeding | ServerState::Completed => {
                if let Some(r) = self.last_response.clone() {
                    self.send(out, r);
                }
            }
            _ => {}
        }
    }

    pub(crate) fn handle_timer(
        &mut self,
        now: Instant,
        timer: Timer,
        config: &TransactionConfig,
        out: &mut Outputs,
    ) {
        match timer {
            Timer::G if self.state == ServerState::Completed => {
                self.interval = (self.interval * 2).min(config.t2);
                self.timers.set(Timer::G, now + self.interval);
                if let Some(r) = self.last_response.clone() {
                    self.send(out, r);
                }
            }
            Timer::H => {
                self.terminate();
                out.events
                    .push_back(TransactionEvent::Timeout { id: self.id });
            }
            Timer::I | Timer::J | Timer::L => self.terminate(),
            _ => {}
        }
    }

    pub(crate) fn handle_transport_error(&mut self, out: &mut Outputs) {
        if self.state != ServerState::Terminated {
            self.terminate();
            out.events
                .push_back(TransactionEvent::TransportError { id: self.id });
        }
    }

    fn terminate(&mut self) {
        self.state = ServerState::Terminated;
        self.timers.stop_all();
    }

    pub(crate) fn last_status(&self) -> Option<StatusCode> {
        let b = self.last_response.as_ref()?;
        let code = b.get(8..11)?;
        let n = std::str::from_utf8(code).ok()?.parse().ok()?;
        StatusCode::new(n)
    }
}
