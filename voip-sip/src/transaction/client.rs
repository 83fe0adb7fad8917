//! Client transactions (RFC 3261 §17.1 as updated by RFC 6026).
//!
//! INVITE client transaction:
//!
//! ```text
//!                      |INVITE from TU
//!    Timer A fires     |INVITE sent         Timer B fires
//!    Reset A,          V                    or Transport Err.
//!    INVITE sent +-----------+              inform TU
//!      +---------|  Calling  |----------------------------+
//!      |         +-----------+ 2xx                        |
//!      +-------->  |   |       2xx to TU                  |
//!                  |   |1xx                               |
//!   300-699        |   |1xx to TU          +-----------+  |
//!   ACK sent       |   +------------------>|Proceeding |  |
//!   resp. to TU    |                       +-----------+  |
//!                  |     300-699  |  | 1xx to TU |  2xx   |
//!                  |   ACK sent,  |  +-----------+  to TU |
//!                  |   resp to TU V                 |     |
//!                  |   +-----------+   +-----------+|     |
//!                  +-->| Completed |   |  Accepted |<+    |
//!                      +-----------+   +-----------+      |
//!         300-699 ACK sent | Timer D     2xx to TU |      |
//!                          V               Timer M V      |
//!                      +----------------------------+     |
//!                      |         Terminated         |<----+
//!                      +----------------------------+
//! ```
//!
//! Non-INVITE client transaction: Trying -(1xx)-> Proceeding -(final)->
//! Completed -(Timer K)-> Terminated; Timer E retransmits (T1 doubling to
//! T2), Timer F times out.

use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::Transmit;

use super::timer::{Timer, TimerTable};
use super::{Outputs, Target, TransactionConfig, TransactionEvent, TransactionId};
use crate::header::{CSeq, Route, TypedHeader};
use crate::message::{Known, Method, Request, Response};

/// States of a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientState {
    /// INVITE sent, nothing heard.
    Calling,
    /// Non-INVITE sent, nothing heard.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final non-2xx (INVITE) or any final (non-INVITE) arrived; absorbing
    /// retransmissions.
    Completed,
    /// A 2xx to INVITE arrived; passing 2xx retransmissions up (RFC 6026).
    Accepted,
    /// Done.
    Terminated,
}

#[derive(Debug)]
pub(crate) struct ClientTransaction {
    pub(crate) id: TransactionId,
    invite: bool,
    request: Request,
    encoded: Bytes,
    target: Target,
    pub(crate) state: ClientState,
    pub(crate) timers: TimerTable,
    interval: Duration,
    ack: Option<Bytes>,
}

impl ClientTransaction {
    pub(crate) fn start(
        id: TransactionId,
        request: Request,
        target: Target,
        now: Instant,
        config: &TransactionConfig,
        out: &mut Outputs,
    ) -> Self {
        let invite = request.method == Method::Invite;
        let encoded = request.to_bytes();
        let mut t = Self {
            id,
            invite,
            request,
            encoded,
            target,
            state: if invite {
                ClientState::Calling
            } else {
                ClientState::Trying
            },
            timers: TimerTable::default(),
            interval: config.t1,
            ack: None,
        };
        let reliable = t.target.protocol.is_reliable();
        if invite {
            if !reliable {
                t.timers.set(Timer::A, now + config.t1);
            }
            t.timers.set(Timer::B, now + config.t1 * 64);
        } else {
            if !reliable {
                t.timers.set(Timer::E, now + config.t1);
            }
            t.timers.set(Timer::F, now + config.t1 * 64);
        }
        t.send(out, t.encoded.clone());
        t
    }

    fn send(&self, out: &mut Outputs, contents: Bytes) {
        out.transmits.push_back(Transmit {
            protocol: self.target.protocol,
            source: None,
            destination: self.target.destination,
            connection: self.target.connection,
            contents,
        });
    }

