//! The Goertzel algorithm: one DFT bin with one multiply per sample.
//!
//! [`Goertzel::block`] returns the complex bin `Σ x[n]·e^(-jωn)` of a block
//! (phase referred to the block's first sample), which the detector turns
//! into an absolute-time phase with [`Goertzel::phasor`] to measure a tone's
//! frequency offset from the phase advance between blocks.

use std::f64::consts::TAU;

/// A complex number, just what the detector needs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Complex {
    pub(crate) re: f64,
    pub(crate) im: f64,
}

impl Complex {
    pub(crate) fn new(re: f64, im: f64) -> Self {
        Complex { re, im }
    }
    pub(crate) fn add(self, o: Complex) -> Complex {
        Complex::new(self.re + o.re, self.im + o.im)
    }
    pub(crate) fn mul(self, o: Complex) -> Complex {
        Complex::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
    pub(crate) fn conj(self) -> Complex {
        Complex::new(self.re, -self.im)
    }
    pub(crate) fn norm_sqr(self) -> f64 {
        self.re * self.re + self.im * self.im
    }
    pub(crate) fn arg(self) -> f64 {
        self.im.atan2(self.re)
    }
}

/// One frequency's Goertzel filter.
#[derive(Debug, Clone)]
pub(crate) struct Goertzel {
    /// Frequency in Hz (an integer, so the phase repeats every second).
    freq: u32,
    sample_rate: u32,
    coeff: f64,
    cos: f64,
    sin: f64,
}

impl Goertzel {
    pub(crate) fn new(freq: u32, sample_rate: u32) -> Self {
        let w = TAU * f64::from(freq) / f64::from(sample_rate);
        Goertzel {
            freq,
            sample_rate,
            coeff: 2.0 * w.cos(),
            cos: w.cos(),
            sin: w.sin(),
        }
    }

    /// `Σ x[n]·e^(-jωn)` for `n` from 0 over the block.
    pub(crate) fn block(&self, x: &[f64]) -> Complex {
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for &v in x {
            let s0 = v + self.coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        // y = s[N-1] - e^(-jω)·s[N-2] = e^(jω(N-1)) · Σ x[n] e^(-jωn)
        let y = Complex::new(s1 - self.cos * s2, self.sin * s2);
        let n = x.len().saturating_sub(1) as u64;
        y.mul(self.phasor(n))
    }

    /// `e^(-jω·index)`, exact for any index (the phase repeats each second).
    pub(crate) fn phasor(&self, index: u64) -> Complex {
        let rate = u64::from(self.sample_rate.max(1));
        let k = (index % rate) * u64::from(self.freq) % rate;
        let phase = -TAU * k as f64 / rate as f64;
        Complex::new(phase.cos(), phase.sin())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_a_direct_dft() {
        let rate = 8000;
        let g = Goertzel::new(770, rate);
        let x: Vec<f64> = (0..100)
            .map(|n| (TAU * 777.0 * n as f64 / 8000.0 + 0.3).sin() * 1000.0)
            .collect();
        let direct = x
            .iter()
            .enumerate()
            .fold(Complex::default(), |acc, (n, v)| {
                let p = -TAU * 770.0 * n as f64 / 8000.0;
                acc.add(Complex::new(v * p.cos(), v * p.sin()))
            });
        let got = g.block(&x);
        assert!((got.re - direct.re).abs() < 1e-6 * direct.norm_sqr().sqrt());
        assert!((got.im - direct.im).abs() < 1e-6 * direct.norm_sqr().sqrt());
        // A pure tone at the bin: |X| = A·N/2.
        let y: Vec<f64> = (0..100)
            .map(|n| (TAU * 770.0 * n as f64 / 8000.0).cos())
            .collect();
        assert!((g.block(&y).norm_sqr().sqrt() - 50.0).abs() < 1.0);
        let p = g.phasor(8000 + 3);
        let q = g.phasor(3);
        assert!((p.re - q.re).abs() < 1e-12 && (p.im - q.im).abs() < 1e-12);
        assert!((p.mul(p.conj()).re - 1.0).abs() < 1e-12 && p.arg().is_finite());
    }
}
