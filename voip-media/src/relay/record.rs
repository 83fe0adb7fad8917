//! The recording tap of a relayed call: every RTP packet each leg sends is
//! decoded (whatever codec it negotiated) and handed out as PCM at one rate
//! with its place on the call's timeline, for a writer to put into a WAV
//! file (see [`RecordingAssembler`](super::RecordingAssembler)). No I/O
//! here: the core emits [`RecordingEvent`]s, drained with
//! [`Relay::poll_recording`](super::Relay::poll_recording).
//!
//! ```text
//! RTP of leg X ─► reorder (by sequence, ≤ 4 packets or 60 ms) ─► decode | conceal (≤ 3 lost) ─► mono ─► resample ─► RecordingFrame { side: X, offset }
//! telephone-event, CN ─► skipped (their time is silence in the file)
//! ```
//!
//! The timeline is the relay's clock from [`Relay::start_recording`]:
//! sample `n` of the file is `start + n / rate`. A leg's first packet is
//! placed where it arrived; later packets by their RTP timestamps (so
//! network jitter does not move the audio). Packets the RTP timestamps would
//! put more than [`RESYNC`] away from their arrival (a new SSRC, a timestamp
//! jump, a sender clock that drifted) re-anchor the leg at their arrival.
//! Gaps (loss beyond concealment, silence suppression, hold) stay empty:
//! the assembler fills them with silence, so both channels keep time.
//!
//! [`Relay::start_recording`]: super::Relay::start_recording

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::leg::Side;
use crate::audio::Resampler;
use crate::codec::{AudioDecoder, Codec, OpusConfig};
use crate::sdp::SdpCodec;

/// Packets held per leg to put reordered ones back in sequence.
const REORDER_DEPTH: usize = 4;
/// Longest a packet waits for the ones before it.
const REORDER_WAIT: Duration = Duration::from_millis(60);
/// Lost packets rebuilt by the decoder's concealment (or Opus FEC) in a
/// row; a longer gap is left as silence.
const MAX_CONCEAL: u64 = 3;
/// How far timestamp placement may drift from arrival before a leg is
/// re-anchored at the arrival time.
pub const RESYNC: Duration = Duration::from_millis(500);
/// A frame placed this close to where the leg's last one ended is joined
/// to it (rounding of resampled frame lengths).
const JOIN: Duration = Duration::from_millis(5);

/// Decoded audio of one leg, at the recording's rate, mono.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFrame {
    /// The call.
    pub call: Arc<str>,
    /// Which leg sent it (A: the caller, left; B: the callee, right).
    pub side: Side,
    /// Where its first sample goes: samples since the recording started.
    pub offset: u64,
    /// Mono PCM at the rate given to `start_recording`.
    pub samples: Vec<i16>,
}

/// What the recording tap emits, drained with
/// [`Relay::poll_recording`](super::Relay::poll_recording).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordingEvent {
    /// Recording of a call started (before any of its frames).
    Started {
        /// The call.
        call: Arc<str>,
        /// Samples per second of its frames.
        rate: u32,
    },
    /// Decoded audio of one leg.
    Frame(RecordingFrame),
    /// Recording ended (stopped or the call was deleted): the file is
    /// `end` samples long; no more frames of this call follow.
    Stopped {
        /// The call.
        call: Arc<str>,
        /// The recording's length in samples (the time it ran).
        end: u64,
        /// What the tap did with each leg's packets, `[A, B]`.
        stats: [RecordingStats; 2],
    },
}

/// What a leg's recording tap did with its packets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordingStats {
    /// Packets decoded into the recording.
    pub decoded: u64,
    /// Lost packets rebuilt by concealment (or Opus FEC).
    pub concealed: u64,
    /// Packets that came after later ones had been written (dropped).
    pub late: u64,
    /// Copies of packets already written (dropped).
    pub duplicates: u64,
    /// Payloads the decoder refused (concealed instead).
    pub codec_errors: u64,
    /// Packets of a payload type with no decodable format.
    pub unknown_format: u64,
}

/// Where a tap sends what it decodes.
pub(crate) type RecordingQueue = VecDeque<RecordingEvent>;

/// One received packet, as the tap keeps it.
#[derive(Debug, Clone)]
pub(crate) struct TapPacket {
    pub(crate) payload_type: u8,
    pub(crate) sequence: u16,
    pub(crate) timestamp: u32,
    pub(crate) ssrc: u32,
    pub(crate) payload: Bytes,
}

