//! Comfort noise generation (the receiving side of RFC 3389).
//!
//! White noise from the injected [`Rng`] drives the all-pole filter
//! `1 / A(z)` of the received reflection coefficients, scaled so the output
//! has the RMS of the received level: the filter's power gain for unit
//! white input is `1 / Π(1 - k_i²)`, so the excitation is given an RMS of
//! `rms · sqrt(Π(1 - k_i²))`. A new SID does not jump: level and
//! coefficients move half-way towards it on every frame.

use voip_core::{AudioFrame, Rng};

use super::comfort_noise::{ComfortNoise, reflection_to_lpc};
use crate::MediaSource;

/// Model orders above this are ignored by the generator.
const GENERATOR_ORDER: usize = 16;

/// A [`MediaSource`] of comfort noise that never ends.
///
/// ```
/// use voip_core::Rng;
/// use voip_media::MediaSource;
/// use voip_media::jitter::{ComfortNoise, ComfortNoiseGenerator};
///
/// let mut cng = ComfortNoiseGenerator::new(ComfortNoise::new(50), Rng::seeded(1));
/// let frame = cng.next_frame(8000, 160).unwrap();
/// assert_eq!(frame.samples.len(), 160);
/// ```
#[derive(Debug)]
pub struct ComfortNoiseGenerator {
    rng: Rng,
    target: ComfortNoise,
    /// RMS currently produced (moves towards the target's).
    rms: f64,
    /// Reflection coefficients currently used (move towards the target's).
    k: Vec<f64>,
    /// Past outputs of the synthesis filter, newest first.
    memory: [f64; GENERATOR_ORDER],
    bytes: Vec<u8>,
    fresh: bool,
}

impl ComfortNoiseGenerator {
    /// A generator starting at `params`, drawing from `rng`.
    pub fn new(params: ComfortNoise, rng: Rng) -> Self {
        let mut k = params.reflection_coefficients();
        k.truncate(GENERATOR_ORDER);
        Self {
            rng,
            rms: params.rms(),
            k,
            target: params,
            memory: [0.0; GENERATOR_ORDER],
            bytes: Vec::new(),
            fresh: true,
        }
    }

    /// Takes a newly received SID; the output glides to it.
    pub fn update(&mut self, params: ComfortNoise) {
        self.target = params;
    }

    /// The parameters the output is moving towards.
    pub fn params(&self) -> &ComfortNoise {
        &self.target
    }

    /// Fills `out` with comfort noise.
    pub fn fill(&mut self, out: &mut [i16]) {
        if !self.fresh {
            self.glide();
        }
        self.fresh = false;
        let lpc = reflection_to_lpc(&self.k);
        let prediction_gain: f64 = self.k.iter().map(|k| 1.0 - k * k).product();
        // Uniform noise in [-1, 1) has an RMS of 1/sqrt(3).
        let scale = self.rms * prediction_gain.sqrt() * 3f64.sqrt();
        self.bytes.resize(out.len() * 2, 0);
        self.rng.fill(&mut self.bytes);
        for (sample, raw) in out.iter_mut().zip(self.bytes.chunks_exact(2)) {
            let e = f64::from(i16::from_le_bytes([raw[0], raw[1]])) / 32768.0 * scale;
            let feedback: f64 = lpc.iter().zip(self.memory.iter()).map(|(a, y)| a * y).sum();
            let y = e - feedback;
            self.memory.copy_within(0..GENERATOR_ORDER - 1, 1);
            self.memory[0] = y;
            *sample = y.round().clamp(-32768.0, 32767.0) as i16;
        }
    }

    /// Moves level and spectrum half-way towards the target.
    fn glide(&mut self) {
        self.rms = 0.5 * self.rms + 0.5 * self.target.rms();
        let mut target_k = self.target.reflection_coefficients();
        target_k.truncate(GENERATOR_ORDER);
        if self.k.len() < target_k.len() {
            self.k.resize(target_k.len(), 0.0);
        }
        for (i, k) in self.k.iter_mut().enumerate() {
            let t = target_k.get(i).copied().unwrap_or(0.0);
            *k = 0.5 * *k + 0.5 * t;
        }
        while self.k.len() > target_k.len() && self.k.last().is_some_and(|k| k.abs() < 1e-3) {
            self.k.pop();
        }
    }
}

impl MediaSource for ComfortNoiseGenerator {
    fn next_frame(&mut self, sample_rate: u32, samples: usize) -> Option<AudioFrame> {
        let mut out = vec![0i16; samples];
        self.fill(&mut out);
        Some(AudioFrame::mono(sample_rate, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(s: &[i16]) -> f64 {
        (s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
    }

    fn lag1(s: &[i16]) -> f64 {
        let num: f64 = s
            .windows(2)
            .map(|w| f64::from(w[0]) * f64::from(w[1]))
            .sum();
        let den: f64 = s.iter().map(|&x| f64::from(x).powi(2)).sum();
        num / den
    }

    #[test]
    fn white_noise_at_the_level() {
        for level in [20u8, 40, 60] {
            let params = ComfortNoise::new(level);
            let mut g = ComfortNoiseGenerator::new(params.clone(), Rng::seeded(7));
            let mut out = vec![0i16; 16_000];
            g.fill(&mut out);
            let db = 20.0 * (rms(&out) / params.rms()).log10();
            assert!(db.abs() < 0.5, "level {level}: {db} dB off");
            assert!(lag1(&out).abs() < 0.05, "white noise is uncorrelated");
        }
    }

    #[test]
    fn shaped_noise_follows_the_model() {
        // k1 = -0.9: A(z) = 1 - 0.9 z^-1, low-pass noise with r1/r0 = 0.9.
        let params = ComfortNoise::new(30).with_reflection_coefficients(&[-0.9]);
        let mut g = ComfortNoiseGenerator::new(params.clone(), Rng::seeded(3));
        let mut out = vec![0i16; 32_000];
        g.fill(&mut out);
        let k = params.reflection_coefficients()[0];
        assert!(
            (lag1(&out) + k).abs() < 0.03,
            "lag-1 correlation {}",
            lag1(&out)
        );
        let db = 20.0 * (rms(&out) / params.rms()).log10();
        assert!(db.abs() < 1.0, "{db} dB off");
        // The analysis of the output recovers the model.
        let back = ComfortNoise::analyze(&out, 1);
        assert!((back.reflection_coefficients()[0] - k).abs() < 0.03);
        assert!(back.level().abs_diff(30) <= 1);
    }

    #[test]
    fn glides_to_a_new_level_and_is_deterministic() {
        let mut g = ComfortNoiseGenerator::new(ComfortNoise::new(70), Rng::seeded(9));
        let quiet = g.next_frame(8000, 160).unwrap();
        g.update(ComfortNoise::new(30));
        let mut frames = Vec::new();
        for _ in 0..20 {
            frames.push(g.next_frame(8000, 160).unwrap().samples);
        }
        assert!(rms(&frames[0]) < rms(&frames[19]));
        let last = rms(&frames[19]);
        let want = ComfortNoise::new(30).rms();
        assert!(
            (20.0 * (last / want).log10()).abs() < 2.0,
            "{last} vs {want}"
        );
        let mut again = ComfortNoiseGenerator::new(ComfortNoise::new(70), Rng::seeded(9));
        assert_eq!(again.next_frame(8000, 160).unwrap(), quiet);
        assert_eq!(g.params().level(), 30);
    }
}
