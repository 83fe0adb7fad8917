//! Measurements the tone tests share: a Goertzel-style tone detector,
//! levels and cadence extraction.

use std::f64::consts::PI;

/// Amplitude of the `freq` component of `samples` (a single-bin DFT over a
/// Hann window, normalised so a sine of amplitude A reads A).
pub(crate) fn amplitude(samples: &[i16], rate: u32, freq: f64) -> f64 {
    let n = samples.len();
    let w = 2.0 * PI * freq / f64::from(rate);
    // Goertzel recursion on the windowed signal.
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2, mut wsum) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &x) in samples.iter().enumerate() {
        let hann = 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos();
        wsum += hann;
        let s0 = hann * f64::from(x) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / wsum
}

/// The level of `samples` in dBm0, taking them as a sine (peak = RMS·√2).
pub(crate) fn level_dbm0(samples: &[i16]) -> f64 {
    let rms =
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    20.0 * (rms * 2f64.sqrt() / 32767.0).log10() + super::FULL_SCALE_DBM0
}

/// The on/off pattern of `samples` at 1 ms resolution, run-length coded as
/// (sounding, milliseconds).
pub(crate) fn block_on_off(samples: &[i16], rate: u32) -> Vec<(bool, u32)> {
    let block = (rate / 1000) as usize;
    let mut runs: Vec<(bool, u32)> = Vec::new();
    for chunk in samples.chunks(block) {
        let on = chunk.iter().any(|&s| s.unsigned_abs() > 50);
        match runs.last_mut() {
            Some((state, ms)) if *state == on => *ms += 1,
            _ => runs.push((on, 1)),
        }
    }
    runs
}
