//! In-band DTMF detector (ITU-T Q.23 tones, Q.24 acceptance limits).
//!
//! The audio is cut into sub-blocks of 3.125 ms (25 samples at 8 kHz, 50 at
//! 16 kHz). Each sub-block runs eight [`Goertzel`] filters, one per Q.23
//! frequency, with the phase referred to absolute sample time; every
//! sub-block the last four are summed into a 12.5 ms analysis window (bins
//! 80 Hz apart, enough to tell 697 from 770 Hz). A window holds a key when
//!
//! 1. the strongest row and column bins are each above the minimum level;
//! 2. the twist is within limits (low group up to `normal_twist_db` louder,
//!    high group up to `reverse_twist_db` louder);
//! 3. each is `relative_peak_db` above the other bins of its group;
//! 4. the two tones carry at least `tone_energy_ratio` of the window's
//!    energy (speech and noise spread theirs: talk-off protection).
//!
//! A key is reported once the same key held in windows covering
//! `min_duration`, and only if both tones are within `max_deviation` of
//! their nominal frequency: the frequency offset is measured from the phase
//! advance of each bin between windows one hop and one window apart, which
//! resolves ±1.5 % (accept) from ±3.5 % (reject) where the energies alone
//! cannot. The key ends after `min_pause` without it; the next press of the
//! same key is a new report.
//!
//! Works at any sample rate of at least 8 kHz; [`DtmfDetector`] is a
//! [`MediaSink`], and [`DtmfDetector::handle_frame`] takes the time of the
//! frame's first sample so reports carry the right [`Instant`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use voip_core::{AudioFrame, ConfigError};

use super::dedupe::DtmfReport;
use super::digit::{COLUMN_FREQUENCIES, DtmfDigit, DtmfSource, ROW_FREQUENCIES};
use super::goertzel::{Complex, Goertzel};
use crate::MediaSink;

/// Sub-blocks per analysis window.
const WINDOW_SUBS: usize = 4;
/// Windows remembered for the phase measurement (lag of one window).
const HISTORY: usize = WINDOW_SUBS + 1;
/// Reports kept for a caller that does not poll.
const MAX_REPORTS: usize = 256;
/// A full-scale sine (peak 32767) is +3.17 dBm0 (G.711 digital milliwatt).
const FULL_SCALE_DBM0: f64 = 3.17;

/// Acceptance limits of a [`DtmfDetector`], with ITU-T Q.24 defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct DtmfDetectorConfig {
    min_level_dbm0: f64,
    normal_twist_db: f64,
    reverse_twist_db: f64,
    relative_peak_db: f64,
    tone_energy_ratio: f64,
    max_deviation: f64,
    min_duration: Duration,
    min_pause: Duration,
}

impl Default for DtmfDetectorConfig {
    fn default() -> Self {
        DtmfDetectorConfig {
            min_level_dbm0: -36.0,
            normal_twist_db: 10.0,
            reverse_twist_db: 6.0,
            relative_peak_db: 6.0,
            tone_energy_ratio: 0.65,
            max_deviation: 0.025,
            min_duration: Duration::from_millis(31),
            min_pause: Duration::from_millis(15),
        }
    }
}

impl DtmfDetectorConfig {
    /// Weakest tone accepted, per frequency, in dBm0 (default −36).
    pub fn min_level_dbm0(mut self, v: f64) -> Self {
        self.min_level_dbm0 = v;
        self
    }
    /// How much louder the low group may be (default 10 dB; Q.24 asks 8).
    pub fn normal_twist_db(mut self, v: f64) -> Self {
        self.normal_twist_db = v;
        self
    }
    /// How much louder the high group may be (default 6 dB; Q.24 asks 4).
    pub fn reverse_twist_db(mut self, v: f64) -> Self {
        self.reverse_twist_db = v;
        self
    }
    /// Largest frequency offset accepted, as a fraction (default 0.025:
    /// between Q.24's 1.5 % must-accept and 3.5 % must-reject).
    pub fn max_deviation(mut self, v: f64) -> Self {
        self.max_deviation = v;
        self
    }
    /// Shortest tone reported (default 31 ms: 40 ms tones pass, 25 ms
    /// tones do not).
    pub fn min_duration(mut self, d: Duration) -> Self {
        self.min_duration = d;
        self
    }
    /// Silence that ends a key (default 15 ms; a Q.24 40 ms pause always
    /// separates two presses).
    pub fn min_pause(mut self, d: Duration) -> Self {
        self.min_pause = d;
        self
    }
    /// Share of the window's energy the two tones must carry (default 0.65).
    pub fn tone_energy_ratio(mut self, v: f64) -> Self {
        self.tone_energy_ratio = v;
        self
    }

