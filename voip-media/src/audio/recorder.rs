//! [`WavRecorder`]: records a call to a 16-bit PCM WAV file, as a
//! [`MediaSink`] for mono (or already interleaved) audio, or with one channel
//! per call leg through [`WavRecorder::write_legs`].

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use voip_core::AudioFrame;

use super::{Resampler, WavError, WavWriter};
use crate::MediaSink;

/// Records audio to a WAV file; the header's sizes are fixed up by
/// [`WavRecorder::finish`] (or, failing that, when the recorder is dropped).
///
/// Frames at another rate than the file's are resampled. A mono frame
/// written to a file with several channels goes to every channel; a frame
/// with the file's channel count is written as it is; anything else is
/// counted in [`WavRecorder::rejected_frames`]. Write errors (a full disk)
/// stop the recording; the first one is kept for [`WavRecorder::finish`].
#[derive(Debug)]
pub struct WavRecorder {
    writer: Option<WavWriter<BufWriter<File>>>,
    path: PathBuf,
    sample_rate: u32,
    channels: u16,
    /// One resampler per channel, made when a frame's rate differs.
    resamplers: Vec<Resampler>,
    /// Per-channel scratch for resampled legs.
    legs: Vec<Vec<i16>>,
    /// Interleaving scratch.
    interleaved: Vec<i16>,
    error: Option<std::io::Error>,
    rejected: u64,
    truncated: bool,
}

impl WavRecorder {
    /// Creates (or truncates) `path` for a recording at `sample_rate` with
    /// `channels` channels (1 to 8).
    pub fn create(
        path: impl AsRef<Path>,
        sample_rate: u32,
        channels: u16,
    ) -> Result<Self, WavError> {
        if !(1..=8).contains(&channels) || sample_rate == 0 {
            return Err(WavError::Invalid(
                "recording needs 1 to 8 channels and a rate",
            ));
        }
        let path = path.as_ref().to_path_buf();
        let file = BufWriter::new(File::create(&path)?);
        let writer = WavWriter::new(file, sample_rate, channels)?;
        Ok(Self {
            writer: Some(writer),
            path,
            sample_rate,
            channels,
            resamplers: Vec::new(),
            legs: vec![Vec::new(); usize::from(channels)],
            interleaved: Vec::new(),
            error: None,
            rejected: 0,
            truncated: false,
        })
    }

    /// Creates `<dir>/<call id>.wav`. Characters of the Call-ID that do not
    /// belong in a file name (anything but letters, digits, `-`, `_`, `.`,
    /// `@`) become `_`, and a leading dot is replaced, so a hostile Call-ID
    /// cannot leave `dir`.
    pub fn for_call(
        dir: impl AsRef<Path>,
        call_id: &str,
        sample_rate: u32,
        channels: u16,
    ) -> Result<Self, WavError> {
        Self::create(
            dir.as_ref().join(file_name_for(call_id)),
            sample_rate,
            channels,
        )
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Frames that had a channel count this recording cannot take.
    pub fn rejected_frames(&self) -> u64 {
        self.rejected
    }

    /// Seconds recorded so far.
    pub fn duration_ms(&self) -> u64 {
        let bytes = self.writer.as_ref().map_or(0, |w| w.data_bytes());
        bytes * 1000 / (2 * u64::from(self.channels) * u64::from(self.sample_rate))
    }

    /// Writes one mono frame per leg, each leg into its own channel (leg 0
    /// left, leg 1 right, ...). Legs shorter than the longest are padded
    /// with silence; a missing leg (fewer frames than channels) is silent.
    pub fn write_legs(&mut self, legs: &[&AudioFrame]) {
        if legs.len() > usize::from(self.channels) || legs.iter().any(|f| f.channels != 1) {
            self.rejected += 1;
            return;
        }
        for (i, frame) in legs.iter().enumerate() {
            let mut leg = std::mem::take(&mut self.legs[i]);
            leg.clear();
            self.convert(i, frame.sample_rate, &frame.samples, &mut leg);
            self.legs[i] = leg;
        }
        for leg in &mut self.legs[legs.len()..] {
            leg.clear();
        }
        let len = self.legs.iter().map(Vec::len).max().unwrap_or(0);
        self.interleaved.clear();
        for n in 0..len {
            for leg in &self.legs {
                self.interleaved.push(leg.get(n).copied().unwrap_or(0));
            }
        }
        let samples = std::mem::take(&mut self.interleaved);
        self.write(&samples);
        self.interleaved = samples;
    }

    /// Ends the recording: fixes the header up and closes the file.
    pub fn finish(mut self) -> Result<PathBuf, WavError> {
        self.close()?;
        Ok(std::mem::take(&mut self.path))
    }

    fn close(&mut self) -> Result<(), WavError> {
        if let Some(writer) = self.writer.take() {
            writer.finish()?.into_inner().map_err(|e| e.into_error())?;
        }
        match self.error.take() {
            Some(e) => Err(WavError::Io(e)),
            None => Ok(()),
        }
    }

    /// Resamples `samples` of channel `channel` at `rate` into `out`.
    fn convert(&mut self, channel: usize, rate: u32, samples: &[i16], out: &mut Vec<i16>) {
        if rate == self.sample_rate {
            out.extend_from_slice(samples);
            return;
        }
        while self.resamplers.len() <= channel {
            self.resamplers.push(Resampler::new(rate, self.sample_rate));
        }
        if self.resamplers[channel].from_rate() != rate {
            self.resamplers[channel] = Resampler::new(rate, self.sample_rate);
        }
        self.resamplers[channel].process(samples, out);
    }

    fn write(&mut self, interleaved: &[i16]) {
        let Some(writer) = self.writer.as_mut() else {
            return;
        };
        match writer.write_samples(interleaved) {
            Ok(true) => {}
            Ok(false) => self.truncated = true,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "recording stopped");
                self.error = Some(e);
                self.writer = None;
            }
        }
    }
}

