//! Media anchoring: the server's proxy puts `voip_media::relay` in the
//! path of every call's RTP, the way Kamailio calls rtpengine.
//!
//! - [`config`]: the `[media]` table (on by default, ports 20000-29999,
//!   the address in rewritten SDP, transcoding codecs, SRTP toward the
//!   callee, latching, media timeout).
//! - [`message`]: what is read from a SIP message (Call-ID, tags, CSeq,
//!   SDP body) and how its body is replaced.
//! - [`exchange`]: the sans-IO offer/answer tracker that says which relay
//!   command each outgoing message needs.
//! - [`anchor`]: runs those commands on the relay driver as the SIP driver
//!   sends, releases relay calls when calls end.
//! - [`metrics`]: the relay's counters on `/metrics`.
//! - [`recording`]: the `[recording]` table and recordings' file names
//!   (relayed calls recorded to WAV through `voip_media::relay`'s tap).
//! - [`webrtc`]: browser calls — which side is a browser, and the sans-IO
//!   tracker of their offer/answer through `voip_media::webrtc::WebRtcBridge`;
//!   [`webrtc_driver`]: the tokio task that runs the bridges (one shared
//!   UDP socket for browser legs, plain sockets from the relay's range);
//!   [`webrtc_dialog`]: the BYEs the server sends when a browser's media fails.
//!
//! Plain calls with the IVR at one end are not anchored: the IVR is a media
//! endpoint of this server itself (on loopback), and it bridges the
//! caller to an agent in its own media task (see `crate::ivr`). Browser
//! calls to or from the IVR are bridged (the IVR speaks PCMU RTP/AVP).

pub mod anchor;
pub mod config;
pub mod exchange;
pub mod message;
pub mod metrics;
pub mod recording;
pub mod webrtc;
pub mod webrtc_dialog;
pub mod webrtc_driver;
#[cfg(test)]
mod webrtc_tests;

pub use anchor::Anchor;
pub use config::MediaSettings;
