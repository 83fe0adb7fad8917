//! The glue between [`voip_sip::transport::Transports`] and the sans-IO
//! [`SipCore`]: one task that `select!`s over received messages, the core's
//! next deadline and shutdown, feeds the core with the current time and sends whatever it
//! polls out.
//!
//! With `[media] relay = true` every outgoing message passes the media
//! relay's [`Anchor`] first (SDP rewritten to the relay's ports), ended
//! calls release their relay call, and the relay's counters reach the
//! metrics once a second.
//!
//! This is the only module that knows the transport API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};
use voip_core::{Receive, Rng, TransportProtocol};
use voip_sip::proxy::Interface;
use voip_sip::transport::{TransportConfig, TransportError, Transports};

use super::Counters;
use super::calls::{CallEvent, LegQuality};
use super::core::{CoreConfig, CoreStats, IvrRoute, SipCore};
use super::users::Directory;
use crate::config::Config;
use crate::error::Error;
use crate::media::Anchor;
use crate::media::anchor::AnchorEvent;
use crate::store::cdr::CdrSender;

/// How often the relay's counters are copied to the metrics.
const RELAY_METRICS_EVERY: Duration = Duration::from_secs(1);

/// Bound SIP transports and the core they feed.
#[derive(Debug)]
pub struct Driver {
    transports: Transports,
    received: mpsc::Receiver<Receive>,
    core: SipCore,
    listeners: Vec<(TransportProtocol, SocketAddr)>,
    cdr: CdrSender,
    /// Extensions whose registration the IVR follows, and where to publish it.
    watched: Option<(
        Vec<String>,
        watch::Sender<std::collections::BTreeSet<String>>,
    )>,
    /// The media relay in the send path (`[media] relay = true`).
    media: Option<Anchor>,
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
    /// Binds every configured SIP listener and builds the core.
    pub async fn bind(
        config: &Config,
        cdr: CdrSender,
        flow_secret: Vec<u8>,
        ivr: Option<IvrRoute>,
    ) -> Result<Self, Error> {
        let (transports, received) = Transports::bind(transport_config(config)?)
            .await
            .map_err(startup_error)?;
        let listeners: Vec<(TransportProtocol, SocketAddr)> = TransportProtocol::ALL
            .into_iter()
            .filter_map(|protocol| transports.local_addr(protocol).map(|addr| (protocol, addr)))
            .collect();
        let interfaces = listeners
            .iter()
            .map(|(protocol, addr)| Interface {
                protocol: *protocol,
                addr: advertised(*addr, config.advertise),
            })
            .collect();
        let users = Directory::new(config.users.iter().cloned());
        tracing::info!(domain = %config.domain, users = users.len(), "sip domain");
        if users.is_empty() {
            tracing::warn!("no [[users]] configured: registrations and calls will be refused");
        }
        let core_config = CoreConfig {
            interfaces,
            users,
            domain: config.domain.clone(),
            realm: config.domain.clone(),
            max_auth_failures: config.auth_max_failures,
            ban: Duration::from_secs(config.auth_ban_seconds),
            algorithms: config.auth_algorithms.clone(),
            trunks: config.trunks.clone(),
            dids: config.dids.clone(),
            flow_secret: Some(flow_secret),
            ivr,
        };
        let core = SipCore::new(core_config, Rng::os()).map_err(|error| {
            Error::Config(format!(
                "{error} (check the [auth], domain and [[trunks]] settings)"
            ))
        })?;
        let mut media = Anchor::start(&config.media)
            .map_err(|error| Error::Config(format!("[media]: {error} (fix the [media] table)")))?;
        if let Some(media) = &mut media {
            media
                .set_recording(config.recording.clone())
                .map_err(|error| Error::Config(format!("[recording] dir: {error}")))?;
        } else if config.recording.enabled {
            tracing::warn!(
                "[recording] enabled = true needs [media] relay = true: calls are not recorded"
            );
        }
        if media.is_some() {
            let (low, high) = config.media.rtp_ports;
            tracing::info!(
                ports = %format!("{low}-{high}"),
                public_ip = %config.media.public_ip,
                "media relay anchors calls"
            );
        }
        Ok(Self {
            transports,
            received,
            core,
            listeners,
            cdr,
            watched: None,
            media,
        })
    }

    /// Publishes which of `extensions` are registered to `tx` whenever it
    /// changes (the IVR picks agents from it).
    pub fn watch_registrations(
        &mut self,
        extensions: Vec<String>,
        tx: watch::Sender<std::collections::BTreeSet<String>>,
    ) {
        self.watched = Some((extensions, tx));
    }

    fn publish_registrations(&self) {
        let Some((extensions, tx)) = &self.watched else {
            return;
        };
        let now = Instant::now();
        let set: std::collections::BTreeSet<String> = extensions
            .iter()
            .filter(|e| self.core.is_registered(now, e))
            .cloned()
            .collect();
        tx.send_if_modified(|current| {
            let changed = *current != set;
            if changed {
                *current = set;
            }
            changed
        });
    }

    /// The actual bound addresses (port 0 resolved).
    pub fn listeners(&self) -> &[(TransportProtocol, SocketAddr)] {
        &self.listeners
    }

