//! RTP sessions and RTCP (RFC 3550): sequence and timestamp tracking, SSRC changes, SR/RR/SDES/BYE, rtcp-mux, jitter and loss statistics, and per-leg quality (ITU-T G.107 E-model MOS).
//!
//! The hub is [`RtpSession`], a sans-IO core: packets and the time come in
//! (`handle_rtp(now, bytes)`, `handle_rtcp(now, wall, bytes)`,
//! `handle_timeout(now, wall)`), RTCP and events go out (`poll_transmit`,
//! `poll_event`, `poll_timeout`). The parts it is built from are usable on
//! their own:
//!
//! | file | what | RFC |
//! |---|---|---|
//! | [`sequence`] | sequence validation with probation, wrap-around, loss | RFC 3550 A.1, A.3 |
//! | [`source`] | per-source state, interarrival jitter | RFC 3550 A.8, §6.4.1 |
//! | [`rtcp`] | SR/RR/SDES/BYE parse and build | RFC 3550 §6, A.2 |
//! | [`interval`] | the RTCP report interval | RFC 3550 §6.2, §6.3, A.7 |
//! | [`ntp`] | NTP timestamps, RTT from LSR/DLSR | RFC 3550 §4, §6.4.1 |
//! | [`demux`] | RTP/RTCP/STUN/DTLS on one port | RFC 5761 §4, RFC 7983 |
//! | [`packet`] | RTP parsing that never panics | RFC 3550 §5.1, RFC 8285 |
//! | [`quality`] | E-model R-factor and MOS | ITU-T G.107, G.113 |
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use voip_core::Rng;
//! use voip_media::rtp::{RtpSession, RtpSessionConfig};
//!
//! let config = RtpSessionConfig::default().clock_rate(8000).build().unwrap();
//! let now = Instant::now();
//! let mut a = RtpSession::new(config.clone(), Rng::seeded(1), now);
//! let mut b = RtpSession::new(config, Rng::seeded(2), now);
//! for i in 0..3u32 {
//!     let at = now + Duration::from_millis(20 * u64::from(i));
//!     let packet = a.send_rtp(at, 0, i * 160, i == 0, &[0xff; 160]);
//!     let _ = b.handle_rtp(at, packet); // the first packet is on probation
//! }
//! assert_eq!(b.stats().rtp_received, 2);
//! // RTCP: run the timer and send what it queues.
//! let due = a.poll_timeout().unwrap();
//! a.handle_timeout(due, SystemTime::now());
//! while let Some(rtcp) = a.poll_transmit() {
//!     b.handle_rtcp(due, SystemTime::now(), &rtcp).unwrap();
//! }
//! ```

pub mod demux;
pub mod interval;
pub mod ntp;
pub mod packet;
pub mod quality;
pub mod rtcp;
pub mod sequence;
mod session;
pub mod source;

#[cfg(test)]
mod tests;

pub use demux::{PacketKind, classify};
pub use quality::{CodecImpairment, QualityReport};
pub use rtcp::{ReportBlock, RtcpError, RtcpPacket, SenderInfo};
pub use session::{ReceivedRtp, RtpDrop, RtpEvent, RtpSession, RtpSessionConfig, SessionStats};
