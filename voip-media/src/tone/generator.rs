//! [`Tone`]: a cadence of segments, each silent or a sum of sine
//! components, and [`ToneGenerator`], which plays one as a
//! [`MediaSource`](crate::MediaSource) at whatever rate is asked for.

use std::f64::consts::TAU;

use voip_core::AudioFrame;

use crate::MediaSource;

/// The level of a full-scale sine in dBm0 (ITU-T G.711: +3.14 dBm0 for
/// A-law; µ-law's +3.17 is within 0.03 dB).
#[allow(clippy::approx_constant)] // a level in dB that happens to read like π
pub const FULL_SCALE_DBM0: f64 = 3.14;

/// Peak amplitude (16-bit) of a sine at `dbm0` dBm0: 0 dBm0 ≈ 22,800.
pub fn dbm0_to_amplitude(dbm0: f64) -> f64 {
    32767.0 * 10f64.powf((dbm0 - FULL_SCALE_DBM0) / 20.0)
}

/// One sound in a tone segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Component {
    /// A sine at `freq` Hz and `dbm0` dBm0.
    Sine {
        /// Frequency in Hz.
        freq: f64,
        /// Level in dBm0.
        dbm0: f64,
    },
    /// A `carrier` Hz sine amplitude-modulated by `modulation` Hz with
    /// `depth` (0 to 1), at `dbm0` dBm0 for the unmodulated carrier (the
    /// "400 × 25 Hz" tones of Japan and India).
    Modulated {
        /// Carrier frequency in Hz.
        carrier: f64,
        /// Modulating frequency in Hz.
        modulation: f64,
        /// Modulation depth, 0 to 1.
        depth: f64,
        /// Carrier level in dBm0.
        dbm0: f64,
    },
}

impl Component {
    /// A sine.
    pub fn sine(freq: f64, dbm0: f64) -> Self {
        Component::Sine { freq, dbm0 }
    }

    /// The sample at time `t` seconds.
    fn at(&self, t: f64) -> f64 {
        match *self {
            Component::Sine { freq, dbm0 } => {
                dbm0_to_amplitude(dbm0) * (TAU * (freq * t).fract()).sin()
            }
            Component::Modulated {
                carrier,
                modulation,
                depth,
                dbm0,
            } => {
                let envelope = 1.0 + depth * (TAU * (modulation * t).fract()).sin();
                dbm0_to_amplitude(dbm0) * envelope / (1.0 + depth)
                    * (TAU * (carrier * t).fract()).sin()
            }
        }
    }
}

/// A stretch of a cadence: silence (no components) or a sum of components.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Duration in milliseconds.
    pub duration_ms: u32,
    /// What sounds; empty for silence.
    pub components: Vec<Component>,
}

/// A call-progress tone: segments played in a loop (or once), or one
/// continuous sound.
#[derive(Debug, Clone, PartialEq)]
pub struct Tone {
    segments: Vec<Segment>,
    repeat: bool,
}

impl Tone {
    /// A continuous sound (dial tone).
    pub fn continuous(components: Vec<Component>) -> Self {
        Self {
            segments: vec![Segment {
                duration_ms: 1000,
                components,
            }],
            repeat: true,
        }
    }

    /// `components` on and off by `cadence`, a list of (on ms, off ms)
    /// pairs repeated forever: UK ringback is `[(400, 200), (400, 2000)]`.
    pub fn cadenced(components: Vec<Component>, cadence: &[(u32, u32)]) -> Self {
        let mut segments = Vec::with_capacity(cadence.len() * 2);
        for &(on, off) in cadence {
            segments.push(Segment {
                duration_ms: on,
                components: components.clone(),
            });
            if off > 0 {
                segments.push(Segment {
                    duration_ms: off,
                    components: Vec::new(),
                });
            }
        }
        Self::from_segments(segments, true)
    }

    /// Any sequence of segments, looped or played once.
    pub fn from_segments(segments: Vec<Segment>, repeat: bool) -> Self {
        let segments = segments.into_iter().filter(|s| s.duration_ms > 0).collect();
        Self { segments, repeat }
    }

    /// The segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether the cadence loops.
    pub fn repeats(&self) -> bool {
        self.repeat
    }

    /// One pass through the cadence, in milliseconds.
    pub fn cycle_ms(&self) -> u64 {
        self.segments.iter().map(|s| u64::from(s.duration_ms)).sum()
    }

    /// The (on, off) pairs of the cadence, merging consecutive sounding
    /// or silent segments; a continuous tone gives `[(cycle, 0)]`.
    pub fn cadence(&self) -> Vec<(u32, u32)> {
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for s in &self.segments {
            let on = !s.components.is_empty();
            match pairs.last_mut() {
                Some(last) if on && last.1 == 0 => last.0 += s.duration_ms,
                Some(last) if !on => last.1 += s.duration_ms,
                _ if on => pairs.push((s.duration_ms, 0)),
                _ => pairs.push((0, s.duration_ms)),
            }
        }
        pairs
    }

