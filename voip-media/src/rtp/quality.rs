//! Per-call quality: the ITU-T G.107 E-model (06/2015 edition) and its
//! R → MOS mapping (G.107 Annex B).
//!
//! `R = Ro − Is − Id − Ie,eff + A`. Every term is computed from the
//! recommendation's formulas; the parameters this crate cannot measure
//! (loudness ratings, room noise, echo loss, …) keep the default values of
//! G.107 Table 3, so with no delay, no loss and G.711 the model gives
//! R ≈ 93.2 and MOS ≈ 4.41. What a call measures goes into:
//!
//! - the one-way mouth-to-ear delay `Ta` (and `T = Ta`, `Tr = 2·Ta` for a
//!   VoIP path with echo cancellers at the default TELR): half the RTCP
//!   round-trip time plus the jitter-buffer delay plus the codec's framing
//!   and look-ahead;
//! - `Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl / BurstR + Bpl)` with the codec's
//!   `Ie` and `Bpl` and the measured loss `Ppl` in percent, BurstR = 1
//!   (random loss).
//!
//! Codec values and their sources are on [`CodecImpairment`].

use std::time::Duration;

/// A codec's E-model values: equipment impairment `Ie`, packet-loss
/// robustness `Bpl`, and the delay it adds (frame + look-ahead).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    /// Equipment impairment factor Ie.
    pub ie: f64,
    /// Packet-loss robustness factor Bpl.
    pub bpl: f64,
    /// Algorithmic delay: one packet's frames plus look-ahead.
    pub delay: Duration,
}

impl CodecImpairment {
    /// G.711 without packet-loss concealment: Ie = 0, Bpl = 4.3
    /// (ITU-T G.113 Appendix I, Table I.3). Delay: one 20 ms packet.
    pub const G711: Self = Self {
        ie: 0.0,
        bpl: 4.3,
        delay: Duration::from_millis(20),
    };

    /// G.711 with the packet-loss concealment of G.711 Appendix I: Ie = 0,
    /// Bpl = 25.1 (ITU-T G.113 Appendix I, Table I.3).
    pub const G711_PLC: Self = Self {
        ie: 0.0,
        bpl: 25.1,
        delay: Duration::from_millis(20),
    };

    /// G.722 at 64 kbit/s with its Appendix III concealment, on the
    /// narrowband scale. G.113 publishes G.722 only for the wideband E-model
    /// (G.107.1): Ie,wb = 13 in Appendix IV, which is 13 points below the
    /// wideband scale's 129, i.e. better than G.711 on that scale. Folded
    /// onto the narrowband scale used here, the codec cannot be worse than
    /// G.711, so Ie = 0 is used; Bpl = 25.1 takes G.711 + PLC's value, an
    /// assumption (G.113 gives no narrowband Bpl for G.722). Delay: 20 ms
    /// frame plus 1.5 ms QMF filter delay.
    pub const G722: Self = Self {
        ie: 0.0,
        bpl: 25.1,
        delay: Duration::from_micros(21_500),
    };

    /// Opus at speech bit rates (≥ 16 kbit/s) with its built-in concealment.
    /// Opus has no G.113 entry (it post-dates the tables); Ie = 0 and
    /// Bpl = 25.1 treat it like G.711 with PLC on the narrowband scale, the
    /// same assumption as for G.722, which understates Opus's wideband
    /// advantage and in-band FEC. Delay: 20 ms frame plus 6.5 ms look-ahead
    /// (RFC 6716 §2, default CELT/hybrid mode).
    pub const OPUS: Self = Self {
        ie: 0.0,
        bpl: 25.1,
        delay: Duration::from_micros(26_500),
    };
}

/// The parameters of one E-model computation that calls vary; everything
/// else stays at G.107's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EModelInput {
    /// Mean one-way mouth-to-ear delay Ta in milliseconds (T = Ta, Tr = 2 Ta).
    pub one_way_delay_ms: f64,
    /// Equipment impairment Ie.
    pub ie: f64,
    /// Packet-loss robustness Bpl.
    pub bpl: f64,
    /// Packet loss Ppl in percent.
    pub ppl: f64,
    /// Burst ratio BurstR (1 for random loss).
    pub burst_r: f64,
    /// Advantage factor A (0 for wired VoIP).
    pub advantage: f64,
}

impl Default for EModelInput {
    fn default() -> Self {
        Self {
            one_way_delay_ms: 0.0,
            ie: 0.0,
            bpl: 1.0,
            ppl: 0.0,
            burst_r: 1.0,
            advantage: 0.0,
        }
    }
}

// G.107 Table 3 default values.
const SLR: f64 = 8.0;
const RLR: f64 = 2.0;
const STMR: f64 = 15.0;
const LSTR: f64 = 18.0;
const DS: f64 = 3.0;
const TELR: f64 = 65.0;
const WEPL: f64 = 110.0;
const QDU: f64 = 1.0;
const NC: f64 = -70.0;
const NFOR: f64 = -64.0;
const PS: f64 = 35.0;
const PR: f64 = 35.0;
/// G.107 §7.4: the delay below which Idd is zero (mT, default 100 ms).
const M_T: f64 = 100.0;

