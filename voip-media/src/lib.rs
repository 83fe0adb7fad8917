//! voip-media: RTP/RTCP/SRTP, SDP offer/answer, codecs, jitter buffer, DTMF,
//! tones, recording, mixing and relay (FreeSWITCH's and rtpengine's roles).
//!
//! Every protocol core here is sans-IO: it takes the time as an argument
//! (`handle_*(now, …)`), returns what to send through `poll_*`, and never
//! reads a clock, opens a socket or draws from a global RNG. Only the tokio
//! driver behind the `tokio` feature does I/O.
//!
//! Panic policy: nothing here panics on bytes from the network. A malformed
//! packet is dropped and counted.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod audio;
pub mod codec;
pub mod dtmf;
pub mod jitter;
pub mod relay;
pub mod rtp;
pub mod sdp;
pub mod srtp;
pub mod tone;
pub mod webrtc;

mod source;
pub use source::{MediaSink, MediaSource};

// Re-exports of the paved path, one block per module (keep them sorted by module).
pub use audio::{Mixer, ParticipantId, Resampler, WavPlayer, WavRecorder};
pub use codec::{AudioDecoder, AudioEncoder, Codec, CodecError, CustomCodec, OpusConfig};
pub use dtmf::{
    DtmfDeduper, DtmfDetector, DtmfDetectorConfig, DtmfDigit, DtmfPacket, DtmfReport, DtmfSender,
    DtmfSenderConfig, DtmfSource, InfoDtmf, Rfc4733Event, Rfc4733Receiver,
};
pub use jitter::{
    ComfortNoise, ComfortNoiseGenerator, JitterBuffer, JitterConfig, JitterStats, Playout,
};
pub use relay::{
    LegAddrs, LegStats, OfferOptions, Relay, RelayConfig, RelayError, RelayEvent, RelayStats,
};
pub use rtp::{
    CodecImpairment, QualityReport, ReceivedRtp, RtpDrop, RtpEvent, RtpSession, RtpSessionConfig,
};
pub use sdp::{LocalMedia, NegotiatedMedia, SdpCodec, SdpConfig, SdpError, SdpSession, SrtpPolicy};
pub use srtp::{CryptoAttribute, CryptoSuite, SrtpError, SrtpSession, UnprotectError};
pub use tone::{Country, DtmfGenerator, Tone, ToneGenerator, ToneKind};
pub use webrtc::{
    BridgeConfig, BridgeEvent, LocalCandidate, WebRtcBridge, WebRtcConfig, WebRtcEvent, WebRtcLeg,
};
