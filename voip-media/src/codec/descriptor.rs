//! [`Codec`]: which payload format, what RTP and SDP say about it, and how
//! to make its encoder and decoder.

use std::fmt;

use super::{
    AudioDecoder, AudioEncoder, CodecError, G711Decoder, G711Encoder, G711Law, G722Decoder,
    G722Encoder, L16Decoder, L16Encoder, OpusConfig, OpusDecoder, OpusEncoder,
};

/// A codec the built-in enum does not know, plugged in by the application.
///
/// Implementations must also be `Clone` (that provides
/// [`CustomCodecClone`]), so a [`Codec`] can be cloned.
pub trait CustomCodec: Send + Sync + fmt::Debug + CustomCodecClone {
    /// The encoding name in SDP `a=rtpmap` (for example `"G729"`).
    fn encoding_name(&self) -> &str;

    /// The RTP timestamp rate.
    fn rtp_clock_rate(&self) -> u32;

    /// The PCM sample rate the encoder takes and the decoder gives.
    fn sample_rate(&self) -> u32 {
        self.rtp_clock_rate()
    }

    /// The channel count.
    fn channels(&self) -> u16 {
        1
    }

    /// The static RTP payload type (RFC 3551), if the codec has one.
    fn static_payload_type(&self) -> Option<u8> {
        None
    }

    /// A new encoder.
    fn new_encoder(&self) -> Result<Box<dyn AudioEncoder>, CodecError>;

    /// A new decoder; it owns loss concealment (`AudioDecoder::conceal`).
    fn new_decoder(&self) -> Result<Box<dyn AudioDecoder>, CodecError>;
}

/// Boxed cloning for [`CustomCodec`]; implemented for every
/// `CustomCodec + Clone`.
pub trait CustomCodecClone {
    /// A boxed copy.
    fn clone_box(&self) -> Box<dyn CustomCodec>;
}

impl<T: CustomCodec + Clone + 'static> CustomCodecClone for T {
    fn clone_box(&self) -> Box<dyn CustomCodec> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn CustomCodec> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

/// An audio payload format.
///
/// | codec | name | static PT | RTP clock | sample rate |
/// |---|---|---|---|---|
/// | `Pcmu` | PCMU | 0 | 8000 | 8000 |
/// | `Pcma` | PCMA | 8 | 8000 | 8000 |
/// | `G722` | G722 | 9 | **8000** | 16000 |
/// | `L16` | L16 | 11 (mono), 10 (stereo) at 44100 | rate | rate |
/// | `Opus` | opus | dynamic | 48000 | 8000–48000 |
///
/// ```
/// use voip_media::codec::Codec;
/// use voip_core::AudioFrame;
///
/// let codec = Codec::from_static_payload_type(0).unwrap();
/// let mut encoder = codec.new_encoder().unwrap();
/// let mut decoder = codec.new_decoder().unwrap();
/// let payload = encoder.encode(&AudioFrame::mono(8000, vec![0; 160])).unwrap();
/// assert_eq!(payload.len(), 160);
/// let frame = decoder.decode(&payload).unwrap();
/// assert_eq!(frame.samples.len(), 160);
/// // A lost packet: ask the decoder for 20 ms of concealment.
/// let filler = decoder.conceal(160);
/// assert_eq!(filler.samples.len(), 160);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Codec {
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
    /// G.722 at 64 kbit/s.
    G722,
    /// 16-bit linear PCM, network byte order.
    L16 {
        /// Samples per second.
        sample_rate: u32,
        /// Interleaved channels.
        channels: u16,
    },
    /// Opus.
    Opus(OpusConfig),
    /// Anything else.
    Custom(Box<dyn CustomCodec>),
}

impl Codec {
    /// The codec a static RTP payload type stands for (RFC 3551 Table 4).
    pub fn from_static_payload_type(pt: u8) -> Option<Codec> {
        match pt {
            0 => Some(Codec::Pcmu),
            8 => Some(Codec::Pcma),
            9 => Some(Codec::G722),
            10 => Some(Codec::L16 {
                sample_rate: 44100,
                channels: 2,
            }),
            11 => Some(Codec::L16 {
                sample_rate: 44100,
                channels: 1,
            }),
            _ => None,
        }
    }

    /// The codec an SDP `a=rtpmap:<pt> <name>/<clock>[/<channels>]` names,
    /// if it is one of the built-in ones. Names match case-insensitively.
    pub fn from_rtpmap(name: &str, clock_rate: u32, channels: Option<u16>) -> Option<Codec> {
        let channels = channels.unwrap_or(1);
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        match clock_rate {
            8000 if is("PCMU") && channels == 1 => Some(Codec::Pcmu),
            8000 if is("PCMA") && channels == 1 => Some(Codec::Pcma),
            8000 if is("G722") && channels == 1 => Some(Codec::G722),
            48000 if is("opus") && channels == 2 => Some(Codec::Opus(OpusConfig::default())),
            rate if is("L16") && channels >= 1 => Some(Codec::L16 {
                sample_rate: rate,
                channels,
            }),
            _ => None,
        }
    }

