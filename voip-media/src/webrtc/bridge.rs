//! A browser leg bridged to a plain RTP/AVP leg (rtpengine's role):
//! Opus ⇄ PCMU/PCMA transcoding when the sides disagree, RFC 4733 DTMF
//! carried across, SDP rewritten between the profiles.
//!
//! ```text
//!  browser calls SIP:   handle_browser_offer ─▶ plain offer (INVITE body)
//!                       handle_plain_answer  ─▶ browser answer
//!  SIP calls browser:   handle_plain_offer   ─▶ browser offer
//!                       handle_browser_answer ─▶ plain answer (200 OK body)
//!  then:  browser UDP ─▶ handle_webrtc_receive   plain RTP ─▶ handle_plain_rtp
//!         poll_webrtc_transmit / poll_plain_transmit / poll_event / poll_timeout
//!  recording (opt-in): start_recording ─► poll_recording ─► RecordingWriter
//! ```

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use voip_core::{ConfigError, Rng, Transmit};

use super::config::{WebRtcAudioCodec, WebRtcConfig};
use super::leg::{
    AudioPayload, FailReason, TelephoneEventReport, WebRtcError, WebRtcEvent, WebRtcLeg,
};
use super::record::BridgeRecorder;
use super::sdp::{browser_audio_codecs, from_sdp_codec, media_codec, plain_media_for};
use super::transcode::Transcoder;
use crate::codec::OpusConfig;
use crate::dtmf::{DtmfDigit, Rfc4733Event, Rfc4733Receiver};
use crate::relay::{RecordingEvent, RecordingQueue, Side};
use crate::rtp::{RtpSession, RtpSessionConfig};
use crate::sdp::{SdpCodec, SdpConfig, SdpSession};

/// Gaps up to this many frames are concealed; longer ones (DTX, hold)
/// re-anchor the timeline instead.
const MAX_CONCEAL_FRAMES: u64 = 5;

/// Settings of a bridge, shared as `Arc`.
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    webrtc: Arc<WebRtcConfig>,
    plain_address: IpAddr,
    plain_port: u16,
    g711: Vec<WebRtcAudioCodec>,
    offer_opus: bool,
    ptime: u32,
    opus: OpusConfig,
    session_id: u64,
}

impl BridgeConfig {
    /// A bridge whose browser side uses `webrtc` and whose plain side
    /// sends and receives on `plain_address:plain_port`. Defaults: the
    /// plain side is offered Opus (when the browser has it), PCMU, PCMA;
    /// 20 ms frames; Opus with libopus's defaults.
    pub fn new(webrtc: Arc<WebRtcConfig>, plain_address: IpAddr, plain_port: u16) -> Self {
        Self {
            webrtc,
            plain_address,
            plain_port,
            g711: vec![WebRtcAudioCodec::Pcmu, WebRtcAudioCodec::Pcma],
            offer_opus: true,
            ptime: 20,
            opus: OpusConfig::default(),
            session_id: 1,
        }
    }

    /// Offer Opus to the plain side too (no transcoding if it takes it).
    pub fn offer_opus(mut self, on: bool) -> Self {
        self.offer_opus = on;
        self
    }

    /// The G.711 laws for the plain side, best first.
    pub fn g711(mut self, laws: Vec<WebRtcAudioCodec>) -> Self {
        self.g711 = laws;
        self
    }

    /// Frame length of transcoded audio, ms (10, 20, 30, 40 or 60).
    pub fn ptime(mut self, ms: u32) -> Self {
        self.ptime = ms;
        self
    }

    /// Opus settings for what we encode towards the browser.
    pub fn opus(mut self, opus: OpusConfig) -> Self {
        self.opus = opus;
        self
    }

