//! The UDP driver: one socket, one receive loop.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tracing::debug;
use voip_core::{Receive, TransportProtocol};

use super::{Shared, TransportError, stopped};

/// Binds the UDP socket, with the configured kernel receive buffer.
pub(crate) fn bind(
    addr: SocketAddr,
    recv_buffer: Option<usize>,
) -> Result<UdpSocket, TransportError> {
    let bind_error = |source| TransportError::Bind {
        protocol: TransportProtocol::Udp,
        addr,
        source,
    };
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .map_err(bind_error)?;
    if let Some(bytes) = recv_buffer {
        if let Err(e) = socket.set_recv_buffer_size(bytes) {
            debug!(%addr, bytes, error = %e, "cannot set udp receive buffer size");
        }
    }
    socket.set_nonblocking(true).map_err(bind_error)?;
    socket.bind(&addr.into()).map_err(bind_error)?;
    UdpSocket::from_std(socket.into()).map_err(bind_error)
}

/// Whether a datagram is only whitespace (a keep-alive, not a message).
fn is_keep_alive(datagram: &[u8]) -> bool {
    datagram
        .iter()
        .all(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0))
}

/// Receives datagrams until shutdown and hands them to the application.
pub(crate) async fn receive_loop(shared: Arc<Shared>, socket: Arc<UdpSocket>, local: SocketAddr) {
    let protocol = TransportProtocol::Udp;
    let max = shared.config.max_message_size;
    // One byte more than allowed, to see that a datagram is too large.
    let mut buffer = vec![0u8; max + 1];
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (len, source) = tokio::select! {
            _ = stopped(&mut shutdown) => return,
            received = socket.recv_from(&mut buffer) => match received {
                Ok(received) => received,
                Err(e) => {
                    // ICMP errors of earlier sends surface here; keep going.
                    debug!(error = %e, "udp receive error");
                    continue;
                }
            },
        };
        let datagram = &buffer[..len];
        if len > max {
            shared.counters.oversize(protocol);
            debug!(%source, "udp datagram over the size limit dropped");
            continue;
        }
        if is_keep_alive(datagram) {
            continue;
        }
        shared.counters.received(protocol);
        let receive = Receive {
            protocol,
            source,
            destination: local,
            connection: None,
            contents: Bytes::copy_from_slice(datagram),
        };
        if shared.receive.send(receive).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alives() {
        assert!(is_keep_alive(b"\r\n\r\n"));
        assert!(is_keep_alive(b""));
        assert!(!is_keep_alive(b"OPTIONS"));
    }
}