fn basic_signal_to_noise() -> f64 {
    // G.107 §7.2.
    let olr = SLR + RLR;
    let nos = PS - SLR - DS - 100.0 + 0.004 * (PS - olr - DS - 14.0).powi(2);
    let pre = PR + 10.0 * (1.0 + 10f64.powf((10.0 - LSTR) / 10.0)).log10();
    let nor = RLR - 121.0 + pre + 0.008 * (pre - 35.0).powi(2);
    let nfo = NFOR + RLR;
    10.0 * (10f64.powf(NC / 10.0)
        + 10f64.powf(nos / 10.0)
        + 10f64.powf(nor / 10.0)
        + 10f64.powf(nfo / 10.0))
    .log10()
}

/// The E-model rating R for `input` (G.107 §7).
pub fn r_factor(input: &EModelInput) -> f64 {
    let no = basic_signal_to_noise();
    let ro = 15.0 - 1.5 * (SLR + no);
    let olr = SLR + RLR;
    let t = input.one_way_delay_ms.max(0.0);
    let ta = t;
    let tr = 2.0 * t;

    // Is (§7.3): Iolr + Ist + Iq.
    let xolr = olr + 0.2 * (64.0 + no - RLR);
    let iolr = 20.0 * ((1.0 + (xolr / 8.0).powi(8)).powf(1.0 / 8.0) - xolr / 8.0);
    let stmro =
        -10.0 * (10f64.powf(-STMR / 10.0) + (-t / 4.0).exp() * 10f64.powf(-TELR / 10.0)).log10();
    let ist = 12.0 * (1.0 + ((stmro - 13.0) / 6.0).powi(8)).powf(1.0 / 8.0)
        - 28.0 * (1.0 + ((stmro + 1.0) / 19.4).powi(35)).powf(1.0 / 35.0)
        - 13.0 * (1.0 + ((stmro - 3.0) / 33.0).powi(13)).powf(1.0 / 13.0)
        + 29.0;
    let q = 37.0 - 15.0 * QDU.log10();
    let g = 1.07 + 0.258 * q + 0.0602 * q * q;
    let y = (ro - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0;
    let z = 46.0 / 30.0 - g / 40.0;
    let iq = 15.0 * (1.0 + 10f64.powf(y) + 10f64.powf(z)).log10();
    let is = iolr + ist + iq;

    // Id (§7.4): Idte + Idle + Idd.
    let terv =
        TELR - 40.0 * ((1.0 + t / 10.0) / (1.0 + t / 150.0)).log10() + 6.0 * (-0.3 * t * t).exp();
    let roe = -1.5 * (no - RLR);
    let re = 80.0 + 2.5 * (terv - 14.0);
    let idte =
        ((roe - re) / 2.0 + ((roe - re).powi(2) / 4.0 + 100.0).sqrt() - 1.0) * (1.0 - (-t).exp());
    let rle = 10.5 * (WEPL + 7.0) * (tr + 1.0).powf(-0.25);
    let idle = (ro - rle) / 2.0 + ((ro - rle).powi(2) / 4.0 + 169.0).sqrt();
    let idd = if ta > M_T {
        let x = (ta / M_T).log10() / 2f64.log10();
        25.0 * ((1.0 + x.powi(6)).powf(1.0 / 6.0) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(1.0 / 6.0)
            + 2.0)
    } else {
        0.0
    };
    let id = idte + idle + idd;

    // Ie,eff (§7.5).
    let ppl = input.ppl.clamp(0.0, 100.0);
    let burst_r = input.burst_r.max(1.0);
    let ie_eff = if ppl > 0.0 {
        input.ie + (95.0 - input.ie) * ppl / (ppl / burst_r + input.bpl.max(f64::MIN_POSITIVE))
    } else {
        input.ie
    };

    ro - is - id - ie_eff + input.advantage
}

/// G.107 Annex B: the estimated mean opinion score (conversational quality)
/// for a rating R.
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).max(1.0)
    }
}

/// A call leg's quality, from its RTP statistics and the E-model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityReport {
    /// Estimated MOS (1.0–4.5).
    pub mos: f64,
    /// The E-model rating R.
    pub r_factor: f64,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Packets lost over packets expected, in percent.
    pub loss_percent: f64,
    /// Round-trip time from RTCP, if known.
    pub rtt_ms: Option<f64>,
}

/// What a call measured, for [`QualityReport::estimate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LegMeasurements {
    /// Round-trip time from RTCP (`None`: not measured yet; 0 is assumed).
    pub rtt: Option<Duration>,
    /// Interarrival jitter.
    pub jitter: Duration,
    /// Delay added by the receiver's jitter buffer.
    pub jitter_buffer_delay: Duration,
    /// Loss in percent.
    pub loss_percent: f64,
}