    /// The plain SDP's `o=` session id.
    pub fn session_id(mut self, id: u64) -> Self {
        self.session_id = id;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<Arc<Self>, ConfigError> {
        if ![10, 20, 30, 40, 60].contains(&self.ptime) {
            return Err(ConfigError::new("ptime", "one of 10, 20, 30, 40, 60 ms"));
        }
        if self.g711.is_empty() && !self.offer_opus {
            return Err(ConfigError::new("g711", "the plain side needs a codec"));
        }
        Ok(Arc::new(self))
    }
}

/// What a bridge reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BridgeEvent {
    /// The browser leg is up; media flows both ways.
    Connected,
    /// The browser leg failed: hang the call up.
    Failed {
        /// Why.
        reason: FailReason,
    },
    /// The browser closed the leg.
    Closed,
    /// A key press from the browser, forwarded to the plain side.
    DtmfFromBrowser(DtmfDigit),
    /// A key press from the plain side, forwarded to the browser.
    DtmfFromPlain(DtmfDigit),
}

/// A datagram for the plain side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainTransmit {
    /// RTCP (else RTP).
    pub rtcp: bool,
    /// Where the plain peer's SDP said to send it (`None` on hold).
    pub destination: Option<SocketAddr>,
    /// The bytes.
    pub contents: Bytes,
}

/// Counters of a bridge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// Frames sent to the plain side.
    pub to_plain: u64,
    /// Frames sent to the browser.
    pub to_browser: u64,
    /// Frames concealed (lost on the way in).
    pub concealed: u64,
    /// Plain RTP packets dropped (malformed, probation, unknown payload type).
    pub plain_dropped: u64,
}

/// Maps one side's RTP time to the other's and counts output frames.
#[derive(Debug)]
struct Timeline {
    in_clock: u64,
    out_clock: u64,
    /// Next expected input time (extended).
    expected_in: Option<u64>,
    /// Last 32-bit input timestamp, for extending the plain side's.
    last32: Option<(u32, u64)>,
    next_out: u64,
    out_frame: u64,
}

impl Timeline {
    fn new(in_clock: u32, out_clock: u32, ptime: u32) -> Self {
        Self {
            in_clock: u64::from(in_clock),
            out_clock: u64::from(out_clock),
            expected_in: None,
            last32: None,
            next_out: 0,
            out_frame: u64::from(out_clock) * u64::from(ptime) / 1000,
        }
    }

    fn extend(&mut self, ts: u32) -> u64 {
        let ext = match self.last32 {
            None => u64::from(ts) + (1 << 32),
            Some((last, last_ext)) => {
                let delta = ts.wrapping_sub(last) as i32;
                last_ext.wrapping_add_signed(i64::from(delta))
            }
        };
        self.last32 = Some((ts, ext));
        ext
    }

    /// Frames missing before `at` (input time), or `None` to re-anchor.
    fn gap(&self, at: u64, in_frame: u64) -> Option<u64> {
        let expected = self.expected_in?;
        if at < expected || in_frame == 0 {
            return Some(0);
        }
        let frames = (at - expected) / in_frame;
        (frames <= MAX_CONCEAL_FRAMES).then_some(frames)
    }

    fn reanchor(&mut self, gap_in: u64) {
        self.next_out += gap_in * self.out_clock / self.in_clock.max(1);
    }

    fn take_out(&mut self) -> u64 {
        let t = self.next_out;
        self.next_out += self.out_frame;
        t
    }
}

