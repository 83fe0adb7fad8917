//! ITU-T G.711 µ-law (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8).
//!
//! Both laws compand 16-bit linear PCM into 8-bit codes made of a sign bit, a
//! 3-bit segment (chord) and a 4-bit step. The conversions are computed, not
//! looked up: µ-law adds a bias of 33 (132 in 16-bit units) so every segment
//! starts at a power of two, A-law has a linear first segment. Encoding uses
//! G.711's decision values (halfway between reconstruction levels inside a
//! segment), so `encode(decode(c)) == c` for every code except µ-law's
//! negative zero (0x7F), which decodes to 0 and encodes as 0xFF.
//!
//! The encoder and decoder types wrap the conversions into the
//! [`AudioEncoder`]/[`AudioDecoder`] seams; the decoder conceals lost packets
//! with [`PitchConcealer`] (G.711 Appendix I style).

use bytes::BytesMut;
use voip_core::AudioFrame;

use super::{AudioDecoder, AudioEncoder, CodecError, PitchConcealer};

/// µ-law bias in 16-bit units (33 in G.711's 14-bit units).
const ULAW_BIAS: i32 = 0x84;
/// Largest magnitude µ-law can code before clipping (16-bit units).
const ULAW_CLIP: i32 = 32635;

/// Encodes one 16-bit sample as a G.711 µ-law code.
pub fn ulaw_encode(sample: i16) -> u8 {
    let x = i32::from(sample);
    let (sign, magnitude) = if x < 0 { (0x80u8, -x) } else { (0u8, x) };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // biased is in [0x84, 0x7FFF]: its top set bit is bit 7 + segment.
    let segment = (31 - biased.leading_zeros() as i32 - 7).clamp(0, 7);
    let step = (biased >> (segment + 3)) & 0x0F;
    !(sign | ((segment as u8) << 4) | step as u8)
}