impl MediaSink for WavRecorder {
    fn write_frame(&mut self, frame: &AudioFrame) {
        let ch = usize::from(self.channels);
        if frame.channels == 1 && ch > 1 {
            let legs: Vec<&AudioFrame> = std::iter::repeat_n(frame, ch).collect();
            self.write_legs(&legs);
        } else if frame.channels == self.channels && frame.sample_rate == self.sample_rate {
            self.write(&frame.samples);
        } else if frame.channels == self.channels {
            // Deinterleave, resample each channel, interleave again.
            for c in 0..ch {
                let channel: Vec<i16> = frame.samples.iter().skip(c).step_by(ch).copied().collect();
                let mut leg = std::mem::take(&mut self.legs[c]);
                leg.clear();
                self.convert(c, frame.sample_rate, &channel, &mut leg);
                self.legs[c] = leg;
            }
            let len = self.legs.iter().map(Vec::len).min().unwrap_or(0);
            let mut out = std::mem::take(&mut self.interleaved);
            out.clear();
            for n in 0..len {
                out.extend(self.legs.iter().map(|leg| leg[n]));
            }
            self.write(&out);
            self.interleaved = out;
        } else {
            self.rejected += 1;
        }
    }
}

impl Drop for WavRecorder {
    fn drop(&mut self) {
        if self.writer.is_some() {
            if let Err(e) = self.close() {
                tracing::warn!(path = %self.path.display(), error = %e, "recording not finished cleanly");
            }
        }
    }
}

/// A safe file name for a call's recording.
fn file_name_for(call_id: &str) -> String {
    let mut name: String = call_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    name.push_str(".wav");
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Wav;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("voip-media-rec-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn records_mono_frames_named_by_call_id() {
        let dir = temp_dir("mono");
        let mut rec =
            WavRecorder::for_call(&dir, "a84b4c76e66710@pc33.atlanta.com", 8000, 1).unwrap();
        assert_eq!(rec.path(), dir.join("a84b4c76e66710@pc33.atlanta.com.wav"));
        for k in 0..50 {
            rec.write_frame(&AudioFrame::mono(8000, vec![k as i16; 160]));
        }
        assert_eq!(rec.duration_ms(), 1000);
        let path = rec.finish().unwrap();
        let wav = Wav::read(&path).unwrap();
        assert_eq!((wav.sample_rate, wav.channels), (8000, 1));
        assert_eq!(wav.samples.len(), 8000);
        assert_eq!(wav.samples[160 * 7], 7);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[40..44], &16000u32.to_le_bytes());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn one_channel_per_leg() {
        let dir = temp_dir("legs");
        let mut rec = WavRecorder::for_call(&dir, "call-2", 16000, 2).unwrap();
        let caller = AudioFrame::mono(16000, vec![1000; 320]);
        // The callee's leg arrives at 8 kHz (G.711) and is resampled.
        let callee = AudioFrame::mono(8000, vec![-2000; 160]);
        for _ in 0..50 {
            rec.write_legs(&[&caller, &callee]);
        }
        let path = rec.finish().unwrap();
        let wav = Wav::read(&path).unwrap();
        assert_eq!(wav.channels, 2);
        let left: Vec<i16> = wav.samples.iter().step_by(2).copied().collect();
        let right: Vec<i16> = wav.samples.iter().skip(1).step_by(2).copied().collect();
        assert!(left.iter().all(|&s| s == 1000));
        // Past the filter's start-up the resampled leg is the same constant.
        assert!(
            right[2000..].iter().all(|&s| (s + 2000).abs() <= 2),
            "{:?}",
            &right[2000..2010]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn header_is_fixed_up_on_drop_and_bad_frames_are_counted() {
        let dir = temp_dir("drop");
        let path = {
            let mut rec = WavRecorder::create(dir.join("x.wav"), 8000, 2).unwrap();
            rec.write_frame(&AudioFrame::mono(8000, vec![5; 80]));
            rec.write_frame(&AudioFrame {
                sample_rate: 8000,
                channels: 2,
                samples: vec![1, 2, 3, 4],
            });
            rec.write_frame(&AudioFrame {
                sample_rate: 8000,
                channels: 3,
                samples: vec![0; 3],
            });
            assert_eq!(rec.rejected_frames(), 1);
            rec.path().to_path_buf()
        };
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[40..44], &(2u32 * 2 * 82).to_le_bytes());
        let wav = Wav::parse(&bytes).unwrap();
        assert_eq!(&wav.samples[..2], &[5, 5]);
        assert_eq!(&wav.samples[160..], &[1, 2, 3, 4]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hostile_call_ids_stay_in_the_directory() {
        assert_eq!(file_name_for("../../etc/passwd"), "_.._.._etc_passwd.wav");
        assert_eq!(file_name_for(""), "_.wav");
        assert_eq!(file_name_for("..."), "_....wav");
        assert_eq!(file_name_for("a b/c\\d"), "a_b_c_d.wav");
        assert!(WavRecorder::create("/nonexistent-dir/x.wav", 8000, 1).is_err());
        assert!(matches!(
            WavRecorder::create(std::env::temp_dir().join("y.wav"), 8000, 0),
            Err(WavError::Invalid(_))
        ));
    }
}
