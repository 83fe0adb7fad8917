//! Errors of the tokio transport drivers.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use voip_core::{ConnectionId, TransportProtocol};

/// Why a transport could not be started or a message could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// A listener could not be bound; the io error kind says why.
    #[error("cannot listen for sip over {protocol} on {addr}: {}", bind_hint(source, *protocol, *addr))]
    Bind {
        /// The transport of the listener.
        protocol: TransportProtocol,
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// A TLS certificate or key file is missing, unreadable or not valid PEM.
    #[error("invalid tls file {}: {reason}", path.display())]
    TlsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A TLS or WSS listener is configured without a certificate and key.
    #[error("a tls or wss listener needs a certificate and key")]
    NoTlsIdentity,
    /// rustls rejected the configuration.
    #[error("tls configuration rejected: {0}")]
    Tls(#[from] rustls::Error),
    /// No listener (or socket) exists for this transport.
    #[error("no {0} transport is configured")]
    NotListening(TransportProtocol),
    /// No open connection to the destination, and this transport cannot open one
    /// (WebSocket connections are only accepted).
    #[error("no open {protocol} connection to {destination}")]
    NoConnection {
        /// The transport.
        protocol: TransportProtocol,
        /// The peer.
        destination: SocketAddr,
    },
    /// Outbound TLS needs `TransportConfig::tls_client_config`.
    #[error("outbound tls to {0} needs a tls client configuration")]
    NoTlsClientConfig(SocketAddr),
    /// Opening an outbound connection failed or timed out.
    #[error("cannot connect over {protocol} to {destination}: {source}")]
    Connect {
        /// The transport.
        protocol: TransportProtocol,
        /// The peer.
        destination: SocketAddr,
        /// The cause (`TimedOut` for a handshake timeout).
        #[source]
        source: io::Error,
    },
    /// The connection limit (total or per IP) forbids another connection.
    #[error("connection limit reached, no new connection to {0}")]
    ConnectionLimit(SocketAddr),
    /// The connection's outbound queue is full (the peer does not read); the
    /// message was dropped.
    #[error("send queue of {0} is full, message dropped")]
    QueueFull(ConnectionId),
    /// The message exceeds the configured maximum size.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The message size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Sending a datagram failed.
    #[error("cannot send udp datagram to {destination}: {source}")]
    Send {
        /// The peer.
        destination: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The transports were shut down.
    #[error("transports are shut down")]
    Shutdown,
}

impl TransportError {
    /// The io error kind behind a bind, connect or send failure.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Self::Bind { source, .. }
            | Self::Connect { source, .. }
            | Self::Send { source, .. } => Some(source.kind()),
            _ => None,
        }
    }
}

/// A one-line explanation of a bind failure with what to do about it.
fn bind_hint(source: &io::Error, protocol: TransportProtocol, addr: SocketAddr) -> String {
    let flag = protocol.as_uri_param();
    match source.kind() {
        io::ErrorKind::AddrInUse => format!(
            "address already in use: another process listens on {addr} \
             (stop it or choose another address with --sip-{flag})"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "permission denied: port {} needs privileges \
             (choose a port above 1023 with --sip-{flag} or grant CAP_NET_BIND_SERVICE)",
            addr.port()
        ),
        io::ErrorKind::AddrNotAvailable => format!(
            "address not available: {} is not an address of this host \
             (choose another with --sip-{flag})",
            addr.ip()
        ),
        _ => source.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_error_is_one_actionable_line() {
        let err = TransportError::Bind {
            protocol: TransportProtocol::Udp,
            addr: "0.0.0.0:5060".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert_eq!(
            err.to_string(),
            "cannot listen for sip over UDP on 0.0.0.0:5060: address already in use: \
             another process listens on 0.0.0.0:5060 (stop it or choose another address \
             with --sip-udp)"
        );
        assert_eq!(err.io_kind(), Some(io::ErrorKind::AddrInUse));
    }
}
