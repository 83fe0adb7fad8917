//! Packet-loss concealment by pitch-period repetition, in the style of
//! ITU-T G.711 Appendix I.
//!
//! The concealer watches the decoded signal. When a packet is lost it finds
//! the pitch period of the last 20 ms (normalised cross-correlation over
//! lags of 5 to 15 ms, i.e. 66 to 200 Hz) and repeats the last period. After
//! 10 ms of loss it widens the repeated span to two periods, after 20 ms to
//! three, which keeps long gaps from sounding buzzy; from 10 ms on the output
//! fades by 20 % per 10 ms and is silent after 60 ms. The junction where the
//! span wraps is cross-faded over a quarter period. When audio resumes, the
//! first good samples are cross-faded with the continuing synthetic signal
//! over a quarter period plus 4 ms per extra 10 ms of loss (at most 10 ms).
//!
//! One difference from Appendix I: Appendix I delays its output by 3.75 ms so
//! it can also smooth the last real samples before a loss. This concealer
//! adds no delay; the pitch search already picks the lag whose period joins
//! best onto the last real sample.
//!
//! It works at any rate (G.711 at 8 kHz, G.722 at 16 kHz) and on mono audio.

/// Pitch-repetition packet-loss concealment for one mono stream.
#[derive(Debug, Clone)]
pub struct PitchConcealer {
    ten_ms: usize,
    min_lag: usize,
    max_lag: usize,
    window: usize,
    /// The last `history.len()` output samples, oldest first.
    history: Vec<f32>,
    /// `history` as it was when the current loss began.
    snapshot: Vec<f32>,
    /// The repeated waveform: the last `periods` pitch periods of `snapshot`.
    span: Vec<f32>,
    /// Scratch for the cross-fade when audio resumes.
    fade: Vec<f32>,
    /// Samples concealed in the current loss (0: no loss in progress).
    erased: usize,
    pitch: usize,
    periods: usize,
    pos: usize,
}

impl PitchConcealer {
    /// A concealer for mono audio at `sample_rate` Hz.
    pub fn new(sample_rate: u32) -> Self {
        let rate = sample_rate.max(1000) as usize;
        let ten_ms = rate / 100;
        let min_lag = rate / 200; // 5 ms: 200 Hz
        let max_lag = rate * 15 / 1000; // 15 ms: 66.7 Hz
        let history_len = 3 * max_lag + max_lag / 4;
        Self {
            ten_ms,
            min_lag,
            max_lag,
            window: 2 * ten_ms,
            history: vec![0.0; history_len],
            snapshot: vec![0.0; history_len],
            span: Vec::with_capacity(3 * max_lag),
            fade: Vec::with_capacity(ten_ms),
            erased: 0,
            pitch: min_lag,
            periods: 1,
            pos: 0,
        }
    }

    /// Whether a loss is being concealed right now.
    pub fn is_concealing(&self) -> bool {
        self.erased > 0
    }

    /// The pitch period (in samples) of the current or last concealment.
    pub fn pitch(&self) -> usize {
        self.pitch
    }

    /// Takes freshly decoded samples. After a loss, their start is
    /// cross-faded with the synthetic signal in place.
    pub fn handle_good(&mut self, samples: &mut [i16]) {
        if self.erased > 0 {
            let extra_tens = (self.erased.saturating_sub(1)) / self.ten_ms;
            let len = (self.pitch / 4 + extra_tens * self.ten_ms * 2 / 5)
                .min(self.ten_ms)
                .min(samples.len());
            self.fade.clear();
            for _ in 0..len {
                let s = self.next_synthetic();
                self.fade.push(s);
            }
            for (i, (out, &synth)) in samples.iter_mut().zip(&self.fade).enumerate() {
                let w = (i + 1) as f32 / (len + 1) as f32;
                *out = to_i16(w * f32::from(*out) + (1.0 - w) * synth);
            }
            self.erased = 0;
        }
        self.push_history(samples.iter().map(|&s| f32::from(s)));
    }

