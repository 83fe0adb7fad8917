//! Turning the recording tap's [`RecordingEvent`]s into WAV files: the
//! [`RecordingAssembler`] lines both legs up on the call's timeline (sans-IO,
//! deterministic), the [`RecordingWriter`] writes what it assembled with
//! [`WavRecorder`]. The tokio driver runs a `RecordingWriter` on a thread
//! of its own, so disk writes never hold up the relay's packets.
//!
//! ```text
//! RecordingFrame { side, offset, samples } ─► RecordingAssembler ─(final ≥ 2 s behind the newest)─► stereo L=A R=B | mono A+B ─► WavRecorder
//! Stopped { end } ─► the rest, padded with silence to `end` ─► header sizes patched, file closed
//! ```
//!
//! A part of the timeline no leg filled (loss, silence suppression, hold,
//! a leg not yet answered) is written as silence, so the two channels stay
//! aligned with each other and with the wall clock of the call.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use voip_core::AudioFrame;

use super::leg::Side;
use super::record::{RecordingEvent, RecordingFrame, RecordingStats};
use crate::MediaSink;
use crate::audio::{WavError, WavRecorder};

/// How long the assembler waits for a leg's frames before the timeline up
/// to there is final: the tap places frames within [`RESYNC`] of their
/// arrival and releases them within its reorder wait.
///
/// [`RESYNC`]: super::record::RESYNC
const SETTLE_SECONDS: u64 = 2;
/// Frames further ahead of what was written than this are dropped (the
/// tap never places them there; a bound on memory all the same).
const MAX_AHEAD_SECONDS: u64 = 30;

/// The channels of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RecordingLayout {
    /// Two channels: left the caller (leg A), right the callee (leg B).
    #[default]
    Stereo,
    /// One channel: both legs mixed.
    Mono,
}

impl RecordingLayout {
    /// Channels in the file.
    pub fn channels(self) -> u16 {
        match self {
            RecordingLayout::Stereo => 2,
            RecordingLayout::Mono => 1,
        }
    }
}

/// How a call is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordingOptions {
    pub(crate) rate: u32,
    pub(crate) layout: RecordingLayout,
}

impl Default for RecordingOptions {
    /// 16 kHz stereo: wideband legs (G.722, Opus) keep their 7 kHz of
    /// speech, and narrowband legs are not worse for it.
    fn default() -> Self {
        Self {
            rate: 16000,
            layout: RecordingLayout::Stereo,
        }
    }
}

impl RecordingOptions {
    /// Samples per second of the file (8000 to 48000; default 16000).
    pub fn rate(mut self, rate: u32) -> Self {
        self.rate = rate;
        self
    }

    /// Stereo (default) or mono.
    pub fn layout(mut self, layout: RecordingLayout) -> Self {
        self.layout = layout;
        self
    }

    /// The rate.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// The layout.
    pub fn channel_layout(&self) -> RecordingLayout {
        self.layout
    }
}

/// Lines the two legs' frames up into the samples of the file.
///
/// Frames are placed at their offsets (overwriting nothing twice: the tap
/// never overlaps a leg with itself); the part of the timeline more than
/// 2 s behind the newest frame of either leg is final and comes out of
/// [`RecordingAssembler::drain`], gaps as silence.
#[derive(Debug)]
pub struct RecordingAssembler {
    layout: RecordingLayout,
    rate: u32,
    /// Samples per channel handed out so far.
    written: u64,
    /// Each leg's samples from `written` on.
    sides: [VecDeque<i16>; 2],
    /// The furthest sample position either leg reached.
    newest: u64,
    /// Samples that came for a part already written (dropped).
    late: u64,
}

impl RecordingAssembler {
    /// An empty timeline.
    pub fn new(layout: RecordingLayout, rate: u32) -> Self {
        Self {
            layout,
            rate: rate.max(1),
            written: 0,
            sides: [VecDeque::new(), VecDeque::new()],
            newest: 0,
            late: 0,
        }
    }

    /// Channels of what [`drain`](Self::drain) hands out.
    pub fn channels(&self) -> u16 {
        self.layout.channels()
    }

    /// Samples per channel handed out so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Samples that arrived for a part already handed out (dropped).
    pub fn late_samples(&self) -> u64 {
        self.late
    }

    /// Places one frame.
    pub fn push(&mut self, frame: &RecordingFrame) {
        let len = frame.samples.len() as u64;
        let skip = self.written.saturating_sub(frame.offset).min(len);
        self.late += skip;
        if skip == len {
            return;
        }
        let from = frame.offset + skip;
        if from - self.written > MAX_AHEAD_SECONDS * u64::from(self.rate) {
            self.late += len - skip;
            return;
        }
        let start = (from - self.written) as usize;
        let samples = &frame.samples[skip as usize..];
        let side = &mut self.sides[match frame.side {
            Side::A => 0,
            Side::B => 1,
        }];
        if side.len() < start + samples.len() {
            side.resize(start + samples.len(), 0);
        }
        for (slot, s) in side.range_mut(start..).zip(samples) {
            *slot = *s;
        }
        self.newest = self.newest.max(from + samples.len() as u64);
    }