    /// Runs until `shutdown` turns true or the transports stop, then shuts
    /// the transports down.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>, counters: Arc<Counters>) {
        let mut last = CoreStats::default();
        let mut relay_metrics = tokio::time::interval(RELAY_METRICS_EVERY);
        // trunk registrations: their first REGISTERs go out right away
        self.core.start(Instant::now());
        self.publish_registrations();
        loop {
            // what the last event (or start) queued
            while let Some(event) = self.core.poll_call_event() {
                if let (Some(media), CallEvent::Ended { call_id, .. }) = (&mut self.media, &event)
                    && let Some(summary) = media.end(call_id).await
                {
                    let codec = match &summary.codecs {
                        [Some(a), Some(b)] if a.eq_ignore_ascii_case(b) => Some(a.clone()),
                        [Some(a), Some(b)] => Some(format!("{a}|{b}")),
                        [a, b] => a.clone().or_else(|| b.clone()),
                    };
                    let media_event = CallEvent::Media {
                        call_id: summary.call_id,
                        codec,
                        legs: summary.legs.each_ref().map(LegQuality::of),
                        recording: summary.recording,
                    };
                    if self.cdr.send(media_event).is_err() {
                        tracing::error!("the CDR writer stopped; call records are not written");
                    }
                }
                if self.cdr.send(event).is_err() {
                    tracing::error!("the CDR writer stopped; call records are not written");
                }
            }
            while let Some(transmit) = self.core.poll_transmit() {
                let transmit = match &mut self.media {
                    Some(media) => {
                        let prepared = media.prepare(transmit, |id| self.core.is_ivr_call(id));
                        media.rewrite(prepared).await
                    }
                    None => transmit,
                };
                if let Some(media) = &mut self.media {
                    while let Some(teardown) = media.poll_teardown(|uri| self.core.is_own_uri(uri))
                    {
                        hang_up(&mut self.core, teardown);
                    }
                }
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
            let deadline = self.core.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                received = self.received.recv() => {
                    let Some(received) = received else {
                        tracing::warn!("SIP transports stopped");
                        break;
                    };
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    super::count_received(received.protocol, &received.contents);
                    tracing::trace!(protocol = %received.protocol, source = %received.source, bytes = received.contents.len(), "received");
                    self.core.handle_receive(Instant::now(), SystemTime::now(), received);
                }
                () = sleep => {
                    self.core.handle_timeout(Instant::now(), SystemTime::now());
                }
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
                Some(event) = media_event(&mut self.media) => {
                    if let Some(media) = &mut self.media {
                        match event {
                            AnchorEvent::Relay(event) => media.handle_event(event).await,
                            AnchorEvent::WebRtc(event) => {
                                media.handle_webrtc_event(event);
                                while let Some(teardown) =
                                    media.poll_teardown(|uri| self.core.is_own_uri(uri))
                                {
                                    hang_up(&mut self.core, teardown);
                                }
                            }
                        }
                    }
                }
                _ = relay_metrics.tick(), if self.media.is_some() => {
                    if let Some(media) = &mut self.media {
                        media.export_metrics().await;
                    }
                }
            }
            last = export_stats(last, self.core.stats(), &counters);
            self.publish_registrations();
            counters
                .registrations
                .store(self.core.registrations() as u64, Ordering::Relaxed);
        }
        self.transports.shutdown();
    }
}

/// The next event of the relay or the WebRTC bridges; never, without them.
async fn media_event(media: &mut Option<Anchor>) -> Option<AnchorEvent> {
    match media {
        Some(media) => media.next_any().await,
        None => std::future::pending().await,
    }
}

/// Hangs up a bridged call whose browser media failed: a BYE each way
/// (through the transaction layer) and a failed call record.
fn hang_up(core: &mut SipCore, teardown: crate::media::anchor::Teardown) {
    tracing::warn!(call_id = %teardown.call_id, reason = %teardown.reason, byes = teardown.byes.len(), "hanging up");
    let now = Instant::now();
    for (bye, target) in teardown.byes {
        core.originate(now, bye, target);
    }
    core.end_call(SystemTime::now(), &teardown.call_id, &teardown.reason);
}

/// The address to advertise in Via and Record-Route for a listener: the
/// configured `advertise` IP for wildcard binds, else the bound address.
fn advertised(bound: SocketAddr, advertise: Option<std::net::IpAddr>) -> SocketAddr {
    match advertise {
        Some(ip) if bound.ip().is_unspecified() => SocketAddr::new(ip, bound.port()),
        _ if bound.ip().is_unspecified() => {
            SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), bound.port())
        }
        _ => bound,
    }
}

/// Adds what the core did since `last` to the metrics.
fn export_stats(last: CoreStats, now: CoreStats, counters: &Counters) -> CoreStats {
    if now != last {
        let malformed = now.malformed.saturating_sub(last.malformed);
        counters.malformed.fetch_add(malformed, Ordering::Relaxed);
        metrics::counter!("sip_malformed_total").increment(malformed);
        metrics::counter!("sip_malformed_dropped_total")
            .increment(now.malformed_dropped.saturating_sub(last.malformed_dropped));
        metrics::counter!("sip_stray_responses_total")
            .increment(now.responses.saturating_sub(last.responses));
        metrics::counter!("sip_banned_dropped_total")
            .increment(now.banned_dropped.saturating_sub(last.banned_dropped));
        metrics::counter!("sip_forwarded_total")
            .increment(now.forwarded.saturating_sub(last.forwarded));
    }
    now
}
