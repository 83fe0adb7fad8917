//! The server's SIP responder: a sans-IO core that answers every request the
//! server cannot route yet (OPTIONS 200, 404/405/501, 400 for malformed input).
//!
//! OWNED BY THE LEAD: placeholder signature so the driver glue compiles; the
//! body lands with the voip-sip message layer.

use std::collections::VecDeque;
use std::time::Instant;

use voip_core::{Receive, Transmit};

/// Answers requests statelessly.
#[derive(Debug, Default)]
pub struct Responder {
    out: VecDeque<Transmit>,
}

impl Responder {
    /// A responder with default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Handles one received message (a datagram or one framed stream message).
    pub fn handle_receive(&mut self, _now: Instant, _rx: Receive) {}

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
}
