//! One relayed call: two legs, the mode (pass-through or transcoding), the
//! per-packet forwarding path and the call's timers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use voip_core::{Transmit, TransportProtocol};

use super::config::RelayConfig;
use super::event::{Component, RelayEvent};
use super::latch::LatchOutcome;
use super::leg::{Leg, Side};
use super::record::{RecordTap, RecordingQueue, TapPacket, format_of};
use super::sdp::AudioSdp;
use super::stats::RelayStats;
use super::transcode::Transcoder;
use crate::rtp::packet::{check_rtp_header, parse_rtp};
use crate::rtp::{PacketKind, RtpDrop, classify};

/// Where output of a call goes: the relay's queues and counters.
pub(crate) struct Output<'a> {
    pub(crate) transmits: &'a mut std::collections::VecDeque<Transmit>,
    pub(crate) events: &'a mut std::collections::VecDeque<RelayEvent>,
    pub(crate) stats: &'a mut RelayStats,
    pub(crate) recordings: &'a mut RecordingQueue,
}

impl Output<'_> {
    fn send(&mut self, from: SocketAddr, to: SocketAddr, contents: Bytes) {
        self.stats.transmitted += 1;
        self.transmits.push_back(Transmit {
            protocol: TransportProtocol::Udp,
            source: Some(from),
            destination: to,
            connection: None,
            contents,
        });
    }
}

/// An offer waiting for its answer.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) from: Side,
    pub(crate) offer: AudioSdp,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) id: Arc<str>,
    pub(crate) legs: [Leg; 2],
    /// Transcoders by receiving side; both `None` in pass-through.
    pub(crate) transcoders: [Option<Transcoder>; 2],
    pub(crate) pending: Option<Pending>,
    pub(crate) scheduled: Option<Instant>,
    /// The recording tap, while the call is recorded.
    pub(crate) record: Option<RecordTap>,
    scratch: Vec<Bytes>,
}

impl Call {
    pub(crate) fn new(id: Arc<str>, legs: [Leg; 2]) -> Self {
        Self {
            id,
            legs,
            transcoders: [None, None],
            pending: None,
            scheduled: None,
            record: None,
            scratch: Vec::new(),
        }
    }

    pub(crate) fn transcoding(&self) -> bool {
        self.transcoders.iter().any(Option::is_some)
    }

