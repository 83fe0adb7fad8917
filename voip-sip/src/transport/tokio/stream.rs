//! TCP and TLS: the accept loop shared by all connection transports, and the
//! per-connection reader (with the [`StreamFramer`]) and writer tasks.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tracing::{Instrument, debug, debug_span};
use voip_core::{ConnectionId, Receive, TransportProtocol};

use super::table::{Entry, Slot};
use super::{Shared, TransportError, stopped, ws};
use crate::transport::{Framed, StreamFramer};

/// How long a closing connection may take to flush its queued messages.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Bytes read from a stream at once.
const READ_CHUNK: usize = 8 * 1024;

/// Accepts connections until shutdown; each runs in its own task.
pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    protocol: TransportProtocol,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    debug!(%protocol, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Some(slot) = shared.table.reserve(peer.ip()) else {
            shared.counters.rejected(protocol);
            debug!(%protocol, %peer, "connection limit reached, closing new connection");
            drop(tcp);
            continue;
        };
        let span = debug_span!("sip_connection", %protocol, %peer, id = %slot.id());
        tokio::spawn(accepted(Arc::clone(&shared), slot, protocol, tcp, peer).instrument(span));
    }
}

/// Runs the handshakes a new inbound connection needs, then serves it.
async fn accepted(
    shared: Arc<Shared>,
    slot: Slot,
    protocol: TransportProtocol,
    tcp: TcpStream,
    peer: SocketAddr,
) {
    let _ = tcp.set_nodelay(true);
    let Ok(local) = tcp.local_addr() else { return };
    let limit = shared.config.handshake_timeout;
    match protocol {
        TransportProtocol::Tcp => {
            let channels = register(&shared, &slot, protocol, peer);
            serve_stream(
                shared,
                slot,
                Link {
                    protocol,
                    peer,
                    local,
                    inbound: true,
                },
                tcp,
                channels,
            )
            .await;
        }
        TransportProtocol::Tls | TransportProtocol::Wss => {
            let Some(acceptor) = shared.tls_acceptor.clone() else {
                return;
            };
            let deadline = Instant::now() + limit;
            let tls = match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => return handshake_failed(&shared, protocol, &e.to_string()),
                Err(_) => return handshake_failed(&shared, protocol, "timed out"),
            };
            if protocol == TransportProtocol::Tls {
                let channels = register(&shared, &slot, protocol, peer);
                serve_stream(
                    shared,
                    slot,
                    Link {
                        protocol,
                        peer,
                        local,
                        inbound: true,
                    },
                    tls,
                    channels,
                )
                .await;
            } else {
                ws::accept(shared, slot, protocol, peer, local, tls, deadline).await;
            }
        }
        TransportProtocol::Ws => {
            let deadline = Instant::now() + limit;
            ws::accept(shared, slot, protocol, peer, local, tcp, deadline).await;
        }
        _ => {}
    }
}

pub(crate) fn handshake_failed(shared: &Shared, protocol: TransportProtocol, why: &str) {
    shared.counters.handshake_failure(protocol);
    debug!(error = why, "handshake failed, connection closed");
}

/// Registers an open connection in the table; returns its send queue.
pub(crate) fn register(
    shared: &Shared,
    slot: &Slot,
    protocol: TransportProtocol,
    peer: SocketAddr,
) -> Channels {
    let (queue, outbound) = mpsc::channel(shared.config.connection_queue);
    slot.activate(Entry {
        protocol,
        peer,
        queue: queue.clone(),
    });
    shared.counters.opened(protocol);
    debug!("connection open");
    (queue, outbound)
}

/// The send queue of a registered connection and its receiving end.
pub(crate) type Channels = (mpsc::Sender<Bytes>, mpsc::Receiver<Bytes>);

/// The addresses and direction of one stream connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Link {
    pub(crate) protocol: TransportProtocol,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    /// Accepted (the peer must speak first) rather than opened by us.
    pub(crate) inbound: bool,
}

/// Serves one registered TCP or TLS connection until it closes.
pub(crate) async fn serve_stream<S>(
    shared: Arc<Shared>,
    slot: Slot,
    link: Link,
    stream: S,
    (queue, outbound): Channels,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let protocol = link.protocol;
    let (reader, writer) = tokio::io::split(stream);
    let mut writer = tokio::spawn(write_loop(writer, outbound).in_current_span());
    let why = read_loop(&shared, link, slot.id(), reader, &queue).await;
    debug!(reason = why, "connection closing");
    // Leave the table first so no new messages are queued, then let the
    // writer flush what is queued.
    drop(slot);
    drop(queue);
    if timeout(DRAIN_TIMEOUT, &mut writer).await.is_err() {
        writer.abort();
    }
    shared.counters.closed(protocol);
}

async fn write_loop<W: AsyncWrite + Unpin>(mut writer: W, mut outbound: mpsc::Receiver<Bytes>) {
    while let Some(bytes) = outbound.recv().await {
        if writer.write_all(&bytes).await.is_err() || writer.flush().await.is_err() {
            return;
        }
    }
    let _ = writer.shutdown().await;
}

