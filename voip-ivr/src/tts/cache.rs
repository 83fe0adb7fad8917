//! A directory of rendered prompts, keyed by what was rendered.
//!
//! The key is the SHA-256 (hex) of engine name, voice, speed, sample rate and
//! text. Each entry is `<key>.wav` in the directory; `index.json` lists the
//! entries with their text and render time (the seed's Redis
//! `tts_cache:{hash}` record: file path and generation time). The engine's
//! own rate is stored under the rate `native`; a request for another rate is
//! converted from the native entry through the [`Resampler`] and stored too.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Resampler, SincResampler, Synthesized, TtsEngine, TtsError, wav};
use crate::menu::MenuSet;
use crate::prompt::Prompt;

const INDEX: &str = "index.json";

/// One cached rendering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The key (hex SHA-256).
    pub key: String,
    /// The WAV file's name inside the cache directory.
    pub file: String,
    /// The engine's name.
    pub engine: String,
    /// The voice (`""`: the engine's default).
    pub voice: String,
    /// The speed.
    pub speed: f32,
    /// The stored rate in Hz.
    pub sample_rate: u32,
    /// The text.
    pub text: String,
    /// Seconds since the Unix epoch when it was rendered.
    pub generated_at: u64,
}

/// The result of [`TtsCache::render`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The cache key.
    pub key: String,
    /// The WAV file.
    pub path: PathBuf,
    /// The audio.
    pub audio: Synthesized,
    /// Whether it came from the cache (no engine call).
    pub cached: bool,
}

/// What [`TtsCache::prerender`] did.
#[derive(Debug, Default)]
pub struct PrerenderReport {
    /// Prompts rendered by the engine now.
    pub rendered: usize,
    /// Prompts already in the cache.
    pub cached: usize,
    /// Prompts that failed, with why.
    pub failed: Vec<(String, TtsError)>,
}

/// The TTS cache (see the module docs). Shared between threads.
pub struct TtsCache {
    dir: PathBuf,
    engine: Arc<dyn TtsEngine>,
    resampler: Arc<dyn Resampler>,
    index: Mutex<BTreeMap<String, CacheEntry>>,
    tmp_counter: AtomicU64,
}

impl std::fmt::Debug for TtsCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtsCache")
            .field("dir", &self.dir)
            .field("engine", &self.engine.name())
            .finish_non_exhaustive()
    }
}

