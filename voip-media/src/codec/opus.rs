//! Opus (RFC 6716, RTP payload format RFC 7587) through libopus.
//!
//! The RTP clock always runs at 48 kHz and SDP always says `opus/48000/2`;
//! the decoder may still run at 8, 12, 16, 24 or 48 kHz and in mono or
//! stereo. Frames are 2.5, 5, 10, 20, 40 or 60 ms long.
//!
//! Loss handling: [`OpusDecoder`]'s `conceal` runs libopus's packet-loss
//! concealment (decoding a missing packet); `recover` decodes the in-band
//! FEC (LBRR) copy of a lost packet that the encoder put in the next one when
//! [`OpusConfig::fec`] is on. With [`OpusConfig::dtx`] the encoder sends
//! packets of at most 2 bytes during silence; they need not be transmitted.

use bytes::BytesMut;
use voip_core::AudioFrame;

use super::{AudioDecoder, AudioEncoder, CodecError};

/// Largest packet libopus writes for one frame (RFC 6716 §3.4: 1275 bytes
/// per frame, up to 3 frames in a 60 ms packet, plus headers).
const MAX_PACKET: usize = 4000;

/// What the encoder is tuned for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OpusApplication {
    /// Speech intelligibility first (the default for calls).
    #[default]
    Voip,
    /// Music and general audio.
    Audio,
    /// Lowest delay, no speech-optimised modes.
    LowDelay,
}

/// Opus encoder and decoder settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusConfig {
    sample_rate: u32,
    channels: u16,
    application: OpusApplication,
    bitrate: Option<u32>,
    fec: bool,
    expected_loss_percent: u8,
    dtx: bool,
    complexity: Option<u8>,
}

impl Default for OpusConfig {
    /// 48 kHz mono VoIP, libopus's automatic bitrate, no FEC, no DTX.
    fn default() -> Self {
        Self {
            sample_rate: 48000,
            channels: 1,
            application: OpusApplication::Voip,
            bitrate: None,
            fec: false,
            expected_loss_percent: 0,
            dtx: false,
            complexity: None,
        }
    }
}

impl OpusConfig {
    /// Mono (1) or stereo (2).
    pub fn channels(mut self, channels: u16) -> Self {
        self.channels = channels;
        self
    }

    /// The PCM rate: 8000, 12000, 16000, 24000 or 48000 Hz.
    pub fn sample_rate(mut self, sample_rate: u32) -> Self {
        self.sample_rate = sample_rate;
        self
    }

    /// What the encoder is tuned for.
    pub fn application(mut self, application: OpusApplication) -> Self {
        self.application = application;
        self
    }

    /// Target bitrate in bit/s (500 to 512000), or `None` for libopus's choice.
    pub fn bitrate(mut self, bits_per_second: Option<u32>) -> Self {
        self.bitrate = bits_per_second;
        self
    }

    /// In-band FEC on or off, with the packet loss (0 to 100 %) to expect;
    /// libopus only spends bits on FEC when the expected loss is above zero.
    pub fn fec(mut self, enabled: bool, expected_loss_percent: u8) -> Self {
        self.fec = enabled;
        self.expected_loss_percent = expected_loss_percent;
        self
    }

    /// Discontinuous transmission during silence.
    pub fn dtx(mut self, enabled: bool) -> Self {
        self.dtx = enabled;
        self
    }

    /// Encoder complexity 0 (fastest) to 10 (best), or libopus's default.
    pub fn complexity(mut self, complexity: Option<u8>) -> Self {
        self.complexity = complexity;
        self
    }

    /// The PCM sample rate.
    pub fn pcm_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The channel count.
    pub fn channel_count(&self) -> u16 {
        self.channels
    }

    /// Whether in-band FEC is on.
    pub fn fec_enabled(&self) -> bool {
        self.fec
    }

    /// Whether DTX is on.
    pub fn dtx_enabled(&self) -> bool {
        self.dtx
    }

    fn opus_channels(&self) -> Result<opus::Channels, CodecError> {
        match self.channels {
            1 => Ok(opus::Channels::Mono),
            2 => Ok(opus::Channels::Stereo),
            n => Err(CodecError::Unsupported(format!("opus with {n} channels"))),
        }
    }