/// Reads and frames until the connection must close; returns why.
///
/// Deadlines: the idle timeout after the last byte read; the message timeout
/// after the first byte of a message not yet whole; and for an inbound
/// connection, the handshake timeout for its first whole message.
async fn read_loop<R: AsyncRead + Unpin>(
    shared: &Shared,
    link: Link,
    id: ConnectionId,
    mut reader: R,
    queue: &mpsc::Sender<Bytes>,
) -> &'static str {
    let Link {
        protocol,
        peer,
        local,
        inbound,
    } = link;
    let config = &shared.config;
    let mut framer = StreamFramer::new(config.framing);
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut shutdown = shared.shutdown.clone();
    let mut last_read = Instant::now();
    let mut first_message_by = inbound.then(|| last_read + config.handshake_timeout);
    let mut partial_since: Option<Instant> = None;
    loop {
        let mut deadline = last_read + config.idle_timeout;
        if let Some(since) = partial_since {
            deadline = deadline.min(since + config.message_timeout);
        }
        if let Some(by) = first_message_by {
            deadline = deadline.min(by);
        }
        let read = tokio::select! {
            _ = stopped(&mut shutdown) => return "shutdown",
            _ = sleep_until(deadline) => {
                shared.counters.idle_close(protocol);
                return if partial_since.is_some() { "message timeout" } else { "idle timeout" };
            }
            read = reader.read(&mut chunk) => read,
        };
        let len = match read {
            Ok(0) => return "closed by peer",
            Ok(len) => len,
            Err(_) => return "read error",
        };
        let now = Instant::now();
        last_read = now;
        if framer.push(&chunk[..len]).is_err() {
            shared.counters.framing_error(protocol);
            return "framing error";
        }
        loop {
            match framer.poll_frame() {
                Ok(None) => break,
                Ok(Some(Framed::Message(contents))) => {
                    first_message_by = None;
                    shared.counters.received(protocol);
                    let receive = Receive {
                        protocol,
                        source: peer,
                        destination: local,
                        connection: Some(id),
                        contents,
                    };
                    if shared.receive.send(receive).await.is_err() {
                        return "receiver gone";
                    }
                }
                Ok(Some(Framed::Ping)) => {
                    let _ = queue.try_send(Bytes::from_static(b"\r\n"));
                }
                Ok(Some(_)) => {}
                Err(e) => {
                    shared.counters.framing_error(protocol);
                    debug!(error = %e, "framing error");
                    return "framing error";
                }
            }
        }
        partial_since = if framer.is_partial() {
            partial_since.or(Some(now))
        } else {
            None
        };
    }
}

/// Opens an outbound TCP or TLS connection to `destination` and sends `first`.
pub(crate) async fn connect(
    shared: &Arc<Shared>,
    protocol: TransportProtocol,
    destination: SocketAddr,
    first: Bytes,
) -> Result<(), TransportError> {
    let connector = match protocol {
        TransportProtocol::Tls => Some(
            shared
                .tls_connector
                .clone()
                .ok_or(TransportError::NoTlsClientConfig(destination))?,
        ),
        _ => None,
    };
    let slot = shared
        .table
        .reserve(destination.ip())
        .ok_or(TransportError::ConnectionLimit(destination))?;
    let connect_error = |source| TransportError::Connect {
        protocol,
        destination,
        source,
    };
    let timed_out = || {
        connect_error(io::Error::new(
            io::ErrorKind::TimedOut,
            "handshake timed out",
        ))
    };
    let deadline = Instant::now() + shared.config.handshake_timeout;
    let tcp = tokio::time::timeout_at(deadline, TcpStream::connect(destination))
        .await
        .map_err(|_| timed_out())?
        .map_err(connect_error)?;
    let _ = tcp.set_nodelay(true);
    let local = tcp.local_addr().map_err(connect_error)?;
    let span = debug_span!("sip_connection", %protocol, peer = %destination, id = %slot.id());
    let shared = Arc::clone(shared);
    let outbound_link = Link {
        protocol,
        peer: destination,
        local,
        inbound: false,
    };
    match connector {
        None => {
            let channels = span.in_scope(|| register(&shared, &slot, protocol, destination));
            let _ = channels.0.try_send(first);
            let serve = serve_stream(shared, slot, outbound_link, tcp, channels);
            tokio::spawn(serve.instrument(span));
        }
        Some(connector) => {
            let name = rustls::pki_types::ServerName::IpAddress(destination.ip().into());
            let tls = tokio::time::timeout_at(deadline, connector.connect(name, tcp))
                .await
                .map_err(|_| timed_out())?
                .map_err(connect_error)?;
            let channels = span.in_scope(|| register(&shared, &slot, protocol, destination));
            let _ = channels.0.try_send(first);
            let serve = serve_stream(shared, slot, outbound_link, tls, channels);
            tokio::spawn(serve.instrument(span));
        }
    }
    Ok(())
}
