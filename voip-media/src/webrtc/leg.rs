//! One browser leg: ICE-lite, DTLS-SRTP with fingerprint verification,
//! BUNDLE and rtcp-mux, audio (Opus/PCMU/PCMA) and telephone-event, on
//! top of `str0m`'s sans-IO [`Rtc`].
//!
//! ```text
//!   new ──accept_offer / create_offer+accept_answer──▶ Negotiated
//!   Negotiated ──ICE (browser checks us) + DTLS ok──▶ Connected ──▶ Audio/Dtmf events
//!   Negotiated ──bad fingerprint / DTLS alert / connect timeout──▶ Failed{reason}
//!   Connected ──consent lost (ICE disconnected) / DTLS close──▶ Failed / Closed
//! ```
//!
//! Security rules the leg enforces on top of str0m:
//! - a non-STUN datagram (DTLS, SRTP, SRTCP) is only handed to str0m when
//!   its source is a candidate pair that ICE has validated
//!   ([`Rtc::accepts`]); anything else is dropped and counted in
//!   [`LegStats::unvalidated_dropped`]. A DTLS ClientHello from an address
//!   that never did a valid STUN check therefore goes nowhere.
//! - the peer's certificate must hash to the offer's `a=fingerprint`; if it
//!   does not, the leg emits [`FailReason::Fingerprint`] and no media flows.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::{Codec as Str0mCodec, CodecExtra, FormatParams, PayloadParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcError};
use voip_core::{Transmit, TransportProtocol};

use super::config::{WebRtcAudioCodec, WebRtcConfig};

/// Payload types we ask for when we make the offer; an answerer adopts the
/// offerer's numbers, so these only matter then.
const PT_PCMU: u8 = 0;
const PT_PCMA: u8 = 8;
const PT_TELEPHONE_EVENT_48K: u8 = 110;
const PT_TELEPHONE_EVENT_8K: u8 = 126;

/// Why a leg gave up. Each one means: no media, hang the call up.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// The DTLS certificate does not match `a=fingerprint`, or there was none.
    Fingerprint,
    /// ICE and DTLS did not complete within the connect timeout.
    ConnectTimeout,
    /// ICE consent was lost after connecting (RFC 7675).
    Disconnected,
    /// The DTLS handshake failed.
    Dtls(String),
    /// Anything else str0m refused.
    Other(String),
}

/// An audio payload from the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioPayload {
    /// The negotiated codec it is in.
    pub codec: WebRtcAudioCodec,
    /// Its RTP payload type.
    pub payload_type: u8,
    /// RTP time in the codec's clock (48 kHz for Opus, 8 kHz for G.711),
    /// extended to 64 bits.
    pub rtp_time: u64,
    /// The first packet after a gap (`false` when packets were lost before it).
    pub contiguous: bool,
    /// The encoded payload.
    pub payload: Bytes,
}

/// A telephone-event report from the browser, one per RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventReport {
    /// RFC 4733 event code (0–9, 10 `*`, 11 `#`, 12–15 A–D).
    pub event: u8,
    /// The E bit.
    pub end: bool,
    /// Volume, −dBm0.
    pub volume: u8,
    /// Duration so far.
    pub duration: std::time::Duration,
    /// RTP time of the event start, in the telephone-event clock.
    pub rtp_time: u64,
    /// That clock's rate.
    pub clock_rate: u32,
}

/// What the leg reports, drained with [`WebRtcLeg::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebRtcEvent {
    /// ICE and DTLS are up; SRTP keys are in place. Media may flow.
    Connected,
    /// The leg failed; nothing more will flow.
    Failed {
        /// Why.
        reason: FailReason,
    },
    /// The browser closed DTLS.
    Closed,
    /// Audio from the browser.
    Audio(AudioPayload),
    /// A telephone-event packet from the browser.
    Dtmf(TelephoneEventReport),
}

