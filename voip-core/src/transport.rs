//! Transport protocols SIP and media run over.

use std::fmt;
use std::str::FromStr;

/// A transport protocol as named in a SIP Via header (RFC 3261 §20.42, RFC 7118).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum TransportProtocol {
    /// UDP datagrams.
    Udp,
    /// A TCP byte stream.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket (RFC 7118), over plain TCP.
    Ws,
    /// WebSocket over TLS.
    Wss,
}

impl TransportProtocol {
    /// All protocols, in a stable order.
    pub const ALL: [TransportProtocol; 5] = [Self::Udp, Self::Tcp, Self::Tls, Self::Ws, Self::Wss];

    /// The token used in a Via header: `UDP`, `TCP`, `TLS`, `WS`, `WSS`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
            Self::Ws => "WS",
            Self::Wss => "WSS",
        }
    }

    /// The lowercase `transport=` URI parameter value.
    pub const fn as_uri_param(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
            Self::Tls => "tls",
            Self::Ws => "ws",
            Self::Wss => "wss",
        }
    }

    /// Whether the transport delivers messages reliably (RFC 3261 §17: no
    /// retransmission timers for requests other than INVITE 2xx handling).
    pub const fn is_reliable(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// Whether the transport is encrypted.
    pub const fn is_secure(self) -> bool {
        matches!(self, Self::Tls | Self::Wss)
    }

    /// Whether messages ride a connection (stream or WebSocket).
    pub const fn is_connection_oriented(self) -> bool {
        !matches!(self, Self::Udp)
    }

    /// The default port: 5060, 5061 for TLS, 80 and 443 for WebSocket.
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Udp | Self::Tcp => 5060,
            Self::Tls => 5061,
            Self::Ws => 80,
            Self::Wss => 443,
        }
    }

    /// Parses a transport token, ASCII case-insensitively.
    pub fn from_bytes(token: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().as_bytes().eq_ignore_ascii_case(token))
    }
}

impl fmt::Display for TransportProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A transport token that names no protocol this SDK speaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transport {0:?} (expected UDP, TCP, TLS, WS or WSS)")]
pub struct UnknownTransport(pub String);

impl FromStr for TransportProtocol {
    type Err = UnknownTransport;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_bytes(s.as_bytes()).ok_or_else(|| UnknownTransport(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_case_insensitively() {
        for p in TransportProtocol::ALL {
            assert_eq!(
                TransportProtocol::from_bytes(p.as_str().as_bytes()),
                Some(p)
            );
            assert_eq!(p.as_uri_param().parse::<TransportProtocol>(), Ok(p));
        }
        assert!("SCTP".parse::<TransportProtocol>().is_err());
    }

    #[test]
    fn reliability() {
        assert!(!TransportProtocol::Udp.is_reliable());
        assert!(TransportProtocol::Wss.is_reliable() && TransportProtocol::Wss.is_secure());
        assert_eq!(TransportProtocol::Tls.default_port(), 5061);
    }
}
