//! Codecs (PCMU, PCMA, G.722, L16, Opus) behind one [`Codec`] enum with a
//! custom escape hatch.
//!
//! A [`Codec`] names a payload format and what RTP and SDP need to know about
//! it (encoding name, static payload type, RTP clock rate, channels). It
//! makes the stateful halves: an [`AudioEncoder`] (`encode(&AudioFrame) ->
//! Bytes`) and an [`AudioDecoder`] (`decode(&[u8]) -> AudioFrame`).
//!
//! # Packet loss
//!
//! The decoder owns loss concealment, because only it knows how: when a
//! jitter buffer finds a packet missing at playout time it calls
//! [`AudioDecoder::conceal`] with the number of samples (per channel, at the
//! decoder's sample rate) the lost packet would have carried, and plays what
//! comes back. If the packet after the lost one is already there, it may call
//! [`AudioDecoder::recover`] instead, which uses the next packet's in-band
//! FEC where the codec has one (Opus) and conceals otherwise. The next
//! regular `decode` ends the loss (G.711 and G.722 cross-fade back in).
//!
//! | codec | concealment |
//! |---|---|
//! | PCMU, PCMA, L16 (mono) | pitch-period repetition, G.711 Appendix I style ([`PitchConcealer`]) |
//! | G.722 | the same at 16 kHz; the ADPCM state is held while concealing |
//! | Opus | libopus PLC (decoding a missing packet), FEC through `recover` |
//!
//! Rates: encoders reject frames at another rate than
//! [`AudioEncoder::sample_rate`]; convert with [`crate::audio::Resampler`].

mod descriptor;
mod error;
mod g711;
mod g722;
mod l16;
mod opus;
mod plc;

pub use descriptor::{Codec, CustomCodec, CustomCodecClone};
pub use error::CodecError;
pub use g711::{
    G711Decoder, G711Encoder, G711Law, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode,
};
pub use g722::{G722Decoder, G722Encoder};
pub use l16::{L16Decoder, L16Encoder};
pub use opus::{OpusApplication, OpusConfig, OpusDecoder, OpusEncoder};
pub use plc::PitchConcealer;

use bytes::{Bytes, BytesMut};
use std::fmt;
use voip_core::AudioFrame;

/// The encoding half of a codec: PCM frames in, RTP payloads out.
pub trait AudioEncoder: Send + fmt::Debug {
    /// The sample rate frames must have.
    fn sample_rate(&self) -> u32;

    /// The channel count frames must have.
    fn channels(&self) -> u16;

    /// Appends the payload for `frame` to `out`.
    fn encode_into(&mut self, frame: &AudioFrame, out: &mut BytesMut) -> Result<(), CodecError>;

    /// The payload for `frame`.
    fn encode(&mut self, frame: &AudioFrame) -> Result<Bytes, CodecError> {
        let mut out = BytesMut::new();
        self.encode_into(frame, &mut out)?;
        Ok(out.freeze())
    }
}

/// The decoding half of a codec: RTP payloads in, PCM frames out, with
/// concealment of lost packets.
pub trait AudioDecoder: Send + fmt::Debug {
    /// The sample rate of decoded frames.
    fn sample_rate(&self) -> u32;

    /// The channel count of decoded frames.
    fn channels(&self) -> u16;

    /// Decodes one payload, appending interleaved samples to `out`; returns
    /// the samples per channel it appended. A malformed payload is an error
    /// and appends nothing.
    fn decode_into(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError>;

    /// Appends `samples` samples per channel that stand in for a lost packet.
    ///
    /// Call it once per lost packet (or per playout tick of a gap), in order;
    /// the next `decode_into` ends the loss.
    fn conceal_into(&mut self, samples: usize, out: &mut Vec<i16>);

    /// Rebuilds a lost packet of `samples` samples per channel from the
    /// packet that followed it (`next_payload`), using in-band FEC where the
    /// codec carries it. Codecs without FEC conceal. `next_payload` must
    /// still be decoded normally afterwards.
    fn recover_into(
        &mut self,
        next_payload: &[u8],
        samples: usize,
        out: &mut Vec<i16>,
    ) -> Result<usize, CodecError> {
        let _ = next_payload;
        self.conceal_into(samples, out);
        Ok(samples)
    }

    /// Samples per channel that `payload` decodes to, when the codec can tell
    /// without decoding.
    fn packet_samples(&self, payload: &[u8]) -> Option<usize> {
        let _ = payload;
        None
    }

    /// Forgets all state (a new stream, an SSRC change).
    fn reset(&mut self) {}

    /// Decodes one payload into a frame.
    fn decode(&mut self, payload: &[u8]) -> Result<AudioFrame, CodecError> {
        let mut samples = Vec::new();
        self.decode_into(payload, &mut samples)?;
        Ok(frame_of(self, samples))
    }

    /// A frame of `samples` samples per channel that stands in for a lost
    /// packet (see [`AudioDecoder::conceal_into`]).
    fn conceal(&mut self, samples: usize) -> AudioFrame {
        let mut out = Vec::new();
        self.conceal_into(samples, &mut out);
        frame_of(self, out)
    }

    /// A lost packet rebuilt from the next one (see
    /// [`AudioDecoder::recover_into`]).
    fn recover(&mut self, next_payload: &[u8], samples: usize) -> Result<AudioFrame, CodecError> {
        let mut out = Vec::new();
        self.recover_into(next_payload, samples, &mut out)?;
        Ok(frame_of(self, out))
    }
}

/// Wraps decoded samples into a frame with `decoder`'s format.
fn frame_of<D: AudioDecoder + ?Sized>(decoder: &D, samples: Vec<i16>) -> AudioFrame {
    AudioFrame {
        sample_rate: decoder.sample_rate(),
        channels: decoder.channels(),
        samples,
    }
}

/// Checks a frame's rate and channels against a codec's.
pub(crate) fn check_frame(frame: &AudioFrame, rate: u32, channels: u16) -> Result<(), CodecError> {
    if frame.sample_rate != rate {
        return Err(CodecError::SampleRate {
            expected: rate,
            got: frame.sample_rate,
        });
    }
    if frame.channels != channels {
        return Err(CodecError::Channels {
            expected: channels,
            got: frame.channels,
        });
    }
    Ok(())
}
