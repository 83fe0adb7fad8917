//! The IVR media server: a SIP user agent ([`Ua`]) on its own loopback
//! socket behind the proxy, one [`Ivr`] machine and one media task per
//! call, and the transfer to an agent group.
//!
//! ```text
//! caller ─INVITE 9999─► SipCore (407, Record-Route, CDR) ─► IvrServer (Ua)
//!        ◄──── 200 + SDP (PCMU, telephone-event) ────────┘
//!        ◄════ prompt RTP (20 ms PCMU) ═══ media task ◄── TtsCache (8 kHz)
//!        ════ RFC 4733 / in-band / INFO keys ═══► Ivr::handle_digit
//! Transfer(group) ─► Agents::pick ─► INVITE sip:<agent>@<domain> ─► SipCore
//!   (trusted source: no 407) ─► agent; 200 ─► media task relays RTP both ways
//! BYE from either side ─► BYE to the other
//! ```

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};
use voip_core::{Receive, Rng, TransportProtocol};
use voip_ivr::tts::TtsCache;
use voip_ivr::{Event, FinishReason, Ivr, IvrConfig, MenuSet, Prompt, Variables};
use voip_media::{
    DtmfDeduper, DtmfReport, DtmfSource, InfoDtmf, LocalMedia, SdpCodec, SdpConfig, SdpSession,
};
use voip_sip::dialog::DialogId;
use voip_sip::transaction::Target as SipTarget;
use voip_sip::ua::{Body, RequestId, TerminationCause, Ua, UaConfig, UaEvent};
use voip_sip::{Request, StatusCode, Uri};

mod transfer;

pub use transfer::QUEUE_PROMPT;

use super::agents_table::{AgentRow, AgentWriter};
use super::clock::MediaClock;
use super::config::IvrSettings;
use super::groups::{Agents, Group};
use super::media::{self, CallerMedia, MediaCommand, MediaEvent, MediaHandle};
use super::queue::{Queues, Ticket};
use super::recording::IvrRecording;
use super::rtp::PortPool;
use super::webhook::WebhookClient;
use crate::media::recording::RecordingSettings;
use crate::sip::calls::{CallEvent, LegQuality};
use crate::store::cdr::CdrSender;

/// The webhook client's own timeout (the machine's deadline is 10 s).
const WEBHOOK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Said when no agent of the group can take the call.
pub const BUSY_PROMPT: &str = "All our agents are busy. Please call again later. Goodbye.";

/// A rendered prompt (or why not) for a call's playback token.
type Render = (u64, u64, Result<Arc<[i16]>, String>);

/// A webhook's answer body (or why not) for a call.
type WebhookAnswer = (u64, Result<Vec<u8>, String>);

/// What happens to a call after the menu.
#[derive(Debug)]
enum Stage {
    /// In the menu.
    Menu,
    /// Ringing agents.
    Ringing {
        /// The group (a one-member group for an extension).
        group: Group,
        /// Agents already rung.
        tried: Vec<String>,
        /// Outstanding INVITEs.
        legs: Vec<AgentLeg>,
        /// When to give up on them.
        until: Instant,
        /// The caller's place in the queue, when it came from there.
        ticket: Option<Ticket>,
    },
    /// Waiting in the group's queue, hearing hold music.
    Queued {
        /// The group.
        group: Group,
    },
    /// Talking to an agent.
    Bridged {
        /// The agent's dialog.
        dialog: DialogId,
        /// Its extension.
        agent: String,
        /// Offer/answer with the agent (its re-INVITEs: hold, resume, a
        /// move); boxed, the other stages are small.
        sdp: Box<SdpSession>,
    },
    /// Saying the busy prompt, then hanging up.
    Closing,
    /// BYE sent or received; waiting for the dialogs to end.
    Ended,
}

/// One INVITE to an agent.
#[derive(Debug)]
struct AgentLeg {
    request: RequestId,
    agent: String,
    socket: std::net::UdpSocket,
    sdp: SdpSession,
}

#[derive(Debug)]
struct Call {
    caller_dialog: DialogId,
    /// The caller's Call-ID (its call record's key).
    call_id: String,
    caller: String,
    ivr: Ivr,
    media: MediaHandle,
    dedupe: DtmfDeduper,
    /// The playback the media task may report finished.
    token: u64,
    stage: Stage,
    /// Offer/answer with the caller (re-INVITEs: hold, resume, a move).
    sdp: SdpSession,
}

/// The side of a call a dialog belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leg {
    Caller,
    Agent,
}

