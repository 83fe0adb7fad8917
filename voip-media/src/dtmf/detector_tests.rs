//! The in-band detector against ITU-T Q.24's limits: all sixteen keys over
//! levels, noise at 15 dB SNR, frequency deviation, duration, pause, twist.

use std::f64::consts::TAU;
use std::time::{Duration, Instant};

use super::*;

/// Deterministic white Gaussian noise (xorshift64* + Box–Muller).
struct Noise(u64);

impl Noise {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((v >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn gaussian(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (TAU * u2).cos()
    }
}

/// Peak amplitude of a sine at `dbm0` (+3.17 dBm0 is full scale).
fn amplitude(dbm0: f64) -> f64 {
    32767.0 * 10f64.powf((dbm0 - 3.17) / 20.0)
}

#[derive(Clone, Copy)]
struct Tone {
    digit: DtmfDigit,
    /// Total power of the pair in dBm0 (each tone 3 dB below, before twist).
    level: f64,
    ms: f64,
    /// Relative frequency offsets of the low and high tone.
    dev: (f64, f64),
    /// Low-group level minus high-group level in dB (negative: reverse).
    twist: f64,
}

impl Tone {
    fn new(digit: DtmfDigit) -> Self {
        Tone {
            digit,
            level: -10.0,
            ms: 60.0,
            dev: (0.0, 0.0),
            twist: 0.0,
        }
    }
}

/// Renders `parts` (tones and silences in ms) at `rate`, with white noise
/// at `snr` dB below the first tone's power if given.
fn render(rate: u32, parts: &[Result<Tone, f64>], snr: Option<f64>, seed: u64) -> Vec<i16> {
    let mut out = Vec::new();
    let mut phase = (0.3f64, 1.1f64);
    let mut noise_rms = 0.0;
    for part in parts {
        match part {
            Ok(t) => {
                let (lo, hi) = t.digit.frequencies();
                let each = t.level - 3.0;
                let a_lo = amplitude(each + t.twist / 2.0);
                let a_hi = amplitude(each - t.twist / 2.0);
                if noise_rms == 0.0 {
                    if let Some(snr) = snr {
                        let power = (a_lo * a_lo + a_hi * a_hi) / 2.0;
                        noise_rms = (power / 10f64.powf(snr / 10.0)).sqrt();
                    }
                }
                let (f_lo, f_hi) = (lo * (1.0 + t.dev.0), hi * (1.0 + t.dev.1));
                let n = (t.ms * f64::from(rate) / 1000.0).round() as usize;
                for _ in 0..n {
                    phase.0 += TAU * f_lo / f64::from(rate);
                    phase.1 += TAU * f_hi / f64::from(rate);
                    out.push(a_lo * phase.0.sin() + a_hi * phase.1.sin());
                }
            }
            Err(ms) => {
                let n = (ms * f64::from(rate) / 1000.0).round() as usize;
                out.extend(std::iter::repeat_n(0.0, n));
            }
        }
    }
    let mut noise = Noise(seed | 1);
    out.iter()
        .map(|v| {
            (v + noise_rms * noise.gaussian())
                .round()
                .clamp(-32768.0, 32767.0) as i16
        })
        .collect()
}

fn detect(rate: u32, samples: &[i16]) -> String {
    let t0 = Instant::now();
    let mut d = DtmfDetector::new(DtmfDetectorConfig::default(), rate, t0).unwrap();
    let frame = (rate / 50) as usize;
    let mut keys = String::new();
    for (i, chunk) in samples.chunks(frame).enumerate() {
        d.handle_samples(t0 + Duration::from_millis(20 * i as u64), chunk);
        while let Some(r) = d.poll_report() {
            assert_eq!(r.source, DtmfSource::Inband);
            keys.push(r.digit.as_char());
        }
    }
    keys
}

fn one(rate: u32, tone: Tone, snr: Option<f64>, seed: u64) -> String {
    detect(
        rate,
        &render(rate, &[Err(30.0), Ok(tone), Err(60.0)], snr, seed),
    )
}

#[test]
fn all_sixteen_keys_over_levels_at_8_and_16_khz() {
    for rate in [8000, 16000] {
        for level in [-3.0, -10.0, -20.0, -30.0] {
            for digit in DtmfDigit::ALL {
                let t = Tone {
                    level,
                    ..Tone::new(digit)
                };
                assert_eq!(
                    one(rate, t, None, 1),
                    digit.to_string(),
                    "{digit} at {level} dBm0, {rate} Hz"
                );
            }
        }
    }
}

#[test]
fn a_key_sequence_with_q24_pauses() {
    let mut parts = vec![Err(20.0)];
    for digit in DtmfDigit::ALL {
        parts.push(Ok(Tone {
            ms: 40.0,
            ..Tone::new(digit)
        }));
        parts.push(Err(40.0));
    }
    let want: String = DtmfDigit::ALL.iter().map(|d| d.as_char()).collect();
    assert_eq!(detect(8000, &render(8000, &parts, None, 3)), want);
    // The same key twice with a 40 ms pause is two presses.
    let five = Tone {
        ms: 45.0,
        ..Tone::new(DtmfDigit::D5)
    };
    let twice = [Err(10.0), Ok(five), Err(40.0), Ok(five), Err(50.0)];
    assert_eq!(detect(8000, &render(8000, &twice, None, 3)), "55");
    assert_eq!(detect(16000, &render(16000, &twice, None, 3)), "55");
}

#[test]
fn fifteen_db_snr_white_noise() {
    for rate in [8000, 16000] {
        for (i, digit) in DtmfDigit::ALL.into_iter().enumerate() {
            for level in [-10.0, -25.0] {
                let t = Tone {
                    level,
                    ms: 50.0,
                    ..Tone::new(digit)
                };
                let got = one(rate, t, Some(15.0), 7 + i as u64);
                assert_eq!(
                    got,
                    digit.to_string(),
                    "{digit} at {level} dBm0 + noise, {rate} Hz"
                );
            }
        }
        // Noise alone is never a key.
        let noise = render(
            rate,
            &[Ok(Tone {
                level: -80.0,
                ms: 2000.0,
                ..Tone::new(DtmfDigit::D1)
            })],
            Some(-70.0),
            11,
        );
        assert_eq!(detect(rate, &noise), "", "noise alone at {rate} Hz");
    }
}

#[test]
fn frequency_deviation_accept_1_5_percent_reject_3_5_percent() {
    for rate in [8000, 16000] {
        for digit in DtmfDigit::ALL {
            for dev in [0.015, -0.015] {
                for pair in [(dev, dev), (dev, -dev), (dev, 0.0), (0.0, dev)] {
                    let t = Tone {
                        dev: pair,
                        ..Tone::new(digit)
                    };
                    assert_eq!(
                        one(rate, t, None, 5),
                        digit.to_string(),
                        "{digit} {pair:?} {rate}"
                    );
                }
            }
            for dev in [0.035, -0.035] {
                for pair in [(dev, dev), (dev, 0.0), (0.0, dev)] {
                    let t = Tone {
                        dev: pair,
                        ..Tone::new(digit)
                    };
                    assert_eq!(one(rate, t, None, 5), "", "{digit} {pair:?} {rate}");
                }
            }
        }
    }
}

#[test]
fn deviation_limits_hold_in_noise() {
    for (i, digit) in DtmfDigit::ALL.into_iter().enumerate() {
        let ok = Tone {
            dev: (0.015, -0.015),
            ms: 50.0,
            ..Tone::new(digit)
        };
        assert_eq!(
            one(8000, ok, Some(15.0), 100 + i as u64),
            digit.to_string(),
            "{digit}"
        );
        let bad = Tone {
            dev: (0.035, 0.035),
            ms: 50.0,
            ..Tone::new(digit)
        };
        assert_eq!(one(8000, bad, Some(15.0), 200 + i as u64), "", "{digit}");
    }
}

#[test]
fn duration_40_ms_detected_short_rejected() {
    for rate in [8000, 16000] {
        for digit in DtmfDigit::ALL {
            let t = Tone {
                ms: 40.0,
                ..Tone::new(digit)
            };
            assert_eq!(
                one(rate, t, None, 9),
                digit.to_string(),
                "{digit} 40 ms {rate}"
            );
            for ms in [10.0, 20.0, 25.0] {
                let t = Tone {
                    ms,
                    ..Tone::new(digit)
                };
                assert_eq!(one(rate, t, None, 9), "", "{digit} {ms} ms {rate}");
            }
        }
    }
}

#[test]
fn twist_8_db_normal_4_db_reverse() {
    for digit in DtmfDigit::ALL {
        for twist in [8.0, -4.0] {
            let t = Tone {
                twist,
                ..Tone::new(digit)
            };
            assert_eq!(
                one(8000, t, None, 13),
                digit.to_string(),
                "{digit} twist {twist}"
            );
            assert_eq!(
                one(8000, t, Some(15.0), 13),
                digit.to_string(),
                "{digit} twist {twist} + noise"
            );
        }
        for twist in [14.0, -10.0] {
            let t = Tone {
                twist,
                ..Tone::new(digit)
            };
            assert_eq!(one(8000, t, None, 13), "", "{digit} twist {twist}");
        }
    }
}

#[test]
fn single_tones_and_too_weak_tones_are_not_keys() {
    // One tone of the pair at -60 dBm0 relative (effectively missing).
    let t = Tone {
        twist: 50.0,
        ..Tone::new(DtmfDigit::D1)
    };
    assert_eq!(one(8000, t, None, 1), "");
    let weak = Tone {
        level: -50.0,
        ..Tone::new(DtmfDigit::D1)
    };
    assert_eq!(one(8000, weak, None, 1), "");
}

#[test]
fn reports_are_dated_and_frames_work_as_a_sink() {
    let t0 = Instant::now();
    let mut d = DtmfDetector::new(DtmfDetectorConfig::default(), 8000, t0).unwrap();
    let samples = render(
        8000,
        &[Err(100.0), Ok(Tone::new(DtmfDigit::D7)), Err(60.0)],
        None,
        1,
    );
    // Stereo 16 kHz frames restart the detector at the new rate.
    let up: Vec<i16> = samples.iter().flat_map(|s| [*s, *s, *s, *s]).collect();
    for chunk in up.chunks(640) {
        crate::MediaSink::write_frame(
            &mut d,
            &voip_core::AudioFrame {
                sample_rate: 16000,
                channels: 2,
                samples: chunk.to_vec(),
            },
        );
    }
    assert_eq!(d.sample_rate(), 16000);
    assert_eq!(d.poll_report().map(|r| r.digit), Some(DtmfDigit::D7));
    // Timing: the report comes after min_duration of tone, starting at 100 ms.
    let mut d = DtmfDetector::new(DtmfDetectorConfig::default(), 8000, t0).unwrap();
    d.handle_samples(t0, &samples);
    let r = d.poll_report().unwrap();
    let after = r.at - t0;
    assert!(
        after > Duration::from_millis(125) && after < Duration::from_millis(150),
        "{after:?}"
    );
    assert!(DtmfDetector::new(DtmfDetectorConfig::default(), 4000, t0).is_err());
    assert!(
        DtmfDetectorConfig::default()
            .max_deviation(0.5)
            .build()
            .is_err()
    );
}
