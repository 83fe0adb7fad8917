//! A deterministic engine for tests: one beep per character.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Synthesized, TtsEngine, TtsError, check_input};

/// Renders each character as a short beep whose pitch depends on the
/// character (spaces are silence), so equal text gives equal audio and
/// different text different audio. Counts its calls, so tests can see cache
/// hits.
#[derive(Debug)]
pub struct ToneEngine {
    sample_rate: u32,
    calls: AtomicUsize,
}

impl Default for ToneEngine {
    fn default() -> Self {
        ToneEngine::new(8000)
    }
}

impl ToneEngine {
    /// Beeps at `sample_rate` Hz.
    pub fn new(sample_rate: u32) -> Self {
        ToneEngine {
            sample_rate: sample_rate.max(1000),
            calls: AtomicUsize::new(0),
        }
    }

    /// How many times `synthesize` ran.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }
}

impl TtsEngine for ToneEngine {
    fn name(&self) -> &str {
        "tone"
    }

    fn synthesize(&self, text: &str, voice: &str, speed: f32) -> Result<Synthesized, TtsError> {
        check_input(text, speed)?;
        if !(voice.is_empty() || voice == "tone") {
            return Err(TtsError::UnknownVoice(voice.to_string()));
        }
        self.calls.fetch_add(1, Ordering::Relaxed);
        let rate = f64::from(self.sample_rate);
        let beep = (rate * 0.06 / f64::from(speed)) as usize;
        let gap = (rate * 0.02 / f64::from(speed)) as usize;
        let mut samples = Vec::new();
        for c in text.chars() {
            if c.is_whitespace() {
                samples.extend(std::iter::repeat_n(0, beep + gap));
                continue;
            }
            let freq = 300.0 + f64::from(u32::from(c) % 32) * 50.0;
            samples.extend((0..beep).map(|i| {
                let phase = 2.0 * std::f64::consts::PI * freq * i as f64 / rate;
                (8000.0 * phase.sin()) as i16
            }));
            samples.extend(std::iter::repeat_n(0, gap));
        }
        Ok(Synthesized {
            sample_rate: self.sample_rate,
            samples,
        })
    }

    fn voices(&self) -> Vec<String> {
        vec!["tone".into()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_beeps() {
        let e = ToneEngine::new(8000);
        let a = e.synthesize("ab c", "", 1.0).unwrap();
        assert_eq!(a.samples.len(), 4 * (480 + 160));
        assert_eq!(a, e.synthesize("ab c", "tone", 1.0).unwrap());
        assert_ne!(a, e.synthesize("ab d", "", 1.0).unwrap());
        assert!(a.peak() > 7000);
        let fast = e.synthesize("ab c", "", 2.0).unwrap();
        assert_eq!(fast.samples.len(), a.samples.len() / 2);
        assert_eq!(e.calls(), 4);
        assert!(e.synthesize("", "", 1.0).is_err());
        assert!(e.synthesize("x", "joe", 1.0).is_err());
        assert_eq!(e.calls(), 4);
    }
}
