//! Shared vocabulary of the VoIP SDK.
//!
//! Every protocol core in the SDK (SIP transactions, RTP sessions, the IVR
//! machine, SFU rooms) is *sans-IO*: it never touches a socket, a clock or a
//! global random number generator. This crate holds the small set of types
//! those cores and their drivers exchange:
//!
//! - [`Receive`] and [`Transmit`]: bytes that arrived from, or must leave on,
//!   a [`TransportProtocol`] between two socket addresses.
//! - [`ConnectionId`] and the other `Copy` id newtypes.
//! - [`Rng`] and [`RandomSource`]: randomness is injected; tests seed it.
//! - Time is passed in as [`std::time::Instant`] (`now`) on every input and
//!   comes out as an absolute deadline from `poll_timeout()`; wall-clock needs
//!   (NTP timestamps, nonce expiry) come in as [`std::time::SystemTime`].
//! - [`AudioFrame`]: a block of PCM samples at a known rate.
//!
//! # The run loop every core follows
//!
//! ```no_run
//! use std::time::Instant;
//! use voip_core::{Receive, Transmit};
//!
//! /// The shape of every protocol core in the SDK.
//! trait Core {
//!     fn handle_receive(&mut self, now: Instant, datagram: Receive);
//!     fn handle_timeout(&mut self, now: Instant);
//!     fn poll_transmit(&mut self) -> Option<Transmit>;
//!     fn poll_timeout(&self) -> Option<Instant>;
//! }
//!
//! fn drive(core: &mut impl Core, input: Option<Receive>, send: &mut impl FnMut(Transmit)) {
//!     let now = Instant::now(); // only drivers read the clock
//!     if let Some(datagram) = input {
//!         core.handle_receive(now, datagram);
//!     }
//!     if core.poll_timeout().is_some_and(|deadline| deadline <= now) {
//!         core.handle_timeout(now);
//!     }
//!     while let Some(transmit) = core.poll_transmit() {
//!         send(transmit);
//!     }
//!     // then sleep until core.poll_timeout() or the next input
//! }
//! ```
//!
//! # Panics
//!
//! Nothing in this crate panics on input from the network.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod audio;
mod error;
mod id;
mod rng;
mod transmit;
mod transport;

pub use audio::AudioFrame;
pub use error::ConfigError;
pub use id::ConnectionId;
pub use rng::{OsRandom, RandomSource, Rng, SeededRandom};
pub use transmit::{Receive, Transmit};
pub use transport::{TransportProtocol, UnknownTransport};
