//! The sans-IO RTP session of one media leg (RFC 3550): sends RTP with our
//! SSRC, validates and accounts what the peer sends, and runs RTCP
//! (SR/RR/SDES/BYE on the §6.2 / A.7 schedule, RTT from report blocks).
//!
//! ```text
//!             send_rtp(now, pt, ts, marker, payload) ──► RTP bytes (caller sends, SRTP-protects)
//! RTP bytes ──► handle_rtp(now, bytes) ──► Ok(ReceivedRtp) for the jitter buffer | Err(RtpDrop), counted
//! RTCP bytes ─► handle_rtcp(now, wall, bytes) ──► events (reports, RTT, BYE)
//!               handle_timeout(now, wall) at poll_timeout() ──► poll_transmit(): RTCP compound
//! ```
//! The session does not know addresses: with rtcp-mux the caller tells RTP
//! from RTCP with [`classify`](super::demux::classify) and sends both to the
//! same port.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{BufMut, Bytes, BytesMut};
use voip_core::{ConfigError, Rng};

use super::interval::{
    IntervalInput, RTCP_MIN_TIME, deterministic_interval, reduced_minimum, rtcp_interval,
    update_avg_rtcp_size,
};
use super::ntp::{NtpTime, round_trip_time};
use super::packet::{RtpParseError, parse_rtp};
use super::quality::{CodecImpairment, LegMeasurements, QualityReport};
use super::rtcp::{
    ReportBlock, RtcpError, RtcpPacket, SdesChunk, SenderInfo, build_compound, parse_compound,
};
use super::sequence::SequenceOutcome;
use super::source::RemoteSource;

/// Octets of IPv4 + UDP headers counted in the average RTCP size (§6.2).
const LOWER_LAYER_OVERHEAD: usize = 28;
/// Most report blocks in one SR/RR (the 5-bit count).
const MAX_REPORT_BLOCKS: usize = 31;
/// Members silent for this many deterministic intervals are removed (§6.3.5).
const MEMBER_TIMEOUT_INTERVALS: u32 = 5;

/// Settings of an [`RtpSession`]. `Default` + setters, checked by `build()`.
#[derive(Debug, Clone)]
pub struct RtpSessionConfig {
    ssrc: Option<u32>,
    cname: Option<String>,
    clock_rate: u32,
    session_bandwidth_bps: u32,
    reduced_minimum: bool,
    min_sequential: u32,
    max_sources: usize,
}

impl Default for RtpSessionConfig {
    fn default() -> Self {
        Self {
            ssrc: None,
            cname: None,
            clock_rate: 8000,
            session_bandwidth_bps: 64_000,
            reduced_minimum: false,
            min_sequential: super::sequence::MIN_SEQUENTIAL,
            max_sources: 4,
        }
    }
}

impl RtpSessionConfig {
    /// Our SSRC (default: random from the session's RNG).
    pub fn ssrc(mut self, ssrc: u32) -> Self {
        self.ssrc = Some(ssrc);
        self
    }

    /// Our CNAME (default: a random token; at most 255 octets).
    pub fn cname(mut self, cname: impl Into<String>) -> Self {
        self.cname = Some(cname.into());
        self
    }

    /// The RTP clock rate of the payload (8000 for G.711, 48000 for Opus).
    pub fn clock_rate(mut self, hz: u32) -> Self {
        self.clock_rate = hz;
        self
    }

    /// The session bandwidth in bit/s (SDP `b=AS`); RTCP gets 5 % of it.
    pub fn session_bandwidth(mut self, bps: u32) -> Self {
        self.session_bandwidth_bps = bps;
        self
    }

    /// Use the reduced minimum interval 360 / kbit/s of §6.2 instead of 5 s.
    pub fn reduced_minimum(mut self, on: bool) -> Self {
        self.reduced_minimum = on;
        self
    }

    /// Packets in sequence before a new source is valid (A.1 MIN_SEQUENTIAL,
    /// default 2; 1 plays the first packet).
    pub fn min_sequential(mut self, n: u32) -> Self {
        self.min_sequential = n;
        self
    }

    /// Most remote sources tracked at once (default 4); packets from more
    /// are dropped, so spoofed SSRCs cannot grow the state.
    pub fn max_sources(mut self, n: usize) -> Self {
        self.max_sources = n;
        self
    }

