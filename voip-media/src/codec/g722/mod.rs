//! ITU-T G.722: 7 kHz audio at 64 kbit/s by sub-band ADPCM (mode 1).
//!
//! A 24-tap quadrature mirror filter splits 16 kHz audio into a low band
//! (0–4 kHz, coded with 6 bits per sample) and a high band (4–8 kHz, 2 bits),
//! each at 8 kHz; one byte carries both codes (high band in the top two
//! bits). So 20 ms of audio is 320 samples in and 160 bytes out.
//!
//! RTP: static payload type 9 with an RTP clock rate of **8000** although
//! the audio is sampled at 16 kHz (RFC 3551 §4.5.2, kept for historical
//! reasons): timestamps advance by 160 per 20 ms.
//!
//! Levels: our 16-bit samples feed the QMF directly and the sub-band signals
//! come out halved (15-bit), the scaling the common open implementations
//! use, so streams interoperate at the same loudness; encoder plus decoder
//! have unity gain and a delay of 23 samples (the two QMFs).

mod adpcm;

use bytes::BytesMut;
use voip_core::AudioFrame;

use super::{AudioDecoder, AudioEncoder, CodecError, PitchConcealer};
use adpcm::{Band, QM2, QM4, QM6, quantize_high, quantize_low, sat};

/// QMF coefficients h0..h23 (Table 11/G.722) × 2^13; they sum to 8192.
const QMF: [i32; 24] = [
    3, -11, -11, 53, 12, -156, 32, 362, -210, -805, 951, 3876, 3876, 951, -805, -210, 362, 32,
    -156, 12, 53, -11, -11, 3,
];

/// Sample rate of the audio (the RTP clock runs at half of it).
const RATE: u32 = 16000;

/// A G.722 encoder (16 kHz mono in, 64 kbit/s out).
#[derive(Debug, Clone)]
pub struct G722Encoder {
    /// Input history for the transmit QMF, newest first.
    x: [i32; 24],
    low: Band,
    high: Band,
}

impl Default for G722Encoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Encoder {
    /// An encoder in the reset state.
    pub fn new() -> Self {
        Self {
            x: [0; 24],
            low: Band::new(32),
            high: Band::new(8),
        }
    }

    /// Encodes a pair of samples (older first) into one G.722 byte.
    pub fn encode_pair(&mut self, older: i16, newer: i16) -> u8 {
        // Transmit QMF.
        self.x.copy_within(0..22, 2);
        self.x[1] = i32::from(older);
        self.x[0] = i32::from(newer);
        let (mut xa, mut xb) = (0i32, 0i32);
        for i in 0..12 {
            xa += QMF[2 * i] * self.x[2 * i];
            xb += QMF[2 * i + 1] * self.x[2 * i + 1];
        }
        let xl = sat((xa + xb) >> 14);
        let xh = sat((xa - xb) >> 14);

        // Low band: 6-bit code, adapt from its 4-bit truncation.
        let il = quantize_low(sat(xl - self.low.s), self.low.det);
        let il4 = usize::from(il >> 2);
        let dl = (self.low.det * QM4[il4]) >> 15;
        self.low.adapt_low(il4);
        self.low.predict(dl);

        // High band: 2-bit code.
        let ih = quantize_high(sat(xh - self.high.s), self.high.det);
        let dh = (self.high.det * QM2[usize::from(ih)]) >> 15;
        self.high.adapt_high(usize::from(ih));
        self.high.predict(dh);

        (ih << 6) | il
    }
}

impl AudioEncoder for G722Encoder {
    fn sample_rate(&self) -> u32 {
        RATE
    }

    fn channels(&self) -> u16 {
        1
    }

    fn encode_into(&mut self, frame: &AudioFrame, out: &mut BytesMut) -> Result<(), CodecError> {
        super::check_frame(frame, RATE, 1)?;
        if frame.samples.len() % 2 != 0 {
            return Err(CodecError::FrameSize {
                samples: frame.samples.len(),
            });
        }
        out.reserve(frame.samples.len() / 2);
        for pair in frame.samples.chunks_exact(2) {
            let byte = self.encode_pair(pair[0], pair[1]);
            out.extend_from_slice(&[byte]);
        }
        Ok(())
    }
}

/// A G.722 decoder (64 kbit/s in, 16 kHz mono out) with packet-loss
/// concealment by pitch repetition; the ADPCM state is held during a loss.
#[derive(Debug, Clone)]
pub struct G722Decoder {
    /// Receive QMF histories (difference and sum signals), newest first.
    xd: [i32; 12],
    xs: [i32; 12],
    low: Band,
    high: Band,
    plc: PitchConcealer,
}

