//! One side of a relayed call: the relay's local addresses for it, what its
//! SDP said, its latches, its SRTP keys, its RTP session (statistics, and
//! our own stream when transcoding) and counters.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_core::Rng;

use super::config::RelayConfig;
use super::latch::Latch;
use super::sdp::AudioSdp;
use super::stats::LegStats;
use crate::dtmf::Rfc4733Receiver;
use crate::rtp::{CodecImpairment, RtpSession, RtpSessionConfig};
use crate::sdp::SdpCodec;
use crate::srtp::{CryptoAttribute, SrtpSession};

/// Which side of a call: `A` made the first offer, `B` answered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The offerer of the initial offer (the caller).
    A,
    /// The answerer (the callee).
    B,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// The relay's local addresses for one leg: where the leg's endpoint sends
/// RTP and RTCP (the same address with rtcp-mux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LegAddrs {
    /// Local RTP address.
    pub rtp: SocketAddr,
    /// Local RTCP address (RTP port + 1 by convention).
    pub rtcp: SocketAddr,
}

impl LegAddrs {
    /// RTP on `rtp`, RTCP on the port above.
    pub fn pair(rtp: SocketAddr) -> Self {
        let rtcp = SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1));
        Self { rtp, rtcp }
    }
}

#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) local: LegAddrs,
    pub(crate) sdp: Option<AudioSdp>,
    pub(crate) rtp_latch: Latch,
    pub(crate) rtcp_latch: Latch,
    pub(crate) srtp: Option<SrtpSession>,
    /// Our `a=crypto` toward this leg, when it is SRTP.
    pub(crate) local_crypto: Option<CryptoAttribute>,
    pub(crate) session: RtpSession,
    pub(crate) codec: Option<SdpCodec>,
    pub(crate) event_pt: Option<u8>,
    pub(crate) dtmf: Option<Rfc4733Receiver>,
    pub(crate) impairment: CodecImpairment,
    pub(crate) stats: LegStats,
    pub(crate) last_rx: Instant,
    pub(crate) timed_out: bool,
    pub(crate) next_quality: Instant,
}

impl Leg {
    pub(crate) fn new(config: &RelayConfig, local: LegAddrs, rng: &mut Rng, now: Instant) -> Self {
        Self {
            local,
            sdp: None,
            rtp_latch: Latch::default(),
            rtcp_latch: Latch::default(),
            srtp: None,
            local_crypto: None,
            session: new_session(8000, rng, now),
            codec: None,
            event_pt: None,
            dtmf: None,
            impairment: CodecImpairment::G711,
            stats: LegStats::default(),
            last_rx: now,
            timed_out: false,
            next_quality: now + config.quality_interval,
        }
    }

    pub(crate) fn expected_rtp(&self) -> Option<SocketAddr> {
        self.sdp.as_ref().and_then(AudioSdp::rtp_addr)
    }

    pub(crate) fn expected_rtcp(&self) -> Option<SocketAddr> {
        self.sdp.as_ref().and_then(AudioSdp::rtcp_addr)
    }

    pub(crate) fn rtcp_mux(&self) -> bool {
        self.sdp.as_ref().is_some_and(|s| s.rtcp_mux)
    }

    /// Where this leg's endpoint gets RTP.
    pub(crate) fn rtp_destination(&self, config: &RelayConfig) -> Option<SocketAddr> {
        self.rtp_latch
            .destination(config.latch, self.expected_rtp())
    }

    /// Where it gets RTCP, and from which of our addresses.
    pub(crate) fn rtcp_route(&self, config: &RelayConfig) -> Option<(SocketAddr, SocketAddr)> {
        if self.rtcp_mux() {
            return self.rtp_destination(config).map(|d| (self.local.rtp, d));
        }
        let dest = self
            .rtcp_latch
            .destination(config.latch, self.expected_rtcp())?;
        Some((self.local.rtcp, dest))
    }

    /// Takes a new SDP from this leg's endpoint; a new address clears the
    /// latches.
    pub(crate) fn set_sdp(&mut self, sdp: AudioSdp) {
        let moved = self.expected_rtp() != sdp.rtp_addr();
        if moved {
            self.rtp_latch.clear();
            self.rtcp_latch.clear();
        }
        self.sdp = Some(sdp);
    }

    /// The negotiated codec: a fresh RTP session at its clock rate.
    pub(crate) fn set_codec(
        &mut self,
        codec: SdpCodec,
        event: Option<&SdpCodec>,
        concealing: bool,
        rng: &mut Rng,
        now: Instant,
    ) {
        if self
            .codec
            .as_ref()
            .is_none_or(|c| c.clock_rate != codec.clock_rate)
        {
            self.session = new_session(codec.clock_rate, rng, now);
        }
        self.impairment = impairment(&codec.name, concealing);
        self.codec = Some(codec);
        self.event_pt = event.map(|e| e.payload_type);
        self.dtmf = event.map(|e| Rfc4733Receiver::new(e.clock_rate));
    }

    /// Quality of what the endpoint sends, with `delay` of jitter buffer.
    pub(crate) fn refresh_quality(&mut self, delay: Duration) {
        self.stats.quality = self.session.quality(self.impairment, delay);
        if let Some(src) = self.session.active_source() {
            let (received, expected) = src.counts();
            self.stats.lost = expected.saturating_sub(received);
            self.stats.jitter = src.jitter_duration();
        }
    }
}

fn new_session(clock_rate: u32, rng: &mut Rng, now: Instant) -> RtpSession {
    let config = RtpSessionConfig::default()
        .clock_rate(clock_rate)
        .build()
        .unwrap_or_else(|_| std::sync::Arc::new(RtpSessionConfig::default()));
    RtpSession::new(config, Rng::seeded(rng.next_u64()), now)
}

fn impairment(name: &str, concealing: bool) -> CodecImpairment {
    let n = name.to_ascii_uppercase();
    match n.as_str() {
        "OPUS" => CodecImpairment::OPUS,
        "G722" => CodecImpairment::G722,
        _ if concealing => CodecImpairment::G711_PLC,
        _ => CodecImpairment::G711,
    }
}