/// Decodes one G.711 µ-law code to a 16-bit sample.
pub fn ulaw_decode(code: u8) -> i16 {
    let c = !code;
    let segment = i32::from((c >> 4) & 0x07);
    let step = i32::from(c & 0x0F);
    let magnitude = (((step << 3) + ULAW_BIAS) << segment) - ULAW_BIAS;
    if c & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

/// Encodes one 16-bit sample as a G.711 A-law code (even bits inverted).
pub fn alaw_encode(sample: i16) -> u8 {
    let x = i32::from(sample);
    // A-law is symmetric around -0.5 LSB: codes for negative values start at -1.
    let (sign, magnitude) = if x >= 0 { (0x80u8, x) } else { (0u8, -x - 1) };
    let m = magnitude >> 3; // 13-bit magnitude
    let code = if m < 32 {
        (m >> 1) as u8
    } else {
        let segment = (31 - m.leading_zeros() as i32 - 4).clamp(1, 7);
        let step = (m >> segment) & 0x0F;
        ((segment as u8) << 4) | step as u8
    };
    (sign | code) ^ 0x55
}

/// Decodes one G.711 A-law code to a 16-bit sample.
pub fn alaw_decode(code: u8) -> i16 {
    let c = code ^ 0x55;
    let segment = i32::from((c >> 4) & 0x07);
    let step = i32::from(c & 0x0F);
    let magnitude = if segment == 0 {
        (step << 4) + 8
    } else {
        ((step << 4) + 0x108) << (segment - 1)
    };
    if c & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// Which companding law a G.711 coder uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum G711Law {
    /// µ-law (PCMU), North America and Japan.
    Ulaw,
    /// A-law (PCMA), the rest of the world.
    Alaw,
}

impl G711Law {
    fn encode(self, sample: i16) -> u8 {
        match self {
            G711Law::Ulaw => ulaw_encode(sample),
            G711Law::Alaw => alaw_encode(sample),
        }
    }

    fn decode(self, code: u8) -> i16 {
        match self {
            G711Law::Ulaw => ulaw_decode(code),
            G711Law::Alaw => alaw_decode(code),
        }
    }
}

/// A G.711 encoder: 8000 Hz mono, one byte per sample, any frame length.
#[derive(Debug, Clone)]
pub struct G711Encoder {
    law: G711Law,
}

impl G711Encoder {
    /// An encoder for `law`.
    pub fn new(law: G711Law) -> Self {
        Self { law }
    }
}

impl AudioEncoder for G711Encoder {
    fn sample_rate(&self) -> u32 {
        8000
    }

    fn channels(&self) -> u16 {
        1
    }

    fn encode_into(&mut self, frame: &AudioFrame, out: &mut BytesMut) -> Result<(), CodecError> {
        super::check_frame(frame, 8000, 1)?;
        out.reserve(frame.samples.len());
        let law = self.law;
        out.extend(frame.samples.iter().map(|&s| law.encode(s)));
        Ok(())
    }
}

/// A G.711 decoder with packet-loss concealment.
#[derive(Debug, Clone)]
pub struct G711Decoder {
    law: G711Law,
    plc: PitchConcealer,
}

impl G711Decoder {
    /// A decoder for `law`.
    pub fn new(law: G711Law) -> Self {
        Self {
            law,
            plc: PitchConcealer::new(8000),
        }
    }
}

impl AudioDecoder for G711Decoder {
    fn sample_rate(&self) -> u32 {
        8000
    }

    fn channels(&self) -> u16 {
        1
    }

    fn decode_into(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        let start = out.len();
        let law = self.law;
        out.extend(payload.iter().map(|&c| law.decode(c)));
        self.plc.handle_good(&mut out[start..]);
        Ok(payload.len())
    }

    fn conceal_into(&mut self, samples: usize, out: &mut Vec<i16>) {
        self.plc.conceal(samples, out);
    }

    fn packet_samples(&self, payload: &[u8]) -> Option<usize> {
        Some(payload.len())
    }

    fn reset(&mut self) {
        self.plc = PitchConcealer::new(8000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// G.711 Table 2a: µ-law reconstruction value of segment `s`, step `q`,
    /// in 14-bit units, is 2^s·(2q + 33) − 33; ×4 for 16-bit samples.
    fn ulaw_spec(code: u8) -> i16 {
        let c = !code;
        let s = i32::from((c >> 4) & 7);
        let q = i32::from(c & 15);
        let v = (((2 * q + 33) << s) - 33) * 4;
        if c & 0x80 != 0 { -v as i16 } else { v as i16 }
    }

    /// G.711 Table 1a: A-law reconstruction value in 13-bit units is 2q + 1
    /// in segment 0 and 2^(s−1)·(2q + 33) above; ×8 for 16-bit samples.
    fn alaw_spec(code: u8) -> i16 {
        let c = code ^ 0x55;
        let s = i32::from((c >> 4) & 7);
        let q = i32::from(c & 15);
        let v = if s == 0 {
            2 * q + 1
        } else {
            (2 * q + 33) << (s - 1)
        } * 8;
        if c & 0x80 != 0 { v as i16 } else { -v as i16 }
    }

    #[test]
    fn known_code_points() {
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(ulaw_decode(0xFF), 0);
        assert_eq!(ulaw_decode(0x7F), 0);
        assert_eq!(ulaw_decode(0x80), 32124);
        assert_eq!(ulaw_decode(0x00), -32124);
        assert_eq!(ulaw_decode(0xFE), 8);
        assert_eq!(ulaw_decode(0x7E), -8);
        assert_eq!(alaw_decode(0xD5), 8);
        assert_eq!(alaw_decode(0x55), -8);
        assert_eq!(alaw_decode(0xAA), 32256);
        assert_eq!(alaw_decode(0x2A), -32256);
        assert_eq!(ulaw_encode(i16::MAX), 0x80);
        assert_eq!(ulaw_encode(i16::MIN), 0x00);
        assert_eq!(alaw_encode(i16::MAX), 0xAA);
        assert_eq!(alaw_encode(i16::MIN), 0x2A);
        assert_eq!(alaw_encode(-1), 0x55);
    }

    #[test]
    fn full_decode_tables_match_the_spec_formulas() {
        for code in 0..=255u8 {
            assert_eq!(ulaw_decode(code), ulaw_spec(code), "µ-law {code:#04x}");
            assert_eq!(alaw_decode(code), alaw_spec(code), "A-law {code:#04x}");
        }
    }

    #[test]
    fn encode_inverts_decode_for_every_code() {
        for code in 0..=255u8 {
            if code != 0x7F {
                assert_eq!(ulaw_encode(ulaw_decode(code)), code, "µ-law {code:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(code)), code, "A-law {code:#04x}");
        }
    }

    /// Every 16-bit input lands on a neighbouring reconstruction level within
    /// half a step (plus one input LSB at segment edges), and encoding is
    /// monotonic.
    #[test]
    fn encoding_picks_the_nearest_level() {
        for law in [G711Law::Ulaw, G711Law::Alaw] {
            let mut levels: Vec<i16> = (0..=255u8).map(|c| law.decode(c)).collect();
            levels.sort_unstable();
            levels.dedup();
            let mut previous = i16::MIN;
            for x in i16::MIN..=i16::MAX {
                let y = law.decode(law.encode(x));
                assert!(y >= previous, "{law:?} not monotonic at {x}");
                previous = y;
                let (x, y) = (i32::from(x), i32::from(y));
                let i = levels.partition_point(|&l| i32::from(l) < y);
                // Each level is the middle of its own interval: the error is at
                // most half the larger of the gaps to its neighbours.
                let below = i.checked_sub(1).and_then(|j| levels.get(j));
                let above = levels.get(i + 1);
                let gap = below
                    .into_iter()
                    .chain(above)
                    .map(|&l| (i32::from(l) - y).abs())
                    .max()
                    .unwrap_or(0);
                if below.is_none() || above.is_none() {
                    continue; // the outermost levels also take clipped inputs
                }
                let err = (y - x).abs();
                assert!(2 * err <= gap + 16, "{law:?} {x} -> {y}");
            }
        }
    }

    #[test]
    fn coder_round_trip_and_errors() {
        let mut enc = G711Encoder::new(G711Law::Ulaw);
        let mut dec = G711Decoder::new(G711Law::Ulaw);
        let frame = AudioFrame::mono(8000, (0..160).map(|i| (i * 100) as i16).collect());
        let payload = enc.encode(&frame).unwrap();
        assert_eq!(payload.len(), 160);
        let back = dec.decode(&payload).unwrap();
        assert_eq!(back.sample_rate, 8000);
        assert_eq!(back.samples.len(), 160);
        for (a, b) in frame.samples.iter().zip(&back.samples) {
            assert!((a - b).abs() <= 2 + a.abs() / 16);
        }
        let wrong = AudioFrame::mono(16000, vec![0; 320]);
        assert!(matches!(
            enc.encode(&wrong),
            Err(CodecError::SampleRate {
                expected: 8000,
                got: 16000
            })
        ));
        assert_eq!(dec.packet_samples(&payload), Some(160));
    }
}