    /// A generator that plays this tone.
    pub fn generator(&self) -> ToneGenerator {
        ToneGenerator::new(self.clone())
    }
}

/// Plays a [`Tone`] as a [`MediaSource`]; endless unless the tone is
/// one-shot or [`ToneGenerator::limit_ms`] is set.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    tone: Tone,
    /// Samples played, counted at `rate`.
    played: u64,
    rate: u32,
    limit_ms: Option<u64>,
}

impl ToneGenerator {
    /// A generator at the start of `tone`.
    pub fn new(tone: Tone) -> Self {
        Self {
            tone,
            played: 0,
            rate: 8000,
            limit_ms: None,
        }
    }

    /// Ends the source after `ms` milliseconds.
    pub fn limit_ms(mut self, ms: u64) -> Self {
        self.limit_ms = Some(ms);
        self
    }

    /// Milliseconds played so far.
    pub fn elapsed_ms(&self) -> u64 {
        self.played * 1000 / u64::from(self.rate)
    }

    /// The total length in samples at `rate`, if the source ends.
    fn end(&self, rate: u32) -> Option<u64> {
        let once =
            (!self.tone.repeat || self.tone.segments.is_empty()).then(|| self.tone.cycle_ms());
        let ms = match (once, self.limit_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        ms.map(|ms| ms * u64::from(rate) / 1000)
    }

    /// The segment sounding at sample `n` (at `rate`), if any.
    fn segment_at(&self, n: u64, rate: u32) -> Option<&Segment> {
        let cycle = self.tone.cycle_ms() * u64::from(rate) / 1000;
        if cycle == 0 {
            return None;
        }
        let mut within = if self.tone.repeat { n % cycle } else { n };
        for s in &self.tone.segments {
            let len = u64::from(s.duration_ms) * u64::from(rate) / 1000;
            if within < len {
                return Some(s);
            }
            within -= len;
        }
        None
    }
}

impl MediaSource for ToneGenerator {
    fn next_frame(&mut self, sample_rate: u32, samples: usize) -> Option<AudioFrame> {
        let sample_rate = sample_rate.max(1);
        if sample_rate != self.rate {
            // Keep the position in time when the consumer changes rate.
            self.played = self.played * u64::from(sample_rate) / u64::from(self.rate);
            self.rate = sample_rate;
        }
        let mut count = samples as u64;
        if let Some(end) = self.end(sample_rate) {
            count = count.min(end.saturating_sub(self.played));
            if count == 0 {
                return None;
            }
        }
        let mut out = Vec::with_capacity(count as usize);
        for n in self.played..self.played + count {
            let t = n as f64 / f64::from(sample_rate);
            let v: f64 = self
                .segment_at(n, sample_rate)
                .map_or(0.0, |s| s.components.iter().map(|c| c.at(t)).sum());
            out.push(v.round().clamp(-32768.0, 32767.0) as i16);
        }
        self.played += count;
        Some(AudioFrame::mono(sample_rate, out))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{block_on_off, level_dbm0};
    use super::*;

    #[test]
    fn levels_in_dbm0() {
        assert!((dbm0_to_amplitude(FULL_SCALE_DBM0) - 32767.0).abs() < 1e-9);
        let zero = dbm0_to_amplitude(0.0);
        assert!((22_700.0..22_900.0).contains(&zero), "{zero}");
        let mut g = Tone::continuous(vec![Component::sine(1004.0, -10.0)]).generator();
        let f = g.next_frame(8000, 8000).unwrap();
        let measured = level_dbm0(&f.samples);
        assert!((measured + 10.0).abs() < 0.05, "{measured}");
    }

    #[test]
    fn cadence_and_limits() {
        let tone = Tone::cadenced(vec![Component::sine(425.0, -10.0)], &[(200, 300)]);
        assert_eq!(tone.cadence(), vec![(200, 300)]);
        let mut g = tone.generator().limit_ms(1200);
        let mut all = Vec::new();
        while let Some(f) = g.next_frame(8000, 160) {
            all.extend(f.samples);
        }
        assert_eq!(all.len(), 9600);
        let pattern = block_on_off(&all, 8000);
        assert_eq!(
            pattern,
            vec![
                (true, 200),
                (false, 300),
                (true, 200),
                (false, 300),
                (true, 200)
            ]
        );
    }

    #[test]
    fn one_shot_tones_end_and_rate_changes_keep_time() {
        let tone = Tone::from_segments(
            vec![Segment {
                duration_ms: 50,
                components: vec![Component::sine(1000.0, -10.0)],
            }],
            false,
        );
        let mut g = tone.generator();
        assert_eq!(g.next_frame(16000, 320).unwrap().samples.len(), 320);
        assert_eq!(g.next_frame(8000, 1000).unwrap().samples.len(), 240);
        assert!(g.next_frame(8000, 160).is_none());
        assert_eq!(g.elapsed_ms(), 50);
    }
}