    pub(crate) fn handle_response(
        &mut self,
        now: Instant,
        response: Response,
        config: &TransactionConfig,
        out: &mut Outputs,
    ) {
        let status = response.status;
        let reliable = self.target.protocol.is_reliable();
        let to_tu = TransactionEvent::Response {
            id: self.id,
            response: response.clone(),
        };
        match (self.state, self.invite) {
            (ClientState::Calling | ClientState::Proceeding, true) => {
                if status.is_provisional() {
                    self.state = ClientState::Proceeding;
                    self.timers.stop(Timer::A);
                    // RFC 3261 leaves Timer B to the Calling state: a call
                    // that rings has no transaction timeout (Timer C is the
                    // proxy's business).
                    self.timers.stop(Timer::B);
                    out.events.push_back(to_tu);
                } else if status.is_success() {
                    self.state = ClientState::Accepted;
                    self.timers.stop_all();
                    self.timers.set(Timer::M, now + config.t1 * 64);
                    out.events.push_back(to_tu);
                } else {
                    self.state = ClientState::Completed;
                    self.timers.stop_all();
                    let ack = self.build_ack(&response);
                    self.send(out, ack.clone());
                    self.ack = Some(ack);
                    self.timers.set(
                        Timer::D,
                        now + if reliable {
                            Duration::ZERO
                        } else {
                            config.timer_d
                        },
                    );
                    out.events.push_back(to_tu);
                }
            }
            (ClientState::Completed, true) if status.is_final() && !status.is_success() => {
                if let Some(ack) = self.ack.clone() {
                    self.send(out, ack);
                }
            }
            (ClientState::Accepted, true) if status.is_success() => {
                out.events.push_back(to_tu);
            }
            (ClientState::Trying | ClientState::Proceeding, false) => {
                if status.is_provisional() {
                    self.state = ClientState::Proceeding;
                    out.events.push_back(to_tu);
                } else {
                    self.state = ClientState::Completed;
                    self.timers.stop_all();
                    self.timers.set(
                        Timer::K,
                        now + if reliable { Duration::ZERO } else { config.t4 },
                    );
                    out.events.push_back(to_tu);
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
            Timer::A if self.state == ClientState::Calling => {
                self.interval *= 2;
                self.timers.set(Timer::A, now + self.interval);
                self.send(out, self.encoded.clone());
            }
            Timer::E if matches!(self.state, ClientState::Trying | ClientState::Proceeding) => {
                self.interval = if self.state == ClientState::Proceeding {
                    config.t2
                } else {
                    (self.interval * 2).min(config.t2)
                };
                self.timers.set(Timer::E, now + self.interval);
                self.send(out, self.encoded.clone());
            }
            Timer::B | Timer::F => {
                self.terminate(out);
                out.events
                    .push_back(TransactionEvent::Timeout { id: self.id });
            }
            Timer::D | Timer::K | Timer::M => self.terminate(out),
            _ => {}
        }
    }

    pub(crate) fn handle_transport_error(&mut self, out: &mut Outputs) {
        if self.state != ClientState::Terminated {
            self.terminate(out);
            out.events
                .push_back(TransactionEvent::TransportError { id: self.id });
        }
    }

    fn terminate(&mut self, _out: &mut Outputs) {
        self.state = ClientState::Terminated;
        self.timers.stop_all();
    }

    /// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3).
    fn build_ack(&self, response: &Response) -> Bytes {
        let mut ack = Request::new(Method::Ack, self.request.uri.clone());
        if let Some(via) = self.request.headers.get_bytes(&Known::Via.into()) {
            // only the top Via
            let top = crate::header::split_list(&via).next().unwrap_or_default();
            ack.headers.push(Known::Via, top);
        }
        for name in [Known::From, Known::CallId] {
            if let Some(v) = self.request.headers.get_bytes(&name.into()) {
                ack.headers.push(name, v);
            }
        }
        if let Some(to) = response.headers.get_bytes(&Known::To.into()) {
            ack.headers.push(Known::To, to);
        }
        let seq = self
            .request
            .headers
            .typed::<CSeq>()
            .and_then(Result::ok)
            .map_or(1, |c| c.seq);
        ack.headers.push_typed(&CSeq {
            seq,
            method: Method::Ack,
        });
        for route in self.request.headers.get_all_bytes(&Route::NAME) {
            ack.headers.push(Known::Route, route);
        }
        ack.headers
            .push(Known::MaxForwards, Bytes::from_static(b"70"));
        ack.headers
            .push(Known::ContentLength, Bytes::from_static(b"0"));
        ack.to_bytes()
    }
}
