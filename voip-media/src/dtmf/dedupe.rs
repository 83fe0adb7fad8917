//! One key press, however many ways it was reported.
//!
//! A phone may send the same key press as RFC 4733 events, as a SIP INFO
//! and as tones in the audio at once. [`DtmfDeduper`] merges them: each
//! accepted press opens a cluster; a report of the same key from a source
//! that has not reported into the newest cluster of that key, within the
//! window, joins it and is dropped. A second report from a source that
//! already did is a new press (each source de-duplicates its own
//! reports: RFC 4733 by timestamp, the in-band detector by tone pauses).
//! Time is passed in.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::digit::{DtmfDigit, DtmfSource};

/// One key press as seen by one source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfReport {
    /// The key.
    pub digit: DtmfDigit,
    /// Who saw it.
    pub source: DtmfSource,
    /// When it was seen.
    pub at: Instant,
}

#[derive(Debug)]
struct Cluster {
    digit: DtmfDigit,
    first: Instant,
    sources: Vec<DtmfSource>,
}

/// Merges reports of the same key press from several sources.
#[derive(Debug)]
pub struct DtmfDeduper {
    window: Duration,
    clusters: VecDeque<Cluster>,
    duplicates: u64,
}

/// Clusters kept at most (a burst of keys within one window).
const MAX_CLUSTERS: usize = 64;

impl Default for DtmfDeduper {
    fn default() -> Self {
        Self::new(Duration::from_millis(500))
    }
}

impl DtmfDeduper {
    /// Reports of one key from different sources within `window` of the
    /// first report are one press.
    pub fn new(window: Duration) -> Self {
        DtmfDeduper {
            window,
            clusters: VecDeque::new(),
            duplicates: 0,
        }
    }

    /// Takes a report; returns `true` when it is a new key press to act
    /// on, `false` when another source reported the same press already.
    pub fn handle_report(&mut self, report: DtmfReport) -> bool {
        let window = self.window;
        self.clusters
            .retain(|c| report.at.saturating_duration_since(c.first) <= window);
        let newest = self
            .clusters
            .iter_mut()
            .rev()
            .find(|c| c.digit == report.digit);
        if let Some(cluster) = newest {
            if !cluster.sources.contains(&report.source) {
                cluster.sources.push(report.source);
                self.duplicates += 1;
                return false;
            }
        }
        if self.clusters.len() == MAX_CLUSTERS {
            self.clusters.pop_front();
        }
        self.clusters.push_back(Cluster {
            digit: report.digit,
            first: report.at,
            sources: vec![report.source],
        });
        true
    }

    /// Reports dropped as duplicates so far.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(digit: DtmfDigit, source: DtmfSource, t0: Instant, ms: u64) -> DtmfReport {
        DtmfReport {
            digit,
            source,
            at: t0 + Duration::from_millis(ms),
        }
    }

    #[test]
    fn three_sources_one_press() {
        let t0 = Instant::now();
        let mut d = DtmfDeduper::default();
        assert!(d.handle_report(rep(DtmfDigit::D5, DtmfSource::Rfc4733, t0, 0)));
        assert!(!d.handle_report(rep(DtmfDigit::D5, DtmfSource::Inband, t0, 45)));
        assert!(!d.handle_report(rep(DtmfDigit::D5, DtmfSource::SipInfo, t0, 300)));
        assert_eq!(d.duplicates(), 2);
    }

    #[test]
    fn quick_repeats_stay_separate_presses() {
        // "11" pressed 200 ms apart, each sent as RFC 4733 and in-band.
        let t0 = Instant::now();
        let mut d = DtmfDeduper::default();
        let seq = [
            (DtmfSource::Rfc4733, 0, true),
            (DtmfSource::Inband, 40, false),
            (DtmfSource::Rfc4733, 200, true),
            (DtmfSource::Inband, 240, false),
        ];
        for (src, ms, new) in seq {
            assert_eq!(
                d.handle_report(rep(DtmfDigit::D1, src, t0, ms)),
                new,
                "{ms}"
            );
        }
    }

    #[test]
    fn other_keys_and_expired_window() {
        let t0 = Instant::now();
        let mut d = DtmfDeduper::new(Duration::from_millis(300));
        assert!(d.handle_report(rep(DtmfDigit::D1, DtmfSource::Rfc4733, t0, 0)));
        assert!(d.handle_report(rep(DtmfDigit::D2, DtmfSource::Inband, t0, 10)));
        assert!(!d.handle_report(rep(DtmfDigit::D1, DtmfSource::Inband, t0, 20)));
        // Outside the window the same key from another source is new.
        assert!(d.handle_report(rep(DtmfDigit::D2, DtmfSource::SipInfo, t0, 400)));
    }
}