#[derive(Debug)]
struct Route {
    plain_codec: WebRtcAudioCodec,
    plain_pt: u8,
    /// The plain side's audio format as negotiated (for the recording).
    plain_format: SdpCodec,
    plain_clock: u32,
    plain_te_pt: Option<u8>,
    browser_codec: WebRtcAudioCodec,
    browser_clock: u32,
    /// `None`: the same codec both ways, payloads pass through.
    to_plain: Option<Transcoder>,
    to_browser: Option<Transcoder>,
    to_plain_time: Timeline,
    to_browser_time: Timeline,
    plain_dtmf: Rfc4733Receiver,
    /// (browser event start, plain event timestamp) of the event in flight.
    browser_event: Option<(u64, u64)>,
    plain_marker: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Offer {
    None,
    /// The browser offered; the plain side has our offer.
    FromBrowser,
    /// The plain side offered; the browser has our offer.
    FromPlain,
    Done,
}

/// A browser leg bridged to a plain RTP leg.
#[derive(Debug)]
pub struct WebRtcBridge {
    config: Arc<BridgeConfig>,
    leg: WebRtcLeg,
    sdp: SdpSession,
    plain: RtpSession,
    offer: Offer,
    browser_offer: Option<String>,
    browser_codecs: Vec<WebRtcAudioCodec>,
    route: Option<Route>,
    plain_remote: Option<(SocketAddr, SocketAddr)>,
    plain_out: VecDeque<PlainTransmit>,
    events: VecDeque<BridgeEvent>,
    scratch: Vec<Bytes>,
    stats: BridgeStats,
    recorder: Option<BridgeRecorder>,
    recordings: RecordingQueue,
}

impl WebRtcBridge {
    /// A bridge with nothing negotiated yet. `rng` picks the plain side's
    /// SSRC, CNAME and RTP offsets.
    pub fn new(config: Arc<BridgeConfig>, rng: Rng, now: Instant) -> Result<Self, WebRtcError> {
        let leg = WebRtcLeg::new(config.webrtc.clone(), now);
        let sdp = SdpSession::new(SdpConfig::new(
            config.plain_address,
            config.session_id,
            vec![],
        ));
        let rtp = RtpSessionConfig::default()
            .clock_rate(8000)
            .min_sequential(1)
            .build()
            .map_err(|e| WebRtcError::State(e.field))?;
        Ok(Self {
            leg,
            sdp,
            plain: RtpSession::new(rtp, rng, now),
            offer: Offer::None,
            browser_offer: None,
            browser_codecs: Vec::new(),
            route: None,
            plain_remote: None,
            plain_out: VecDeque::new(),
            events: VecDeque::new(),
            scratch: Vec::new(),
            stats: BridgeStats::default(),
            recorder: None,
            recordings: RecordingQueue::new(),
            config,
        })
    }

    /// The browser leg.
    pub fn leg(&self) -> &WebRtcLeg {
        &self.leg
    }

    /// The counters.
    pub fn stats(&self) -> BridgeStats {
        self.stats
    }

    /// The codecs in use: (browser side, plain side), once negotiated.
    pub fn codecs(&self) -> Option<(WebRtcAudioCodec, WebRtcAudioCodec)> {
        self.route
            .as_ref()
            .map(|r| (r.browser_codec, r.plain_codec))
    }

    /// Whether audio is transcoded (`false`: the same codec on both sides).
    pub fn is_transcoding(&self) -> bool {
        self.route.as_ref().is_some_and(|r| r.to_plain.is_some())
    }

    /// Browser calls out: takes its offer, returns the plain `RTP/AVP`
    /// offer for the SIP side. Finish with [`handle_plain_answer`](Self::handle_plain_answer).
    pub fn handle_browser_offer(&mut self, offer: &str) -> Result<Bytes, WebRtcError> {
        if self.offer != Offer::None {
            return Err(WebRtcError::State("offer/answer already started"));
        }
        self.browser_codecs = browser_audio_codecs(offer)?;
        if self.browser_codecs.is_empty() {
            return Err(WebRtcError::NoCommonCodec);
        }
        let media = plain_media_for(
            self.config.plain_port,
            &self.browser_codecs,
            self.config.offer_opus,
            &self.config.g711,
        );
        self.sdp = SdpSession::new(SdpConfig::new(
            self.config.plain_address,
            self.config.session_id,
            vec![media],
        ));
        let plain_offer = self.sdp.create_offer()?;
        self.browser_offer = Some(offer.to_owned());
        self.offer = Offer::FromBrowser;
        Ok(plain_offer)
    }

    /// The plain side's answer; returns the browser's answer.
    pub fn handle_plain_answer(
        &mut self,
        now: Instant,
        answer: &[u8],
    ) -> Result<String, WebRtcError> {
        if self.offer != Offer::FromBrowser {
            return Err(WebRtcError::State("no browser offer pending"));
        }
        self.sdp.handle_answer(answer)?;
        let offer = self.browser_offer.take().unwrap_or_default();
        let browser_answer = self.leg.accept_offer(now, &offer)?;
        self.setup_route()?;
        self.offer = Offer::Done;
        Ok(browser_answer)
    }

