//! The relay hub: calls by id, local addresses to legs, the timer table,
//! and offer/answer (rtpengine's `offer`, `answer`, `delete` commands).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use voip_core::{Rng, Transmit};

use super::call::{Call, Output, Pending};
use super::config::RelayConfig;
use super::error::RelayError;
use super::event::RelayEvent;
use super::leg::{Leg, LegAddrs, Side};
use super::record::{RecordTap, RecordingEvent};
use super::sdp::{AudioSdp, Rewrite, profile, rewrite};
use super::stats::{LegStats, RelayStats};
use super::transcode::{EventMap, Transcoder, working_codec};
use crate::codec::Codec;
use crate::sdp::SdpCodec;
use crate::srtp::{CryptoAttribute, SrtpError, SrtpSession};

/// Options of one offer.
#[derive(Debug, Clone, Default)]
pub struct OfferOptions {
    srtp: Option<bool>,
    transcode: Vec<Codec>,
}

impl OfferOptions {
    /// SRTP (SDES) toward the answerer (`true`) or plain RTP (`false`);
    /// default: the same as the offerer.
    pub fn srtp_to_answerer(mut self, on: bool) -> Self {
        self.srtp = Some(on);
        self
    }

    /// Also offer `codec` to the answerer; if it picks it, the relay
    /// transcodes (rtpengine's `codec-transcode`).
    pub fn transcode(mut self, codec: Codec) -> Self {
        self.transcode.push(codec);
        self
    }
}

/// The sans-IO media relay. See the module docs for the call order.
#[derive(Debug)]
pub struct Relay {
    config: Arc<RelayConfig>,
    rng: Rng,
    epoch: (Instant, SystemTime),
    calls: HashMap<u64, Call>,
    names: HashMap<Arc<str>, u64>,
    next_key: u64,
    routes: HashMap<SocketAddr, (u64, Side)>,
    timers: BTreeSet<(Instant, u64)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<RelayEvent>,
    recordings: VecDeque<RecordingEvent>,
    stats: RelayStats,
}

