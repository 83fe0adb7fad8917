//! SIP over WebSocket (RFC 7118): the `sip` subprotocol handshake and one SIP
//! message per WebSocket message.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tracing::{Instrument, debug};
use voip_core::{Receive, TransportProtocol};

use super::stream::{handshake_failed, register};
use super::table::Slot;
use super::{Shared, stopped};

/// The WebSocket subprotocol of RFC 7118.
const SUBPROTOCOL: &str = "sip";
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Whether a handshake request offers the `sip` subprotocol.
fn offers_sip(request: &Request) -> bool {
    request
        .headers()
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case(SUBPROTOCOL))
}

/// Answers the handshake with `Sec-WebSocket-Protocol: sip`, or refuses a
/// client that does not offer it with 400 (RFC 7118 §4).
// The signature is tungstenite's `Callback`; its error type is not ours to shrink.
#[allow(clippy::result_large_err)]
fn negotiate(request: &Request, mut response: Response) -> Result<Response, ErrorResponse> {
    if !offers_sip(request) {
        let mut refusal = ErrorResponse::new(Some("websocket subprotocol sip required".into()));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(response)
}

/// Runs the WebSocket handshake on an accepted (and, for WSS, TLS) stream
/// before `deadline`, then serves the connection.
pub(crate) async fn accept<S>(
    shared: Arc<Shared>,
    slot: Slot,
    protocol: TransportProtocol,
    peer: SocketAddr,
    local: SocketAddr,
    stream: S,
    deadline: Instant,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let max = shared.config.max_message_size;
    let ws_config = WebSocketConfig::default()
        .max_message_size(Some(max))
        .max_frame_size(Some(max));
    let handshake =
        tokio_tungstenite::accept_hdr_async_with_config(stream, negotiate, Some(ws_config));
    let ws = match timeout_at(deadline, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => return handshake_failed(&shared, protocol, &e.to_string()),
        Err(_) => return handshake_failed(&shared, protocol, "timed out"),
    };
    serve(shared, slot, protocol, peer, local, ws).await;
}

async fn serve<S>(
    shared: Arc<Shared>,
    slot: Slot,
    protocol: TransportProtocol,
    peer: SocketAddr,
    local: SocketAddr,
    ws: WebSocketStream<S>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (queue, mut outbound) = register(&shared, &slot, protocol, peer);
    let (mut sink, mut messages) = ws.split();
    let mut writer = tokio::spawn(
        async move {
            while let Some(bytes) = outbound.recv().await {
                if sink.send(to_message(bytes)).await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        }
        .in_current_span(),
    );
    let id = slot.id();
    let mut shutdown = shared.shutdown.clone();
    let idle = shared.config.idle_timeout;
    let mut deadline = Instant::now() + idle;
    let why = loop {
        let next = tokio::select! {
            _ = stopped(&mut shutdown) => break "shutdown",
            _ = sleep_until(deadline) => {
                shared.counters.idle_close(protocol);
                break "idle timeout";
            }
            next = messages.next() => next,
        };
        deadline = Instant::now() + idle;
        let contents = match next {
            None => break "closed by peer",
            Some(Ok(Message::Text(text))) => Bytes::from(text),
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Close(_))) => break "close frame",
            // Ping, pong and raw frames: tungstenite answers pings itself.
            Some(Ok(_)) => continue,
            Some(Err(WsError::Capacity(_))) => {
                shared.counters.oversize(protocol);
                break "message over the size limit";
            }
            Some(Err(_)) => {
                shared.counters.framing_error(protocol);
                break "websocket protocol error";
            }
        };
        if contents.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        shared.counters.received(protocol);
        let receive = Receive {
            protocol,
            source: peer,
            destination: local,
            connection: Some(id),
            contents,
        };
        if shared.receive.send(receive).await.is_err() {
            break "receiver gone";
        }
    };
    debug!(reason = why, "connection closing");
    drop(slot);
    drop(queue);
    if timeout(DRAIN_TIMEOUT, &mut writer).await.is_err() {
        writer.abort();
    }
    shared.counters.closed(protocol);
}

/// A text message when the SIP message is UTF-8 (RFC 7118 §5.2), else binary.
fn to_message(bytes: Bytes) -> Message {
    match Utf8Bytes::try_from(bytes.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(protocols: Option<&str>) -> Request {
        let mut request = Request::new(());
        if let Some(p) = protocols {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
        }
        request
    }

    #[test]
    fn sip_subprotocol_is_required_and_answered() {
        let ok = negotiate(&request(Some("chat, sip")), Response::new(())).unwrap();
        assert_eq!(ok.headers()["sec-websocket-protocol"], "sip");
        let refused = negotiate(&request(None), Response::new(())).unwrap_err();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(negotiate(&request(Some("chat")), Response::new(())).is_err());
    }

    #[test]
    fn text_when_utf8() {
        assert!(matches!(
            to_message(Bytes::from_static(b"OPTIONS")),
            Message::Text(_)
        ));
        assert!(matches!(
            to_message(Bytes::from_static(&[0xff, 0xfe])),
            Message::Binary(_)
        ));
    }
}