    /// The encoding name for SDP `a=rtpmap`.
    pub fn encoding_name(&self) -> &str {
        match self {
            Codec::Pcmu => "PCMU",
            Codec::Pcma => "PCMA",
            Codec::G722 => "G722",
            Codec::L16 { .. } => "L16",
            Codec::Opus(_) => "opus",
            Codec::Custom(c) => c.encoding_name(),
        }
    }

    /// The static RTP payload type, if the format has one.
    pub fn static_payload_type(&self) -> Option<u8> {
        match self {
            Codec::Pcmu => Some(0),
            Codec::Pcma => Some(8),
            Codec::G722 => Some(9),
            Codec::L16 {
                sample_rate: 44100,
                channels: 2,
            } => Some(10),
            Codec::L16 {
                sample_rate: 44100,
                channels: 1,
            } => Some(11),
            Codec::L16 { .. } | Codec::Opus(_) => None,
            Codec::Custom(c) => c.static_payload_type(),
        }
    }

    /// The RTP timestamp rate (8000 for G.722, 48000 for Opus at any rate).
    pub fn rtp_clock_rate(&self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 8000,
            Codec::L16 { sample_rate, .. } => *sample_rate,
            Codec::Opus(_) => 48000,
            Codec::Custom(c) => c.rtp_clock_rate(),
        }
    }

    /// The PCM sample rate of frames in and out.
    pub fn sample_rate(&self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::G722 => 16000,
            Codec::L16 { sample_rate, .. } => *sample_rate,
            Codec::Opus(config) => config.pcm_rate(),
            Codec::Custom(c) => c.sample_rate(),
        }
    }

    /// The channel count of frames in and out.
    pub fn channels(&self) -> u16 {
        match self {
            Codec::Pcmu | Codec::Pcma | Codec::G722 => 1,
            Codec::L16 { channels, .. } => *channels,
            Codec::Opus(config) => config.channel_count(),
            Codec::Custom(c) => c.channels(),
        }
    }

    /// The channel count SDP's `a=rtpmap` states (always 2 for Opus,
    /// RFC 7587 §7).
    pub fn rtpmap_channels(&self) -> u16 {
        match self {
            Codec::Opus(_) => 2,
            other => other.channels(),
        }
    }

    /// Samples per channel in a packet of `ptime_ms` milliseconds.
    pub fn samples_per_packet(&self, ptime_ms: u32) -> usize {
        (u64::from(self.sample_rate()) * u64::from(ptime_ms) / 1000) as usize
    }

    /// How far the RTP timestamp advances for `samples` samples per channel.
    pub fn rtp_timestamp_increment(&self, samples: usize) -> u32 {
        let rate = u64::from(self.sample_rate().max(1));
        (samples as u64 * u64::from(self.rtp_clock_rate()) / rate) as u32
    }

    /// A new encoder.
    pub fn new_encoder(&self) -> Result<Box<dyn AudioEncoder>, CodecError> {
        Ok(match self {
            Codec::Pcmu => Box::new(G711Encoder::new(G711Law::Ulaw)),
            Codec::Pcma => Box::new(G711Encoder::new(G711Law::Alaw)),
            Codec::G722 => Box::new(G722Encoder::new()),
            Codec::L16 {
                sample_rate,
                channels,
            } => Box::new(L16Encoder::new(*sample_rate, *channels)),
            Codec::Opus(config) => Box::new(OpusEncoder::new(config.clone())?),
            Codec::Custom(c) => c.new_encoder()?,
        })
    }

    /// A new decoder. Decoders conceal lost packets: see
    /// [`AudioDecoder::conceal`].
    pub fn new_decoder(&self) -> Result<Box<dyn AudioDecoder>, CodecError> {
        Ok(match self {
            Codec::Pcmu => Box::new(G711Decoder::new(G711Law::Ulaw)),
            Codec::Pcma => Box::new(G711Decoder::new(G711Law::Alaw)),
            Codec::G722 => Box::new(G722Decoder::new()),
            Codec::L16 {
                sample_rate,
                channels,
            } => Box::new(L16Decoder::new(*sample_rate, *channels)),
            Codec::Opus(config) => Box::new(OpusDecoder::new(config)?),
            Codec::Custom(c) => c.new_decoder()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use voip_core::AudioFrame;

    /// A toy custom codec: 8-bit linear PCM, dropping the low byte.
    #[derive(Debug, Clone)]
    struct Pcm8;

    #[derive(Debug)]
    struct Pcm8Coder;

    impl AudioEncoder for Pcm8Coder {
        fn sample_rate(&self) -> u32 {
            8000
        }
        fn channels(&self) -> u16 {
            1
        }
        fn encode_into(
            &mut self,
            frame: &AudioFrame,
            out: &mut BytesMut,
        ) -> Result<(), CodecError> {
            out.extend(frame.samples.iter().map(|&s| (s >> 8) as u8));
            Ok(())
        }
    }

    impl AudioDecoder for Pcm8Coder {
        fn sample_rate(&self) -> u32 {
            8000
        }
        fn channels(&self) -> u16 {
            1
        }
        fn decode_into(&mut self, payload: &[u8], out: &mut Vec<i16>) -> Result<usize, CodecError> {
            out.extend(payload.iter().map(|&b| i16::from(b as i8) << 8));
            Ok(payload.len())
        }
        fn conceal_into(&mut self, samples: usize, out: &mut Vec<i16>) {
            out.resize(out.len() + samples, 0);
        }
    }

    impl CustomCodec for Pcm8 {
        fn encoding_name(&self) -> &str {
            "X-PCM8"
        }
        fn rtp_clock_rate(&self) -> u32 {
            8000
        }
        fn new_encoder(&self) -> Result<Box<dyn AudioEncoder>, CodecError> {
            Ok(Box::new(Pcm8Coder))
        }
        fn new_decoder(&self) -> Result<Box<dyn AudioDecoder>, CodecError> {
            Ok(Box::new(Pcm8Coder))
        }
    }

    #[test]
    fn static_payload_types_and_clock_rates() {
        let table = [
            (0u8, "PCMU", 8000u32, 8000u32),
            (8, "PCMA", 8000, 8000),
            (9, "G722", 8000, 16000),
            (10, "L16", 44100, 44100),
            (11, "L16", 44100, 44100),
        ];
        for (pt, name, clock, rate) in table {
            let codec = Codec::from_static_payload_type(pt).unwrap();
            assert_eq!(codec.encoding_name(), name);
            assert_eq!(codec.static_payload_type(), Some(pt));
            assert_eq!(codec.rtp_clock_rate(), clock);
            assert_eq!(codec.sample_rate(), rate);
        }
        assert_eq!(Codec::from_static_payload_type(10).unwrap().channels(), 2);
        assert!(Codec::from_static_payload_type(96).is_none());
        assert!(Codec::from_static_payload_type(18).is_none());
    }

    #[test]
    fn g722_timestamps_run_at_half_the_sample_rate() {
        let g722 = Codec::G722;
        assert_eq!(g722.samples_per_packet(20), 320);
        assert_eq!(g722.rtp_timestamp_increment(320), 160);
        let opus = Codec::Opus(OpusConfig::default().sample_rate(16000));
        assert_eq!(opus.rtp_timestamp_increment(320), 960);
        assert_eq!(opus.rtpmap_channels(), 2);
        assert_eq!(opus.channels(), 1);
        assert_eq!(Codec::Pcmu.rtp_timestamp_increment(160), 160);
    }

    #[test]
    fn rtpmap_lookup() {
        assert!(matches!(
            Codec::from_rtpmap("pcmu", 8000, None),
            Some(Codec::Pcmu)
        ));
        assert!(matches!(
            Codec::from_rtpmap("G722", 8000, Some(1)),
            Some(Codec::G722)
        ));
        assert!(matches!(
            Codec::from_rtpmap("opus", 48000, Some(2)),
            Some(Codec::Opus(_))
        ));
        assert!(matches!(
            Codec::from_rtpmap("L16", 16000, Some(1)),
            Some(Codec::L16 {
                sample_rate: 16000,
                channels: 1
            })
        ));
        assert!(Codec::from_rtpmap("G729", 8000, None).is_none());
        assert!(Codec::from_rtpmap("PCMU", 16000, None).is_none());
        assert_eq!(
            Codec::L16 {
                sample_rate: 16000,
                channels: 1
            }
            .static_payload_type(),
            None
        );
    }

    #[test]
    fn every_builtin_codec_round_trips_20_ms() {
        let codecs = [
            Codec::Pcmu,
            Codec::Pcma,
            Codec::G722,
            Codec::L16 {
                sample_rate: 16000,
                channels: 1,
            },
            Codec::Opus(OpusConfig::default()),
        ];
        for codec in codecs {
            let mut enc = codec.new_encoder().unwrap();
            let mut dec = codec.new_decoder().unwrap();
            let n = codec.samples_per_packet(20);
            let frame = AudioFrame::mono(codec.sample_rate(), vec![0; n]);
            let payload = enc.encode(&frame).unwrap();
            let out = dec.decode(&payload).unwrap();
            assert_eq!(out.samples.len(), n, "{}", codec.encoding_name());
            assert_eq!(out.sample_rate, codec.sample_rate());
            assert_eq!(dec.conceal(n).samples.len(), n);
            assert_eq!(dec.recover(&payload, n).unwrap().samples.len(), n);
        }
    }

    #[test]
    fn custom_codecs_plug_in_and_clone() {
        let codec = Codec::Custom(Box::new(Pcm8));
        let copy = codec.clone();
        assert_eq!(copy.encoding_name(), "X-PCM8");
        assert_eq!(copy.static_payload_type(), None);
        assert_eq!(copy.sample_rate(), 8000);
        let mut enc = copy.new_encoder().unwrap();
        let mut dec = copy.new_decoder().unwrap();
        let payload = enc
            .encode(&AudioFrame::mono(8000, vec![0x1234, -0x1234]))
            .unwrap();
        assert_eq!(&payload[..], &[0x12, 0xED]);
        assert_eq!(dec.decode(&payload).unwrap().samples, vec![0x1200, -0x1300]);
        assert_eq!(dec.conceal(4).samples, vec![0; 4]);
    }
}