    /// SIP calls the browser: takes the plain offer, returns the offer for
    /// the browser. Finish with [`handle_browser_answer`](Self::handle_browser_answer).
    pub fn handle_plain_offer(
        &mut self,
        now: Instant,
        offer: &[u8],
    ) -> Result<String, WebRtcError> {
        if self.offer != Offer::None {
            return Err(WebRtcError::State("offer/answer already started"));
        }
        let all = [WebRtcAudioCodec::Opus];
        let media = plain_media_for(
            self.config.plain_port,
            &all,
            self.config.offer_opus,
            &self.config.g711,
        );
        self.sdp = SdpSession::new(SdpConfig::new(
            self.config.plain_address,
            self.config.session_id,
            vec![media],
        ));
        self.sdp.handle_offer(offer)?;
        let browser_offer = self.leg.create_offer(now)?;
        self.offer = Offer::FromPlain;
        Ok(browser_offer)
    }

    /// The browser's answer; returns the plain answer (the 200 OK body).
    pub fn handle_browser_answer(
        &mut self,
        now: Instant,
        answer: &str,
    ) -> Result<Bytes, WebRtcError> {
        if self.offer != Offer::FromPlain {
            return Err(WebRtcError::State("no plain offer pending"));
        }
        self.leg.accept_answer(now, answer)?;
        let plain_answer = self.sdp.create_answer()?;
        self.setup_route()?;
        self.offer = Offer::Done;
        Ok(plain_answer)
    }

    fn setup_route(&mut self) -> Result<(), WebRtcError> {
        let negotiated = self
            .sdp
            .negotiated()
            .iter()
            .find(|m| m.accepted && m.kind == "audio")
            .ok_or(WebRtcError::NoCommonCodec)?;
        let send = negotiated.send_codec().ok_or(WebRtcError::NoCommonCodec)?;
        let plain_codec = from_sdp_codec(send).ok_or(WebRtcError::NoCommonCodec)?;
        let plain_clock = send.clock_rate;
        let plain_te_pt = negotiated
            .telephone_event_for(plain_clock)
            .map(|t| t.payload_type);
        let rtcp = if negotiated.rtcp_mux {
            negotiated.remote_rtp
        } else {
            negotiated.remote_rtcp
        };
        self.plain_remote = negotiated.remote_rtp.zip(rtcp);
        let format = self.leg.audio_format().ok_or(WebRtcError::NoCommonCodec)?;
        let ptime = self.config.ptime;
        let opus = &self.config.opus;
        let (to_plain, to_browser) = if plain_codec == format.codec {
            (None, None)
        } else {
            let plain = media_codec(plain_codec, opus);
            let browser = media_codec(format.codec, opus);
            (
                Some(Transcoder::new(&browser, &plain, ptime)?),
                Some(Transcoder::new(&plain, &browser, ptime)?),
            )
        };
        self.route = Some(Route {
            plain_codec,
            plain_pt: send.payload_type,
            plain_format: send.clone(),
            plain_clock,
            plain_te_pt,
            browser_codec: format.codec,
            browser_clock: format.clock_rate,
            to_plain,
            to_browser,
            to_plain_time: Timeline::new(format.clock_rate, plain_clock, ptime),
            to_browser_time: Timeline::new(plain_clock, format.clock_rate, ptime),
            plain_dtmf: Rfc4733Receiver::new(plain_clock),
            browser_event: None,
            plain_marker: true,
        });
        Ok(())
    }

    /// A UDP datagram for the browser leg.
    pub fn handle_webrtc_receive(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        datagram: &[u8],
    ) {
        self.leg.handle_receive(now, source, destination, datagram);
        self.pump_leg(now);
    }

