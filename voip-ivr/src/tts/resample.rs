//! Sample-rate conversion hook for rendered speech.
//!
//! Engines render at their own rate (Piper and espeak-ng: 22,050 Hz); calls
//! run at 8, 16 or 48 kHz. The cache converts through a [`Resampler`]; the
//! built-in [`SincResampler`] is a windowed-sinc (Blackman) interpolator,
//! low-passed at 0.92 x the lower Nyquist frequency, good enough for speech
//! prompts. Plug another (e.g. voip-media's) with `TtsCache::with_resampler`.

/// Converts mono 16-bit PCM from one rate to another.
pub trait Resampler: Send + Sync {
    /// `samples` at `from` Hz, converted to `to` Hz.
    fn resample(&self, samples: &[i16], from: u32, to: u32) -> Vec<i16>;
}

impl<F> Resampler for F
where
    F: Fn(&[i16], u32, u32) -> Vec<i16> + Send + Sync,
{
    fn resample(&self, samples: &[i16], from: u32, to: u32) -> Vec<i16> {
        self(samples, from, to)
    }
}

/// Windowed-sinc resampler (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct SincResampler {
    /// Zero crossings of the sinc on each side (filter half-length).
    pub half_taps: usize,
}

impl Default for SincResampler {
    fn default() -> Self {
        SincResampler { half_taps: 16 }
    }
}

impl Resampler for SincResampler {
    fn resample(&self, samples: &[i16], from: u32, to: u32) -> Vec<i16> {
        if from == to || from == 0 || to == 0 || samples.is_empty() {
            return samples.to_vec();
        }
        let ratio = f64::from(to) / f64::from(from);
        // Cut-off relative to the input rate, below both Nyquist frequencies.
        let cutoff = 0.92 * ratio.min(1.0);
        let half = self.half_taps.max(2) as f64 / cutoff;
        let out_len = ((samples.len() as f64) * ratio).round() as usize;
        let input: Vec<f64> = samples.iter().map(|s| f64::from(*s)).collect();
        (0..out_len)
            .map(|n| {
                let center = n as f64 / ratio;
                let first = (center - half).ceil().max(0.0) as usize;
                let last = ((center + half).floor() as usize).min(input.len() - 1);
                let mut acc = 0.0;
                for (k, x) in input.iter().enumerate().take(last + 1).skip(first) {
                    let t = k as f64 - center;
                    acc += x * cutoff * sinc(cutoff * t) * blackman(t / half);
                }
                acc.round().clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }
}

fn sinc(x: f64) -> f64 {
    if x.abs() < 1e-9 {
        1.0
    } else {
        let px = std::f64::consts::PI * x;
        px.sin() / px
    }
}

/// Blackman window over `x` in [-1, 1].
fn blackman(x: f64) -> f64 {
    if x.abs() >= 1.0 {
        return 0.0;
    }
    let a = std::f64::consts::PI * (x + 1.0);
    0.42 - 0.5 * a.cos() + 0.08 * (2.0 * a).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f64, rate: u32, secs: f64) -> Vec<i16> {
        let n = (f64::from(rate) * secs) as usize;
        (0..n)
            .map(|i| {
                (10_000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    /// Power of `freq` in `x` (a single-bin DFT), normalised per sample.
    fn power(x: &[i16], rate: u32, freq: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, s) in x.iter().enumerate() {
            let a = 2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate);
            re += f64::from(*s) * a.cos();
            im += f64::from(*s) * a.sin();
        }
        (re * re + im * im).sqrt() / x.len() as f64
    }

    #[test]
    fn keeps_a_tone_and_its_length() {
        let r = SincResampler::default();
        let input = tone(1000.0, 22050, 0.5);
        let out = r.resample(&input, 22050, 8000);
        assert_eq!(out.len(), 4000);
        let inside = &out[200..3800];
        // A 10,000-amplitude sine has single-bin magnitude 5,000.
        let p = power(inside, 8000, 1000.0);
        assert!((p - 5000.0).abs() < 150.0, "1 kHz kept: {p}");
        let up = r.resample(&out, 8000, 48000);
        assert_eq!(up.len(), 24000);
        assert!((power(&up[1200..22800], 48000, 1000.0) - 5000.0).abs() < 250.0);
    }

    #[test]
    fn removes_what_cannot_be_represented() {
        // 6 kHz at 22.05 kHz would alias to 2 kHz at 8 kHz.
        let out = SincResampler::default().resample(&tone(6000.0, 22050, 0.5), 22050, 8000);
        let alias = power(&out[200..3800], 8000, 2000.0);
        assert!(alias < 100.0, "alias energy {alias}");
    }

    #[test]
    fn identity_and_closures() {
        let x = vec![1, 2, 3];
        assert_eq!(SincResampler::default().resample(&x, 8000, 8000), x);
        assert!(
            SincResampler::default()
                .resample(&[], 8000, 16000)
                .is_empty()
        );
        let halve = |s: &[i16], _: u32, _: u32| s.iter().step_by(2).copied().collect();
        assert_eq!(
            Resampler::resample(&halve, &[1, 2, 3, 4], 16000, 8000),
            vec![1, 3]
        );
    }
}
