//! Delay statistics that set the jitter buffer's target delay.
//!
//! For every packet the estimator records its *transit*: arrival time minus
//! the media time its RTP timestamp stands for (both in microseconds; the
//! two clocks have unrelated origins, so only differences matter). The
//! smallest transit among recent packets is the fastest path; a packet's
//! *delay variation* is how much slower than that it was. A packet is in
//! time if the buffer delays playout by at least its variation, so the
//! target is a high quantile of recent variations, clamped to the
//! configured bounds. It rises at once when the quantile does, and falls at
//! a bounded rate when the network calms down. The RFC 3550 §6.4.1
//! interarrival jitter is kept too, for reports.

use std::collections::VecDeque;

/// Recent transits and the target delay derived from them.
#[derive(Debug, Clone)]
pub(crate) struct DelayEstimator {
    transits: VecDeque<i64>,
    capacity: usize,
    quantile: f64,
    min_us: i64,
    max_us: i64,
    decrease_per_s_us: i64,
    target_us: i64,
    initial_us: i64,
    last_decay_us: Option<i64>,
    last_transit: Option<i64>,
    /// RFC 3550 interarrival jitter in microseconds, times 16.
    jitter_x16: i64,
    scratch: Vec<i64>,
}

/// Settings of a [`DelayEstimator`], in microseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EstimatorSettings {
    pub(crate) history: usize,
    pub(crate) quantile: f64,
    pub(crate) min_us: i64,
    pub(crate) max_us: i64,
    pub(crate) initial_us: i64,
    pub(crate) decrease_per_s_us: i64,
}

impl DelayEstimator {
    pub(crate) fn new(s: EstimatorSettings) -> Self {
        Self {
            transits: VecDeque::with_capacity(s.history),
            capacity: s.history,
            quantile: s.quantile,
            min_us: s.min_us,
            max_us: s.max_us,
            decrease_per_s_us: s.decrease_per_s_us,
            target_us: s.initial_us,
            initial_us: s.initial_us,
            last_decay_us: None,
            last_transit: None,
            jitter_x16: 0,
            scratch: Vec::with_capacity(s.history),
        }
    }

    /// Forgets the stream (SSRC change): back to the initial target.
    pub(crate) fn reset(&mut self) {
        self.transits.clear();
        self.target_us = self.initial_us;
        self.last_decay_us = None;
        self.last_transit = None;
        self.jitter_x16 = 0;
    }

    /// Records one packet's transit and raises the target if the recent
    /// variation asks for more.
    pub(crate) fn record(&mut self, transit_us: i64) {
        if let Some(prev) = self.last_transit {
            let d = (transit_us - prev).abs();
            // J += (|D| - J) / 16, kept scaled by 16 (RFC 3550 A.8).
            self.jitter_x16 += d - (self.jitter_x16 + 8) / 16;
        }
        self.last_transit = Some(transit_us);
        if self.transits.len() == self.capacity {
            self.transits.pop_front();
        }
        self.transits.push_back(transit_us);
        let wanted = self.wanted_us();
        if wanted > self.target_us {
            self.target_us = wanted;
        }
    }

    /// Lets the target come down towards what the history asks for, at the
    /// configured rate, `now_us` being the playout time.
    pub(crate) fn decay(&mut self, now_us: i64) {
        let elapsed = match self.last_decay_us.replace(now_us) {
            Some(prev) if now_us > prev => now_us - prev,
            _ => return,
        };
        let wanted = self.wanted_us();
        if wanted < self.target_us {
            let step =
                (i128::from(self.decrease_per_s_us) * i128::from(elapsed) / 1_000_000) as i64;
            self.target_us = (self.target_us - step).max(wanted);
        }
    }

    /// The smallest recent transit: the fastest path.
    pub(crate) fn min_transit(&self) -> Option<i64> {
        self.transits.iter().copied().min()
    }

    /// The target delay in microseconds.
    pub(crate) fn target_us(&self) -> i64 {
        self.target_us
    }

    /// RFC 3550 interarrival jitter, in microseconds.
    pub(crate) fn jitter_us(&self) -> i64 {
        self.jitter_x16 / 16
    }

    /// The configured quantile of recent delay variation, clamped.
    fn wanted_us(&mut self) -> i64 {
        let Some(min) = self.min_transit() else {
            return self.min_us;
        };
        self.scratch.clear();
        self.scratch.extend(self.transits.iter().map(|t| t - min));
        let n = self.scratch.len();
        let rank = ((self.quantile * n as f64).ceil() as usize).clamp(1, n) - 1;
        let (_, v, _) = self.scratch.select_nth_unstable(rank);
        (*v).clamp(self.min_us, self.max_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimator() -> DelayEstimator {
        DelayEstimator::new(EstimatorSettings {
            history: 100,
            quantile: 0.95,
            min_us: 20_000,
            max_us: 500_000,
            initial_us: 40_000,
            decrease_per_s_us: 20_000,
        })
    }

    #[test]
    fn steady_network_keeps_the_minimum_after_decay() {
        let mut e = estimator();
        for i in 0..100 {
            e.record(5_000);
            e.decay(i * 20_000);
        }
        assert_eq!(e.target_us(), 20_000);
        assert_eq!(e.jitter_us(), 0);
        assert_eq!(e.min_transit(), Some(5_000));
    }

    #[test]
    fn rises_at_once_and_falls_slowly() {
        let mut e = estimator();
        for _ in 0..100 {
            e.record(0);
        }
        e.decay(0);
        assert_eq!(e.target_us(), 40_000, "nothing asked for more yet");
        // Ten slow packets in a hundred: the 95th percentile is slow.
        for _ in 0..10 {
            e.record(150_000);
        }
        assert_eq!(e.target_us(), 150_000);
        // Calm packets push them out of the window; meanwhile the target
        // holds, then it falls 20 ms per second of playout.
        let mut now = 0;
        for _ in 0..100 {
            e.record(0);
            now += 20_000;
            e.decay(now);
        }
        let held = e.target_us();
        assert!(held > 100_000, "{held}");
        for _ in 0..50 {
            e.record(0);
            now += 20_000;
            e.decay(now);
        }
        assert_eq!(e.target_us(), held - 20_000);
        for _ in 0..500 {
            e.record(0);
            now += 20_000;
            e.decay(now);
        }
        assert_eq!(e.target_us(), 20_000);
    }

    #[test]
    fn jitter_follows_rfc3550() {
        let mut e = estimator();
        e.record(0);
        e.record(16_000);
        // J = 0 + (16000 - 0) / 16
        assert_eq!(e.jitter_us(), 1_000);
        e.reset();
        assert_eq!(e.jitter_us(), 0);
        assert_eq!(e.target_us(), 40_000);
        assert_eq!(e.min_transit(), None);
    }
}
