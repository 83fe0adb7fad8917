//! Why a relay command failed.

use crate::codec::CodecError;
use crate::srtp::SrtpError;

/// Failures of [`Relay`](super::Relay) commands (offer, answer, delete).
/// Datagrams never fail: they are dropped and counted in
/// [`RelayStats`](super::RelayStats).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// The body is not SDP.
    #[error("malformed sdp: {0}")]
    MalformedSdp(String),
    /// The SDP has no RTP audio stream the relay can anchor.
    #[error("no rtp audio stream in the sdp")]
    NoAudio,
    /// The answer shares no codec with the offer, and none can be
    /// transcoded.
    #[error("no codec in common and none to transcode")]
    NoCommonCodec,
    /// No call by that id.
    #[error("unknown call")]
    UnknownCall,
    /// A call with that id exists already.
    #[error("call exists")]
    CallExists,
    /// An answer with no offer outstanding.
    #[error("no offer outstanding")]
    NoPendingOffer,
    /// The relay holds `max_calls` calls already.
    #[error("too many calls")]
    TooManyCalls,
    /// A local address is already used by another call.
    #[error("local address already in use by another call")]
    AddressInUse,
    /// The SDES keys could not be used.
    #[error("srtp: {0}")]
    Srtp(#[from] SrtpError),
    /// A codec could not be set up for transcoding.
    #[error("codec: {0}")]
    Codec(String),
    /// A recording command could not be carried out.
    #[error("recording: {0}")]
    Recording(&'static str),
}

impl RelayError {
    /// The SIP status that reports this error to the offerer/answerer.
    pub fn status(&self) -> u16 {
        match self {
            RelayError::MalformedSdp(_) => 400,
            RelayError::NoAudio | RelayError::NoCommonCodec | RelayError::Srtp(_) => 488,
            RelayError::UnknownCall | RelayError::NoPendingOffer => 481,
            RelayError::TooManyCalls | RelayError::AddressInUse | RelayError::CallExists => 503,
            RelayError::Codec(_) | RelayError::Recording(_) => 500,
        }
    }
}

impl From<CodecError> for RelayError {
    fn from(e: CodecError) -> Self {
        RelayError::Codec(e.to_string())
    }
}
