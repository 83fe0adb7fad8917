//! The glue between [`voip_sip::transport::Transports`] and the sans-IO
//! [`Responder`]: one task that `select!`s over received messages and
//! shutdown, feeds the responder with the current time and sends whatever it
//! polls out.
//!
//! This is the only module that knows the transport API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::{mpsc, watch};
use voip_core::{Receive, TransportProtocol};
use voip_sip::transport::{TransportConfig, TransportError, Transports};

use super::Counters;
use super::responder::{Responder, ResponderStats};
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

const TLS_FIX: &str =
    "give a PEM certificate chain with --tls-cert FILE and its key with --tls-key FILE";

fn startup_error(error: TransportError) -> Error {
    match error {
        TransportError::Bind {
            protocol,
            addr,
            source,
        } => {
            let (what, flag) = describe(protocol);
            Error::Listen {
                what,
                flag,
                addr,
                source,
            }
        }
        TransportError::TlsFile { path, reason } => Error::Config(format!(
            "invalid TLS file {}: {reason} ({TLS_FIX})",
            path.display()
        )),
        TransportError::NoTlsIdentity => Error::Config(format!(
            "a TLS or WSS listener needs a certificate and key ({TLS_FIX})"
        )),
        TransportError::Tls(error) => {
            Error::Config(format!("TLS configuration rejected: {error} ({TLS_FIX})"))
        }
        other => Error::Internal(format!("cannot start the SIP transports: {other}")),
    }
}

fn transport_config(config: &Config) -> Result<Arc<TransportConfig>, Error> {
    let mut transports = TransportConfig::default();
    if let Some(addr) = config.sip_udp {
        transports = transports.udp(addr);
    }
    if let Some(addr) = config.sip_tcp {
        transports = transports.tcp(addr);
    }
    if let Some(addr) = config.sip_tls {
        transports = transports.tls(addr);
    }
    if let Some(addr) = config.sip_ws {
        transports = transports.ws(addr);
    }
    if let Some(addr) = config.sip_wss {
        transports = transports.wss(addr);
    }
    if let (Some(cert), Some(key)) = (&config.tls_cert, &config.tls_key) {
        transports = transports.tls_identity(cert, key);
    }
    transports
        .build()
        .map_err(|error| Error::Config(format!("{error} ({TLS_FIX})")))
}

impl Driver {
    /// Binds every configured SIP listener.
    pub async fn bind(config: &Config) -> Result<Self, Error> {
        let (transports, received) = Transports::bind(transport_config(config)?)
            .await
            .map_err(startup_error)?;
        let listeners = TransportProtocol::ALL
            .into_iter()
            .filter_map(|protocol| transports.local_addr(protocol).map(|addr| (protocol, addr)))
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

    /// Runs until `shutdown` turns true or the transports stop, then shuts
    /// the transports down.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, counters: Arc<Counters>) {
        let mut last = ResponderStats::default();
        loop {
            // The responder is stateless and has no timers yet; when it gains
            // `poll_timeout()`, add `sleep_until(deadline) => handle_timeout(now)`.
            tokio::select! {
                received = self.received.recv() => {
                    let Some(received) = received else {
                        tracing::warn!("SIP transports stopped");
                        break;
                    };
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    super::count_received(received.protocol, &received.contents);
                    tracing::trace!(protocol = %received.protocol, source = %received.source, bytes = received.contents.len(), "received");
                    self.responder.handle_receive(Instant::now(), received);
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
            last = export_stats(last, self.responder.stats(), &counters);
            while let Some(transmit) = self.responder.poll_transmit() {
                let protocol = transmit.protocol;
                let destination = transmit.destination;
                super::count_sent(protocol, &transmit.contents);
                match self.transports.send(transmit).await {
                    Ok(()) => {
                        counters.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(error) => {
                        counters.send_errors.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("sip_send_errors_total", "transport" => protocol.as_str())
                            .increment(1);
                        tracing::debug!(%protocol, %destination, %error, "send failed");
                    }
                }
            }
        }
        self.transports.shutdown();
    }
}

/// Adds what the responder did since `last` to the metrics.
fn export_stats(last: ResponderStats, now: ResponderStats, counters: &Counters) -> ResponderStats {
    if now != last {
        let malformed = now.malformed.saturating_sub(last.malformed);
        counters.malformed.fetch_add(malformed, Ordering::Relaxed);
        metrics::counter!("sip_malformed_total").increment(malformed);
        metrics::counter!("sip_malformed_dropped_total")
            .increment(now.malformed_dropped.saturating_sub(last.malformed_dropped));
        metrics::counter!("sip_stray_responses_total")
            .increment(now.responses_dropped.saturating_sub(last.responses_dropped));
    }
    now
}
