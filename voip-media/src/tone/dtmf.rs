//! In-band DTMF generation (ITU-T Q.23): each key is the sum of one
//! low-group (row) and one high-group (column) frequency.
//!
//! | | 1209 Hz | 1336 Hz | 1477 Hz | 1633 Hz |
//! |---|---|---|---|---|
//! | **697 Hz** | 1 | 2 | 3 | A |
//! | **770 Hz** | 4 | 5 | 6 | B |
//! | **852 Hz** | 7 | 8 | 9 | C |
//! | **941 Hz** | * | 0 | # | D |
//!
//! Defaults: 100 ms of tone and 100 ms of silence per digit (Q.24 asks
//! receivers to accept 40 ms), −9 dBm0 for the low frequency and −7 dBm0
//! for the high one (2 dB of "twist", as telephones send).

use std::collections::VecDeque;
use std::f64::consts::TAU;

use voip_core::AudioFrame;

use super::dbm0_to_amplitude;
use crate::MediaSource;

/// Low-group (row) frequencies in Hz.
pub const DTMF_LOW: [u32; 4] = [697, 770, 852, 941];
/// High-group (column) frequencies in Hz.
pub const DTMF_HIGH: [u32; 4] = [1209, 1336, 1477, 1633];

const KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// The (low, high) frequencies of a DTMF key (`0-9`, `*`, `#`, `A-D`,
/// lower case accepted).
pub fn dtmf_frequencies(key: char) -> Option<(u32, u32)> {
    let key = key.to_ascii_uppercase();
    KEYS.iter().enumerate().find_map(|(row, keys)| {
        keys.iter()
            .position(|&k| k == key)
            .map(|col| (DTMF_LOW[row], DTMF_HIGH[col]))
    })
}

/// How DTMF digits sound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DtmfToneConfig {
    /// Tone duration per digit, in milliseconds.
    pub tone_ms: u32,
    /// Silence after each digit, in milliseconds.
    pub gap_ms: u32,
    /// Level of the low-group frequency, in dBm0.
    pub low_dbm0: f64,
    /// Level of the high-group frequency, in dBm0.
    pub high_dbm0: f64,
}

impl Default for DtmfToneConfig {
    fn default() -> Self {
        Self {
            tone_ms: 100,
            gap_ms: 100,
            low_dbm0: -9.0,
            high_dbm0: -7.0,
        }
    }
}

/// A key that is not a DTMF digit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a DTMF key (0-9, *, #, A-D)")]
pub struct NotDtmf(pub char);

/// Plays queued DTMF digits as a [`MediaSource`].
///
/// It returns `None` once the queue has played out; queue more digits and
/// it plays again.
#[derive(Debug, Clone)]
pub struct DtmfGenerator {
    config: DtmfToneConfig,
    queue: VecDeque<(u32, u32)>,
    /// Samples into the current digit (tone then gap).
    position: u64,
    rate: u32,
}

impl DtmfGenerator {
    /// A generator with nothing queued.
    pub fn new(config: DtmfToneConfig) -> Self {
        Self {
            config,
            queue: VecDeque::new(),
            position: 0,
            rate: 8000,
        }
    }

    /// Queues `keys` (whitespace is ignored). Nothing is queued if any key
    /// is invalid.
    pub fn queue(&mut self, keys: &str) -> Result<(), NotDtmf> {
        let digits: Vec<(u32, u32)> = keys
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| dtmf_frequencies(c).ok_or(NotDtmf(c)))
            .collect::<Result<_, _>>()?;
        self.queue.extend(digits);
        Ok(())
    }

    /// Digits still to play (including the one playing).
    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Drops every queued digit.
    pub fn clear(&mut self) {
        self.queue.clear();
        self.position = 0;
    }
}