    /// Appends `samples` concealment samples to `out`.
    pub fn conceal(&mut self, samples: usize, out: &mut Vec<i16>) {
        if self.erased == 0 {
            self.start_loss();
        }
        out.reserve(samples);
        let start = out.len();
        for _ in 0..samples {
            let s = self.next_synthetic();
            out.push(to_i16(s));
        }
        let (history, produced) = (&mut self.history, &out[start..]);
        push(history, produced.iter().map(|&s| f32::from(s)));
    }

    fn push_history(&mut self, samples: impl ExactSizeIterator<Item = f32>) {
        push(&mut self.history, samples);
    }

    fn start_loss(&mut self) {
        self.snapshot.copy_from_slice(&self.history);
        self.pitch = self.find_pitch();
        self.periods = 1;
        self.build_span();
        self.pos = 0;
    }

    /// The lag in `min_lag..=max_lag` whose past window best matches the
    /// last `window` samples (normalised cross-correlation).
    fn find_pitch(&self) -> usize {
        let h = &self.snapshot;
        let end = h.len();
        let target = &h[end - self.window..];
        let mut best = (self.min_lag, f32::MIN);
        for lag in self.min_lag..=self.max_lag {
            let past = &h[end - self.window - lag..end - lag];
            let (mut cross, mut energy) = (0.0f32, 0.0f32);
            for (&a, &b) in target.iter().zip(past) {
                cross += a * b;
                energy += b * b;
            }
            let score = if energy > 0.0 {
                cross / energy.sqrt()
            } else {
                0.0
            };
            if score > best.1 {
                best = (lag, score);
            }
        }
        best.0
    }

    /// The last `periods` pitch periods, with the end cross-faded into the
    /// samples that precede the span, so wrapping to its start is smooth.
    fn build_span(&mut self) {
        let h = &self.snapshot;
        let end = h.len();
        let len = self.periods * self.pitch;
        let ola = (self.pitch / 4).max(1);
        self.span.clear();
        self.span.extend_from_slice(&h[end - len..]);
        for i in 0..ola {
            let w = (i + 1) as f32 / (ola + 1) as f32;
            self.span[len - ola + i] = (1.0 - w) * h[end - ola + i] + w * h[end - len - ola + i];
        }
    }

    fn next_synthetic(&mut self) -> f32 {
        let k = self.erased;
        self.erased += 1;
        if k >= 6 * self.ten_ms {
            return 0.0;
        }
        let want = 1 + (k / self.ten_ms).min(2);
        if want > self.periods {
            // Widen only inside the last period and before its blended tail.
            let last = (self.periods - 1) * self.pitch;
            let ola = (self.pitch / 4).max(1);
            if self.pos >= last && self.pos - last + ola < self.pitch {
                let j = self.pos - last;
                self.periods = want;
                self.build_span();
                self.pos = (want - 1) * self.pitch + j;
            }
        }
        let s = self.span[self.pos];
        self.pos += 1;
        if self.pos == self.span.len() {
            self.pos = 0;
        }
        let gain = if k < self.ten_ms {
            1.0
        } else {
            1.0 - (k - self.ten_ms) as f32 / (5 * self.ten_ms) as f32
        };
        s * gain
    }
}

fn push(history: &mut [f32], samples: impl ExactSizeIterator<Item = f32>) {
    let n = samples.len();
    let len = history.len();
    if n >= len {
        for (slot, s) in history.iter_mut().zip(samples.skip(n - len)) {
            *slot = s;
        }
    } else {
        history.copy_within(n.., 0);
        for (slot, s) in history[len - n..].iter_mut().zip(samples) {
            *slot = s;
        }
    }
}

