//! Counters of the transport drivers, mirrored to the `metrics` facade.

use std::sync::atomic::{AtomicU64, Ordering};

use voip_core::TransportProtocol;

/// Counters of one transport protocol, as returned by
/// [`Transports::stats`](super::Transports::stats).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolStats {
    /// Messages handed to the application.
    pub messages_received: u64,
    /// Messages sent (datagrams sent, or queued on a connection).
    pub messages_sent: u64,
    /// Streams closed because they could not be framed.
    pub framing_errors: u64,
    /// Connections accepted or opened.
    pub connections_opened: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Connections refused by the connection limits.
    pub connections_rejected: u64,
    /// Connections closed for idleness or a message that took too long.
    pub idle_closes: u64,
    /// Messages dropped for exceeding the size limit.
    pub oversize_drops: u64,
    /// Messages dropped because a connection's send queue was full.
    pub send_drops: u64,
    /// TLS or WebSocket handshakes that failed or timed out.
    pub handshake_failures: u64,
}

/// A snapshot of all transport counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransportStats {
    per_protocol: [ProtocolStats; 5],
}

impl TransportStats {
    /// The counters of one protocol.
    pub fn protocol(&self, protocol: TransportProtocol) -> ProtocolStats {
        self.per_protocol[index(protocol)]
    }
}

#[derive(Debug, Default)]
struct Cells {
    received: AtomicU64,
    sent: AtomicU64,
    framing_errors: AtomicU64,
    opened: AtomicU64,
    open: AtomicU64,
    rejected: AtomicU64,
    idle_closes: AtomicU64,
    oversize: AtomicU64,
    send_drops: AtomicU64,
    handshake_failures: AtomicU64,
}

/// The live counters shared by all driver tasks.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    cells: [Cells; 5],
}

fn index(protocol: TransportProtocol) -> usize {
    TransportProtocol::ALL
        .iter()
        .position(|p| *p == protocol)
        .unwrap_or(0)
}

macro_rules! counter_fn {
    ($fn:ident, $field:ident, $metric:literal) => {
        pub(crate) fn $fn(&self, protocol: TransportProtocol) {
            self.cells[index(protocol)]
                .$field
                .fetch_add(1, Ordering::Relaxed);
            metrics::counter!($metric, "transport" => protocol.as_uri_param()).increment(1);
        }
    };
}

impl Counters {
    counter_fn!(received, received, "sip_transport_messages_received_total");
    counter_fn!(sent, sent, "sip_transport_messages_sent_total");
    counter_fn!(
        framing_error,
        framing_errors,
        "sip_transport_framing_errors_total"
    );
    counter_fn!(
        rejected,
        rejected,
        "sip_transport_connections_rejected_total"
    );
    counter_fn!(idle_close, idle_closes, "sip_transport_idle_closes_total");
    counter_fn!(oversize, oversize, "sip_transport_oversize_drops_total");
    counter_fn!(send_drop, send_drops, "sip_transport_send_drops_total");
    counter_fn!(
        handshake_failure,
        handshake_failures,
        "sip_transport_handshake_failures_total"
    );

    /// A connection opened: counts it and raises the open gauge.
    pub(crate) fn opened(&self, protocol: TransportProtocol) {
        let cells = &self.cells[index(protocol)];
        cells.opened.fetch_add(1, Ordering::Relaxed);
        cells.open.fetch_add(1, Ordering::Relaxed);
        let transport = protocol.as_uri_param();
        metrics::counter!("sip_transport_connections_opened_total", "transport" => transport)
            .increment(1);
        metrics::gauge!("sip_transport_connections_open", "transport" => transport).increment(1.0);
    }

    /// A connection closed: lowers the open gauge.
    pub(crate) fn closed(&self, protocol: TransportProtocol) {
        let _ = self.cells[index(protocol)].open.fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            |n| n.checked_sub(1),
        );
        metrics::gauge!("sip_transport_connections_open", "transport" => protocol.as_uri_param())
            .decrement(1.0);
    }

    pub(crate) fn snapshot(&self) -> TransportStats {
        let mut stats = TransportStats::default();
        for (out, c) in stats.per_protocol.iter_mut().zip(&self.cells) {
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            *out = ProtocolStats {
                messages_received: get(&c.received),
                messages_sent: get(&c.sent),
                framing_errors: get(&c.framing_errors),
                connections_opened: get(&c.opened),
                connections_open: get(&c.open),
                connections_rejected: get(&c.rejected),
                idle_closes: get(&c.idle_closes),
                oversize_drops: get(&c.oversize),
                send_drops: get(&c.send_drops),
                handshake_failures: get(&c.handshake_failures),
            };
        }
        stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_protocol() {
        let counters = Counters::default();
        counters.received(TransportProtocol::Tcp);
        counters.opened(TransportProtocol::Ws);
        counters.closed(TransportProtocol::Ws);
        counters.closed(TransportProtocol::Ws);
        let stats = counters.snapshot();
        assert_eq!(stats.protocol(TransportProtocol::Tcp).messages_received, 1);
        assert_eq!(stats.protocol(TransportProtocol::Udp).messages_received, 0);
        let ws = stats.protocol(TransportProtocol::Ws);
        assert_eq!((ws.connections_opened, ws.connections_open), (1, 0));
    }
}
