//! Media relay (rtpengine's role for SIP to SIP): anchoring RTP between two
//! legs with latching, optional transcoding and one-sided SRTP; a sans-IO
//! core and a batched tokio UDP driver.
//!
//! [`Relay`] holds calls, each with two legs (A, the offerer, and B). Each
//! leg has the relay's local RTP/RTCP addresses ([`LegAddrs`], bound by the
//! driver from a [`PortRange`], 30000–30100 by default), the address its
//! SDP names, and a latch: the first authenticated packet fixes where the
//! relay sends (symmetric RTP through NAT; rules on [`LatchMode`]).
//!
//! | mode | when | what the relay does |
//! |---|---|---|
//! | pass-through | the answer picks a codec of the offer | forwards RTP and RTCP untouched (SSRC, sequence, timestamps, payload) |
//! | SRTP on one side | the legs differ in `RTP/SAVP` | unprotects from the SRTP leg, protects toward it (SDES keys of its own per leg) |
//! | transcoding | the answer picks a codec added by [`OfferOptions::transcode`] | jitter buffer, decode with concealment, resample, encode; own SSRC/seq/ts per leg; RTCP terminated per leg (own SR/RR); RFC 4733 events re-sent with the other leg's payload type and timestamp line |
//!
//! ```text
//! create_call(now, id, LegAddrs A, LegAddrs B)
//! offer(now, id, Side::A, sdp, &OfferOptions) ─► SDP for B (c=/m= at the relay's B side)
//! answer(now, id, sdp)                        ─► SDP for A
//! handle_datagram(now, local, source, bytes)  ─► poll_transmit(): Transmit { source: local, destination, contents }
//! handle_timeout(now) at poll_timeout()       ─► transcoded frames, RTCP, MediaTimeout/Quality events
//! poll_event(): Latched, Dtmf, MediaTimeout, Quality
//! delete(now, id)                             ─► the addresses to close
//! ```
//!
//! Hostile datagrams never panic: they are dropped and counted in
//! [`RelayStats`]. The tokio driver ([`RelayDriver`], feature `tokio`) binds
//! the sockets and moves datagrams in batches (recvmmsg/GRO and GSO through
//! `quinn-udp`). See `docs/relay.md`.
//!
//! ```
//! use std::time::{Instant, SystemTime};
//! use voip_core::Rng;
//! use voip_media::relay::{LegAddrs, OfferOptions, Relay, RelayConfig, Side};
//!
//! let config = RelayConfig::default().build().unwrap();
//! let now = Instant::now();
//! let mut relay = Relay::new(config, Rng::seeded(1), now, SystemTime::now());
//! let a = LegAddrs::pair("192.0.2.1:30000".parse().unwrap());
//! let b = LegAddrs::pair("192.0.2.1:30002".parse().unwrap());
//! relay.create_call(now, "call-1", a, b).unwrap();
//! let offer = b"v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
//! let to_b = relay.offer(now, "call-1", Side::A, offer, &OfferOptions::default()).unwrap();
//! assert!(std::str::from_utf8(&to_b).unwrap().contains("m=audio 30002 RTP/AVP 0"));
//! ```

mod call;
mod config;
#[cfg(feature = "tokio")]
mod driver;
mod error;
mod event;
mod latch;
mod leg;
mod ports;
mod record;
#[cfg(feature = "tokio")]
mod record_pipe;
mod record_writer;
#[allow(clippy::module_inception)]
mod relay;
mod sdp;
mod stats;
mod transcode;

#[cfg(test)]
mod record_tests;
#[cfg(test)]
mod tests;

pub use config::{LatchMode, RelayConfig};
#[cfg(feature = "tokio")]
pub use driver::{DriverError, RelayDriver, RelayHandle, SocketMode};
pub use error::RelayError;
pub use event::{Component, RelayEvent};
pub use leg::{LegAddrs, Side};
pub use ports::PortRange;
pub use record::{RecordingEvent, RecordingFrame, RecordingStats};
// The tap, for recording bridged browser calls (webrtc::record).
pub(crate) use record::{RecordTap, RecordingQueue, TapPacket};
pub use record_writer::{
    FinishedRecording, RecordingAssembler, RecordingLayout, RecordingOptions, RecordingWriter,
};
pub use relay::{OfferOptions, Relay};
pub use stats::{LegStats, RelayStats};
