//! A minimal stand-in for `voip_sip::transport::Transports` (UDP, and TCP
//! framed by Content-Length) with the same shape, used until the real
//! transports land. WS/TLS/WSS addresses are bound (so ports are reserved and
//! reported) but not served. Delete this file when the driver switches.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use voip_core::{ConnectionId, Receive, Transmit, TransportProtocol};

/// Largest message accepted on a stream.
const MAX_MESSAGE: usize = 64 * 1024;

/// A bind failure: which listener and why.
#[derive(Debug)]
pub struct BindError {
    /// The listener.
    pub protocol: TransportProtocol,
    /// Its address.
    pub addr: SocketAddr,
    /// Why.
    pub source: io::Error,
}

type Writers = Arc<Mutex<HashMap<ConnectionId, mpsc::Sender<Bytes>>>>;

/// The bound sockets.
#[derive(Debug)]
pub struct Transports {
    udp: Option<Arc<UdpSocket>>,
    local: Vec<(TransportProtocol, SocketAddr)>,
    writers: Writers,
}

impl Transports {
    /// Binds every listener in `listen`.
    pub async fn bind(
        listen: &[(TransportProtocol, SocketAddr)],
    ) -> Result<(Self, mpsc::Receiver<Receive>), BindError> {
        let (tx, rx) = mpsc::channel(4096);
        let writers: Writers = Arc::default();
        let next_id = Arc::new(AtomicU64::new(1));
        let mut this = Self {
            udp: None,
            local: Vec::new(),
            writers: writers.clone(),
        };
        for &(protocol, addr) in listen {
            let fail = |source| BindError {
                protocol,
                addr,
                source,
            };
            if protocol == TransportProtocol::Udp {
                let socket = Arc::new(UdpSocket::bind(addr).await.map_err(fail)?);
                let local = socket.local_addr().map_err(fail)?;
                this.local.push((protocol, local));
                tokio::spawn(udp_loop(socket.clone(), local, tx.clone()));
                this.udp = Some(socket);
                continue;
            }
            let listener = TcpListener::bind(addr).await.map_err(fail)?;
            let local = listener.local_addr().map_err(fail)?;
            this.local.push((protocol, local));
            if protocol == TransportProtocol::Tcp {
                tokio::spawn(accept_loop(
                    listener,
                    local,
                    tx.clone(),
                    writers.clone(),
                    next_id.clone(),
                ));
            } else {
                tracing::warn!(%protocol, %local, "stand-in transport: bound but not served yet");
                tokio::spawn(async move {
                    // Hold the port; refuse connections by dropping them.
                    while let Ok((stream, _)) = listener.accept().await {
                        drop(stream);
                    }
                });
            }
        }
        Ok((this, rx))
    }

    /// The bound address of a listener.
    pub fn local_addr(&self, protocol: TransportProtocol) -> Option<SocketAddr> {
        self.local
            .iter()
            .find(|(p, _)| *p == protocol)
            .map(|(_, addr)| *addr)
    }

    /// Sends one message.
    pub async fn send(&self, transmit: Transmit) -> io::Result<()> {
        match transmit.protocol {
            TransportProtocol::Udp => match &self.udp {
                Some(socket) => socket
                    .send_to(&transmit.contents, transmit.destination)
                    .await
                    .map(drop),
                None => Err(io::Error::other("no UDP listener")),
            },
            _ => {
                let writer = transmit.connection.and_then(|id| {
                    self.writers
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .get(&id)
                        .cloned()
                });
                match writer {
                    Some(writer) => writer
                        .send(transmit.contents)
                        .await
                        .map_err(|_| io::Error::from(io::ErrorKind::NotConnected)),
                    None => Err(io::Error::from(io::ErrorKind::NotConnected)),
                }
            }
        }
    }
}

async fn udp_loop(socket: Arc<UdpSocket>, local: SocketAddr, tx: mpsc::Sender<Receive>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((len, source)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let receive = Receive {
            protocol: TransportProtocol::Udp,
            source,
            destination: local,
            connection: None,
            contents: Bytes::copy_from_slice(&buf[..len]),
        };
        if tx.send(receive).await.is_err() {
            return;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    local: SocketAddr,
    tx: mpsc::Sender<Receive>,
    writers: Writers,
    next_id: Arc<AtomicU64>,
) {
    while let Ok((stream, peer)) = listener.accept().await {
        let id = ConnectionId(next_id.fetch_add(1, Ordering::Relaxed));
        tokio::spawn(connection(
            stream,
            peer,
            local,
            id,
            tx.clone(),
            writers.clone(),
        ));
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    id: ConnectionId,
    tx: mpsc::Sender<Receive>,
    writers: Writers,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (out_tx, mut out_rx) = mpsc::channel::<Bytes>(64);
    writers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, out_tx);
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = out_rx.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
    });
    let mut buf = BytesMut::with_capacity(8192);
    'read: loop {
        match reader.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        loop {
            match frame(&mut buf) {
                Ok(Some(contents)) => {
                    let receive = Receive {
                        protocol: TransportProtocol::Tcp,
                        source: peer,
                        destination: local,
                        connection: Some(id),
                        contents,
                    };
                    if tx.send(receive).await.is_err() {
                        break 'read;
                    }
                }
                Ok(None) => break,
                Err(()) => break 'read,
            }
        }
    }
    writers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&id);
    // Let queued responses go out before the socket closes.
    let _ = write_task.await;
}

/// Splits one message off the front of `buf` (RFC 3261 §18.3): skips CRLF
/// keep-alives, needs Content-Length; `Err` closes the connection.
fn frame(buf: &mut BytesMut) -> Result<Option<Bytes>, ()> {
    let skip = buf
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    let _ = buf.split_to(skip);
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_MESSAGE {
            Err(())
        } else {
            Ok(None)
        };
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(drop)?;
    let mut length = None;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
            if length.is_some() {
                return Err(());
            }
            length = Some(value.trim().parse::<usize>().map_err(drop)?);
        }
    }
    let total = end + 4 + length.ok_or(())?;
    if total > MAX_MESSAGE {
        return Err(());
    }
    if buf.len() < total {
        return Ok(None);
    }
    Ok(Some(buf.split_to(total).freeze()))
}
