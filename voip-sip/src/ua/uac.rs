//! The UAC core: the dialog-creating INVITE, its forks (RFC 3261
//! §13.2.2.4), CANCEL, the ACK of 2xx responses, PRACK of reliable
//! provisional responses (RFC 3262 §4) and the 422 retry (RFC 4028 §7.4).

use std::time::Instant;

use bytes::Bytes;
use voip_core::Transmit;

use super::{
    Body, CancelState, ClientTx, InviteOptions, Leg, OutgoingCall, Purpose, Rel100, RequestId,
    TerminationCause, Ua, UaError, UaEvent, set_body, tags,
};
use crate::dialog::reliable::{accept_rseq, requires_100rel};
use crate::dialog::session_timer::{from_response, min_se_of_422, uac_request_headers};
use crate::dialog::{Dialog, DialogId, DialogState};
use crate::header::{CSeq, MinSe, RAck, RSeq, ReferredBy, SessionExpires, TypedHeader};
use crate::message::{Known, Method, Request, Response, StatusCode};
use crate::transaction::TransactionId;

/// How often one INVITE is re-sent after 422.
const MAX_422_RETRIES: u8 = 2;

pub(crate) fn allows(headers: &crate::Headers, method: &Method) -> bool {
    headers
        .typed_all::<crate::header::Allow>()
        .flatten()
        .any(|a| a.0 == *method)
}

fn cseq_of(headers: &crate::Headers) -> u32 {
    headers
        .typed::<CSeq>()
        .and_then(Result::ok)
        .map_or(0, |c| c.seq)
}

impl Ua {
    /// Starts a call: sends the INVITE (with Supported 100rel, timer,
    /// replaces, and the session timer we ask for). Follow it through
    /// [`UaEvent::Ringing`], [`UaEvent::Answered`] and
    /// [`UaEvent::CallFailed`].
    pub fn invite(&mut self, now: Instant, options: InviteOptions) -> Result<RequestId, UaError> {
        let rid = RequestId(self.new_id());
        let call_id = self.rng.token(24);
        let from_tag = self.rng.token(10);
        let seq = 1 + self.rng.next_u32() % 0x7fff;
        let uri = options
            .request_uri
            .clone()
            .unwrap_or_else(|| options.to.uri().clone());
        let mut r = Request::new(Method::Invite, uri);
        r.headers
            .push(Known::MaxForwards, Bytes::from_static(b"70"));
        let mut from = options.from.clone();
        from.set_tag(Bytes::from(from_tag));
        r.headers.push_typed(&crate::header::From(from));
        let mut to = options.to.clone();
        to.remove_param("tag");
        r.headers.push_typed(&crate::header::To(to));
        r.headers.push(Known::CallId, call_id);
        r.headers.push_typed(&CSeq {
            seq,
            method: Method::Invite,
        });
        self.add_capabilities(&mut r.headers, true);
        if self.config.rel100 == Rel100::Required {
            r.headers
                .push(Known::Require, Bytes::from_static(b"100rel"));
        }
        if let Some(se) = self.config.session_timer.session_expires {
            uac_request_headers(se, self.config.session_timer.min_se, &mut r.headers);
        }
        if let Some(replaces) = &options.replaces {
            r.headers.push_typed(replaces);
            r.headers
                .push(Known::Require, Bytes::from_static(b"replaces"));
        }
        if let Some(by) = &options.referred_by {
            r.headers.push_typed(&ReferredBy(by.clone()));
        }
        for (name, value) in &options.headers {
            r.headers.push(name.clone(), value.clone());
        }
        set_body(&mut r.headers, &mut r.body, options.body.as_ref());
        let id = self.send_request(now, r, None, Purpose::Invite(rid))?;
        let Some(ClientTx {
            request, target, ..
        }) = self.clients.get(&id).cloned()
        else {
            return Err(UaError::NoRequest(rid));
        };
        self.calls.insert(
            rid,
            OutgoingCall {
                tx: id,
                request,
                target,
                provisional: false,
                cancel: CancelState::None,
                dialogs: Vec::new(),
                answered: None,
                done: false,
                retries: 0,
            },
        );
        Ok(rid)
    }