    /// Checks the limits.
    pub fn build(self) -> Result<Self, ConfigError> {
        if !(self.tone_energy_ratio > 0.0 && self.tone_energy_ratio <= 1.0) {
            return Err(ConfigError::new("tone_energy_ratio", "must be in (0, 1]"));
        }
        if !(self.max_deviation > 0.0 && self.max_deviation < 0.1) {
            return Err(ConfigError::new("max_deviation", "must be in (0, 0.1)"));
        }
        if self.normal_twist_db < 0.0 || self.reverse_twist_db < 0.0 {
            return Err(ConfigError::new("twist", "must not be negative"));
        }
        if self.min_duration < Duration::from_millis(10) {
            return Err(ConfigError::new("min_duration", "must be at least 10 ms"));
        }
        Ok(self)
    }
}

#[derive(Debug, Clone, Copy)]
struct SubBlock {
    bins: [Complex; 8],
    energy: f64,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    bins: [Complex; 8],
    key: Option<DtmfDigit>,
}

#[derive(Debug)]
struct Run {
    digit: DtmfDigit,
    hops: u32,
    misses: u32,
    decided: bool,
    /// Σ Y_k·conj(Y_{k-1}) and Σ Y_k·conj(Y_{k-4}) for row and column.
    lag1: [Complex; 2],
    lag4: [Complex; 2],
}

/// Sans-IO in-band DTMF detector.
#[derive(Debug)]
pub struct DtmfDetector {
    config: DtmfDetectorConfig,
    rate: u32,
    sub_len: usize,
    filters: Vec<Goertzel>,
    min_tone_energy: f64,
    min_hops: u32,
    end_misses: u32,
    pending: Vec<f64>,
    /// Absolute index of `pending[0]`.
    index: u64,
    subs: VecDeque<SubBlock>,
    windows: VecDeque<Window>,
    run: Option<Run>,
    /// (time, absolute sample index) pair that dates the samples.
    anchor: (Instant, u64),
    reports: VecDeque<DtmfReport>,
}

impl DtmfDetector {
    /// A detector for audio at `sample_rate` (at least 8000 Hz). `now` dates
    /// the first sample given to [`MediaSink::write_frame`].
    pub fn new(
        config: DtmfDetectorConfig,
        sample_rate: u32,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        if sample_rate < 8000 {
            return Err(ConfigError::new("sample_rate", "must be at least 8000 Hz"));
        }
        let sub_len = ((f64::from(sample_rate) / 320.0).round() as usize).max(1);
        let hop = Duration::from_secs_f64(sub_len as f64 / f64::from(sample_rate));
        let window_len = (sub_len * WINDOW_SUBS) as f64;
        let amp = 32767.0 * 10f64.powf((config.min_level_dbm0 - FULL_SCALE_DBM0) / 20.0);
        let min_hops = (config.min_duration.as_secs_f64() / hop.as_secs_f64()).ceil() as u32;
        let end_misses = (config.min_pause.as_secs_f64() / hop.as_secs_f64()).ceil() as u32;
        let filters = ROW_FREQUENCIES
            .iter()
            .chain(COLUMN_FREQUENCIES.iter())
            .map(|f| Goertzel::new(*f as u32, sample_rate))
            .collect();
        Ok(DtmfDetector {
            min_tone_energy: amp * amp * window_len / 2.0,
            min_hops: min_hops.max(1),
            end_misses: end_misses.max(1),
            config,
            rate: sample_rate,
            sub_len,
            filters,
            pending: Vec::with_capacity(sub_len),
            index: 0,
            subs: VecDeque::with_capacity(WINDOW_SUBS),
            windows: VecDeque::with_capacity(HISTORY),
            run: None,
            anchor: (now, 0),
            reports: VecDeque::new(),
        })
    }