impl Call {
    /// The offer/answer session of `dialog` in this call: the caller's, or
    /// the agent's once bridged.
    fn session(&mut self, dialog: DialogId) -> Option<(Leg, &mut SdpSession)> {
        if self.caller_dialog == dialog {
            return Some((Leg::Caller, &mut self.sdp));
        }
        match &mut self.stage {
            Stage::Bridged { dialog: d, sdp, .. } if *d == dialog => Some((Leg::Agent, &mut **sdp)),
            _ => None,
        }
    }
}

/// The IVR server (see the module docs).
#[derive(Debug)]
pub struct IvrServer {
    settings: IvrSettings,
    domain: String,
    socket: UdpSocket,
    local: SocketAddr,
    ua: Ua,
    rng: Rng,
    menus: watch::Receiver<Arc<MenuSet>>,
    tts: Arc<TtsCache>,
    hold: Arc<[i16]>,
    clock: MediaClock,
    pool: PortPool,
    agents: Agents,
    queues: Queues,
    registered: watch::Receiver<BTreeSet<String>>,
    writer: AgentWriter,
    names: HashMap<String, String>,
    trunks: HashMap<String, String>,
    cdr: Option<CdrSender>,
    recording: Option<RecordingSettings>,
    calls: HashMap<u64, Call>,
    dialogs: HashMap<DialogId, u64>,
    requests: HashMap<RequestId, u64>,
    next_call: u64,
    media_tx: mpsc::UnboundedSender<(u64, MediaEvent)>,
    media_rx: mpsc::UnboundedReceiver<(u64, MediaEvent)>,
    render_tx: mpsc::UnboundedSender<Render>,
    render_rx: mpsc::UnboundedReceiver<Render>,
    webhooks: WebhookClient,
    webhook_tx: mpsc::UnboundedSender<WebhookAnswer>,
    webhook_rx: mpsc::UnboundedReceiver<WebhookAnswer>,
}

/// Everything [`IvrServer::new`] needs.
#[derive(Debug)]
pub struct IvrParts {
    /// The settings.
    pub settings: IvrSettings,
    /// The SIP domain (agents are `sip:<ext>@<domain>`).
    pub domain: String,
    /// The IVR's bound SIP socket.
    pub socket: UdpSocket,
    /// The proxy's UDP listener.
    pub proxy: SocketAddr,
    /// The menus (replaced when the tables change).
    pub menus: watch::Receiver<Arc<MenuSet>>,
    /// The prompt cache.
    pub tts: Arc<TtsCache>,
    /// Hold music, 8 kHz.
    pub hold: Arc<[i16]>,
    /// Registered agents, from the SIP driver.
    pub registered: watch::Receiver<BTreeSet<String>>,
    /// Writes the `agents` table.
    pub writer: AgentWriter,
    /// Display names of the extensions.
    pub names: HashMap<String, String>,
    /// Outbound prefixes of the trunks, by trunk name.
    pub trunks: HashMap<String, String>,
    /// The CDR writer (the caller leg's media quality goes there).
    pub cdr: Option<CdrSender>,
    /// `[recording]`, when enabled.
    pub recording: Option<RecordingSettings>,
}

impl IvrServer {
    /// A server on `parts.socket`.
    pub fn new(parts: IvrParts) -> Result<Self, String> {
        let local = parts
            .socket
            .local_addr()
            .map_err(|e| format!("cannot read the IVR socket address: {e}"))?;
        let contact: Uri = format!("sip:{}@{local}", parts.settings.extension)
            .parse()
            .map_err(|_| format!("bad IVR contact for {local}"))?;
        let config = UaConfig::new(local, contact)
            .outbound_proxy(SipTarget::new(TransportProtocol::Udp, parts.proxy))
            .session_timer(None, 90);
        let config = config.build().map_err(|e| e.to_string())?;
        let mut rng = Rng::os();
        let ua = Ua::new(config, Rng::seeded(rng.next_u64()));
        let (low, high) = parts.settings.rtp_ports;
        let pool = PortPool::new(parts.settings.media_ip, low, high);
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let (render_tx, render_rx) = mpsc::unbounded_channel();
        let (webhook_tx, webhook_rx) = mpsc::unbounded_channel();
        Ok(Self {
            webhooks: WebhookClient::new(WEBHOOK_TIMEOUT),
            webhook_tx,
            webhook_rx,
            domain: parts.domain,
            socket: parts.socket,
            local,
            ua,
            rng,
            menus: parts.menus,
            tts: parts.tts,
            hold: parts.hold,
            clock: MediaClock::start(),
            pool,
            agents: Agents::default(),
            queues: Queues::default(),
            registered: parts.registered,
            writer: parts.writer,
            names: parts.names,
            trunks: parts.trunks,
            cdr: parts.cdr,
            recording: parts.recording,
            calls: HashMap::new(),
            dialogs: HashMap::new(),
            requests: HashMap::new(),
            next_call: 1,
            media_tx,
            media_rx,
            render_tx,
            render_rx,
            settings: parts.settings,
        })
    }

