//! The tokio task that runs the server's `WebRtcBridge`s: one UDP socket
//! shared by every browser leg (ICE-lite: legs are told apart by STUN
//! ufrag, then by the source ICE validated, `WebRtcLeg::accepts`), and a
//! plain RTP/RTCP socket pair per bridge toward a SIP phone, a trunk or
//! the IVR, from the relay's port range (top down; ports the relay holds
//! are skipped). Two browsers in one call get two bridges whose plain
//! sides are joined in memory (Opus passes through; no socket, no hop).
//!
//! ```text
//! WebRtcHandle ── Open/Answer/Close ──► task ◄── reader tasks (webrtc socket, plain sockets)
//!      ▲                                 │  bridge.handle_* ─► poll_* ─► send_to
//!      └──────── WebRtcCallEvent ◄───────┘  (Connected, Failed{reason}, Closed)
//! ```
//!
//! Recording (`[recording] enabled`, asked by the anchor at the call's
//! answer, [`WebRtcHandle::record`]): one bridge of the call taps both
//! directions (`WebRtcBridge::start_recording`; the first bridge, whose
//! browser is the caller unless a phone called a browser) and this task
//! writes what it hands out with the relay's `RecordingWriter`: a stereo
//! WAV, left the caller, right the callee, as for a relayed call.
//!
//! Only this task reads the clock (one `sleep_until` for the earliest
//! bridge deadline). The plain side latches: RTP goes to where the phone
//! sends from once it has sent (symmetric RTP through NAT), else to its SDP.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use voip_core::Rng;
use voip_media::relay::{LegStats, RecordingEvent, RecordingOptions, RecordingWriter, Side};
use voip_media::rtp::{CodecImpairment, RtpSession, RtpSessionConfig};
use voip_media::webrtc::{
    BridgeConfig, BridgeEvent, FailReason, LocalCandidate, WebRtcAudioCodec, WebRtcBridge,
    WebRtcConfig,
};

use super::webrtc::Shape;

/// Where the WebRTC side listens and what it advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcSettings {
    /// The socket browser legs share (port 0: any free port).
    pub bind: SocketAddr,
    /// The IP browsers and phones are told (the candidate, the plain `c=`).
    pub public_ip: IpAddr,
    /// Where plain sockets bind.
    pub plain_bind_ip: IpAddr,
    /// Plain ports, inclusive (the relay's range).
    pub plain_ports: (u16, u16),
    /// Offer Opus to plain callees too (no transcoding if they take it).
    pub offer_opus: bool,
}

/// What a bridged call reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebRtcCallEvent {
    /// A browser leg is up.
    Connected {
        /// The call.
        call_id: String,
    },
    /// A browser leg failed (no media): hang the call up.
    Failed {
        /// The call.
        call_id: String,
        /// Why.
        reason: FailReason,
    },
}

/// What a closed bridged call measured: `[caller, callee]`.
#[derive(Debug, Clone, Default)]
pub struct BridgedStats {
    /// Codec names as in SDP (`opus`, `PCMU`, `PCMA`).
    pub codecs: [Option<String>; 2],
    /// Packets in and out per side.
    pub legs: [LegStats; 2],
}

type Reply<T> = oneshot::Sender<T>;

#[derive(Debug)]
enum Command {
    Open(String, Shape, Bytes, Reply<Result<Bytes, String>>),
    Answer(String, Bytes, Reply<Result<Bytes, String>>),
    Close(String, Reply<Option<BridgedStats>>),
    Record(String, PathBuf, RecordingOptions, Reply<Result<(), String>>),
}

#[derive(Debug)]
enum Inbound {
    WebRtc(SocketAddr, Bytes),
    Plain(Arc<str>, bool, SocketAddr, Bytes),
}

/// The handle the anchor holds.
#[derive(Debug)]
pub struct WebRtcHandle {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<WebRtcCallEvent>,
    local: SocketAddr,
}

