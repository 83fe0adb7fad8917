//! Requests within a dialog (RFC 3261 §12.2, §14, §15): the checks (481,
//! 500 for CSeq disorder), BYE, re-INVITE and UPDATE (RFC 3311) with glare
//! (491 and the §14.1 retry), session refreshes (RFC 4028), INFO and
//! MESSAGE; and the application's answers to them.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::uac::allows;
use super::{
    Body, DialogTimer, Purpose, RequestId, Retry, ServerTx, TerminationCause, Ua, UaError, UaEvent,
    set_body, tags,
};
use crate::dialog::session_timer::{negotiate_uas, uac_request_headers, uas_response_headers};
use crate::dialog::{DialogId, DialogState, Role};
use crate::header::{CSeq, MinSe};
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

    fn retry_after(&mut self) -> String {
        (self.rng.next_u32() % 11).to_string()
    }

    fn on_reinvite(
        &mut self,
        now: Instant,
        id: TransactionId,
        dialog: DialogId,
        request: Request,
        path: ReplyPath,
    ) {
        let Some(leg) = self.legs.get(&dialog) else {
            return;
        };
        // RFC 3261 §14.2: an INVITE while one of the peer's is unanswered
        // (or in an early dialog) is 500 with Retry-After; while ours is
        // in progress, 491
        if leg.dialog.state() != DialogState::Confirmed
            || leg.invite_in.is_some()
            || leg.invite.is_some()
        {
            let after = self.retry_after();
            return self.reply(
                now,
                id,
                &request,
                StatusCode::SERVER_INTERNAL_ERROR,
                &[(Known::RetryAfter, &after)],
            );
        }
        if leg.offer_out.is_some() {
            return self.reply(now, id, &request, StatusCode::REQUEST_PENDING, &[]);
        }
        let session = match negotiate_uas(&request.headers, &self.config.session_timer) {
            Ok(s) => s,
            Err(min) => {
                let min = min.to_string();
                return self.reply(
                    now,
                    id,
                    &request,
                    StatusCode::SESSION_INTERVAL_TOO_SMALL,
                    &[(Known::MinSe, &min)],
                );
            }
        };
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        leg.dialog.refresh_target(&request.headers);
        leg.peer_allows_update |= allows(&request.headers, &Method::Update);
        leg.session_offer = session;
        leg.invite_in = Some(id);
        let body = Body::of(&request.headers, &request.body);
        self.servers.insert(
            id,
            ServerTx {
                dialog: Some(dialog),
                request,
                path,
            },
        );
        self.events.push_back(UaEvent::Reoffer {
            dialog,
            id,
            method: Method::Invite,
            body,
        });
    }

    fn on_update(
        &mut self,
        now: Instant,
        id: TransactionId,
        dialog: DialogId,
        request: Request,
        path: ReplyPath,
    ) {
        let Some(leg) = self.legs.get(&dialog) else {
            return;
        };
        // RFC 3311 §5.2: an offer while ours is outstanding is 491
        if leg.offer_out.is_some() && !request.body.is_empty() {
            return self.reply(now, id, &request, StatusCode::REQUEST_PENDING, &[]);
        }
        let session = match negotiate_uas(&request.headers, &self.config.session_timer) {
            Ok(s) => s,
            Err(min) => {
                let min = min.to_string();
                return self.reply(
                    now,
                    id,
                    &request,
                    StatusCode::SESSION_INTERVAL_TOO_SMALL,
                    &[(Known::MinSe, &min)],
                );
            }
        };
        let confirmed = leg.dialog.state() == DialogState::Confirmed;
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        leg.dialog.refresh_target(&request.headers);
        leg.peer_allows_update = true;
        if request.body.is_empty() && confirmed {
            // a session refresh without offer: answered here
            let mut response = Response::for_request(&request, StatusCode::OK);
            self.add_capabilities(&mut response.headers, true);
            if let Some(t) = &session {
                uas_response_headers(&request.headers, t, &mut response.headers);
            }
            let _ = self.layer.send_response(now, id, response);
            if let Some(leg) = self.legs.get_mut(&dialog) {
                leg.session = session;
            }
            self.start_session_timer(now, dialog);
            self.events.push_back(UaEvent::SessionRefreshed { dialog });
            return;
        }
        if confirmed {
            leg.session_offer = session;
        }
        let body = Body::of(&request.headers, &request.body);
        self.servers.insert(
            id,
            ServerTx {
                dialog: Some(dialog),
                request,
                path,
            },
        );
        self.events.push_back(UaEvent::Reoffer {
            dialog,
            id,
            method: Method::Update,
            body,
        });
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

    /// Sends a re-INVITE (a new offer, or none for an offer in the 2xx,
    /// answered through [`Ua::ack`]). Fails with [`UaError::Pending`] while
    /// an INVITE or offer is in progress. A 491 is retried after the §14.1
    /// delay; the outcome is a [`UaEvent::Response`].
    pub fn reinvite(
        &mut self,
        now: Instant,
        dialog: DialogId,
        body: Option<Body>,
    ) -> Result<RequestId, UaError> {
        let leg = self.legs.get(&dialog).ok_or(UaError::NoDialog(dialog))?;
        if leg.dialog.state() != DialogState::Confirmed {
            return Err(UaError::InvalidState(dialog));
        }
        if leg.offer_out.is_some() || leg.invite_in.is_some() || leg.glare.is_some() {
            return Err(UaError::Pending);
        }
        let rid = RequestId(self.new_id());
        self.send_offer(now, dialog, Method::Invite, Some(rid), body)?;
        Ok(rid)
    }

    /// Sends an UPDATE (RFC 3311), in an early or confirmed dialog, with an
    /// offer (or none: a session refresh).
    pub fn update(
        &mut self,
        now: Instant,
        dialog: DialogId,
        body: Option<Body>,
    ) -> Result<RequestId, UaError> {
        let leg = self.legs.get(&dialog).ok_or(UaError::NoDialog(dialog))?;
        if leg.dialog.state() == DialogState::Terminated {
            return Err(UaError::InvalidState(dialog));
        }
        if leg.offer_out.is_some() || leg.glare.is_some() {
            return Err(UaError::Pending);
        }
        let rid = RequestId(self.new_id());
        self.send_offer(now, dialog, Method::Update, Some(rid), body)?;
        Ok(rid)
    }

    fn send_offer(
        &mut self,
        now: Instant,
        dialog: DialogId,
        method: Method,
        request: Option<RequestId>,
        body: Option<Body>,
    ) -> Result<TransactionId, UaError> {
        let leg = self.legs.get(&dialog).ok_or(UaError::NoDialog(dialog))?;
        let mut extra = crate::Headers::new();
        let min_se = self.config.session_timer.min_se;
        match leg.session {
            // RFC 4028 §7.4, §8: a refresh names the current interval and refresher
            Some(t) => {
                extra.push_typed(&t.header());
                extra.push_typed(&MinSe {
                    delta: min_se,
                    params: crate::uri::Params::new(),
                });
            }
            None => {
                if let Some(se) = self.config.session_timer.session_expires {
                    uac_request_headers(se, min_se, &mut extra);
                }
            }
        }
        let extra = extra
            .iter()
            .map(|h| (h.name.clone(), h.value.clone()))
            .collect();
        let purpose = if method == Method::Invite {
            Purpose::ReInvite {
                dialog,
                request,
                body: body.clone(),
            }
        } else {
            Purpose::Update {
                dialog,
                request,
                body: body.clone(),
            }
        };
        let tx = self.send_in_dialog(now, dialog, method.clone(), body.as_ref(), extra, purpose)?;
        if let Some(leg) = self.legs.get_mut(&dialog) {
            leg.offer_out = Some((method, tx));
            if body.is_some() {
                leg.local_body = body;
            }
        }
        Ok(tx)
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_offer_response(
        &mut self,
        now: Instant,
        dialog: DialogId,
        method: Method,
        request: Option<RequestId>,
        body: Option<Body>,
        tx: TransactionId,
        response: Response,
    ) {
        let status = response.status;
        if status.is_provisional() {
            return;
        }
        if method == Method::Invite && status.is_success() && self.resend_ack(&response) {
            return;
        }
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        if leg.offer_out.as_ref().is_some_and(|(_, t)| *t == tx) {
            leg.offer_out = None;
        } else if !status.is_success() {
            return;
        }
        if status.is_success() {
            leg.dialog.refresh_target(&response.headers);
            leg.peer_allows_update |= allows(&response.headers, &Method::Update);
            if leg.dialog.state() == DialogState::Confirmed {
                leg.session = crate::dialog::session_timer::from_response(&response.headers);
            }
            if method == Method::Invite {
                let cseq = response.cseq().and_then(Result::ok).map_or(0, |c| c.seq);
                if body.is_some() {
                    self.send_ack(now, dialog, cseq, None);
                } else if request.is_none() {
                    // a refresh without offer: our last description answers
                    let answer = leg.local_body.clone();
                    self.send_ack(now, dialog, cseq, answer.as_ref());
                } else {
                    leg.ack_pending = Some(cseq);
                }
            }
            self.start_session_timer(now, dialog);
        } else if status == StatusCode::REQUEST_PENDING {
            // RFC 3261 §14.1: the owner of the Call-ID waits 2.1-4 s, the
            // other side 0-2 s, in units of 10 ms
            let owner = leg.dialog.role() == Role::Uac;
            leg.glare = Some(Retry {
                method: method.clone(),
                request,
                body,
            });
            let ticks = u64::from(self.rng.next_u32() % if owner { 191 } else { 201 });
            let delay = Duration::from_millis(ticks * 10)
                + if owner {
                    Duration::from_millis(2100)
                } else {
                    Duration::ZERO
                };
            self.set_timer(dialog, DialogTimer::GlareRetry, now + delay);
            return;
        } else {
            self.end_dialog_on_failure(now, Some(dialog), status);
        }
        match request {
            Some(request) => self.events.push_back(UaEvent::Response {
                request,
                dialog: Some(dialog),
                method,
                status,
                response: Some(response),
            }),
            None if status.is_success() => {
                self.events.push_back(UaEvent::SessionRefreshed { dialog })
            }
            None => {}
        }
    }

    pub(crate) fn on_glare_retry(&mut self, now: Instant, dialog: DialogId) {
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        if leg.dialog.state() == DialogState::Terminated {
            return;
        }
        if leg.offer_out.is_some() || leg.invite_in.is_some() {
            // the peer's request is still being answered: a little later
            self.set_timer(
                dialog,
                DialogTimer::GlareRetry,
                now + Duration::from_millis(500),
            );
            return;
        }
        let Some(retry) = leg.glare.take() else {
            return;
        };
        if let Err(_e) =
            self.send_offer(now, dialog, retry.method.clone(), retry.request, retry.body)
        {
            if let Some(request) = retry.request {
                self.events.push_back(UaEvent::Response {
                    request,
                    dialog: Some(dialog),
                    method: retry.method,
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    response: None,
                });
            }
        }
    }

    /// (Re)starts the session timers of a dialog from its negotiated
    /// interval (RFC 4028 §10).
    pub(crate) fn start_session_timer(&mut self, now: Instant, dialog: DialogId) {
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        leg.timers.stop(DialogTimer::SessionRefresh);
        leg.timers.stop(DialogTimer::SessionExpiry);
        let Some(t) = leg.session else {
            return;
        };
        if t.refreshes(leg.dialog.role()) {
            self.set_timer(dialog, DialogTimer::SessionRefresh, now + t.refresh_after());
        }
        self.set_timer(dialog, DialogTimer::SessionExpiry, now + t.expire_after());
    }

    pub(crate) fn on_session_refresh(&mut self, now: Instant, dialog: DialogId) {
        let Some(leg) = self.legs.get(&dialog) else {
            return;
        };
        if leg.dialog.state() != DialogState::Confirmed {
            return;
        }
        if leg.offer_out.is_some() || leg.invite_in.is_some() || leg.glare.is_some() {
            self.set_timer(
                dialog,
                DialogTimer::SessionRefresh,
                now + Duration::from_secs(2),
            );
            return;
        }
        // UPDATE without a body when the peer allows it (RFC 4028 §9),
        // else a re-INVITE with our last session description
        let (method, body) = if leg.peer_allows_update {
            (Method::Update, None)
        } else {
            (Method::Invite, leg.local_body.clone())
        };
        let _ = self.send_offer(now, dialog, method, None, body);
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