impl TtsCache {
    /// Opens (creating) the cache directory for `engine`, reading its index;
    /// entries whose file is gone are dropped.
    pub fn open(dir: impl Into<PathBuf>, engine: Arc<dyn TtsEngine>) -> Result<Self, TtsError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| TtsError::io(&dir, &e))?;
        let index_path = dir.join(INDEX);
        let mut index = BTreeMap::new();
        match fs::read(&index_path) {
            Ok(bytes) => {
                // A damaged index is rebuilt as prompts are rendered again.
                let entries: Vec<CacheEntry> = serde_json::from_slice(&bytes).unwrap_or_default();
                for e in entries {
                    if dir.join(&e.file).is_file() {
                        index.insert(e.key.clone(), e);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(TtsError::io(&index_path, &e)),
        }
        Ok(TtsCache {
            dir,
            engine,
            resampler: Arc::new(SincResampler::default()),
            index: Mutex::new(index),
            tmp_counter: AtomicU64::new(0),
        })
    }

    /// Converts rates with `resampler` instead of the built-in one.
    pub fn with_resampler(mut self, resampler: Arc<dyn Resampler>) -> Self {
        self.resampler = resampler;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<dyn TtsEngine> {
        &self.engine
    }

    /// The cache key of a rendering; `sample_rate` `None` is the engine's
    /// native rate.
    pub fn key(&self, text: &str, voice: &str, speed: f32, sample_rate: Option<u32>) -> String {
        let rate = sample_rate.map_or_else(|| "native".to_string(), |r| r.to_string());
        let mut h = Sha256::new();
        for part in [self.engine.name(), voice, &speed.to_string(), &rate, text] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The speech for `text`, from the cache or rendered (then stored), at
    /// `sample_rate` (`None`: the engine's own). Blocks while rendering.
    pub fn render(
        &self,
        text: &str,
        voice: &str,
        speed: f32,
        sample_rate: Option<u32>,
    ) -> Result<Rendered, TtsError> {
        let key = self.key(text, voice, speed, sample_rate);
        if let Some(hit) = self.lookup(&key)? {
            return Ok(hit);
        }
        let native_key = self.key(text, voice, speed, None);
        let native = match self.lookup(&native_key)? {
            Some(hit) => hit.audio,
            None => {
                let audio = self.engine.synthesize(text, voice, speed)?;
                self.store(&native_key, text, voice, speed, &audio)?;
                audio
            }
        };
        let audio = match sample_rate {
            Some(rate) if rate != native.sample_rate => Synthesized {
                sample_rate: rate,
                samples: self
                    .resampler
                    .resample(&native.samples, native.sample_rate, rate),
            },
            _ => native,
        };
        let path = if key == native_key {
            self.dir.join(format!("{key}.wav"))
        } else {
            self.store(&key, text, voice, speed, &audio)?
        };
        Ok(Rendered {
            key,
            path,
            audio,
            cached: false,
        })
    }

    /// Renders a prompt; `None` for file prompts (nothing to render).
    pub fn render_prompt(
        &self,
        prompt: &Prompt,
        sample_rate: Option<u32>,
    ) -> Option<Result<Rendered, TtsError>> {
        match prompt {
            Prompt::Tts { text, voice } => {
                Some(self.render(text, voice.as_deref().unwrap_or(""), 1.0, sample_rate))
            }
            _ => None,
        }
    }

    /// Renders every TTS prompt of `menus` ahead of the first call.
    pub fn prerender(&self, menus: &MenuSet, sample_rate: Option<u32>) -> PrerenderReport {
        let mut report = PrerenderReport::default();
        let prompts: Vec<Prompt> = menus.iter().flat_map(|m| m.prompts()).collect();
        for prompt in prompts {
            match self.render_prompt(&prompt, sample_rate) {
                Some(Ok(r)) if r.cached => report.cached += 1,
                Some(Ok(_)) => report.rendered += 1,
                Some(Err(e)) => {
                    report
                        .failed
                        .push((prompt.text().unwrap_or_default().to_string(), e));
                }
                None => {}
            }
        }
        report
    }

    /// The entry of a key.
    pub fn entry(&self, key: &str) -> Option<CacheEntry> {
        self.index.lock().ok()?.get(key).cloned()
    }

    /// Every entry.
    pub fn entries(&self) -> Vec<CacheEntry> {
        self.index
            .lock()
            .map(|i| i.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The WAV file of a key, if cached.
    pub fn path_of(&self, key: &str) -> Option<PathBuf> {
        let path = self.dir.join(format!("{key}.wav"));
        (is_key(key) && path.is_file()).then_some(path)
    }

    fn lookup(&self, key: &str) -> Result<Option<Rendered>, TtsError> {
        let path = self.dir.join(format!("{key}.wav"));
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(TtsError::io(&path, &e)),
        };
        match wav::decode(&bytes) {
            Ok(audio) => Ok(Some(Rendered {
                key: key.to_string(),
                path,
                audio,
                cached: true,
            })),
            // A damaged file is rendered again (and overwritten).
            Err(_) => Ok(None),
        }
    }

    fn store(
        &self,
        key: &str,
        text: &str,
        voice: &str,
        speed: f32,
        audio: &Synthesized,
    ) -> Result<PathBuf, TtsError> {
        let file = format!("{key}.wav");
        let path = self.dir.join(&file);
        self.write_atomic(&path, &audio.to_wav())?;
        let entry = CacheEntry {
            key: key.to_string(),
            file,
            engine: self.engine.name().to_string(),
            voice: voice.to_string(),
            speed,
            sample_rate: audio.sample_rate,
            text: text.to_string(),
            generated_at: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let snapshot = {
            let mut index = self
                .index
                .lock()
                .map_err(|_| TtsError::Engine("cache index lock poisoned".into()))?;
            index.insert(key.to_string(), entry);
            serde_json::to_vec_pretty(&index.values().collect::<Vec<_>>()).unwrap_or_default()
        };
        self.write_atomic(&self.dir.join(INDEX), &snapshot)?;
        Ok(path)
    }

    /// Writes through a temporary file and a rename, so readers never see
    /// half a file.
    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), TtsError> {
        let n = self.tmp_counter.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_extension(format!("tmp.{}.{n}", std::process::id()));
        fs::write(&tmp, bytes).map_err(|e| TtsError::io(&tmp, &e))?;
        fs::rename(&tmp, path).map_err(|e| {
            let _ = fs::remove_file(&tmp);
            TtsError::io(path, &e)
        })
    }
}

/// Whether `s` is a cache key (64 lowercase hex digits).
pub(crate) fn is_key(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::menu::seed_menus;
    use crate::tts::ToneEngine;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("voip-ivr-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn second_call_is_a_hit_without_the_engine() {
        let dir = temp_dir("hit");
        let engine = Arc::new(ToneEngine::new(16000));
        let cache = TtsCache::open(&dir, engine.clone()).unwrap();
        let first = cache.render("Hello", "", 1.0, None).unwrap();
        assert!(!first.cached);
        assert_eq!(engine.calls(), 1);
        let second = cache.render("Hello", "", 1.0, None).unwrap();
        assert!(second.cached);
        assert_eq!(engine.calls(), 1, "no engine call on a hit");
        assert_eq!(first.audio, second.audio);
        assert_eq!(first.path, second.path);
        assert!(first.path.is_file());

        // Another rate: converted from the native entry, no engine call.
        let narrow = cache.render("Hello", "", 1.0, Some(8000)).unwrap();
        assert_eq!(engine.calls(), 1);
        assert_eq!(narrow.audio.sample_rate, 8000);
        assert_eq!(narrow.audio.samples.len(), first.audio.samples.len() / 2);
        assert_ne!(narrow.key, first.key);
        assert!(cache.render("Hello", "", 1.0, Some(8000)).unwrap().cached);

        // Different text, voice or speed: different keys.
        let k = |t, v, s| cache.key(t, v, s, None);
        assert_ne!(k("Hello", "", 1.0), k("Hello!", "", 1.0));
        assert_ne!(k("Hello", "", 1.0), k("Hello", "tone", 1.0));
        assert_ne!(k("Hello", "", 1.0), k("Hello", "", 1.5));
        assert!(is_key(&first.key));

        // The index survives a restart; a new cache serves from disk.
        let entries = cache.entries();
        assert_eq!(entries.len(), 2);
        let e = cache.entry(&first.key).unwrap();
        assert_eq!(
            (e.text.as_str(), e.sample_rate, e.engine.as_str()),
            ("Hello", 16000, "tone")
        );
        drop(cache);
        let engine2 = Arc::new(ToneEngine::new(16000));
        let reopened = TtsCache::open(&dir, engine2.clone()).unwrap();
        assert_eq!(reopened.entries().len(), 2);
        assert!(reopened.render("Hello", "", 1.0, None).unwrap().cached);
        assert_eq!(engine2.calls(), 0);
        assert_eq!(reopened.path_of(&first.key), Some(first.path.clone()));
        assert_eq!(reopened.path_of("../index"), None);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn damaged_files_are_rendered_again() {
        let dir = temp_dir("damaged");
        let engine = Arc::new(ToneEngine::new(8000));
        let cache = TtsCache::open(&dir, engine.clone()).unwrap();
        let r = cache.render("abc", "", 1.0, None).unwrap();
        fs::write(&r.path, b"junk").unwrap();
        fs::write(dir.join(INDEX), b"{broken").unwrap();
        let cache = TtsCache::open(&dir, engine.clone()).unwrap();
        assert!(!cache.render("abc", "", 1.0, None).unwrap().cached);
        assert_eq!(engine.calls(), 2);
        assert!(cache.render("", "", 1.0, None).is_err());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn prerender_the_seed_menu() {
        let dir = temp_dir("prerender");
        let engine = Arc::new(ToneEngine::new(8000));
        let cache = TtsCache::open(&dir, engine.clone()).unwrap();
        let menus = MenuSet::new(seed_menus()).unwrap();
        let report = cache.prerender(&menus, Some(8000));
        // Greeting, invalid, exit, two announcements.
        assert_eq!(
            (report.rendered, report.cached, report.failed.len()),
            (5, 0, 0)
        );
        let again = cache.prerender(&menus, Some(8000));
        assert_eq!((again.rendered, again.cached), (0, 5));
        assert_eq!(engine.calls(), 5);
        let hit = cache
            .render_prompt(&Prompt::tts("Transferring to sales"), Some(8000))
            .unwrap()
            .unwrap();
        assert!(hit.cached);
        assert!(cache.render_prompt(&Prompt::file("/x.wav"), None).is_none());
        let _ = fs::remove_dir_all(&dir);
    }
}
