//! Requests within a dialog (RFC 3261 §12.2, §15): the checks (481, 500
//! for CSeq disorder), dispatch by method, BYE, INFO and MESSAGE, requests
//! outside a dialog, and the application's answers ([`Ua::respond`]).
//! Offers (re-INVITE, UPDATE, glare, session refresh) are in `offer.rs`.

use std::time::Instant;

use bytes::Bytes;

use super::{
    Body, Purpose, RequestId, ServerTx, TerminationCause, Ua, UaError, UaEvent, set_body, tags,
};
use crate::dialog::session_timer::uas_response_headers;
use crate::dialog::{DialogId, DialogState, Role};
use crate::header::CSeq;
use crate::message::{HeaderName, Known, Method, Request, Response, StatusCode};
use crate::transaction::{ReplyPath, TransactionId};

impl Ua {
    pub(crate) fn on_in_dialog(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        path: ReplyPath,
        to_tag: Bytes,
    ) {
        // RFC 5057: a REFER subscription outlives the BYE of its dialog,
        // so a lingering dialog still takes the subscription's NOTIFYs
        let notify = request.method == Method::Notify;
        let found = tags(&request.headers)
            .and_then(|(from_tag, _, call_id)| self.find(&call_id, &to_tag, &from_tag))
            .filter(|d| {
                self.legs
                    .get(d)
                    .is_some_and(|l| notify || l.dialog.state() != DialogState::Terminated)
            });
        let Some(dialog) = found else {
            return self.reply(
                now,
                id,
                &request,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                &[],
            );
        };
        let seq = request.cseq().and_then(Result::ok).map_or(0, |c| c.seq);
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        // RFC 3261 §12.2.2: a lower CSeq than the last is out of order
        if !leg.dialog.accept_remote_seq(seq) {
            return self.reply(now, id, &request, StatusCode::SERVER_INTERNAL_ERROR, &[]);
        }
        match request.method {
            Method::Bye => {
                self.reply(now, id, &request, StatusCode::OK, &[]);
                self.on_cancel_pending_invite(now, dialog);
                self.terminate(now, dialog, TerminationCause::RemoteBye);
            }
            Method::Invite => self.on_reinvite(now, id, dialog, request, path),
            Method::Update => self.on_update(now, id, dialog, request, path),
            Method::Prack => self.on_prack(now, id, dialog, request),
            Method::Info => {
                self.servers.insert(
                    id,
                    ServerTx {
                        dialog: Some(dialog),
                        request: request.clone(),
                        path,
                    },
                );
                self.events.push_back(UaEvent::Info {
                    dialog,
                    id,
                    request,
                });
            }
            Method::Message => {
                self.servers.insert(
                    id,
                    ServerTx {
                        dialog: Some(dialog),
                        request: request.clone(),
                        path,
                    },
                );
                self.events.push_back(UaEvent::Message {
                    dialog: Some(dialog),
                    id,
                    request,
                });
            }
            Method::Options => self.reply_options(now, id, &request),
            Method::Refer => self.on_refer(now, id, dialog, request, path),
            Method::Notify => self.on_notify(now, id, dialog, request),
            Method::Subscribe => self.reply(now, id, &request, StatusCode::BAD_EVENT, &[]),
            Method::Register | Method::Publish | Method::Cancel | Method::Ack => self.reply(
                now,
                id,
                &request,
                StatusCode::METHOD_NOT_ALLOWED,
                &[(Known::Allow, super::ALLOW)],
            ),
            _ => self.reply(now, id, &request, StatusCode::NOT_IMPLEMENTED, &[]),
        }
    }

    /// A BYE in an early UAS dialog ends the INVITE with 487.
    fn on_cancel_pending_invite(&mut self, now: Instant, dialog: DialogId) {
        if let Some(tx) = self.legs.get(&dialog).and_then(|l| l.invite_tx) {
            self.on_cancel(now, tx);
        }
    }

