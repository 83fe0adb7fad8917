//! WAV (RIFF) reading and writing for mono 16-bit PCM, the format TTS
//! engines hand over and the cache stores.
//!
//! Reading accepts what engines produce: PCM 8/16-bit and IEEE float 32-bit,
//! one or more channels (mixed down to mono), extra chunks (`LIST`, `fact`),
//! and the "unknown length" sizes (`0xFFFFFFFF`, or larger than the data)
//! that `espeak-ng --stdout` writes when streaming.

use super::{Synthesized, TtsError};

/// Encodes mono 16-bit PCM as a WAV file.
pub fn encode(audio: &Synthesized) -> Vec<u8> {
    let data_len = audio.samples.len() * 2;
    let data_len32 = u32::try_from(data_len).unwrap_or(u32::MAX - 36);
    let mut out = Vec::with_capacity(44 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36u32.saturating_add(data_len32)).to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&audio.sample_rate.to_le_bytes());
    out.extend_from_slice(&audio.sample_rate.saturating_mul(2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len32.to_le_bytes());
    for s in &audio.samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

struct Format {
    tag: u16,
    channels: u16,
    rate: u32,
    bits: u16,
}

fn bad(why: &str) -> TtsError {
    TtsError::Audio(format!("not a usable WAV file: {why}"))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Decodes a WAV file to mono 16-bit PCM.
pub fn decode(bytes: &[u8]) -> Result<Synthesized, TtsError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(bad("no RIFF/WAVE header"));
    }
    let mut at = 12;
    let mut format = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32_at(bytes, at + 4).ok_or_else(|| bad("truncated chunk"))? as usize;
        let body_start = at + 8;
        if id == b"fmt " {
            let f = bytes
                .get(body_start..body_start + size.min(16))
                .filter(|f| f.len() >= 16)
                .ok_or_else(|| bad("short fmt chunk"))?;
            let mut tag = u16_at(f, 0).unwrap_or(0);
            if tag == 0xFFFE {
                // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes.
                tag = u16_at(bytes, body_start + 24).unwrap_or(0);
            }
            format = Some(Format {
                tag,
                channels: u16_at(f, 2).unwrap_or(0),
                rate: u32_at(f, 4).unwrap_or(0),
                bits: u16_at(f, 14).unwrap_or(0),
            });
        } else if id == b"data" {
            let format = format.ok_or_else(|| bad("data before fmt"))?;
            // Streaming writers leave the size unknown: take what is there.
            let end = body_start.saturating_add(size).min(bytes.len());
            return samples(&format, &bytes[body_start..end]);
        }
        at = body_start.saturating_add(size).saturating_add(size & 1);
    }
    Err(bad("no data chunk"))
}

fn samples(f: &Format, data: &[u8]) -> Result<Synthesized, TtsError> {
    if f.channels == 0 || f.rate == 0 {
        return Err(bad("zero channels or sample rate"));
    }
    let mono: Vec<f32> = match (f.tag, f.bits) {
        (1, 16) => data
            .chunks_exact(2)
            .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        (1, 8) => data
            .iter()
            .map(|b| (f32::from(*b) - 128.0) * 256.0)
            .collect(),
        (3, 32) => data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) * 32767.0)
            .collect(),
        _ => return Err(bad("only PCM 8/16-bit and float 32-bit are read")),
    };
    let channels = usize::from(f.channels);
    let samples = mono
        .chunks_exact(channels)
        .map(|frame| {
            let mean = frame.iter().sum::<f32>() / channels as f32;
            mean.round().clamp(-32768.0, 32767.0) as i16
        })
        .collect();
    Ok(Synthesized {
        sample_rate: f.rate,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let audio = Synthesized {
            sample_rate: 8000,
            samples: vec![0, 1, -1, i16::MAX, i16::MIN, 1234],
        };
        let bytes = encode(&audio);
        assert_eq!(bytes.len(), 44 + 12);
        assert_eq!(&bytes[0..4], b"RIFF");
        assert_eq!(decode(&bytes).unwrap(), audio);
    }

    #[test]
    fn streaming_sizes_stereo_and_extra_chunks() {
        // espeak-ng --stdout: sizes 0x7ffff024 / 0x7ffff000, far past the end.
        let mut b = encode(&Synthesized {
            sample_rate: 22050,
            samples: vec![10, 20, 30],
        });
        b[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
        b[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        assert_eq!(decode(&b).unwrap().samples, vec![10, 20, 30]);

        // Stereo 16-bit with a LIST chunk (odd size, padded) before data.
        let mut s = Vec::new();
        s.extend_from_slice(b"RIFF\0\0\0\0WAVEfmt ");
        s.extend_from_slice(&16u32.to_le_bytes());
        s.extend_from_slice(&1u16.to_le_bytes());
        s.extend_from_slice(&2u16.to_le_bytes());
        s.extend_from_slice(&16000u32.to_le_bytes());
        s.extend_from_slice(&64000u32.to_le_bytes());
        s.extend_from_slice(&4u16.to_le_bytes());
        s.extend_from_slice(&16u16.to_le_bytes());
        s.extend_from_slice(b"LIST");
        s.extend_from_slice(&3u32.to_le_bytes());
        s.extend_from_slice(b"abc\0");
        s.extend_from_slice(b"data");
        s.extend_from_slice(&8u32.to_le_bytes());
        for v in [100i16, 200, -50, -150] {
            s.extend_from_slice(&v.to_le_bytes());
        }
        let d = decode(&s).unwrap();
        assert_eq!((d.sample_rate, d.samples), (16000, vec![150, -100]));
    }

    #[test]
    fn float_and_garbage() {
        let mut s = Vec::new();
        s.extend_from_slice(b"RIFF\0\0\0\0WAVEfmt ");
        s.extend_from_slice(&16u32.to_le_bytes());
        s.extend_from_slice(&3u16.to_le_bytes());
        s.extend_from_slice(&1u16.to_le_bytes());
        s.extend_from_slice(&22050u32.to_le_bytes());
        s.extend_from_slice(&88200u32.to_le_bytes());
        s.extend_from_slice(&4u16.to_le_bytes());
        s.extend_from_slice(&32u16.to_le_bytes());
        s.extend_from_slice(b"data");
        s.extend_from_slice(&8u32.to_le_bytes());
        s.extend_from_slice(&0.5f32.to_le_bytes());
        s.extend_from_slice(&(-2.0f32).to_le_bytes());
        assert_eq!(decode(&s).unwrap().samples, vec![16384, -32768]);

        for junk in [
            &b""[..],
            b"RIFF",
            b"RIFF\0\0\0\0WAVE",
            b"RIFF\0\0\0\0WAVEdata\x04\0\0\0abcd",
        ] {
            assert!(decode(junk).is_err());
        }
        let mut no_data = encode(&Synthesized::default());
        no_data.truncate(36);
        assert!(
            decode(&no_data)
                .unwrap_err()
                .to_string()
                .contains("no data")
        );
    }
}
