//! One direction of transcoding: decode, resample, re-frame, encode.

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};
use voip_core::AudioFrame;

use crate::audio::Resampler;
use crate::codec::{AudioDecoder, AudioEncoder, Codec, CodecError};

/// Decodes payloads of one codec and encodes them in another, in frames of
/// `ptime` ms. Mono: a stereo decoder's output is averaged down.
///
/// The output frame count follows the input: a 20 ms payload in gives one
/// 20 ms payload out (after the first, which fills the re-framing queue
/// when the input frames are shorter than `ptime`).
#[derive(Debug)]
pub struct Transcoder {
    decoder: Box<dyn AudioDecoder>,
    encoder: Box<dyn AudioEncoder>,
    resampler: Resampler,
    frame_len: usize,
    pcm: Vec<i16>,
    resampled: Vec<i16>,
    queue: VecDeque<i16>,
    frame: Vec<i16>,
}

impl Transcoder {
    /// A transcoder from `from` to `to` with `ptime_ms` frames out.
    pub fn new(from: &Codec, to: &Codec, ptime_ms: u32) -> Result<Self, CodecError> {
        let decoder = from.new_decoder()?;
        let encoder = to.new_encoder()?;
        let frame_len = (encoder.sample_rate() as usize * ptime_ms.max(1) as usize) / 1000;
        Ok(Self {
            resampler: Resampler::new(decoder.sample_rate(), encoder.sample_rate()),
            decoder,
            encoder,
            frame_len,
            pcm: Vec::new(),
            resampled: Vec::new(),
            queue: VecDeque::new(),
            frame: Vec::with_capacity(frame_len),
        })
    }

    /// Samples per output frame, at the encoder's rate.
    pub fn frame_len(&self) -> usize {
        self.frame_len
    }

    /// The decoder's PCM rate.
    pub fn decoder_rate(&self) -> u32 {
        self.decoder.sample_rate()
    }

    /// The encoder's PCM rate.
    pub fn encoder_rate(&self) -> u32 {
        self.encoder.sample_rate()
    }

    /// Decodes `payload` and appends every whole output frame to `out`.
    /// A payload the decoder refuses is concealed as one `ptime` frame.
    pub fn transcode(&mut self, payload: &[u8], out: &mut Vec<Bytes>) -> Result<(), CodecError> {
        self.pcm.clear();
        if self.decoder.decode_into(payload, &mut self.pcm).is_err() {
            self.pcm.clear();
            let samples = self.decoder_frame();
            self.decoder.conceal_into(samples, &mut self.pcm);
        }
        self.push_pcm();
        self.encode_ready(out)
    }

    /// Stands in for `frames` lost input frames of `ptime` ms each.
    pub fn conceal(&mut self, frames: usize, out: &mut Vec<Bytes>) -> Result<(), CodecError> {
        for _ in 0..frames {
            self.pcm.clear();
            let samples = self.decoder_frame();
            self.decoder.conceal_into(samples, &mut self.pcm);
            self.push_pcm();
        }
        self.encode_ready(out)
    }

    fn decoder_frame(&self) -> usize {
        self.frame_len * self.decoder.sample_rate() as usize
            / self.encoder.sample_rate().max(1) as usize
    }

    fn push_pcm(&mut self) {
        let channels = usize::from(self.decoder.channels().max(1));
        if channels > 1 {
            let mono: Vec<i16> = self
                .pcm
                .chunks_exact(channels)
                .map(|c| (c.iter().map(|&s| i32::from(s)).sum::<i32>() / channels as i32) as i16)
                .collect();
            self.pcm = mono;
        }
        self.resampled.clear();
        self.resampler.process(&self.pcm, &mut self.resampled);
        self.queue.extend(self.resampled.iter().copied());
    }

    fn encode_ready(&mut self, out: &mut Vec<Bytes>) -> Result<(), CodecError> {
        while self.queue.len() >= self.frame_len {
            self.frame.clear();
            self.frame.extend(self.queue.drain(..self.frame_len));
            let frame =
                AudioFrame::mono(self.encoder.sample_rate(), std::mem::take(&mut self.frame));
            let mut buf = BytesMut::new();
            let result = self.encoder.encode_into(&frame, &mut buf);
            self.frame = frame.samples;
            result?;
            out.push(buf.freeze());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::OpusConfig;

    fn tone(rate: u32, samples: usize, start: usize) -> Vec<i16> {
        (start..start + samples)
            .map(|n| {
                (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * n as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
    }

    #[test]
    fn pcmu_to_opus_and_back_keeps_a_tone() {
        let opus = Codec::Opus(OpusConfig::default());
        let mut to_opus = Transcoder::new(&Codec::Pcmu, &opus, 20).unwrap();
        let mut to_pcmu = Transcoder::new(&opus, &Codec::Pcmu, 20).unwrap();
        assert_eq!(to_opus.frame_len(), 960);
        assert_eq!(to_pcmu.frame_len(), 160);
        let mut enc = Codec::Pcmu.new_encoder().unwrap();
        let mut dec = Codec::Pcmu.new_decoder().unwrap();
        let mut last = Vec::new();
        for i in 0..25 {
            let pcm = AudioFrame::mono(8000, tone(8000, 160, i * 160));
            let ulaw = enc.encode(&pcm).unwrap();
            let mut opus_frames = Vec::new();
            to_opus.transcode(&ulaw, &mut opus_frames).unwrap();
            assert_eq!(opus_frames.len(), 1);
            let mut back = Vec::new();
            to_pcmu.transcode(&opus_frames[0], &mut back).unwrap();
            assert_eq!(back.len(), 1);
            assert_eq!(back[0].len(), 160);
            last.clear();
            dec.decode_into(&back[0], &mut last).unwrap();
        }
        assert!(rms(&last) > 2000.0, "tone lost: rms {}", rms(&last));
    }

    #[test]
    fn garbage_is_concealed_not_fatal() {
        let opus = Codec::Opus(OpusConfig::default());
        let mut t = Transcoder::new(&opus, &Codec::Pcma, 20).unwrap();
        let mut out = Vec::new();
        t.transcode(&[0xff, 0xff, 0xff], &mut out).unwrap();
        t.conceal(2, &mut out).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|p| p.len() == 160));
    }
}
