//! SIP side of the server: the sans-IO [`core::SipCore`], the tokio
//! [`driver`] that feeds it from the transports, and the counters both the
//! metrics endpoint and the status page read.

pub mod calls;
pub mod core;
pub mod driver;
pub mod trunks;
pub mod users;

use std::sync::atomic::{AtomicU64, Ordering};

use voip_core::TransportProtocol;

/// Methods counted under their own label; anything else is `other`, so a
/// peer cannot grow the metric's cardinality.
const KNOWN_METHODS: [&str; 14] = [
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "SUBSCRIBE",
    "NOTIFY",
    "PUBLISH",
    "INFO",
    "REFER",
    "MESSAGE",
    "UPDATE",
];

/// Message counters shown on the status page (the same events also go to
/// the `metrics` facade with labels).
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages received.
    pub received: AtomicU64,
    /// Messages sent.
    pub sent: AtomicU64,
    /// Messages that could not be sent.
    pub send_errors: AtomicU64,
    /// Messages that did not parse.
    pub malformed: AtomicU64,
    /// Live registrations.
    pub registrations: AtomicU64,
}

impl Counters {
    /// The current values: (received, sent, send errors, malformed).
    pub fn snapshot(&self) -> (u64, u64, u64, u64) {
        (
            self.received.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
            self.send_errors.load(Ordering::Relaxed),
            self.malformed.load(Ordering::Relaxed),
        )
    }
}

/// What the first line of a message says, for counting only (the responder
/// does the real parsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    /// A request with this method label.
    Request(&'static str),
    /// A response with this status code.
    Response(u16),
    /// Neither.
    Garbage,
}

impl StartLine {
    /// Peeks at the start line of `contents`.
    pub fn peek(contents: &[u8]) -> Self {
        let line = contents
            .split(|b| *b == b'\r' || *b == b'\n')
            .next()
            .unwrap_or_default();
        if let Some(rest) = line.strip_prefix(b"SIP/2.0 ") {
            return match rest
                .get(..3)
                .and_then(|code| std::str::from_utf8(code).ok())
            {
                Some(code) => match code.parse::<u16>() {
                    Ok(status @ 100..=699) => Self::Response(status),
                    _ => Self::Garbage,
                },
                None => Self::Garbage,
            };
        }
        let Some(method) = line.split(|b| *b == b' ').next().filter(|m| !m.is_empty()) else {
            return Self::Garbage;
        };
        if !line.ends_with(b"SIP/2.0") {
            return Self::Garbage;
        }
        let label = KNOWN_METHODS
            .iter()
            .find(|known| known.as_bytes() == method)
            .copied()
            .unwrap_or("other");
        Self::Request(label)
    }
}

/// Counts a received message in the `metrics` facade.
pub fn count_received(protocol: TransportProtocol, contents: &[u8]) {
    let transport = protocol.as_str();
    match StartLine::peek(contents) {
        StartLine::Request(method) => {
            metrics::counter!("sip_requests_received_total", "method" => method, "transport" => transport)
                .increment(1);
        }
        StartLine::Response(status) => {
            metrics::counter!("sip_responses_received_total", "status" => status.to_string(), "transport" => transport)
                .increment(1);
        }
        StartLine::Garbage => {
            metrics::counter!("sip_garbage_received_total", "transport" => transport).increment(1);
        }
    }
}

/// Counts a sent message in the `metrics` facade.
pub fn count_sent(protocol: TransportProtocol, contents: &[u8]) {
    let transport = protocol.as_str();
    match StartLine::peek(contents) {
        StartLine::Request(method) => {
            metrics::counter!("sip_requests_sent_total", "method" => method, "transport" => transport)
                .increment(1);
        }
        StartLine::Response(status) => {
            metrics::counter!("sip_responses_sent_total", "status" => status.to_string(), "transport" => transport)
                .increment(1);
        }
        StartLine::Garbage => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_lines() {
        assert_eq!(
            StartLine::peek(b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n"),
            StartLine::Request("OPTIONS")
        );
        assert_eq!(
            StartLine::peek(b"NEWMETHOD sip:a@b SIP/2.0\r\n"),
            StartLine::Request("other")
        );
        assert_eq!(
            StartLine::peek(b"SIP/2.0 404 Not Found\r\n"),
            StartLine::Response(404)
        );
        assert_eq!(
            StartLine::peek(b"SIP/2.0 4040 Huge\r\n"),
            StartLine::Response(404)
        );
        assert_eq!(StartLine::peek(b"SIP/2.0 abc\r\n"), StartLine::Garbage);
        assert_eq!(StartLine::peek(b""), StartLine::Garbage);
        assert_eq!(StartLine::peek(b"\xff\xfe"), StartLine::Garbage);
    }
}
