//! [`WavPlayer`]: a WAV file (or any mono PCM in memory) as a
//! [`MediaSource`], resampled to whatever rate the consumer asks for.

use std::path::Path;
use std::sync::Arc;

use voip_core::AudioFrame;

use super::{Resampler, Wav, WavError};
use crate::MediaSource;

/// Plays mono PCM (a prompt, a hold-music file) at the consumer's rate.
///
/// Multi-channel files are mixed down to mono on load. The samples live in
/// an `Arc<[i16]>`, so one prompt loaded once can feed many calls
/// ([`WavPlayer::from_shared`]). Resampling is streaming and
/// delay-compensated: playing an 8 kHz file at 16 kHz yields exactly twice
/// as many samples, aligned with the original.
#[derive(Debug, Clone)]
pub struct WavPlayer {
    samples: Arc<[i16]>,
    rate: u32,
    /// Next input sample to feed.
    pos: usize,
    looping: bool,
    /// Set once a non-looping source has handed out its last sample.
    ended: bool,
    conversion: Option<Conversion>,
}

/// Streaming state while the requested rate differs from the file's.
#[derive(Debug, Clone)]
struct Conversion {
    resampler: Resampler,
    /// Scratch for one step of input.
    input: Vec<i16>,
    /// Converted samples not handed out yet, from `ready_at` on.
    ready: Vec<i16>,
    ready_at: usize,
    /// Output samples still to drop (the filter delay).
    skip: usize,
    /// Output samples left to hand out (non-looping), or `usize::MAX`.
    left: usize,
    flushed: bool,
}

impl WavPlayer {
    /// A player for a WAV file held in memory.
    pub fn from_wav_bytes(bytes: &[u8]) -> Result<Self, WavError> {
        let wav = Wav::parse(bytes)?;
        Ok(Self::from_shared(wav.to_mono().into(), wav.sample_rate))
    }

    /// A player for a WAV file on disk (read whole, once).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, WavError> {
        let wav = Wav::read(path)?;
        Ok(Self::from_shared(wav.to_mono().into(), wav.sample_rate))
    }

    /// A player for mono samples at `sample_rate` (a TTS render, say).
    pub fn from_shared(samples: Arc<[i16]>, sample_rate: u32) -> Self {
        Self {
            samples,
            rate: sample_rate.max(1),
            pos: 0,
            looping: false,
            ended: false,
            conversion: None,
        }
    }

    /// Starts over at the beginning when the end is reached (hold music).
    pub fn looping(mut self, looping: bool) -> Self {
        self.looping = looping;
        self
    }

    /// The source's own sample rate.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Duration in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(self.rate)
    }

    /// The shared samples (to start another player on the same prompt).
    pub fn samples(&self) -> Arc<[i16]> {
        Arc::clone(&self.samples)
    }

    /// Back to the start.
    pub fn rewind(&mut self) {
        self.pos = 0;
        self.ended = false;
        self.conversion = None;
    }

    fn converted(&mut self, rate: u32, n: usize) -> Vec<i16> {
        let stale = self
            .conversion
            .as_ref()
            .is_none_or(|c| c.resampler.to_rate() != rate);
        if stale {
            let resampler = Resampler::new(self.rate, rate);
            let remaining = self.samples.len().saturating_sub(self.pos) as u64;
            let left = if self.looping {
                usize::MAX
            } else {
                (remaining * u64::from(rate)).div_ceil(u64::from(self.rate)) as usize
            };
            self.conversion = Some(Conversion {
                skip: resampler.delay(),
                resampler,
                input: Vec::new(),
                ready: Vec::new(),
                ready_at: 0,
                left,
                flushed: false,
            });
        }
        let Self {
            samples,
            pos,
            looping,
            conversion,
            rate: native,
            ended,
        } = self;
        let Some(c) = conversion.as_mut() else {
            return Vec::new();
        };
        c.ready.drain(..c.ready_at);
        c.ready_at = 0;
        let chunk = (*native as usize / 50).max(1); // 20 ms of input per step
        while c.ready.len() < n && !c.flushed {
            c.input.clear();
            take_native(samples, pos, *looping, chunk, &mut c.input);
            let before = c.ready.len();
            c.resampler.process(&c.input, &mut c.ready);
            if c.input.len() < chunk {
                c.resampler.flush(&mut c.ready);
                c.flushed = true;
            }
            // Drop the filter delay from the front of the stream.
            let drop = c.skip.min(c.ready.len() - before);
            c.ready.drain(before..before + drop);
            c.skip -= drop;
        }
        let take = n.min(c.ready.len()).min(c.left);
        let out = c.ready[..take].to_vec();
        c.ready_at = take;
        c.left -= take;
        if !*looping && (c.left == 0 || (c.flushed && take == c.ready.len())) {
            *ended = true;
        }
        out
    }
}

/// Copies up to `n` samples from `samples[*pos..]`, wrapping when looping.
fn take_native(samples: &[i16], pos: &mut usize, looping: bool, n: usize, out: &mut Vec<i16>) {
    let mut want = n;
    while want > 0 {
        if *pos >= samples.len() {
            if !looping || samples.is_empty() {
                break;
            }
            *pos = 0;
        }
        let take = want.min(samples.len() - *pos);
        out.extend_from_slice(&samples[*pos..*pos + take]);
        *pos += take;
        want -= take;
    }
}

