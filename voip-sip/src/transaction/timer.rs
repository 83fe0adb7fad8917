//! The RFC 3261 §17 timers (Table 4) and RFC 6026's L and M, kept in a
//! small table of deadlines.

use std::time::Instant;

/// A transaction timer, named as in RFC 3261 Table 4 and RFC 6026.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// INVITE request retransmission (client, unreliable), T1 doubling.
    A,
    /// INVITE transaction timeout (client), 64·T1.
    B,
    /// Wait for response retransmissions (client INVITE Completed), 32 s or 0.
    D,
    /// Non-INVITE request retransmission (client, unreliable), T1 doubling to T2.
    E,
    /// Non-INVITE transaction timeout (client), 64·T1.
    F,
    /// INVITE final response retransmission (server, unreliable), T1 doubling to T2.
    G,
    /// Wait for ACK receipt (server INVITE Completed), 64·T1.
    H,
    /// Wait for ACK retransmissions (server INVITE Confirmed), T4 or 0.
    I,
    /// Wait for non-INVITE request retransmissions (server Completed), 64·T1 or 0.
    J,
    /// Wait for response retransmissions (client non-INVITE Completed), T4 or 0.
    K,
    /// Wait for ACK and INVITE retransmissions (server Accepted, RFC 6026), 64·T1.
    L,
    /// Wait for 2xx retransmissions (client Accepted, RFC 6026), 64·T1.
    M,
}

impl Timer {
    const ALL: [Timer; 12] = [
        Timer::A,
        Timer::B,
        Timer::D,
        Timer::E,
        Timer::F,
        Timer::G,
        Timer::H,
        Timer::I,
        Timer::J,
        Timer::K,
        Timer::L,
        Timer::M,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// Deadlines of the running timers of one transaction.
#[derive(Debug, Clone, Default)]
pub(crate) struct TimerTable {
    deadlines: [Option<Instant>; 12],
}

impl TimerTable {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer.index()] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: Timer) {
        self.deadlines[timer.index()] = None;
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; 12];
    }

    pub(crate) fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer.index()]
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// A timer due at `now`, stopped as it is returned.
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let t = Timer::ALL
            .into_iter()
            .filter(|t| self.get(*t).is_some_and(|d| d <= now))
            .min_by_key(|t| self.get(*t))?;
        self.stop(t);
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn earliest_first() {
        let now = Instant::now();
        let mut t = TimerTable::default();
        t.set(Timer::B, now + Duration::from_secs(32));
        t.set(Timer::A, now + Duration::from_millis(500));
        assert_eq!(t.next(), Some(now + Duration::from_millis(500)));
        assert_eq!(t.take_expired(now), None);
        assert_eq!(
            t.take_expired(now + Duration::from_secs(40)),
            Some(Timer::A)
        );
        assert_eq!(
            t.take_expired(now + Duration::from_secs(40)),
            Some(Timer::B)
        );
        assert_eq!(t.next(), None);
    }
}
