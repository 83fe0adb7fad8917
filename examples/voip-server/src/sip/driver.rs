//! The glue between the transports and the sans-IO [`Responder`]: one task
//! that `select!`s over received messages and shutdown, feeds the responder
//! with the current time and sends whatever it polls out.
//!
//! This is the only module that knows the transport API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use voip_core::{Receive, TransportProtocol};

use super::Counters;
use super::responder::Responder;
use super::standin::{BindError, Transports};
use crate::config::Config;
use crate::error::Error;

/// Bound SIP transports and the responder they feed.
#[derive(Debug)]
pub struct Driver {
    transports: Transports,
    received: mpsc::Receiver<Receive>,
    responder: Responder,
    listeners: Vec<(TransportProtocol, SocketAddr)>,
}

/// The listener name used in logs and ports.json, e.g. `sip-udp`.
pub fn listener_name(protocol: TransportProtocol) -> &'static str {
    match protocol {
        TransportProtocol::Udp => "sip-udp",
        TransportProtocol::Tcp => "sip-tcp",
        TransportProtocol::Tls => "sip-tls",
        TransportProtocol::Ws => "sip-ws",
        TransportProtocol::Wss => "sip-wss",
        _ => "sip-other",
    }
}

fn describe(protocol: TransportProtocol) -> (&'static str, &'static str) {
    match protocol {
        TransportProtocol::Udp => ("SIP over UDP", "--sip-udp"),
        TransportProtocol::Tcp => ("SIP over TCP", "--sip-tcp"),
        TransportProtocol::Tls => ("SIP over TLS", "--sip-tls"),
        TransportProtocol::Ws => ("SIP over WebSocket", "--sip-ws"),
        TransportProtocol::Wss => ("SIP over secure WebSocket", "--sip-wss"),
        _ => ("SIP", "the matching flag"),
    }
}

impl Driver {
    /// Binds every configured SIP listener.
    pub async fn bind(config: &Config) -> Result<Self, Error> {
        let wanted: Vec<(TransportProtocol, SocketAddr)> = [
            (TransportProtocol::Udp, config.sip_udp),
            (TransportProtocol::Tcp, config.sip_tcp),
            (TransportProtocol::Tls, config.sip_tls),
            (TransportProtocol::Ws, config.sip_ws),
            (TransportProtocol::Wss, config.sip_wss),
        ]
        .into_iter()
        .filter_map(|(protocol, addr)| addr.map(|addr| (protocol, addr)))
        .collect();
        let (transports, received) = Transports::bind(&wanted).await.map_err(
            |BindError {
                 protocol,
                 addr,
                 source,
             }| {
                let (what, flag) = describe(protocol);
                Error::Listen {
                    what,
                    flag,
                    addr,
                    source,
                }
            },
        )?;
        let listeners = wanted
            .iter()
            .filter_map(|(protocol, _)| {
                transports
                    .local_addr(*protocol)
                    .map(|addr| (*protocol, addr))
            })
            .collect();
        Ok(Self {
            transports,
            received,
            responder: Responder::new(),
            listeners,
        })
    }

    /// The actual bound addresses (port 0 resolved).
    pub fn listeners(&self) -> &[(TransportProtocol, SocketAddr)] {
        &self.listeners
    }

    /// Runs until `shutdown` turns true or the transports stop.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, counters: Arc<Counters>) {
        loop {
            // The responder is stateless and has no timers yet; when it gains
            // `poll_timeout()`, add `sleep_until(deadline) => handle_timeout(now)`.
            tokio::select! {
                received = self.received.recv() => {
                    let Some(received) = received else {
                        tracing::warn!("SIP transports stopped");
                        return;
                    };
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    super::count_received(received.protocol, &received.contents);
                    tracing::trace!(protocol = %received.protocol, source = %received.source, bytes = received.contents.len(), "received");
                    self.responder.handle_receive(Instant::now(), received);
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        return;
                    }
                }
            }
            while let Some(transmit) = self.responder.poll_transmit() {
                let protocol = transmit.protocol;
                let destination = transmit.destination;
                super::count_sent(protocol, &transmit.contents);
                let bytes = transmit.contents.len();
                match self.transports.send(transmit).await {
                    Ok(()) => {
                        counters.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        counters.send_errors.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("sip_send_errors_total", "transport" => protocol.as_str()).increment(1);
                        tracing::debug!(%protocol, %destination, %error, bytes, "send failed");
                    }
                }
            }
        }
    }
}