impl WebRtcHandle {
    /// Binds the shared WebRTC socket and starts the task.
    /// Needs a tokio runtime.
    pub fn spawn(settings: WebRtcSettings) -> std::io::Result<Self> {
        let socket = Arc::new(bind_udp(settings.bind)?);
        let local = socket.local_addr()?;
        let advertised = SocketAddr::new(settings.public_ip, local.port());
        let config = WebRtcConfig::new(vec![LocalCandidate::advertised(local, advertised)])
            .build()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
        let (commands, command_rx) = mpsc::channel(256);
        let (event_tx, events) = mpsc::channel(256);
        let (inbound_tx, inbound) = mpsc::channel(4096);
        let reader = spawn_reader(socket.clone(), inbound_tx.clone(), None, false);
        let (low, high) = settings.plain_ports;
        let task = Task {
            next_port: high & !1,
            settings,
            socket,
            local,
            config,
            calls: HashMap::new(),
            sources: HashMap::new(),
            inbound_tx,
            events: event_tx,
            reader,
            low,
            writer: RecordingWriter::new(),
        };
        tokio::spawn(task.run(command_rx, inbound));
        Ok(Self {
            commands,
            events,
            local,
        })
    }

    /// The shared socket's address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Opens a call's bridges with the caller's offer; returns the body
    /// for the callee.
    pub async fn open(&self, call_id: &str, shape: Shape, offer: Bytes) -> Result<Bytes, String> {
        self.ask(|r| Command::Open(call_id.to_owned(), shape, offer, r))
            .await
            .unwrap_or_else(|| Err("the webrtc task stopped".into()))
    }

    /// The callee's answer; returns the body for the caller.
    pub async fn answer(&self, call_id: &str, answer: Bytes) -> Result<Bytes, String> {
        self.ask(|r| Command::Answer(call_id.to_owned(), answer, r))
            .await
            .unwrap_or_else(|| Err("the webrtc task stopped".into()))
    }

    /// Closes a call (DTLS close_notify, RTCP BYE) and returns its counters.
    pub async fn close(&self, call_id: &str) -> Option<BridgedStats> {
        self.ask(|r| Command::Close(call_id.to_owned(), r))
            .await
            .flatten()
    }

    /// Starts recording an answered call to `path` (created or
    /// truncated): both directions, on one bridge of the call.
    pub async fn record(
        &self,
        call_id: &str,
        path: PathBuf,
        options: RecordingOptions,
    ) -> Result<(), String> {
        self.ask(|r| Command::Record(call_id.to_owned(), path, options, r))
            .await
            .unwrap_or_else(|| Err("the webrtc task stopped".into()))
    }

    /// The next event.
    pub async fn next_event(&mut self) -> Option<WebRtcCallEvent> {
        self.events.recv().await
    }
}

fn spawn_reader(
    socket: Arc<UdpSocket>,
    tx: mpsc::Sender<Inbound>,
    call: Option<Arc<str>>,
    rtcp: bool,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        loop {
            let Ok((n, from)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let bytes = Bytes::copy_from_slice(&buf[..n]);
            let item = match &call {
                None => Inbound::WebRtc(from, bytes),
                Some(c) => Inbound::Plain(c.clone(), rtcp, from, bytes),
            };
            if tx.send(item).await.is_err() {
                return;
            }
        }
    })
}

#[derive(Debug)]
struct PlainSocket {
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    readers: [JoinHandle<()>; 2],
    latched: Option<SocketAddr>,
    packets_in: u64,
    packets_out: u64,
    /// Receive statistics of the phone's RTP (RFC 3550), for the E-model
    /// MOS in the call record.
    received: Option<RtpSession>,
}

#[derive(Debug)]
struct Slot {
    bridge: WebRtcBridge,
    /// `None`: joined in memory to the call's other slot.
    plain: Option<PlainSocket>,
}

#[derive(Debug)]
struct Call {
    id: Arc<str>,
    shape: Shape,
    slots: Vec<Slot>,
    failed: bool,
    /// The file it is recorded to.
    recording: Option<PathBuf>,
}

struct Task {
    settings: WebRtcSettings,
    socket: Arc<UdpSocket>,
    local: SocketAddr,
    config: Arc<WebRtcConfig>,
    calls: HashMap<Arc<str>, Call>,
    /// Validated browser sources → (call, slot).
    sources: HashMap<SocketAddr, (Arc<str>, usize)>,
    inbound_tx: mpsc::Sender<Inbound>,
    events: mpsc::Sender<WebRtcCallEvent>,
    reader: JoinHandle<()>,
    next_port: u16,
    low: u16,
    /// The recordings of bridged calls.
    writer: RecordingWriter,
}

