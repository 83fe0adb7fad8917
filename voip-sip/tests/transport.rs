//! The tokio transport drivers over loopback: UDP, TCP, TLS and WebSocket.
#![cfg(feature = "tokio")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use voip_core::{Receive, Transmit, TransportProtocol};
use voip_sip::transport::{TransportConfig, TransportError, Transports};

const DEADLINE: Duration = Duration::from_secs(10);

const OPTIONS: &[u8] = b"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-1\r\n\
Max-Forwards: 70\r\n\
From: <sip:alice@127.0.0.1>;tag=1\r\n\
To: <sip:bob@127.0.0.1>\r\n\
Call-ID: transport-test\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

const OK: &[u8] = b"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n";

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start(config: TransportConfig) -> (Transports, mpsc::Receiver<Receive>) {
    Transports::bind(config.build().unwrap()).await.unwrap()
}

async fn next(rx: &mut mpsc::Receiver<Receive>) -> Receive {
    timeout(DEADLINE, rx.recv())
        .await
        .expect("no message in time")
        .expect("channel closed")
}

/// Reads exactly `n` bytes.
async fn read_n<R: AsyncReadExt + Unpin>(reader: &mut R, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    timeout(DEADLINE, reader.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    buf
}

/// Waits until the server closes the stream (EOF or reset).
async fn closed<R: AsyncReadExt + Unpin>(reader: &mut R) {
    let mut buf = [0u8; 1024];
    timeout(DEADLINE, async {
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("connection not closed in time");
}

/// Sends OPTIONS on `stream` and checks it arrives and a reply comes back.
async fn round_trip(stream: &mut TcpStream, rx: &mut mpsc::Receiver<Receive>, t: &Transports) {
    stream.write_all(OPTIONS).await.unwrap();
    let received = next(rx).await;
    assert_eq!(&received.contents[..], OPTIONS);
    t.send(Transmit::reply_to(&received, Bytes::from_static(OK)))
        .await
        .unwrap();
    assert_eq!(read_n(stream, OK.len()).await, OK);
}

#[tokio::test]
async fn udp_receive_and_reply() {
    let (t, mut rx) = start(TransportConfig::default().udp(loopback())).await;
    let server = t.local_addr(TransportProtocol::Udp).unwrap();
    let client = UdpSocket::bind(loopback()).await.unwrap();
    client.send_to(b"\r\n\r\n", server).await.unwrap(); // keep-alive: ignored
    client.send_to(OPTIONS, server).await.unwrap();
    let received = next(&mut rx).await;
    assert_eq!(received.protocol, TransportProtocol::Udp);
    assert_eq!(received.source, client.local_addr().unwrap());
    assert_eq!(received.destination, server);
    assert_eq!(received.connection, None);
    assert_eq!(&received.contents[..], OPTIONS);

    t.send(Transmit::reply_to(&received, Bytes::from_static(OK)))
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let (n, from) = timeout(DEADLINE, client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((&buf[..n], from), (OK, server));
    let stats = t.stats().protocol(TransportProtocol::Udp);
    assert_eq!((stats.messages_received, stats.messages_sent), (1, 1));
}

#[tokio::test]
async fn udp_oversize_datagram_is_dropped() {
    let config = TransportConfig::default()
        .udp(loopback())
        .max_message_size(1024);
    let (t, mut rx) = start(config).await;
    let server = t.local_addr(TransportProtocol::Udp).unwrap();
    let client = UdpSocket::bind(loopback()).await.unwrap();
    client.send_to(&[b'x'; 2000], server).await.unwrap();
    client.send_to(OPTIONS, server).await.unwrap();
    assert_eq!(&next(&mut rx).await.contents[..], OPTIONS);
    assert_eq!(t.stats().protocol(TransportProtocol::Udp).oversize_drops, 1);
}

#[tokio::test]
async fn tcp_split_writes_reply_and_keep_alive() {
    let (t, mut rx) = start(TransportConfig::default().tcp(loopback())).await;
    let server = t.local_addr(TransportProtocol::Tcp).unwrap();
    let mut client = TcpStream::connect(server).await.unwrap();
    client.set_nodelay(true).unwrap();
    for part in [&OPTIONS[..10], &OPTIONS[10..100], &OPTIONS[100..]] {
        client.write_all(part).await.unwrap();
        client.flush().await.unwrap();
    }
    let received = next(&mut rx).await;
    assert_eq!(received.protocol, TransportProtocol::Tcp);
    assert_eq!(received.source, client.local_addr().unwrap());
    assert_eq!(received.destination, server);
    assert!(received.connection.is_some());
    assert_eq!(&received.contents[..], OPTIONS);

    t.send(Transmit::reply_to(&received, Bytes::from_static(OK)))
        .await
        .unwrap();
    assert_eq!(read_n(&mut client, OK.len()).await, OK);

    // RFC 5626 keep-alive: a double CRLF ping gets a single CRLF pong.
    client.write_all(b"\r\n\r\n").await.unwrap();
    assert_eq!(read_n(&mut client, 2).await, b"\r\n");

    // Without the connection id, the open connection to the peer is reused.
    let mut by_peer = Transmit::reply_to(&received, Bytes::from_static(OK));
    by_peer.connection = None;
    t.send(by_peer).await.unwrap();
    assert_eq!(read_n(&mut client, OK.len()).await, OK);
    assert_eq!(
        t.stats()
            .protocol(TransportProtocol::Tcp)
            .connections_opened,
        1
    );
}

#[tokio::test]
async fn tcp_outbound_connection_is_registered_for_replies() {
    let (a, mut a_rx) = start(TransportConfig::default().tcp(loopback())).await;
    let (b, mut b_rx) = start(TransportConfig::default().tcp(loopback())).await;
    let b_addr = b.local_addr(TransportProtocol::Tcp).unwrap();
    a.send(Transmit {
        protocol: TransportProtocol::Tcp,
        source: None,
        destination: b_addr,
        connection: None,
        contents: Bytes::from_static(OPTIONS),
    })
    .await
    .unwrap();
    let at_b = next(&mut b_rx).await;
    assert_eq!(&at_b.contents[..], OPTIONS);
    b.send(Transmit::reply_to(&at_b, Bytes::from_static(OK)))
        .await
        .unwrap();
    let at_a = next(&mut a_rx).await;
    assert_eq!(&at_a.contents[..], OK);
    assert_eq!(at_a.source, b_addr);
    assert!(at_a.connection.is_some());
    assert_eq!(a.connection_count(), 1);
}

#[tokio::test]
async fn connection_limit_rejects_the_extra_connection() {
    let config = TransportConfig::default()
        .tcp(loopback())
        .max_connections(2);
    let (t, mut rx) = start(config).await;
    let server = t.local_addr(TransportProtocol::Tcp).unwrap();
    let mut first = TcpStream::connect(server).await.unwrap();
    round_trip(&mut first, &mut rx, &t).await;
    let mut second = TcpStream::connect(server).await.unwrap();
    round_trip(&mut second, &mut rx, &t).await;

    let mut third = TcpStream::connect(server).await.unwrap();
    closed(&mut third).await;
    assert_eq!(
        t.stats()
            .protocol(TransportProtocol::Tcp)
            .connections_rejected,
        1
    );
    round_trip(&mut first, &mut rx, &t).await;
    round_trip(&mut second, &mut rx, &t).await;
}

#[tokio::test]
async fn idle_connection_is_closed() {
    let config = TransportConfig::default()
        .tcp(loopback())
        .idle_timeout(Duration::from_millis(200));
    let (t, _rx) = start(config).await;
    let server = t.local_addr(TransportProtocol::Tcp).unwrap();
    let mut client = TcpStream::connect(server).await.unwrap();
    closed(&mut client).await;
    assert_eq!(t.stats().protocol(TransportProtocol::Tcp).idle_closes, 1);
}

#[tokio::test]
async fn garbage_stream_is_closed_without_harming_others() {
    let (t, mut rx) = start(TransportConfig::default().tcp(loopback())).await;
    let server = t.local_addr(TransportProtocol::Tcp).unwrap();
    let mut good = TcpStream::connect(server).await.unwrap();
    round_trip(&mut good, &mut rx, &t).await;

    let mut bad = TcpStream::connect(server).await.unwrap();
    // No empty line within the header limit (16 KiB by default).
    let _ = bad.write_all(&[b'g'; 20_000]).await;
    closed(&mut bad).await;
    assert_eq!(t.stats().protocol(TransportProtocol::Tcp).framing_errors, 1);

    let mut no_length = TcpStream::connect(server).await.unwrap();
    let _ = no_length
        .write_all(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n")
        .await;
    closed(&mut no_length).await;
    round_trip(&mut good, &mut rx, &t).await;
}

/// A self-signed certificate for `localhost` and 127.0.0.1 in a fresh
/// directory; returns the cert path, key path and the certificate.
fn identity(name: &str) -> (PathBuf, PathBuf, rustls::pki_types::CertificateDer<'static>) {
    let dir = std::env::temp_dir().join(format!("voip-sip-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key, certified.cert.der().clone())
}

fn client_config(cert: rustls::pki_types::CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

#[tokio::test]
async fn tls_receive_and_reply() {
    let (cert, key, der) = identity("tls");
    let (t, mut rx) = start(
        TransportConfig::default()
            .tls(loopback())
            .tls_identity(cert, key),
    )
    .await;
    let server = t.local_addr(TransportProtocol::Tls).unwrap();
    let tcp = TcpStream::connect(server).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let connector = TlsConnector::from(client_config(der));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = timeout(DEADLINE, connector.connect(name, tcp))
        .await
        .unwrap()
        .unwrap();
    tls.write_all(&OPTIONS[..50]).await.unwrap();
    tls.flush().await.unwrap();
    tls.write_all(&OPTIONS[50..]).await.unwrap();
    tls.flush().await.unwrap();
    let received = next(&mut rx).await;
    assert_eq!(received.protocol, TransportProtocol::Tls);
    assert_eq!(received.source, local);
    assert!(received.connection.is_some());
    assert_eq!(&received.contents[..], OPTIONS);
    t.send(Transmit::reply_to(&received, Bytes::from_static(OK)))
        .await
        .unwrap();
    assert_eq!(read_n(&mut tls, OK.len()).await, OK);
}

#[tokio::test]
async fn tls_outbound_uses_the_client_config() {
    let (cert, key, der) = identity("tls-out");
    let (b, mut b_rx) = start(
        TransportConfig::default()
            .tls(loopback())
            .tls_identity(cert, key),
    )
    .await;
    let (a, mut a_rx) =
        start(TransportConfig::default().tls_client_config(client_config(der))).await;
    let b_addr = b.local_addr(TransportProtocol::Tls).unwrap();
    let request = Transmit {
        protocol: TransportProtocol::Tls,
        source: None,
        destination: b_addr,
        connection: None,
        contents: Bytes::from_static(OPTIONS),
    };
    a.send(request).await.unwrap();
    let at_b = next(&mut b_rx).await;
    b.send(Transmit::reply_to(&at_b, Bytes::from_static(OK)))
        .await
        .unwrap();
    assert_eq!(&next(&mut a_rx).await.contents[..], OK);
}

#[tokio::test]
async fn bad_tls_files_are_named_in_the_error() {
    let config = TransportConfig::default()
        .tls(loopback())
        .tls_identity("/nonexistent/cert.pem", "/nonexistent/key.pem")
        .build()
        .unwrap();
    let err = Transports::bind(config).await.unwrap_err();
    assert!(matches!(err, TransportError::TlsFile { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
}

#[tokio::test]
async fn bind_conflict_names_protocol_and_address() {
    let (t, _rx) = start(TransportConfig::default().tcp(loopback())).await;
    let taken = t.local_addr(TransportProtocol::Tcp).unwrap();
    let config = TransportConfig::default().tcp(taken).build().unwrap();
    let err = Transports::bind(config).await.unwrap_err();
    assert_eq!(err.io_kind(), Some(std::io::ErrorKind::AddrInUse));
    let text = err.to_string();
    assert!(
        text.contains("TCP") && text.contains(&taken.to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn websocket_with_sip_subprotocol() {
    let (t, mut rx) = start(TransportConfig::default().ws(loopback())).await;
    let server = t.local_addr(TransportProtocol::Ws).unwrap();

    // Without the sip subprotocol the handshake is refused.
    let tcp = TcpStream::connect(server).await.unwrap();
    let request = format!("ws://{server}/").into_client_request().unwrap();
    let refused = timeout(DEADLINE, tokio_tungstenite::client_async(request, tcp))
        .await
        .unwrap();
    assert!(refused.is_err());

    let tcp = TcpStream::connect(server).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let mut request = format!("ws://{server}/").into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
    let (mut ws, response) = timeout(DEADLINE, tokio_tungstenite::client_async(request, tcp))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "sip");

    let text = std::str::from_utf8(OPTIONS).unwrap();
    ws.send(Message::text(text)).await.unwrap();
    let received = next(&mut rx).await;
    assert_eq!(received.protocol, TransportProtocol::Ws);
    assert_eq!(received.source, local);
    assert!(received.connection.is_some());
    assert_eq!(&received.contents[..], OPTIONS);

    t.send(Transmit::reply_to(&received, Bytes::from_static(OK)))
        .await
        .unwrap();
    let reply = timeout(DEADLINE, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.into_data(), Bytes::from_static(OK));
}

#[tokio::test]
async fn trickled_message_times_out() {
    let config = TransportConfig::default()
        .tcp(loopback())
        .message_timeout(Duration::from_millis(200));
    let (t, mut rx) = start(config).await;
    let server = t.local_addr(TransportProtocol::Tcp).unwrap();
    let mut good = TcpStream::connect(server).await.unwrap();
    let mut slow = TcpStream::connect(server).await.unwrap();
    slow.write_all(&OPTIONS[..40]).await.unwrap();
    closed(&mut slow).await;
    assert_eq!(t.stats().protocol(TransportProtocol::Tcp).idle_closes, 1);
    round_trip(&mut good, &mut rx, &t).await;
}

#[tokio::test]
async fn secure_websocket_with_sip_subprotocol() {
    let (cert, key, der) = identity("wss");
    let config = TransportConfig::default()
        .wss(loopback())
        .tls_identity(cert, key)
        .max_message_size(1024);
    let (t, mut rx) = start(config).await;
    let server = t.local_addr(TransportProtocol::Wss).unwrap();

    let connect = || async {
        let tcp = TcpStream::connect(server).await.unwrap();
        let connector = TlsConnector::from(client_config(der.clone()));
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = timeout(DEADLINE, connector.connect(name, tcp))
            .await
            .unwrap()
            .unwrap();
        let mut request = "wss://localhost/".into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "sip".parse().unwrap());
        let (ws, _) = timeout(DEADLINE, tokio_tungstenite::client_async(request, tls))
            .await
            .unwrap()
            .unwrap();
        ws
    };
    let mut ws = connect().await;
    ws.send(Message::binary(Bytes::from_static(OPTIONS)))
        .await
        .unwrap();
    let received = next(&mut rx).await;
    assert_eq!(received.protocol, TransportProtocol::Wss);
    assert_eq!(&received.contents[..], OPTIONS);
    t.send(Transmit::reply_to(&received, Bytes::from_static(OK)))
        .await
        .unwrap();
    let reply = timeout(DEADLINE, ws.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(reply.into_data(), Bytes::from_static(OK));

    // A message over the size limit closes that connection only.
    let mut big = connect().await;
    let _ = big.send(Message::binary(vec![b'x'; 4096])).await;
    timeout(DEADLINE, async {
        while let Some(Ok(_)) = big.next().await {}
    })
    .await
    .unwrap();
    assert_eq!(t.stats().protocol(TransportProtocol::Wss).oversize_drops, 1);
    ws.send(Message::binary(Bytes::from_static(OPTIONS)))
        .await
        .unwrap();
    assert_eq!(&next(&mut rx).await.contents[..], OPTIONS);
}

#[tokio::test]
async fn peer_that_does_not_read_fills_only_its_own_queue() {
    let config = TransportConfig::default()
        .tcp(loopback())
        .connection_queue(4);
    let (t, mut rx) = start(config).await;
    let server = t.local_addr(TransportProtocol::Tcp).unwrap();
    let mut good = TcpStream::connect(server).await.unwrap();
    let mut deaf = TcpStream::connect(server).await.unwrap();
    deaf.write_all(OPTIONS).await.unwrap();
    let from_deaf = next(&mut rx).await;
    let big = Bytes::from(vec![b'x'; 60_000]);
    let full = timeout(DEADLINE, async {
        loop {
            match t.send(Transmit::reply_to(&from_deaf, big.clone())).await {
                Ok(()) => tokio::task::yield_now().await,
                Err(e) => return e,
            }
        }
    })
    .await
    .expect("the queue of a peer that does not read never filled");
    assert!(matches!(full, TransportError::QueueFull(_)), "{full}");
    assert!(t.stats().protocol(TransportProtocol::Tcp).send_drops >= 1);
    round_trip(&mut good, &mut rx, &t).await;
}

#[tokio::test]
async fn silent_connections_are_closed_after_the_handshake_timeout() {
    let (cert, key, _) = identity("half-open");
    let config = TransportConfig::default()
        .tcp(loopback())
        .tls(loopback())
        .tls_identity(cert, key)
        .handshake_timeout(Duration::from_millis(200));
    let (t, _rx) = start(config).await;
    let mut tls = TcpStream::connect(t.local_addr(TransportProtocol::Tls).unwrap())
        .await
        .unwrap();
    closed(&mut tls).await;
    assert_eq!(
        t.stats()
            .protocol(TransportProtocol::Tls)
            .handshake_failures,
        1
    );
    // A TCP connection that never sends a first message is closed as well.
    let mut tcp = TcpStream::connect(t.local_addr(TransportProtocol::Tcp).unwrap())
        .await
        .unwrap();
    closed(&mut tcp).await;
    assert_eq!(t.connection_count(), 0);
}

#[tokio::test]
async fn shutdown_closes_connections_and_refuses_sends() {
    let (t, mut rx) = start(TransportConfig::default().tcp(loopback())).await;
    let server = t.local_addr(TransportProtocol::Tcp).unwrap();
    let mut client = TcpStream::connect(server).await.unwrap();
    client.write_all(OPTIONS).await.unwrap();
    let received = next(&mut rx).await;
    t.shutdown();
    closed(&mut client).await;
    let err = t
        .send(Transmit::reply_to(&received, Bytes::from_static(OK)))
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Shutdown), "{err}");
}