    /// Appends to `out` the samples that are final (interleaved left/right
    /// for stereo).
    pub fn drain(&mut self, out: &mut Vec<i16>) {
        let horizon = self
            .newest
            .saturating_sub(SETTLE_SECONDS * u64::from(self.rate));
        self.take_until(horizon, out);
    }

    /// Appends everything up to `end` (or the newest frame, if later),
    /// padding with silence.
    pub fn finish(&mut self, end: u64, out: &mut Vec<i16>) {
        self.take_until(end.max(self.newest), out);
    }

    fn take_until(&mut self, horizon: u64, out: &mut Vec<i16>) {
        if horizon <= self.written {
            return;
        }
        let n = (horizon - self.written) as usize;
        for side in &mut self.sides {
            if side.len() < n {
                side.resize(n, 0);
            }
        }
        let [a, b] = &mut self.sides;
        match self.layout {
            RecordingLayout::Stereo => {
                out.reserve(2 * n);
                for (l, r) in a.drain(..n).zip(b.drain(..n)) {
                    out.push(l);
                    out.push(r);
                }
            }
            RecordingLayout::Mono => {
                out.reserve(n);
                out.extend(
                    a.drain(..n)
                        .zip(b.drain(..n))
                        .map(|(l, r)| l.saturating_add(r)),
                );
            }
        }
        self.written = horizon;
    }
}

/// A recording that ended.
#[derive(Debug)]
pub struct FinishedRecording {
    /// The call.
    pub call: Arc<str>,
    /// The file.
    pub path: PathBuf,
    /// Its length in samples per channel.
    pub samples: u64,
    /// What the tap did with each leg's packets, `[A, B]`.
    pub stats: [RecordingStats; 2],
    /// Whether writing failed (the file holds what was written before).
    pub error: Option<WavError>,
}

#[derive(Debug)]
struct OpenRecording {
    assembler: RecordingAssembler,
    recorder: WavRecorder,
    rate: u32,
    scratch: Vec<i16>,
}

impl OpenRecording {
    fn write(&mut self) {
        if self.scratch.is_empty() {
            return;
        }
        let samples = std::mem::take(&mut self.scratch);
        let mut frame = AudioFrame {
            sample_rate: self.rate,
            channels: self.assembler.channels(),
            samples,
        };
        self.recorder.write_frame(&frame);
        frame.samples.clear();
        self.scratch = frame.samples;
    }
}

/// Writes the recordings of many calls: a file per call, opened with
/// [`RecordingWriter::open`], fed with the relay's [`RecordingEvent`]s.
///
/// The WAV header's sizes are written when a recording finishes; a file
/// cut short by a crash keeps its samples behind a header whose sizes are
/// zero, which [`Wav::parse`](crate::audio::Wav::parse) (and sox, ffmpeg)
/// read anyway.
#[derive(Debug, Default)]
pub struct RecordingWriter {
    calls: HashMap<Arc<str>, OpenRecording>,
}

impl RecordingWriter {
    /// No recordings yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates (or truncates) `path` for the recording of `call`.
    pub fn open(
        &mut self,
        call: Arc<str>,
        path: impl AsRef<Path>,
        options: RecordingOptions,
    ) -> Result<(), WavError> {
        let recorder = WavRecorder::create(path, options.rate, options.layout.channels())?;
        self.calls.insert(
            call,
            OpenRecording {
                assembler: RecordingAssembler::new(options.layout, options.rate),
                recorder,
                rate: options.rate,
                scratch: Vec::new(),
            },
        );
        Ok(())
    }

    /// Recordings open.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no recording is open.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Takes one event; returns the recording it finished. Events of calls
    /// not opened here are ignored.
    pub fn handle(&mut self, event: RecordingEvent) -> Option<FinishedRecording> {
        match event {
            RecordingEvent::Frame(frame) => {
                let open = self.calls.get_mut(&frame.call)?;
                open.assembler.push(&frame);
                let mut out = std::mem::take(&mut open.scratch);
                open.assembler.drain(&mut out);
                open.scratch = out;
                open.write();
                None
            }
            RecordingEvent::Stopped { call, end, stats } => {
                let mut open = self.calls.remove(&call)?;
                let mut out = std::mem::take(&mut open.scratch);
                open.assembler.finish(end, &mut out);
                open.scratch = out;
                open.write();
                let samples = open.assembler.written();
                let path = open.recorder.path().to_path_buf();
                let error = open.recorder.finish().err();
                Some(FinishedRecording {
                    call,
                    path,
                    samples,
                    stats,
                    error,
                })
            }
            RecordingEvent::Started { .. } => None,
        }
    }

