//! The user agent core (RFC 3261 §8, §12-15, with RFC 3262, 3311, 3428,
//! 3515, 3891, 3892, 4028 and 6665 as REFER needs it), sans-IO.
//!
//! A [`Ua`] owns a [`TransactionLayer`] and the dialogs of one endpoint.
//! Feed it datagrams ([`Ua::handle_receive`]), timeouts
//! ([`Ua::handle_timeout`]) and the application's commands
//! ([`Ua::invite`], [`Ua::answer`], [`Ua::bye`], [`Ua::reinvite`], ...);
//! drain [`Ua::poll_transmit`], [`Ua::poll_event`] and [`Ua::poll_timeout`].
//! The application decides every answer; bodies (SDP) pass through as
//! bytes.
//!
//! The core does on its own what the RFCs leave to no one else: the ACK
//! of a 2xx (retransmitted on each 2xx retransmission), 2xx
//! retransmission until the ACK and BYE after 64·T1 without one, ACK and
//! BYE of extra forked 2xx, 481 for unknown dialogs and 500 for CSeq
//! disorder, 491 on glare and the §14.1 retry, PRACK of reliable
//! provisional responses and their retransmission, session timer
//! negotiation, refresh and expiry, 422 retry, CANCEL, and the
//! NOTIFYs of a REFER's implicit subscription.
//!
//! ```
//! use std::time::Instant;
//! use voip_core::Rng;
//! use voip_sip::ua::{Body, InviteOptions, Ua, UaConfig, UaEvent};
//!
//! let config = UaConfig::new("127.0.0.1:5070".parse().unwrap(), "sip:alice@127.0.0.1:5070".parse().unwrap());
//! let mut ua = Ua::new(config, Rng::seeded(1));
//! let now = Instant::now();
//! let call = ua
//!     .invite(
//!         now,
//!         InviteOptions::new("sip:alice@example.com".parse().unwrap(), "sip:bob@127.0.0.1:5080".parse().unwrap())
//!             .body(Body::sdp("v=0\r\n")),
//!     )
//!     .unwrap();
//! let invite = ua.poll_transmit().unwrap(); // to 127.0.0.1:5080
//! assert!(invite.contents.starts_with(b"INVITE sip:bob@127.0.0.1:5080 SIP/2.0"));
//! assert!(ua.poll_timeout().is_some()); // Timer A
//! // ... hand datagrams to ua.handle_receive(now, rx), call ua.handle_timeout(now)
//! // at ua.poll_timeout(), and act on ua.poll_event():
//! while let Some(event) = ua.poll_event() {
//!     if let UaEvent::Answered { dialog, .. } = event { let _ = ua.bye(now, dialog); }
//! }
//! # let _ = call;
//! ```

mod config;
mod event;
mod in_dialog;
mod leg;
mod offer;
mod timer;
mod transfer;
mod uac;
mod uas;

pub use config::{Rel100, UaConfig};
pub use event::{Body, InviteOptions, RequestId, TerminationCause, UaEvent};
pub use timer::DialogTimer;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::{Receive, Rng, Transmit};

use crate::auth::ClientAuthState;
use crate::dialog::session_timer::SessionTimer;
use crate::dialog::{Dialog, DialogId, DialogKey, DialogState};
use crate::header::Route;
use crate::message::{Known, Message, Method, Request, Response, StatusCode, parse_message};
use crate::transaction::{
    ReplyPath, Target, TransactionError, TransactionEvent, TransactionId, TransactionLayer,
};
use leg::{CancelState, ClientTx, Leg, OutgoingCall, Pending2xx, Purpose, Retry, ServerTx};