/// The formats a leg's payload types stand for: the leg's own SDP first,
/// then the other leg's (pass-through mirrors the numbers), then RFC 3551.
pub(crate) fn format_of<'a>(
    pt: u8,
    own: impl IntoIterator<Item = &'a SdpCodec>,
    other: impl IntoIterator<Item = &'a SdpCodec>,
) -> Option<SdpCodec> {
    own.into_iter()
        .find(|c| c.payload_type == pt)
        .or_else(|| other.into_iter().find(|c| c.payload_type == pt))
        .cloned()
        .or_else(|| SdpCodec::from_static(pt))
}

/// The per-call tap: one [`LegTap`] per side.
#[derive(Debug)]
pub(crate) struct RecordTap {
    rate: u32,
    start: Instant,
    legs: [LegTap; 2],
}

impl RecordTap {
    pub(crate) fn new(call: &Arc<str>, rate: u32, now: Instant, out: &mut RecordingQueue) -> Self {
        out.push_back(RecordingEvent::Started {
            call: call.clone(),
            rate,
        });
        Self {
            rate,
            start: now,
            legs: [LegTap::new(Side::A), LegTap::new(Side::B)],
        }
    }

    /// One RTP packet from `side` (after SRTP and latching). `format` is
    /// what its payload type stands for (see [`format_of`]).
    pub(crate) fn handle_rtp(
        &mut self,
        call: &Arc<str>,
        now: Instant,
        side: Side,
        packet: TapPacket,
        format: Option<SdpCodec>,
        out: &mut RecordingQueue,
    ) {
        let Some(format) = format else {
            self.legs[side.index()].stats.unknown_format += 1;
            return;
        };
        let clock = self.clock(self.rate);
        let leg = &mut self.legs[side.index()];
        if leg.ssrc.is_some_and(|s| s != packet.ssrc) {
            // A new stream (the phone restarted it): play out the old one
            // and start over with sequence numbers and timestamps.
            leg.release(call, &clock, now, true, out);
            leg.restart();
        }
        leg.ssrc = Some(packet.ssrc);
        leg.push(now, packet, format);
        leg.release(call, &clock, now, false, out);
    }

    /// Releases packets that waited long enough for the ones before them.
    pub(crate) fn handle_timeout(
        &mut self,
        call: &Arc<str>,
        now: Instant,
        out: &mut RecordingQueue,
    ) {
        let clock = self.clock(self.rate);
        for leg in &mut self.legs {
            leg.release(call, &clock, now, false, out);
        }
    }

    /// When a held packet stops waiting.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.legs.iter().filter_map(LegTap::deadline).min()
    }

    /// Ends the recording: releases what is held and says how long it ran.
    pub(crate) fn finish(&mut self, call: &Arc<str>, now: Instant, out: &mut RecordingQueue) {
        let clock = self.clock(self.rate);
        for leg in &mut self.legs {
            leg.release(call, &clock, now, true, out);
        }
        let ran = clock.position(now).max(0) as u64;
        let end = self
            .legs
            .iter()
            .map(|l| l.end.unwrap_or(0).max(0) as u64)
            .fold(ran, u64::max);
        out.push_back(RecordingEvent::Stopped {
            call: call.clone(),
            end,
            stats: [self.legs[0].stats, self.legs[1].stats],
        });
    }

    fn clock(&self, rate: u32) -> Clock {
        Clock {
            start: self.start,
            rate,
        }
    }
}

/// The recording's timeline.
#[derive(Debug, Clone, Copy)]
struct Clock {
    start: Instant,
    rate: u32,
}

impl Clock {
    /// The sample position of `at`.
    fn position(&self, at: Instant) -> i64 {
        let d = at.saturating_duration_since(self.start);
        (d.as_nanos() * u128::from(self.rate) / 1_000_000_000) as i64
    }

    fn samples(&self, d: Duration) -> i64 {
        (d.as_nanos() * u128::from(self.rate) / 1_000_000_000) as i64
    }
}

#[derive(Debug)]
struct Held {
    packet: TapPacket,
    format: SdpCodec,
    arrived: Instant,
}

/// The decoder a leg runs now.
struct LegDecoder {
    payload_type: u8,
    clock_rate: u32,
    decoder: Box<dyn AudioDecoder>,
    resampler: Resampler,
    /// Samples per channel of the last decoded packet (for concealment).
    last_samples: usize,
}

impl std::fmt::Debug for LegDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LegDecoder")
            .field("payload_type", &self.payload_type)
            .field("clock_rate", &self.clock_rate)
            .finish_non_exhaustive()
    }
}

/// Where the leg's RTP timestamps sit on the timeline.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    ssrc: u32,
    clock_rate: u32,
    /// Extended timestamp of the anchoring packet.
    ts: i64,
    /// Its position (samples at the recording rate).
    position: i64,
}

