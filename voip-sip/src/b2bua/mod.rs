//! Back-to-back user agent building blocks (the Drachtio/FreeSWITCH
//! "bridge"): two dialogs bound together, each side's session description
//! handed to the application so it can anchor media, and call events.
//!
//! A [`B2bua`] wraps one [`Ua`]. An incoming INVITE becomes a [`BridgeId`]
//! with side A; the application answers [`B2buaEvent::Incoming`] with
//! [`B2bua::connect`] (side B: a new INVITE with the offer the application
//! chose, e.g. rewritten to point at its media relay) or [`B2bua::reject`].
//! From there the B2BUA relays what it can on its own and asks for what it
//! cannot decide:
//!
//! - B's provisional responses go to A as 180 (a 183 with early media needs
//!   the application's description: [`B2buaEvent::EarlyMedia`] →
//!   [`B2bua::early_media`]);
//! - B's 2xx: [`B2buaEvent::Answered`] carries B's answer; the application
//!   answers A with [`B2bua::answer`] (its own description for A);
//! - B's failure: [`B2buaEvent::Failed`]; connect again (serial hunting) or
//!   reject;
//! - a re-INVITE or UPDATE from either side: [`B2buaEvent::Reoffer`] (with
//!   hold and resume detected from the description's direction:
//!   [`B2buaEvent::Held`] / [`B2buaEvent::Resumed`]); forward it with
//!   [`B2bua::forward_reoffer`], whose answer comes back as
//!   [`B2buaEvent::ReofferAnswered`] for [`B2bua::answer_reoffer`];
//! - INFO (DTMF relay) and MESSAGE in a dialog are relayed to the other side;
//! - REFER: [`B2buaEvent::TransferRequested`] (the application decides: it
//!   may [`connect`](B2bua::connect) the target and release the other leg);
//! - BYE, CANCEL, timeouts: the other side is released and
//!   [`B2buaEvent::Ended`] says who ended the call and why.
//!
//! Sans-IO like the [`Ua`] underneath: `handle_receive`, `handle_timeout`,
//! `poll_transmit`, `poll_event`, `poll_timeout`.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use voip_core::{Receive, Transmit};

use crate::dialog::DialogId;
use crate::message::{Method, Request, StatusCode};
use crate::transaction::TransactionId;
use crate::ua::{Body, InviteOptions, RequestId, TerminationCause, Ua, UaError, UaEvent};
use crate::uri::Uri;

#[cfg(test)]
mod tests;

/// One bridged call (two legs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BridgeId(pub u64);

/// A leg of a bridge: A called us, we called B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The incoming leg.
    A,
    /// The outgoing leg.
    B,
}

impl Side {
    /// The other leg.
    pub fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }
}

/// What a B2BUA tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
// One event per call step, handed over once: boxing the INVITE would cost
// an allocation per call for no gain.
#[allow(clippy::large_enum_variant)]
pub enum B2buaEvent {
    /// A new call on side A: [`B2bua::connect`] or [`B2bua::reject`].
    Incoming {
        /// The bridge.
        bridge: BridgeId,
        /// The INVITE.
        request: Request,
        /// A's offer (none: a late offer).
        offer: Option<Body>,
    },
    /// B is ringing; A got a 180.
    Ringing {
        /// The bridge.
        bridge: BridgeId,
        /// B's status (180, 183).
        status: StatusCode,
    },
    /// B sent early media (a 183 with a description): send A one with
    /// [`B2bua::early_media`].
    EarlyMedia {
        /// The bridge.
        bridge: BridgeId,
        /// B's early description.
        body: Body,
    },
    /// B answered: answer A with [`B2bua::answer`].
    Answered {
        /// The bridge.
        bridge: BridgeId,
        /// B's answer.
        body: Option<Body>,
    },
    /// B failed; A is still waiting: connect again or reject.
    Failed {
        /// The bridge.
        bridge: BridgeId,
        /// B's final status (408 on timeout).
        status: StatusCode,
    },
    /// A is connected to B (A's ACK arrived).
    Connected {
        /// The bridge.
        bridge: BridgeId,
    },
    /// A re-INVITE or UPDATE from one side: [`B2bua::forward_reoffer`]
    /// (or [`B2bua::reject_reoffer`]).
    Reoffer {
        /// The bridge.
        bridge: BridgeId,
        /// Who sent it.
        from: Side,
        /// INVITE or UPDATE.
        method: Method,
        /// The offer, if any.
        body: Option<Body>,
    },
    /// The other side answered a forwarded re-offer: pass an answer back
    /// with [`B2bua::answer_reoffer`].
    ReofferAnswered {
        /// The bridge.
        bridge: BridgeId,
        /// The side that sent the re-offer (and waits for the answer).
        to: Side,
        /// The status.
        status: StatusCode,
        /// The answer.
        body: Option<Body>,
    },
    /// A side put the call on hold (sendonly, inactive or c=0.0.0.0).
    Held {
        /// The bridge.
        bridge: BridgeId,
        /// Who.
        by: Side,
    },
    /// A side took the call off hold.
    Resumed {
        /// The bridge.
        bridge: BridgeId,
        /// Who.
        by: Side,
    },
    /// A side asked to transfer the call (REFER); accepted with 202.
    TransferRequested {
        /// The bridge.
        bridge: BridgeId,
        /// Who asked.
        by: Side,
        /// The target.
        target: Uri,
    },
    /// The call ended; both legs are released.
    Ended {
        /// The bridge.
        bridge: BridgeId,
        /// The side that ended it (`None`: we did).
        by: Option<Side>,
        /// Why.
        cause: EndCause,
    },
}