impl Default for G722Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl G722Decoder {
    /// A decoder in the reset state.
    pub fn new() -> Self {
        Self {
            xd: [0; 12],
            xs: [0; 12],
            low: Band::new(32),
            high: Band::new(8),
            plc: PitchConcealer::new(RATE),
        }
    }

    /// Decodes one G.722 byte into two samples (older first).
    pub fn decode_byte(&mut self, byte: u8) -> [i16; 2] {
        let il = usize::from(byte & 0x3F);
        let ih = usize::from(byte >> 6);

        // Low band: output from the full 6-bit code, adaptation from 4 bits.
        let il4 = il >> 2;
        let dl4 = (self.low.det * QM4[il4]) >> 15;
        let dl = (self.low.det * QM6[il]) >> 15;
        let rl = (self.low.s + dl).clamp(-16384, 16383);
        self.low.adapt_low(il4);
        self.low.predict(dl4);

        // High band.
        let dh = (self.high.det * QM2[ih]) >> 15;
        let rh = (self.high.s + dh).clamp(-16384, 16383);
        self.high.adapt_high(ih);
        self.high.predict(dh);

        // Receive QMF.
        self.xd.copy_within(0..11, 1);
        self.xs.copy_within(0..11, 1);
        self.xd[0] = rl - rh;
        self.xs[0] = rl + rh;
        let (mut even, mut odd) = (0i32, 0i32);
        for i in 0..12 {
            even += QMF[2 * i] * self.xd[i];
            odd += QMF[2 * i + 1] * self.xs[i];
        }
        [to_i16(even >> 11), to_i16(odd >> 11)]
    }
}

fn to_i16(x: i32) -> i16 {
    x.clamp(-32768, 32767) as i16
}

impl AudioDecoder for G722Decoder {
    fn sample_rate(&self) -> u32 {
        RATE
    }

    fn channels(&self) -> u16 {
        1
    }

    fn decode_into(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        let start = out.len();
        out.reserve(payload.len() * 2);
        for &byte in payload {
            out.extend_from_slice(&self.decode_byte(byte));
        }
        self.plc.handle_good(&mut out[start..]);
        Ok(payload.len() * 2)
    }

    fn conceal_into(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }

    fn packet_samples(&self, payload: &[u8]) -> Option<usize> {
        Some(payload.len() * 2)
    }

