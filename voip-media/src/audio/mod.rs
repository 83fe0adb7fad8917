//! Audio plumbing: WAV playback ([`WavPlayer`], a [`crate::MediaSource`])
//! and recording ([`WavRecorder`], a [`crate::MediaSink`]), resampling
//! between 8, 16 and 48 kHz and any other integer rates ([`Resampler`]), and
//! the N-party conference [`Mixer`].

mod mixer;
mod player;
mod recorder;
mod resample;
mod wav;

pub use mixer::{Mixer, ParticipantId};
pub use player::WavPlayer;
pub use recorder::WavRecorder;
pub use resample::Resampler;
pub use wav::{Wav, WavError, WavFormat, WavWriter, header as wav_header};