#[derive(Debug)]
struct LegTap {
    side: Side,
    /// The stream's SSRC.
    ssrc: Option<u32>,
    held: BTreeMap<u64, Held>,
    /// The highest extended sequence number seen.
    highest: Option<u64>,
    /// The next sequence number to release.
    next: Option<u64>,
    /// Bit `k`: sequence number `next - 1 - k` was released.
    released: u64,
    decoder: Option<LegDecoder>,
    anchor: Option<Anchor>,
    /// The last released timestamp: (raw, extended).
    last_ts: Option<(u32, i64)>,
    /// Where the last frame ended on the timeline (`None`: nothing yet).
    end: Option<i64>,
    pcm: Vec<i16>,
    mono: Vec<i16>,
    resampled: Vec<i16>,
    stats: RecordingStats,
}

impl LegTap {
    fn new(side: Side) -> Self {
        Self {
            side,
            ssrc: None,
            held: BTreeMap::new(),
            highest: None,
            next: None,
            released: 0,
            decoder: None,
            anchor: None,
            last_ts: None,
            end: None,
            pcm: Vec::new(),
            mono: Vec::new(),
            resampled: Vec::new(),
            stats: RecordingStats::default(),
        }
    }

    /// Forgets the stream's sequence numbers, timestamps and decoder state.
    fn restart(&mut self) {
        self.held.clear();
        self.highest = None;
        self.next = None;
        self.released = 0;
        self.decoder = None;
        self.anchor = None;
        self.last_ts = None;
    }

    fn deadline(&self) -> Option<Instant> {
        self.held.values().next().map(|h| h.arrived + REORDER_WAIT)
    }

    fn push(&mut self, now: Instant, packet: TapPacket, format: SdpCodec) {
        let ext = match self.highest {
            None => u64::from(packet.sequence) + (1 << 16),
            Some(h) => {
                let delta = i64::from(packet.sequence.wrapping_sub(h as u16) as i16);
                (h as i64 + delta).max(0) as u64
            }
        };
        if let Some(n) = self.next.filter(|n| ext < *n) {
            let k = n - 1 - ext;
            if k < 64 && (self.released >> k) & 1 == 1 {
                self.stats.duplicates += 1;
            } else {
                self.stats.late += 1;
            }
            return;
        }
        if self.held.contains_key(&ext) {
            self.stats.duplicates += 1;
            return;
        }
        self.highest = Some(self.highest.map_or(ext, |h| h.max(ext)));
        self.held.insert(
            ext,
            Held {
                packet,
                format,
                arrived: now,
            },
        );
    }

    /// Releases, in sequence order, the packets that are next in line,
    /// or waited long enough, or all of them (`force`).
    fn release(
        &mut self,
        call: &Arc<str>,
        clock: &Clock,
        now: Instant,
        force: bool,
        out: &mut RecordingQueue,
    ) {
        while let Some((&seq, head)) = self.held.first_key_value() {
            let in_line = self.next == Some(seq);
            let ready = in_line
                || force
                || self.held.len() > REORDER_DEPTH
                || now >= head.arrived + REORDER_WAIT;
            if !ready {
                break;
            }
            let Some(held) = self.held.remove(&seq) else {
                break;
            };
            let lost = self.next.map_or(0, |n| seq.saturating_sub(n));
            self.released = match lost + 1 {
                k if k >= 64 => 1,
                k => (self.released << k) | 1,
            };
            self.next = Some(seq + 1);
            self.play(call, clock, held, lost, out);
        }
    }

