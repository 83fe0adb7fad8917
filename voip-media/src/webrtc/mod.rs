//! WebRTC legs for browser calls and the bridge to plain RTP (rtpengine's
//! role), on `str0m` (see DESIGN.md for why).
//!
//! - [`WebRtcLeg`]: one browser leg. ICE-lite with configurable advertised
//!   addresses ([`LocalCandidate`]), DTLS-SRTP with fingerprint
//!   verification, BUNDLE and rtcp-mux, Opus/PCMU/PCMA and RFC 4733
//!   telephone-event. Sans-IO: `handle_receive(now, source, destination,
//!   bytes)`, `handle_timeout(now)`, `poll_transmit`, `poll_event`,
//!   `poll_timeout`.
//! - [`WebRtcBridge`]: a leg joined to a plain `RTP/AVP` side, transcoding
//!   Opus ⇄ PCMU/PCMA when the two sides disagree, carrying DTMF across and
//!   rewriting the SDP between `UDP/TLS/RTP/SAVPF` and `RTP/AVP`. Opt-in
//!   recording ([`WebRtcBridge::start_recording`], `poll_recording`) hands
//!   both directions out decoded, as the relay's recording tap does.
//!
//! See `docs/webrtc.md`.

mod bridge;
mod config;
mod leg;
mod record;
mod sdp;
mod transcode;

#[cfg(test)]
mod tests;

pub use bridge::{BridgeConfig, BridgeEvent, BridgeStats, PlainTransmit, WebRtcBridge};
pub use config::{LocalCandidate, WebRtcAudioCodec, WebRtcConfig};
pub use leg::{
    AudioFormat, AudioPayload, FailReason, LegStats, TelephoneEventReport, WebRtcError,
    WebRtcEvent, WebRtcLeg,
};
pub use sdp::{PLAIN_OPUS_PT, browser_audio_codecs, plain_media_for, rtp_avp_codec};
pub use transcode::Transcoder;