    /// The sample rate this detector expects.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Takes mono samples at the detector's rate; `now` is the time of the
    /// first one.
    pub fn handle_samples(&mut self, now: Instant, samples: &[i16]) {
        self.anchor = (now, self.index + self.pending.len() as u64);
        self.push_samples(samples.iter().map(|s| f64::from(*s)));
    }

    /// Takes a frame (channels are mixed down); `now` is the time of its
    /// first sample. A frame at another rate restarts the detector at that
    /// rate.
    pub fn handle_frame(&mut self, now: Instant, frame: &AudioFrame) {
        self.anchor = (now, self.index + self.pending.len() as u64);
        self.write_frame(frame);
    }

    /// The next key found.
    #[must_use]
    pub fn poll_report(&mut self) -> Option<DtmfReport> {
        self.reports.pop_front()
    }

    fn push_samples(&mut self, samples: impl Iterator<Item = f64>) {
        for s in samples {
            self.pending.push(s);
            if self.pending.len() == self.sub_len {
                self.sub_block();
            }
        }
    }

    fn sub_block(&mut self) {
        let mut bins = [Complex::default(); 8];
        for (bin, filter) in bins.iter_mut().zip(&self.filters) {
            *bin = filter.block(&self.pending).mul(filter.phasor(self.index));
        }
        let energy = self.pending.iter().map(|v| v * v).sum();
        self.index += self.pending.len() as u64;
        self.pending.clear();
        if self.subs.len() == WINDOW_SUBS {
            self.subs.pop_front();
        }
        self.subs.push_back(SubBlock { bins, energy });
        if self.subs.len() == WINDOW_SUBS {
            self.window();
        }
    }

    fn window(&mut self) {
        let mut bins = [Complex::default(); 8];
        let mut energy = 0.0;
        for sub in &self.subs {
            for (b, s) in bins.iter_mut().zip(sub.bins) {
                *b = b.add(s);
            }
            energy += sub.energy;
        }
        let key = self.classify(&bins, energy);
        if self.windows.len() == HISTORY {
            self.windows.pop_front();
        }
        self.windows.push_back(Window { bins, key });
        self.track(key);
    }

    fn classify(&self, bins: &[Complex; 8], energy: f64) -> Option<DtmfDigit> {
        let n = (self.sub_len * WINDOW_SUBS) as f64;
        let power: Vec<f64> = bins.iter().map(|b| 2.0 * b.norm_sqr() / n).collect();
        let (row, row_p) = strongest(&power[..4]);
        let (col, col_p) = strongest(&power[4..]);
        if row_p < self.min_tone_energy || col_p < self.min_tone_energy {
            return None;
        }
        if row_p > col_p * db(self.config.normal_twist_db)
            || col_p > row_p * db(self.config.reverse_twist_db)
        {
            return None;
        }
        let peak = db(self.config.relative_peak_db);
        let others_ok = |group: &[f64], best: usize, best_p: f64| {
            group
                .iter()
                .enumerate()
                .all(|(i, p)| i == best || p * peak <= best_p)
        };
        if !others_ok(&power[..4], row, row_p) || !others_ok(&power[4..], col, col_p) {
            return None;
        }
        if row_p + col_p < self.config.tone_energy_ratio * energy {
            return None;
        }
        DtmfDigit::from_position(row, col)
    }

