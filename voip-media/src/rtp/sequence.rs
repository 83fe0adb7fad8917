//! RTP sequence number validation and loss accounting (RFC 3550 Appendix A.1 and A.3).
//!
//! A source is validated once `min_sequential` packets arrive in sequence
//! (probation). After that, a jump of less than [`MAX_DROPOUT`] ahead is
//! accepted (counting a wrap of the 16-bit number as a new cycle), a packet up
//! to [`MAX_MISORDER`] behind is a late or duplicate packet, and any larger
//! jump is "bad": it is dropped, unless the next packet follows it, in which
//! case the sender is assumed to have restarted its sequence and the
//! statistics start again from there.

/// Largest forward jump still treated as the same sequence (A.1).
pub const MAX_DROPOUT: u16 = 3000;
/// Largest backward jump treated as a late or duplicate packet (A.1).
pub const MAX_MISORDER: u16 = 100;
/// Packets in sequence needed before a new source is valid (A.1).
pub const MIN_SEQUENTIAL: u32 = 2;

const RTP_SEQ_MOD: u64 = 1 << 16;

/// What [`SequenceTracker::update`] made of one sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SequenceOutcome {
    /// A valid packet; `extended` is its 64-bit extended sequence number
    /// (cycles × 65536 + seq). `late` is set for a packet older than the
    /// highest seen (reordered or duplicated).
    Valid {
        /// Extended sequence number of this packet.
        extended: u64,
        /// Older than the highest sequence number seen.
        late: bool,
    },
    /// The source is still on probation; the packet does not count.
    Probation,
    /// A jump too large to belong to the sequence; dropped, but remembered
    /// in case the sender restarted.
    Bad,
    /// Two packets in a row followed a bad jump: the sender restarted its
    /// sequence. Statistics were reset and this packet is the new base.
    Restarted {
        /// Extended sequence number of this packet.
        extended: u64,
    },
}

/// Per-source sequence state, the `source` struct of RFC 3550 A.1.
#[derive(Debug, Clone)]
pub struct SequenceTracker {
    max_seq: u16,
    /// Shifted count of sequence number cycles (a multiple of 65536).
    cycles: u64,
    base_seq: u64,
    /// Last "bad" sequence number + 1; `RTP_SEQ_MOD + 1` when unset.
    bad_seq: u64,
    probation: u32,
    min_sequential: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
}

/// Loss over the whole session and since the previous report (A.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossReport {
    /// Cumulative number lost, clamped to the 24-bit signed range of a report
    /// block; negative when duplicates outnumber losses.
    pub cumulative_lost: i32,
    /// Fraction lost since the previous report, in units of 1/256.
    pub fraction_lost: u8,
    /// Packets expected since the beginning of reception.
    pub expected: u64,
    /// Packets received (including late and duplicate ones).
    pub received: u64,
}

impl SequenceTracker {
    /// State for a source whose first packet carried `seq` (A.1: `init_seq`,
    /// then `max_seq = seq - 1` and probation). `min_sequential` of 0 or 1
    /// accepts the first packet at once.
    pub fn new(seq: u16, min_sequential: u32) -> Self {
        let mut s = Self {
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            probation: min_sequential.max(1),
            min_sequential: min_sequential.max(1),
            received: 0,
            expected_prior: 0,
            received_prior: 0,
        };
        s.init(seq);
        s.max_seq = seq.wrapping_sub(1);
        s
    }