    fn check_rate(&self) -> Result<(), CodecError> {
        if [8000, 12000, 16000, 24000, 48000].contains(&self.sample_rate) {
            Ok(())
        } else {
            Err(CodecError::Unsupported(format!(
                "opus at {} Hz",
                self.sample_rate
            )))
        }
    }
}

/// An Opus encoder.
#[derive(Debug)]
pub struct OpusEncoder {
    inner: opus::Encoder,
    config: OpusConfig,
    buf: Vec<u8>,
}

impl OpusEncoder {
    /// An encoder with `config`'s settings.
    pub fn new(config: OpusConfig) -> Result<Self, CodecError> {
        config.check_rate()?;
        let application = match config.application {
            OpusApplication::Voip => opus::Application::Voip,
            OpusApplication::Audio => opus::Application::Audio,
            OpusApplication::LowDelay => opus::Application::LowDelay,
        };
        let inner = opus::Encoder::new(config.sample_rate, config.opus_channels()?, application)?;
        let mut encoder = Self {
            inner,
            config: config.clone(),
            buf: vec![0; MAX_PACKET],
        };
        encoder.set_bitrate(config.bitrate)?;
        encoder.set_fec(config.fec, config.expected_loss_percent)?;
        encoder.set_dtx(config.dtx)?;
        if let Some(complexity) = config.complexity {
            if complexity > 10 {
                return Err(CodecError::Unsupported(format!(
                    "opus complexity {complexity}"
                )));
            }
            encoder.inner.set_complexity(i32::from(complexity))?;
        }
        Ok(encoder)
    }

    /// Changes the target bitrate (bit/s) mid-stream; `None` lets libopus choose.
    pub fn set_bitrate(&mut self, bits_per_second: Option<u32>) -> Result<(), CodecError> {
        let bitrate = match bits_per_second {
            None => opus::Bitrate::Auto,
            Some(b) if (500..=512_000).contains(&b) => opus::Bitrate::Bits(b as i32),
            Some(b) => return Err(CodecError::Unsupported(format!("opus bitrate {b} bit/s"))),
        };
        self.inner.set_bitrate(bitrate)?;
        self.config.bitrate = bits_per_second;
        Ok(())
    }

    /// The bitrate libopus targets now, in bit/s.
    pub fn bitrate(&mut self) -> Result<u32, CodecError> {
        Ok(match self.inner.get_bitrate()? {
            opus::Bitrate::Bits(b) => b.max(0) as u32,
            opus::Bitrate::Max | opus::Bitrate::Auto => 0,
        })
    }

    /// Turns in-band FEC on or off and sets the packet loss to expect
    /// (for example from RTCP receiver reports).
    pub fn set_fec(&mut self, enabled: bool, expected_loss_percent: u8) -> Result<(), CodecError> {
        if expected_loss_percent > 100 {
            return Err(CodecError::Unsupported(format!(
                "expected loss {expected_loss_percent} %"
            )));
        }
        self.inner.set_inband_fec(enabled)?;
        self.inner
            .set_packet_loss_perc(i32::from(expected_loss_percent))?;
        self.config.fec = enabled;
        self.config.expected_loss_percent = expected_loss_percent;
        Ok(())
    }

    /// Turns DTX on or off.
    pub fn set_dtx(&mut self, enabled: bool) -> Result<(), CodecError> {
        self.inner.set_dtx(enabled)?;
        self.config.dtx = enabled;
        Ok(())
    }

    /// Whether the last frame was coded as DTX silence.
    pub fn in_dtx(&mut self) -> bool {
        self.inner.get_in_dtx().unwrap_or(false)
    }

    /// The settings in force.
    pub fn config(&self) -> &OpusConfig {
        &self.config
    }
}

/// Whether `samples` per channel is an Opus frame length at `rate`.
fn is_frame_size(samples: usize, rate: u32) -> bool {
    let quantum = rate as usize / 400; // 2.5 ms
    [1, 2, 4, 8, 16, 24].iter().any(|&k| k * quantum == samples)
}

impl AudioEncoder for OpusEncoder {
    fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    fn channels(&self) -> u16 {
        self.config.channels
    }