    /// An RTP datagram from the plain side.
    pub fn handle_plain_rtp(&mut self, now: Instant, datagram: Bytes) {
        let received = match self.plain.handle_rtp(now, datagram) {
            Ok(r) => r,
            Err(_) => {
                self.stats.plain_dropped += 1;
                return;
            }
        };
        let Some(route) = self.route.as_mut() else {
            self.stats.plain_dropped += 1;
            return;
        };
        let header = &received.packet.header;
        let payload = received.packet.payload.clone();
        if let Some(recorder) = self.recorder.as_mut() {
            let format = if header.payload_type == route.plain_pt {
                Some(route.plain_format.clone())
            } else {
                route
                    .plain_te_pt
                    .filter(|pt| *pt == header.payload_type)
                    .map(|pt| SdpCodec::telephone_event(route.plain_clock, pt))
            };
            if let Some(format) = format {
                recorder.plain_rtp(
                    now,
                    header.payload_type,
                    header.sequence_number,
                    header.timestamp,
                    header.ssrc,
                    payload.clone(),
                    format,
                    &mut self.recordings,
                );
            }
        }
        if Some(header.payload_type) == route.plain_te_pt {
            let _ = route
                .plain_dtmf
                .handle_packet(now, header.timestamp, &payload);
            self.pump_plain_dtmf(now);
            return;
        }
        if header.payload_type != route.plain_pt {
            self.stats.plain_dropped += 1;
            return;
        }
        let at = route.to_browser_time.extend(header.timestamp);
        if let Err(e) = self.forward_to_browser(now, at, &payload) {
            tracing::debug!("audio to the browser not sent: {e}");
        }
    }

    /// An RTCP datagram from the plain side (when not multiplexed).
    pub fn handle_plain_rtcp(&mut self, now: Instant, wall: SystemTime, datagram: &[u8]) {
        if self.plain.handle_rtcp(now, wall, datagram).is_err() {
            self.stats.plain_dropped += 1;
        }
        while self.plain.poll_event().is_some() {}
    }

    /// Advances both legs' timers.
    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime) {
        if self.leg.poll_timeout().is_some_and(|t| t <= now) {
            self.leg.handle_timeout(now);
            self.pump_leg(now);
        }
        if self.plain.poll_timeout().is_some_and(|t| t <= now) {
            self.plain.handle_timeout(now, wall);
            while self.plain.poll_event().is_some() {}
            self.drain_plain_rtcp();
        }
        if let Some(route) = self.route.as_mut()
            && route.plain_dtmf.poll_timeout().is_some_and(|t| t <= now)
        {
            route.plain_dtmf.handle_timeout(now);
            self.pump_plain_dtmf(now);
        }
        if let Some(recorder) = self.recorder.as_mut()
            && recorder.poll_timeout().is_some_and(|t| t <= now)
        {
            recorder.handle_timeout(now, &mut self.recordings);
        }
    }