    fn init(&mut self, seq: u16) {
        self.base_seq = u64::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Whether the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// A.1 `update_seq` for one received packet.
    pub fn update(&mut self, seq: u16) -> SequenceOutcome {
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init(seq);
                    self.received += 1;
                    return SequenceOutcome::Valid {
                        extended: self.extended_max(),
                        late: false,
                    };
                }
            } else {
                self.probation = self.min_sequential - 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    // min_sequential of 1: any packet validates.
                    self.init(seq);
                    self.received += 1;
                    return SequenceOutcome::Valid {
                        extended: self.extended_max(),
                        late: false,
                    };
                }
            }
            return SequenceOutcome::Probation;
        }
        let mut late = false;
        if udelta < MAX_DROPOUT {
            // In order, with a permissible gap.
            if seq < self.max_seq {
                self.cycles += RTP_SEQ_MOD;
            }
            self.max_seq = seq;
        } else if u64::from(udelta) <= RTP_SEQ_MOD - u64::from(MAX_MISORDER) {
            // The sequence number made a very large jump.
            if u64::from(seq) == self.bad_seq {
                // Two sequential packets: assume the other side restarted
                // without telling us, so just re-sync.
                self.init(seq);
                self.received += 1;
                return SequenceOutcome::Restarted {
                    extended: self.extended_max(),
                };
            }
            self.bad_seq = (u64::from(seq) + 1) & (RTP_SEQ_MOD - 1);
            return SequenceOutcome::Bad;
        } else {
            // Duplicate or reordered packet.
            late = true;
        }
        self.received += 1;
        let extended = if late {
            let back = u64::from(self.max_seq.wrapping_sub(seq));
            self.extended_max().saturating_sub(back)
        } else {
            self.extended_max()
        };
        SequenceOutcome::Valid { extended, late }
    }

    /// The extended highest sequence number received (64 bits; a report
    /// block carries its low 32 bits).
    pub fn extended_max(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    /// Packets counted as received (A.1 `received`).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets expected: extended highest minus base plus one (A.3).
    pub fn expected(&self) -> u64 {
        if !self.is_valid() {
            return 0;
        }
        (self.extended_max() + 1).saturating_sub(self.base_seq)
    }

    /// Cumulative and interval loss (A.3). Closes the reporting interval:
    /// the next call reports the fraction lost since this one.
    pub fn loss_report(&mut self) -> LossReport {
        let expected = self.expected();
        let lost = expected as i64 - self.received as i64;
        let cumulative_lost = lost.clamp(-0x80_0000, 0x7f_ffff) as i32;
        let expected_interval = expected.saturating_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        LossReport {
            cumulative_lost,
            fraction_lost,
            expected,
            received: self.received,
        }
    }

    /// Cumulative loss without closing the reporting interval.
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validated(seq: u16) -> SequenceTracker {
        let mut s = SequenceTracker::new(seq, MIN_SEQUENTIAL);
        assert_eq!(s.update(seq), SequenceOutcome::Probation);
        assert!(matches!(
            s.update(seq.wrapping_add(1)),
            SequenceOutcome::Valid { .. }
        ));
        s
    }

    #[test]
    fn probation_needs_two_in_sequence() {
        let mut s = SequenceTracker::new(100, MIN_SEQUENTIAL);
        assert_eq!(s.update(100), SequenceOutcome::Probation);
        assert!(!s.is_valid());
        // Out of sequence: probation starts again.
        assert_eq!(s.update(200), SequenceOutcome::Probation);
        assert_eq!(
            s.update(201),
            SequenceOutcome::Valid {
                extended: 201,
                late: false
            }
        );
        assert!(s.is_valid());
        assert_eq!(s.received(), 1);
        assert_eq!(s.expected(), 1);
    }

    #[test]
    fn min_sequential_one_accepts_first_packet() {
        let mut s = SequenceTracker::new(7, 1);
        assert_eq!(
            s.update(7),
            SequenceOutcome::Valid {
                extended: 7,
                late: false
            }
        );
    }

    #[test]
    fn wrap_around_counts_a_cycle() {
        let mut s = validated(65534);
        assert!(matches!(
            s.update(0),
            SequenceOutcome::Valid {
                extended: 65536,
                late: false
            }
        ));
        assert!(matches!(
            s.update(1),
            SequenceOutcome::Valid {
                extended: 65537,
                ..
            }
        ));
        assert_eq!(s.extended_max(), 65537);
        // The base is 65535, the packet that ended probation.
        assert_eq!(s.expected(), 3);
        assert_eq!(s.received(), 3);
        assert_eq!(s.loss_report().cumulative_lost, 0);
    }

    #[test]
    fn late_packet_across_wrap_gets_previous_cycle() {
        let mut s = validated(65534);
        s.update(1); // 65535 and 0 lost so far
        let out = s.update(65535);
        assert_eq!(
            out,
            SequenceOutcome::Valid {
                extended: 65535,
                late: true
            }
        );
        assert_eq!(s.extended_max(), 65537);
    }

    #[test]
    fn loss_and_fraction_per_interval() {
        let mut s = validated(0); // base 1, received 1
        for seq in 2..=10u16 {
            if seq % 2 == 0 {
                s.update(seq);
            }
        }
        // expected 1..=10 = 10, received 1,2,4,6,8,10 = 6
        let r = s.loss_report();
        assert_eq!(r.expected, 10);
        assert_eq!(r.received, 6);
        assert_eq!(r.cumulative_lost, 4);
        assert_eq!(r.fraction_lost, (4 * 256 / 10) as u8);
        // Next interval: no loss.
        for seq in 11..=20u16 {
            s.update(seq);
        }
        let r = s.loss_report();
        assert_eq!(r.fraction_lost, 0);
        assert_eq!(r.cumulative_lost, 4);
        // Late arrivals make the interval's loss negative: fraction 0.
        s.update(3);
        s.update(5);
        let r = s.loss_report();
        assert_eq!(r.fraction_lost, 0);
        assert_eq!(r.cumulative_lost, 2);
    }

    #[test]
    fn duplicates_make_loss_negative() {
        let mut s = validated(10); // base 11, received 1
        s.update(11);
        s.update(11);
        s.update(11);
        assert_eq!(s.loss_report().cumulative_lost, -3);
    }

    #[test]
    fn big_jump_is_bad_then_restart_on_sequential() {
        let mut s = validated(1000);
        assert_eq!(s.update(30000), SequenceOutcome::Bad);
        assert_eq!(s.extended_max(), 1001);
        // Not sequential with the bad one: still bad.
        assert_eq!(s.update(40000), SequenceOutcome::Bad);
        assert_eq!(
            s.update(40001),
            SequenceOutcome::Restarted { extended: 40001 }
        );
        assert_eq!(s.received(), 1);
        assert_eq!(s.expected(), 1);
        assert!(matches!(s.update(40002), SequenceOutcome::Valid { .. }));
    }

    #[test]
    fn dropout_boundary() {
        let mut s = validated(0);
        // 1 + 2999 = 3000 ahead of max 1: udelta 2999 < MAX_DROPOUT.
        assert!(matches!(
            s.update(3000),
            SequenceOutcome::Valid { late: false, .. }
        ));
        // udelta exactly MAX_DROPOUT is a bad jump.
        assert_eq!(s.update(6000), SequenceOutcome::Bad);
        // 100 behind: misorder window (udelta = 65436 > 65536 - 100).
        assert!(matches!(
            s.update(2901),
            SequenceOutcome::Valid { late: true, .. }
        ));
        // 100 behind max exactly: udelta == 65536 - 100 is a bad jump.
        assert_eq!(s.update(2900), SequenceOutcome::Bad);
    }

    #[test]
    fn cumulative_loss_clamps_to_24_bits() {
        let mut s = validated(0);
        // Advance ~9M sequence numbers in allowed steps, receiving one each.
        let mut seq: u16 = 1;
        for _ in 0..4000 {
            seq = seq.wrapping_add(2999);
            s.update(seq);
        }
        let r = s.loss_report();
        assert_eq!(r.cumulative_lost, 0x7f_ffff);
    }
}
