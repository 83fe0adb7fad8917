//! Tokio drivers for the SIP transports: UDP, TCP, TLS, WebSocket and secure
//! WebSocket behind one [`Transports`] handle.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use voip_core::Transmit;
//! use voip_sip::transport::{TransportConfig, Transports};
//!
//! let config = TransportConfig::default()
//!     .udp("0.0.0.0:5060".parse()?)
//!     .tcp("0.0.0.0:5060".parse()?)
//!     .build()?;
//! let (transports, mut received) = Transports::bind(config).await?;
//! while let Some(message) = received.recv().await {
//!     // hand `message` to the SIP core, then send what it answers:
//!     let answer = Transmit::reply_to(&message, message.contents.clone());
//!     transports.send(answer).await?;
//! }
//! # Ok(())
//! # }
//! ```

mod error;
mod stats;
mod stream;
mod table;
mod tls;
mod udp;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tracing::debug;
use voip_core::{Receive, Transmit, TransportProtocol};

pub use error::TransportError;
pub use stats::{ProtocolStats, TransportStats};

use super::TransportConfig;
use stats::Counters;
use table::Table;

/// State shared by the handle and every driver task.
pub(crate) struct Shared {
    config: Arc<TransportConfig>,
    table: Arc<Table>,
    counters: Counters,
    receive: mpsc::Sender<Receive>,
    shutdown: watch::Receiver<bool>,
    udp: Option<Arc<UdpSocket>>,
    tls_acceptor: Option<TlsAcceptor>,
    tls_connector: Option<TlsConnector>,
    local: [Option<SocketAddr>; 5],
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("local", &self.local)
            .field("connections", &self.table.len())
            .field("tls", &self.tls_acceptor.is_some())
            .finish_non_exhaustive()
    }
}

/// Stops every task when the last [`Transports`] handle is dropped.
#[derive(Debug)]
struct ShutdownGuard(watch::Sender<bool>);

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        self.0.send_replace(true);
    }
}

/// Resolves once shutdown was asked for (or the handle is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

fn slot_of(protocol: TransportProtocol) -> Option<usize> {
    TransportProtocol::ALL.iter().position(|p| *p == protocol)
}

/// The running SIP transports: listeners, connections and their tasks.
///
/// Cheap to clone; all clones share the same sockets. Dropping the last
/// clone, or calling [`shutdown`](Self::shutdown), stops every task.
#[derive(Debug, Clone)]
pub struct Transports {
    shared: Arc<Shared>,
    guard: Arc<ShutdownGuard>,
}

impl Transports {
    /// Binds every listener the configuration names and starts its tasks.
    /// Received messages arrive on the returned channel.
    pub async fn bind(
        config: Arc<TransportConfig>,
    ) -> Result<(Self, mpsc::Receiver<Receive>), TransportError> {
        let tls_acceptor = match (config.tls.or(config.wss), config.tls_identity_paths()) {
            (None, _) => None,
            (Some(_), None) => return Err(TransportError::NoTlsIdentity),
            (Some(_), Some((cert, key))) => Some(TlsAcceptor::from(tls::server_config(cert, key)?)),
        };
        let tls_connector = config.tls_client_config.clone().map(TlsConnector::from);

        let mut local = [None; 5];
        let udp = match config.udp {
            Some(addr) => {
                let socket = udp::bind(addr, config.udp_recv_buffer)?;
                local[0] = Some(socket.local_addr().map_err(|source| TransportError::Bind {
                    protocol: TransportProtocol::Udp,
                    addr,
                    source,
                })?);
                Some(Arc::new(socket))
            }
            None => None,
        };
        let mut listeners = Vec::new();
        for protocol in TransportProtocol::ALL.into_iter().skip(1) {
            let Some(addr) = config.listen(protocol) else {
                continue;
            };
            let bind_error = |source| TransportError::Bind {
                protocol,
                addr,
                source,
            };
            let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
            if let Some(i) = slot_of(protocol) {
                local[i] = Some(listener.local_addr().map_err(bind_error)?);
            }
            listeners.push((protocol, listener));
        }

        let (stop, shutdown) = watch::channel(false);
        let (receive, received) = mpsc::channel(config.receive_queue);
        let shared = Arc::new(Shared {
            table: Arc::new(Table::new(
                config.max_connections,
                config.max_connections_per_ip,
            )),
            config,
            counters: Counters::default(),
            receive,
            shutdown,
            udp,
            tls_acceptor,
            tls_connector,
            local,
        });
        if let (Some(socket), Some(addr)) = (&shared.udp, local[0]) {
            debug!(%addr, "sip udp listening");
            tokio::spawn(udp::receive_loop(
                Arc::clone(&shared),
                Arc::clone(socket),
                addr,
            ));
        }
        for (protocol, listener) in listeners {
            debug!(%protocol, addr = ?listener.local_addr().ok(), "sip listening");
            tokio::spawn(stream::accept_loop(Arc::clone(&shared), listener, protocol));
        }
        let transports = Self {
            shared,
            guard: Arc::new(ShutdownGuard(stop)),
        };
        Ok((transports, received))
    }