impl MediaSource for WavPlayer {
    fn next_frame(&mut self, sample_rate: u32, samples: usize) -> Option<AudioFrame> {
        if self.ended {
            return None;
        }
        let out = if sample_rate == self.rate {
            let mut out = Vec::with_capacity(samples);
            take_native(
                &self.samples,
                &mut self.pos,
                self.looping,
                samples,
                &mut out,
            );
            if out.len() < samples && !self.looping {
                self.ended = true;
            }
            out
        } else {
            self.converted(sample_rate, samples)
        };
        if out.is_empty() {
            self.ended = true;
            return None;
        }
        Some(AudioFrame::mono(sample_rate, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn sine(rate: u32, freq: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| (8000.0 * (2.0 * PI * freq * i as f64 / f64::from(rate)).sin()) as i16)
            .collect()
    }

    fn drain(player: &mut WavPlayer, rate: u32, frame: usize) -> Vec<i16> {
        let mut out = Vec::new();
        while let Some(f) = player.next_frame(rate, frame) {
            assert_eq!(f.sample_rate, rate);
            assert!(f.samples.len() <= frame);
            out.extend(f.samples);
        }
        out
    }

    #[test]
    fn plays_a_wav_at_its_own_rate_sample_for_sample() {
        let samples = sine(8000, 440.0, 1000);
        let wav = Wav {
            sample_rate: 8000,
            channels: 1,
            format: super::super::WavFormat::Pcm16,
            samples: samples.clone(),
        };
        let mut player = WavPlayer::from_wav_bytes(&wav.to_bytes()).unwrap();
        assert_eq!(player.duration_ms(), 125);
        let out = drain(&mut player, 8000, 160);
        assert_eq!(out, samples);
        assert!(player.next_frame(8000, 160).is_none());
    }

    #[test]
    fn resamples_to_the_requested_rate_in_step_with_the_file() {
        let samples = sine(8000, 440.0, 8000);
        for rate in [16000u32, 48000] {
            let mut player = WavPlayer::from_shared(samples.clone().into(), 8000);
            let out = drain(&mut player, rate, rate as usize / 50);
            let factor = (rate / 8000) as usize;
            assert_eq!(out.len(), samples.len() * factor);
            // Aligned: every factor-th output sample is close to the input.
            for i in 200..7800 {
                let d = (i32::from(out[i * factor]) - i32::from(samples[i])).abs();
                assert!(d < 40, "{rate}: sample {i} off by {d}");
            }
            // Same result as converting the whole file at once.
            assert_eq!(out, Resampler::convert(8000, rate, &samples));
        }
    }

    #[test]
    fn stereo_files_are_mixed_to_mono_and_downsampled() {
        let left = sine(16000, 300.0, 3200);
        let samples: Vec<i16> = left.iter().flat_map(|&s| [s, s]).collect();
        let wav = Wav {
            sample_rate: 16000,
            channels: 2,
            format: super::super::WavFormat::Pcm16,
            samples,
        };
        let mut player = WavPlayer::from_wav_bytes(&wav.to_bytes()).unwrap();
        let out = drain(&mut player, 8000, 160);
        assert_eq!(out.len(), 1600);
        for i in 100..1500 {
            assert!((i32::from(out[i]) - i32::from(left[2 * i])).abs() < 40);
        }
    }

    #[test]
    fn loops_and_rewinds() {
        let samples: Vec<i16> = (0..100).collect();
        let mut player = WavPlayer::from_shared(samples.into(), 8000).looping(true);
        let f = player.next_frame(8000, 250).unwrap();
        assert_eq!(f.samples[99], 99);
        assert_eq!(f.samples[100], 0);
        assert_eq!(f.samples[249], 49);
        // Looping through the resampler never ends either.
        for _ in 0..20 {
            assert_eq!(player.next_frame(16000, 320).unwrap().samples.len(), 320);
        }
        let mut once = WavPlayer::from_shared((0..100).collect::<Vec<i16>>().into(), 8000);
        assert_eq!(once.next_frame(8000, 160).unwrap().samples.len(), 100);
        assert!(once.next_frame(8000, 160).is_none());
        once.rewind();
        assert_eq!(once.next_frame(8000, 60).unwrap().samples.len(), 60);
    }

    #[test]
    fn reads_from_disk_and_reports_errors() {
        let dir = std::env::temp_dir().join(format!("voip-media-player-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("prompt.wav");
        let wav = Wav {
            sample_rate: 8000,
            channels: 1,
            format: super::super::WavFormat::Pcm16,
            samples: vec![1, 2, 3],
        };
        std::fs::write(&path, wav.to_bytes()).unwrap();
        let mut player = WavPlayer::open(&path).unwrap();
        assert_eq!(player.next_frame(8000, 10).unwrap().samples, vec![1, 2, 3]);
        assert!(matches!(
            WavPlayer::open(dir.join("missing.wav")),
            Err(WavError::Io(_))
        ));
        assert!(matches!(
            WavPlayer::from_wav_bytes(b"nope"),
            Err(WavError::NotWave)
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
