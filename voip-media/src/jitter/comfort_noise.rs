//! The RFC 3389 comfort noise payload (a Silence Insertion Descriptor).
//!
//! ```text
//!  0 1 2 3 4 5 6 7   byte 1 ... byte N
//! +-+-+-+-+-+-+-+-+ +--------+ +--------+
//! |0|   level     | |  RC1   | |  RCM   |   level: noise level in -dBov (0..127)
//! +-+-+-+-+-+-+-+-+ +--------+ +--------+   RCi: quantised reflection coefficients
//! ```
//!
//! The noise level is in -dBov: 0 dBov is a full-scale square wave, so in
//! 16-bit linear PCM a level of `L` is an RMS of `32767 * 10^(-L/20)`. The
//! optional bytes after it are the reflection coefficients of an all-pole
//! model of the noise spectrum, each quantised uniformly to one byte,
//! `q = round(k * 128) + 127` (0..=254), so `k = (q - 127) / 128`; the model
//! order is the number of bytes. The synthesis filter is `1 / A(z)` with
//! `A(z) = 1 + a1 z^-1 + … + aM z^-M` obtained from the coefficients by the
//! step-up recursion (the convention libwebrtc and FFmpeg interoperate on).
//!
//! [`ComfortNoise::analyze`] is the sending side: level and spectrum of a
//! block of background noise (autocorrelation and Levinson–Durbin).

use bytes::Bytes;

/// Why a CN payload was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CnError {
    /// The payload has no noise-level byte.
    #[error("comfort noise payload is empty")]
    Empty,
}

/// Comfort noise parameters: a noise level and an optional spectral model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComfortNoise {
    level: u8,
    reflection: Vec<u8>,
}

/// The RMS of a 0 dBov signal in 16-bit linear PCM (a full-scale square
/// wave).
const FULL_SCALE: f64 = 32767.0;

/// Model orders above this are cut on parse (RFC 3389 leaves the order
/// open; G.711 Appendix II and libwebrtc use up to 12).
pub const MAX_CN_ORDER: usize = 32;

impl ComfortNoise {
    /// Noise at `level` -dBov (values above 127 are taken as 127), white.
    pub fn new(level: u8) -> Self {
        Self {
            level: level.min(127),
            reflection: Vec::new(),
        }
    }

    /// Adds the spectral model: reflection coefficients in (-1, 1), first
    /// to last, quantised to the wire's 8 bits (at most [`MAX_CN_ORDER`]).
    pub fn with_reflection_coefficients(mut self, k: &[f64]) -> Self {
        self.reflection = k
            .iter()
            .take(MAX_CN_ORDER)
            .map(|&k| {
                let q = (k * 128.0).round() + 127.0;
                if q.is_nan() {
                    127
                } else {
                    q.clamp(0.0, 254.0) as u8
                }
            })
            .collect();
        self
    }

    /// Parses a CN payload. Bytes past [`MAX_CN_ORDER`] coefficients are
    /// ignored, as is the unused top bit of the level byte.
    pub fn parse(payload: &[u8]) -> Result<Self, CnError> {
        let (&level, rest) = payload.split_first().ok_or(CnError::Empty)?;
        Ok(Self {
            level: level & 0x7f,
            // 255 would be k = 1.0, an unstable filter: read it as 254.
            reflection: rest
                .iter()
                .take(MAX_CN_ORDER)
                .map(|&q| q.min(254))
                .collect(),
        })
    }

    /// The payload on the wire.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(1 + self.reflection.len());
        out.push(self.level);
        out.extend_from_slice(&self.reflection);
        Bytes::from(out)
    }

    /// The noise level in -dBov (0 loudest, 127 quietest).
    pub fn level(&self) -> u8 {
        self.level
    }

    /// The RMS amplitude this level stands for in 16-bit linear PCM.
    pub fn rms(&self) -> f64 {
        FULL_SCALE * 10f64.powf(-f64::from(self.level) / 20.0)
    }

    /// The model order (number of reflection coefficients).
    pub fn order(&self) -> usize {
        self.reflection.len()
    }

    /// The dequantised reflection coefficients, first to last.
    pub fn reflection_coefficients(&self) -> Vec<f64> {
        self.reflection
            .iter()
            .map(|&q| (f64::from(q) - 127.0) / 128.0)
            .collect()
    }

    /// Describes a block of background noise: its level and a spectral
    /// model of `order` coefficients (0 for level only). Silence (all zero)
    /// gives the quietest level, 127.
    pub fn analyze(samples: &[i16], order: usize) -> Self {
        let order = order.min(MAX_CN_ORDER);
        let n = samples.len();
        let energy: f64 = samples.iter().map(|&s| f64::from(s).powi(2)).sum();
        if n == 0 || energy == 0.0 {
            return Self::new(127);
        }
        let rms = (energy / n as f64).sqrt();
        let level = (-20.0 * (rms / FULL_SCALE).log10())
            .round()
            .clamp(0.0, 127.0) as u8;
        let mut r = vec![0f64; order + 1];
        for (lag, r) in r.iter_mut().enumerate() {
            *r = samples
                .iter()
                .zip(samples.iter().skip(lag))
                .map(|(&a, &b)| f64::from(a) * f64::from(b))
                .sum();
        }
        Self::new(level).with_reflection_coefficients(&levinson_durbin(&r))
    }
}

