//! Bytes in and bytes out of a sans-IO core.

use std::net::SocketAddr;

use bytes::Bytes;

use crate::{ConnectionId, TransportProtocol};

/// Bytes that arrived from the network, handed to a core by its driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receive {
    /// The transport they came over.
    pub protocol: TransportProtocol,
    /// The remote address (the packet's source, or the connection's peer).
    pub source: SocketAddr,
    /// The local address they arrived at.
    pub destination: SocketAddr,
    /// The connection they came on, for connection-oriented transports.
    pub connection: Option<ConnectionId>,
    /// One whole message (a datagram, or one framed message of a stream).
    pub contents: Bytes,
}

/// Bytes a core wants sent, taken by its driver from `poll_transmit()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The transport to send over.
    pub protocol: TransportProtocol,
    /// The local address to send from, if it matters (None: any).
    pub source: Option<SocketAddr>,
    /// Where to send.
    pub destination: SocketAddr,
    /// An existing connection to reuse (RFC 3261 §18.2.2); when it is gone,
    /// drivers of stream transports open a new one to `destination`.
    pub connection: Option<ConnectionId>,
    /// The bytes.
    pub contents: Bytes,
}

impl Transmit {
    /// A reply to `received`, over the same transport and connection, from the
    /// address it arrived at, to the address it came from.
    pub fn reply_to(received: &Receive, contents: Bytes) -> Self {
        Self {
            protocol: received.protocol,
            source: Some(received.destination),
            destination: received.source,
            connection: received.connection,
            contents,
        }
    }
}
