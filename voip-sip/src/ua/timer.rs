//! The timers a UA core runs per dialog, named after the RFC text that
//! asks for them, in a small table of deadlines.

use std::time::Instant;

/// A dialog timer of the UA core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogTimer {
    /// RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx, T1 doubling
    /// up to T2, until the ACK.
    Retransmit2xx,
    /// RFC 3261 §13.3.1.4: no ACK within 64·T1 ends the session (BYE).
    WaitAck,
    /// RFC 3262 §3: a reliable provisional response is retransmitted, T1
    /// doubling, until its PRACK.
    Retransmit1xx,
    /// RFC 3262 §3: no PRACK within 64·T1 rejects the INVITE (5xx).
    WaitPrack,
    /// RFC 4028 §10: the refresher refreshes at half the interval.
    SessionRefresh,
    /// RFC 4028 §10: without a refresh by SE - min(32, SE/3), BYE (the
    /// refresher waits the full SE: its own refresh's failure ends it).
    SessionExpiry,
    /// RFC 3261 §14.1: after a 491, retry the re-INVITE or UPDATE after
    /// 2.1-4 s (owner of the Call-ID) or 0-2 s (otherwise).
    GlareRetry,
    /// A terminated dialog is kept 64·T1 to ACK late 2xx retransmissions
    /// and to answer late requests 481.
    Linger,
}

impl DialogTimer {
    const ALL: [DialogTimer; 8] = [
        DialogTimer::Retransmit2xx,
        DialogTimer::WaitAck,
        DialogTimer::Retransmit1xx,
        DialogTimer::WaitPrack,
        DialogTimer::SessionRefresh,
        DialogTimer::SessionExpiry,
        DialogTimer::GlareRetry,
        DialogTimer::Linger,
    ];
}

/// Deadlines of one dialog's timers.
#[derive(Debug, Clone, Default)]
pub(crate) struct DialogTimers {
    deadlines: [Option<Instant>; 8],
}

impl DialogTimers {
    pub(crate) fn set(&mut self, timer: DialogTimer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn stop(&mut self, timer: DialogTimer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn get(&self, timer: DialogTimer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn stop_all(&mut self) {
        self.deadlines = [None; 8];
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// A timer due at `now`, stopped as it is returned (earliest first).
    pub(crate) fn take_expired(&mut self, now: Instant) -> Option<DialogTimer> {
        let t = DialogTimer::ALL
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
        let mut t = DialogTimers::default();
        t.set(DialogTimer::WaitAck, now + Duration::from_secs(32));
        t.set(DialogTimer::Retransmit2xx, now + Duration::from_millis(500));
        assert_eq!(t.next(), Some(now + Duration::from_millis(500)));
        assert_eq!(t.take_expired(now), None);
        let later = now + Duration::from_secs(40);
        assert_eq!(t.take_expired(later), Some(DialogTimer::Retransmit2xx));
        assert_eq!(t.take_expired(later), Some(DialogTimer::WaitAck));
        t.set(DialogTimer::Linger, later);
        t.stop_all();
        assert_eq!(t.next(), None);
    }
}