/// Errors of leg commands (the SDP exchange and sending).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebRtcError {
    /// The SDP could not be parsed.
    #[error("bad sdp: {0}")]
    BadSdp(String),
    /// The offer has no audio codec we support.
    #[error("no common audio codec")]
    NoCommonCodec,
    /// The command does not fit the leg's state.
    #[error("wrong state: {0}")]
    State(&'static str),
    /// str0m refused.
    #[error("webrtc: {0}")]
    Rtc(#[from] RtcError),
    /// The plain side's SDP failed offer/answer; `status()` is the SIP answer.
    #[error("plain sdp: {0}")]
    PlainSdp(#[from] crate::sdp::SdpError),
    /// A codec could not be set up.
    #[error("codec: {0}")]
    Codec(#[from] crate::codec::CodecError),
}

/// Counters of a leg.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LegStats {
    /// Non-STUN datagrams from addresses ICE has not validated, dropped.
    pub unvalidated_dropped: u64,
    /// Datagrams that are neither STUN, DTLS, RTP nor RTCP.
    pub malformed: u64,
    /// Audio payloads delivered.
    pub audio_received: u64,
    /// Audio payloads sent.
    pub audio_sent: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    New,
    Offered,
    Negotiated { deadline: Instant },
    Connected,
    Failed,
    Closed,
}

/// The negotiated audio send format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    /// The codec.
    pub codec: WebRtcAudioCodec,
    /// Its payload type.
    pub payload_type: u8,
    /// Its RTP clock rate.
    pub clock_rate: u32,
    /// Whether telephone-event was agreed at this clock rate.
    pub telephone_event: bool,
}

/// A sans-IO WebRTC audio leg (ICE-lite server side).
#[derive(Debug)]
pub struct WebRtcLeg {
    rtc: Rtc,
    config: Arc<WebRtcConfig>,
    state: State,
    mid: Option<Mid>,
    pending: Option<SdpPendingOffer>,
    format: Option<AudioFormat>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<WebRtcEvent>,
    rtc_timeout: Option<Instant>,
    stats: LegStats,
}

impl WebRtcLeg {
    /// A leg with our candidates from `config`, not yet negotiated.
    pub fn new(config: Arc<WebRtcConfig>, now: Instant) -> Self {
        let mut builder = Rtc::builder()
            .set_ice_lite(true)
            .set_fingerprint_verification(!config.skips_fingerprint_verification())
            .clear_codecs()
            // Audio-only legs: no stats timer, no BWE.
            .set_stats_interval(None);
        {
            let codecs = builder.codec_config();
            for codec in config.audio_codecs() {
                match codec {
                    WebRtcAudioCodec::Opus => codecs.enable_opus(true, false),
                    WebRtcAudioCodec::Pcmu => codecs.add_config(
                        Pt::from(PT_PCMU),
                        None,
                        Str0mCodec::PCMU,
                        Frequency::EIGHT_KHZ,
                        Some(1),
                        FormatParams::default(),
                    ),
                    WebRtcAudioCodec::Pcma => codecs.add_config(
                        Pt::from(PT_PCMA),
                        None,
                        Str0mCodec::PCMA,
                        Frequency::EIGHT_KHZ,
                        Some(1),
                        FormatParams::default(),
                    ),
                }
            }
            if config.telephone_event_enabled() {
                let events = FormatParams {
                    telephone_event_max: Some(15),
                    ..Default::default()
                };
                codecs.add_config(
                    Pt::from(PT_TELEPHONE_EVENT_48K),
                    None,
                    Str0mCodec::Tele,
                    Frequency::FORTY_EIGHT_KHZ,
                    None,
                    events,
                );
                codecs.add_config(
                    Pt::from(PT_TELEPHONE_EVENT_8K),
                    None,
                    Str0mCodec::Tele,
                    Frequency::EIGHT_KHZ,
                    None,
                    events,
                );
            }
        }
        let mut rtc = builder.build(now);
        for c in config.candidates() {
            match Candidate::host(c.sdp_address(), "udp") {
                Ok(candidate) => {
                    rtc.add_local_candidate(candidate);
                }
                Err(e) => tracing::warn!(address = %c.sdp_address(), "candidate refused: {e}"),
            }
        }
        let mut leg = Self {
            rtc,
            config,
            state: State::New,
            mid: None,
            pending: None,
            format: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            rtc_timeout: None,
            stats: LegStats::default(),
        };
        leg.drain(now);
        leg
    }

    /// Answers a browser's offer (`UDP/TLS/RTP/SAVPF`, BUNDLE, rtcp-mux)
    /// with our ICE-lite, `a=setup:passive` answer.
    pub fn accept_offer(&mut self, now: Instant, offer: &str) -> Result<String, WebRtcError> {
        if self.state != State::New {
            return Err(WebRtcError::State("offer/answer already done"));
        }
        let mid = audio_mid(offer)?;
        let offer =
            SdpOffer::from_sdp_string(offer).map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
        let answer = self.rtc.sdp_api().accept_offer(offer)?;
        // str0m announces remote media (MediaAdded) only once connected.
        self.mid = Some(mid);
        self.drain(now);
        self.after_negotiation(now)?;
        Ok(answer.to_sdp_string())
    }

    /// Makes an offer with one sendrecv audio m-line (for calls towards a
    /// browser); finish with [`accept_answer`](Self::accept_answer).
    pub fn create_offer(&mut self, now: Instant) -> Result<String, WebRtcError> {
        if self.state != State::New {
            return Err(WebRtcError::State("offer/answer already done"));
        }
        let mut change = self.rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        let Some((offer, pending)) = change.apply() else {
            return Err(WebRtcError::State("nothing to offer"));
        };
        self.drain(now);
        self.mid = Some(mid);
        self.pending = Some(pending);
        self.state = State::Offered;
        Ok(offer.to_sdp_string())
    }

    /// Takes the browser's answer to [`create_offer`](Self::create_offer).
    pub fn accept_answer(&mut self, now: Instant, answer: &str) -> Result<(), WebRtcError> {
        let Some(pending) = self.pending.take() else {
            return Err(WebRtcError::State("no offer pending"));
        };
        let answer =
            SdpAnswer::from_sdp_string(answer).map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
        self.rtc.sdp_api().accept_answer(pending, answer)?;
        self.drain(now);
        self.after_negotiation(now)
    }

    fn after_negotiation(&mut self, now: Instant) -> Result<(), WebRtcError> {
        let mid = self.mid.ok_or(WebRtcError::NoCommonCodec)?;
        let format = self.pick_format(mid).ok_or(WebRtcError::NoCommonCodec)?;
        self.format = Some(format);
        self.state = State::Negotiated {
            deadline: now + self.config.connect_timeout_duration(),
        };
        Ok(())
    }

    fn pick_format(&mut self, mid: Mid) -> Option<AudioFormat> {
        let writer = self.rtc.writer(mid)?;
        let params: Vec<PayloadParams> = writer.payload_params().cloned().collect();
        for wanted in self.config.audio_codecs() {
            let codec = match wanted {
                WebRtcAudioCodec::Opus => Str0mCodec::Opus,
                WebRtcAudioCodec::Pcmu => Str0mCodec::PCMU,
                WebRtcAudioCodec::Pcma => Str0mCodec::PCMA,
            };
            if let Some(p) = params.iter().find(|p| p.spec().codec == codec) {
                let clock_rate = p.spec().clock_rate.get();
                let telephone_event = params.iter().any(|t| {
                    t.spec().codec == Str0mCodec::Tele && t.spec().clock_rate.get() == clock_rate
                });
                return Some(AudioFormat {
                    codec: *wanted,
                    payload_type: *p.pt(),
                    clock_rate,
                    telephone_event,
                });
            }
        }
        None
    }

    /// The negotiated audio format, once the SDP exchange is done.
    pub fn audio_format(&self) -> Option<AudioFormat> {
        self.format
    }

    /// Our DTLS certificate fingerprint (`a=fingerprint`), as `sha-256 AB:CD:…`.
    pub fn local_fingerprint(&mut self) -> String {
        self.rtc.direct_api().local_dtls_fingerprint().to_string()
    }

    /// Whether ICE and DTLS are up.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Whether the leg is over (failed or closed).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Failed | State::Closed)
    }

    /// The counters.
    pub fn stats(&self) -> LegStats {
        self.stats
    }

    /// Whether a datagram that arrived at `destination` from `source`
    /// belongs to this leg: STUN with our ufrag, or anything from an
    /// address ICE validated. For demultiplexing many legs on one socket.
    pub fn accepts(
        &self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) -> bool {
        let destination = self.config.advertised_for(destination);
        match Receive::new(Protocol::Udp, source, destination, datagram) {
            Ok(r) => self.rtc.accepts(&Input::Receive(now, r)),
            Err(_) => false,
        }
    }

    /// Takes one UDP datagram that arrived at our socket `destination`.
    pub fn handle_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        if self.is_finished() {
            return;
        }
        let destination = self.config.advertised_for(destination);
        let receive = match Receive::new(Protocol::Udp, source, destination, datagram) {
            Ok(r) => r,
            Err(_) => {
                self.stats.malformed += 1;
                return;
            }
        };
        // RFC 7983 §7: a first byte of 0..=3 is STUN.
        let is_stun = datagram.first().is_some_and(|b| *b <= 3);
        let input = Input::Receive(now, receive);
        // RFC 8842 §5 / RFC 8445 §7.3: media and DTLS only from a validated pair.
        if !is_stun && !self.rtc.accepts(&input) {
            self.stats.unvalidated_dropped += 1;
            tracing::debug!(%source, "datagram from an address ICE has not validated dropped");
            return;
        }
        if let Err(e) = self.rtc.handle_input(input) {
            self.fail(classify(&e));
            return;
        }
        self.drain(now);
    }

    /// Advances timers to `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.is_finished() {
            return;
        }
        if let State::Negotiated { deadline } = self.state
            && now >= deadline
        {
            self.fail(FailReason::ConnectTimeout);
            return;
        }
        if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
            self.fail(classify(&e));
            return;
        }
        self.drain(now);
    }

    /// Sends one encoded audio frame in the negotiated format.
    /// `rtp_time` counts in the codec's RTP clock from any origin.
    pub fn send_audio(
        &mut self,
        now: Instant,
        rtp_time: u64,
        payload: &[u8],
    ) -> Result<(), WebRtcError> {
        self.write(now, rtp_time, payload, None)
    }

    /// Sends a whole telephone-event (a DTMF key press of `duration`)
    /// starting at `rtp_time` (codec clock), as RFC 4733 packets at the
    /// audio clock rate, with three end packets.
    pub fn send_dtmf(
        &mut self,
        now: Instant,
        rtp_time: u64,
        event: u8,
        volume: u8,
        duration: std::time::Duration,
    ) -> Result<(), WebRtcError> {
        let tele = TelephoneEvent {
            event,
            end: true,
            volume: volume.min(63),
            duration,
        };
        self.write(now, rtp_time, &[], Some(tele))
    }

    fn write(
        &mut self,
        now: Instant,
        rtp_time: u64,
        payload: &[u8],
        tele: Option<TelephoneEvent>,
    ) -> Result<(), WebRtcError> {
        if self.state != State::Connected {
            return Err(WebRtcError::State("not connected"));
        }
        let (Some(mid), Some(format)) = (self.mid, self.format) else {
            return Err(WebRtcError::State("not negotiated"));
        };
        if tele.is_some() && !format.telephone_event {
            return Err(WebRtcError::State("telephone-event not negotiated"));
        }
        let Some(mut writer) = self.rtc.writer(mid) else {
            return Err(WebRtcError::State("no audio media"));
        };
        if let Some(t) = tele {
            writer = writer.telephone_event(t);
        }
        let clock = Frequency::new(format.clock_rate).unwrap_or(Frequency::FORTY_EIGHT_KHZ);
        let result = writer.write(
            Pt::from(format.payload_type),
            now,
            MediaTime::new(rtp_time, clock),
            payload.to_vec(),
        );
        if tele.is_none() && result.is_ok() {
            self.stats.audio_sent += 1;
        }
        self.drain(now);
        result.map_err(WebRtcError::from)
    }

    /// Closes DTLS (close_notify) and ends the leg.
    pub fn close(&mut self, now: Instant) {
        if self.is_finished() {
            return;
        }
        let _ = self.rtc.close();
        self.drain(now);
        self.state = State::Closed;
    }

    /// The next datagram to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<WebRtcEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Failed | State::Closed => None,
            State::Negotiated { deadline } => {
                Some(self.rtc_timeout.map_or(deadline, |t| t.min(deadline)))
            }
            _ => self.rtc_timeout,
        }
    }

    fn fail(&mut self, reason: FailReason) {
        if self.is_finished() {
            return;
        }
        tracing::info!(?reason, "webrtc leg failed");
        self.state = State::Failed;
        self.rtc.disconnect();
        self.transmits.clear();
        self.rtc_timeout = None;
        self.events.push_back(WebRtcEvent::Failed { reason });
    }

    /// Drains str0m's output to its timeout (its single-mutation contract).
    fn drain(&mut self, now: Instant) {
        loop {
            let output = match self.rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    self.fail(classify(&e));
                    return;
                }
            };
            match output {
                Output::Timeout(t) => {
                    self.rtc_timeout = Some(t.max(now));
                    return;
                }
                Output::Transmit(t) => {
                    let source = self.config.bind_for(t.source);
                    self.transmits.push_back(Transmit {
                        protocol: TransportProtocol::Udp,
                        source: Some(source),
                        destination: t.destination,
                        connection: None,
                        contents: Bytes::from(Vec::from(t.contents)),
                    });
                }
                Output::Event(e) => self.handle_rtc_event(e),
            }
            if self.is_finished() {
                return;
            }
        }
    }

    fn handle_rtc_event(&mut self, event: Event) {
        match event {
            Event::MediaAdded(added) if added.kind == MediaKind::Audio && self.mid.is_none() => {
                self.mid = Some(added.mid);
            }
            Event::Connected => {
                if matches!(self.state, State::Negotiated { .. }) {
                    self.state = State::Connected;
                    self.events.push_back(WebRtcEvent::Connected);
                }
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected)
                if self.state == State::Connected =>
            {
                self.fail(FailReason::Disconnected);
            }
            Event::Closed if !self.is_finished() => {
                self.state = State::Closed;
                self.events.push_back(WebRtcEvent::Closed);
            }
            Event::MediaData(data) if Some(data.mid) == self.mid => {
                let spec = data.params.spec();
                match (spec.codec, data.codec_extra) {
                    (Str0mCodec::Tele, CodecExtra::Tele(t)) => {
                        self.events
                            .push_back(WebRtcEvent::Dtmf(TelephoneEventReport {
                                event: t.event,
                                end: t.end,
                                volume: t.volume,
                                duration: t.duration,
                                rtp_time: data.time.numer(),
                                clock_rate: spec.clock_rate.get(),
                            }));
                    }
                    (codec, _) => {
                        let codec = match codec {
                            Str0mCodec::Opus => WebRtcAudioCodec::Opus,
                            Str0mCodec::PCMU => WebRtcAudioCodec::Pcmu,
                            Str0mCodec::PCMA => WebRtcAudioCodec::Pcma,
                            _ => return,
                        };
                        self.stats.audio_received += 1;
                        self.events.push_back(WebRtcEvent::Audio(AudioPayload {
                            codec,
                            payload_type: *data.pt,
                            rtp_time: data.time.numer(),
                            contiguous: data.contiguous,
                            payload: Bytes::from(data.data.to_vec()),
                        }));
                    }
                }
            }
            _ => {}
        }
    }
}

/// The `a=mid` of the first audio m-line.
fn audio_mid(sdp: &str) -> Result<Mid, WebRtcError> {
    let session = sdp_types::Session::parse(sdp.as_bytes())
        .map_err(|e| WebRtcError::BadSdp(e.to_string()))?;
    let media = session
        .medias
        .iter()
        .find(|m| m.media.eq_ignore_ascii_case("audio") && m.port != 0)
        .ok_or_else(|| WebRtcError::BadSdp("no audio m-line".into()))?;
    media
        .attributes
        .iter()
        .find(|a| a.attribute == "mid")
        .and_then(|a| a.value.as_deref())
        .map(Mid::from)
        .ok_or_else(|| WebRtcError::BadSdp("audio m-line without a=mid (BUNDLE needs it)".into()))
}

/// Maps str0m's errors to why the call fails.
fn classify(e: &RtcError) -> FailReason {
    match e {
        RtcError::RemoteSdp(msg) if msg.contains("fingerprint") => FailReason::Fingerprint,
        RtcError::Dtls(d) => FailReason::Dtls(d.to_string()),
        other => FailReason::Other(other.to_string()),
    }
}