    /// Runs until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut buf = vec![0u8; 65_535];
        self.publish_registrations();
        loop {
            self.flush().await;
            let deadline = self.next_deadline();
            tokio::select! {
                received = self.socket.recv_from(&mut buf) => {
                    let Ok((len, source)) = received else { continue };
                    let rx = Receive {
                        protocol: TransportProtocol::Udp,
                        source,
                        destination: self.local,
                        connection: None,
                        contents: Bytes::copy_from_slice(&buf[..len]),
                    };
                    self.ua.handle_receive(Instant::now(), rx);
                }
                () = sleep_until(deadline) => self.handle_timeout(Instant::now()),
                Some((call, event)) = self.media_rx.recv() => self.on_media(Instant::now(), call, event),
                Some((call, token, result)) = self.render_rx.recv() => self.on_rendered(Instant::now(), call, token, result),
                Some((call, result)) = self.webhook_rx.recv() => self.on_webhook(Instant::now(), call, result),
                changed = self.registered.changed() => {
                    if changed.is_err() { break; }
                    self.publish_registrations();
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() { break; }
                }
            }
            self.drain_ua(Instant::now());
            if self.queues.len() > 0 {
                self.dispatch_queues(Instant::now());
            }
            self.publish_metrics();
        }
        // hang up what is still up
        let now = Instant::now();
        let dialogs: Vec<DialogId> = self.dialogs.keys().copied().collect();
        for dialog in dialogs {
            let _ = self.ua.bye(now, dialog);
        }
        self.flush().await;
    }

    async fn flush(&mut self) {
        while let Some(transmit) = self.ua.poll_transmit() {
            if let Err(error) = self
                .socket
                .send_to(&transmit.contents, transmit.destination)
                .await
            {
                tracing::debug!(%error, destination = %transmit.destination, "ivr sip send failed");
            }
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let calls = self.calls.values().flat_map(|c| {
            let ring = match &c.stage {
                Stage::Ringing { until, .. } => Some(*until),
                _ => None,
            };
            [c.ivr.poll_timeout(), ring]
        });
        calls
            .chain([self.ua.poll_timeout(), self.queues.poll_timeout()])
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.ua.poll_timeout().is_some_and(|at| at <= now) {
            self.ua.handle_timeout(now);
        }
        let ids: Vec<u64> = self.calls.keys().copied().collect();
        for id in ids {
            let Some(call) = self.calls.get_mut(&id) else {
                continue;
            };
            if call.ivr.poll_timeout().is_some_and(|at| at <= now) {
                call.ivr.handle_timeout(now);
            }
            let ring_over = matches!(&call.stage, Stage::Ringing { until, .. } if *until <= now);
            if ring_over {
                tracing::info!(call = id, "no agent answered in time");
                self.cancel_ringing(now, id);
                self.try_next_agent(now, id);
            }
            self.drain_ivr(now, id);
        }
        if self.queues.poll_timeout().is_some_and(|at| at <= now) {
            self.handle_queue_timeout(now);
        }
    }

    fn drain_ua(&mut self, now: Instant) {
        while let Some(event) = self.ua.poll_event() {
            match event {
                UaEvent::IncomingCall {
                    dialog, request, ..
                } => self.incoming(now, dialog, &request),
                UaEvent::Info {
                    dialog,
                    id,
                    request,
                } => self.info(now, dialog, id, &request),
                UaEvent::Answered {
                    request,
                    dialog,
                    body,
                    ..
                } => self.agent_answered(now, request, dialog, body),
                UaEvent::CallFailed {
                    request, status, ..
                } => self.agent_failed(now, request, status),
                UaEvent::Terminated { dialog, cause } => self.terminated(now, dialog, cause),
                UaEvent::Reoffer {
                    dialog,
                    id,
                    method,
                    body,
                } => self.reoffer(now, dialog, id, method, body),
                UaEvent::Acked {
                    dialog,
                    body: answer,
                } => self.acked(now, dialog, answer),
                UaEvent::Message { id, .. } | UaEvent::TransferRequested { id, .. } => {
                    let _ = self.ua.respond(now, id, StatusCode::NOT_IMPLEMENTED, None);
                }
                _ => {}
            }
        }
    }

    /// An INVITE to the IVR: answer with our SDP and start the menu.
    fn incoming(&mut self, now: Instant, dialog: DialogId, request: &Request) {
        let caller = request
            .from()
            .and_then(Result::ok)
            .and_then(|f| {
                f.uri()
                    .as_sip()
                    .and_then(|s| s.user().map(Bytes::copy_from_slice))
            })
            .map(|u| String::from_utf8_lossy(&u).into_owned())
            .unwrap_or_default();
        let socket = match self.pool.bind() {
            Ok(socket) => socket,
            Err(error) => {
                tracing::error!("ivr call refused: {error}");
                let _ = self
                    .ua
                    .answer(now, dialog, StatusCode::SERVICE_UNAVAILABLE, None);
                return;
            }
        };
        let port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
        let mut sdp = self.sdp_session(port);
        let answer = match answer_or_offer(&mut sdp, &request.body) {
            Ok(answer) => answer,
            Err(reason) => {
                tracing::info!(%caller, "ivr call refused: {reason}");
                let _ = self
                    .ua
                    .answer(now, dialog, StatusCode::NOT_ACCEPTABLE_HERE, None);
                return;
            }
        };
        let id = self.next_call;
        self.next_call += 1;
        let call_id = request
            .headers
            .get(&voip_sip::Known::CallId.into())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        let recording = match &self.recording {
            Some(settings) if !call_id.is_empty() => {
                match IvrRecording::open(&call_id, settings.path_for(&call_id), settings.options) {
                    Ok(recording) => Some(recording),
                    Err(error) => {
                        tracing::warn!(call = id, %error, "ivr call not recorded");
                        None
                    }
                }
            }
            _ => None,
        };
        let media = match media::spawn(
            id,
            socket,
            answer.media(&mut self.rng),
            self.media_tx.clone(),
            &self.clock,
            recording,
        ) {
            Ok(media) => media,
            Err(error) => {
                tracing::warn!(%error, "ivr media task not started");
                let _ = self
                    .ua
                    .answer(now, dialog, StatusCode::SERVER_INTERNAL_ERROR, None);
                return;
            }
        };
        if let Err(error) = self
            .ua
            .answer(now, dialog, StatusCode::OK, Some(Body::sdp(answer.sdp)))
        {
            tracing::warn!(%error, "ivr answer not sent");
            return;
        }
        let menus = self.menus.borrow().clone();
        let mut ivr = Ivr::new(
            IvrConfig::default(),
            menus,
            Variables::new(caller.clone(), self.settings.extension.clone()),
        );
        if let Err(error) = ivr.start_menu(now, &self.settings.menu) {
            tracing::warn!(%error, menu = %self.settings.menu, "ivr menu did not start");
        }
        tracing::info!(call = id, %caller, rtp = port, "ivr call answered");
        self.dialogs.insert(dialog, id);
        self.calls.insert(
            id,
            Call {
                caller_dialog: dialog,
                call_id,
                caller,
                ivr,
                media,
                dedupe: DtmfDeduper::default(),
                token: 0,
                stage: Stage::Menu,
                sdp,
            },
        );
        self.drain_ivr(now, id);
    }

    /// A re-INVITE or UPDATE in the caller's or, once bridged, the agent's
    /// dialog (RFC 3264 §8): hold (`sendonly`, `inactive`, `c=0.0.0.0`: we
    /// answer and stop sending to that side), resume, or a new address;
    /// without an offer, an UPDATE is a session refresh (200 without body)
    /// and a re-INVITE gets our offer, answered in the ACK. An offer we
    /// cannot take gets 488 and changes nothing.
    fn reoffer(
        &mut self,
        now: Instant,
        dialog: DialogId,
        id: voip_sip::transaction::TransactionId,
        method: voip_sip::Method,
        body: Option<Body>,
    ) {
        let is_update = method == voip_sip::Method::Update;
        let call = self
            .dialogs
            .get(&dialog)
            .and_then(|c| self.calls.get_mut(c));
        let Some((call, (leg, sdp))) = call.and_then(|c| {
            let call_id = c.call_id.clone();
            c.session(dialog).map(|s| (call_id, s))
        }) else {
            let status = if is_update && body.is_none() {
                StatusCode::OK
            } else {
                StatusCode::NOT_ACCEPTABLE_HERE
            };
            let _ = self.ua.respond(now, id, status, None);
            return;
        };
        let (status, answer, moved) = match body {
            Some(offer) => match answer_reoffer(sdp, &offer.data) {
                Ok((answer, remote)) => {
                    let hold = remote.is_none();
                    match leg {
                        Leg::Caller => {
                            tracing::info!(call = %call, hold, "caller re-offer answered")
                        }
                        Leg::Agent => tracing::info!(call = %call, hold, "agent re-offer answered"),
                    }
                    (StatusCode::OK, Some(Body::sdp(answer)), Some(remote))
                }
                Err(reason) => {
                    tracing::info!(call = %call, ?leg, "re-offer refused: {reason}");
                    (StatusCode::NOT_ACCEPTABLE_HERE, None, None)
                }
            },
            None if is_update => (StatusCode::OK, None, None),
            None => match sdp.create_offer() {
                Ok(offer) => (StatusCode::OK, Some(Body::sdp(offer)), None),
                Err(_) => (StatusCode::NOT_ACCEPTABLE_HERE, None, None),
            },
        };
        if let Some(remote) = moved {
            self.remote_moved(dialog, leg, remote);
        }
        let _ = self.ua.respond(now, id, status, answer);
    }

    /// Points one side's RTP at its new address (`None`: on hold).
    fn remote_moved(&self, dialog: DialogId, leg: Leg, remote: Option<SocketAddr>) {
        if let Some(call) = self.dialogs.get(&dialog).and_then(|c| self.calls.get(c)) {
            call.media.send(match leg {
                Leg::Caller => MediaCommand::CallerRemote(remote),
                Leg::Agent => MediaCommand::AgentRemote(remote),
            });
        }
    }

    /// The ACK of a 2xx: after an INVITE or re-INVITE without offer it
    /// carries the answer to ours. A new call whose ACK brings no usable
    /// answer has no session: it is ended (RFC 3261 §13.2.1); after a
    /// re-INVITE the previous session stays in force.
    fn acked(&mut self, now: Instant, dialog: DialogId, answer: Option<Body>) {
        let Some(call) = self
            .dialogs
            .get(&dialog)
            .and_then(|c| self.calls.get_mut(c))
        else {
            return;
        };
        let call_id = call.call_id.clone();
        let Some((leg, sdp)) = call.session(dialog).filter(|(_, s)| s.has_pending_offer()) else {
            return;
        };
        let remote = answer.and_then(|a| {
            let negotiated = sdp.handle_answer(&a.data).ok()?;
            let audio = negotiated
                .iter()
                .find(|m| m.accepted && m.kind == "audio")?;
            Some(if audio.remote_hold {
                None
            } else {
                audio.remote_rtp
            })
        });
        match remote {
            Some(remote) => self.remote_moved(dialog, leg, remote),
            None => {
                sdp.rollback();
                if sdp.local_description().is_none() {
                    tracing::info!(call = %call_id, "late-offer call without answer in the ACK: ended");
                    let _ = self.ua.bye(now, dialog);
                }
            }
        }
    }

    fn sdp_session(&mut self, port: u16) -> SdpSession {
        let media = LocalMedia {
            rtcp_mux: false,
            ..LocalMedia::audio(port, vec![SdpCodec::pcmu()])
        };
        let session_id = u64::from(self.rng.next_u32());
        SdpSession::new(SdpConfig::new(
            self.settings.media_ip,
            session_id,
            vec![media],
        ))
    }

    /// A SIP INFO carrying a key (`application/dtmf-relay` or `application/dtmf`).
    fn info(
        &mut self,
        now: Instant,
        dialog: DialogId,
        id: voip_sip::transaction::TransactionId,
        request: &Request,
    ) {
        let content_type = request
            .headers
            .get(&voip_sip::Known::ContentType.into())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default();
        match InfoDtmf::parse(&content_type, &request.body) {
            Ok(info) => {
                let _ = self.ua.respond(now, id, StatusCode::OK, None);
                if let Some(call) = self.dialogs.get(&dialog).copied() {
                    let report = DtmfReport {
                        digit: info.digit,
                        source: DtmfSource::SipInfo,
                        at: now,
                    };
                    self.on_media(now, call, MediaEvent::Digit(report));
                }
            }
            Err(error) => {
                let status = StatusCode::new(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
                let _ = self.ua.respond(now, id, status, None);
            }
        }
    }

    fn on_media(&mut self, now: Instant, id: u64, event: MediaEvent) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        match event {
            MediaEvent::Finished { token } if token == call.token => {
                if matches!(call.stage, Stage::Closing) {
                    call.stage = Stage::Ended;
                    let _ = self.ua.bye(now, call.caller_dialog);
                    return;
                }
                let waiting = matches!(
                    call.stage,
                    Stage::Queued { .. }
                        | Stage::Ringing {
                            ticket: Some(_),
                            ..
                        }
                );
                if waiting {
                    return self.play_hold_music(id);
                }
                call.ivr.handle_playback_finished(now);
            }
            MediaEvent::Finished { .. } => {}
            MediaEvent::Digit(report) => {
                if !call.dedupe.handle_report(report) || !matches!(call.stage, Stage::Menu) {
                    return;
                }
                tracing::info!(call = id, digit = %report.digit, source = ?report.source, "ivr key");
                call.ivr.handle_digit(now, report.digit.as_char());
            }
        }
        self.drain_ivr(now, id);
    }

    fn drain_ivr(&mut self, now: Instant, id: u64) {
        loop {
            let Some(call) = self.calls.get_mut(&id) else {
                return;
            };
            let Some(event) = call.ivr.poll_event() else {
                return;
            };
            match event {
                Event::Play(prompt) => self.play(id, &prompt),
                Event::StopPlayback => {
                    call.token += 1;
                    call.media.send(MediaCommand::Stop);
                }
                Event::Transfer(target) => self.transfer(now, id, target),
                Event::Hangup => {
                    call.stage = Stage::Ended;
                    let _ = self.ua.bye(now, call.caller_dialog);
                }
                Event::Webhook { url, payload } => {
                    tracing::info!(call = id, %url, "ivr webhook");
                    let client = self.webhooks.clone();
                    let tx = self.webhook_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let _ = tx.send((id, client.post(&url, &payload)));
                    });
                }
                Event::WebhookFailed { url, error } => {
                    tracing::warn!(call = id, %url, %error, "ivr webhook failed");
                }
                Event::MenuEntered { menu_id } => tracing::debug!(call = id, %menu_id, "ivr menu"),
                Event::Finished { reason } => {
                    tracing::info!(call = id, ?reason, "ivr session finished");
                    if reason != FinishReason::Transferred && matches!(call.stage, Stage::Menu) {
                        call.stage = Stage::Ended;
                        let _ = self.ua.bye(now, call.caller_dialog);
                    }
                }
                _ => {}
            }
        }
    }

    /// A webhook answered (or failed): the machine runs its verbs.
    fn on_webhook(&mut self, now: Instant, id: u64, result: Result<Vec<u8>, String>) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.ivr
            .handle_webhook_response(now, result.as_deref().map_err(Clone::clone));
        self.drain_ivr(now, id);
    }

    /// Renders `prompt` on a blocking thread; the media task plays it when done.
    fn play(&mut self, id: u64, prompt: &Prompt) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.token += 1;
        let token = call.token;
        let tts = self.tts.clone();
        let prompt = prompt.clone();
        let tx = self.render_tx.clone();
        tokio::task::spawn_blocking(move || {
            let result = match (&prompt, tts.render_prompt(&prompt, Some(8000))) {
                (_, Some(Ok(rendered))) => Ok(Arc::from(rendered.audio.samples)),
                (_, Some(Err(error))) => Err(error.to_string()),
                (Prompt::File { file }, None) => {
                    super::hold_music::read_wav_8k(std::path::Path::new(file))
                }
                (_, None) => Err(format!("cannot play {prompt:?}")),
            };
            let _ = tx.send((id, token, result));
        });
    }

    fn on_rendered(
        &mut self,
        now: Instant,
        id: u64,
        token: u64,
        result: Result<Arc<[i16]>, String>,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if token != call.token {
            return; // stopped before it was ready
        }
        match result {
            Ok(samples) => call.media.send(MediaCommand::Play { samples, token }),
            Err(error) => {
                tracing::warn!(call = id, %error, "prompt not rendered; skipped");
                self.on_media(now, id, MediaEvent::Finished { token });
            }
        }
    }

    fn terminated(&mut self, now: Instant, dialog: DialogId, cause: TerminationCause) {
        let Some(id) = self.dialogs.remove(&dialog) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.caller_dialog == dialog {
            tracing::info!(call = id, ?cause, "caller left");
            call.ivr.handle_hangup(now);
            self.record_quality(id);
            self.cancel_ringing(now, id);
            self.queues.leave(id);
            if let Some(call) = self.calls.remove(&id)
                && let Stage::Bridged {
                    dialog: agent_dialog,
                    agent,
                    ..
                } = call.stage
            {
                let _ = self.ua.bye(now, agent_dialog);
                self.dialogs.remove(&agent_dialog);
                self.agents.ended(&agent, now, true);
                self.write_agent(&agent);
            }
            return;
        }
        // the agent's dialog ended: hang up the caller
        let caller_dialog = call.caller_dialog;
        let stage = std::mem::replace(&mut call.stage, Stage::Ended);
        if let Stage::Bridged { agent, .. } = stage {
            tracing::info!(call = id, %agent, ?cause, "agent left");
            self.agents.ended(&agent, now, true);
            self.write_agent(&agent);
        }
        let _ = self.ua.bye(now, caller_dialog);
    }

    /// The caller leg's codec and quality into its call record, as the
    /// relay does for the calls it anchors.
    fn record_quality(&self, id: u64) {
        let (Some(cdr), Some(call)) = (&self.cdr, self.calls.get(&id)) else {
            return;
        };
        if call.call_id.is_empty() {
            return;
        }
        let caller = call.media.quality().map(|q| LegQuality {
            mos: Some(q.mos),
            jitter_ms: q.jitter_ms,
            loss_pct: q.loss_percent,
        });
        let recording = self
            .recording
            .as_ref()
            .and_then(|r| crate::media::recording::url_for(&r.path_for(&call.call_id)));
        let _ = cdr.send(CallEvent::Media {
            call_id: call.call_id.clone(),
            codec: Some("PCMU".to_owned()),
            legs: [caller.unwrap_or_default(), LegQuality::default()],
            recording,
        });
    }

    /// Gauges: calls in the IVR, callers waiting per group.
    fn publish_metrics(&self) {
        metrics::gauge!("ivr_calls_active").set(self.calls.len() as f64);
        for group in &self.settings.groups {
            let waiting = self.queues.waiting(&group.name).len();
            metrics::gauge!("ivr_queue_waiting", "group" => group.name.clone()).set(waiting as f64);
        }
    }

    /// Writes every group member's row (status online/offline/busy).
    fn publish_registrations(&mut self) {
        let members: BTreeSet<String> = self
            .settings
            .groups
            .iter()
            .flat_map(|g| g.members.iter().cloned())
            .collect();
        for member in members {
            self.write_agent(&member);
        }
    }

    fn write_agent(&self, extension: &str) {
        // external numbers a transfer rang are not agents
        if !self.names.contains_key(extension) {
            return;
        }
        let stats = self.agents.stats(extension);
        let registered = self.registered.borrow().contains(extension);
        let status = match (registered, stats.current_calls) {
            (_, n) if n > 0 => "busy",
            (true, _) => "online",
            (false, _) => "offline",
        };
        let last_call_end = stats
            .last_call_end
            .map(|at| SystemTime::now() - Instant::now().saturating_duration_since(at));
        self.writer.send(AgentRow {
            extension: extension.to_owned(),
            name: self
                .names
                .get(extension)
                .cloned()
                .unwrap_or_else(|| extension.to_owned()),
            status: status.to_owned(),
            current_calls: i64::from(stats.current_calls),
            total_calls: stats.total_calls as i64,
            last_call_end,
        });
    }
}

