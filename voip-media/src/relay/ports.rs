//! Port bookkeeping for leg sockets: even RTP ports with the odd port above
//! for RTCP (RFC 3550 §11), handed out round-robin from a range so a port
//! just released is not reused at once (late packets of the old call would
//! land in the new one). Pure bookkeeping: the driver binds the sockets and
//! marks ports another program holds as taken.

use std::collections::BTreeSet;

/// Free RTP/RTCP port pairs in a range.
#[derive(Debug, Clone)]
pub struct PortRange {
    min: u16,
    max: u16,
    next: u16,
    used: BTreeSet<u16>,
}

impl PortRange {
    /// The even ports of `min..=max` whose odd neighbour is in the range too.
    pub fn new(min: u16, max: u16) -> Self {
        let first = min.saturating_add(min % 2);
        Self {
            min: first,
            max,
            next: first,
            used: BTreeSet::new(),
        }
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        if self.max <= self.min {
            return 0;
        }
        (usize::from(self.max) - usize::from(self.min)).div_ceil(2)
    }

    /// Pairs in use.
    pub fn in_use(&self) -> usize {
        self.used.len()
    }

    /// The next free even RTP port (RTCP is the port above), or `None`
    /// when every pair is taken.
    pub fn allocate(&mut self) -> Option<u16> {
        let n = self.capacity();
        for _ in 0..n {
            let port = self.next;
            self.next = if u32::from(port) + 3 > u32::from(self.max) {
                self.min
            } else {
                port + 2
            };
            if self.used.insert(port) {
                return Some(port);
            }
        }
        None
    }

    /// Gives a pair back.
    pub fn release(&mut self, rtp_port: u16) {
        self.used.remove(&rtp_port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_round_robin_and_run_out() {
        let mut r = PortRange::new(30000, 30007);
        assert_eq!(r.capacity(), 4);
        let got: Vec<_> = (0..4).map(|_| r.allocate().unwrap()).collect();
        assert_eq!(got, [30000, 30002, 30004, 30006]);
        assert_eq!(r.allocate(), None);
        r.release(30002);
        assert_eq!(r.allocate(), Some(30002));
        assert_eq!(r.in_use(), 4);
    }

    #[test]
    fn odd_start_and_tiny_ranges() {
        let mut r = PortRange::new(30001, 30004);
        assert_eq!(r.capacity(), 1);
        assert_eq!(r.allocate(), Some(30002));
        assert_eq!(r.allocate(), None);
        let mut r = PortRange::new(65534, 65535);
        assert_eq!(r.allocate(), Some(65534));
        assert_eq!(r.allocate(), None);
        assert_eq!(PortRange::new(10, 10).capacity(), 0);
    }

    #[test]
    fn released_ports_are_not_reused_at_once() {
        let mut r = PortRange::new(100, 109);
        let a = r.allocate().unwrap();
        r.release(a);
        assert_ne!(r.allocate(), Some(a));
    }
}