    /// Finishes every open recording where its frames reached (the relay
    /// stopped without ending its calls).
    pub fn finish_all(&mut self) -> Vec<FinishedRecording> {
        let calls: Vec<Arc<str>> = self.calls.keys().cloned().collect();
        calls
            .into_iter()
            .filter_map(|call| {
                self.handle(RecordingEvent::Stopped {
                    call,
                    end: 0,
                    stats: Default::default(),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Wav;

    fn frame(side: Side, offset: u64, samples: Vec<i16>) -> RecordingFrame {
        RecordingFrame {
            call: Arc::from("c"),
            side,
            offset,
            samples,
        }
    }

    #[test]
    fn legs_are_interleaved_at_their_offsets_with_silence_in_gaps() {
        let mut a = RecordingAssembler::new(RecordingLayout::Stereo, 8000);
        a.push(&frame(Side::A, 0, vec![1; 4]));
        a.push(&frame(Side::B, 2, vec![2; 4]));
        let mut out = Vec::new();
        a.drain(&mut out);
        assert!(out.is_empty(), "nothing is final 2 s before the newest");
        a.finish(8, &mut out);
        assert_eq!(
            out,
            [1, 0, 1, 0, 1, 2, 1, 2, 0, 2, 0, 2, 0, 0, 0, 0],
            "L=A, R=B"
        );
        assert_eq!(a.written(), 8);
    }

    #[test]
    fn the_timeline_settles_two_seconds_behind_and_late_frames_are_dropped() {
        let mut a = RecordingAssembler::new(RecordingLayout::Mono, 8000);
        let mut out = Vec::new();
        a.push(&frame(Side::A, 0, vec![100; 8000]));
        // B lags A by 1.5 s: still in time.
        a.push(&frame(Side::B, 0, vec![32700; 160]));
        a.push(&frame(Side::A, 8000, vec![100; 16000]));
        a.drain(&mut out);
        assert_eq!(out.len(), 8000);
        assert_eq!(out[0], i16::MAX, "the mono mix saturates");
        assert_eq!(out[200], 100);
        // Too late now: the part before 8000 was written.
        a.push(&frame(Side::B, 7990, vec![5; 20]));
        assert_eq!(a.late_samples(), 10);
        // Absurdly far ahead: dropped.
        a.push(&frame(Side::B, 10_000_000, vec![5; 20]));
        assert_eq!(a.late_samples(), 30);
        a.finish(0, &mut out);
        assert_eq!(out.len(), 24000);
        assert_eq!(out[8000..8010], [105; 10]);
    }

    #[test]
    fn a_file_cut_short_is_still_readable_and_a_finished_one_has_its_sizes() {
        let dir = std::env::temp_dir().join(format!("voip-rec-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.wav");
        let mut w = RecordingWriter::new();
        let call: Arc<str> = Arc::from("c");
        w.open(call.clone(), &path, RecordingOptions::default().rate(8000))
            .unwrap();
        assert_eq!(w.len(), 1);
        for k in 0..250u64 {
            let f = frame(Side::A, 160 * k, vec![1000; 160]);
            assert!(w.handle(RecordingEvent::Frame(f)).is_none());
        }
        // Mid-call (as after a crash): the header's sizes are still zero,
        // the samples written so far read back.
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[40..44], &[0, 0, 0, 0]);
        let wav = Wav::parse(&bytes).unwrap();
        assert_eq!(wav.channels, 2);
        assert!(wav.samples.len() >= 2 * 8000, "{}", wav.samples.len());
        assert_eq!(&wav.samples[..2], &[1000, 0]);
        // Events of calls not opened here are ignored.
        assert!(
            w.handle(RecordingEvent::Frame(RecordingFrame {
                call: Arc::from("other"),
                side: Side::A,
                offset: 0,
                samples: vec![1],
            }))
            .is_none()
        );
        let done = w
            .handle(RecordingEvent::Stopped {
                call,
                end: 48000,
                stats: Default::default(),
            })
            .unwrap();
        assert!(done.error.is_none());
        assert_eq!(done.samples, 48000);
        assert!(w.is_empty());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[40..44], &(48000u32 * 4).to_le_bytes());
        let wav = Wav::parse(&bytes).unwrap();
        assert_eq!(wav.samples.len(), 96000);
        assert!(
            w.open(
                Arc::from("x"),
                dir.join("no/such/dir.wav"),
                RecordingOptions::default()
            )
            .is_err()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