    /// Cancels our INVITE (RFC 3261 §9.1): at once if a provisional
    /// response came, else as soon as one comes. The INVITE then ends with
    /// [`UaEvent::CallFailed`] 487 (also when a 2xx crossed the CANCEL:
    /// that dialog is ACKed and BYEd).
    pub fn cancel(&mut self, now: Instant, request: RequestId) -> Result<(), UaError> {
        let call = self
            .calls
            .get_mut(&request)
            .filter(|c| !c.done && c.answered.is_none())
            .ok_or(UaError::NoRequest(request))?;
        if call.cancel != CancelState::None {
            return Ok(());
        }
        if call.provisional {
            self.send_cancel(now, request);
        } else {
            call.cancel = CancelState::Wanted;
        }
        Ok(())
    }

    fn send_cancel(&mut self, now: Instant, rid: RequestId) {
        let Some(call) = self.calls.get_mut(&rid) else {
            return;
        };
        call.cancel = CancelState::Sent;
        // the CANCEL carries the INVITE's top Via, so goes straight to the layer
        let cancel = crate::proxy::cancel_for(&call.request);
        let target = call.target;
        if let Ok(id) = self.layer.send_request(now, cancel.clone(), target) {
            self.clients.insert(
                id,
                ClientTx {
                    purpose: Purpose::Cancel,
                    request: cancel,
                    target,
                    challenged: false,
                },
            );
        }
    }

    /// Sends the ACK for a 2xx that answered an INVITE without offer, with
    /// the answer (after [`UaEvent::Answered`] with `ack_pending`, or a
    /// re-INVITE's [`UaEvent::Response`] likewise).
    pub fn ack(
        &mut self,
        now: Instant,
        dialog: DialogId,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let leg = self
            .legs
            .get_mut(&dialog)
            .ok_or(UaError::NoDialog(dialog))?;
        let cseq = leg.ack_pending.ok_or(UaError::InvalidState(dialog))?;
        if body.is_some() {
            leg.local_body = body.clone();
        }
        self.send_ack(now, dialog, cseq, body.as_ref());
        Ok(())
    }