/// The packet time the bridge's plain leg sends and expects.
const PTIME: std::time::Duration = std::time::Duration::from_millis(20);

/// Receive statistics for a G.711 leg (8 kHz clock).
fn receive_stats() -> Option<RtpSession> {
    RtpSessionConfig::default()
        .clock_rate(8000)
        .build()
        .ok()
        .map(|config| RtpSession::new(config, Rng::os(), Instant::now()))
}

fn codec_name(codec: WebRtcAudioCodec) -> &'static str {
    match codec {
        WebRtcAudioCodec::Pcmu => "PCMU",
        WebRtcAudioCodec::Pcma => "PCMA",
        _ => "opus",
    }
}

impl Task {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut inbound: mpsc::Receiver<Inbound>,
    ) {
        loop {
            let deadline = self
                .calls
                .values()
                .flat_map(|c| c.slots.iter().filter_map(|s| s.bridge.poll_timeout()))
                .min();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    self.command(command).await;
                }
                Some(item) = inbound.recv() => self.inbound(item).await,
                () = sleep => self.timeouts().await,
            }
        }
        self.reader.abort();
        let ids: Vec<Arc<str>> = self.calls.keys().cloned().collect();
        for id in ids {
            self.close(&id).await;
        }
        for done in self.writer.finish_all() {
            tracing::debug!(call_id = %done.call, path = %done.path.display(), "recording finished at shutdown");
        }
    }

    async fn command(&mut self, command: Command) {
        match command {
            Command::Open(call_id, shape, offer, reply) => {
                let result = self.open(call_id.as_str().into(), shape, &offer).await;
                let _ = reply.send(result);
            }
            Command::Answer(call_id, answer, reply) => {
                let id: Arc<str> = call_id.as_str().into();
                let result = self.answer(&id, &answer);
                self.pump(&id).await;
                let _ = reply.send(result);
            }
            Command::Close(call_id, reply) => {
                let _ = reply.send(self.close(call_id.as_str()).await);
            }
            Command::Record(call_id, path, options, reply) => {
                let id: Arc<str> = call_id.as_str().into();
                let _ = reply.send(self.record(&id, path, options));
            }
        }
    }

    /// Opens the call's file and starts the tap of its first bridge:
    /// its browser is the caller (left), but when a phone called a
    /// browser; with two browsers its plain side carries the callee's
    /// audio from the other bridge.
    fn record(
        &mut self,
        id: &Arc<str>,
        path: PathBuf,
        options: RecordingOptions,
    ) -> Result<(), String> {
        let call = self.calls.get_mut(id).ok_or("no such call")?;
        if call.recording.is_some() {
            return Err("the call is recorded already".into());
        }
        let browser = match call.shape {
            Shape::PlainToBrowser => Side::B,
            Shape::BrowserToPlain | Shape::BrowserToBrowser => Side::A,
        };
        let slot = call.slots.first_mut().ok_or("the call has no bridge")?;
        self.writer
            .open(id.clone(), &path, options)
            .map_err(|e| format!("cannot record to {}: {e}", path.display()))?;
        let started =
            slot.bridge
                .start_recording(Instant::now(), id, options.sample_rate(), browser);
        if let Err(e) = started {
            // Close the file just created.
            self.writer.handle(RecordingEvent::Stopped {
                call: id.clone(),
                end: 0,
                stats: Default::default(),
            });
            return Err(e.to_string());
        }
        call.recording = Some(path);
        Ok(())
    }

    fn plain_socket(&mut self, id: &Arc<str>) -> Result<PlainSocket, String> {
        let (low, high) = (self.low, self.settings.plain_ports.1);
        let pairs = u32::from(high.saturating_sub(low)) / 2 + 1;
        for _ in 0..pairs.min(512) {
            let port = self.next_port;
            self.next_port = if port <= low.saturating_add(1) {
                high & !1
            } else {
                port - 2
            };
            let ip = self.settings.plain_bind_ip;
            let Ok(rtp) = bind_udp(SocketAddr::new(ip, port)) else {
                continue;
            };
            let Ok(rtcp) = bind_udp(SocketAddr::new(ip, port + 1)) else {
                continue;
            };
            let (rtp, rtcp) = (Arc::new(rtp), Arc::new(rtcp));
            let readers = [
                spawn_reader(
                    rtp.clone(),
                    self.inbound_tx.clone(),
                    Some(id.clone()),
                    false,
                ),
                spawn_reader(
                    rtcp.clone(),
                    self.inbound_tx.clone(),
                    Some(id.clone()),
                    true,
                ),
            ];
            return Ok(PlainSocket {
                rtp,
                rtcp,
                readers,
                latched: None,
                packets_in: 0,
                packets_out: 0,
                received: receive_stats(),
            });
        }
        Err(format!("no free rtp port pair in {low}-{high}"))
    }

    fn bridge(&self, port: u16, ip: IpAddr, opus: bool) -> Result<WebRtcBridge, String> {
        let mut rng = Rng::os();
        let config = BridgeConfig::new(self.config.clone(), ip, port)
            .offer_opus(opus)
            .session_id(rng.next_u64() >> 1)
            .build()
            .map_err(|e| e.to_string())?;
        WebRtcBridge::new(config, rng, Instant::now()).map_err(|e| e.to_string())
    }

    async fn open(&mut self, id: Arc<str>, shape: Shape, offer: &[u8]) -> Result<Bytes, String> {
        if self.calls.contains_key(&id) {
            return Err("the call has bridges already".into());
        }
        let now = Instant::now();
        let text = std::str::from_utf8(offer).map_err(|_| "the offer is not UTF-8".to_owned())?;
        let mut slots = Vec::with_capacity(2);
        let body = match shape {
            Shape::BrowserToPlain | Shape::PlainToBrowser => {
                let plain = self.plain_socket(&id)?;
                let port = plain.rtp.local_addr().map_err(|e| e.to_string())?.port();
                let mut bridge =
                    self.bridge(port, self.settings.public_ip, self.settings.offer_opus)?;
                let body = if shape == Shape::BrowserToPlain {
                    bridge.handle_browser_offer(text)
                } else {
                    bridge.handle_plain_offer(now, offer).map(Bytes::from)
                };
                slots.push(Slot {
                    bridge,
                    plain: Some(plain),
                });
                body
            }
            Shape::BrowserToBrowser => {
                let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
                let mut a = self.bridge(9, loopback, true)?;
                let mut b = self.bridge(9, loopback, true)?;
                let body = a
                    .handle_browser_offer(text)
                    .and_then(|plain| b.handle_plain_offer(now, &plain).map(Bytes::from));
                slots.push(Slot {
                    bridge: a,
                    plain: None,
                });
                slots.push(Slot {
                    bridge: b,
                    plain: None,
                });
                body
            }
        };
        let call = Call {
            id: id.clone(),
            shape,
            slots,
            failed: false,
            recording: None,
        };
        match body {
            Ok(body) => {
                self.calls.insert(id, call);
                Ok(body)
            }
            Err(e) => {
                drop_call(call);
                Err(e.to_string())
            }
        }
    }

    fn answer(&mut self, id: &Arc<str>, answer: &[u8]) -> Result<Bytes, String> {
        let now = Instant::now();
        let call = self.calls.get_mut(id).ok_or("no such call")?;
        let text = std::str::from_utf8(answer).map_err(|_| "the answer is not UTF-8".to_owned())?;
        let result = match (call.shape, &mut call.slots[..]) {
            (Shape::BrowserToPlain, [s]) => {
                s.bridge.handle_plain_answer(now, answer).map(Bytes::from)
            }
            (Shape::PlainToBrowser, [s]) => s.bridge.handle_browser_answer(now, text),
            (Shape::BrowserToBrowser, [a, b]) => b
                .bridge
                .handle_browser_answer(now, text)
                .and_then(|plain| a.bridge.handle_plain_answer(now, &plain).map(Bytes::from)),
            _ => return Err("bridges out of shape".into()),
        };
        result.map_err(|e| e.to_string())
    }

    async fn close(&mut self, id: &str) -> Option<BridgedStats> {
        let mut call = self.calls.remove(id)?;
        self.sources.retain(|_, (c, _)| &**c != id);
        let (now, wall) = (Instant::now(), SystemTime::now());
        for slot in &mut call.slots {
            slot.bridge.close(now, wall);
        }
        flush(self.socket.clone(), &mut call).await;
        write_recording(&mut self.writer, &mut call);
        let side = |slot: &Slot, browser: bool| {
            let mut stats = LegStats::default();
            let codecs = slot.bridge.codecs();
            let codec = if browser {
                let leg = slot.bridge.leg().stats();
                stats.packets_in = leg.audio_received;
                stats.packets_out = leg.audio_sent;
                codecs.map(|c| codec_name(c.0))
            } else {
                let codec = codecs.map(|c| codec_name(c.1));
                if let Some(p) = &slot.plain {
                    stats.packets_in = p.packets_in;
                    stats.packets_out = p.packets_out;
                    // the phone's leg is G.711 (the bridge transcodes to Opus)
                    if matches!(codec, Some("PCMU" | "PCMA")) {
                        stats.quality = p
                            .received
                            .as_ref()
                            .and_then(|r| r.quality(CodecImpairment::G711_PLC, PTIME));
                    }
                }
                codec
            };
            (codec.map(str::to_owned), stats)
        };
        let (caller, callee) = match (call.shape, &call.slots[..]) {
            (Shape::BrowserToPlain, [s]) => (side(s, true), side(s, false)),
            (Shape::PlainToBrowser, [s]) => (side(s, false), side(s, true)),
            (Shape::BrowserToBrowser, [a, b]) => (side(a, true), side(b, true)),
            _ => return None,
        };
        drop_call(call);
        Some(BridgedStats {
            codecs: [caller.0, callee.0],
            legs: [caller.1, callee.1],
        })
    }

    async fn inbound(&mut self, item: Inbound) {
        let now = Instant::now();
        match item {
            Inbound::WebRtc(from, bytes) => {
                let hit = self.sources.get(&from).cloned().or_else(|| {
                    self.calls.iter().find_map(|(id, call)| {
                        call.slots
                            .iter()
                            .position(|s| s.bridge.leg().accepts(now, from, self.local, &bytes))
                            .map(|i| (id.clone(), i))
                    })
                });
                let Some((id, i)) = hit else {
                    metrics::counter!("voip_webrtc_unknown_datagrams_total").increment(1);
                    return;
                };
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                call.slots[i]
                    .bridge
                    .handle_webrtc_receive(now, from, self.local, &bytes);
                if call.slots[i].bridge.leg().is_connected() {
                    self.sources.insert(from, (id.clone(), i));
                }
                self.pump(&id).await;
            }
            Inbound::Plain(id, rtcp, from, bytes) => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                let Some(slot) = call.slots.first_mut() else {
                    return;
                };
                if let Some(p) = &mut slot.plain
                    && !rtcp
                {
                    p.latched = Some(from);
                    p.packets_in += 1;
                    if let Some(received) = &mut p.received
                        && !bytes.get(1).is_some_and(|pt| (200..=204).contains(pt))
                    {
                        let _ = received.handle_rtp(now, bytes.clone());
                    }
                }
                // rtcp-mux: RTCP packet types 200-204 on the RTP port (RFC 5761)
                let is_rtcp = rtcp || bytes.get(1).is_some_and(|pt| (200..=204).contains(pt));
                if is_rtcp {
                    slot.bridge
                        .handle_plain_rtcp(now, SystemTime::now(), &bytes);
                } else {
                    slot.bridge.handle_plain_rtp(now, bytes);
                }
                self.pump(&id).await;
            }
        }
    }

    async fn timeouts(&mut self) {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let due: Vec<Arc<str>> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.slots
                    .iter()
                    .any(|s| s.bridge.poll_timeout().is_some_and(|t| t <= now))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(call) = self.calls.get_mut(&id) {
                for slot in &mut call.slots {
                    if slot.bridge.poll_timeout().is_some_and(|t| t <= now) {
                        slot.bridge.handle_timeout(now, wall);
                    }
                }
            }
            self.pump(&id).await;
        }
    }

    /// Sends what a call's bridges queued and reports their events.
    async fn pump(&mut self, id: &Arc<str>) {
        let Some(mut call) = self.calls.remove(id) else {
            return;
        };
        let events = flush(self.socket.clone(), &mut call).await;
        write_recording(&mut self.writer, &mut call);
        for event in events {
            let event = match event {
                BridgeEvent::Connected => {
                    metrics::counter!("voip_webrtc_connected_total").increment(1);
                    tracing::info!(call_id = %call.id, "browser media connected");
                    WebRtcCallEvent::Connected {
                        call_id: call.id.to_string(),
                    }
                }
                BridgeEvent::Failed { reason } if !call.failed => {
                    call.failed = true;
                    metrics::counter!("voip_webrtc_failed_total").increment(1);
                    tracing::warn!(call_id = %call.id, ?reason, "browser media failed");
                    WebRtcCallEvent::Failed {
                        call_id: call.id.to_string(),
                        reason,
                    }
                }
                other => {
                    tracing::debug!(call_id = %call.id, event = ?other, "bridge");
                    continue;
                }
            };
            if self.events.try_send(event).is_err() {
                tracing::warn!(call_id = %call.id, "webrtc event dropped (the anchor is behind)");
            }
        }
        self.calls.insert(id.clone(), call);
    }
}

