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
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    highest: Option<u64>,
    size: u64,
    /// Bit `d` set: index `highest - d` was accepted.
    bits: Vec<u64>,
}

impl ReplayWindow {
    /// A window of `size` packets.
    pub fn new(size: usize) -> Self {
        let words = size.div_ceil(64).max(1);
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
        let d = highest - index;
        d < self.size && !self.bit(d)
    }

    /// Records an authenticated `index`.
    pub fn accept(&mut self, index: u64) {
        match self.highest {
            None => {
                self.highest = Some(index);
                self.clear();
                self.set(0);
            }
            Some(h) if index > h => {
                self.shift(index - h);
                self.highest = Some(index);
                self.set(0);
            }
            Some(h) => {
                let d = h - index;
                if d < self.size {
                    self.set(d);
                }
            }
        }
    }

    fn bit(&self, d: u64) -> bool {
        let (w, b) = ((d / 64) as usize, d % 64);
        self.bits.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    fn set(&mut self, d: u64) {
        let (w, b) = ((d / 64) as usize, d % 64);
        if let Some(x) = self.bits.get_mut(w) {
            *x |= 1 << b;
        }
    }

    fn clear(&mut self) {
        self.bits.iter_mut().for_each(|x| *x = 0);
    }

    /// Moves the window ahead by `n`: bit d becomes bit d + n.
    fn shift(&mut self, n: u64) {
        let total = self.bits.len() as u64 * 64;
        if n >= total {
            self.clear();
            return;
        }
        let (words, bits) = ((n / 64) as usize, (n % 64) as u32);
        for i in (0..self.bits.len()).rev() {
            let src = i.checked_sub(words);
            let hi = src.map_or(0, |s| self.bits[s] << bits);
            let lo = match src.and_then(|s| s.checked_sub(1)) {
                Some(s) if bits > 0 => self.bits[s] >> (64 - bits),
                _ => 0,
            };
            self.bits[i] = hi | lo;
        }
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
}