    /// The ACK for a 2xx (RFC 3261 §13.2.2.4): a new branch, the INVITE's
    /// CSeq number, the route set; kept to resend on retransmissions.
    pub(crate) fn send_ack(&mut self, _now: Instant, id: DialogId, cseq: u32, body: Option<&Body>) {
        let Some(leg) = self.legs.get(&id) else {
            return;
        };
        let mut ack = leg.dialog.request_with_seq(Method::Ack, cseq);
        // RFC 3261 §22.1: the ACK of the dialog-creating INVITE carries its credentials
        if let Some(invite) = leg
            .call
            .and_then(|c| self.calls.get(&c))
            .map(|c| &c.request)
            .filter(|r| cseq_of(&r.headers) == cseq)
        {
            for name in [Known::Authorization, Known::ProxyAuthorization] {
                for value in invite.headers.get_all_bytes(&name.into()) {
                    ack.headers.push(name, value);
                }
            }
        }
        set_body(&mut ack.headers, &mut ack.body, body);
        let Some(target) = self.next_hop(&ack, leg.peer) else {
            return;
        };
        let via = self.via(target.protocol);
        ack.headers.prepend_raw(Known::Via, via);
        let transmit = Transmit {
            protocol: target.protocol,
            source: None,
            destination: target.destination,
            connection: target.connection,
            contents: ack.to_bytes(),
        };
        self.layer.send_stateless(transmit.clone());
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.ack = Some((cseq, transmit));
            leg.ack_pending = None;
        }
    }

    /// A retransmitted 2xx of a dialog we ACKed: the same ACK again.
    pub(crate) fn resend_ack(&mut self, response: &Response) -> bool {
        let Some((from_tag, Some(to_tag), call_id)) = tags(&response.headers) else {
            return false;
        };
        let Some(id) = self.find(&call_id, &from_tag, &to_tag) else {
            return false;
        };
        let cseq = cseq_of(&response.headers);
        match self.legs.get(&id).and_then(|l| l.ack.clone()) {
            Some((seq, t)) if seq == cseq => {
                self.layer.send_stateless(t);
                true
            }
            _ => false,
        }
    }

    pub(crate) fn on_stray_response(&mut self, _now: Instant, response: Response) {
        let invite = matches!(response.cseq(), Some(Ok(c)) if c.method == Method::Invite);
        if invite && response.status.is_success() {
            self.resend_ack(&response);
        }
    }

    pub(crate) fn on_invite_response(
        &mut self,
        now: Instant,
        rid: RequestId,
        tx: TransactionId,
        response: Response,
    ) {
        let status = response.status;
        if status.is_success() && self.resend_ack(&response) {
            return;
        }
        let Some(call) = self.calls.get_mut(&rid) else {
            return;
        };
        if call.tx != tx {
            return;
        }
        let to_tag = response
            .to()
            .and_then(Result::ok)
            .and_then(|t| t.tag().map(Bytes::copy_from_slice));
        if status.is_provisional() {
            call.provisional = true;
            if call.answered.is_some() || call.done {
                // a late fork rings after the call was decided
                return;
            }
            if call.cancel == CancelState::Wanted {
                self.send_cancel(now, rid);
            }
            if status == StatusCode::TRYING {
                return;
            }
            let dialog = to_tag.and_then(|tag| self.early_dialog(rid, &response, &tag));
            if let Some(d) = dialog {
                if requires_100rel(&response.headers) {
                    let Some(Ok(RSeq(rseq))) = response.headers.typed::<RSeq>() else {
                        return;
                    };
                    let Some(leg) = self.legs.get_mut(&d) else {
                        return;
                    };
                    if !accept_rseq(&mut leg.last_rseq, rseq) {
                        return;
                    }
                    let rack = RAck {
                        rseq,
                        cseq: cseq_of(&response.headers),
                        method: Method::Invite,
                    };
                    let _ = self.send_in_dialog(
                        now,
                        d,
                        Method::Prack,
                        None,
                        vec![(RAck::NAME, rack.to_bytes())],
                        Purpose::Prack,
                    );
                }
                if let Some(leg) = self.legs.get_mut(&d) {
                    leg.surfaced = true;
                }
            }
            self.events.push_back(UaEvent::Ringing {
                request: rid,
                dialog,
                status,
                body: Body::of(&response.headers, &response.body),
            });
            return;
        }
        if status.is_success() {
            if let Some(tag) = to_tag {
                self.on_invite_2xx(now, rid, &response, &tag);
            }
            return;
        }
        if status == StatusCode::SESSION_INTERVAL_TOO_SMALL && self.retry_422(now, rid, &response) {
            return;
        }
        let Some(call) = self.calls.get_mut(&rid) else {
            return;
        };
        if call.done || call.answered.is_some() {
            return;
        }
        call.done = true;
        let cause = if call.cancel != CancelState::None && status == StatusCode::REQUEST_TERMINATED
        {
            TerminationCause::Cancelled
        } else {
            TerminationCause::Rejected(status)
        };
        let dialogs = std::mem::take(&mut call.dialogs);
        for d in dialogs {
            self.terminate(now, d, cause);
        }
        self.events.push_back(UaEvent::CallFailed {
            request: rid,
            status,
            response: Some(response),
        });
    }

    pub(crate) fn on_invite_timeout(&mut self, now: Instant, rid: RequestId, tx: TransactionId) {
        let Some(call) = self.calls.get_mut(&rid) else {
            return;
        };
        if call.tx != tx || call.done || call.answered.is_some() {
            return;
        }
        call.done = true;
        let status = StatusCode::REQUEST_TIMEOUT;
        let dialogs = std::mem::take(&mut call.dialogs);
        for d in dialogs {
            self.terminate(now, d, TerminationCause::Rejected(status));
        }
        self.events.push_back(UaEvent::CallFailed {
            request: rid,
            status,
            response: None,
        });
    }

    /// The early dialog a provisional response with To tag `tag` makes (or
    /// updates) for our INVITE `rid`.
    fn early_dialog(
        &mut self,
        rid: RequestId,
        response: &Response,
        tag: &[u8],
    ) -> Option<DialogId> {
        let call = self.calls.get(&rid)?;
        let (request, target, closed) = (
            call.request.clone(),
            call.target,
            call.answered.is_some() || call.done,
        );
        let (from_tag, _, call_id) = tags(&request.headers)?;
        if let Some(d) = self.find(&call_id, &from_tag, tag) {
            let leg = self.legs.get_mut(&d)?;
            if leg.dialog.state() != DialogState::Early {
                return None;
            }
            leg.dialog.refresh_target(&response.headers);
            return Some(d);
        }
        if closed {
            return None;
        }
        let id = DialogId(self.new_id());
        let dialog = Dialog::new_uac(id, &request, response).ok()?;
        let mut leg = Leg::new(dialog, Some(target), self.t1());
        leg.call = Some(rid);
        leg.peer_allows_update = allows(&response.headers, &Method::Update);
        self.insert_leg(leg);
        if let Some(call) = self.calls.get_mut(&rid) {
            call.dialogs.push(id);
        }
        Some(id)
    }

    fn on_invite_2xx(&mut self, now: Instant, rid: RequestId, response: &Response, tag: &[u8]) {
        let Some(call) = self.calls.get(&rid) else {
            return;
        };
        let (request, target) = (call.request.clone(), call.target);
        let Some((from_tag, _, call_id)) = tags(&request.headers) else {
            return;
        };
        let cseq = cseq_of(&request.headers);
        let id = match self.find(&call_id, &from_tag, tag) {
            Some(d) => {
                if call.answered == Some(d) {
                    // a retransmission while the application prepares the ACK
                    return;
                }
                if let Some(leg) = self.legs.get_mut(&d) {
                    if leg.dialog.state() == DialogState::Early {
                        leg.dialog.confirm_uac(response);
                    }
                }
                d
            }
            None => {
                let id = DialogId(self.new_id());
                let Ok(dialog) = Dialog::new_uac(id, &request, response) else {
                    return;
                };
                let mut leg = Leg::new(dialog, Some(target), self.t1());
                leg.call = Some(rid);
                self.insert_leg(leg);
                id
            }
        };
        let Some(call) = self.calls.get_mut(&rid) else {
            return;
        };
        if call.answered.is_some() || call.cancel != CancelState::None || call.done {
            // §13.2.2.4: every 2xx is ACKed; the ones we do not want get BYE
            let cancelled =
                call.cancel != CancelState::None && call.answered.is_none() && !call.done;
            if cancelled {
                call.done = true;
            }
            self.send_ack(now, id, cseq, None);
            self.send_bye(now, id);
            let cause = if cancelled {
                TerminationCause::Cancelled
            } else {
                TerminationCause::ForkLost
            };
            self.terminate(now, id, cause);
            if cancelled {
                let dialogs = self
                    .calls
                    .get_mut(&rid)
                    .map(|c| std::mem::take(&mut c.dialogs));
                for d in dialogs.unwrap_or_default() {
                    self.terminate(now, d, cause);
                }
                self.events.push_back(UaEvent::CallFailed {
                    request: rid,
                    status: StatusCode::REQUEST_TERMINATED,
                    response: None,
                });
            }
            return;
        }
        call.answered = Some(id);
        let others: Vec<DialogId> = call.dialogs.iter().copied().filter(|d| *d != id).collect();
        call.dialogs = vec![id];
        let late_offer = request.body.is_empty();
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.surfaced = true;
            leg.session = from_response(&response.headers);
            leg.peer_allows_update = allows(&response.headers, &Method::Update);
            leg.local_body = Body::of(&request.headers, &request.body);
            if late_offer {
                leg.ack_pending = Some(cseq);
            }
        }
        if !late_offer {
            self.send_ack(now, id, cseq, None);
        }
        self.start_session_timer(now, id);
        for d in others {
            self.terminate(now, d, TerminationCause::ForkLost);
        }
        self.events.push_back(UaEvent::Answered {
            request: rid,
            dialog: id,
            body: Body::of(&response.headers, &response.body),
            ack_pending: late_offer,
        });
    }

    /// RFC 4028 §7.4: after 422, the INVITE again with the Min-SE it named.
    fn retry_422(&mut self, now: Instant, rid: RequestId, response: &Response) -> bool {
        let Some(min) = min_se_of_422(&response.headers) else {
            return false;
        };
        let Some(call) = self.calls.get_mut(&rid) else {
            return false;
        };
        if call.retries >= MAX_422_RETRIES {
            return false;
        }
        call.retries += 1;
        let mut request = call.request.clone();
        request.headers.remove_first(&Known::Via.into());
        let seq = cseq_of(&request.headers) + 1;
        request.headers.set_typed(&CSeq {
            seq,
            method: Method::Invite,
        });
        let asked = match request.headers.typed::<SessionExpires>() {
            Some(Ok(se)) => se.delta,
            _ => 0,
        };
        request.headers.set_typed(&SessionExpires {
            delta: asked.max(min),
            params: crate::uri::Params::new(),
        });
        request.headers.set_typed(&MinSe {
            delta: min,
            params: crate::uri::Params::new(),
        });
        let target = call.target;
        let Ok(id) = self.send_request(now, request, Some(target), Purpose::Invite(rid)) else {
            return false;
        };
        let sent = self.clients.get(&id).map(|t| t.request.clone());
        if let (Some(call), Some(sent)) = (self.calls.get_mut(&rid), sent) {
            call.tx = id;
            call.request = sent;
        }
        true
    }
}
