//! One direction of a transcoded call: the receiving leg's packets go
//! through a jitter buffer, are decoded (with the decoder's concealment for
//! lost frames), resampled, re-encoded in 20 ms frames of the other leg's
//! codec and sent with the other leg's own SSRC, sequence numbers and
//! timestamps (its [`RtpSession`]). RFC 4733 events skip the buffer and go
//! out at once with the other leg's payload type, the current position of
//! its timestamp line and their durations rescaled to its clock.
//!
//! ```text
//! RTP ─► JitterBuffer ─(every frame: pop)─► decode | recover | conceal ─► Resampler ─► 20 ms ─► encode ─► send_rtp
//! telephone-event ──────────────────────────────────────────────────────── remap PT/ts/duration ─► send_rtp
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use voip_core::AudioFrame;

use super::error::RelayError;
use crate::audio::Resampler;
use crate::codec::{AudioDecoder, AudioEncoder, Codec, OpusConfig};
use crate::dtmf::TelephoneEvent;
use crate::jitter::{JitterBuffer, JitterConfig, Packet, Playout};
use crate::rtp::RtpSession;

/// Outgoing frames are 20 ms.
const OUT_FRAME: Duration = Duration::from_millis(20);
/// Most frames caught up in one `handle_timeout` when the driver was late.
const MAX_CATCH_UP: u32 = 25;

/// Telephone-event formats on both sides: (payload type, clock rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventMap {
    pub(crate) input: (u8, u32),
    pub(crate) output: Option<(u8, u32)>,
}

/// The codec with the PCM rate the relay runs it at: Opus decodes and
/// encodes at the rate nearest above the other side's, so PCMU ⇄ Opus
/// resamples 8 ⇄ 16 kHz instead of 8 ⇄ 48 kHz.
pub(crate) fn working_codec(codec: Codec, other_rate: u32) -> Codec {
    match codec {
        Codec::Opus(_) => {
            let rate = [8000, 12000, 16000, 24000, 48000]
                .into_iter()
                .find(|r| *r >= other_rate)
                .unwrap_or(48000);
            Codec::Opus(OpusConfig::default().sample_rate(rate))
        }
        other => other,
    }
}

/// One direction's decode → resample → encode pipeline.
#[derive(Debug)]
pub(crate) struct Transcoder {
    jb: JitterBuffer,
    frame: Duration,
    in_pt: u8,
    decoder: Box<dyn AudioDecoder>,
    in_samples: usize,
    resampler: Resampler,
    encoder: Box<dyn AudioEncoder>,
    out_codec: Codec,
    out_pt: u8,
    out_samples: usize,
    next_tick: Option<Instant>,
    /// Output timestamp (from 0, the session adds its offset) of `pcm[0]`.
    position: u32,
    pcm: Vec<i16>,
    decoded: Vec<i16>,
    mono: Vec<i16>,
    payload: BytesMut,
    talking: bool,
    events: Option<EventMap>,
    /// The current event: its input timestamp and the output one.
    event_ts: Option<(u32, u32)>,
    pub(crate) concealed: u64,
    pub(crate) codec_errors: u64,
}

impl Transcoder {
    /// `input`/`output` are working codecs (see [`working_codec`]);
    /// `ptime` is the input's packet time.
    pub(crate) fn new(
        jitter: &JitterConfig,
        input: &Codec,
        in_pt: u8,
        ptime: Duration,
        output: &Codec,
        out_pt: u8,
        events: Option<EventMap>,
    ) -> Result<Self, RelayError> {
        let frame = match ptime.as_millis() {
            10 | 20 | 30 | 40 | 60 => ptime,
            _ => Duration::from_millis(20),
        };
        let config = jitter
            .clone()
            .with_clock_rate(input.rtp_clock_rate())
            .with_frame_duration(frame)
            .build()
            .map_err(|e| RelayError::Codec(e.to_string()))?;
        let decoder = input.new_decoder()?;
        let encoder = output.new_encoder()?;
        let in_rate = decoder.sample_rate();
        let out_rate = encoder.sample_rate();
        Ok(Self {
            jb: JitterBuffer::new(Arc::new(config)),
            frame,
            in_pt,
            in_samples: (u128::from(in_rate) * frame.as_micros() / 1_000_000) as usize,
            decoder,
            resampler: Resampler::new(in_rate, out_rate),
            out_samples: (u128::from(out_rate) * OUT_FRAME.as_micros() / 1_000_000) as usize,
            encoder,
            out_codec: output.clone(),
            out_pt,
            next_tick: None,
            position: 0,
            pcm: Vec::new(),
            decoded: Vec::new(),
            mono: Vec::new(),
            payload: BytesMut::new(),
            talking: false,
            events,
            event_ts: None,
            concealed: 0,
            codec_errors: 0,
        })
    }