fn to_i16(x: f32) -> i16 {
    x.round().clamp(-32768.0, 32767.0) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn voiced(rate: u32, f0: f64, n: usize, offset: usize) -> Vec<i16> {
        // A pitch pulse train shaped like a vowel: fundamental plus harmonics.
        (offset..offset + n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                let w = 2.0 * std::f64::consts::PI * f0 * t;
                (6000.0 * w.sin() + 3000.0 * (2.0 * w).sin() + 1500.0 * (3.0 * w + 0.5).sin())
                    as i16
            })
            .collect()
    }

    fn snr_db(reference: &[i16], test: &[i16]) -> f64 {
        let (mut s, mut e) = (0.0f64, 0.0f64);
        for (&r, &t) in reference.iter().zip(test) {
            s += f64::from(r).powi(2);
            e += (f64::from(r) - f64::from(t)).powi(2);
        }
        10.0 * (s / e.max(1e-9)).log10()
    }

    #[test]
    fn finds_the_pitch_and_continues_the_waveform() {
        for (rate, f0) in [
            (8000u32, 125.0),
            (8000, 160.0),
            (16000, 100.0),
            (16000, 200.0),
        ] {
            let mut plc = PitchConcealer::new(rate);
            let ten = rate as usize / 100;
            let mut good = voiced(rate, f0, 6 * ten, 0);
            plc.handle_good(&mut good);
            let mut out = Vec::new();
            plc.conceal(ten, &mut out);
            let period = f64::from(rate) / f0;
            let found = plc.pitch() as f64;
            assert!(
                ((found / period).round() - found / period).abs() < 0.05,
                "{rate} Hz {f0}: pitch {found} vs period {period}"
            );
            let truth = voiced(rate, f0, ten, 6 * ten);
            assert!(
                snr_db(&truth, &out) > 20.0,
                "{rate} {f0}: {}",
                snr_db(&truth, &out)
            );
        }
    }

    #[test]
    fn fades_after_10_ms_and_is_silent_after_60_ms() {
        let mut plc = PitchConcealer::new(8000);
        let mut good = voiced(8000, 125.0, 400, 0);
        plc.handle_good(&mut good);
        let mut out = Vec::new();
        plc.conceal(640, &mut out); // 80 ms
        let energy = |s: &[i16]| s.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
        let first = energy(&out[0..80]);
        let third = energy(&out[160..240]);
        let fifth = energy(&out[320..400]);
        assert!(third < first * 0.8, "{third} vs {first}");
        assert!(fifth < third * 0.5, "{fifth} vs {third}");
        assert!(out[480..].iter().all(|&s| s == 0));
        assert!(plc.is_concealing());
    }

    #[test]
    fn resuming_cross_fades_without_a_click() {
        let mut plc = PitchConcealer::new(8000);
        let signal = voiced(8000, 125.0, 1000, 0);
        let mut first = signal[..400].to_vec();
        plc.handle_good(&mut first);
        let mut out = Vec::new();
        plc.conceal(160, &mut out);
        let mut resumed = signal[560..720].to_vec();
        plc.handle_good(&mut resumed);
        assert!(!plc.is_concealing());
        // Sample-to-sample steps stay within what the signal itself does.
        let max_step = signal
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .max()
            .unwrap_or(0);
        let joined: Vec<i16> = out.iter().chain(&resumed).copied().collect();
        let worst = joined
            .windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .max()
            .unwrap_or(0);
        assert!(worst <= max_step * 2, "{worst} vs {max_step}");
        // Past the fade the good samples are untouched.
        assert_eq!(&resumed[80..], &signal[640..720]);
    }

    #[test]
    fn silence_conceals_as_silence() {
        let mut plc = PitchConcealer::new(8000);
        let mut out = Vec::new();
        plc.conceal(160, &mut out);
        assert!(out.iter().all(|&s| s == 0));
        let mut good = vec![100i16; 160];
        plc.handle_good(&mut good);
        assert_eq!(good[159], 100);
    }
}