    /// The earliest deadline of either leg.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let dtmf = self
            .route
            .as_ref()
            .and_then(|r| r.plain_dtmf.poll_timeout());
        let recording = self
            .recorder
            .as_ref()
            .and_then(BridgeRecorder::poll_timeout);
        [
            self.leg.poll_timeout(),
            self.plain.poll_timeout(),
            dtmf,
            recording,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next datagram for the browser.
    #[must_use]
    pub fn poll_webrtc_transmit(&mut self) -> Option<Transmit> {
        self.leg.poll_transmit()
    }

    /// The next datagram for the plain side.
    #[must_use]
    pub fn poll_plain_transmit(&mut self) -> Option<PlainTransmit> {
        self.plain_out.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<BridgeEvent> {
        self.events.pop_front()
    }

    /// Starts recording the call through the bridge: from now on the audio
    /// of both directions comes out of [`poll_recording`](Self::poll_recording)
    /// decoded, at `rate`, as the relay's recording tap hands it out
    /// (`Started`, then `Frame`s placed on the call's timeline, sample 0 is
    /// `now`, then `Stopped` at [`stop_recording`](Self::stop_recording) or
    /// [`close`](Self::close)). `browser` is the side of the call the
    /// browser is (`A` the caller: left channel; `B` the callee: right); the
    /// plain side is the other. Two bridges joined in memory carry the same
    /// call: record it on one of them.
    pub fn start_recording(
        &mut self,
        now: Instant,
        call_id: &str,
        rate: u32,
        browser: Side,
    ) -> Result<(), WebRtcError> {
        if !(8000..=48000).contains(&rate) {
            return Err(WebRtcError::State(
                "recording rate must be 8000 to 48000 Hz",
            ));
        }
        if self.recorder.is_some() {
            return Err(WebRtcError::State("already recording"));
        }
        self.recorder = Some(BridgeRecorder::new(
            call_id.into(),
            rate,
            browser,
            now,
            &mut self.recordings,
        ));
        Ok(())
    }

    /// Ends the recording (releases what its tap holds, then `Stopped`);
    /// `false` when it was not recording.
    pub fn stop_recording(&mut self, now: Instant) -> bool {
        match self.recorder.take() {
            Some(recorder) => {
                recorder.finish(now, &mut self.recordings);
                true
            }
            None => false,
        }
    }

    /// Whether the call is being recorded.
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// The next event of the recording.
    #[must_use]
    pub fn poll_recording(&mut self) -> Option<RecordingEvent> {
        self.recordings.pop_front()
    }

    /// Hangs up: DTLS close_notify to the browser, RTCP BYE to the plain
    /// side; ends the recording.
    pub fn close(&mut self, now: Instant, wall: SystemTime) {
        self.stop_recording(now);
        self.leg.close(now);
        self.plain.close(now, wall, None);
        self.drain_plain_rtcp();
    }

    fn drain_plain_rtcp(&mut self) {
        while let Some(rtcp) = self.plain.poll_transmit() {
            self.plain_out.push_back(PlainTransmit {
                rtcp: true,
                destination: self.plain_remote.map(|r| r.1),
                contents: rtcp,
            });
        }
    }

    fn pump_leg(&mut self, now: Instant) {
        while let Some(event) = self.leg.poll_event() {
            match event {
                WebRtcEvent::Connected => self.events.push_back(BridgeEvent::Connected),
                WebRtcEvent::Failed { reason } => {
                    self.events.push_back(BridgeEvent::Failed { reason })
                }
                WebRtcEvent::Closed => self.events.push_back(BridgeEvent::Closed),
                WebRtcEvent::Audio(audio) => {
                    if let Some(recorder) = self.recorder.as_mut()
                        && self
                            .route
                            .as_ref()
                            .is_some_and(|r| r.browser_codec == audio.codec)
                    {
                        recorder.browser_audio(now, &audio, &mut self.recordings);
                    }
                    self.forward_to_plain(now, audio)
                }
                WebRtcEvent::Dtmf(report) => self.dtmf_to_plain(now, report),
            }
        }
    }

    fn forward_to_plain(&mut self, now: Instant, audio: AudioPayload) {
        let Some(route) = self.route.as_mut() else {
            return;
        };
        if audio.codec != route.browser_codec {
            return;
        }
        let in_frame = u64::from(route.browser_clock) * u64::from(self.config.ptime) / 1000;
        self.scratch.clear();
        let timeline = &mut route.to_plain_time;
        match timeline.gap(audio.rtp_time, in_frame) {
            None => {
                timeline.reanchor(audio.rtp_time - timeline.expected_in.unwrap_or(audio.rtp_time))
            }
            Some(0) => {}
            Some(missing) => {
                if let Some(t) = route.to_plain.as_mut() {
                    let _ = t.conceal(missing as usize, &mut self.scratch);
                    self.stats.concealed += missing;
                } else {
                    timeline.reanchor(missing * in_frame);
                }
            }
        }
        timeline.expected_in = Some(audio.rtp_time + in_frame);
        match route.to_plain.as_mut() {
            Some(t) => {
                if t.transcode(&audio.payload, &mut self.scratch).is_err() {
                    return;
                }
            }
            None => self.scratch.push(audio.payload),
        }
        for payload in self.scratch.drain(..) {
            let ts = route.to_plain_time.take_out();
            let marker = std::mem::take(&mut route.plain_marker);
            let packet = self
                .plain
                .send_rtp(now, route.plain_pt, ts as u32, marker, &payload);
            self.stats.to_plain += 1;
            self.plain_out.push_back(PlainTransmit {
                rtcp: false,
                destination: self.plain_remote.map(|r| r.0),
                contents: packet,
            });
        }
    }

    fn forward_to_browser(
        &mut self,
        now: Instant,
        at: u64,
        payload: &[u8],
    ) -> Result<(), WebRtcError> {
        let Some(route) = self.route.as_mut() else {
            return Ok(());
        };
        if !self.leg.is_connected() {
            return Ok(());
        }
        let in_frame = u64::from(route.plain_clock) * u64::from(self.config.ptime) / 1000;
        self.scratch.clear();
        let timeline = &mut route.to_browser_time;
        match timeline.gap(at, in_frame) {
            None => timeline.reanchor(at - timeline.expected_in.unwrap_or(at)),
            Some(0) => {}
            Some(missing) => {
                if let Some(t) = route.to_browser.as_mut() {
                    t.conceal(missing as usize, &mut self.scratch)
                        .map_err(WebRtcError::Codec)?;
                    self.stats.concealed += missing;
                } else {
                    timeline.reanchor(missing * in_frame);
                }
            }
        }
        timeline.expected_in = Some(at + in_frame);
        match route.to_browser.as_mut() {
            Some(t) => t
                .transcode(payload, &mut self.scratch)
                .map_err(WebRtcError::Codec)?,
            None => self.scratch.push(Bytes::copy_from_slice(payload)),
        }
        let frames: Vec<Bytes> = self.scratch.drain(..).collect();
        for frame in frames {
            let Some(route) = self.route.as_mut() else {
                break;
            };
            let t = route.to_browser_time.take_out();
            self.leg.send_audio(now, t, &frame)?;
            self.stats.to_browser += 1;
        }
        self.pump_leg(now);
        Ok(())
    }

    fn dtmf_to_plain(&mut self, now: Instant, report: TelephoneEventReport) {
        let Some(route) = self.route.as_mut() else {
            return;
        };
        let Some(te_pt) = route.plain_te_pt else {
            return;
        };
        let new_event = route
            .browser_event
            .is_none_or(|(start, _)| start != report.rtp_time);
        if new_event {
            // The event starts where the next audio frame would.
            route.browser_event = Some((report.rtp_time, route.to_plain_time.next_out));
            if let Some(digit) = DtmfDigit::from_event(report.event) {
                self.events.push_back(BridgeEvent::DtmfFromBrowser(digit));
            }
        }
        let ts = route.browser_event.map_or(0, |(_, ts)| ts);
        let units = (report.duration.as_nanos() * u128::from(route.plain_clock) / 1_000_000_000)
            .min(u128::from(u16::MAX)) as u16;
        let flags = (u8::from(report.end) << 7) | (report.volume & 0x3f);
        let [d0, d1] = units.to_be_bytes();
        let payload = [report.event, flags, d0, d1];
        let packet = self
            .plain
            .send_rtp(now, te_pt, ts as u32, new_event, &payload);
        self.plain_out.push_back(PlainTransmit {
            rtcp: false,
            destination: self.plain_remote.map(|r| r.0),
            contents: packet,
        });
    }

    fn pump_plain_dtmf(&mut self, now: Instant) {
        let Some(route) = self.route.as_mut() else {
            return;
        };
        let mut released = Vec::new();
        while let Some(event) = route.plain_dtmf.poll_event() {
            if let Rfc4733Event::Released {
                digit, duration, ..
            } = event
            {
                released.push((digit, duration));
            }
        }
        for (digit, duration) in released {
            self.events.push_back(BridgeEvent::DtmfFromPlain(digit));
            let Some(route) = self.route.as_mut() else {
                return;
            };
            let at = route.to_browser_time.next_out;
            let duration = duration.max(Duration::from_millis(40));
            if let Err(e) = self.leg.send_dtmf(now, at, digit.event(), 10, duration) {
                tracing::debug!("dtmf to the browser not sent: {e}");
            }
        }
        self.pump_leg(now);
    }
}