/// Our answer to a caller's offer and what the media task needs.
#[derive(Debug)]
struct Answer {
    sdp: Bytes,
    remote: Option<SocketAddr>,
    telephone_event: Option<(u8, u32)>,
}

impl Answer {
    fn media(&self, rng: &mut Rng) -> CallerMedia {
        CallerMedia {
            remote: self.remote,
            telephone_event: self.telephone_event.map(|t| t.0),
            telephone_event_rate: self.telephone_event.map_or(8000, |t| t.1),
            start: (rng.next_u32(), rng.next_u32() as u16, rng.next_u32()),
        }
    }
}

/// The SDP of our 200 to a new call: the answer to the caller's offer, or
/// (late offer, RFC 3261 §13.2.1) our offer, answered in the ACK; until
/// then the call sends nothing, and keys come as telephone-event 101, the
/// type we offer.
fn answer_or_offer(sdp: &mut SdpSession, offer: &[u8]) -> Result<Answer, String> {
    if !offer.is_empty() {
        return answer_offer(sdp, offer);
    }
    let body = sdp.create_offer().map_err(|e| e.to_string())?;
    Ok(Answer {
        sdp: body,
        remote: None,
        telephone_event: Some((101, 8000)),
    })
}

/// Answers `offer` with PCMU (and telephone-event when offered); refuses
/// an INVITE without offer or without PCMU.
fn answer_offer(sdp: &mut SdpSession, offer: &[u8]) -> Result<Answer, String> {
    if offer.is_empty() {
        return Err("no SDP offer in the INVITE (late offer is not supported)".into());
    }
    let negotiated = sdp.handle_offer(offer).map_err(|e| e.to_string())?;
    let audio = negotiated
        .iter()
        .find(|m| m.accepted && m.kind == "audio")
        .ok_or("no audio stream we can take")?;
    if audio
        .send_codec()
        .is_none_or(|c| !c.name.eq_ignore_ascii_case("PCMU"))
    {
        return Err("PCMU not offered".into());
    }
    let remote = audio.remote_rtp;
    let telephone_event = audio
        .telephone_event_for(8000)
        .map(|t| (t.payload_type, t.clock_rate));
    let body = sdp.create_answer().map_err(|e| e.to_string())?;
    Ok(Answer {
        sdp: body,
        remote,
        telephone_event,
    })
}