/// Methods a [`Ua`] handles (its Allow header).
pub const ALLOW: &str =
    "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, MESSAGE, REFER, NOTIFY";

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UaError {
    /// No such dialog (or it ended).
    #[error("no dialog {0:?}")]
    NoDialog(DialogId),
    /// No such outgoing INVITE in progress.
    #[error("no request {0:?} in progress")]
    NoRequest(RequestId),
    /// No request waits for an answer on that transaction.
    #[error("no request to answer on {0:?}")]
    NoServerTransaction(TransactionId),
    /// The dialog's state does not allow that.
    #[error("dialog {0:?} cannot do that in its state")]
    InvalidState(DialogId),
    /// An INVITE or offer is already in progress in the dialog (RFC 3261
    /// §14.1, RFC 3311 §5.1): wait for its answer.
    #[error("an invite or offer is already in progress")]
    Pending,
    /// The status cannot be sent here (100, or a provisional to a non-INVITE).
    #[error("status {0} cannot be sent here")]
    InvalidStatus(StatusCode),
    /// No next hop: the URI host is not an IP address and no outbound
    /// proxy is configured.
    #[error("no next hop for {0}")]
    NoRoute(String),
    /// The transaction layer refused.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

/// A SIP user agent core: UAC and UAS dialogs over one transaction layer.
#[derive(Debug)]
pub struct Ua {
    pub(crate) config: UaConfig,
    pub(crate) layer: TransactionLayer,
    pub(crate) rng: Rng,
    pub(crate) auth: ClientAuthState,
    next_id: u64,
    pub(crate) legs: HashMap<DialogId, Leg>,
    pub(crate) keys: HashMap<DialogKey, DialogId>,
    pub(crate) calls: HashMap<RequestId, OutgoingCall>,
    pub(crate) clients: HashMap<TransactionId, ClientTx>,
    pub(crate) servers: HashMap<TransactionId, ServerTx>,
    pub(crate) invites_in: HashMap<TransactionId, DialogId>,
    /// Server transactions of requests outside a dialog by Call-ID, From
    /// tag, CSeq and method, to spot merged requests (RFC 3261 §8.2.2.2).
    pub(crate) merged: HashMap<(Bytes, Bytes, u32, Method), TransactionId>,
    merged_by_tx: HashMap<TransactionId, (Bytes, Bytes, u32, Method)>,
    deadlines: BinaryHeap<Reverse<(Instant, DialogId)>>,
    pub(crate) events: VecDeque<UaEvent>,
}

impl Ua {
    /// A UA with `config`; tags, Call-IDs, branches, CSeq and RSeq starts and
    /// the §14.1 retry delays come from `rng`.
    pub fn new(config: UaConfig, mut rng: Rng) -> Self {
        // the layer draws only the To tags of its CANCEL answers
        let layer = TransactionLayer::new(config.transaction, Rng::seeded(rng.next_u64()));
        Self {
            config,
            layer,
            rng,
            auth: ClientAuthState::new(),
            next_id: 1,
            legs: HashMap::new(),
            keys: HashMap::new(),
            calls: HashMap::new(),
            clients: HashMap::new(),
            servers: HashMap::new(),
            invites_in: HashMap::new(),
            merged: HashMap::new(),
            merged_by_tx: HashMap::new(),
            deadlines: BinaryHeap::new(),
            events: VecDeque::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &UaConfig {
        &self.config
    }

    /// A dialog, while it exists (terminated ones linger for 64·T1).
    pub fn dialog(&self, id: DialogId) -> Option<&Dialog> {
        self.legs.get(&id).map(|l| &l.dialog)
    }

    /// The session timer of a dialog, once negotiated.
    pub fn session_timer(&self, id: DialogId) -> Option<SessionTimer> {
        self.legs.get(&id).and_then(|l| l.session)
    }

    /// Number of dialogs held (terminated ones included while they linger).
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    /// Whether no dialog is held.
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// Handles a datagram or framed message from the network.
    pub fn handle_receive(&mut self, now: Instant, rx: Receive) {
        let path = ReplyPath::from(&rx);
        let message = match parse_message(rx.contents.clone(), &self.config.parse) {
            Ok(m) => m,
            Err(e) => {
                let tag = self.rng.token(10);
                if let Some(reply) = crate::reply::reply_to_malformed(&rx.contents, &e, &tag) {
                    self.layer.send_stateless(Transmit::reply_to(&rx, reply));
                }
                return;
            }
        };
        let message = match message {
            Message::Request(mut request) => {
                if let Err(rejection) = crate::validate::check_request(&request) {
                    if request.method != Method::Ack {
                        let tag = self.rng.token(10);
                        let reply = rejection.response(&request).with_to_tag(&tag);
                        self.layer
                            .send_stateless(Transmit::reply_to(&rx, reply.to_bytes()));
                    }
                    return;
                }
                if let Some(Ok(mut via)) = request.via() {
                    via.stamp_source(rx.source);
                    crate::transaction::replace_top_via(&mut request, &via);
                }
                Message::Request(request)
            }
            Message::Response(r) => {
                if r.cseq().and_then(Result::ok).is_none() || r.call_id().is_none() {
                    return;
                }
                Message::Response(r)
            }
        };
        self.layer.handle_message(now, message, path);
        self.drain_layer(now);
    }

    /// Fires the timers due at `now` (transactions and dialogs).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        self.drain_layer(now);
        while let Some(Reverse((at, id))) = self.deadlines.peek().copied() {
            if at > now {
                break;
            }
            self.deadlines.pop();
            // every timer set pushes its own entry: a stale one (the timer
            // moved or stopped) is dropped without rescheduling
            if self.legs.get(&id).and_then(|l| l.timers.next()) != Some(at) {
                continue;
            }
            while let Some(timer) = self
                .legs
                .get_mut(&id)
                .and_then(|l| l.timers.take_expired(now))
            {
                self.on_dialog_timer(now, id, timer);
                self.drain_layer(now);
            }
        }
        self.drain_layer(now);
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.layer.poll_transmit()
    }

    /// The next event for the application.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<UaEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline of a transaction or dialog timer.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.prune();
        let dialogs = self.deadlines.peek().map(|Reverse((at, _))| *at);
        match (self.layer.poll_timeout(), dialogs) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn prune(&mut self) {
        while let Some(Reverse((at, id))) = self.deadlines.peek().copied() {
            if self.legs.get(&id).and_then(|l| l.timers.next()) == Some(at) {
                break;
            }
            self.deadlines.pop();
        }
    }

    pub(crate) fn set_timer(&mut self, id: DialogId, timer: DialogTimer, at: Instant) {
        if let Some(leg) = self.legs.get_mut(&id) {
            leg.timers.set(timer, at);
            self.deadlines.push(Reverse((at, id)));
        }
    }

    pub(crate) fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn t1(&self) -> Duration {
        self.config.transaction.t1
    }

    fn drain_layer(&mut self, now: Instant) {
        while let Some(event) = self.layer.poll_event() {
            match event {
                TransactionEvent::Request {
                    id,
                    request,
                    path,
                    cancels,
                } => self.on_request(now, id, request, path, cancels),
                TransactionEvent::Ack { request, path } => self.on_ack(now, request, path),
                TransactionEvent::Response { id, response } => self.on_response(now, id, response),
                TransactionEvent::StrayResponse { response, .. } => {
                    self.on_stray_response(now, response)
                }
                TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                    self.on_client_failure(now, id)
                }
                TransactionEvent::Terminated { id } => {
                    if let Some(ClientTx {
                        purpose: Purpose::Invite(call),
                        ..
                    }) = self.clients.remove(&id)
                    {
                        // Timer M ran out: no more forks can answer
                        if self.calls.get(&call).is_some_and(|c| c.tx == id) {
                            self.calls.remove(&call);
                        }
                    }
                    self.servers.remove(&id);
                    self.invites_in.remove(&id);
                    if let Some(key) = self.merged_by_tx.remove(&id) {
                        self.merged.remove(&key);
                    }
                }
            }
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        path: ReplyPath,
        cancels: Option<TransactionId>,
    ) {
        if request.method == Method::Cancel {
            if let Some(invite) = cancels {
                self.on_cancel(now, invite);
            }
            return;
        }
        let to_tag = request
            .to()
            .and_then(Result::ok)
            .and_then(|t| t.tag().map(Bytes::copy_from_slice));
        match to_tag {
            Some(tag) => self.on_in_dialog(now, id, request, path, tag),
            None => {
                // RFC 3261 §8.2.2.2: the same request over another path is 482
                let key = tags(&request.headers).map(|(from_tag, _, call_id)| {
                    let seq = request.cseq().and_then(Result::ok).map_or(0, |c| c.seq);
                    (call_id, from_tag, seq, request.method.clone())
                });
                if let Some(key) = key {
                    if self.merged.get(&key).is_some_and(|t| *t != id) {
                        return self.reply(now, id, &request, StatusCode::LOOP_DETECTED, &[]);
                    }
                    self.merged.insert(key.clone(), id);
                    self.merged_by_tx.insert(id, key);
                }
                self.on_out_of_dialog(now, id, request, path)
            }
        }
    }

    fn on_response(&mut self, now: Instant, id: TransactionId, response: Response) {
        let Some(tx) = self.clients.get(&id).cloned() else {
            return;
        };
        if matches!(
            response.status,
            StatusCode::UNAUTHORIZED | StatusCode::PROXY_AUTHENTICATION_REQUIRED
        ) && !tx.challenged
            && self.retry_with_credentials(now, id, &tx, &response)
        {
            return;
        }
        match tx.purpose {
            Purpose::Invite(request) => self.on_invite_response(now, request, id, response),
            Purpose::ReInvite {
                dialog,
                request,
                body,
            } => self.on_offer_response(now, dialog, Method::Invite, request, body, id, response),
            Purpose::Update {
                dialog,
                request,
                body,
            } => self.on_offer_response(now, dialog, Method::Update, request, body, id, response),
            Purpose::Other { dialog, request } if response.status.is_final() => {
                let method = tx.request.method.clone();
                self.end_dialog_on_failure(now, dialog, response.status);
                self.events.push_back(UaEvent::Response {
                    request,
                    dialog,
                    method,
                    status: response.status,
                    response: Some(response),
                });
            }
            Purpose::Notify(dialog) if response.status.is_final() => {
                self.end_dialog_on_failure(now, Some(dialog), response.status);
            }
            _ => {}
        }
    }

    /// RFC 3261 §12.2.1.2: a 481 or 408 to a request within a dialog ends it.
    pub(crate) fn end_dialog_on_failure(
        &mut self,
        now: Instant,
        dialog: Option<DialogId>,
        status: StatusCode,
    ) {
        let Some(dialog) = dialog else { return };
        if matches!(
            status,
            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST | StatusCode::REQUEST_TIMEOUT
        ) && self
            .legs
            .get(&dialog)
            .is_some_and(|l| l.dialog.state != DialogState::Terminated)
        {
            if status == StatusCode::REQUEST_TIMEOUT {
                self.send_bye(now, dialog);
            }
            self.terminate(now, dialog, TerminationCause::RequestFailed(status));
        }
    }

    fn on_client_failure(&mut self, now: Instant, id: TransactionId) {
        let Some(tx) = self.clients.get(&id).cloned() else {
            return;
        };
        let timeout = StatusCode::REQUEST_TIMEOUT;
        match tx.purpose {
            Purpose::Invite(request) => self.on_invite_timeout(now, request, id),
            Purpose::ReInvite {
                dialog, request, ..
            }
            | Purpose::Update {
                dialog, request, ..
            } => {
                if let Some(leg) = self.legs.get_mut(&dialog) {
                    if leg.offer_out.as_ref().is_some_and(|(_, t)| *t == id) {
                        leg.offer_out = None;
                    }
                }
                if let Some(request) = request {
                    self.events.push_back(UaEvent::Response {
                        request,
                        dialog: Some(dialog),
                        method: tx.request.method.clone(),
                        status: timeout,
                        response: None,
                    });
                }
                // RFC 3261 §14.1 and RFC 4028 §10: a re-INVITE, UPDATE or
                // refresh that times out ends the dialog with BYE
                if self
                    .legs
                    .get(&dialog)
                    .is_some_and(|l| l.dialog.state == DialogState::Confirmed)
                {
                    self.end_dialog_on_failure(now, Some(dialog), timeout);
                }
            }
            Purpose::Other { dialog, request } => {
                self.end_dialog_on_failure(now, dialog, timeout);
                self.events.push_back(UaEvent::Response {
                    request,
                    dialog,
                    method: tx.request.method.clone(),
                    status: timeout,
                    response: None,
                });
            }
            Purpose::Notify(dialog) => self.end_dialog_on_failure(now, Some(dialog), timeout),
            Purpose::Prack | Purpose::Bye | Purpose::Cancel => {}
        }
    }

    /// Answers a 401/407 once with the configured credentials: same
    /// request, next CSeq, new branch, same purpose.
    fn retry_with_credentials(
        &mut self,
        now: Instant,
        id: TransactionId,
        tx: &ClientTx,
        challenge: &Response,
    ) -> bool {
        let Some((user, pass)) = self.config.credentials.clone() else {
            return false;
        };
        let mut request = tx.request.clone();
        if self
            .auth
            .authorize(&mut request, challenge, &user, &pass, &mut self.rng)
            .is_err()
        {
            return false;
        }
        let dialog = match &tx.purpose {
            Purpose::ReInvite { dialog, .. }
            | Purpose::Update { dialog, .. }
            | Purpose::Notify(dialog) => Some(*dialog),
            Purpose::Other { dialog, .. } => *dialog,
            _ => None,
        };
        let old = request.cseq().and_then(Result::ok).map_or(1, |c| c.seq);
        let seq = match dialog.and_then(|d| self.legs.get_mut(&d)) {
            Some(leg) => leg.dialog.next_local_seq(old + 1),
            None => old + 1,
        };
        request.headers.set_typed(&crate::header::CSeq {
            seq,
            method: request.method.clone(),
        });
        request.headers.remove_first(&Known::Via.into());
        let purpose = tx.purpose.clone();
        let Ok(new_id) = self.send_request(now, request, Some(tx.target), purpose.clone()) else {
            return false;
        };
        if let Some(t) = self.clients.get_mut(&new_id) {
            t.challenged = true;
        }
        match purpose {
            Purpose::Invite(r) => {
                let sent = self.clients.get(&new_id).map(|t| t.request.clone());
                if let (Some(call), Some(sent)) = (self.calls.get_mut(&r), sent) {
                    call.tx = new_id;
                    call.request = sent;
                }
            }
            Purpose::ReInvite { dialog, .. } | Purpose::Update { dialog, .. } => {
                if let Some(leg) = self.legs.get_mut(&dialog) {
                    if let Some((_, t)) = &mut leg.offer_out {
                        if *t == id {
                            *t = new_id;
                        }
                    }
                }
            }
            _ => {}
        }
        true
    }

    /// The next hop of `request`: the outbound proxy, else the first Route
    /// (or the Request-URI) when its host is an IP address, else `fallback`.
    pub(crate) fn next_hop(&self, request: &Request, fallback: Option<Target>) -> Option<Target> {
        if let Some(p) = self.config.outbound_proxy {
            return Some(p);
        }
        let route = request.headers.typed::<Route>().and_then(Result::ok);
        let uri = route.as_ref().map_or(&request.uri, |r| r.uri());
        let hop = uri.as_sip().and_then(crate::proxy::uri_target);
        match (hop, fallback) {
            // the connection the peer uses, when it is the same place
            (Some(h), Some(f)) if h.destination == f.destination && h.protocol == f.protocol => {
                Some(f)
            }
            (Some(h), _) => Some(h),
            (None, f) => f,
        }
    }

    /// A Via for a request over `protocol`, with a new branch.
    pub(crate) fn via(&mut self, protocol: voip_core::TransportProtocol) -> Bytes {
        Bytes::from(format!(
            "SIP/2.0/{} {};rport;branch=z9hG4bK{}",
            protocol.as_str(),
            self.config.local_addr,
            self.rng.token(16)
        ))
    }

    /// Sends `request` (no Via yet) through a new client transaction.
    pub(crate) fn send_request(
        &mut self,
        now: Instant,
        mut request: Request,
        fallback: Option<Target>,
        purpose: Purpose,
    ) -> Result<TransactionId, UaError> {
        let target = self
            .next_hop(&request, fallback)
            .ok_or_else(|| UaError::NoRoute(request.uri.to_string()))?;
        let via = self.via(target.protocol);
        request.headers.prepend_raw(Known::Via, via);
        let id = self.layer.send_request(now, request.clone(), target)?;
        self.clients.insert(
            id,
            ClientTx {
                purpose,
                request,
                target,
                challenged: false,
            },
        );
        Ok(id)
    }

    /// Contact, Allow, Supported and User-Agent for a request or response
    /// that creates or refreshes a dialog.
    pub(crate) fn add_capabilities(&self, headers: &mut crate::Headers, contact: bool) {
        if contact {
            headers.push(Known::Contact, format!("<{}>", self.config.contact));
        }
        headers.push(Known::Allow, ALLOW);
        headers.push(Known::Supported, self.supported());
        if let Some(ua) = &self.config.user_agent {
            headers.push(Known::UserAgent, ua.clone());
        }
    }

    pub(crate) fn supported(&self) -> &'static str {
        match self.config.rel100 {
            Rel100::Disabled => "timer, replaces",
            _ => "100rel, timer, replaces",
        }
    }

    /// Answers a request that the core handles itself.
    /// The session timer a request asks for (RFC 4028 §9), or `None` after
    /// answering 422 with our Min-SE when its interval is too small.
    pub(crate) fn negotiate_session_or_422(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: &Request,
    ) -> Option<Option<SessionTimer>> {
        match crate::dialog::session_timer::negotiate_uas(
            &request.headers,
            &self.config.session_timer,
        ) {
            Ok(s) => Some(s),
            Err(min) => {
                let min = min.to_string();
                self.reply(
                    now,
                    id,
                    request,
                    StatusCode::SESSION_INTERVAL_TOO_SMALL,
                    &[(Known::MinSe, &min)],
                );
                None
            }
        }
    }

    pub(crate) fn reply(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: &Request,
        status: StatusCode,
        extra: &[(Known, &str)],
    ) {
        let tag = self.rng.token(10);
        let mut response = Response::for_request(request, status).with_to_tag(&tag);
        for (name, value) in extra {
            response.headers.push(*name, value.to_string());
        }
        let _ = self.layer.send_response(now, id, response);
    }

    /// Ends dialog `id`: timers stopped, kept 64·T1 for late
    /// retransmissions, and a [`UaEvent::Terminated`] if the application
    /// knows it.
    pub(crate) fn terminate(&mut self, now: Instant, id: DialogId, cause: TerminationCause) {
        let linger = now + self.t1() * 64;
        let Some(leg) = self.legs.get_mut(&id) else {
            return;
        };
        if leg.dialog.state == DialogState::Terminated {
            return;
        }
        tracing::debug!(dialog = id.0, ?cause, "dialog terminated");
        leg.dialog.state = DialogState::Terminated;
        leg.timers.stop_all();
        leg.pending_2xx = None;
        leg.reliable.clear();
        leg.glare = None;
        leg.timers.set(DialogTimer::Linger, linger);
        let surfaced = leg.surfaced;
        self.deadlines.push(Reverse((linger, id)));
        if surfaced {
            self.events
                .push_back(UaEvent::Terminated { dialog: id, cause });
        }
    }

    fn remove_leg(&mut self, id: DialogId) {
        if let Some(leg) = self.legs.remove(&id) {
            let key = leg.dialog.key();
            if self.keys.get(&key) == Some(&id) {
                self.keys.remove(&key);
            }
        }
    }

    fn on_dialog_timer(&mut self, now: Instant, id: DialogId, timer: DialogTimer) {
        match timer {
            DialogTimer::Retransmit2xx | DialogTimer::WaitAck => self.on_2xx_timer(now, id, timer),
            DialogTimer::Retransmit1xx | DialogTimer::WaitPrack => {
                self.on_1xx_timer(now, id, timer)
            }
            DialogTimer::SessionRefresh => self.on_session_refresh(now, id),
            DialogTimer::SessionExpiry => {
                if self
                    .legs
                    .get(&id)
                    .is_some_and(|l| l.dialog.state == DialogState::Confirmed)
                {
                    self.send_bye(now, id);
                    self.terminate(now, id, TerminationCause::SessionExpired);
                }
            }
            DialogTimer::GlareRetry => self.on_glare_retry(now, id),
            DialogTimer::Linger => self.remove_leg(id),
        }
    }

    /// Looks up the dialog of a message from the peer by Call-ID, our tag
    /// and its tag.
    pub(crate) fn find(&self, call_id: &[u8], local: &[u8], remote: &[u8]) -> Option<DialogId> {
        self.keys
            .get(&DialogKey {
                call_id: Bytes::copy_from_slice(call_id),
                local_tag: Bytes::copy_from_slice(local),
                remote_tag: Bytes::copy_from_slice(remote),
            })
            .copied()
    }

    pub(crate) fn insert_leg(&mut self, leg: Leg) -> DialogId {
        let id = leg.dialog.id();
        self.keys.insert(leg.dialog.key(), id);
        self.legs.insert(id, leg);
        id
    }
}

/// The From tag, To tag and Call-ID of a message.
pub(crate) fn tags(headers: &crate::Headers) -> Option<(Bytes, Option<Bytes>, Bytes)> {
    let from = headers.typed::<crate::header::From>()?.ok()?;
    let to = headers.typed::<crate::header::To>()?.ok()?;
    let call_id = headers.typed::<crate::header::CallId>()?.ok()?;
    Some((
        Bytes::copy_from_slice(from.tag()?),
        to.tag().map(Bytes::copy_from_slice),
        call_id.0,
    ))
}

/// Puts `body` (with its Content-Type) into a message's headers and body.
pub(crate) fn set_body(headers: &mut crate::Headers, slot: &mut Bytes, body: Option<&Body>) {
    match body {
        Some(b) => {
            headers.set(Known::ContentType.into(), b.content_type.clone());
            headers.set(
                Known::ContentLength.into(),
                Bytes::from(b.data.len().to_string()),
            );
            *slot = b.data.clone();
        }
        None => {
            headers.set(Known::ContentLength.into(), Bytes::from_static(b"0"));
            *slot = Bytes::new();
        }
    }
}
