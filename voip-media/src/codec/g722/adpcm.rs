//! The sub-band ADPCM of ITU-T G.722 (64 kbit/s, mode 1): quantisers,
//! inverse quantisers, scale-factor adaptation and the adaptive predictor
//! (the spec's blocks 1L–4L and 1H–4H), in the spec's fixed-point arithmetic.
//!
//! The low band codes its prediction error with a 6-bit quantiser but adapts
//! (and predicts) from the 4-bit truncation of the code, which is what lets a
//! decoder drop bits (modes 2 and 3) and still track the encoder; the high
//! band uses a 2-bit quantiser. Both bands share one predictor structure:
//! two poles and six zeros, with sign-sign coefficient updates.

/// Decision levels of the 6-bit low-band quantiser (Table 6/G.722), scaled
/// by 2^9 (compared against `|e| << 12 / DETL`), for intervals 1..=29.
pub(super) const Q6: [i32; 30] = [
    0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786, 858, 940,
    1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
];

/// Low-band codeword for a negative error in quantiser interval `i` (Table 7).
pub(super) const ILN: [u8; 31] = [
    0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11,
    10, 9, 8, 7, 6, 5, 4,
];

/// Low-band codeword for a positive error in quantiser interval `i` (Table 7).
pub(super) const ILP: [u8; 31] = [
    0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39,
    38, 37, 36, 35, 34, 33, 32,
];

/// 6-bit inverse quantiser output (QQ6 × 2^3, signed), by codeword.
pub(super) const QM6: [i32; 64] = [
    -136, -136, -136, -136, -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360, -8576, -7856, -7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576, -3168, -2776,
    -2400, -2032, -1688, -1360, -1040, -728, 24808, 21904, 19008, 16704, 14984, 13512, 12280,
    11192, 10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456, 4944, 4464, 4008, 3576, 3168, 2776,
    2400, 2032, 1688, 1360, 1040, 728, 432, 136, -432, -136,
];

/// 4-bit inverse quantiser output, by the codeword's top four bits.
pub(super) const QM4: [i32; 16] = [
    0, -20456, -12896, -8968, -6288, -4240, -2584, -1200, 20456, 12896, 8968, 6288, 4240, 2584,
    1200, 0,
];

/// Magnitude class of a 4-bit low-band code, for the log scale factor.
const RL42: [usize; 16] = [0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0];

/// Low-band log scale factor multipliers (WL, Table 14/G.722).
const WL: [i32; 8] = [-60, -30, 58, 172, 334, 538, 1198, 3042];

/// 2-bit high-band inverse quantiser output, by codeword.
pub(super) const QM2: [i32; 4] = [-7408, -1616, 7408, 1616];

/// High-band codeword for a negative / positive error in interval 1 or 2.
pub(super) const IHN: [u8; 3] = [0, 1, 0];
/// See [`IHN`].
pub(super) const IHP: [u8; 3] = [0, 3, 2];

/// The high band's one decision level (Table 8/G.722), scaled like [`Q6`].
pub(super) const Q2: i32 = 564;

/// Magnitude class of a 2-bit high-band code.
const RH2: [usize; 4] = [2, 1, 2, 1];

/// High-band log scale factor multipliers (WH).
const WH: [i32; 3] = [0, -214, 798];

/// Inverse logarithm table (ILB): 2048 · 2^(i/32), rounded as in the spec.
pub(super) const ILB: [i32; 32] = [
    2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
    2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
];

/// Limits a value to 16-bit two's complement, as every spec operation does.
pub(super) fn sat(x: i32) -> i32 {
    x.clamp(-32768, 32767)
}

/// The state of one sub-band: adaptive predictor and quantiser scale factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Band {
    /// Predicted signal (SL / SH).
    pub(super) s: i32,
    /// Zero-section prediction (SZL / SZH).
    sz: i32,
    /// Reconstructed signal one and two samples back.
    r: [i32; 2],
    /// Partially reconstructed signal one and two samples back.
    p: [i32; 2],
    /// Pole coefficients a1, a2.
    a: [i32; 2],
    /// Zero coefficients b1..b6.
    b: [i32; 6],
    /// Quantised differences one to six samples back.
    d: [i32; 6],
    /// Log scale factor (NBL / NBH).
    nb: i32,
    /// Quantiser scale factor (DETL / DETH).
    pub(super) det: i32,
}

impl Band {
    /// The reset state: DETL = 32 for the low band, DETH = 8 for the high.
    pub(super) fn new(det: i32) -> Self {
        Self {
            s: 0,
            sz: 0,
            r: [0; 2],
            p: [0; 2],
            a: [0; 2],
            b: [0; 6],
            d: [0; 6],
            nb: 0,
            det,
        }
    }

    /// LOGSCL + SCALEL for the low band, from the 4-bit code.
    pub(super) fn adapt_low(&mut self, code4: usize) {
        let nb = ((self.nb * 127) >> 7) + WL[RL42[code4 & 15]];
        self.nb = nb.clamp(0, 18432);
        self.det = scale(self.nb, 8);
    }

    /// LOGSCH + SCALEH for the high band, from the 2-bit code.
    pub(super) fn adapt_high(&mut self, code2: usize) {
        let nb = ((self.nb * 127) >> 7) + WH[RH2[code2 & 3]];
        self.nb = nb.clamp(0, 22528);
        self.det = scale(self.nb, 10);
    }