    fn reset(&mut self) {
        *self = Self::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn tone(freqs: &[f64], amplitude: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / 16000.0;
                let v: f64 = freqs.iter().map(|f| (2.0 * PI * f * t).sin()).sum();
                (amplitude * v / freqs.len() as f64) as i16
            })
            .collect()
    }

    /// A linear sweep from `f0` to `f1` Hz.
    fn sweep(f0: f64, f1: f64, amplitude: f64, n: usize) -> Vec<i16> {
        let duration = n as f64 / 16000.0;
        (0..n)
            .map(|i| {
                let t = i as f64 / 16000.0;
                let phase = 2.0 * PI * (f0 * t + (f1 - f0) * t * t / (2.0 * duration));
                (amplitude * phase.sin()) as i16
            })
            .collect()
    }

    fn round_trip(input: &[i16]) -> Vec<i16> {
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        let mut out = Vec::new();
        for chunk in input.chunks(320) {
            let payload = enc.encode(&AudioFrame::mono(RATE, chunk.to_vec())).unwrap();
            assert_eq!(payload.len(), chunk.len() / 2);
            out.extend(dec.decode(&payload).unwrap().samples);
        }
        out
    }

    /// SNR in dB of `output` against `input` delayed by the codec's delay,
    /// skipping the first 100 ms while the ADPCM adapts.
    fn snr_at(input: &[i16], output: &[i16], delay: usize) -> f64 {
        let (mut signal, mut noise) = (0.0f64, 0.0f64);
        for i in 1600..input.len() {
            let x = f64::from(input[i - delay]);
            let y = f64::from(output[i]);
            signal += x * x;
            noise += (x - y) * (x - y);
        }
        10.0 * (signal / noise.max(1e-9)).log10()
    }

    fn snr_db(input: &[i16], output: &[i16]) -> f64 {
        snr_at(input, output, DELAY)
    }

    /// The delay of the two QMFs in samples.
    const DELAY: usize = 22;

    #[test]
    fn delay_is_that_of_the_qmfs() {
        let input = tone(&[1000.0], 10_000.0, 16000);
        let output = round_trip(&input);
        let best = (16..30)
            .max_by(|&a, &b| snr_at(&input, &output, a).total_cmp(&snr_at(&input, &output, b)))
            .unwrap();
        assert_eq!(best, DELAY);
    }

    #[test]
    fn digital_silence_codes_as_0xfa() {
        // From the tables: at the reset scale factors a zero error sits in
        // low-band interval 4 (code 58) and high-band interval 1 (code 3).
        let mut enc = G722Encoder::new();
        let payload = enc.encode(&AudioFrame::mono(RATE, vec![0; 3200])).unwrap();
        assert_eq!(payload[0], 0xFA);
        // After that the codec idles within a few LSBs.
        let mut dec = G722Decoder::new();
        let out = dec.decode(&payload).unwrap();
        let peak = out
            .samples
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap_or(0);
        assert!(peak <= 16, "idle noise peaks at {peak}");
    }

    #[test]
    fn qmf_coefficients() {
        assert_eq!(QMF.iter().sum::<i32>(), 8192);
        for i in 0..12 {
            assert_eq!(QMF[i], QMF[23 - i]);
        }
    }

    #[test]
    fn tones_round_trip_with_high_snr() {
        for (freqs, min_snr) in [
            (&[300.0][..], 50.0),
            (&[1000.0][..], 40.0),
            (&[3000.0][..], 35.0),
            (&[440.0, 1333.0][..], 35.0),
        ] {
            let input = tone(freqs, 10_000.0, 16000);
            let snr = snr_db(&input, &round_trip(&input));
            assert!(snr > min_snr, "{freqs:?}: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn high_band_tones_survive() {
        for f in [5000.0, 6500.0] {
            let input = tone(&[f], 8000.0, 16000);
            let snr = snr_db(&input, &round_trip(&input));
            assert!(snr > 18.0, "{f} Hz: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn sweep_round_trips() {
        let input = sweep(100.0, 7000.0, 8000.0, 32000);
        let snr = snr_db(&input, &round_trip(&input));
        assert!(snr > 22.0, "sweep SNR {snr:.1} dB");
        let low = sweep(100.0, 3500.0, 8000.0, 32000);
        let snr = snr_db(&low, &round_trip(&low));
        assert!(snr > 35.0, "low sweep SNR {snr:.1} dB");
    }

    #[test]
    fn decoder_tracks_the_encoders_predictor() {
        let input = sweep(200.0, 6000.0, 12000.0, 8000);
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        for pair in input.chunks_exact(2) {
            let byte = enc.encode_pair(pair[0], pair[1]);
            dec.decode_byte(byte);
            assert_eq!(enc.low, dec.low);
            assert_eq!(enc.high, dec.high);
        }
    }

    #[test]
    fn any_bytes_decode_without_panic() {
        let mut dec = G722Decoder::new();
        let payload: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let out = dec.decode(&payload).unwrap();
        assert_eq!(out.samples.len(), 8192);
        let mut enc = G722Encoder::new();
        let loud: Vec<i16> = (0..3200)
            .map(|i| if i % 3 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        let payload = enc.encode(&AudioFrame::mono(RATE, loud)).unwrap();
        assert_eq!(payload.len(), 1600);
    }

    #[test]
    fn odd_frames_and_wrong_rates_are_refused() {
        let mut enc = G722Encoder::new();
        assert!(matches!(
            enc.encode(&AudioFrame::mono(RATE, vec![0; 3])),
            Err(CodecError::FrameSize { samples: 3 })
        ));
        assert!(matches!(
            enc.encode(&AudioFrame::mono(8000, vec![0; 160])),
            Err(CodecError::SampleRate {
                expected: 16000,
                got: 8000
            })
        ));
    }

    #[test]
    fn conceals_a_lost_packet_and_resumes() {
        let input = tone(&[200.0], 8000.0, 3200);
        let mut enc = G722Encoder::new();
        let mut dec = G722Decoder::new();
        let mut out = Vec::new();
        for (i, chunk) in input.chunks(320).enumerate() {
            let payload = enc.encode(&AudioFrame::mono(RATE, chunk.to_vec())).unwrap();
            if i == 5 {
                out.extend(dec.conceal(320).samples);
            } else {
                out.extend(dec.decode(&payload).unwrap().samples);
            }
        }
        // The concealed packet carries the tone on.
        let lost = &out[1600..1920];
        let truth: Vec<i16> = (1600..1920).map(|i| input[i - 23]).collect();
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (&a, &b) in truth.iter().zip(lost) {
            s += f64::from(a).powi(2);
            e += (f64::from(a) - f64::from(b)).powi(2);
        }
        assert!(
            10.0 * (s / e).log10() > 10.0,
            "concealment SNR {}",
            10.0 * (s / e).log10()
        );
    }
}