    /// Checks the settings.
    pub fn build(self) -> Result<Arc<Self>, ConfigError> {
        if self.clock_rate == 0 {
            return Err(ConfigError::new("clock_rate", "must be above 0"));
        }
        if self.session_bandwidth_bps == 0 {
            return Err(ConfigError::new("session_bandwidth", "must be above 0"));
        }
        if self.min_sequential == 0 {
            return Err(ConfigError::new("min_sequential", "must be 1 or more"));
        }
        if self.max_sources == 0 {
            return Err(ConfigError::new("max_sources", "must be 1 or more"));
        }
        if self
            .cname
            .as_ref()
            .is_some_and(|c| c.is_empty() || c.len() > 255)
        {
            return Err(ConfigError::new("cname", "must be 1 to 255 octets"));
        }
        Ok(Arc::new(self))
    }
}

/// A received RTP packet that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRtp {
    /// The parsed packet (payload is a slice of the datagram).
    pub packet: rtp::packet::Packet,
    /// Its 64-bit extended sequence number, for the jitter buffer.
    pub extended_seq: u64,
    /// Older than the highest sequence number seen (reordered or duplicate).
    pub late: bool,
}

/// Why a received RTP packet was dropped. Each is also counted in
/// [`SessionStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtpDrop {
    /// Not a well-formed RTP packet.
    #[error("malformed rtp: {0}")]
    Malformed(RtpParseError),
    /// A payload type of 64–95, which RFC 5761 reserves for RTCP.
    #[error("rtp payload type in the rtcp range")]
    RtcpPayloadType,
    /// The source is still on probation (RFC 3550 A.1).
    #[error("source on probation")]
    Probation,
    /// A sequence jump beyond MAX_DROPOUT/MAX_MISORDER (RFC 3550 A.1).
    #[error("bad sequence number jump")]
    BadSequence,
    /// Too many sources already tracked.
    #[error("too many sources")]
    TooManySources,
    /// Carries our own SSRC: a collision or a loop (RFC 3550 §8.2); we chose
    /// a new SSRC.
    #[error("ssrc collision")]
    SsrcCollision,
}

/// What happened, drained with [`RtpSession::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RtpEvent {
    /// A source passed probation; it is now the active source.
    NewSource {
        /// The new source.
        ssrc: u32,
        /// The active source it replaced, whose statistics stay separate.
        replaced: Option<u32>,
    },
    /// A source restarted its sequence numbers; its statistics were reset.
    SequenceRestarted {
        /// The source.
        ssrc: u32,
    },
    /// A sender report arrived.
    SenderReport {
        /// Its sender.
        ssrc: u32,
        /// Its sender info.
        info: SenderInfo,
    },
    /// A report block about our stream arrived.
    ReceptionReport {
        /// The reporter.
        from: u32,
        /// The block.
        block: ReportBlock,
        /// Round-trip time computed from it (§6.4.1), if it had an LSR.
        rtt: Option<Duration>,
    },
    /// A source left with a BYE.
    Bye {
        /// The source.
        ssrc: u32,
        /// Its reason, if given.
        reason: Option<Bytes>,
    },
    /// A source fell silent for five report intervals (§6.3.5).
    SourceTimedOut {
        /// The source.
        ssrc: u32,
    },
    /// A peer used our SSRC; we sent a BYE for it and took a new one (§8.2).
    SsrcChanged {
        /// The SSRC given up.
        old: u32,
        /// The new one.
        new: u32,
    },
}

/// Counters of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionStats {
    /// RTP packets accepted.
    pub rtp_received: u64,
    /// RTP datagrams that did not parse.
    pub rtp_malformed: u64,
    /// RTP packets dropped during probation.
    pub rtp_probation: u64,
    /// RTP packets dropped for a bad sequence jump.
    pub rtp_bad_sequence: u64,
    /// RTP packets dropped for other reasons (too many sources, RTCP PT,
    /// SSRC collision).
    pub rtp_rejected: u64,
    /// RTCP datagrams accepted.
    pub rtcp_received: u64,
    /// RTCP datagrams that did not parse.
    pub rtcp_malformed: u64,
    /// RTP packets sent.
    pub rtp_sent: u64,
    /// RTCP compounds sent.
    pub rtcp_sent: u64,
    /// SSRC collisions (§8.2).
    pub ssrc_collisions: u64,
}