impl QualityReport {
    /// Estimates a leg's quality: Ta = RTT/2 + jitter-buffer delay + codec
    /// delay; Ppl = the measured loss; BurstR = 1.
    pub fn estimate(codec: CodecImpairment, m: &LegMeasurements) -> Self {
        let rtt_ms = m.rtt.map(|d| d.as_secs_f64() * 1000.0);
        let delay = rtt_ms.unwrap_or(0.0) / 2.0
            + m.jitter_buffer_delay.as_secs_f64() * 1000.0
            + codec.delay.as_secs_f64() * 1000.0;
        let r = r_factor(&EModelInput {
            one_way_delay_ms: delay,
            ie: codec.ie,
            bpl: codec.bpl,
            ppl: m.loss_percent,
            burst_r: 1.0,
            advantage: 0.0,
        });
        Self {
            mos: mos_from_r(r),
            r_factor: r,
            jitter_ms: m.jitter.as_secs_f64() * 1000.0,
            loss_percent: m.loss_percent,
            rtt_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() < eps
    }

    #[test]
    fn defaults_give_r_93_2_and_mos_4_41() {
        // G.107 §7.7: "the default values … result in R = 93.2".
        let r = r_factor(&EModelInput::default());
        assert!(close(r, 93.2, 0.05), "{r}");
        assert!(close(mos_from_r(r), 4.41, 0.005), "{}", mos_from_r(r));
    }

    #[test]
    fn default_terms() {
        // The terms G.107's defaults give: No = -61.18 dBm0p, Ro = 94.77.
        let no = basic_signal_to_noise();
        assert!(close(no, -61.18, 0.01), "{no}");
        assert!(close(15.0 - 1.5 * (SLR + no), 94.77, 0.01));
    }

    #[test]
    fn mos_mapping_known_points() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(100.0), 4.5);
        assert_eq!(mos_from_r(120.0), 4.5);
        // R = 50: 1 + 1.75 + 50·(-10)·50·7e-6 = 2.575.
        assert!(close(mos_from_r(50.0), 2.575, 1e-12));
        // R = 80: 1 + 2.8 + 80·20·20·7e-6 = 4.024.
        assert!(close(mos_from_r(80.0), 4.024, 1e-12));
        // Monotone over the range used.
        let mut prev = 0.0;
        for r in 0..=100 {
            let m = mos_from_r(f64::from(r));
            assert!(m >= prev);
            prev = m;
        }
    }

    #[test]
    fn loss_lowers_r_by_ie_eff() {
        // G.711 without PLC at 1 % random loss: Ie,eff = 95 · 1 / (1 + 4.3)
        // = 17.92; with PLC: 95 / 26.1 = 3.64.
        let base = r_factor(&EModelInput::default());
        let lossy = r_factor(&EModelInput {
            ie: 0.0,
            bpl: 4.3,
            ppl: 1.0,
            ..EModelInput::default()
        });
        assert!(close(base - lossy, 95.0 / 5.3, 1e-9));
        let plc = r_factor(&EModelInput {
            bpl: 25.1,
            ppl: 1.0,
            ..EModelInput::default()
        });
        assert!(close(base - plc, 95.0 / 26.1, 1e-9));
    }

    #[test]
    fn delay_impairment_grows_past_100_ms() {
        let r = |ms: f64| {
            r_factor(&EModelInput {
                one_way_delay_ms: ms,
                ..EModelInput::default()
            })
        };
        assert!(r(50.0) < r(0.0));
        assert!(r(150.0) < r(100.0));
        assert!(r(400.0) < r(200.0));
        // With echo well controlled (TELR 65), 150 ms stays above R 85 and
        // 400 ms falls below the "many users dissatisfied" R 60 … 70 band.
        assert!(r(150.0) > 85.0, "{}", r(150.0));
        assert!(r(400.0) < 70.0, "{}", r(400.0));
    }

    #[test]
    fn estimate_a_clean_g711_call() {
        let q = QualityReport::estimate(
            CodecImpairment::G711_PLC,
            &LegMeasurements {
                rtt: Some(Duration::from_millis(40)),
                jitter: Duration::from_millis(3),
                jitter_buffer_delay: Duration::from_millis(40),
                loss_percent: 0.0,
            },
        );
        assert!(q.mos > 4.3 && q.mos < 4.41, "{q:?}");
        assert_eq!(q.rtt_ms, Some(40.0));
        assert_eq!(q.jitter_ms, 3.0);
        let lossy = QualityReport::estimate(
            CodecImpairment::G711,
            &LegMeasurements {
                loss_percent: 5.0,
                rtt: None,
                jitter: Duration::ZERO,
                jitter_buffer_delay: Duration::from_millis(40),
            },
        );
        assert!(lossy.mos < 3.0, "{lossy:?}");
    }
}
