//! What a session knows about one remote source: sequence validation and
//! loss (RFC 3550 A.1, A.3), interarrival jitter (A.8), the last SR it sent
//! (for LSR/DLSR) and its CNAME.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::ntp::{NtpTime, to_short_units};
use super::rtcp::ReportBlock;
use super::sequence::{LossReport, SequenceOutcome, SequenceTracker};

/// Interarrival jitter estimator of RFC 3550 A.8, in integer form: the
/// estimate is kept scaled by 16 (`J += |D| − (J + 8) / 16`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterarrivalJitter {
    last_transit: Option<u32>,
    scaled: u64,
}

impl InterarrivalJitter {
    /// Feeds one packet: its arrival time and RTP timestamp, both in
    /// timestamp units (the arrival clock's origin does not matter).
    pub fn update(&mut self, arrival: u32, rtp_timestamp: u32) {
        let transit = arrival.wrapping_sub(rtp_timestamp);
        if let Some(last) = self.last_transit {
            let d = u64::from((transit.wrapping_sub(last) as i32).unsigned_abs());
            self.scaled = (self.scaled + d).saturating_sub((self.scaled + 8) >> 4);
        }
        self.last_transit = Some(transit);
    }

    /// The estimate in timestamp units, as a report block carries it.
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.scaled >> 4).unwrap_or(u32::MAX)
    }
}

/// Per-source receive state.
#[derive(Debug, Clone)]
pub struct RemoteSource {
    ssrc: u32,
    /// `None` until the first RTP packet (a source heard only in RTCP).
    sequence: Option<SequenceTracker>,
    min_sequential: u32,
    jitter: InterarrivalJitter,
    clock_rate: u32,
    cname: Option<Bytes>,
    /// Middle 32 bits of the last SR's NTP time and when it arrived.
    last_sr: Option<(u32, Instant)>,
    last_heard: Instant,
    sent_since_report: bool,
    octets: u64,
    last_loss: LossReport,
}

impl RemoteSource {
    /// A source first heard at `now` with sequence number `seq`.
    pub fn new(ssrc: u32, seq: u16, clock_rate: u32, min_sequential: u32, now: Instant) -> Self {
        Self {
            ssrc,
            sequence: Some(SequenceTracker::new(seq, min_sequential)),
            min_sequential,
            jitter: InterarrivalJitter::default(),
            clock_rate: clock_rate.max(1),
            cname: None,
            last_sr: None,
            last_heard: now,
            sent_since_report: false,
            octets: 0,
            last_loss: LossReport::default(),
        }
    }

    /// A source first heard through RTCP (no sequence yet).
    pub fn from_rtcp(ssrc: u32, clock_rate: u32, min_sequential: u32, now: Instant) -> Self {
        let mut s = Self::new(ssrc, 0, clock_rate, min_sequential, now);
        s.sequence = None;
        s
    }

    /// Its SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Feeds one RTP packet; `arrival` is the arrival time in timestamp
    /// units on any fixed origin.
    pub fn on_rtp(
        &mut self,
        now: Instant,
        arrival: u32,
        seq: u16,
        rtp_timestamp: u32,
        payload_len: usize,
    ) -> SequenceOutcome {
        self.last_heard = now;
        let min = self.min_sequential;
        let outcome = self
            .sequence
            .get_or_insert_with(|| SequenceTracker::new(seq, min))
            .update(seq);
        match outcome {
            SequenceOutcome::Valid { .. } => {
                self.jitter.update(arrival, rtp_timestamp);
            }
            SequenceOutcome::Restarted { .. } => {
                // New sequence, new statistics.
                self.jitter = InterarrivalJitter::default();
                self.jitter.update(arrival, rtp_timestamp);
                self.octets = 0;
            }
            SequenceOutcome::Probation | SequenceOutcome::Bad => return outcome,
        }
        self.sent_since_report = true;
        self.octets += payload_len as u64;
        outcome
    }

    /// Records an SR from this source, received at `now`.
    pub fn on_sender_report(&mut self, now: Instant, ntp: NtpTime) {
        self.last_heard = now;
        self.last_sr = Some((ntp.middle32(), now));
    }

