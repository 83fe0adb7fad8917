//! SDP offer/answer (RFC 3264) on `sdp-types`: codec negotiation,
//! telephone-event, ptime, direction (hold/resume), rtcp-mux, crypto,
//! re-INVITE updates.
//!
//! `sdp-types` parses and prints; the offer/answer rules are here.
//! [`SdpSession`] holds one SIP session's local and remote descriptions:
//!
//! ```no_run
//! use voip_media::sdp::{LocalMedia, SdpCodec, SdpConfig, SdpSession};
//!
//! # fn run(offer_from_invite: &[u8]) -> Result<(), voip_media::sdp::SdpError> {
//! let audio = LocalMedia::audio(30000, vec![SdpCodec::opus(111), SdpCodec::pcmu(), SdpCodec::pcma()]);
//! let config = SdpConfig::new("192.0.2.10".parse().unwrap(), 4711, vec![audio]);
//! let mut sdp = SdpSession::new(config);
//! // UAS: an INVITE with an offer. An error's status() is the SIP answer (488, 400, 491).
//! let negotiated = sdp.handle_offer(offer_from_invite)?;
//! let send_with = negotiated[0].send_codec().cloned();
//! let answer_body = sdp.create_answer()?; // the 200 OK body
//! // Later: hold with a re-INVITE.
//! sdp.hold();
//! let reoffer = sdp.create_offer()?; // o= version + 1, a=sendonly
//! # let _ = (send_with, answer_body, reoffer); Ok(()) }
//! ```
//!
//! Unknown attributes are kept ([`MediaView::other_attributes`],
//! [`NegotiatedMedia::remote_attributes`]) and never an error; unknown line
//! types are skipped by the parser. `a=crypto` values pass through verbatim
//! for the SRTP module. See `docs/sdp.md`.

mod codec;
mod config;
mod error;
mod media;
mod negotiate;
mod session;

#[cfg(test)]
mod tests;

pub use codec::{SdpCodec, TELEPHONE_EVENT};
pub use config::{LocalMedia, SdpConfig, SrtpPolicy};
pub use error::SdpError;
pub use media::MediaView;
pub use negotiate::NegotiatedMedia;
pub use sdp_types::{Attribute, Direction, Session};
pub use session::SdpSession;