/// One media leg's RTP/RTCP state. See the module docs for the call order.
#[derive(Debug)]
pub struct RtpSession {
    config: Arc<RtpSessionConfig>,
    rng: Rng,
    ssrc: u32,
    cname: Bytes,
    epoch: Instant,
    // Sending.
    next_seq: u16,
    timestamp_offset: u32,
    packets_sent: u32,
    octets_sent: u32,
    last_sent: Option<(Instant, u32)>,
    sent_since_report: bool,
    sent_previous_interval: bool,
    // Receiving.
    sources: Vec<RemoteSource>,
    active: Option<u32>,
    // RTCP.
    avg_rtcp_size: f64,
    initial: bool,
    last_report: Instant,
    next_report: Instant,
    closed: bool,
    rtt: Option<Duration>,
    remote_view: Option<ReportBlock>,
    transmits: VecDeque<Bytes>,
    events: VecDeque<RtpEvent>,
    stats: SessionStats,
}

impl RtpSession {
    /// A session starting at `now`; its first report is due after half the
    /// minimum interval, randomised (§6.2).
    pub fn new(config: Arc<RtpSessionConfig>, mut rng: Rng, now: Instant) -> Self {
        let ssrc = config.ssrc.unwrap_or_else(|| rng.next_u32());
        let cname = match &config.cname {
            Some(c) => Bytes::from(c.clone()),
            None => Bytes::from(rng.token(16)),
        };
        let next_seq = rng.next_u32() as u16;
        let timestamp_offset = rng.next_u32();
        let mut session = Self {
            config,
            rng,
            ssrc,
            cname,
            epoch: now,
            next_seq,
            timestamp_offset,
            packets_sent: 0,
            octets_sent: 0,
            last_sent: None,
            sent_since_report: false,
            sent_previous_interval: false,
            sources: Vec::new(),
            active: None,
            // A first guess: SR + one block + SDES, plus IP/UDP.
            avg_rtcp_size: 100.0,
            initial: true,
            last_report: now,
            next_report: now,
            closed: false,
            rtt: None,
            remote_view: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: SessionStats::default(),
        };
        let first = session.interval();
        session.next_report = now + first;
        session
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Our CNAME.
    pub fn cname(&self) -> &Bytes {
        &self.cname
    }

    /// The counters.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// The active remote source (the last one to pass probation).
    pub fn active_source(&self) -> Option<&RemoteSource> {
        self.active.and_then(|ssrc| self.source(ssrc))
    }

    /// A tracked remote source.
    pub fn source(&self, ssrc: u32) -> Option<&RemoteSource> {
        self.sources.iter().find(|s| s.ssrc() == ssrc)
    }

    /// The latest round-trip time from a report block about us.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The peer's latest report block about our stream.
    pub fn remote_report(&self) -> Option<ReportBlock> {
        self.remote_view
    }

    /// Builds the next RTP packet of our stream. `timestamp` counts from 0
    /// in clock-rate units; the session adds its random offset (§5.1) and
    /// assigns the next sequence number.
    pub fn send_rtp(
        &mut self,
        now: Instant,
        payload_type: u8,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
    ) -> Bytes {
        let ts = timestamp.wrapping_add(self.timestamp_offset);
        let mut buf = BytesMut::with_capacity(12 + payload.len());
        buf.put_u8(0x80);
        buf.put_u8((u8::from(marker) << 7) | (payload_type & 0x7f));
        buf.put_u16(self.next_seq);
        buf.put_u32(ts);
        buf.put_u32(self.ssrc);
        buf.put_slice(payload);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add(payload.len() as u32);
        self.last_sent = Some((now, ts));
        self.sent_since_report = true;
        self.stats.rtp_sent += 1;
        buf.freeze()
    }

    /// Takes one received RTP datagram (after SRTP unprotect).
    pub fn handle_rtp(&mut self, now: Instant, datagram: Bytes) -> Result<ReceivedRtp, RtpDrop> {
        let packet = match parse_rtp(&datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.rtp_malformed += 1;
                return Err(RtpDrop::Malformed(e));
            }
        };
        let h = &packet.header;
        if (64..=95).contains(&h.payload_type) {
            self.stats.rtp_rejected += 1;
            return Err(RtpDrop::RtcpPayloadType);
        }
        if h.ssrc == self.ssrc {
            self.stats.rtp_rejected += 1;
            self.collision(now);
            return Err(RtpDrop::SsrcCollision);
        }
        let (ssrc, seq, ts, len) = (h.ssrc, h.sequence_number, h.timestamp, packet.payload.len());
        let arrival = self.arrival_units(now);
        let index = match self.sources.iter().position(|s| s.ssrc() == ssrc) {
            Some(i) => i,
            None => {
                if !self.make_room() {
                    self.stats.rtp_rejected += 1;
                    return Err(RtpDrop::TooManySources);
                }
                let min = self.config.min_sequential;
                self.sources.push(RemoteSource::new(
                    ssrc,
                    seq,
                    self.config.clock_rate,
                    min,
                    now,
                ));
                self.sources.len() - 1
            }
        };
        let was_valid = self.sources[index].is_valid();
        let outcome = self.sources[index].on_rtp(now, arrival, seq, ts, len);
        let (extended_seq, late) = match outcome {
            SequenceOutcome::Valid { extended, late } => (extended, late),
            SequenceOutcome::Restarted { extended } => {
                self.events.push_back(RtpEvent::SequenceRestarted { ssrc });
                (extended, false)
            }
            SequenceOutcome::Probation => {
                self.stats.rtp_probation += 1;
                return Err(RtpDrop::Probation);
            }
            SequenceOutcome::Bad => {
                self.stats.rtp_bad_sequence += 1;
                return Err(RtpDrop::BadSequence);
            }
        };
        if !was_valid {
            let replaced = self.active.filter(|a| *a != ssrc);
            self.active = Some(ssrc);
            self.events
                .push_back(RtpEvent::NewSource { ssrc, replaced });
        }
        self.stats.rtp_received += 1;
        Ok(ReceivedRtp {
            packet,
            extended_seq,
            late,
        })
    }

