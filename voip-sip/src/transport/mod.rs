//! SIP transports: framing for streams, limits, and (with the `tokio`
//! feature) drivers for UDP, TCP, TLS, WebSocket and secure WebSocket.
//!
//! The sans-IO part ([`StreamFramer`], [`TransportConfig`]) compiles without
//! tokio; the drivers live in `Transports` behind the `tokio` feature.

mod config;
mod framing;
#[cfg(feature = "tokio")]
mod tokio;

#[cfg(feature = "tokio")]
pub use self::tokio::{ProtocolStats, TransportError, TransportStats, Transports};
pub use config::TransportConfig;
pub use framing::{Framed, FramingError, FramingLimits, StreamFramer};
