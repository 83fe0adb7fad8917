//! Recording calls that go through the IVR (`[recording] enabled = true`):
//! calls to the IVR and its transfers to agents bypass the relay, so the
//! IVR's media task records them itself, with the relay's assembler and
//! writer: left the caller, right the agent once bridged (the prompts the
//! IVR speaks are not in the file). Frames are placed by arrival time,
//! joined back to back while they arrive on schedule, so loopback jitter
//! does not cut the audio.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use voip_media::codec::ulaw_decode;
use voip_media::relay::{
    RecordingEvent, RecordingFrame, RecordingOptions, RecordingStats, RecordingWriter, Side,
};

/// A frame arriving this close to where the side's last one ended is
/// joined to it.
const JOIN: Duration = Duration::from_millis(30);

/// One call's recording in the IVR.
pub struct IvrRecording {
    call: Arc<str>,
    writer: RecordingWriter,
    rate: u32,
    start: Instant,
    /// Where each side's next frame goes when it arrives on schedule.
    next: [Option<u64>; 2],
    path: PathBuf,
}

impl std::fmt::Debug for IvrRecording {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IvrRecording")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl IvrRecording {
    /// Creates the file at `path`; an error names it.
    pub fn open(call_id: &str, path: PathBuf, options: RecordingOptions) -> Result<Self, String> {
        let call: Arc<str> = Arc::from(call_id);
        let mut writer = RecordingWriter::new();
        writer
            .open(call.clone(), &path, options)
            .map_err(|e| format!("cannot record to {}: {e}", path.display()))?;
        Ok(Self {
            call,
            writer,
            rate: options.sample_rate(),
            start: Instant::now(),
            next: [None, None],
            path,
        })
    }

    /// A PCMU payload from the caller (`Side::A`) or the agent (`Side::B`)
    /// that arrived at `at`.
    pub fn pcmu(&mut self, side: Side, at: Instant, payload: &[u8]) {
        let narrow: Vec<i16> = payload.iter().map(|c| ulaw_decode(*c)).collect();
        // 8 kHz to the recording's rate (8 or 16 kHz): repeat samples
        let factor = (self.rate / 8000).max(1) as usize;
        let samples: Vec<i16> = narrow
            .iter()
            .flat_map(|s| std::iter::repeat_n(*s, factor))
            .collect();
        let arrived =
            (at.saturating_duration_since(self.start).as_secs_f64() * f64::from(self.rate)) as u64;
        let index = usize::from(side == Side::B);
        let join = (JOIN.as_secs_f64() * f64::from(self.rate)) as u64;
        let offset = match self.next[index] {
            Some(next) if arrived.abs_diff(next) <= join => next,
            _ => arrived,
        };
        self.next[index] = Some(offset + samples.len() as u64);
        self.writer.handle(RecordingEvent::Frame(RecordingFrame {
            call: self.call.clone(),
            side,
            offset,
            samples,
        }));
    }

    /// Writes what is left and the WAV header's sizes.
    pub fn finish(mut self) {
        let end = (self.start.elapsed().as_secs_f64() * f64::from(self.rate)) as u64;
        let end = self.next.iter().flatten().copied().fold(end, u64::max);
        let done = self.writer.handle(RecordingEvent::Stopped {
            call: self.call.clone(),
            end,
            stats: [RecordingStats::default(); 2],
        });
        match done.and_then(|d| d.error) {
            Some(error) => {
                tracing::warn!(path = %self.path.display(), %error, "ivr recording not finished")
            }
            None => tracing::info!(path = %self.path.display(), "ivr call recorded"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voip_media::relay::RecordingLayout;

    #[test]
    fn both_sides_land_in_their_channels() {
        let dir = std::env::temp_dir().join(format!("voip-ivr-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("call.wav");
        let options = RecordingOptions::default()
            .rate(8000)
            .layout(RecordingLayout::Stereo);
        let mut rec = IvrRecording::open("c1@x", path.clone(), options).unwrap();
        let start = rec.start;
        // 0x80 is a loud µ-law code, 0xff silence
        for i in 0..50u32 {
            let at = start + Duration::from_millis(u64::from(i) * 20);
            rec.pcmu(Side::A, at, &[0x80; 160]);
            rec.pcmu(Side::B, at, &[0xff; 160]);
        }
        rec.finish();
        let bytes = std::fs::read(&path).unwrap();
        let wav = voip_media::audio::Wav::parse(&bytes).unwrap();
        assert_eq!(wav.channels, 2);
        let frames = wav.samples.len() / 2;
        assert!((7900..=8100).contains(&frames), "{frames}");
        let left: i64 = wav
            .samples
            .iter()
            .step_by(2)
            .map(|s| i64::from(s.abs()))
            .sum();
        let right: i64 = wav
            .samples
            .iter()
            .skip(1)
            .step_by(2)
            .map(|s| i64::from(s.abs()))
            .sum();
        assert!(left > 1000 * frames as i64 && right == 0, "{left} {right}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