/// Answers a re-offer from the caller: our answer and where RTP goes now
/// (`None`: the caller put us on hold). An error leaves the session as it
/// was.
fn answer_reoffer(
    sdp: &mut SdpSession,
    offer: &[u8],
) -> Result<(Bytes, Option<SocketAddr>), String> {
    let negotiated = sdp.handle_offer(offer).map_err(|e| e.to_string())?;
    let remote = negotiated
        .iter()
        .find(|m| m.accepted && m.kind == "audio")
        .map(|audio| {
            if audio.remote_hold {
                None
            } else {
                audio.remote_rtp
            }
        });
    let answer = sdp.create_answer().map_err(|e| e.to_string())?;
    Ok((answer, remote.flatten()))
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OFFER: &str = "v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\n\
        c=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";

    fn session(port: u16) -> SdpSession {
        let media = LocalMedia {
            rtcp_mux: false,
            ..LocalMedia::audio(port, vec![SdpCodec::pcmu()])
        };
        SdpSession::new(SdpConfig::new([127, 0, 0, 1].into(), 7, vec![media]))
    }

    #[test]
    fn answers_pcmu_with_the_callers_telephone_event_type() {
        let mut sdp = session(30002);
        let answer = answer_offer(&mut sdp, OFFER.as_bytes()).unwrap();
        let text = String::from_utf8_lossy(&answer.sdp).into_owned();
        assert!(text.contains("m=audio 30002 RTP/AVP 0 101"), "{text}");
        assert!(text.contains("c=IN IP4 127.0.0.1"), "{text}");
        assert_eq!(answer.remote, Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(answer.telephone_event, Some((101, 8000)));
    }

    #[test]
    fn a_late_offer_call_gets_our_offer_and_its_answer_sets_the_media() {
        let mut sdp = session(30002);
        let offer = answer_or_offer(&mut sdp, b"").unwrap();
        let text = String::from_utf8_lossy(&offer.sdp).into_owned();
        assert!(text.contains("m=audio 30002 RTP/AVP 0 101"), "{text}");
        assert!(text.contains("a=rtpmap:101 telephone-event/8000"), "{text}");
        assert_eq!(offer.remote, None);
        assert_eq!(offer.telephone_event, Some((101, 8000)));
        let negotiated = sdp.handle_answer(OFFER.as_bytes()).unwrap();
        let audio = negotiated.iter().find(|m| m.accepted).unwrap();
        assert_eq!(audio.remote_rtp, Some("127.0.0.1:6000".parse().unwrap()));
    }

    #[test]
    fn re_offers_hold_resume_and_move_the_callers_media() {
        let mut sdp = session(30002);
        answer_offer(&mut sdp, OFFER.as_bytes()).unwrap();
        let reoffer = |port: u16, extra: &str, version: u32| {
            OFFER
                .replace("2353687637", &version.to_string())
                .replace("m=audio 6000", &format!("m=audio {port}"))
                + extra
        };
        // hold: we answer recvonly and send nothing
        let (answer, remote) =
            answer_reoffer(&mut sdp, reoffer(6000, "a=sendonly\r\n", 1).as_bytes()).unwrap();
        let text = String::from_utf8_lossy(&answer).into_owned();
        assert!(text.contains("a=recvonly"), "{text}");
        assert_eq!(remote, None);
        // inactive
        let (answer, remote) =
            answer_reoffer(&mut sdp, reoffer(6000, "a=inactive\r\n", 2).as_bytes()).unwrap();
        assert!(String::from_utf8_lossy(&answer).contains("a=inactive"));
        assert_eq!(remote, None);
        // resume at a new port
        let (answer, remote) =
            answer_reoffer(&mut sdp, reoffer(6010, "a=sendrecv\r\n", 3).as_bytes()).unwrap();
        let text = String::from_utf8_lossy(&answer).into_owned();
        assert!(
            !text.contains("a=recvonly") && !text.contains("a=inactive"),
            "{text}"
        );
        assert!(text.contains("m=audio 30002 RTP/AVP 0"), "{text}");
        assert_eq!(remote, Some("127.0.0.1:6010".parse().unwrap()));
        // a re-offer without PCMU is refused and changes nothing
        let pcma = reoffer(6020, "", 4)
            .replace("RTP/AVP 0 101", "RTP/AVP 8")
            .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000");
        assert!(answer_reoffer(&mut sdp, pcma.as_bytes()).is_err());
        let (_, remote) = answer_reoffer(&mut sdp, reoffer(6010, "", 5).as_bytes()).unwrap();
        assert_eq!(remote, Some("127.0.0.1:6010".parse().unwrap()));
    }

    #[test]
    fn refuses_offers_without_pcmu_or_sdp() {
        let mut sdp = session(30002);
        let pcma = OFFER
            .replace("RTP/AVP 0 101", "RTP/AVP 8")
            .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000");
        assert!(answer_offer(&mut sdp, pcma.as_bytes()).is_err());
        let mut sdp = session(30002);
        assert!(
            answer_offer(&mut sdp, b"")
                .unwrap_err()
                .contains("late offer")
        );
    }
}