    /// Block 4: reconstruct, update the pole and zero predictor from the
    /// quantised difference `d`, and predict the next sample into `self.s`.
    pub(super) fn predict(&mut self, d: i32) {
        // RECONS and PARREC.
        let r = sat(self.s + d);
        let p = sat(self.sz + d);
        let neg = |x: i32| x < 0;
        // UPPOL2.
        let wd1 = sat(self.a[0] << 2);
        let wd2 = if neg(p) == neg(self.p[0]) { -wd1 } else { wd1 }.min(32767);
        let wd3 = if neg(p) == neg(self.p[1]) { 128 } else { -128 };
        let a2 = ((wd2 >> 7) + wd3 + ((self.a[1] * 32512) >> 15)).clamp(-12288, 12288);
        // UPPOL1.
        let wd1 = if neg(p) == neg(self.p[0]) { 192 } else { -192 };
        let limit = sat(15360 - a2);
        let a1 = sat(wd1 + ((self.a[0] * 32640) >> 15)).clamp(-limit, limit);
        // UPZERO.
        let step = if d == 0 { 0 } else { 128 };
        for (b, &di) in self.b.iter_mut().zip(&self.d) {
            let wd2 = if neg(d) == neg(di) { step } else { -step };
            *b = sat(wd2 + ((*b * 32640) >> 15));
        }
        // DELAYA.
        self.d.copy_within(0..5, 1);
        self.d[0] = d;
        self.r = [r, self.r[0]];
        self.p = [p, self.p[0]];
        self.a = [a1, a2];
        // FILTEP.
        let sp =
            sat(((self.a[0] * sat(self.r[0] << 1)) >> 15)
                + ((self.a[1] * sat(self.r[1] << 1)) >> 15));
        // FILTEZ.
        let sz: i32 = self
            .b
            .iter()
            .zip(&self.d)
            .map(|(&b, &d)| (b * sat(d << 1)) >> 15)
            .sum();
        self.sz = sat(sz);
        // PREDIC.
        self.s = sat(sp + self.sz);
    }
}

/// SCALEL/SCALEH: the linear scale factor from the log one.
fn scale(nb: i32, shift: i32) -> i32 {
    let wd1 = ((nb >> 6) & 31) as usize;
    let wd2 = shift - (nb >> 11);
    let wd3 = if wd2 < 0 {
        ILB[wd1] << -wd2
    } else {
        ILB[wd1] >> wd2
    };
    wd3 << 2
}

/// Quantises the low-band error (block 1L); returns the 6-bit codeword.
pub(super) fn quantize_low(el: i32, det: i32) -> u8 {
    let magnitude = if el >= 0 { el } else { -(el + 1) };
    let interval = (1..30)
        .find(|&i| magnitude < (Q6[i] * det) >> 12)
        .unwrap_or(30);
    if el < 0 { ILN[interval] } else { ILP[interval] }
}

/// Quantises the high-band error (block 1H); returns the 2-bit codeword.
pub(super) fn quantize_high(eh: i32, det: i32) -> u8 {
    let magnitude = if eh >= 0 { eh } else { -(eh + 1) };
    let interval = if magnitude >= (Q2 * det) >> 12 { 2 } else { 1 };
    if eh < 0 { IHN[interval] } else { IHP[interval] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_scale_factors() {
        assert_eq!(scale(0, 8), 32, "DETL after reset");
        assert_eq!(scale(0, 10), 8, "DETH after reset");
        // Largest scale factors (NBL 18432, NBH 22528).
        assert_eq!(scale(18432, 8), 16384);
        assert_eq!(scale(22528, 10), 16384);
    }

    #[test]
    fn inverse_log_table_is_two_to_the_i_over_32() {
        for (i, &v) in ILB.iter().enumerate() {
            let exact = 2048.0 * 2f64.powf(i as f64 / 32.0);
            assert!(
                (f64::from(v) - exact).abs() <= 2.0,
                "ILB[{i}] = {v}, 2^(i/32) gives {exact}"
            );
        }
    }

    /// Each 6-bit output level sits in the middle of its decision interval
    /// (QM6 is in units of Q6 / 8), and codes are mirror images.
    #[test]
    fn quantiser_tables_agree() {
        for i in 1..30 {
            let middle = 4 * (Q6[i - 1] + Q6[i]);
            let level = QM6[usize::from(ILP[i])];
            assert!(
                (level - middle).abs() * 20 <= middle,
                "interval {i}: {level} vs {middle}"
            );
            assert_eq!(QM6[usize::from(ILN[i])], -level, "interval {i}");
            // The 4-bit truncation lands in the same half.
            let q4 = QM4[usize::from(ILP[i] >> 2)];
            assert!(q4 >= 0);
            assert!(QM4[usize::from(ILN[i] >> 2)] == -q4);
        }
        assert_eq!(QM2[usize::from(IHP[1])], 1616);
        assert_eq!(QM2[usize::from(IHN[2])], -7408);
    }

    #[test]
    fn quantisers_pick_their_intervals() {
        // At the reset scale factor, zero falls into interval 4 (Q6[4]·32 >> 12 = 1).
        assert_eq!(quantize_low(0, 32), ILP[4]);
        assert_eq!(quantize_low(-1, 32), ILN[4]);
        assert_eq!(quantize_low(i32::from(i16::MAX), 16384), ILP[30]);
        assert_eq!(quantize_low(i32::from(i16::MIN), 16384), ILN[30]);
        assert_eq!(quantize_high(0, 8), IHP[1]);
        assert_eq!(quantize_high(10_000, 8), IHP[2]);
        assert_eq!(quantize_high(-10_000, 8), IHN[2]);
    }

    #[test]
    fn predictor_stays_within_its_limits() {
        let mut band = Band::new(32);
        for i in 0..10_000 {
            let d = if i % 7 < 3 { 30_000 } else { -30_000 };
            band.predict(d);
            assert!(band.a[1].abs() <= 12288);
            assert!(band.a[0].abs() <= 15360 - band.a[1]);
            assert!((-32768..=32767).contains(&band.s));
        }
    }
}