/// Sends what a call's bridges queued (browser datagrams on the shared
/// socket, plain ones on the call's sockets or into the joined bridge)
/// and returns their events.
async fn flush(socket: Arc<UdpSocket>, call: &mut Call) -> Vec<BridgeEvent> {
    let mut events = Vec::new();
    let now = Instant::now();
    for _round in 0..8 {
        let mut moved = false;
        let mut piped: Vec<(usize, Bytes, bool)> = Vec::new();
        for (i, slot) in call.slots.iter_mut().enumerate() {
            while let Some(t) = slot.bridge.poll_webrtc_transmit() {
                let _ = socket.send_to(&t.contents, t.destination).await;
            }
            while let Some(t) = slot.bridge.poll_plain_transmit() {
                match &mut slot.plain {
                    Some(p) => {
                        let destination = match (t.rtcp, p.latched, t.destination) {
                            (false, Some(l), _) => Some(l),
                            (_, _, d) => d,
                        };
                        let Some(to) = destination else { continue };
                        // RTCP to an odd port: the peer's own RTCP port (no rtcp-mux)
                        let socket = if t.rtcp && to.port() % 2 == 1 {
                            &p.rtcp
                        } else {
                            &p.rtp
                        };
                        if !t.rtcp {
                            p.packets_out += 1;
                        }
                        let _ = socket.send_to(&t.contents, to).await;
                    }
                    None => piped.push((1 - i.min(1), t.contents, t.rtcp)),
                }
            }
            while let Some(e) = slot.bridge.poll_event() {
                events.push(e);
            }
        }
        for (to, bytes, rtcp) in piped {
            moved = true;
            let Some(slot) = call.slots.get_mut(to) else {
                continue;
            };
            if rtcp {
                slot.bridge
                    .handle_plain_rtcp(now, SystemTime::now(), &bytes);
            } else {
                slot.bridge.handle_plain_rtp(now, bytes);
            }
        }
        if !moved {
            break;
        }
    }
    events
}

/// Hands what the call's recording tap decoded to the writer.
fn write_recording(writer: &mut RecordingWriter, call: &mut Call) {
    for slot in &mut call.slots {
        while let Some(event) = slot.bridge.poll_recording() {
            let Some(done) = writer.handle(event) else {
                continue;
            };
            match done.error {
                None => tracing::info!(
                    call_id = %done.call,
                    path = %done.path.display(),
                    samples = done.samples,
                    "browser call recorded"
                ),
                Some(error) => tracing::warn!(
                    call_id = %done.call,
                    path = %done.path.display(),
                    %error,
                    "recording finished with a write error"
                ),
            }
        }
    }
}

/// A non-blocking tokio UDP socket, bound synchronously.
fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let socket = std::net::UdpSocket::bind(addr)?;
    socket.set_nonblocking(true)?;
    UdpSocket::from_std(socket)
}

fn drop_call(call: Call) {
    for slot in call.slots {
        if let Some(p) = slot.plain {
            for r in p.readers {
                r.abort();
            }
        }
    }
}