    /// The input payload type.
    pub(crate) fn input_pt(&self) -> u8 {
        self.in_pt
    }

    /// Buffers one audio packet; the frame clock starts with the first.
    pub(crate) fn push(&mut self, now: Instant, packet: rtp::packet::Packet) {
        self.jb.push(now, Packet::from(packet));
        if self.next_tick.is_none() {
            self.next_tick = Some(now);
        }
    }

    /// When the next frame is due.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    /// The jitter buffer's current delay.
    pub(crate) fn delay(&self) -> Duration {
        self.jb.stats().current_delay
    }

    /// Plays every frame due by `now`; RTP packets for the other leg go to
    /// `out`.
    pub(crate) fn handle_timeout(
        &mut self,
        now: Instant,
        session: &mut RtpSession,
        out: &mut Vec<Bytes>,
    ) {
        let mut n = 0;
        while let Some(tick) = self.next_tick.filter(|t| *t <= now) {
            if n == MAX_CATCH_UP {
                self.next_tick = Some(now + self.frame);
                break;
            }
            self.play(tick, session, out);
            self.next_tick = Some(tick + self.frame);
            n += 1;
        }
    }

    fn play(&mut self, at: Instant, session: &mut RtpSession, out: &mut Vec<Bytes>) {
        self.decoded.clear();
        match self.jb.pop(at) {
            Playout::Frame(f) => {
                if self
                    .decoder
                    .decode_into(&f.payload, &mut self.decoded)
                    .is_err()
                {
                    self.codec_errors += 1;
                    self.decoder
                        .conceal_into(self.in_samples, &mut self.decoded);
                }
            }
            Playout::Lost { next } => {
                self.concealed += 1;
                let ok = match next {
                    Some(n) => self
                        .decoder
                        .recover_into(&n.payload, self.in_samples, &mut self.decoded)
                        .is_ok(),
                    None => false,
                };
                if !ok {
                    self.decoded.clear();
                    self.decoder
                        .conceal_into(self.in_samples, &mut self.decoded);
                }
            }
            Playout::Expand => {
                self.concealed += 1;
                self.decoder
                    .conceal_into(self.in_samples, &mut self.decoded);
            }
            _ => {
                // Silence or comfort noise: send nothing, let time run on.
                let held = self.units(self.pcm.len() / usize::from(self.encoder.channels().max(1)));
                let frame_units = self.units(self.frame_out_samples());
                self.position = self.position.wrapping_add(held).wrapping_add(frame_units);
                self.pcm.clear();
                self.talking = false;
                return;
            }
        }
        // Down-mix to mono, resample, up-mix for the encoder.
        let in_ch = usize::from(self.decoder.channels().max(1));
        self.mono.clear();
        if in_ch == 1 {
            self.resampler.process(&self.decoded, &mut self.mono);
        } else {
            let mixed: Vec<i16> = self
                .decoded
                .chunks(in_ch)
                .map(|c| (c.iter().map(|s| i32::from(*s)).sum::<i32>() / in_ch as i32) as i16)
                .collect();
            self.resampler.process(&mixed, &mut self.mono);
        }
        let out_ch = usize::from(self.encoder.channels().max(1));
        for s in &self.mono {
            for _ in 0..out_ch {
                self.pcm.push(*s);
            }
        }
        let chunk = self.out_samples * out_ch;
        while self.pcm.len() >= chunk {
            let frame = AudioFrame {
                sample_rate: self.encoder.sample_rate(),
                channels: self.encoder.channels(),
                samples: self.pcm[..chunk].to_vec(),
            };
            self.pcm.drain(..chunk);
            self.payload.clear();
            if self.encoder.encode_into(&frame, &mut self.payload).is_err() {
                self.codec_errors += 1;
            } else {
                let marker = !self.talking;
                self.talking = true;
                out.push(session.send_rtp(at, self.out_pt, self.position, marker, &self.payload));
            }
            self.position = self.position.wrapping_add(self.units(self.out_samples));
        }
    }

    /// Samples of one input frame at the output rate.
    fn frame_out_samples(&self) -> usize {
        (u128::from(self.encoder.sample_rate()) * self.frame.as_micros() / 1_000_000) as usize
    }

    /// Output RTP clock units for `samples` samples per channel.
    fn units(&self, samples: usize) -> u32 {
        self.out_codec.rtp_timestamp_increment(samples)
    }

