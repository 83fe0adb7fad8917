//! Sample-rate conversion by a polyphase windowed-sinc filter.
//!
//! Converting `from` Hz to `to` Hz is upsampling by L, low-pass filtering
//! and downsampling by M, with L/M = to/from in lowest terms. The polyphase
//! form computes only the outputs that survive the downsampling, each from
//! one of the L sub-filters ("phases"), so 8 → 48 kHz costs one short dot
//! product per output sample.
//!
//! The low-pass prototype is a sinc windowed by a Kaiser window designed for
//! 80 dB of stopband attenuation (β = 7.86). Its passband reaches 43 % of
//! the lower of the two rates (3440 Hz between 8 and 16 kHz) and its
//! stopband starts at the lower Nyquist frequency, so nothing aliases and
//! no images leak. The passband is flat within 0.05 dB (tested).
//!
//! The resampler streams: feeding the input in any chunks gives exactly the
//! output of feeding it whole. Its delay is [`Resampler::delay`] output
//! samples; [`Resampler::flush`] pushes the tail out at the end of a stream.

/// Passband edge as a fraction of the lower rate.
const PASSBAND: f64 = 0.43;
/// Stopband edge as a fraction of the lower rate (its Nyquist frequency).
const STOPBAND: f64 = 0.5;
/// Stopband attenuation the Kaiser window is designed for, in dB.
const ATTENUATION_DB: f64 = 80.0;

/// A streaming mono sample-rate converter for any two integer rates.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: u32,
    to: u32,
    up: usize,
    down: usize,
    taps: usize,
    /// Filter delay in output samples (a whole number by design).
    delay: usize,
    /// `up` sub-filters of `taps` coefficients each, reversed so each dot
    /// product runs forward over the input window.
    phases: Vec<f32>,
    /// The last `taps - 1` input samples followed by new input.
    buf: Vec<f32>,
    /// Upsampled position of the next output, relative to `buf[0]`.
    pos: usize,
}

impl Resampler {
    /// A converter from `from` Hz to `to` Hz. Rates of 0 are treated as 1.
    pub fn new(from: u32, to: u32) -> Self {
        let (from, to) = (from.max(1), to.max(1));
        let g = gcd(from, to);
        let (up, down) = ((to / g) as usize, (from / g) as usize);
        let (taps, delay, phases) = if up == down {
            (1, 0, vec![1.0])
        } else {
            design(from, to, up, down)
        };
        Self {
            from,
            to,
            up,
            down,
            taps,
            delay,
            phases,
            buf: vec![0.0; taps - 1],
            pos: (taps - 1) * up,
        }
    }

    /// The input rate.
    pub fn from_rate(&self) -> u32 {
        self.from
    }

    /// The output rate.
    pub fn to_rate(&self) -> u32 {
        self.to
    }

    /// Coefficients per output sample (the cost of one output).
    pub fn taps(&self) -> usize {
        self.taps
    }

    /// The filter's delay in output samples.
    pub fn delay(&self) -> usize {
        self.delay
    }

    /// Input samples needed to push the last real input through the filter.
    pub fn flush_len(&self) -> usize {
        self.taps
    }

    /// Converts `input`, appending the output samples to `out`.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        if self.up == self.down {
            out.extend_from_slice(input);
            return;
        }
        self.buf.extend(input.iter().map(|&s| f32::from(s)));
        let taps = self.taps;
        out.reserve(input.len() * self.up / self.down + 1);
        loop {
            let newest = self.pos / self.up;
            if newest >= self.buf.len() {
                break;
            }
            let phase = self.pos % self.up;
            let coefficients = &self.phases[phase * taps..(phase + 1) * taps];
            let window = &self.buf[newest + 1 - taps..=newest];
            let y = dot(coefficients, window);
            out.push(y.round().clamp(-32768.0, 32767.0) as i16);
            self.pos += self.down;
        }
        // Keep the last taps - 1 samples.
        let drop = self.buf.len() - (taps - 1);
        self.buf.drain(..drop);
        self.pos -= drop * self.up;
    }

    /// Feeds [`Resampler::flush_len`] zeros, pushing the filter's tail out.
    pub fn flush(&mut self, out: &mut Vec<i16>) {
        if self.up == self.down {
            return;
        }
        let zeros = self.taps;
        self.buf.resize(self.buf.len() + zeros, 0.0);
        self.process(&[], out);
    }

    /// Forgets buffered input (a new stream).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf.resize(self.taps - 1, 0.0);
        self.pos = (self.taps - 1) * self.up;
    }

    /// Converts a whole signal in one go, compensating the filter delay so
    /// the output lines up with the input and has `len · to / from` samples.
    pub fn convert(from: u32, to: u32, input: &[i16]) -> Vec<i16> {
        let mut r = Resampler::new(from, to);
        let mut out = Vec::new();
        r.process(input, &mut out);
        r.flush(&mut out);
        let wanted = (input.len() as u64 * u64::from(r.to) / u64::from(r.from)) as usize;
        let skip = r.delay().min(out.len());
        out.drain(..skip);
        out.truncate(wanted);
        out.resize(wanted, 0);
        out
    }
}