    /// Answers a request the application was asked about
    /// ([`UaEvent::Reoffer`], [`UaEvent::Info`], [`UaEvent::Message`],
    /// [`UaEvent::TransferRequested`]). A 2xx to a re-INVITE is
    /// retransmitted until its ACK; a 2xx to a re-INVITE or UPDATE carries
    /// the session timer; a 2xx to a REFER starts its subscription (a
    /// NOTIFY "100 Trying" goes at once).
    pub fn respond(
        &mut self,
        now: Instant,
        id: TransactionId,
        status: StatusCode,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        let server = self
            .servers
            .get(&id)
            .cloned()
            .ok_or(UaError::NoServerTransaction(id))?;
        let method = server.request.method.clone();
        if status == StatusCode::TRYING || (status.is_provisional() && method != Method::Invite) {
            return Err(UaError::InvalidStatus(status));
        }
        let mut response = Response::for_request(&server.request, status);
        if server.dialog.is_none() {
            let tag = self.rng.token(10);
            response = response.with_to_tag(&tag);
        }
        let offer = matches!(method, Method::Invite | Method::Update);
        let session = server
            .dialog
            .and_then(|d| self.legs.get(&d))
            .and_then(|l| l.session_offer);
        if offer && status.is_success() {
            self.add_capabilities(&mut response.headers, true);
            if let Some(t) = &session {
                uas_response_headers(&server.request.headers, t, &mut response.headers);
            }
        }
        set_body(&mut response.headers, &mut response.body, body.as_ref());
        if status.is_final() {
            self.servers.remove(&id);
        }
        let Some(dialog) = server.dialog else {
            self.layer.send_response(now, id, response)?;
            return Ok(());
        };
        match method {
            Method::Invite if status.is_success() => {
                self.send_2xx(now, dialog, id, response, server.path)?;
            }
            _ => self.layer.send_response(now, id, response)?,
        }
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return Ok(());
        };
        if method == Method::Invite && status.is_final() {
            leg.invite_in = None;
        }
        if offer && status.is_success() {
            if body.is_some() {
                leg.local_body = body;
            }
            if leg.dialog.state() == DialogState::Confirmed {
                leg.session = leg.session_offer.take();
                self.start_session_timer(now, dialog);
            }
        }
        if method == Method::Refer && status.is_success() {
            let seq = server
                .request
                .cseq()
                .and_then(Result::ok)
                .map_or(0, |c| c.seq);
            if let Some(leg) = self.legs.get_mut(&dialog) {
                leg.refer_sub = Some(seq);
            }
            self.send_notify(now, dialog, seq, StatusCode::TRYING);
        }
        Ok(())
    }

    /// Ends a call: BYE in a confirmed dialog (after the ACK of our 2xx,
    /// RFC 3261 §15), CANCEL of our INVITE in an early one, 603 to the
    /// peer's unanswered INVITE.
    pub fn bye(&mut self, now: Instant, dialog: DialogId) -> Result<(), UaError> {
        let leg = self
            .legs
            .get_mut(&dialog)
            .ok_or(UaError::NoDialog(dialog))?;
        match (leg.dialog.state(), leg.dialog.role()) {
            (DialogState::Terminated, _) => Err(UaError::InvalidState(dialog)),
            (DialogState::Confirmed, _) if leg.pending_2xx.is_some() => {
                leg.bye_pending = true;
                Ok(())
            }
            (DialogState::Confirmed, _) => {
                if let Some(cseq) = leg.ack_pending {
                    // the 2xx still needs its ACK before the BYE (late offer)
                    let answer = leg.local_body.clone();
                    self.send_ack(now, dialog, cseq, answer.as_ref());
                }
                self.send_bye(now, dialog);
                self.terminate(now, dialog, TerminationCause::LocalBye);
                Ok(())
            }
            (DialogState::Early, Role::Uac) => {
                let call = leg.call.ok_or(UaError::InvalidState(dialog))?;
                self.cancel(now, call)
            }
            (DialogState::Early, Role::Uas) => self.answer(now, dialog, StatusCode::DECLINE, None),
        }
    }

    pub(crate) fn send_bye(&mut self, now: Instant, dialog: DialogId) {
        let _ = self.send_in_dialog(now, dialog, Method::Bye, None, Vec::new(), Purpose::Bye);
    }

    /// Sends a request within dialog `dialog` with the next local CSeq.
    pub(crate) fn send_in_dialog(
        &mut self,
        now: Instant,
        dialog: DialogId,
        method: Method,
        body: Option<&Body>,
        extra: Vec<(HeaderName, Bytes)>,
        purpose: Purpose,
    ) -> Result<TransactionId, UaError> {
        let first = 1 + self.rng.next_u32() % 0x7fff;
        let leg = self
            .legs
            .get_mut(&dialog)
            .ok_or(UaError::NoDialog(dialog))?;
        let mut request = leg.dialog.new_request(method.clone(), first);
        let peer = leg.peer;
        let refresh = matches!(
            method,
            Method::Invite | Method::Update | Method::Refer | Method::Notify | Method::Subscribe
        );
        self.add_capabilities(&mut request.headers, refresh);
        for (name, value) in extra {
            request.headers.push(name, value);
        }
        set_body(&mut request.headers, &mut request.body, body);
        self.send_request(now, request, peer, purpose)
    }

    /// Sends INFO (RFC 6086) in a dialog, e.g. `application/dtmf-relay`.
    pub fn info(
        &mut self,
        now: Instant,
        dialog: DialogId,
        body: Body,
    ) -> Result<RequestId, UaError> {
        self.request(now, dialog, Method::Info, Some(body))
    }

    /// Sends MESSAGE (RFC 3428) in a dialog.
    pub fn message(
        &mut self,
        now: Instant,
        dialog: DialogId,
        body: Body,
    ) -> Result<RequestId, UaError> {
        self.request(now, dialog, Method::Message, Some(body))
    }

    /// Sends another request within a dialog (INFO, MESSAGE, OPTIONS, an
    /// extension method); the outcome is a [`UaEvent::Response`]. Methods
    /// with their own command (INVITE, UPDATE, BYE, REFER, ...) are refused.
    pub fn request(
        &mut self,
        now: Instant,
        dialog: DialogId,
        method: Method,
        body: Option<Body>,
    ) -> Result<RequestId, UaError> {
        if matches!(
            method,
            Method::Invite
                | Method::Ack
                | Method::Cancel
                | Method::Bye
                | Method::Prack
                | Method::Update
                | Method::Refer
                | Method::Notify
                | Method::Subscribe
                | Method::Register
        ) {
            return Err(UaError::InvalidState(dialog));
        }
        let rid = RequestId(self.new_id());
        self.send_in_dialog(
            now,
            dialog,
            method,
            body.as_ref(),
            Vec::new(),
            Purpose::Other {
                dialog: Some(dialog),
                request: rid,
            },
        )?;
        Ok(rid)
    }

    /// Sends a request outside any dialog (MESSAGE, OPTIONS) from `from` to
    /// `to`; the outcome is a [`UaEvent::Response`].
    pub fn request_out_of_dialog(
        &mut self,
        now: Instant,
        method: Method,
        from: crate::Uri,
        to: crate::Uri,
        body: Option<Body>,
    ) -> Result<RequestId, UaError> {
        if !matches!(method, Method::Message | Method::Options | Method::Other(_)) {
            return Err(UaError::InvalidStatus(StatusCode::METHOD_NOT_ALLOWED));
        }
        let rid = RequestId(self.new_id());
        let mut r = Request::new(method.clone(), to.clone());
        r.headers
            .push(Known::MaxForwards, Bytes::from_static(b"70"));
        let tag = self.rng.token(10);
        r.headers.push(Known::From, format!("<{from}>;tag={tag}"));
        r.headers.push(Known::To, format!("<{to}>"));
        r.headers.push(Known::CallId, self.rng.token(24));
        r.headers.push_typed(&CSeq { seq: 1, method });
        self.add_capabilities(&mut r.headers, false);
        set_body(&mut r.headers, &mut r.body, body.as_ref());
        self.send_request(
            now,
            r,
            None,
            Purpose::Other {
                dialog: None,
                request: rid,
            },
        )?;
        Ok(rid)
    }
}
