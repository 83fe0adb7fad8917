//! Latching (symmetric RTP through NAT): which source a leg accepts media
//! from and where it sends. The rules are on [`LatchMode`].

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::config::LatchMode;

/// What [`Latch::check`] decided about a packet's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LatchOutcome {
    /// From the latched source (or latching is off).
    Accept,
    /// The source was latched now; `previous` is the one it replaced.
    Latched { previous: Option<SocketAddr> },
    /// From another source: drop it.
    Reject,
}

/// One component's (RTP or RTCP) latch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Latch {
    addr: Option<SocketAddr>,
    last_heard: Option<Instant>,
}

impl Latch {
    /// The latched address.
    #[cfg(test)]
    pub(crate) fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Forgets the latched address (a new SDP address).
    pub(crate) fn clear(&mut self) {
        self.addr = None;
        self.last_heard = None;
    }

    /// Decides on a packet from `source` that passed authentication.
    /// `expected` is the SDP's address for this component.
    pub(crate) fn check(
        &mut self,
        mode: LatchMode,
        relatch_after: Duration,
        now: Instant,
        source: SocketAddr,
        expected: Option<SocketAddr>,
    ) -> LatchOutcome {
        if mode == LatchMode::Off {
            return LatchOutcome::Accept;
        }
        if mode == LatchMode::Strict && expected.is_none_or(|e| e.ip() != source.ip()) {
            return LatchOutcome::Reject;
        }
        match self.addr {
            Some(a) if a == source => {
                self.last_heard = Some(now);
                LatchOutcome::Accept
            }
            Some(a) => {
                let silent = self
                    .last_heard
                    .is_none_or(|t| now.saturating_duration_since(t) >= relatch_after);
                if silent {
                    self.addr = Some(source);
                    self.last_heard = Some(now);
                    LatchOutcome::Latched { previous: Some(a) }
                } else {
                    LatchOutcome::Reject
                }
            }
            None => {
                self.addr = Some(source);
                self.last_heard = Some(now);
                LatchOutcome::Latched { previous: None }
            }
        }
    }

    /// Where to send: the latched source, else the SDP's address.
    pub(crate) fn destination(
        &self,
        mode: LatchMode,
        expected: Option<SocketAddr>,
    ) -> Option<SocketAddr> {
        match mode {
            LatchMode::Off => expected,
            _ => self.addr.or(expected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn learns_the_first_source_and_rejects_others_until_silence() {
        let t0 = Instant::now();
        let sdp = Some(addr("10.0.0.5:4000"));
        let nat = addr("203.0.113.9:61000");
        let mut l = Latch::default();
        let gap = Duration::from_secs(2);
        assert_eq!(l.destination(LatchMode::Learn, sdp), sdp);
        assert_eq!(
            l.check(LatchMode::Learn, gap, t0, nat, sdp),
            LatchOutcome::Latched { previous: None }
        );
        assert_eq!(l.destination(LatchMode::Learn, sdp), Some(nat));
        assert_eq!(
            l.check(LatchMode::Learn, gap, t0, nat, sdp),
            LatchOutcome::Accept
        );
        let intruder = addr("198.51.100.1:5000");
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(
            l.check(LatchMode::Learn, gap, t1, intruder, sdp),
            LatchOutcome::Reject
        );
        // The latched source keeps talking: still rejected.
        assert_eq!(
            l.check(LatchMode::Learn, gap, t1, nat, sdp),
            LatchOutcome::Accept
        );
        let t2 = t1 + Duration::from_millis(1999);
        assert_eq!(
            l.check(LatchMode::Learn, gap, t2, intruder, sdp),
            LatchOutcome::Reject
        );
        // Two seconds of silence: the new source takes over.
        let t3 = t1 + gap;
        assert_eq!(
            l.check(LatchMode::Learn, gap, t3, intruder, sdp),
            LatchOutcome::Latched {
                previous: Some(nat)
            }
        );
    }

    #[test]
    fn strict_accepts_only_the_sdp_ip_and_off_never_latches() {
        let t0 = Instant::now();
        let sdp = Some(addr("10.0.0.5:4000"));
        let mut l = Latch::default();
        let gap = Duration::from_secs(2);
        let other = addr("10.0.0.6:4000");
        assert_eq!(
            l.check(LatchMode::Strict, gap, t0, other, sdp),
            LatchOutcome::Reject
        );
        assert_eq!(
            l.check(LatchMode::Strict, gap, t0, other, None),
            LatchOutcome::Reject
        );
        let same_ip = addr("10.0.0.5:4444");
        assert!(matches!(
            l.check(LatchMode::Strict, gap, t0, same_ip, sdp),
            LatchOutcome::Latched { .. }
        ));
        assert_eq!(l.destination(LatchMode::Strict, sdp), Some(same_ip));
        let mut off = Latch::default();
        assert_eq!(
            off.check(LatchMode::Off, gap, t0, other, sdp),
            LatchOutcome::Accept
        );
        assert_eq!(off.destination(LatchMode::Off, sdp), sdp);
        l.clear();
        assert_eq!(l.addr(), None);
    }
}