impl Relay {
    /// A relay; `now` and `wall` anchor the wall clock its RTCP reports
    /// carry (wall time = `wall + (t - now)`), so no clock is read later.
    pub fn new(config: Arc<RelayConfig>, rng: Rng, now: Instant, wall: SystemTime) -> Self {
        Self {
            config,
            rng,
            epoch: (now, wall),
            calls: HashMap::new(),
            names: HashMap::new(),
            next_key: 0,
            routes: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            recordings: VecDeque::new(),
            stats: RelayStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Arc<RelayConfig> {
        &self.config
    }

    fn wall(&self, now: Instant) -> SystemTime {
        self.epoch.1 + now.saturating_duration_since(self.epoch.0)
    }

    /// Registers a call with the relay's local addresses for its two legs
    /// (the driver binds them; see [`PortRange`](super::PortRange)).
    pub fn create_call(
        &mut self,
        now: Instant,
        call_id: &str,
        a: LegAddrs,
        b: LegAddrs,
    ) -> Result<(), RelayError> {
        if self.names.contains_key(call_id) {
            return Err(RelayError::CallExists);
        }
        if self.calls.len() >= self.config.max_calls {
            return Err(RelayError::TooManyCalls);
        }
        let shared = [a.rtp, a.rtcp].iter().any(|x| *x == b.rtp || *x == b.rtcp);
        if shared
            || [a.rtp, a.rtcp, b.rtp, b.rtcp]
                .iter()
                .any(|x| self.routes.contains_key(x))
        {
            return Err(RelayError::AddressInUse);
        }
        let key = self.next_key;
        self.next_key += 1;
        let id: Arc<str> = Arc::from(call_id);
        let legs = [
            Leg::new(&self.config, a, &mut self.rng, now),
            Leg::new(&self.config, b, &mut self.rng, now),
        ];
        for (side, l) in [(Side::A, a), (Side::B, b)] {
            self.routes.insert(l.rtp, (key, side));
            self.routes.insert(l.rtcp, (key, side));
        }
        self.names.insert(id.clone(), key);
        self.calls.insert(key, Call::new(id, legs));
        self.reschedule(key);
        Ok(())
    }

    /// An offer from side `from` of a call (A for the initial INVITE);
    /// returns the offer to forward to the other side, pointing at the
    /// relay. A re-offer keeps the local addresses.
    pub fn offer(
        &mut self,
        _now: Instant,
        call_id: &str,
        from: Side,
        sdp: &[u8],
        options: &OfferOptions,
    ) -> Result<Bytes, RelayError> {
        let key = *self.names.get(call_id).ok_or(RelayError::UnknownCall)?;
        let offer = AudioSdp::read(sdp)?;
        let suite = self.config.srtp_suite;
        let advertised = self.config.advertised_ip;
        let call = self.calls.get_mut(&key).ok_or(RelayError::UnknownCall)?;
        let (x, y) = (from.index(), from.other().index());
        // The offerer's SRTP: its key now, ours goes into the answer.
        if offer.secure() {
            let remote = usable_crypto(&offer.crypto, None).ok_or(SrtpError::NoKey)?;
            let local = CryptoAttribute::generate(remote.tag, remote.suite, &mut self.rng);
            call.legs[x].srtp = Some(SrtpSession::from_sdes(&local, &remote)?);
            call.legs[x].local_crypto = Some(local);
        } else {
            call.legs[x].srtp = None;
            call.legs[x].local_crypto = None;
        }
        let to_secure = options.srtp.unwrap_or(offer.secure());
        let crypto = if to_secure {
            let c = match call.legs[y].local_crypto.take() {
                Some(c) => c,
                None => CryptoAttribute::generate(1, suite, &mut self.rng),
            };
            let s = c.to_string();
            call.legs[y].local_crypto = Some(c);
            Some(s)
        } else {
            call.legs[y].local_crypto = None;
            call.legs[y].srtp = None;
            None
        };
        // Codecs: the offer's, plus the ones to transcode to.
        let mut codecs = offer.codecs.clone();
        let event_rates: Vec<u32> = offer
            .codecs
            .iter()
            .filter(|c| c.is_telephone_event())
            .map(|c| c.clock_rate)
            .collect();
        for extra in &options.transcode {
            let sdp_codec = SdpCodec::new(
                extra.encoding_name(),
                extra.rtp_clock_rate(),
                extra.rtpmap_channels(),
                0,
            );
            if codecs.iter().any(|c| c.same_encoding(&sdp_codec)) {
                continue;
            }
            let pt = extra.static_payload_type().or_else(|| free_pt(&codecs));
            let Some(pt) = pt else { continue };
            codecs.push(SdpCodec {
                payload_type: pt,
                ..sdp_codec
            });
            let rate = extra.rtp_clock_rate();
            if !event_rates.is_empty()
                && !codecs
                    .iter()
                    .any(|c| c.is_telephone_event() && c.clock_rate == rate)
            {
                if let Some(pt) = free_pt(&codecs) {
                    codecs.push(SdpCodec::telephone_event(rate, pt));
                }
            }
        }
        let local = call.legs[y].local;
        let body = rewrite(
            sdp,
            offer.index,
            &Rewrite {
                ip: advertised.unwrap_or(local.rtp.ip()),
                port: local.rtp.port(),
                rtcp_port: local.rtcp.port(),
                proto: profile(&offer.proto, to_secure),
                codecs,
                crypto,
                rtcp_mux: offer.rtcp_mux,
            },
        );
        call.legs[x].set_sdp(offer.clone());
        call.pending = Some(Pending { from, offer });
        Ok(Bytes::from(body))
    }

    /// The answer to the outstanding offer; returns the answer to forward
    /// to the offerer. Decides pass-through or transcoding.
    pub fn answer(&mut self, now: Instant, call_id: &str, sdp: &[u8]) -> Result<Bytes, RelayError> {
        let key = *self.names.get(call_id).ok_or(RelayError::UnknownCall)?;
        let answer = AudioSdp::read(sdp)?;
        let advertised = self.config.advertised_ip;
        let jitter = self.config.jitter.clone();
        let call = self.calls.get_mut(&key).ok_or(RelayError::UnknownCall)?;
        let pending = call.pending.as_ref().ok_or(RelayError::NoPendingOffer)?;
        let (from, offer) = (pending.from, pending.offer.clone());
        let (x, y) = (from.index(), from.other().index());
        // The answerer's SRTP.
        let y_srtp = match &call.legs[y].local_crypto {
            Some(local) => {
                let remote =
                    usable_crypto(&answer.crypto, Some(local.tag)).ok_or(SrtpError::NoKey)?;
                Some(SrtpSession::from_sdes(local, &remote)?)
            }
            None => None,
        };
        let y_codec = answer
            .audio_codecs()
            .next()
            .cloned()
            .ok_or(RelayError::NoCommonCodec)?;
        let passthrough = offer
            .audio_codecs()
            .find(|c| c.same_encoding(&y_codec) && c.payload_type == y_codec.payload_type)
            .cloned();
        let mut transcoders = [None, None];
        let (x_codec, answer_codecs) = match passthrough {
            Some(xc) => {
                let offered: Vec<u8> = offer.codecs.iter().map(|c| c.payload_type).collect();
                let codecs: Vec<SdpCodec> = answer
                    .codecs
                    .iter()
                    .filter(|c| offered.contains(&c.payload_type))
                    .cloned()
                    .collect();
                (xc, codecs)
            }
            None => {
                let y_c =
                    Codec::from_rtpmap(&y_codec.name, y_codec.clock_rate, Some(y_codec.channels))
                        .ok_or(RelayError::NoCommonCodec)?;
                let (xc, x_c) = offer
                    .audio_codecs()
                    .find_map(|c| {
                        Codec::from_rtpmap(&c.name, c.clock_rate, Some(c.channels))
                            .map(|k| (c.clone(), k))
                    })
                    .ok_or(RelayError::NoCommonCodec)?;
                let x_work = working_codec(x_c, y_c.sample_rate());
                let y_work = working_codec(y_c, x_work.sample_rate());
                let x_work = working_codec(x_work, y_work.sample_rate());
                let te_x = offer
                    .telephone_event(xc.clock_rate)
                    .map(|c| (c.payload_type, c.clock_rate));
                let te_y = answer
                    .telephone_event(y_codec.clock_rate)
                    .map(|c| (c.payload_type, c.clock_rate));
                let ptime = |p: Option<u32>| Duration::from_millis(u64::from(p.unwrap_or(20)));
                transcoders[x] = Some(Transcoder::new(
                    &jitter,
                    &x_work,
                    xc.payload_type,
                    ptime(offer.ptime),
                    &y_work,
                    y_codec.payload_type,
                    te_x.map(|input| EventMap {
                        input,
                        output: te_y,
                    }),
                )?);
                transcoders[y] = Some(Transcoder::new(
                    &jitter,
                    &y_work,
                    y_codec.payload_type,
                    ptime(answer.ptime),
                    &x_work,
                    xc.payload_type,
                    te_y.map(|input| EventMap {
                        input,
                        output: te_x,
                    }),
                )?);
                let mut codecs = vec![xc.clone()];
                if let Some(te) = offer.telephone_event(xc.clock_rate) {
                    codecs.push(te.clone());
                }
                (xc, codecs)
            }
        };
        let transcoding = transcoders.iter().any(Option::is_some);
        let te_x = offer.telephone_event(x_codec.clock_rate).cloned();
        let te_y = answer.telephone_event(y_codec.clock_rate).cloned();
        call.legs[x].set_codec(x_codec, te_x.as_ref(), transcoding, &mut self.rng, now);
        call.legs[y].set_codec(y_codec, te_y.as_ref(), transcoding, &mut self.rng, now);
        call.legs[y].srtp = y_srtp;
        call.legs[y].set_sdp(answer.clone());
        call.transcoders = transcoders;
        call.pending = None;
        let local = call.legs[x].local;
        let body = rewrite(
            sdp,
            answer.index,
            &Rewrite {
                ip: advertised.unwrap_or(local.rtp.ip()),
                port: local.rtp.port(),
                rtcp_port: local.rtcp.port(),
                proto: offer.proto.clone(),
                codecs: answer_codecs,
                crypto: call.legs[x].local_crypto.as_ref().map(ToString::to_string),
                rtcp_mux: offer.rtcp_mux,
            },
        );
        self.reschedule(key);
        Ok(Bytes::from(body))
    }

    /// Ends a call (sending RTCP BYE on legs whose RTCP the relay ran) and
    /// returns its local addresses for the driver to close.
    pub fn delete(&mut self, now: Instant, call_id: &str) -> Option<[LegAddrs; 2]> {
        let key = self.names.remove(call_id)?;
        let mut call = self.calls.remove(&key)?;
        let wall = self.wall(now);
        let mut out = Output {
            transmits: &mut self.transmits,
            events: &mut self.events,
            stats: &mut self.stats,
            recordings: &mut self.recordings,
        };
        call.close(&self.config, now, wall, &mut out);
        if let Some(t) = call.scheduled {
            self.timers.remove(&(t, key));
        }
        let addrs = [call.legs[0].local, call.legs[1].local];
        for l in addrs {
            self.routes.remove(&l.rtp);
            self.routes.remove(&l.rtcp);
        }
        Some(addrs)
    }

    /// One datagram that arrived at `local` from `source`.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        local: SocketAddr,
        source: SocketAddr,
        datagram: Bytes,
    ) {
        let Some(&(key, side)) = self.routes.get(&local) else {
            self.stats.unknown_port += 1;
            return;
        };
        let wall = self.wall(now);
        let Some(call) = self.calls.get_mut(&key) else {
            self.stats.unknown_port += 1;
            return;
        };
        let mut out = Output {
            transmits: &mut self.transmits,
            events: &mut self.events,
            stats: &mut self.stats,
            recordings: &mut self.recordings,
        };
        call.handle_datagram(
            &self.config,
            now,
            wall,
            side,
            local,
            source,
            datagram,
            &mut out,
        );
        if call.transcoding() || call.record.is_some() || call.scheduled.is_none() {
            self.reschedule(key);
        }
    }

    /// Runs the timers due by `now`: transcoder frames, RTCP reports of
    /// transcoded legs, DTMF end detection, media timeouts, quality reports.
    pub fn handle_timeout(&mut self, now: Instant) {
        let wall = self.wall(now);
        while let Some(&(t, key)) = self.timers.first() {
            if t > now {
                break;
            }
            self.timers.remove(&(t, key));
            if let Some(call) = self.calls.get_mut(&key) {
                call.scheduled = None;
                let mut out = Output {
                    transmits: &mut self.transmits,
                    events: &mut self.events,
                    stats: &mut self.stats,
                    recordings: &mut self.recordings,
                };
                call.handle_timeout(&self.config, now, wall, &mut out);
            }
            self.reschedule(key);
        }
    }

    fn reschedule(&mut self, key: u64) {
        let Some(call) = self.calls.get_mut(&key) else {
            return;
        };
        let next = call.next_deadline(&self.config);
        if next == call.scheduled {
            return;
        }
        if let Some(old) = call.scheduled.take() {
            self.timers.remove(&(old, key));
        }
        if let Some(t) = next {
            self.timers.insert((t, key));
        }
        call.scheduled = next;
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    /// The next datagram to send (`source` is the local address to send
    /// from).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RelayEvent> {
        self.events.pop_front()
    }

    /// Starts recording a call: from now on every RTP packet each leg
    /// sends is decoded to mono PCM at `rate` (8000 to 48000 Hz) and comes
    /// out of [`poll_recording`](Self::poll_recording) with its place on
    /// the call's timeline (sample 0 is `now`), until
    /// [`stop_recording`](Self::stop_recording) or [`delete`](Self::delete).
    pub fn start_recording(
        &mut self,
        now: Instant,
        call_id: &str,
        rate: u32,
    ) -> Result<(), RelayError> {
        if !(8000..=48000).contains(&rate) {
            return Err(RelayError::Recording("rate must be 8000 to 48000 Hz"));
        }
        let key = *self.names.get(call_id).ok_or(RelayError::UnknownCall)?;
        let call = self.calls.get_mut(&key).ok_or(RelayError::UnknownCall)?;
        if call.record.is_some() {
            return Err(RelayError::Recording("already recording"));
        }
        call.record = Some(RecordTap::new(&call.id, rate, now, &mut self.recordings));
        self.reschedule(key);
        Ok(())
    }

    /// Stops recording a call: what the tap holds is released, then
    /// [`RecordingEvent::Stopped`]. `false` if it was not recorded.
    pub fn stop_recording(&mut self, now: Instant, call_id: &str) -> bool {
        let Some(&key) = self.names.get(call_id) else {
            return false;
        };
        let Some(call) = self.calls.get_mut(&key) else {
            return false;
        };
        let Some(mut tap) = call.record.take() else {
            return false;
        };
        tap.finish(&call.id, now, &mut self.recordings);
        self.reschedule(key);
        true
    }

    /// Whether a call is being recorded.
    pub fn is_recording(&self, call_id: &str) -> bool {
        self.names
            .get(call_id)
            .and_then(|k| self.calls.get(k))
            .is_some_and(|c| c.record.is_some())
    }

    /// The next piece of a recording (decoded frames, start and stop).
    #[must_use]
    pub fn poll_recording(&mut self) -> Option<RecordingEvent> {
        self.recordings.pop_front()
    }

    /// Drop and transmit counters.
    pub fn stats(&self) -> RelayStats {
        self.stats
    }

    /// Calls in the relay.
    pub fn call_count(&self) -> usize {
        self.calls.len()
    }

    /// Per-leg statistics of a call, `[A, B]`, with a fresh quality estimate.
    pub fn call_stats(&mut self, call_id: &str) -> Option<[LegStats; 2]> {
        let key = *self.names.get(call_id)?;
        let call = self.calls.get_mut(&key)?;
        for i in 0..2 {
            let delay = call.transcoders[i]
                .as_ref()
                .map_or(Duration::ZERO, Transcoder::delay);
            call.legs[i].refresh_quality(delay);
        }
        Some([call.legs[0].stats.clone(), call.legs[1].stats.clone()])
    }

    /// Whether a call transcodes (known after the answer).
    pub fn is_transcoding(&self, call_id: &str) -> Option<bool> {
        let key = self.names.get(call_id)?;
        self.calls.get(key).map(Call::transcoding)
    }

    /// The remote RTP address a leg sends to now (latched or from SDP).
    pub fn remote(&self, call_id: &str, side: Side) -> Option<SocketAddr> {
        let key = self.names.get(call_id)?;
        let call = self.calls.get(key)?;
        call.legs[side.index()].rtp_destination(&self.config)
    }
}

/// The first `a=crypto` value that parses with one key (and, for an
/// answer, carries our tag).
fn usable_crypto(lines: &[String], tag: Option<u32>) -> Option<CryptoAttribute> {
    lines
        .iter()
        .filter_map(|l| CryptoAttribute::parse(l).ok())
        .find(|c| c.keys.len() == 1 && tag.is_none_or(|t| t == c.tag))
}

/// A dynamic payload type no codec in `codecs` uses.
fn free_pt(codecs: &[SdpCodec]) -> Option<u8> {
    (96..=127u8).find(|pt| !codecs.iter().any(|c| c.payload_type == *pt))
}