    /// Re-sends one telephone-event packet (`timestamp`, `marker` and
    /// `payload` as received) on the other leg. `None` when the other leg
    /// has no telephone-event or the payload is malformed.
    pub(crate) fn forward_event(
        &mut self,
        now: Instant,
        timestamp: u32,
        marker: bool,
        payload: &[u8],
        session: &mut RtpSession,
    ) -> Option<Bytes> {
        let map = self.events?;
        let (out_pt, out_rate) = map.output?;
        let in_rate = map.input.1.max(1);
        let blocks = TelephoneEvent::parse_all(payload).ok()?;
        let out_ts = match self.event_ts {
            Some((in_ts, out_ts)) if in_ts == timestamp => out_ts,
            _ => {
                let held = self.pcm.len() / usize::from(self.encoder.channels().max(1));
                let ts = self.position.wrapping_add(self.units(held));
                self.event_ts = Some((timestamp, ts));
                ts
            }
        };
        let mut body = BytesMut::with_capacity(payload.len());
        for mut b in blocks {
            let scaled = u64::from(b.duration) * u64::from(out_rate) / u64::from(in_rate);
            b.duration = u16::try_from(scaled).unwrap_or(u16::MAX);
            body.extend_from_slice(&b.to_bytes());
        }
        Some(session.send_rtp(now, out_pt, out_ts, marker, &body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::RtpSessionConfig;
    use voip_core::Rng;
    use webrtc_util::marshal::Unmarshal;

    fn rtp(seq: u16, ts: u32, pt: u8, payload: &[u8]) -> rtp::packet::Packet {
        let mut b = vec![0x80, pt, (seq >> 8) as u8, seq as u8];
        b.extend_from_slice(&ts.to_be_bytes());
        b.extend_from_slice(&7u32.to_be_bytes());
        b.extend_from_slice(payload);
        rtp::packet::Packet::unmarshal(&mut &b[..]).unwrap()
    }

    #[test]
    fn pcma_to_pcmu_frames_keep_their_timing_and_conceal_a_loss() {
        let jitter = JitterConfig::default();
        let mut t = Transcoder::new(
            &jitter,
            &Codec::Pcma,
            8,
            Duration::from_millis(20),
            &Codec::Pcmu,
            0,
            None,
        )
        .unwrap();
        let config = RtpSessionConfig::default().build().unwrap();
        let t0 = Instant::now();
        let mut session = RtpSession::new(config, Rng::seeded(1), t0);
        let mut out = Vec::new();
        for i in 0..50u16 {
            let at = t0 + Duration::from_millis(20 * u64::from(i));
            if i != 20 {
                t.push(at, rtp(i, u32::from(i) * 160, 8, &[0xd5; 160]));
            }
            t.handle_timeout(at, &mut session, &mut out);
        }
        assert!(out.len() >= 45, "{}", out.len());
        assert_eq!(t.concealed, 1);
        let first = rtp::packet::Packet::unmarshal(&mut &out[0][..]).unwrap();
        let second = rtp::packet::Packet::unmarshal(&mut &out[1][..]).unwrap();
        assert_eq!(first.header.payload_type, 0);
        assert!(first.header.marker && !second.header.marker);
        assert_eq!(
            second.header.timestamp.wrapping_sub(first.header.timestamp),
            160
        );
        assert_eq!(first.payload.len(), 160);
    }

    #[test]
    fn events_take_the_output_pt_timestamp_and_clock() {
        let jitter = JitterConfig::default();
        let out_codec = working_codec(Codec::Opus(OpusConfig::default()), 8000);
        let mut t = Transcoder::new(
            &jitter,
            &Codec::Pcmu,
            0,
            Duration::from_millis(20),
            &out_codec,
            111,
            Some(EventMap {
                input: (101, 8000),
                output: Some((97, 48000)),
            }),
        )
        .unwrap();
        let t0 = Instant::now();
        let config = RtpSessionConfig::default()
            .clock_rate(48000)
            .build()
            .unwrap();
        let mut session = RtpSession::new(config, Rng::seeded(2), t0);
        let ev = TelephoneEvent {
            event: 5,
            end: false,
            volume: 10,
            duration: 160,
        }
        .to_bytes();
        let a = t.forward_event(t0, 5000, true, &ev, &mut session).unwrap();
        let ev2 = TelephoneEvent {
            event: 5,
            end: true,
            volume: 10,
            duration: 800,
        }
        .to_bytes();
        let b = t
            .forward_event(t0, 5000, false, &ev2, &mut session)
            .unwrap();
        let a = rtp::packet::Packet::unmarshal(&mut &a[..]).unwrap();
        let b = rtp::packet::Packet::unmarshal(&mut &b[..]).unwrap();
        assert_eq!(a.header.payload_type, 97);
        assert!(a.header.marker);
        assert_eq!(a.header.timestamp, b.header.timestamp);
        assert_eq!(
            b.header.sequence_number,
            a.header.sequence_number.wrapping_add(1)
        );
        let blk = TelephoneEvent::parse(b.payload[..4].try_into().unwrap());
        assert_eq!((blk.event, blk.end, blk.duration), (5, true, 4800));
        assert!(
            t.forward_event(t0, 1, false, &[1, 2], &mut session)
                .is_none()
        );
    }
}