    /// One datagram that arrived on `local`, a local address of leg `side`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn handle_datagram(
        &mut self,
        config: &RelayConfig,
        now: Instant,
        wall: SystemTime,
        side: Side,
        local: SocketAddr,
        source: SocketAddr,
        datagram: Bytes,
        out: &mut Output<'_>,
    ) {
        match classify(&datagram) {
            PacketKind::Rtp => self.handle_rtp(config, now, side, source, datagram, out),
            PacketKind::Rtcp => {
                self.handle_rtcp(config, now, wall, side, local, source, datagram, out)
            }
            PacketKind::Stun | PacketKind::Dtls => out.stats.not_media += 1,
            _ => out.stats.malformed += 1,
        }
    }

    fn latch(
        &mut self,
        config: &RelayConfig,
        now: Instant,
        side: Side,
        component: Component,
        source: SocketAddr,
        out: &mut Output<'_>,
    ) -> bool {
        let leg = &mut self.legs[side.index()];
        let (latch, expected) = match component {
            Component::Rtp => (
                &mut leg.rtp_latch,
                leg.sdp.as_ref().and_then(AudioSdp::rtp_addr),
            ),
            Component::Rtcp => (
                &mut leg.rtcp_latch,
                leg.sdp.as_ref().and_then(AudioSdp::rtcp_addr),
            ),
        };
        match latch.check(config.latch, config.relatch_after, now, source, expected) {
            LatchOutcome::Accept => true,
            LatchOutcome::Latched { previous } => {
                out.events.push_back(RelayEvent::Latched {
                    call: self.id.clone(),
                    side,
                    component,
                    remote: source,
                    previous,
                });
                true
            }
            LatchOutcome::Reject => {
                out.stats.unlatched_source += 1;
                false
            }
        }
    }

    fn handle_rtp(
        &mut self,
        config: &RelayConfig,
        now: Instant,
        side: Side,
        source: SocketAddr,
        datagram: Bytes,
        out: &mut Output<'_>,
    ) {
        let received_len = datagram.len();
        let plain = {
            let leg = &mut self.legs[side.index()];
            match leg.srtp.as_mut() {
                Some(srtp) => match srtp.unprotect_rtp(&datagram) {
                    Ok(p) => p,
                    Err(_) => {
                        out.stats.srtp_auth += 1;
                        return;
                    }
                },
                None => {
                    if check_rtp_header(&datagram, true).is_err() {
                        out.stats.malformed += 1;
                        return;
                    }
                    datagram
                }
            }
        };
        if !self.latch(config, now, side, Component::Rtp, source, out) {
            return;
        }
        let (i, o) = (side.index(), side.other().index());
        {
            let leg = &mut self.legs[i];
            leg.stats.packets_in += 1;
            leg.stats.bytes_in += received_len as u64;
            leg.last_rx = now;
            leg.timed_out = false;
        }
        let pt = plain.get(1).map_or(0, |b| b & 0x7f);
        let is_event = self.legs[i].event_pt == Some(pt);
        let result = self.legs[i].session.handle_rtp(now, plain.clone());
        while self.legs[i].session.poll_event().is_some() {}
        let packet = match result {
            Ok(r) => Some(r.packet),
            Err(RtpDrop::Malformed(_)) | Err(RtpDrop::RtcpPayloadType) => {
                out.stats.malformed += 1;
                return;
            }
            // Probation, a sequence jump, a collision: still media to relay.
            Err(_) => None,
        };
        let packet = match packet {
            Some(p) => p,
            None if is_event || self.transcoders[i].is_some() => match parse_rtp(&plain) {
                Ok(p) => p,
                Err(_) => {
                    out.stats.malformed += 1;
                    return;
                }
            },
            None => rtp::packet::Packet::default(),
        };
        if is_event {
            let leg = &mut self.legs[i];
            leg.stats.dtmf_events += 1;
            if let Some(rx) = leg.dtmf.as_mut() {
                let _ = rx.handle_packet(now, packet.header.timestamp, &packet.payload);
                drain_dtmf(&self.id, side, rx, out);
            }
        }
        if self.record.is_some() {
            self.tap(now, side, &plain, out);
        }
        if let Some(t) = self.transcoders[i].as_mut() {
            let bytes = if is_event {
                t.forward_event(
                    now,
                    packet.header.timestamp,
                    packet.header.marker,
                    &packet.payload,
                    &mut self.legs[o].session,
                )
            } else if pt == t.input_pt() {
                t.push(now, packet);
                None
            } else {
                out.stats.codec_errors += 1;
                None
            };
            if let Some(b) = bytes {
                self.send_rtp(config, side.other(), b, out);
            }
            return;
        }
        self.send_rtp(config, side.other(), plain, out);
    }

    /// Hands one plain RTP packet of leg `side` to the recording tap.
    fn tap(&mut self, now: Instant, side: Side, plain: &Bytes, out: &mut Output<'_>) {
        let Some(tap) = self.record.as_mut() else {
            return;
        };
        let Ok(p) = parse_rtp(plain) else {
            return;
        };
        let pt = p.header.payload_type;
        let codecs = |s: Side| {
            self.legs[s.index()]
                .sdp
                .as_ref()
                .map(|d| d.codecs.as_slice())
                .unwrap_or_default()
        };
        let format = format_of(pt, codecs(side), codecs(side.other()));
        let packet = TapPacket {
            payload_type: pt,
            sequence: p.header.sequence_number,
            timestamp: p.header.timestamp,
            ssrc: p.header.ssrc,
            payload: p.payload,
        };
        tap.handle_rtp(&self.id, now, side, packet, format, out.recordings);
    }

    /// Sends plain RTP to leg `to`, protecting it if that leg is SRTP.
    fn send_rtp(&mut self, config: &RelayConfig, to: Side, plain: Bytes, out: &mut Output<'_>) {
        let leg = &mut self.legs[to.index()];
        let Some(dest) = leg.rtp_destination(config) else {
            out.stats.no_destination += 1;
            return;
        };
        let bytes = match leg.srtp.as_mut() {
            Some(srtp) => match srtp.protect_rtp(&plain) {
                Ok(b) => b,
                Err(_) => {
                    out.stats.malformed += 1;
                    return;
                }
            },
            None => plain,
        };
        leg.stats.packets_out += 1;
        leg.stats.bytes_out += bytes.len() as u64;
        out.send(leg.local.rtp, dest, bytes);
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_rtcp(
        &mut self,
        config: &RelayConfig,
        now: Instant,
        wall: SystemTime,
        side: Side,
        _local: SocketAddr,
        source: SocketAddr,
        datagram: Bytes,
        out: &mut Output<'_>,
    ) {
        let plain = match self.legs[side.index()].srtp.as_mut() {
            Some(srtp) => match srtp.unprotect_rtcp(&datagram) {
                Ok(p) => p,
                Err(_) => {
                    out.stats.srtp_auth += 1;
                    return;
                }
            },
            None => datagram,
        };
        if plain.len() < 8 {
            out.stats.malformed += 1;
            return;
        }
        if !self.latch(config, now, side, Component::Rtcp, source, out) {
            return;
        }
        let transcoding = self.transcoding();
        let leg = &mut self.legs[side.index()];
        leg.stats.rtcp_in += 1;
        if transcoding {
            // Terminated: each leg has our own RTP session.
            if leg.session.handle_rtcp(now, wall, &plain).is_err() {
                out.stats.malformed += 1;
            }
            while leg.session.poll_event().is_some() {}
            return;
        }
        self.send_rtcp(config, side.other(), plain, out);
    }

    fn send_rtcp(&mut self, config: &RelayConfig, to: Side, plain: Bytes, out: &mut Output<'_>) {
        let leg = &mut self.legs[to.index()];
        let Some((from, dest)) = leg.rtcp_route(config) else {
            out.stats.no_destination += 1;
            return;
        };
        let bytes = match leg.srtp.as_mut() {
            Some(srtp) => match srtp.protect_rtcp(&plain) {
                Ok(b) => b,
                Err(_) => {
                    out.stats.malformed += 1;
                    return;
                }
            },
            None => plain,
        };
        leg.stats.rtcp_out += 1;
        out.send(from, dest, bytes);
    }

    /// Runs every timer of the call due by `now`.
    pub(crate) fn handle_timeout(
        &mut self,
        config: &RelayConfig,
        now: Instant,
        wall: SystemTime,
        out: &mut Output<'_>,
    ) {
        if let Some(tap) = self.record.as_mut() {
            tap.handle_timeout(&self.id, now, out.recordings);
        }
        // Transcoders: frames for the other leg.
        for side in [Side::A, Side::B] {
            let (i, o) = (side.index(), side.other().index());
            let mut packets = std::mem::take(&mut self.scratch);
            if let Some(t) = self.transcoders[i].as_mut() {
                t.handle_timeout(now, &mut self.legs[o].session, &mut packets);
                self.legs[i].stats.concealed = t.concealed;
                out.stats.codec_errors += std::mem::take(&mut t.codec_errors);
            }
            for p in packets.drain(..) {
                self.send_rtp(config, side.other(), p, out);
            }
            self.scratch = packets;
        }
        for side in [Side::A, Side::B] {
            let i = side.index();
            let transcoding = self.transcoding();
            let delay = self.transcoders[i]
                .as_ref()
                .map_or(Duration::ZERO, Transcoder::delay);
            let leg = &mut self.legs[i];
            // Our RTCP when transcoding.
            if transcoding && leg.session.poll_timeout().is_some_and(|t| t <= now) {
                leg.session.handle_timeout(now, wall);
                let mut reports = Vec::new();
                while let Some(r) = leg.session.poll_transmit() {
                    reports.push(r);
                }
                while leg.session.poll_event().is_some() {}
                for r in reports {
                    self.send_rtcp(config, side, r, out);
                }
            }
            let leg = &mut self.legs[i];
            if let Some(rx) = leg.dtmf.as_mut() {
                if rx.poll_timeout().is_some_and(|t| t <= now) {
                    rx.handle_timeout(now);
                    drain_dtmf(&self.id, side, rx, out);
                }
            }
            if !leg.timed_out && now >= leg.last_rx + config.media_timeout {
                leg.timed_out = true;
                out.events.push_back(RelayEvent::MediaTimeout {
                    call: self.id.clone(),
                    side,
                    silent_for: now.saturating_duration_since(leg.last_rx),
                });
            }
            if now >= leg.next_quality {
                leg.next_quality = now + config.quality_interval;
                leg.refresh_quality(delay);
                if let (Some(report), false) = (leg.stats.quality, leg.timed_out) {
                    out.events.push_back(RelayEvent::Quality {
                        call: self.id.clone(),
                        side,
                        report,
                    });
                }
            }
        }
    }

    /// The earliest timer of the call.
    pub(crate) fn next_deadline(&self, config: &RelayConfig) -> Option<Instant> {
        let transcoding = self.transcoding();
        let mut next: Option<Instant> = None;
        let mut take = |t: Option<Instant>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        take(self.record.as_ref().and_then(RecordTap::poll_timeout));
        for (i, leg) in self.legs.iter().enumerate() {
            take(
                self.transcoders[i]
                    .as_ref()
                    .and_then(Transcoder::poll_timeout),
            );
            if transcoding {
                take(leg.session.poll_timeout());
            }
            take(leg.dtmf.as_ref().and_then(|d| d.poll_timeout()));
            if !leg.timed_out {
                take(Some(leg.last_rx + config.media_timeout));
            }
            take(Some(leg.next_quality));
        }
        next
    }

    /// Ends the call: a BYE on each leg we ran RTCP for.
    pub(crate) fn close(
        &mut self,
        config: &RelayConfig,
        now: Instant,
        wall: SystemTime,
        out: &mut Output<'_>,
    ) {
        if let Some(mut tap) = self.record.take() {
            tap.finish(&self.id, now, out.recordings);
        }
        if !self.transcoding() {
            return;
        }
        for side in [Side::A, Side::B] {
            let leg = &mut self.legs[side.index()];
            leg.session.close(now, wall, None);
            let mut reports = Vec::new();
            while let Some(r) = leg.session.poll_transmit() {
                reports.push(r);
            }
            for r in reports {
                self.send_rtcp(config, side, r, out);
            }
        }
    }
}

fn drain_dtmf(
    id: &Arc<str>,
    side: Side,
    rx: &mut crate::dtmf::Rfc4733Receiver,
    out: &mut Output<'_>,
) {
    while let Some(event) = rx.poll_event() {
        out.events.push_back(RelayEvent::Dtmf {
            call: id.clone(),
            from: side,
            event,
        });
    }
}
