//! The UAS core: new requests outside a dialog, the answer to an INVITE,
//! 2xx retransmission until the ACK (RFC 3261 §13.3.1.4), reliable
//! provisional responses and PRACK (RFC 3262 §3), CANCEL, and INVITEs
//! with Replaces (RFC 3891).

use std::time::Instant;

use voip_core::Transmit;

use super::uac::allows;
use super::{
    Body, DialogTimer, Leg, Rel100, ServerTx, TerminationCause, Ua, UaError, UaEvent, set_body,
    tags,
};
use crate::dialog::reliable::{ReliableProvisionals, requires_100rel, supports_100rel};
use crate::dialog::session_timer::uas_response_headers;
use crate::dialog::{Dialog, DialogId, DialogState, Role};
use crate::header::{RAck, RecordRoute, Replaces, TypedHeader};
use crate::message::{Known, Method, Request, Response, StatusCode};
use crate::transaction::{ReplyPath, Target, TransactionId};
use crate::validate::UasPolicy;

fn path_target(path: &ReplyPath) -> Target {
    Target {
        protocol: path.protocol,
        destination: path.remote,
        connection: path.connection,
    }
}

fn cseq_of(headers: &crate::Headers) -> u32 {
    headers
        .typed::<crate::header::CSeq>()
        .and_then(Result::ok)
        .map_or(0, |c| c.seq)
}

impl Ua {
    pub(crate) fn on_out_of_dialog(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        path: ReplyPath,
    ) {
        match request.method {
            Method::Invite => self.on_new_invite(now, id, request, path),
            Method::Options => self.reply_options(now, id, &request),
            Method::Message => {
                self.servers.insert(
                    id,
                    ServerTx {
                        dialog: None,
                        request: request.clone(),
                        path,
                    },
                );
                self.events.push_back(UaEvent::Message {
                    dialog: None,
                    id,
                    request,
                });
            }
            Method::Subscribe => self.reply(now, id, &request, StatusCode::BAD_EVENT, &[]),
            // REFER outside a dialog (RFC 3515 §2.4.7) is not accepted here
            Method::Refer => self.reply(now, id, &request, StatusCode::FORBIDDEN, &[]),
            Method::Bye
            | Method::Prack
            | Method::Update
            | Method::Info
            | Method::Notify
            | Method::Ack => self.reply(
                now,
                id,
                &request,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                &[],
            ),
            Method::Register | Method::Publish => self.reply(
                now,
                id,
                &request,
                StatusCode::METHOD_NOT_ALLOWED,
                &[(Known::Allow, super::ALLOW)],
            ),
            _ => self.reply(now, id, &request, StatusCode::NOT_IMPLEMENTED, &[]),
        }
    }

    pub(crate) fn reply_options(&mut self, now: Instant, id: TransactionId, request: &Request) {
        let supported = self.supported();
        self.reply(
            now,
            id,
            request,
            StatusCode::OK,
            &[
                (Known::Allow, super::ALLOW),
                (Known::Accept, "application/sdp"),
                (Known::Supported, supported),
            ],
        );
    }