impl MediaSource for DtmfGenerator {
    fn next_frame(&mut self, sample_rate: u32, samples: usize) -> Option<AudioFrame> {
        let sample_rate = sample_rate.max(1);
        if sample_rate != self.rate {
            self.position = self.position * u64::from(sample_rate) / u64::from(self.rate);
            self.rate = sample_rate;
        }
        let rate = u64::from(sample_rate);
        let tone_len = u64::from(self.config.tone_ms) * rate / 1000;
        let digit_len = (tone_len + u64::from(self.config.gap_ms) * rate / 1000).max(1);
        let low_amp = dbm0_to_amplitude(self.config.low_dbm0);
        let high_amp = dbm0_to_amplitude(self.config.high_dbm0);
        let mut out = Vec::with_capacity(samples);
        while out.len() < samples {
            let Some(&(low, high)) = self.queue.front() else {
                break;
            };
            let n = self.position;
            let v = if n < tone_len {
                let t = n as f64 / rate as f64;
                low_amp * (TAU * (f64::from(low) * t).fract()).sin()
                    + high_amp * (TAU * (f64::from(high) * t).fract()).sin()
            } else {
                0.0
            };
            out.push(v.round().clamp(-32768.0, 32767.0) as i16);
            self.position += 1;
            if self.position >= digit_len {
                self.position = 0;
                self.queue.pop_front();
            }
        }
        if out.is_empty() {
            None
        } else {
            Some(AudioFrame::mono(sample_rate, out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{amplitude, block_on_off};
    use super::*;

    fn play(keys: &str, config: DtmfToneConfig, rate: u32) -> Vec<i16> {
        let mut g = DtmfGenerator::new(config);
        g.queue(keys).unwrap();
        let mut out = Vec::new();
        while let Some(f) = g.next_frame(rate, (rate / 50) as usize) {
            out.extend(f.samples);
        }
        out
    }

    #[test]
    fn the_keypad() {
        assert_eq!(dtmf_frequencies('1'), Some((697, 1209)));
        assert_eq!(dtmf_frequencies('5'), Some((770, 1336)));
        assert_eq!(dtmf_frequencies('9'), Some((852, 1477)));
        assert_eq!(dtmf_frequencies('0'), Some((941, 1336)));
        assert_eq!(dtmf_frequencies('*'), Some((941, 1209)));
        assert_eq!(dtmf_frequencies('#'), Some((941, 1477)));
        assert_eq!(dtmf_frequencies('A'), Some((697, 1633)));
        assert_eq!(dtmf_frequencies('d'), Some((941, 1633)));
        assert_eq!(dtmf_frequencies('E'), None);
    }

    #[test]
    fn every_key_measures_its_two_frequencies_only() {
        for key in "0123456789*#ABCD".chars() {
            let (low, high) = dtmf_frequencies(key).unwrap();
            for rate in [8000u32, 16000] {
                let samples = play(&key.to_string(), DtmfToneConfig::default(), rate);
                let tone = &samples[..(rate / 10) as usize];
                let level = |f: u32| amplitude(tone, rate, f64::from(f));
                let expected_low = dbm0_to_amplitude(-9.0);
                let expected_high = dbm0_to_amplitude(-7.0);
                assert!(
                    (level(low) / expected_low - 1.0).abs() < 0.02,
                    "{key} low {}",
                    level(low)
                );
                assert!(
                    (level(high) / expected_high - 1.0).abs() < 0.02,
                    "{key} high {}",
                    level(high)
                );
                for &other in DTMF_LOW.iter().chain(&DTMF_HIGH) {
                    if other != low && other != high {
                        // Hann leakage from the neighbours stays 30 dB down.
                        assert!(
                            level(other) < expected_low * 0.03,
                            "{key}: {other} Hz at {}",
                            level(other)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn durations_and_gaps() {
        let config = DtmfToneConfig {
            tone_ms: 70,
            gap_ms: 50,
            ..DtmfToneConfig::default()
        };
        let samples = play("123", config, 8000);
        assert_eq!(samples.len(), 3 * 120 * 8);
        let runs = block_on_off(&samples, 8000);
        assert_eq!(
            runs,
            vec![
                (true, 70),
                (false, 50),
                (true, 70),
                (false, 50),
                (true, 70),
                (false, 50)
            ]
        );
    }

    #[test]
    fn invalid_keys_queue_nothing_and_the_queue_refills() {
        let mut g = DtmfGenerator::new(DtmfToneConfig::default());
        assert_eq!(g.queue("12x"), Err(NotDtmf('x')));
        assert_eq!(g.pending(), 0);
        assert!(g.next_frame(8000, 160).is_none());
        g.queue("1 2").unwrap();
        assert_eq!(g.pending(), 2);
        let mut total = 0;
        while let Some(f) = g.next_frame(8000, 160) {
            total += f.samples.len();
        }
        assert_eq!(total, 2 * 1600);
        g.queue("#").unwrap();
        assert!(g.next_frame(8000, 160).is_some());
        g.clear();
        assert!(g.next_frame(8000, 160).is_none());
    }
}
