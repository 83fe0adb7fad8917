//! A deterministic simulated network: loss, delay, reordering and
//! duplication drawn from a seeded RNG; time is virtual.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_core::{RandomSource, Receive, SeededRandom, Transmit};

/// Network conditions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conditions {
    pub loss: f64,
    pub duplicate: f64,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Conditions {
    pub(crate) fn perfect() -> Self {
        Self {
            loss: 0.0,
            duplicate: 0.0,
            min_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(10),
        }
    }

    pub(crate) fn hostile() -> Self {
        // 30% loss, 10% duplication, 5-150 ms of delay: packets overtake
        // each other.
        Self {
            loss: 0.30,
            duplicate: 0.10,
            min_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(150),
        }
    }
}

pub(crate) struct Net {
    rng: SeededRandom,
    pub conditions: Conditions,
    queue: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    packets: Vec<Option<Receive>>,
    seq: u64,
    pub sent: usize,
    pub dropped: usize,
}

impl Net {
    pub(crate) fn new(seed: u64, conditions: Conditions) -> Self {
        Self {
            rng: SeededRandom::new(seed),
            conditions,
            queue: BinaryHeap::new(),
            packets: Vec::new(),
            seq: 0,
            sent: 0,
            dropped: 0,
        }
    }

    fn uniform(&mut self) -> f64 {
        let mut b = [0u8; 8];
        self.rng.fill_bytes(&mut b);
        (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Sends `t` from `from`.
    pub(crate) fn send(&mut self, now: Instant, from: SocketAddr, t: Transmit) {
        self.sent += 1;
        if self.uniform() < self.conditions.loss {
            self.dropped += 1;
            return;
        }
        let copies = if self.uniform() < self.conditions.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let span = self
                .conditions
                .max_delay
                .saturating_sub(self.conditions.min_delay);
            let delay = self.conditions.min_delay + span.mul_f64(self.uniform());
            let rx = Receive {
                protocol: t.protocol,
                source: from,
                destination: t.destination,
                connection: t.connection,
                contents: t.contents.clone(),
            };
            self.packets.push(Some(rx));
            self.seq += 1;
            self.queue
                .push(Reverse((now + delay, self.seq, self.packets.len() - 1)));
        }
    }

    pub(crate) fn next_delivery(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next packet due at or before `now`.
    pub(crate) fn deliver(&mut self, now: Instant) -> Option<Receive> {
        let Reverse((at, _, idx)) = *self.queue.peek()?;
        if at > now {
            return None;
        }
        self.queue.pop();
        self.packets[idx].take()
    }
}
