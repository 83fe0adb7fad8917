//! L16: uncompressed 16-bit linear PCM in network byte order (RFC 3551
//! §4.5.11). Static payload types 10 (stereo) and 11 (mono) mean 44.1 kHz;
//! other rates use a dynamic payload type.

use bytes::{BufMut, BytesMut};
use voip_core::AudioFrame;

use super::{AudioDecoder, AudioEncoder, CodecError, PitchConcealer};

/// An L16 encoder for one rate and channel count.
#[derive(Debug, Clone)]
pub struct L16Encoder {
    sample_rate: u32,
    channels: u16,
}

impl L16Encoder {
    /// An encoder for `channels` interleaved channels at `sample_rate`.
    pub fn new(sample_rate: u32, channels: u16) -> Self {
        Self {
            sample_rate,
            channels,
        }
    }
}

impl AudioEncoder for L16Encoder {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn encode_into(&mut self, frame: &AudioFrame, out: &mut BytesMut) -> Result<(), CodecError> {
        super::check_frame(frame, self.sample_rate, self.channels)?;
        out.reserve(frame.samples.len() * 2);
        for &s in &frame.samples {
            out.put_i16(s);
        }
        Ok(())
    }
}

/// An L16 decoder. Mono streams conceal loss by pitch repetition; streams
/// with more channels conceal with silence.
#[derive(Debug, Clone)]
pub struct L16Decoder {
    sample_rate: u32,
    channels: u16,
    plc: Option<PitchConcealer>,
}

impl L16Decoder {
    /// A decoder for `channels` interleaved channels at `sample_rate`.
    pub fn new(sample_rate: u32, channels: u16) -> Self {
        Self {
            sample_rate,
            channels: channels.max(1),
            plc: (channels <= 1).then(|| PitchConcealer::new(sample_rate)),
        }
    }
}

impl AudioDecoder for L16Decoder {
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn channels(&self) -> u16 {
        self.channels
    }

    fn decode_into(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
        let frame_bytes = 2 * usize::from(self.channels);
        if payload.len() % frame_bytes != 0 {
            return Err(CodecError::Malformed(
                "L16 payload is not a whole number of samples",
            ));
        }
        let start = out.len();
        out.extend(
            payload
                .chunks_exact(2)
                .map(|b| i16::from_be_bytes([b[0], b[1]])),
        );
        if let Some(plc) = &mut self.plc {
            plc.handle_good(&mut out[start..]);
        }
        Ok(payload.len() / frame_bytes)
    }

    fn conceal_into(&mut self, samples: usize, out: &mut Vec<i16>) {
        match &mut self.plc {
            Some(plc) => plc.conceal(samples, out),
            None => out.resize(out.len() + samples * usize::from(self.channels), 0),
        }
    }

    fn packet_samples(&self, payload: &[u8]) -> Option<usize> {
        Some(payload.len() / (2 * usize::from(self.channels)))
    }

    fn reset(&mut self) {
        if self.plc.is_some() {
            self.plc = Some(PitchConcealer::new(self.sample_rate));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_byte_order() {
        let mut enc = L16Encoder::new(16000, 1);
        let payload = enc
            .encode(&AudioFrame::mono(16000, vec![0x0102, -2, i16::MIN]))
            .unwrap();
        assert_eq!(&payload[..], &[0x01, 0x02, 0xFF, 0xFE, 0x80, 0x00]);
        let mut dec = L16Decoder::new(16000, 1);
        assert_eq!(
            dec.decode(&payload).unwrap().samples,
            vec![0x0102, -2, i16::MIN]
        );
        assert!(matches!(
            dec.decode(&[1, 2, 3]),
            Err(CodecError::Malformed(_))
        ));
    }

    #[test]
    fn stereo_interleaves_and_conceals_with_silence() {
        let mut enc = L16Encoder::new(44100, 2);
        let frame = AudioFrame {
            sample_rate: 44100,
            channels: 2,
            samples: vec![1, -1, 2, -2],
        };
        let payload = enc.encode(&frame).unwrap();
        let mut dec = L16Decoder::new(44100, 2);
        assert_eq!(dec.packet_samples(&payload), Some(2));
        assert_eq!(dec.decode(&payload).unwrap(), frame);
        assert!(matches!(dec.decode(&[0, 1]), Err(CodecError::Malformed(_))));
        assert_eq!(dec.conceal(3).samples, vec![0; 6]);
        assert!(matches!(
            enc.encode(&AudioFrame::mono(44100, vec![0; 4])),
            Err(CodecError::Channels {
                expected: 2,
                got: 1
            })
        ));
    }
}
