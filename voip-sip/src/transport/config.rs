//! Transport configuration: listeners, TLS material and the limits that bound
//! what one peer can cost.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use voip_core::{ConfigError, TransportProtocol};

use super::FramingLimits;

/// Settings of the SIP transports.
///
/// Build with `Default` and the setters, then [`build`](Self::build):
///
/// ```
/// use voip_sip::transport::TransportConfig;
///
/// let config = TransportConfig::default()
///     .udp("127.0.0.1:5060".parse().unwrap())
///     .tcp("127.0.0.1:5060".parse().unwrap())
///     .build()
///     .unwrap();
/// assert_eq!(config.max_message_size_value(), 65_535);
/// ```
#[derive(Debug, Clone)]
pub struct TransportConfig {
    pub(crate) udp: Option<SocketAddr>,
    pub(crate) tcp: Option<SocketAddr>,
    pub(crate) tls: Option<SocketAddr>,
    pub(crate) ws: Option<SocketAddr>,
    pub(crate) wss: Option<SocketAddr>,
    pub(crate) tls_cert_path: Option<PathBuf>,
    pub(crate) tls_key_path: Option<PathBuf>,
    #[cfg(feature = "tokio")]
    pub(crate) tls_client_config: Option<Arc<rustls::ClientConfig>>,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_ip: usize,
    pub(crate) idle_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) message_timeout: Duration,
    pub(crate) max_message_size: usize,
    pub(crate) framing: FramingLimits,
    pub(crate) udp_recv_buffer: Option<usize>,
    pub(crate) connection_queue: usize,
    pub(crate) receive_queue: usize,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            udp: None,
            tcp: None,
            tls: None,
            ws: None,
            wss: None,
            tls_cert_path: None,
            tls_key_path: None,
            #[cfg(feature = "tokio")]
            tls_client_config: None,
            max_connections: 4096,
            max_connections_per_ip: 64,
            idle_timeout: Duration::from_secs(120),
            handshake_timeout: Duration::from_secs(10),
            message_timeout: Duration::from_secs(10),
            max_message_size: 65_535,
            framing: FramingLimits::default(),
            udp_recv_buffer: Some(1 << 20),
            connection_queue: 256,
            receive_queue: 1024,
        }
    }
}

impl TransportConfig {
    /// Listens for SIP over UDP on `addr`.
    pub fn udp(mut self, addr: SocketAddr) -> Self {
        self.udp = Some(addr);
        self
    }

    /// Listens for SIP over TCP on `addr`.
    pub fn tcp(mut self, addr: SocketAddr) -> Self {
        self.tcp = Some(addr);
        self
    }

    /// Listens for SIP over TLS on `addr` (needs [`tls_identity`](Self::tls_identity)).
    pub fn tls(mut self, addr: SocketAddr) -> Self {
        self.tls = Some(addr);
        self
    }

    /// Listens for SIP over WebSocket (RFC 7118) on `addr`.
    pub fn ws(mut self, addr: SocketAddr) -> Self {
        self.ws = Some(addr);
        self
    }

    /// Listens for SIP over secure WebSocket on `addr` (needs a TLS identity).
    pub fn wss(mut self, addr: SocketAddr) -> Self {
        self.wss = Some(addr);
        self
    }

    /// The server certificate chain and private key, as PEM files.
    pub fn tls_identity(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls_cert_path = Some(cert.into());
        self.tls_key_path = Some(key.into());
        self
    }