    fn on_new_invite(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        path: ReplyPath,
    ) {
        let mut supported = vec!["timer", "replaces"];
        if self.config.rel100 != Rel100::Disabled {
            supported.push("100rel");
        }
        let policy = UasPolicy {
            supported,
            ..UasPolicy::default()
        };
        if let Err(rejection) = policy.check(&request) {
            let tag = self.rng.token(10);
            let _ =
                self.layer
                    .send_response(now, id, rejection.response(&request).with_to_tag(&tag));
            return;
        }
        let replaces = match request.headers.typed::<Replaces>() {
            None => None,
            Some(Err(_)) => {
                return self.reply(now, id, &request, StatusCode::BAD_REQUEST, &[]);
            }
            Some(Ok(r)) => {
                let found = self
                    .find(
                        &r.call_id,
                        r.to_tag().unwrap_or_default(),
                        r.from_tag().unwrap_or_default(),
                    )
                    .and_then(|d| self.legs.get(&d).map(|l| (d, l)));
                match found {
                    Some((_, leg))
                        if r.early_only() && leg.dialog.state() == DialogState::Confirmed =>
                    {
                        return self.reply(now, id, &request, StatusCode::BUSY_HERE, &[]);
                    }
                    // RFC 3891 §3: not a terminated dialog, not our own early INVITE
                    Some((d, leg))
                        if leg.dialog.state() != DialogState::Terminated
                            && !(leg.dialog.role() == Role::Uac
                                && leg.dialog.state() == DialogState::Early) =>
                    {
                        Some(d)
                    }
                    _ => {
                        return self.reply(
                            now,
                            id,
                            &request,
                            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                            &[],
                        );
                    }
                }
            }
        };
        let Some(session) = self.negotiate_session_or_422(now, id, &request) else {
            return;
        };
        let tag = self.rng.token(10);
        let did = DialogId(self.new_id());
        let dialog = match Dialog::new_uas(did, &request, &tag) {
            Ok(d) => d,
            Err(e) => return self.reply(now, id, &request, e.status(), &[]),
        };
        let mut leg = Leg::new(dialog, Some(path_target(&path)), self.t1());
        leg.invite_tx = Some(id);
        leg.invite = Some(request.clone());
        leg.reply_path = Some(path);
        leg.session_offer = session;
        leg.replaces = replaces;
        leg.surfaced = true;
        leg.reliable = ReliableProvisionals::new(1 + self.rng.next_u32() % 0x00ff_ffff);
        leg.peer_allows_update = allows(&request.headers, &Method::Update);
        self.insert_leg(leg);
        self.invites_in.insert(id, did);
        self.events.push_back(UaEvent::IncomingCall {
            dialog: did,
            request,
            replaces,
        });
    }

