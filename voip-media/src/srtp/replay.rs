//! The SRTP/SRTCP replay list (RFC 3711 §3.3.2) with the packet index
//! estimate of RFC 3711 Appendix A.
//!
//! Kept here rather than in `webrtc-srtp` 0.17, whose detector initialises
//! its window from the first packet it *checks*, before authentication: one
//! forged packet with a far-ahead index, arriving first, made every genuine
//! packet "too old". This list is consulted before decryption (so an old
//! authentic packet never reaches the cipher's rollover state) and updated
//! only after authentication succeeds.

/// A sliding window over 48-bit SRTP or 31-bit SRTCP indices.
///
/// The bitmap is a ring indexed by `index mod (64 * words)`: moving ahead
/// zeroes only the words entered (one per 64 indices in order), so an
/// in-order packet costs O(1) whatever the window size, instead of a shift
/// of the whole bitmap. One word more than the window needs keeps the
/// `size` indices behind the highest intact while the current word fills.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    highest: Option<u64>,
    size: u64,
    /// Bit `i % (64 * len)` set: index `i` (within the window) was accepted.
    bits: Vec<u64>,
}

impl ReplayWindow {
    /// A window of `size` packets.
    pub fn new(size: usize) -> Self {
        let words = size.div_ceil(64) + 1;
        Self {
            highest: None,
            size: size as u64,
            bits: vec![0; words],
        }
    }

    /// RFC 3711 Appendix A: the index of an SRTP packet with sequence number
    /// `seq`, relative to the highest authenticated index.
    pub fn estimate_srtp_index(&self, seq: u16) -> u64 {
        let Some(highest) = self.highest else {
            return u64::from(seq);
        };
        let roc = highest >> 16;
        let s_l = highest & 0xffff;
        let seq = u64::from(seq);
        let v = if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                roc.wrapping_sub(1)
            } else {
                roc
            }
        } else if s_l - 0x8000 > seq {
            roc + 1
        } else {
            roc
        };
        ((v & 0xffff_ffff) << 16) | seq
    }

    /// Whether `index` is new: ahead of the highest, or inside the window
    /// and not yet accepted.
    pub fn check(&self, index: u64) -> bool {
        let Some(highest) = self.highest else {
            return true;
        };
        if index > highest {
            return true;
        }
        highest - index < self.size && !self.bit(index)
    }

    /// Records an authenticated `index`.
    pub fn accept(&mut self, index: u64) {
        match self.highest {
            None => {
                self.bits.iter_mut().for_each(|x| *x = 0);
                self.highest = Some(index);
            }
            Some(h) if index > h => {
                // Zero the words entered between the old and the new highest
                // (all of them when the jump laps the ring).
                let words = self.bits.len() as u64;
                let entered = ((index / 64) - (h / 64)).min(words);
                for k in 1..=entered {
                    let w = ((h / 64 + k) % words) as usize;
                    self.bits[w] = 0;
                }
                self.highest = Some(index);
            }
            Some(h) if h - index >= self.size => return,
            Some(_) => {}
        }
        let (w, b) = self.slot(index);
        self.bits[w] |= 1 << b;
    }

    fn slot(&self, index: u64) -> (usize, u64) {
        (((index / 64) % self.bits.len() as u64) as usize, index % 64)
    }

    fn bit(&self, index: u64) -> bool {
        let (w, b) = self.slot(index);
        self.bits[w] & (1 << b) != 0
    }
}

/// Replay windows per SSRC, at most `max` of them: a short list scanned in
/// order (a leg has one or two SSRCs; no hashing per packet).
#[derive(Debug, Clone)]
pub struct ReplayTable {
    window: usize,
    max: usize,
    entries: Vec<(u32, ReplayWindow)>,
}

impl ReplayTable {
    /// An empty table of windows of `window` packets, for up to `max` SSRCs.
    pub fn new(window: usize, max: usize) -> Self {
        Self {
            window,
            max,
            entries: Vec::new(),
        }
    }

    /// The window of `ssrc`, if it has one.
    pub fn get(&self, ssrc: u32) -> Option<&ReplayWindow> {
        self.entries
            .iter()
            .find(|(s, _)| *s == ssrc)
            .map(|(_, w)| w)
    }

    /// Records an authenticated `index` of `ssrc`; false when `ssrc` is new
    /// and the table is full.
    pub fn accept(&mut self, ssrc: u32, index: u64) -> bool {
        if let Some((_, w)) = self.entries.iter_mut().find(|(s, _)| *s == ssrc) {
            w.accept(index);
            return true;
        }
        if self.entries.len() >= self.max {
            return false;
        }
        let mut w = ReplayWindow::new(self.window);
        w.accept(index);
        self.entries.push((ssrc, w));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_semantics() {
        let mut w = ReplayWindow::new(64);
        assert!(w.check(1000));
        w.accept(1000);
        assert!(!w.check(1000));
        assert!(w.check(999) && w.check(937));
        assert!(!w.check(936)); // 64 behind
        w.accept(1100);
        assert!(!w.check(1000)); // now too old
        assert!(w.check(1099));
        w.accept(1099);
        assert!(!w.check(1099));
        assert!(!w.check(1100));
    }

    #[test]
    fn shift_keeps_bits_across_words() {
        let mut w = ReplayWindow::new(256);
        w.accept(10);
        w.accept(9);
        w.accept(100); // shift by 90: bits 90, 91
        assert!(!w.check(10) && !w.check(9) && w.check(11));
        w.accept(170);
        assert!(!w.check(100) && !w.check(10) && !w.check(9) && w.check(8));
    }

    #[test]
    fn index_estimate_follows_rollover() {
        let mut w = ReplayWindow::new(128);
        assert_eq!(w.estimate_srtp_index(0xfffe), 0xfffe);
        w.accept(0xfffe);
        assert_eq!(w.estimate_srtp_index(0x0001), 0x1_0001);
        w.accept(0x1_0001);
        // A late packet from before the wrap keeps ROC 0.
        assert_eq!(w.estimate_srtp_index(0xffff), 0xffff);
        assert_eq!(w.estimate_srtp_index(0x0002), 0x1_0002);
    }

    /// The ring against a plain set of accepted indices (the definition):
    /// in order, with gaps, reordering inside the window and jumps that lap
    /// the ring, for several window sizes.
    #[test]
    fn ring_matches_the_definition() {
        use std::collections::BTreeSet;
        for size in [64usize, 100, 128, 1024] {
            let mut w = ReplayWindow::new(size);
            let mut seen = BTreeSet::new();
            let mut highest = 0u64;
            let mut x = 12345u64;
            let mut index = 5000u64;
            for _ in 0..20_000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let r = x >> 33;
                index = match r % 100 {
                    0 => index + 64 * (r % 40),                             // far jump
                    1..=20 => index.saturating_sub(r % (size as u64 + 70)), // late
                    _ => index + 1 + r % 3,                                 // ahead
                };
                let expected = seen.is_empty()
                    || index > highest
                    || (highest - index < size as u64 && !seen.contains(&index));
                assert_eq!(
                    w.check(index),
                    expected,
                    "size {size} index {index} highest {highest}"
                );
                if expected {
                    w.accept(index);
                    seen.insert(index);
                    highest = highest.max(index);
                }
            }
        }
    }

    #[test]
    fn table_is_bounded() {
        let mut t = ReplayTable::new(64, 2);
        assert!(t.accept(1, 10) && t.accept(2, 10) && t.accept(1, 11));
        assert!(!t.accept(3, 10));
        assert!(t.get(3).is_none());
        assert!(!t.get(1).unwrap().check(11) && t.get(2).unwrap().check(11));
    }
}
