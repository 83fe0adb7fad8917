//! What the local side can do: addresses, ports, codecs in preference
//! order, and the options of each stream.

use std::net::IpAddr;

use sdp_types::{Attribute, Direction};
use voip_core::ConfigError;

use super::codec::SdpCodec;

/// Whether a stream uses SRTP (RFC 4568 SDES, `RTP/SAVP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SrtpPolicy {
    /// Plain RTP only: `RTP/AVP` offered, `RTP/SAVP` offers rejected.
    #[default]
    Disabled,
    /// Offer `RTP/AVP`; answer either profile with the same profile.
    Optional,
    /// Offer `RTP/SAVP`; `RTP/AVP` offers rejected.
    Required,
}

/// One kind of stream the local side supports (one per m-line it offers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalMedia {
    /// `audio`, `video`, …
    pub kind: String,
    /// Local RTP port.
    pub port: u16,
    /// Codecs in preference order. Dynamic codecs carry the payload type to
    /// offer; telephone-event entries are added by `telephone_event`.
    pub codecs: Vec<SdpCodec>,
    /// Offer and accept RFC 4733 telephone-event, one per clock rate.
    pub telephone_event: bool,
    /// Packetization time to ask for (`a=ptime`), ms.
    pub ptime: Option<u32>,
    /// Largest packetization time accepted (`a=maxptime`), ms.
    pub maxptime: Option<u32>,
    /// Offer and accept RTP/RTCP multiplexing (RFC 5761).
    pub rtcp_mux: bool,
    /// SRTP profile policy.
    pub srtp: SrtpPolicy,
    /// The direction wanted when not on hold.
    pub direction: Direction,
    /// Extra attributes written into this m-line, verbatim.
    pub extra_attributes: Vec<Attribute>,
}

impl LocalMedia {
    /// An audio stream on `port` with `codecs` (telephone-event on,
    /// ptime 20, rtcp-mux on, sendrecv, no SRTP).
    pub fn audio(port: u16, codecs: Vec<SdpCodec>) -> Self {
        LocalMedia {
            kind: "audio".into(),
            port,
            codecs,
            telephone_event: true,
            ptime: Some(20),
            maxptime: None,
            rtcp_mux: true,
            srtp: SrtpPolicy::Disabled,
            direction: Direction::SendRecv,
            extra_attributes: Vec::new(),
        }
    }
}

/// The local side of an SDP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdpConfig {
    /// Address written in `o=` and `c=`.
    pub address: IpAddr,
    /// `o=` username (`-` when empty).
    pub username: String,
    /// `o=` session id; random per session (from `voip_core::Rng`).
    pub session_id: u64,
    /// `s=` line.
    pub session_name: String,
    /// Streams, in the order they are offered.
    pub media: Vec<LocalMedia>,
    /// Largest SDP body accepted, bytes.
    pub max_size: usize,
    /// Most m-lines accepted in a remote description.
    pub max_media: usize,
}

impl SdpConfig {
    /// A configuration with one stream per `media` entry.
    pub fn new(address: IpAddr, session_id: u64, media: Vec<LocalMedia>) -> Self {
        SdpConfig {
            address,
            username: "-".into(),
            session_id,
            session_name: "-".into(),
            media,
            max_size: 64 * 1024,
            max_media: 32,
        }
    }

    /// Checks the configuration.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.media.is_empty() {
            return Err(ConfigError::new("media", "at least one stream"));
        }
        for m in &self.media {
            if m.codecs
                .iter()
                .all(|c| c.is_telephone_event() || c.is_comfort_noise())
            {
                return Err(ConfigError::new(
                    "media.codecs",
                    "needs at least one real codec",
                ));
            }
            if m.codecs.iter().any(|c| c.payload_type > 127) {
                return Err(ConfigError::new(
                    "media.codecs",
                    "payload types are 0..=127",
                ));
            }
            if m.kind.is_empty() || m.kind.contains(char::is_whitespace) {
                return Err(ConfigError::new("media.kind", "a token such as audio"));
            }
        }
        if self.username.contains(char::is_whitespace) {
            return Err(ConfigError::new("username", "no spaces"));
        }
        Ok(self)
    }
}