    /// Takes one received RTCP datagram (after SRTCP unprotect); `wall` is
    /// the wall-clock time of arrival, for the RTT.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        wall: SystemTime,
        datagram: &[u8],
    ) -> Result<(), RtcpError> {
        let packets = match parse_compound(datagram) {
            Ok(p) => p,
            Err(e) => {
                self.stats.rtcp_malformed += 1;
                return Err(e);
            }
        };
        self.stats.rtcp_received += 1;
        self.avg_rtcp_size =
            update_avg_rtcp_size(self.avg_rtcp_size, datagram.len() + LOWER_LAYER_OVERHEAD);
        let arrival = NtpTime::from_system_time(wall).middle32();
        for packet in packets {
            match packet {
                RtcpPacket::SenderReport {
                    ssrc,
                    info,
                    reports,
                } => {
                    if let Some(s) = self.rtcp_source(ssrc, now) {
                        s.on_sender_report(now, info.ntp);
                    }
                    self.events.push_back(RtpEvent::SenderReport { ssrc, info });
                    self.handle_blocks(ssrc, &reports, arrival);
                }
                RtcpPacket::ReceiverReport { ssrc, reports } => {
                    if let Some(s) = self.rtcp_source(ssrc, now) {
                        s.on_rtcp(now);
                    }
                    self.handle_blocks(ssrc, &reports, arrival);
                }
                RtcpPacket::SourceDescription(chunks) => {
                    for chunk in chunks {
                        if let (Some(cname), Some(s)) =
                            (chunk.cname, self.rtcp_source(chunk.ssrc, now))
                        {
                            s.set_cname(cname);
                        }
                    }
                }
                RtcpPacket::Bye { sources, reason } => {
                    for ssrc in sources {
                        if ssrc == self.ssrc {
                            continue;
                        }
                        self.sources.retain(|s| s.ssrc() != ssrc);
                        if self.active == Some(ssrc) {
                            self.active = None;
                        }
                        self.events.push_back(RtpEvent::Bye {
                            ssrc,
                            reason: reason.clone(),
                        });
                    }
                }
                _ => {
                    // Feedback, APP, XR: not this layer's concern.
                }
            }
        }
        Ok(())
    }

    fn handle_blocks(&mut self, from: u32, blocks: &[ReportBlock], arrival: u32) {
        for block in blocks.iter().filter(|b| b.ssrc == self.ssrc) {
            let rtt = round_trip_time(arrival, block.lsr, block.dlsr);
            if rtt.is_some() {
                self.rtt = rtt;
            }
            self.remote_view = Some(*block);
            self.events.push_back(RtpEvent::ReceptionReport {
                from,
                block: *block,
                rtt,
            });
        }
    }

    /// The source entry for an RTCP sender, created if there is room.
    fn rtcp_source(&mut self, ssrc: u32, now: Instant) -> Option<&mut RemoteSource> {
        if ssrc == self.ssrc {
            return None;
        }
        if !self.sources.iter().any(|s| s.ssrc() == ssrc) {
            if !self.make_room() {
                return None;
            }
            let (rate, min) = (self.config.clock_rate, self.config.min_sequential);
            self.sources
                .push(RemoteSource::from_rtcp(ssrc, rate, min, now));
        }
        self.sources.iter_mut().find(|s| s.ssrc() == ssrc)
    }

    /// Frees a slot for a new source if needed: evicts the least recently
    /// heard source that is not the active one.
    fn make_room(&mut self) -> bool {
        if self.sources.len() < self.config.max_sources {
            return true;
        }
        let victim = self
            .sources
            .iter()
            .enumerate()
            .filter(|(_, s)| Some(s.ssrc()) != self.active)
            .min_by_key(|(_, s)| s.last_heard())
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                self.sources.swap_remove(i);
                true
            }
            None => false,
        }
    }

    fn collision(&mut self, now: Instant) {
        self.stats.ssrc_collisions += 1;
        let old = self.ssrc;
        let bye = build_compound(&[
            RtcpPacket::ReceiverReport {
                ssrc: old,
                reports: Vec::new(),
            },
            RtcpPacket::Bye {
                sources: vec![old],
                reason: Some(Bytes::from_static(b"SSRC collision")),
            },
        ]);
        if let Ok(bye) = bye {
            self.queue_rtcp(bye);
        }
        let mut new = self.rng.next_u32();
        while new == old || self.sources.iter().any(|s| s.ssrc() == new) {
            new = self.rng.next_u32();
        }
        self.ssrc = new;
        self.packets_sent = 0;
        self.octets_sent = 0;
        self.events.push_back(RtpEvent::SsrcChanged { old, new });
        let _ = now;
    }

    fn arrival_units(&self, now: Instant) -> u32 {
        // floor(t × rate) in 64-bit arithmetic (no 128-bit division per
        // packet): whole seconds exactly, then the sub-second part, which
        // is below 10^9 × 2^32. Wraps like the RTP timestamp.
        let since = now.saturating_duration_since(self.epoch);
        let rate = u64::from(self.config.clock_rate);
        let units = since
            .as_secs()
            .wrapping_mul(rate)
            .wrapping_add(u64::from(since.subsec_nanos()) * rate / 1_000_000_000);
        units as u32
    }

    fn interval_input(&self) -> IntervalInput {
        let valid = self.sources.iter().filter(|s| s.is_valid()).count() as u32;
        let we_sent = self.sent_since_report;
        let senders =
            self.sources.iter().filter(|s| s.is_sender()).count() as u32 + u32::from(we_sent);
        IntervalInput {
            members: 1 + valid,
            senders,
            rtcp_bandwidth: f64::from(self.config.session_bandwidth_bps) / 8.0 * 0.05,
            we_sent,
            avg_rtcp_size: self.avg_rtcp_size,
            initial: self.initial,
            min_interval: if self.config.reduced_minimum {
                reduced_minimum(self.config.session_bandwidth_bps)
            } else {
                RTCP_MIN_TIME
            },
        }
    }

    fn interval(&mut self) -> Duration {
        let input = self.interval_input();
        rtcp_interval(&input, &mut self.rng)
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.closed).then_some(self.next_report)
    }

    /// Runs the RTCP timer (A.7 `OnExpire` with reconsideration) and source
    /// timeouts; `wall` is the wall-clock time for the SR.
    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime) {
        if self.closed || now < self.next_report {
            return;
        }
        self.expire_sources(now);
        // Timer reconsideration (§6.3.6): recompute with the current
        // membership; if the new time is still ahead, wait for it.
        let t = self.interval();
        let tn = self.last_report + t;
        if tn > now && !self.initial {
            self.next_report = tn;
            return;
        }
        let report = self.build_report(now, wall, None);
        if let Ok(bytes) = report {
            self.avg_rtcp_size =
                update_avg_rtcp_size(self.avg_rtcp_size, bytes.len() + LOWER_LAYER_OVERHEAD);
            self.queue_rtcp(bytes);
        }
        self.initial = false;
        self.last_report = now;
        let t = self.interval();
        self.next_report = now + t;
    }

    fn expire_sources(&mut self, now: Instant) {
        let td = deterministic_interval(&self.interval_input());
        let limit = td.max(RTCP_MIN_TIME) * MEMBER_TIMEOUT_INTERVALS;
        let mut gone = Vec::new();
        self.sources.retain(|s| {
            let keep = now.saturating_duration_since(s.last_heard()) < limit;
            if !keep {
                gone.push(s.ssrc());
            }
            keep
        });
        for ssrc in gone {
            if self.active == Some(ssrc) {
                self.active = None;
            }
            self.events.push_back(RtpEvent::SourceTimedOut { ssrc });
        }
    }

    /// Ends the session: queues a final report with a BYE (§6.6; with fewer
    /// than 50 members it goes out at once, §6.3.7). Afterwards
    /// `poll_timeout()` is `None`.
    pub fn close(&mut self, now: Instant, wall: SystemTime, reason: Option<&str>) {
        if self.closed {
            return;
        }
        let reason = reason.map(|r| Bytes::copy_from_slice(&r.as_bytes()[..r.len().min(255)]));
        if let Ok(bytes) = self.build_report(now, wall, Some(reason)) {
            self.queue_rtcp(bytes);
        }
        self.closed = true;
    }

    /// Whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    fn queue_rtcp(&mut self, bytes: Bytes) {
        self.stats.rtcp_sent += 1;
        self.transmits.push_back(bytes);
    }

    /// An SR (if we sent RTP in the last two intervals) or RR, with report
    /// blocks for the sources that sent since the last report, our CNAME,
    /// and a BYE when `bye` is set.
    fn build_report(
        &mut self,
        now: Instant,
        wall: SystemTime,
        bye: Option<Option<Bytes>>,
    ) -> Result<Bytes, RtcpError> {
        let mut reports = Vec::new();
        for s in self.sources.iter_mut() {
            if reports.len() == MAX_REPORT_BLOCKS {
                break;
            }
            if s.is_sender() || Some(s.ssrc()) == self.active {
                if let Some(block) = s.report_block(now) {
                    reports.push(block);
                }
            }
        }
        let mut packets = Vec::with_capacity(3);
        let is_sender = self.sent_since_report || self.sent_previous_interval;
        match (is_sender, self.last_sent) {
            (true, Some((at, ts))) => {
                let elapsed = now.saturating_duration_since(at);
                let units = elapsed.as_nanos() * u128::from(self.config.clock_rate) / 1_000_000_000;
                packets.push(RtcpPacket::SenderReport {
                    ssrc: self.ssrc,
                    info: SenderInfo {
                        ntp: NtpTime::from_system_time(wall),
                        rtp_timestamp: ts.wrapping_add(units as u32),
                        packet_count: self.packets_sent,
                        octet_count: self.octets_sent,
                    },
                    reports,
                });
            }
            _ => packets.push(RtcpPacket::ReceiverReport {
                ssrc: self.ssrc,
                reports,
            }),
        }
        self.sent_previous_interval = self.sent_since_report;
        self.sent_since_report = false;
        packets.push(RtcpPacket::SourceDescription(vec![SdesChunk {
            ssrc: self.ssrc,
            cname: Some(self.cname.clone()),
        }]));
        if let Some(reason) = bye {
            packets.push(RtcpPacket::Bye {
                sources: vec![self.ssrc],
                reason,
            });
        }
        build_compound(&packets)
    }

    /// The next RTCP compound to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RtpEvent> {
        self.events.pop_front()
    }

    /// The leg's quality from the active source's statistics and the RTT,
    /// for `codec` and the jitter buffer's current delay. `None` before a
    /// source is valid.
    pub fn quality(
        &self,
        codec: CodecImpairment,
        jitter_buffer_delay: Duration,
    ) -> Option<QualityReport> {
        let source = self.active_source()?;
        Some(QualityReport::estimate(
            codec,
            &LegMeasurements {
                rtt: self.rtt,
                jitter: source.jitter_duration(),
                jitter_buffer_delay,
                loss_percent: source.loss_percent(),
            },
        ))
    }
}
