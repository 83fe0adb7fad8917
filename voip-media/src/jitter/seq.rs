//! Sequence number and timestamp wrap-around, and the record of which
//! sequence numbers arrived (duplicates, loss counting).

use std::collections::BTreeSet;

/// Extends a `bits`-wide counter (16 for RTP sequence numbers, 32 for RTP
/// timestamps) to the 64-bit value nearest to `reference`, so a counter
/// that wrapped keeps counting up and a late packet from before a wrap
/// stays below.
pub(crate) fn unwrap_near(reference: i64, value: u64, bits: u32) -> i64 {
    let modulus = 1i64 << bits;
    let mask = modulus - 1;
    // The difference modulo 2^bits, read as a signed number.
    let mut delta = (value as i64 - reference) & mask;
    if delta >= modulus / 2 {
        delta -= modulus;
    }
    reference + delta
}

/// Extended sequence numbers that arrived recently: tells a duplicate from
/// a packet that is merely late, and which skipped numbers never came.
#[derive(Debug, Clone, Default)]
pub(crate) struct SeqHistory {
    seen: BTreeSet<i64>,
}

/// How far back the history remembers (in sequence numbers).
const HISTORY_SPAN: i64 = 2048;

impl SeqHistory {
    /// Records `seq`; `false` when it was already there (a duplicate).
    pub(crate) fn insert(&mut self, seq: i64) -> bool {
        let fresh = self.seen.insert(seq);
        if let Some(&highest) = self.seen.last() {
            while let Some(&lowest) = self.seen.first() {
                if lowest >= highest - HISTORY_SPAN {
                    break;
                }
                self.seen.remove(&lowest);
            }
        }
        fresh
    }

    /// Whether `seq` arrived (as far as the history reaches).
    #[cfg(test)]
    pub(crate) fn contains(&self, seq: i64) -> bool {
        self.seen.contains(&seq)
    }

    /// How many of the numbers strictly between `from` and `to` never
    /// arrived.
    pub(crate) fn missing_between(&self, from: i64, to: i64) -> u64 {
        if to <= from + 1 {
            return 0;
        }
        let span = (to - from - 1) as u64;
        let seen = self.seen.range(from + 1..to).count() as u64;
        span.saturating_sub(seen)
    }

    /// Forgets everything (a new stream).
    pub(crate) fn clear(&mut self) {
        self.seen.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_numbers_wrap_forward_and_back() {
        assert_eq!(unwrap_near(65_535, 0, 16), 65_536);
        assert_eq!(unwrap_near(65_536, 65_535, 16), 65_535);
        assert_eq!(unwrap_near(65_540, 3, 16), 65_539);
        assert_eq!(unwrap_near(3, 65_533, 16), -3);
        assert_eq!(unwrap_near(100, 120, 16), 120);
        assert_eq!(unwrap_near(131_072 + 10, 5, 16), 131_072 + 5);
    }

    #[test]
    fn timestamps_wrap() {
        let near_top = i64::from(u32::MAX) - 159;
        assert_eq!(unwrap_near(near_top, 0, 32), (1i64 << 32));
        assert_eq!(
            unwrap_near(1i64 << 32, u64::from(u32::MAX) - 159, 32),
            near_top
        );
        // A long DTX jump forward stays forward.
        assert_eq!(
            unwrap_near(1000, 1000 + 1_000_000_000, 32),
            1000 + 1_000_000_000
        );
    }

    #[test]
    fn history_counts_missing_and_duplicates() {
        let mut h = SeqHistory::default();
        for s in [1, 2, 4, 7] {
            assert!(h.insert(s));
        }
        assert!(!h.insert(4));
        assert!(h.contains(2));
        assert_eq!(h.missing_between(2, 7), 3); // 3, 5, 6
        assert_eq!(h.missing_between(1, 2), 0);
        h.insert(10_000);
        assert!(!h.contains(1), "old entries are forgotten");
        h.clear();
        assert!(!h.contains(10_000));
    }
}