    /// Answers the INVITE of dialog `dialog` (from
    /// [`UaEvent::IncomingCall`]): a provisional (sent reliably when the
    /// caller requires `100rel`, or supports it and we are configured with
    /// [`Rel100::Required`]), a 2xx (retransmitted until the ACK; with the
    /// negotiated session timer; taking over the replaced dialog), or a
    /// rejection.
    pub fn answer(
        &mut self,
        now: Instant,
        dialog: DialogId,
        status: StatusCode,
        body: Option<Body>,
    ) -> Result<(), UaError> {
        if status == StatusCode::TRYING {
            return Err(UaError::InvalidStatus(status));
        }
        let leg = self.legs.get(&dialog).ok_or(UaError::NoDialog(dialog))?;
        let (Some(tx), Some(invite), Some(path)) =
            (leg.invite_tx, leg.invite.clone(), leg.reply_path)
        else {
            return Err(UaError::InvalidState(dialog));
        };
        let tag = String::from_utf8_lossy(leg.dialog.local_tag()).into_owned();
        let session = leg.session_offer;
        let mut response = Response::for_request(&invite, status).with_to_tag(&tag);
        if status.class() <= 2 {
            // RFC 3261 §12.1.1: a response that makes a dialog copies Record-Route
            for rr in invite.headers.get_all_bytes(&RecordRoute::NAME) {
                response.headers.push(Known::RecordRoute, rr);
            }
            self.add_capabilities(&mut response.headers, true);
        }
        if status.is_success() {
            if let Some(t) = &session {
                uas_response_headers(&invite.headers, t, &mut response.headers);
            }
        }
        set_body(&mut response.headers, &mut response.body, body.as_ref());
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return Err(UaError::NoDialog(dialog));
        };
        if status.is_provisional() {
            let reliable = self.config.rel100 != Rel100::Disabled
                && (requires_100rel(&invite.headers)
                    || (self.config.rel100 == Rel100::Required
                        && supports_100rel(&invite.headers)));
            if reliable {
                if let Some(r) = leg.reliable.send(response) {
                    self.send_reliable(now, dialog, tx, r)?;
                }
                return Ok(());
            }
            self.layer.send_response(now, tx, response)?;
            return Ok(());
        }
        if status.is_success() {
            leg.local_body = body;
            if let Some(r) = leg.reliable.hold(response) {
                self.send_invite_2xx(now, dialog, tx, r, path)?;
            }
            return Ok(());
        }
        leg.reliable.clear();
        leg.invite = None;
        leg.invite_tx = None;
        self.layer.send_response(now, tx, response)?;
        self.terminate(now, dialog, TerminationCause::Rejected(status));
        Ok(())
    }

    fn send_reliable(
        &mut self,
        now: Instant,
        dialog: DialogId,
        tx: TransactionId,
        response: Response,
    ) -> Result<(), UaError> {
        self.layer.send_response(now, tx, response)?;
        let t1 = self.t1();
        if let Some(leg) = self.legs.get_mut(&dialog) {
            leg.reliable_interval = t1;
        }
        self.set_timer(dialog, DialogTimer::Retransmit1xx, now + t1);
        self.set_timer(dialog, DialogTimer::WaitPrack, now + t1 * 64);
        Ok(())
    }

    /// The 2xx to the dialog-creating INVITE.
    fn send_invite_2xx(
        &mut self,
        now: Instant,
        dialog: DialogId,
        tx: TransactionId,
        response: Response,
        path: ReplyPath,
    ) -> Result<(), UaError> {
        self.send_2xx(now, dialog, tx, response, path)?;
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return Ok(());
        };
        leg.invite = None;
        leg.invite_tx = None;
        leg.dialog.confirm_uas();
        leg.session = leg.session_offer.take();
        let replaced = leg.replaces.take();
        self.start_session_timer(now, dialog);
        if let Some(old) = replaced {
            // RFC 3891 §3: the new dialog takes the old one's place
            if self
                .legs
                .get(&old)
                .is_some_and(|l| l.dialog.state() == DialogState::Confirmed)
            {
                self.send_bye(now, old);
            }
            self.terminate(now, old, TerminationCause::Replaced);
        }
        Ok(())
    }

    /// Sends a 2xx to an INVITE and retransmits it (T1 doubling to T2)
    /// until the ACK, for at most 64·T1 (RFC 3261 §13.3.1.4).
    pub(crate) fn send_2xx(
        &mut self,
        now: Instant,
        dialog: DialogId,
        tx: TransactionId,
        response: Response,
        path: ReplyPath,
    ) -> Result<(), UaError> {
        let cseq = cseq_of(&response.headers);
        let contents = response.to_bytes();
        self.layer.send_response(now, tx, response)?;
        let t1 = self.t1();
        if let Some(leg) = self.legs.get_mut(&dialog) {
            leg.pending_2xx = Some(super::Pending2xx {
                cseq,
                transmit: Transmit {
                    protocol: path.protocol,
                    source: Some(path.local),
                    destination: path.remote,
                    connection: path.connection,
                    contents,
                },
                interval: t1,
            });
        }
        self.set_timer(dialog, DialogTimer::Retransmit2xx, now + t1);
        self.set_timer(dialog, DialogTimer::WaitAck, now + t1 * 64);
        Ok(())
    }

    pub(crate) fn on_2xx_timer(&mut self, now: Instant, dialog: DialogId, timer: DialogTimer) {
        let t2 = self.config.transaction.t2;
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        match timer {
            DialogTimer::Retransmit2xx => {
                let Some(p) = &mut leg.pending_2xx else {
                    return;
                };
                p.interval = (p.interval * 2).min(t2);
                let (transmit, next) = (p.transmit.clone(), now + p.interval);
                self.layer.send_stateless(transmit);
                self.set_timer(dialog, DialogTimer::Retransmit2xx, next);
            }
            _ => {
                if leg.pending_2xx.take().is_some() {
                    leg.timers.stop(DialogTimer::Retransmit2xx);
                    self.send_bye(now, dialog);
                    self.terminate(now, dialog, TerminationCause::AckTimeout);
                }
            }
        }
    }

    pub(crate) fn on_1xx_timer(&mut self, now: Instant, dialog: DialogId, timer: DialogTimer) {
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        let (Some(tx), Some(response)) = (leg.invite_tx, leg.reliable.outstanding().cloned())
        else {
            return;
        };
        match timer {
            DialogTimer::Retransmit1xx => {
                leg.reliable_interval *= 2;
                let next = now + leg.reliable_interval;
                let _ = self.layer.send_response(now, tx, response);
                self.set_timer(dialog, DialogTimer::Retransmit1xx, next);
            }
            _ => {
                // RFC 3262 §3: no PRACK in 64·T1 rejects the INVITE with a 5xx
                leg.reliable.clear();
                leg.timers.stop(DialogTimer::Retransmit1xx);
                if let Some(invite) = leg.invite.take() {
                    leg.invite_tx = None;
                    let tag = String::from_utf8_lossy(leg.dialog.local_tag()).into_owned();
                    let r = Response::for_request(&invite, StatusCode::SERVER_INTERNAL_ERROR)
                        .with_to_tag(&tag);
                    let _ = self.layer.send_response(now, tx, r);
                }
                self.terminate(now, dialog, TerminationCause::PrackTimeout);
            }
        }
    }

    pub(crate) fn on_ack(&mut self, now: Instant, request: Request, _path: ReplyPath) {
        let Some((from_tag, Some(to_tag), call_id)) = tags(&request.headers) else {
            return;
        };
        let Some(dialog) = self.find(&call_id, &to_tag, &from_tag) else {
            return;
        };
        let cseq = cseq_of(&request.headers);
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        if leg.pending_2xx.as_ref().is_none_or(|p| p.cseq != cseq) {
            return;
        }
        leg.pending_2xx = None;
        leg.timers.stop(DialogTimer::Retransmit2xx);
        leg.timers.stop(DialogTimer::WaitAck);
        let bye = std::mem::take(&mut leg.bye_pending);
        self.events.push_back(UaEvent::Acked {
            dialog,
            body: Body::of(&request.headers, &request.body),
        });
        if bye {
            self.send_bye(now, dialog);
            self.terminate(now, dialog, TerminationCause::LocalBye);
        }
    }

    /// A CANCEL matched INVITE transaction `invite` (the layer answered it
    /// 200): the INVITE gets 487 unless it was answered.
    pub(crate) fn on_cancel(&mut self, now: Instant, invite: TransactionId) {
        let Some(&dialog) = self.invites_in.get(&invite) else {
            return;
        };
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        let Some(request) = leg.invite.take() else {
            return;
        };
        leg.invite_tx = None;
        leg.reliable.clear();
        let tag = String::from_utf8_lossy(leg.dialog.local_tag()).into_owned();
        let r = Response::for_request(&request, StatusCode::REQUEST_TERMINATED).with_to_tag(&tag);
        let _ = self.layer.send_response(now, invite, r);
        self.terminate(now, dialog, TerminationCause::Cancelled);
    }

    /// A PRACK (RFC 3262 §3): 200 when it acknowledges our outstanding
    /// reliable provisional response (then the queued ones go), else 481.
    pub(crate) fn on_prack(
        &mut self,
        now: Instant,
        id: TransactionId,
        dialog: DialogId,
        request: Request,
    ) {
        let Some(Ok(rack)) = request.headers.typed::<RAck>() else {
            return self.reply(now, id, &request, StatusCode::BAD_REQUEST, &[]);
        };
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        let invite_seq = leg.invite.as_ref().map(|i| cseq_of(&i.headers));
        if !invite_seq.is_some_and(|seq| leg.reliable.acknowledge(&rack, seq)) {
            return self.reply(
                now,
                id,
                &request,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                &[],
            );
        }
        leg.timers.stop(DialogTimer::Retransmit1xx);
        leg.timers.stop(DialogTimer::WaitPrack);
        self.reply(now, id, &request, StatusCode::OK, &[]);
        self.events.push_back(UaEvent::PrackReceived {
            dialog,
            body: Body::of(&request.headers, &request.body),
        });
        // what waited for this PRACK goes now
        let Some(leg) = self.legs.get_mut(&dialog) else {
            return;
        };
        let (Some(tx), Some(path)) = (leg.invite_tx, leg.reply_path) else {
            return;
        };
        let Some(next) = leg.reliable.next_queued() else {
            return;
        };
        if next.status.is_provisional() {
            if let Some(r) = leg.reliable.send(next) {
                let _ = self.send_reliable(now, dialog, tx, r);
            }
        } else {
            let _ = self.send_invite_2xx(now, dialog, tx, next, path);
        }
    }
}