    /// The bound address of a transport (with the port the system chose for
    /// port 0), or None if it is not configured.
    pub fn local_addr(&self, protocol: TransportProtocol) -> Option<SocketAddr> {
        self.shared.local[slot_of(protocol)?]
    }

    /// Sends a message.
    ///
    /// UDP sends a datagram. Connection transports write on
    /// `transmit.connection` if it is still open, else on an open connection
    /// to the same destination over the same protocol, else (TCP and TLS
    /// only) open a new connection, whose replies then arrive as
    /// [`Receive`]s like any other. Messages are queued per connection: a
    /// full queue drops the message ([`TransportError::QueueFull`]).
    pub async fn send(&self, transmit: Transmit) -> Result<(), TransportError> {
        let shared = &self.shared;
        if *shared.shutdown.borrow() {
            return Err(TransportError::Shutdown);
        }
        let protocol = transmit.protocol;
        let limit = shared.config.max_message_size;
        if transmit.contents.len() > limit {
            shared.counters.oversize(protocol);
            return Err(TransportError::TooLarge {
                size: transmit.contents.len(),
                limit,
            });
        }
        if protocol == TransportProtocol::Udp {
            let socket = shared
                .udp
                .as_ref()
                .ok_or(TransportError::NotListening(protocol))?;
            let destination = transmit.destination;
            socket
                .send_to(&transmit.contents, destination)
                .await
                .map_err(|source| TransportError::Send {
                    destination,
                    source,
                })?;
            shared.counters.sent(protocol);
            return Ok(());
        }
        let found = shared
            .table
            .lookup(transmit.connection, protocol, transmit.destination);
        let contents = match found {
            Some((id, queue)) => match queue.try_send(transmit.contents) {
                Ok(()) => {
                    shared.counters.sent(protocol);
                    return Ok(());
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    shared.counters.send_drop(protocol);
                    return Err(TransportError::QueueFull(id));
                }
                // Closed meanwhile: open a new one below.
                Err(mpsc::error::TrySendError::Closed(contents)) => contents,
            },
            None => transmit.contents,
        };
        match protocol {
            TransportProtocol::Tcp | TransportProtocol::Tls => {
                stream::connect(shared, protocol, transmit.destination, contents).await?;
                shared.counters.sent(protocol);
                Ok(())
            }
            _ => Err(TransportError::NoConnection {
                protocol,
                destination: transmit.destination,
            }),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> TransportStats {
        self.shared.counters.snapshot()
    }

    /// Connections open or handshaking now.
    pub fn connection_count(&self) -> usize {
        self.shared.table.len()
    }

    /// Stops every listener and connection; later sends fail with
    /// [`TransportError::Shutdown`].
    pub fn shutdown(&self) {
        self.guard.0.send_replace(true);
    }
}