    fn encode_into(&mut self, frame: &AudioFrame, out: &mut BytesMut) -> Result<(), CodecError> {
        super::check_frame(frame, self.config.sample_rate, self.config.channels)?;
        let per_channel = frame.len_per_channel();
        if !is_frame_size(per_channel, self.config.sample_rate)
            || frame.samples.len() % usize::from(self.config.channels) != 0
        {
            return Err(CodecError::FrameSize {
                samples: per_channel,
            });
        }
        let len = self.inner.encode(&frame.samples, &mut self.buf)?;
        out.extend_from_slice(&self.buf[..len]);
        Ok(())
    }
}

/// An Opus decoder with libopus PLC and FEC recovery.
#[derive(Debug)]
pub struct OpusDecoder {
    inner: opus::Decoder,
    sample_rate: u32,
    channels: u16,
    /// Room for 120 ms, the longest packet.
    buf: Vec<i16>,
}

impl OpusDecoder {
    /// A decoder at `config`'s sample rate and channel count.
    pub fn new(config: &OpusConfig) -> Result<Self, CodecError> {
        config.check_rate()?;
        let inner = opus::Decoder::new(config.sample_rate, config.opus_channels()?)?;
        Ok(Self {
            inner,
            sample_rate: config.sample_rate,
            channels: config.channels,
            buf: vec![0; config.sample_rate as usize * 120 / 1000 * usize::from(config.channels)],
        })
    }

    fn max_samples(&self) -> usize {
        self.buf.len() / usize::from(self.channels)
    }
}

impl AudioDecoder for OpusDecoder {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn decode_into(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        if payload.is_empty() {
            return Err(CodecError::Malformed("empty opus packet"));
        }
        let n = self.inner.decode(payload, &mut self.buf, false)?;
        out.extend_from_slice(&self.buf[..n * usize::from(self.channels)]);
        Ok(n)
    }

    fn conceal_into(&mut self, samples: usize, out: &mut Vec<i16>) {
        let ch = usize::from(self.channels);
        let quantum = self.sample_rate as usize / 400;
        let mut left = samples;
        while left > 0 {
            // libopus conceals in multiples of 2.5 ms; keep what was asked for.
            let chunk = left.div_ceil(quantum).min(self.max_samples() / quantum) * quantum;
            let produced = self
                .inner
                .decode(&[], &mut self.buf[..chunk * ch], false)
                .unwrap_or(0);
            if produced == 0 {
                // libopus refused: silence for the rest.
                out.resize(out.len() + left * ch, 0);
                break;
            }
            let take = left.min(produced);
            out.extend_from_slice(&self.buf[..take * ch]);
            left -= take;
        }
    }

    fn recover_into(
        &mut self,
        next_payload: &[u8],
        samples: usize,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let quantum = self.sample_rate as usize / 400;
        if next_payload.is_empty() || samples % quantum != 0 || samples > self.max_samples() {
            self.conceal_into(samples, out);
            return Ok(samples);
        }
        let ch = usize::from(self.channels);
        let n = self
            .inner
            .decode(next_payload, &mut self.buf[..samples * ch], true)?;
        out.extend_from_slice(&self.buf[..n * ch]);
        Ok(n)
    }

    fn packet_samples(&self, payload: &[u8]) -> Option<usize> {
        opus::packet::get_nb_samples(payload, self.sample_rate).ok()
    }