    fn play(
        &mut self,
        call: &Arc<str>,
        clock: &Clock,
        held: Held,
        lost: u64,
        out: &mut RecordingQueue,
    ) {
        let Held {
            packet,
            format,
            arrived,
        } = held;
        if format.is_telephone_event() || format.is_comfort_noise() {
            // In the stream's sequence (not a loss), but no audio: its time
            // is silence in the file.
            return;
        }
        let clock_rate = format.clock_rate.max(1);
        // The decoder for this payload type.
        if self
            .decoder
            .as_ref()
            .is_none_or(|d| d.payload_type != packet.payload_type)
        {
            match new_decoder(&format, clock.rate) {
                Some(d) => self.decoder = Some(d),
                None => {
                    self.stats.unknown_format += 1;
                    return;
                }
            }
        }
        // Extended timestamp and position.
        let ts = match self.last_ts {
            Some((raw, ext)) => ext + i64::from(packet.timestamp.wrapping_sub(raw) as i32),
            None => i64::from(packet.timestamp),
        };
        self.last_ts = Some((packet.timestamp, ts));
        let wall = clock.position(arrived);
        let resync = clock.samples(RESYNC);
        let placed = self
            .anchor
            .filter(|a| a.ssrc == packet.ssrc && a.clock_rate == clock_rate)
            .map(|a| a.position + (ts - a.ts) * i64::from(clock.rate) / i64::from(clock_rate))
            .filter(|p| (p - wall).abs() <= resync);
        let Some(decoder) = self.decoder.as_mut() else {
            return;
        };
        let delay = decoder.resampler.delay() as i64;
        let mut position = match placed {
            Some(p) => p,
            None => {
                self.anchor = Some(Anchor {
                    ssrc: packet.ssrc,
                    clock_rate,
                    ts,
                    position: wall,
                });
                wall
            }
        } - delay;
        // Lost packets just before this one: conceal (Opus: FEC from this
        // packet for the last) where the gap is about their length.
        let mut mono = std::mem::take(&mut self.mono);
        mono.clear();
        let continuous = placed.is_some();
        if let Some(end) = self.end.filter(|e| continuous && lost > 0 && position > *e) {
            let n = lost.min(MAX_CONCEAL);
            let each = decoder.last_samples.max(1);
            let channels = usize::from(decoder.decoder.channels().max(1));
            self.pcm.clear();
            for k in 0..n {
                if k + 1 == n && n == lost {
                    if decoder
                        .decoder
                        .recover_into(&packet.payload, each, &mut self.pcm)
                        .is_err()
                    {
                        decoder.decoder.conceal_into(each, &mut self.pcm);
                    }
                } else {
                    decoder.decoder.conceal_into(each, &mut self.pcm);
                }
            }
            self.stats.concealed += n;
            downmix(&self.pcm, channels, &mut mono);
            self.resampled.clear();
            decoder.resampler.process(&mono, &mut self.resampled);
            self.resampled.truncate((position - end) as usize);
            let filler = std::mem::take(&mut self.resampled);
            self.emit(call, end, &filler, out);
            self.resampled = filler;
            mono.clear();
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return;
        };
        let channels = usize::from(decoder.decoder.channels().max(1));
        self.pcm.clear();
        match decoder.decoder.decode_into(&packet.payload, &mut self.pcm) {
            Ok(n) => {
                decoder.last_samples = n;
                self.stats.decoded += 1;
            }
            Err(_) => {
                self.stats.codec_errors += 1;
                self.pcm.clear();
                let each = decoder.last_samples.max(1);
                decoder.decoder.conceal_into(each, &mut self.pcm);
            }
        }
        downmix(&self.pcm, channels, &mut mono);
        self.resampled.clear();
        decoder.resampler.process(&mono, &mut self.resampled);
        self.mono = mono;
        // Join frames that land within rounding of the last one's end.
        let join = clock.samples(JOIN);
        if let Some(end) = self.end.filter(|e| (position - e).abs() <= join) {
            position = end;
        }
        let samples = std::mem::take(&mut self.resampled);
        self.emit(call, position, &samples, out);
        self.resampled = samples;
    }

    /// Emits `samples` at `position`, cutting what overlaps the last frame
    /// or falls before the start.
    fn emit(&mut self, call: &Arc<str>, position: i64, samples: &[i16], out: &mut RecordingQueue) {
        let from = position.max(self.end.unwrap_or(0)).max(0);
        let skip = (from - position) as usize;
        if skip >= samples.len() {
            return;
        }
        let samples = samples[skip..].to_vec();
        self.end = Some(from + samples.len() as i64);
        out.push_back(RecordingEvent::Frame(RecordingFrame {
            call: call.clone(),
            side: self.side,
            offset: from as u64,
            samples,
        }));
    }
}

/// Interleaved `pcm` with `channels` channels, averaged to mono into `out`.
fn downmix(pcm: &[i16], channels: usize, out: &mut Vec<i16>) {
    if channels <= 1 {
        out.extend_from_slice(pcm);
        return;
    }
    out.extend(
        pcm.chunks(channels)
            .map(|c| (c.iter().map(|s| i32::from(*s)).sum::<i32>() / channels as i32) as i16),
    );
}

/// A decoder for `format`, producing PCM that resamples to `rate`. Opus is
/// decoded straight at the recording rate when libopus supports it.
fn new_decoder(format: &SdpCodec, rate: u32) -> Option<LegDecoder> {
    let codec = Codec::from_rtpmap(&format.name, format.clock_rate, Some(format.channels))?;
    let codec = match codec {
        Codec::Opus(_) => {
            let pcm = if [8000, 12000, 16000, 24000, 48000].contains(&rate) {
                rate
            } else {
                48000
            };
            Codec::Opus(OpusConfig::default().sample_rate(pcm))
        }
        other => other,
    };
    let decoder = codec.new_decoder().ok()?;
    let resampler = Resampler::new(decoder.sample_rate(), rate);
    Some(LegDecoder {
        payload_type: format.payload_type,
        clock_rate: format.clock_rate,
        decoder,
        resampler,
        last_samples: 0,
    })
}