    /// The rustls client configuration for outbound TLS connections; without
    /// one, sending over TLS to a peer with no open connection is an error.
    #[cfg(feature = "tokio")]
    pub fn tls_client_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls_client_config = Some(config);
        self
    }

    /// The most connections open at once, inbound and outbound (default 4096).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }

    /// The most connections from or to one IP address (default 64).
    pub fn max_connections_per_ip(mut self, n: usize) -> Self {
        self.max_connections_per_ip = n;
        self
    }

    /// Closes a connection that received nothing, not even a keep-alive, for
    /// this long (default 120 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// The time a TLS or WebSocket handshake may take (default 10 s); also
    /// the time an accepted TCP or TLS connection has to deliver its first
    /// whole message.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The time a started message may take to arrive whole on a stream
    /// (default 10 s); defends against peers that trickle bytes.
    pub fn message_timeout(mut self, timeout: Duration) -> Self {
        self.message_timeout = timeout;
        self
    }

    /// The largest message on any transport (default 65 535 bytes). Also sets
    /// the stream framing's message limit, caps its header limit to it, and
    /// grows its buffer limit to fit.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        let buffered = self
            .framing
            .max_buffered_bytes()
            .max(bytes.saturating_mul(2));
        let header = self.framing.max_header_bytes().min(bytes);
        self.framing = self
            .framing
            .with_max_header_bytes(header)
            .with_max_message_bytes(bytes)
            .with_max_buffered_bytes(buffered);
        self
    }

    /// Limits of the TCP/TLS stream framer.
    pub fn framing_limits(mut self, limits: FramingLimits) -> Self {
        self.framing = limits;
        self
    }

    /// The UDP socket's kernel receive buffer (`SO_RCVBUF`); None keeps the
    /// system default (default 1 MiB).
    pub fn udp_recv_buffer(mut self, bytes: Option<usize>) -> Self {
        self.udp_recv_buffer = bytes;
        self
    }

    /// Messages queued for sending on one connection before further sends
    /// are dropped (default 256); protects against peers that do not read.
    pub fn connection_queue(mut self, messages: usize) -> Self {
        self.connection_queue = messages;
        self
    }

    /// Received messages queued for the application (default 1024).
    pub fn receive_queue(mut self, messages: usize) -> Self {
        self.receive_queue = messages;
        self
    }

    /// The configured listening address for `protocol`.
    pub fn listen(&self, protocol: TransportProtocol) -> Option<SocketAddr> {
        match protocol {
            TransportProtocol::Udp => self.udp,
            TransportProtocol::Tcp => self.tcp,
            TransportProtocol::Tls => self.tls,
            TransportProtocol::Ws => self.ws,
            TransportProtocol::Wss => self.wss,
            _ => None,
        }
    }

    /// The largest message size.
    pub fn max_message_size_value(&self) -> usize {
        self.max_message_size
    }

    /// The server certificate and key paths, if set.
    pub fn tls_identity_paths(&self) -> Option<(&Path, &Path)> {
        Some((
            self.tls_cert_path.as_deref()?,
            self.tls_key_path.as_deref()?,
        ))
    }

    /// Validates the settings.
    pub fn build(self) -> Result<Arc<Self>, ConfigError> {
        let secure = self.tls.is_some() || self.wss.is_some();
        if secure && self.tls_identity_paths().is_none() {
            return Err(ConfigError::new(
                "tls_identity",
                "a tls or wss listener needs a certificate and key (PEM files)",
            ));
        }
        if self.max_connections == 0 {
            return Err(ConfigError::new("max_connections", "must be at least 1"));
        }
        if self.max_connections_per_ip == 0 {
            return Err(ConfigError::new(
                "max_connections_per_ip",
                "must be at least 1",
            ));
        }
        for (field, value) in [
            ("idle_timeout", self.idle_timeout),
            ("handshake_timeout", self.handshake_timeout),
            ("message_timeout", self.message_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::new(field, "must be longer than zero"));
            }
        }
        if !(512..=16 * 1024 * 1024).contains(&self.max_message_size) {
            return Err(ConfigError::new(
                "max_message_size",
                "must be between 512 bytes and 16 MiB",
            ));
        }
        self.framing.validate()?;
        if self.connection_queue == 0 || self.receive_queue == 0 {
            return Err(ConfigError::new(
                "queue",
                "queues must hold at least 1 message",
            ));
        }
        Ok(Arc::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build() {
        let config = TransportConfig::default().build().unwrap();
        assert_eq!(config.max_message_size_value(), 65_535);
        assert_eq!(config.idle_timeout, Duration::from_secs(120));
        assert_eq!(config.listen(TransportProtocol::Udp), None);
    }

    #[test]
    fn tls_needs_an_identity() {
        let addr = "127.0.0.1:5061".parse().unwrap();
        let err = TransportConfig::default().tls(addr).build().unwrap_err();
        assert_eq!(err.field, "tls_identity");
        assert!(
            TransportConfig::default()
                .tls(addr)
                .tls_identity("cert.pem", "key.pem")
                .build()
                .is_ok()
        );
    }

    #[test]
    fn bad_values_are_rejected() {
        assert!(
            TransportConfig::default()
                .max_connections(0)
                .build()
                .is_err()
        );
        assert!(
            TransportConfig::default()
                .idle_timeout(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(
            TransportConfig::default()
                .max_message_size(10)
                .build()
                .is_err()
        );
        let big = TransportConfig::default().max_message_size(200_000);
        assert_eq!(big.framing.max_message_bytes(), 200_000);
        assert!(big.build().is_ok());
    }
}
