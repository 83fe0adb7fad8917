//! Offers within a dialog: re-INVITE (RFC 3261 §14) and UPDATE (RFC 3311)
//! in both directions, glare (491, 500 with Retry-After, the §14.1 retry),
//! and session refreshes (RFC 4028 §9-10).

use std::time::{Duration, Instant};

use super::uac::allows;
use super::{Body, DialogTimer, Purpose, RequestId, Retry, ServerTx, Ua, UaError, UaEvent};
use crate::dialog::session_timer::{uac_request_headers, uas_response_headers};
use crate::dialog::{DialogId, DialogState, Role};
use crate::header::MinSe;
use crate::message::{Known, Method, Request, Response, StatusCode};
use crate::transaction::{ReplyPath, TransactionId};

impl Ua {
    fn retry_after(&mut self) -> String {
        (self.rng.next_u32() % 11).to_string()
    }

    pub(crate) fn on_reinvite(
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
        let Some(session) = self.negotiate_session_or_422(now, id, &request) else {
            return;
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

    pub(crate) fn on_update(
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
        let confirmed = leg.dialog.state() == DialogState::Confirmed;
        let Some(session) = self.negotiate_session_or_422(now, id, &request) else {
            return;
        };
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
            .map(|h| (h.name.clone(), h.value_bytes()))
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
        } else {
            // an old transaction, or a 2xx retransmission while the
            // application prepares the ACK
            return;
        }
        if leg.dialog.state() == DialogState::Terminated {
            // the dialog ended meanwhile: the 2xx still gets its ACK
            if method == Method::Invite && status.is_success() {
                let cseq = response.cseq().and_then(Result::ok).map_or(0, |c| c.seq);
                let answer = if body.is_some() {
                    None
                } else {
                    leg.local_body.clone()
                };
                self.send_ack(now, dialog, cseq, answer.as_ref());
            }
            if let Some(request) = request {
                self.events.push_back(UaEvent::Response {
                    request,
                    dialog: Some(dialog),
                    method,
                    status,
                    response: Some(response),
                });
            }
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
            // the refresher learns of a failed refresh from its transaction
            // (§10: timeout, 408, 481 end the session); the full interval
            // is only its safety net
            self.set_timer(dialog, DialogTimer::SessionRefresh, now + t.refresh_after());
            let full = std::time::Duration::from_secs(u64::from(t.interval));
            self.set_timer(dialog, DialogTimer::SessionExpiry, now + full);
        } else {
            self.set_timer(dialog, DialogTimer::SessionExpiry, now + t.expire_after());
        }
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
}