    fn reset(&mut self) {
        // A failed reset leaves a decoder that still decodes; nothing to do.
        let _ = self.inner.reset_state();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Speech-like test audio: a harmonic "vowel" whose pitch glides and
    /// whose loudness swells, at 48 kHz.
    fn vowel(n: usize, start: usize, rate: u32) -> Vec<i16> {
        let mut phase = 0.0f64;
        let mut out = Vec::with_capacity(n);
        for i in 0..start + n {
            let t = i as f64 / f64::from(rate);
            let f0 = 120.0 + 40.0 * (2.0 * PI * 1.5 * t).sin();
            phase += 2.0 * PI * f0 / f64::from(rate);
            let env = 0.6 + 0.4 * (2.0 * PI * 3.0 * t).sin();
            let v = (1..=12)
                .map(|h| (h as f64 * phase).sin() / h as f64)
                .sum::<f64>();
            if i >= start {
                out.push((env * 6000.0 * v) as i16);
            }
        }
        out
    }

    fn energy(s: &[i16]) -> f64 {
        s.iter().map(|&x| f64::from(x).powi(2)).sum()
    }

    #[test]
    fn mono_and_stereo_at_every_frame_size() {
        for channels in [1u16, 2] {
            let config = OpusConfig::default().channels(channels);
            let mut enc = OpusEncoder::new(config.clone()).unwrap();
            let mut dec = OpusDecoder::new(&config).unwrap();
            for ms10 in [25usize, 50, 100, 200, 400, 600] {
                let per_channel = 48 * ms10 / 10;
                let frame = AudioFrame {
                    sample_rate: 48000,
                    channels,
                    samples: vec![0; per_channel * usize::from(channels)],
                };
                let payload = enc.encode(&frame).unwrap();
                assert_eq!(dec.packet_samples(&payload), Some(per_channel));
                let out = dec.decode(&payload).unwrap();
                assert_eq!(out.channels, channels);
                assert_eq!(out.len_per_channel(), per_channel);
            }
            let bad = AudioFrame {
                sample_rate: 48000,
                channels,
                samples: vec![0; 100 * usize::from(channels)],
            };
            assert!(matches!(
                enc.encode(&bad),
                Err(CodecError::FrameSize { samples: 100 })
            ));
        }
    }

    #[test]
    fn stereo_keeps_channels_apart() {
        let config = OpusConfig::default()
            .channels(2)
            .application(OpusApplication::Audio)
            .bitrate(Some(96_000));
        let mut enc = OpusEncoder::new(config.clone()).unwrap();
        let mut dec = OpusDecoder::new(&config).unwrap();
        let mut left = Vec::new();
        let mut right = Vec::new();
        for k in 0..50 {
            let samples: Vec<i16> = (k * 960..(k + 1) * 960)
                .flat_map(|i| {
                    [
                        (8000.0 * (2.0 * PI * 440.0 * i as f64 / 48000.0).sin()) as i16,
                        0,
                    ]
                })
                .collect();
            let payload = enc
                .encode(&AudioFrame {
                    sample_rate: 48000,
                    channels: 2,
                    samples,
                })
                .unwrap();
            let out = dec.decode(&payload).unwrap();
            left.extend(out.samples.iter().step_by(2));
            right.extend(out.samples.iter().skip(1).step_by(2));
        }
        assert!(energy(&left[9600..]) > 1000.0 * energy(&right[9600..]).max(1.0));
    }

    #[test]
    fn bitrate_setting_sizes_packets() {
        let mut sizes = Vec::new();
        for bitrate in [12_000u32, 64_000] {
            let config = OpusConfig::default().bitrate(Some(bitrate));
            let mut enc = OpusEncoder::new(config).unwrap();
            assert_eq!(enc.bitrate().unwrap(), bitrate);
            let audio = vow_frames(100);
            let total: usize = audio.iter().map(|f| enc.encode(f).unwrap().len()).sum();
            // bits per second over 2 s of audio
            sizes.push(total * 8 / 2);
        }
        assert!(sizes[0] < 12_000 * 13 / 10, "{sizes:?}");
        assert!(sizes[1] > 3 * sizes[0], "{sizes:?}");
        let mut enc = OpusEncoder::new(OpusConfig::default()).unwrap();
        assert!(enc.set_bitrate(Some(100)).is_err());
        enc.set_bitrate(Some(24_000)).unwrap();
        assert_eq!(enc.config().bitrate, Some(24_000));
    }

    fn vow_frames(count: usize) -> Vec<AudioFrame> {
        let audio = vowel(960 * count, 0, 48000);
        audio
            .chunks(960)
            .map(|c| AudioFrame::mono(48000, c.to_vec()))
            .collect()
    }

    #[test]
    fn dtx_sends_tiny_packets_in_silence() {
        let mut enc = OpusEncoder::new(OpusConfig::default().dtx(true)).unwrap();
        let silence = AudioFrame::mono(48000, vec![0; 960]);
        let sizes: Vec<usize> = (0..50)
            .map(|_| enc.encode(&silence).unwrap().len())
            .collect();
        // Silence is 1-byte packets, with a comfort-noise update now and then.
        let tiny = sizes[25..].iter().filter(|&&n| n <= 2).count();
        assert!(tiny >= 20, "{sizes:?}");
        assert!(enc.in_dtx());
        let mut plain = OpusEncoder::new(OpusConfig::default()).unwrap();
        let sizes: Vec<usize> = (0..50)
            .map(|_| plain.encode(&silence).unwrap().len())
            .collect();
        assert!(sizes[25..].iter().all(|&n| n >= 2), "{sizes:?}");
    }

    #[test]
    fn plc_conceals_a_missing_packet() {
        let config = OpusConfig::default();
        let mut enc = OpusEncoder::new(config.clone()).unwrap();
        let mut dec = OpusDecoder::new(&config).unwrap();
        let frames = vow_frames(20);
        for f in &frames[..10] {
            dec.decode(&enc.encode(f).unwrap()).unwrap();
        }
        let concealed = dec.conceal(960);
        assert_eq!(concealed.samples.len(), 960);
        // The concealment carries the voice on instead of going silent.
        assert!(energy(&concealed.samples) > 0.1 * energy(&frames[10].samples));
        // An odd length still comes out exactly.
        assert_eq!(dec.conceal(100).samples.len(), 100);
    }

    #[test]
    fn fec_recovers_a_lost_packet() {
        // Silence, then the voice starts in the packet that gets lost: PLC
        // cannot know about the onset, the FEC copy in the next packet does.
        let config = OpusConfig::default().bitrate(Some(32_000)).fec(true, 20);
        let mut enc = OpusEncoder::new(config.clone()).unwrap();
        let mut reference = OpusDecoder::new(&config).unwrap();
        let mut with_fec = OpusDecoder::new(&config).unwrap();
        let mut with_plc = OpusDecoder::new(&config).unwrap();
        let voice = vowel(960 * 20, 0, 48000);
        let mut payloads = Vec::new();
        for k in 0..30 {
            let samples = if k < 10 {
                vec![0; 960]
            } else {
                voice[(k - 10) * 960..(k - 9) * 960].to_vec()
            };
            payloads.push(enc.encode(&AudioFrame::mono(48000, samples)).unwrap());
        }
        let lost = 12;
        let mut truth = Vec::new();
        for (k, p) in payloads.iter().enumerate() {
            let out = reference.decode(p).unwrap();
            if k == lost {
                truth = out.samples;
            }
        }
        let mut recovered = Vec::new();
        let mut concealed = Vec::new();
        for (k, p) in payloads.iter().enumerate() {
            if k == lost {
                recovered = with_fec.recover(&payloads[k + 1], 960).unwrap().samples;
                concealed = with_plc.conceal(960).samples;
            } else {
                with_fec.decode(p).unwrap();
                with_plc.decode(p).unwrap();
            }
        }
        let error = |x: &[i16]| {
            x.iter()
                .zip(&truth)
                .map(|(&a, &b)| (f64::from(a) - f64::from(b)).powi(2))
                .sum::<f64>()
        };
        assert_eq!(recovered.len(), 960);
        assert!(
            error(&recovered) < error(&concealed),
            "fec error {} plc error {}",
            error(&recovered),
            error(&concealed)
        );
        // Without FEC in the stream, recovery falls back to concealment.
        let plain = OpusConfig::default().bitrate(Some(32_000));
        let mut enc = OpusEncoder::new(plain.clone()).unwrap();
        let mut dec = OpusDecoder::new(&plain).unwrap();
        let p = enc
            .encode(&AudioFrame::mono(48000, voice[..960].to_vec()))
            .unwrap();
        assert_eq!(dec.recover(&p, 960).unwrap().samples.len(), 960);
    }

    #[test]
    fn settings_are_validated() {
        assert!(OpusEncoder::new(OpusConfig::default().channels(3)).is_err());
        assert!(OpusEncoder::new(OpusConfig::default().sample_rate(44100)).is_err());
        assert!(OpusEncoder::new(OpusConfig::default().complexity(Some(11))).is_err());
        let mut enc = OpusEncoder::new(OpusConfig::default().sample_rate(16000)).unwrap();
        assert!(enc.set_fec(true, 101).is_err());
        assert!(enc.encode(&AudioFrame::mono(16000, vec![0; 320])).is_ok());
        let mut dec = OpusDecoder::new(&OpusConfig::default()).unwrap();
        assert!(matches!(dec.decode(&[]), Err(CodecError::Malformed(_))));
        // Garbage is an error, not a panic.
        let _ = dec.decode(&[0xFF; 3]);
    }
}