    /// Records an RTCP packet other than an SR from this source.
    pub fn on_rtcp(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// Records its CNAME.
    pub fn set_cname(&mut self, cname: Bytes) {
        self.cname = Some(cname);
    }

    /// Its CNAME, once an SDES carried one.
    pub fn cname(&self) -> Option<&Bytes> {
        self.cname.as_ref()
    }

    /// Whether it passed probation.
    pub fn is_valid(&self) -> bool {
        self.sequence
            .as_ref()
            .is_some_and(SequenceTracker::is_valid)
    }

    /// When it was last heard (RTP or RTCP).
    pub fn last_heard(&self) -> Instant {
        self.last_heard
    }

    /// Whether it sent RTP since the last report.
    pub fn is_sender(&self) -> bool {
        self.sent_since_report
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter.jitter()
    }

    /// Interarrival jitter as a duration.
    pub fn jitter_duration(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.jitter()) / f64::from(self.clock_rate))
    }

    /// Packets received and expected.
    pub fn counts(&self) -> (u64, u64) {
        self.sequence
            .as_ref()
            .map_or((0, 0), |s| (s.received(), s.expected()))
    }

    /// Cumulative loss in percent of the packets expected (0 when negative).
    pub fn loss_percent(&self) -> f64 {
        let Some(seq) = &self.sequence else {
            return 0.0;
        };
        let expected = seq.expected();
        if expected == 0 {
            return 0.0;
        }
        (seq.cumulative_lost().max(0) as f64) * 100.0 / expected as f64
    }

    /// The loss report of the last [`report_block`](Self::report_block).
    pub fn last_loss(&self) -> LossReport {
        self.last_loss
    }

    /// Payload octets received.
    pub fn octets(&self) -> u64 {
        self.octets
    }

    /// The report block about this source (RFC 3550 §6.4.1), closing the
    /// loss interval. `None` while on probation.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        let seq = self.sequence.as_mut().filter(|s| s.is_valid())?;
        let loss = seq.loss_report();
        let extended_max = seq.extended_max();
        self.last_loss = loss;
        self.sent_since_report = false;
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => (lsr, to_short_units(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost: loss.fraction_lost,
            cumulative_lost: loss.cumulative_lost,
            extended_highest_seq: extended_max as u32,
            jitter: self.jitter(),
            lsr,
            dlsr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_transit_means_zero_jitter() {
        let mut j = InterarrivalJitter::default();
        for i in 0..100u32 {
            j.update(1000 + i * 160, i * 160);
        }
        assert_eq!(j.jitter(), 0);
    }

    #[test]
    fn alternating_delay_converges_to_the_swing() {
        // Every other packet 80 units (10 ms at 8 kHz) late: |D| = 80 each
        // time, so J converges to 80.
        let mut j = InterarrivalJitter::default();
        for i in 0..2000u32 {
            let late = if i % 2 == 0 { 0 } else { 80 };
            j.update(i * 160 + late, i * 160);
        }
        assert!((78..=80).contains(&j.jitter()), "{}", j.jitter());
    }

    #[test]
    fn first_step_is_a_sixteenth() {
        let mut j = InterarrivalJitter::default();
        j.update(0, 0);
        j.update(160 + 160, 160); // D = 160
        assert_eq!(j.jitter(), 10); // 160 / 16
    }

    #[test]
    fn timestamp_wrap_does_not_spike() {
        let mut j = InterarrivalJitter::default();
        let start = u32::MAX - 800;
        for i in 0..20u32 {
            j.update(i * 160, start.wrapping_add(i * 160));
        }
        assert_eq!(j.jitter(), 0);
    }

    #[test]
    fn report_block_carries_lsr_and_dlsr() {
        let t0 = Instant::now();
        let mut s = RemoteSource::new(9, 100, 8000, 1, t0);
        assert!(matches!(
            s.on_rtp(t0, 0, 100, 0, 160),
            SequenceOutcome::Valid { .. }
        ));
        s.on_rtp(t0, 160, 102, 320, 160);
        s.on_sender_report(t0, NtpTime(0x0000_b705_2000_0000));
        let block = s.report_block(t0 + Duration::from_millis(5250)).unwrap();
        assert_eq!(block.ssrc, 9);
        assert_eq!(block.extended_highest_seq, 102);
        assert_eq!(block.cumulative_lost, 1);
        assert_eq!(block.fraction_lost, 85); // 1 of 3: 256 / 3
        assert_eq!(block.lsr, 0xb705_2000);
        assert_eq!(block.dlsr, 0x0005_4000);
        assert!((s.loss_percent() - 100.0 / 3.0).abs() < 1e-9);
    }
}