/// Why a bridged call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndCause {
    /// A BYE.
    Bye,
    /// A cancelled before the answer.
    Cancelled,
    /// Rejected with this status (by the application or B).
    Rejected(StatusCode),
    /// The application hung up.
    Hangup,
    /// A dialog failed underneath (ACK timeout, session expiry, 481).
    Failure(TerminationCause),
}

#[derive(Debug, Default)]
struct Bridge {
    a: Option<DialogId>,
    b: Option<DialogId>,
    b_request: Option<RequestId>,
    answered: bool,
    ended: bool,
    /// A re-offer waiting for the other side: (from, server transaction).
    reoffer: Option<(Side, TransactionId)>,
    reoffer_request: Option<RequestId>,
    held: [bool; 2],
}

/// The B2BUA core.
#[derive(Debug)]
pub struct B2bua {
    ua: Ua,
    next: u64,
    bridges: HashMap<BridgeId, Bridge>,
    legs: HashMap<DialogId, (BridgeId, Side)>,
    requests: HashMap<RequestId, BridgeId>,
    events: VecDeque<B2buaEvent>,
}

impl B2bua {
    /// A B2BUA over `ua`.
    pub fn new(ua: Ua) -> Self {
        Self {
            ua,
            next: 1,
            bridges: HashMap::new(),
            legs: HashMap::new(),
            requests: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// The UA underneath (dialog state, configuration).
    pub fn ua(&self) -> &Ua {
        &self.ua
    }

    /// The dialog of one side of a bridge.
    pub fn dialog(&self, bridge: BridgeId, side: Side) -> Option<DialogId> {
        let b = self.bridges.get(&bridge)?;
        match side {
            Side::A => b.a,
            Side::B => b.b,
        }
    }

    /// Number of bridges not yet ended.
    pub fn active(&self) -> usize {
        self.bridges.values().filter(|b| !b.ended).count()
    }

    /// Handles a message from the network.
    pub fn handle_receive(&mut self, now: Instant, rx: Receive) {
        self.ua.handle_receive(now, rx);
        self.drain(now);
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ua.handle_timeout(now);
        self.drain(now);
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ua.poll_transmit()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<B2buaEvent> {
        self.events.pop_front()
    }

    /// The next deadline.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.ua.poll_timeout()
    }

    /// Calls side B for `bridge` (after [`B2buaEvent::Incoming`] or a
    /// [`B2buaEvent::Failed`]): `options` carries the target and the offer
    /// the application chose for B.
    pub fn connect(
        &mut self,
        now: Instant,
        bridge: BridgeId,
        options: InviteOptions,
    ) -> Result<(), UaError> {
        let b = self
            .bridges
            .get(&bridge)
            .ok_or(UaError::InvalidState(DialogId(0)))?;
        if b.ended || b.answered {
            return Err(UaError::InvalidState(b.a.unwrap_or(DialogId(0))));
        }
        let request = self.ua.invite(now, options)?;
        self.requests.insert(request, bridge);
        if let Some(b) = self.bridges.get_mut(&bridge) {
            b.b_request = Some(request);
            b.b = None;
        }
        self.drain(now);
        Ok(())
    }

    /// Rejects side A with `status` (and cancels B if it is being called).
    pub fn reject(
        &mut self,
        now: Instant,
        bridge: BridgeId,
        status: StatusCode,
    ) -> Result<(), UaError> {
        let a = self.side_dialog(bridge, Side::A)?;
        self.cancel_b(now, bridge);
        self.ua.answer(now, a, status, None)?;
        self.end(bridge, None, EndCause::Rejected(status));
        self.drain(now);
        Ok(())
    }

    /// Sends A a 183 with the application's early-media description.
    pub fn early_media(
        &mut self,
        now: Instant,
        bridge: BridgeId,
        body: Body,
    ) -> Result<(), UaError> {
        let a = self.side_dialog(bridge, Side::A)?;
        self.ua
            .answer(now, a, StatusCode::SESSION_PROGRESS, Some(body))?;
        self.drain(now);
        Ok(())
    }

    /// Answers A (after [`B2buaEvent::Answered`]) with the application's
    /// description for A.
    pub fn answer(
        &mut self,
        now: Instant,
        bridge: BridgeId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let a = self.side_dialog(bridge, Side::A)?;
        self.ua.answer(now, a, StatusCode::OK, body)?;
        if let Some(b) = self.bridges.get_mut(&bridge) {
            b.answered = true;
        }
        self.drain(now);
        Ok(())
    }

    /// Sends the other side a re-INVITE (or UPDATE) with the application's
    /// description, for a pending [`B2buaEvent::Reoffer`].
    pub fn forward_reoffer(
        &mut self,
        now: Instant,
        bridge: BridgeId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let (from, _) = self
            .bridges
            .get(&bridge)
            .and_then(|b| b.reoffer)
            .ok_or(UaError::Pending)?;
        let other = self.side_dialog(bridge, from.other())?;
        let request = self.ua.reinvite(now, other, body)?;
        self.requests.insert(request, bridge);
        if let Some(b) = self.bridges.get_mut(&bridge) {
            b.reoffer_request = Some(request);
        }
        self.drain(now);
        Ok(())
    }

    /// Answers the pending re-offer with `status` and the application's
    /// description (after [`B2buaEvent::ReofferAnswered`], or at once).
    pub fn answer_reoffer(
        &mut self,
        now: Instant,
        bridge: BridgeId,
        status: StatusCode,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let (_, id) = self
            .bridges
            .get_mut(&bridge)
            .and_then(|b| b.reoffer.take())
            .ok_or(UaError::Pending)?;
        self.ua.respond(now, id, status, body)?;
        self.drain(now);
        Ok(())
    }

    /// Refuses the pending re-offer (e.g. 488).
    pub fn reject_reoffer(
        &mut self,
        now: Instant,
        bridge: BridgeId,
        status: StatusCode,
    ) -> Result<(), UaError> {
        self.answer_reoffer(now, bridge, status, None)
    }

    /// Ends the call: BYE (or CANCEL / a final response) on both legs.
    pub fn hangup(&mut self, now: Instant, bridge: BridgeId) {
        self.release(now, bridge, None);
        self.end(bridge, None, EndCause::Hangup);
        self.drain(now);
    }

    fn side_dialog(&self, bridge: BridgeId, side: Side) -> Result<DialogId, UaError> {
        self.dialog(bridge, side)
            .ok_or(UaError::InvalidState(DialogId(0)))
    }

    fn cancel_b(&mut self, now: Instant, bridge: BridgeId) {
        let Some(b) = self.bridges.get(&bridge) else {
            return;
        };
        if let (Some(request), false) = (b.b_request, b.answered) {
            let _ = self.ua.cancel(now, request);
        }
    }

    /// Releases every leg except `except`.
    fn release(&mut self, now: Instant, bridge: BridgeId, except: Option<Side>) {
        let Some(b) = self.bridges.get(&bridge) else {
            return;
        };
        let (a, bd, answered, b_request) = (b.a, b.b, b.answered, b.b_request);
        if except != Some(Side::B) {
            match bd {
                Some(d) if self.is_confirmed(d) => {
                    let _ = self.ua.bye(now, d);
                }
                _ => {
                    if let Some(r) = b_request {
                        let _ = self.ua.cancel(now, r);
                    }
                }
            }
        }
        if except != Some(Side::A) {
            if let Some(d) = a {
                if answered || self.is_confirmed(d) {
                    let _ = self.ua.bye(now, d);
                } else {
                    let _ = self
                        .ua
                        .answer(now, d, StatusCode::TEMPORARILY_UNAVAILABLE, None);
                }
            }
        }
    }

    fn is_confirmed(&self, dialog: DialogId) -> bool {
        self.ua
            .dialog(dialog)
            .is_some_and(|d| d.state() == crate::dialog::DialogState::Confirmed)
    }

    fn end(&mut self, bridge: BridgeId, by: Option<Side>, cause: EndCause) {
        if let Some(b) = self.bridges.get_mut(&bridge)
            && !b.ended
        {
            b.ended = true;
            self.events
                .push_back(B2buaEvent::Ended { bridge, by, cause });
        }
    }

    fn bridge_of(&self, dialog: DialogId) -> Option<(BridgeId, Side)> {
        self.legs.get(&dialog).copied()
    }

    fn drain(&mut self, now: Instant) {
        while let Some(event) = self.ua.poll_event() {
            self.on_ua_event(now, event);
        }
    }

    fn on_ua_event(&mut self, now: Instant, event: UaEvent) {
        match event {
            UaEvent::IncomingCall {
                dialog, request, ..
            } => {
                let bridge = BridgeId(self.next);
                self.next += 1;
                let offer = Body::of(&request.headers, &request.body);
                self.bridges.insert(
                    bridge,
                    Bridge {
                        a: Some(dialog),
                        ..Bridge::default()
                    },
                );
                self.legs.insert(dialog, (bridge, Side::A));
                self.events.push_back(B2buaEvent::Incoming {
                    bridge,
                    request,
                    offer,
                });
            }
            UaEvent::Ringing {
                request,
                dialog,
                status,
                body,
            } => {
                let Some(&bridge) = self.requests.get(&request) else {
                    return;
                };
                if let Some(d) = dialog {
                    self.legs.entry(d).or_insert((bridge, Side::B));
                }
                match body {
                    Some(body) => self
                        .events
                        .push_back(B2buaEvent::EarlyMedia { bridge, body }),
                    None => {
                        if let Ok(a) = self.side_dialog(bridge, Side::A) {
                            let _ = self.ua.answer(now, a, StatusCode::RINGING, None);
                        }
                        self.events
                            .push_back(B2buaEvent::Ringing { bridge, status });
                    }
                }
            }
            UaEvent::Answered {
                request,
                dialog,
                body,
                ..
            } => {
                let Some(&bridge) = self.requests.get(&request) else {
                    return;
                };
                let ended = self.bridges.get(&bridge).is_none_or(|b| b.ended);
                if ended {
                    // A went away while B was answering
                    let _ = self.ua.bye(now, dialog);
                    return;
                }
                if let Some(b) = self.bridges.get_mut(&bridge) {
                    b.b = Some(dialog);
                }
                self.legs.insert(dialog, (bridge, Side::B));
                self.events.push_back(B2buaEvent::Answered { bridge, body });
            }
            UaEvent::CallFailed {
                request, status, ..
            } => {
                let Some(bridge) = self.requests.remove(&request) else {
                    return;
                };
                if self.bridges.get(&bridge).is_some_and(|b| !b.ended) {
                    self.events.push_back(B2buaEvent::Failed { bridge, status });
                }
            }
            UaEvent::Acked { dialog, .. } => {
                if let Some((bridge, Side::A)) = self.bridge_of(dialog) {
                    self.events.push_back(B2buaEvent::Connected { bridge });
                }
            }
            UaEvent::Reoffer {
                dialog,
                id,
                method,
                body,
            } => {
                let Some((bridge, from)) = self.bridge_of(dialog) else {
                    let _ =
                        self.ua
                            .respond(now, id, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST, None);
                    return;
                };
                let busy = self
                    .bridges
                    .get(&bridge)
                    .is_none_or(|b| b.reoffer.is_some());
                if busy {
                    let _ = self.ua.respond(now, id, StatusCode::REQUEST_PENDING, None);
                    return;
                }
                if let Some(body) = &body {
                    self.note_direction(bridge, from, &body.data);
                }
                if let Some(b) = self.bridges.get_mut(&bridge) {
                    b.reoffer = Some((from, id));
                }
                self.events.push_back(B2buaEvent::Reoffer {
                    bridge,
                    from,
                    method,
                    body,
                });
            }
            UaEvent::Response {
                request,
                status,
                response,
                method,
                ..
            } => {
                let Some(&bridge) = self.requests.get(&request) else {
                    return;
                };
                let Some(b) = self.bridges.get_mut(&bridge) else {
                    return;
                };
                if b.reoffer_request == Some(request) && method == Method::Invite {
                    b.reoffer_request = None;
                    if let Some((to, _)) = b.reoffer {
                        let body = response
                            .as_ref()
                            .and_then(|r| Body::of(&r.headers, &r.body));
                        self.events.push_back(B2buaEvent::ReofferAnswered {
                            bridge,
                            to,
                            status,
                            body,
                        });
                    }
                }
                self.requests.remove(&request);
            }
            UaEvent::Info {
                dialog,
                id,
                request,
            }
            | UaEvent::Message {
                dialog: Some(dialog),
                id,
                request,
            } => {
                // relayed as is to the other side, answered 200 here
                let _ = self.ua.respond(now, id, StatusCode::OK, None);
                if let Some((bridge, from)) = self.bridge_of(dialog)
                    && let Ok(other) = self.side_dialog(bridge, from.other())
                {
                    let body = Body::of(&request.headers, &request.body);
                    let _ = self.ua.request(now, other, request.method.clone(), body);
                }
            }
            UaEvent::TransferRequested {
                dialog, id, target, ..
            } => {
                let _ = self.ua.respond(now, id, StatusCode::ACCEPTED, None);
                if let Some((bridge, by)) = self.bridge_of(dialog) {
                    self.events
                        .push_back(B2buaEvent::TransferRequested { bridge, by, target });
                }
            }
            UaEvent::Terminated { dialog, cause } => {
                let Some((bridge, side)) = self.bridge_of(dialog) else {
                    return;
                };
                self.legs.remove(&dialog);
                if self.bridges.get(&bridge).is_none_or(|b| b.ended) {
                    return;
                }
                if side == Side::B && !self.bridges.get(&bridge).is_some_and(|b| b.answered) {
                    // an early B dialog ended (another fork won, or B
                    // failed): the outcome comes as Answered or CallFailed
                    return;
                }
                self.release(now, bridge, Some(side));
                let end = match cause {
                    TerminationCause::RemoteBye | TerminationCause::LocalBye => EndCause::Bye,
                    TerminationCause::Cancelled => EndCause::Cancelled,
                    TerminationCause::Rejected(s) => EndCause::Rejected(s),
                    other => EndCause::Failure(other),
                };
                self.end(bridge, Some(side), end);
            }
            _ => {}
        }
    }

    /// Emits Held/Resumed when a side's direction changes.
    fn note_direction(&mut self, bridge: BridgeId, side: Side, sdp: &[u8]) {
        let held = is_hold(sdp);
        let Some(b) = self.bridges.get_mut(&bridge) else {
            return;
        };
        let slot = &mut b.held[side as usize];
        if *slot != held {
            *slot = held;
            self.events.push_back(if held {
                B2buaEvent::Held { bridge, by: side }
            } else {
                B2buaEvent::Resumed { bridge, by: side }
            });
        }
    }
}

/// Whether a description puts the call on hold (RFC 3264 §8.4: sendonly or
/// inactive; RFC 2543's c=0.0.0.0). A line scan: SDP itself is parsed in
/// voip-media.
pub fn is_hold(sdp: &[u8]) -> bool {
    sdp.split(|b| *b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .any(|l| l == b"a=sendonly" || l == b"a=inactive" || l == b"c=IN IP4 0.0.0.0")
}