/// A dot product in eight independent lanes, which the compiler turns into
/// SIMD (a plain iterator sum must keep its order and stays scalar).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let (a8, b8) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (a8.remainder(), b8.remainder());
    for (ca, cb) in a8.zip(b8) {
        for ((lane, x), y) in lanes.iter_mut().zip(ca).zip(cb) {
            *lane += x * y;
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    lanes.iter().sum::<f32>() + tail
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Designs the Kaiser-windowed sinc for `from` → `to` with `up` phases;
/// returns taps per phase, the delay in output samples and the reversed
/// phase table. The filter is centred on a multiple of `down`, so the delay
/// is a whole number of output samples.
fn design(from: u32, to: u32, up: usize, down: usize) -> (usize, usize, Vec<f32>) {
    let low = f64::from(from.min(to));
    let rate = f64::from(from) * up as f64; // the filter's (upsampled) rate
    let width = (STOPBAND - PASSBAND) * low / rate; // cycles per sample
    let cutoff = (STOPBAND + PASSBAND) / 2.0 * low / rate;
    let beta = 0.1102 * (ATTENUATION_DB - 8.7);
    let length = ((ATTENUATION_DB - 7.95) / (2.285 * 2.0 * std::f64::consts::PI * width)).ceil();
    let mut taps = ((length as usize).div_ceil(up)).max(2);
    let (delay, used) = loop {
        let delay = (taps * up - 1) / (2 * down);
        let used = 2 * delay * down + 1;
        if used as f64 >= length {
            break (delay, used);
        }
        taps += 1;
    };
    let total = taps * up;
    let centre = (used - 1) as f64 / 2.0;
    let i0_beta = bessel_i0(beta);
    let mut h: Vec<f64> = (0..total)
        .map(|m| {
            if m >= used {
                return 0.0;
            }
            let t = m as f64 - centre;
            let x = 2.0 * cutoff * t;
            let sinc = if x == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
            };
            let r = t / (centre + 0.5);
            let window = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta;
            2.0 * cutoff * sinc * window
        })
        .collect();
    // Unity gain at DC for every output: the taps sum to `up`.
    let sum: f64 = h.iter().sum();
    for c in &mut h {
        *c *= up as f64 / sum;
    }
    let mut phases = vec![0.0f32; total];
    for p in 0..up {
        for k in 0..taps {
            // Output phase p uses h[p + j·up] on x[newest − j]; reversed: k = taps − 1 − j.
            let j = taps - 1 - k;
            phases[p * taps + k] = h[p + j * up] as f32;
        }
    }
    (taps, delay, phases)
}

/// The zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..50 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(rate: u32, freq: f64, amplitude: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amplitude * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()).round() as i16
            })
            .collect()
    }

    /// Amplitude of the `freq` component (a Goertzel over a Hann window).
    fn amplitude(samples: &[i16], rate: u32, freq: f64) -> f64 {
        let n = samples.len();
        let w = 2.0 * PI * freq / f64::from(rate);
        let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
        for (i, &s) in samples.iter().enumerate() {
            let hann = 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos();
            re += hann * f64::from(s) * (w * i as f64).cos();
            im += hann * f64::from(s) * (w * i as f64).sin();
            wsum += hann;
        }
        2.0 * (re * re + im * im).sqrt() / wsum
    }

    fn rms(samples: &[i16]) -> f64 {
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    }

    const PAIRS: [(u32, u32); 6] = [
        (8000, 16000),
        (16000, 8000),
        (8000, 48000),
        (48000, 8000),
        (16000, 48000),
        (48000, 16000),
    ];

    #[test]
    fn passband_is_flat() {
        for (from, to) in PAIRS {
            let low = f64::from(from.min(to));
            for fraction in [0.0125, 0.05, 0.1, 0.2, 0.3, 0.4, 0.425] {
                let freq = fraction * low;
                let input = sine(from, freq, 10_000.0, from as usize / 2);
                let out = Resampler::convert(from, to, &input);
                let steady = &out[out.len() / 5..out.len() * 4 / 5];
                let gain_db = 20.0 * (amplitude(steady, to, freq) / 10_000.0).log10();
                assert!(
                    gain_db.abs() < 0.05,
                    "{from}->{to} {freq} Hz: {gain_db:.3} dB"
                );
            }
        }
    }

    #[test]
    fn tones_above_the_new_nyquist_are_suppressed() {
        for (from, to, freq) in [
            (16000u32, 8000u32, 4100.0),
            (16000, 8000, 6000.0),
            (48000, 8000, 4200.0),
            (48000, 8000, 11_000.0),
            (48000, 16000, 8500.0),
            (48000, 16000, 20_000.0),
        ] {
            let input = sine(from, freq, 20_000.0, from as usize / 2);
            let out = Resampler::convert(from, to, &input);
            let steady = &out[out.len() / 5..out.len() * 4 / 5];
            let level_db = 20.0 * (rms(steady) * 2f64.sqrt() / 20_000.0).max(1e-9).log10();
            assert!(level_db < -50.0, "{from}->{to} {freq} Hz: {level_db:.1} dB");
        }
    }

    #[test]
    fn upsampling_leaves_no_images() {
        for (from, to) in [(8000u32, 16000u32), (8000, 48000), (16000, 48000)] {
            let freq = 0.4 * f64::from(from);
            let input = sine(from, freq, 20_000.0, from as usize / 2);
            let out = Resampler::convert(from, to, &input);
            let steady = &out[out.len() / 5..out.len() * 4 / 5];
            let image = f64::from(from) - freq;
            let level_db = 20.0 * (amplitude(steady, to, image) / 20_000.0).max(1e-9).log10();
            assert!(
                level_db < -50.0,
                "{from}->{to}: image at {image} Hz {level_db:.1} dB"
            );
        }
    }

    #[test]
    fn chunked_input_gives_the_same_output_as_whole_input() {
        for (from, to) in PAIRS.into_iter().chain([(44100, 8000), (22050, 16000)]) {
            let input: Vec<i16> = sine(from, 440.0, 8000.0, 5000)
                .iter()
                .zip(sine(from, 1777.0, 4000.0, 5000))
                .map(|(a, b)| a + b)
                .collect();
            let mut whole = Vec::new();
            let mut r = Resampler::new(from, to);
            r.process(&input, &mut whole);
            let mut chunked = Vec::new();
            let mut r = Resampler::new(from, to);
            let mut rest = &input[..];
            let mut size = 1;
            while !rest.is_empty() {
                let n = size.min(rest.len());
                r.process(&rest[..n], &mut chunked);
                rest = &rest[n..];
                size = size * 7 % 331 + 1;
            }
            assert_eq!(whole, chunked, "{from}->{to}");
            let expected = input.len() * to as usize / from as usize;
            assert!(
                whole.len().abs_diff(expected) <= 1,
                "{from}->{to}: {}",
                whole.len()
            );
        }
    }

    #[test]
    fn convert_lines_up_with_the_input() {
        let input = sine(8000, 300.0, 10_000.0, 800);
        let out = Resampler::convert(8000, 16000, &input);
        assert_eq!(out.len(), 1600);
        // Every other output sample is (close to) an input sample.
        for i in 100..700 {
            assert!(
                (out[2 * i] - input[i]).abs() < 30,
                "{i}: {} vs {}",
                out[2 * i],
                input[i]
            );
        }
        assert_eq!(Resampler::convert(8000, 8000, &input), input);
    }

    #[test]
    fn cost_per_output() {
        // The numbers docs/codecs.md quotes.
        assert!(Resampler::new(8000, 48000).taps() <= 80);
        assert!(Resampler::new(48000, 8000).taps() <= 450);
        assert_eq!(Resampler::new(8000, 8000).taps(), 1);
    }
}