/// Reflection coefficients of the predictor `A(z) = 1 + Σ a_i z^-i` that
/// minimises the error for autocorrelation `r` (`r.len() - 1` of them).
fn levinson_durbin(r: &[f64]) -> Vec<f64> {
    let order = r.len().saturating_sub(1);
    let mut a = vec![0f64; order + 1];
    let mut k_out = Vec::with_capacity(order);
    let Some(&r0) = r.first() else {
        return k_out;
    };
    let mut err = r0;
    for m in 1..=order {
        if err <= r0 * 1e-9 {
            k_out.push(0.0);
            continue;
        }
        let acc: f64 = r[m] + (1..m).map(|i| a[i] * r[m - i]).sum::<f64>();
        let k = (-acc / err).clamp(-0.999, 0.999);
        let prev = a.clone();
        a[m] = k;
        for i in 1..m {
            a[i] = prev[i] + k * prev[m - i];
        }
        err *= 1.0 - k * k;
        k_out.push(k);
    }
    k_out
}

/// Direct-form coefficients `a1..aM` of `A(z)` from reflection
/// coefficients (step-up recursion).
pub(crate) fn reflection_to_lpc(k: &[f64]) -> Vec<f64> {
    let mut a: Vec<f64> = Vec::with_capacity(k.len());
    for (m, &km) in k.iter().enumerate() {
        let prev = a.clone();
        for i in 0..m {
            a[i] = prev[i] + km * prev[m - 1 - i];
        }
        a.push(km);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_only_payload() {
        // RFC 3389 §3.1: one byte, the level in -dBov.
        let cn = ComfortNoise::parse(&[0x40]).unwrap();
        assert_eq!(cn.level(), 64);
        assert_eq!(cn.order(), 0);
        assert_eq!(&cn.to_bytes()[..], &[0x40]);
        assert!((cn.rms() - 32767.0 * 10f64.powf(-3.2)).abs() < 1e-6);
        assert_eq!(ComfortNoise::parse(&[]), Err(CnError::Empty));
        // The unused top bit is ignored.
        assert_eq!(ComfortNoise::parse(&[0xff]).unwrap().level(), 127);
    }

    #[test]
    fn reflection_coefficients_round_trip() {
        let k = [0.5, -0.25, 0.0, 0.9921875, -0.9921875];
        let cn = ComfortNoise::new(40).with_reflection_coefficients(&k);
        let wire = cn.to_bytes();
        assert_eq!(&wire[..], &[40, 191, 95, 127, 254, 0]);
        let back = ComfortNoise::parse(&wire).unwrap();
        assert_eq!(back, cn);
        assert_eq!(back.reflection_coefficients(), k.to_vec());
        // Out of range values saturate; 255 is read as 254.
        let sat = ComfortNoise::new(0).with_reflection_coefficients(&[2.0, -2.0, f64::NAN]);
        assert_eq!(&sat.to_bytes()[..], &[0, 254, 0, 127]);
        assert_eq!(ComfortNoise::parse(&[0, 255]).unwrap().to_bytes()[1], 254);
        let long = vec![127u8; 100];
        assert_eq!(ComfortNoise::parse(&long).unwrap().order(), MAX_CN_ORDER);
    }

    #[test]
    fn analyze_finds_level_and_spectrum() {
        // An AR(1) process x[n] = 0.9 x[n-1] + w[n]: A(z) = 1 - 0.9 z^-1.
        let mut state = 0x1234_5678u32;
        let mut x = 0f64;
        let samples: Vec<i16> = (0..8000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let w = (f64::from(state) / f64::from(u32::MAX) - 0.5) * 400.0;
                x = 0.9 * x + w;
                x as i16
            })
            .collect();
        let cn = ComfortNoise::analyze(&samples, 2);
        let k = cn.reflection_coefficients();
        assert!((k[0] + 0.9).abs() < 0.03, "{k:?}");
        assert!(k[1].abs() < 0.05, "{k:?}");
        let rms = (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 8000.0).sqrt();
        assert!(
            (cn.rms() / rms).log10().abs() * 20.0 <= 0.5,
            "{} vs {rms}",
            cn.rms()
        );
        assert_eq!(ComfortNoise::analyze(&[0; 160], 4), ComfortNoise::new(127));
        assert_eq!(ComfortNoise::analyze(&[], 4).level(), 127);
    }

    #[test]
    fn step_up_recursion() {
        assert_eq!(reflection_to_lpc(&[]), Vec::<f64>::new());
        assert_eq!(reflection_to_lpc(&[-0.9]), vec![-0.9]);
        // a1 = k1 + k2 k1, a2 = k2
        let a = reflection_to_lpc(&[0.5, 0.25]);
        assert!((a[0] - 0.625).abs() < 1e-12 && (a[1] - 0.25).abs() < 1e-12);
        // Levinson–Durbin: k1 = -r1 / r0, k2 = -(r2 + a1 r1) / (r0 (1 - k1²)).
        let k = levinson_durbin(&[1.0, -0.5, 0.0]);
        assert!((k[0] - 0.5).abs() < 1e-12, "{k:?}");
        assert!((k[1] - 1.0 / 3.0).abs() < 1e-12, "{k:?}");
    }
}