    fn track(&mut self, key: Option<DtmfDigit>) {
        let run = match (key, self.run.as_mut()) {
            (Some(d), Some(run)) if run.digit == d => run,
            (Some(d), Some(run)) if !run.decided => {
                *run = Run::new(d);
                run
            }
            (Some(d), None) => self.run.insert(Run::new(d)),
            (_, Some(run)) => {
                run.misses += 1;
                if run.misses >= self.end_misses {
                    self.run = None;
                }
                return;
            }
            (None, None) => return,
        };
        run.hops += 1;
        run.misses = 0;
        let (r, c) = run.digit.position();
        let k = self.windows.len() - 1;
        for (slot, bin) in [r, 4 + c].into_iter().enumerate() {
            let now = self.windows[k].bins[bin];
            if k >= 1 && self.windows[k - 1].key == Some(run.digit) {
                run.lag1[slot] = run.lag1[slot].add(now.mul(self.windows[k - 1].bins[bin].conj()));
            }
            if k >= WINDOW_SUBS && self.windows[k - WINDOW_SUBS].key == Some(run.digit) {
                let old = self.windows[k - WINDOW_SUBS].bins[bin];
                run.lag4[slot] = run.lag4[slot].add(now.mul(old.conj()));
            }
        }
        if run.decided || run.hops < self.min_hops {
            return;
        }
        run.decided = true;
        let hop = self.sub_len as f64 / f64::from(self.rate);
        let nominal = [ROW_FREQUENCIES[r], COLUMN_FREQUENCIES[c]];
        let in_tolerance = (0..2).all(|i| {
            let offset = frequency_offset(run.lag1[i], run.lag4[i], hop);
            (offset / nominal[i]).abs() <= self.config.max_deviation
        });
        if !in_tolerance {
            return;
        }
        let digit = run.digit;
        let (t0, i0) = self.anchor;
        let secs = self.index.saturating_sub(i0) as f64 / f64::from(self.rate);
        if self.reports.len() == MAX_REPORTS {
            self.reports.pop_front();
        }
        self.reports.push_back(DtmfReport {
            digit,
            source: DtmfSource::Inband,
            at: t0 + Duration::from_secs_f64(secs),
        });
    }

    fn restart(&mut self, rate: u32) {
        let now = self.anchor.0;
        if let Ok(fresh) = DtmfDetector::new(self.config.clone(), rate, now) {
            *self = fresh;
        }
    }
}

impl Run {
    fn new(digit: DtmfDigit) -> Self {
        Run {
            digit,
            hops: 0,
            misses: 0,
            decided: false,
            lag1: [Complex::default(); 2],
            lag4: [Complex::default(); 2],
        }
    }
}

impl MediaSink for DtmfDetector {
    fn write_frame(&mut self, frame: &AudioFrame) {
        if frame.sample_rate != self.rate {
            if frame.sample_rate < 8000 {
                return;
            }
            self.restart(frame.sample_rate);
        }
        let ch = usize::from(frame.channels.max(1));
        let mixed = frame
            .samples
            .chunks(ch)
            .map(|c| c.iter().map(|s| f64::from(*s)).sum::<f64>() / c.len() as f64);
        self.push_samples(mixed);
    }
}

fn strongest(p: &[f64]) -> (usize, f64) {
    p.iter().copied().enumerate().fold(
        (0, f64::MIN),
        |best, (i, v)| if v > best.1 { (i, v) } else { best },
    )
}

fn db(v: f64) -> f64 {
    10f64.powf(v / 10.0)
}

/// Frequency offset in Hz from the summed phase advances over one hop
/// (coarse, unambiguous to ±1/(2·hop)) and over one window (four times
/// finer; its ambiguity is resolved by the coarse value).
fn frequency_offset(lag1: Complex, lag4: Complex, hop: f64) -> f64 {
    let tau = std::f64::consts::TAU;
    let coarse = lag1.arg() / (tau * hop);
    if lag4.norm_sqr() == 0.0 {
        return coarse;
    }
    let span = hop * WINDOW_SUBS as f64;
    let fine = lag4.arg();
    let m = ((coarse * tau * span - fine) / tau).round();
    (fine + tau * m) / (tau * span)
}
