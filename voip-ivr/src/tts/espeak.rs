//! espeak-ng as a subprocess: formant speech, and IPA phonemes for Piper.
//!
//! espeak-ng is GPL: it runs as its own program, never linked in. Text goes
//! through stdin, so nothing the caller says can become an option.

use std::io::Write;
use std::process::{Command, Stdio};

use super::{Synthesized, TtsEngine, TtsError, check_input, safe_voice, wav};

/// How to install the program.
const INSTALL: &str = "install it with `apt-get install espeak-ng`";

/// espeak-ng's default rate in words per minute.
const DEFAULT_WPM: f32 = 175.0;

/// The espeak-ng engine (`espeak-ng --stdout`, 22,050 Hz).
#[derive(Debug, Clone)]
pub struct EspeakEngine {
    program: String,
    default_voice: String,
}

impl Default for EspeakEngine {
    fn default() -> Self {
        EspeakEngine {
            program: "espeak-ng".into(),
            default_voice: "en-us".into(),
        }
    }
}

impl EspeakEngine {
    /// Runs `program` (a path or a name on `PATH`) with `default_voice`.
    pub fn new(program: impl Into<String>, default_voice: impl Into<String>) -> Self {
        EspeakEngine {
            program: program.into(),
            default_voice: default_voice.into(),
        }
    }

    fn voice<'a>(&'a self, voice: &'a str) -> Result<&'a str, TtsError> {
        let voice = if voice.is_empty() {
            &self.default_voice
        } else {
            voice
        };
        if safe_voice(voice) {
            Ok(voice)
        } else {
            Err(TtsError::UnknownVoice(voice.to_string()))
        }
    }

    /// IPA phonemes of `text`, one string per clause, as `espeak-ng --ipa -q`
    /// prints them.
    pub fn phonemes(&self, text: &str, voice: &str) -> Result<Vec<String>, TtsError> {
        let voice = self.voice(voice)?;
        let out = run(&self.program, &["--ipa", "-q", "-v", voice], text)?;
        let text = String::from_utf8(out)
            .map_err(|_| TtsError::Engine("espeak-ng printed invalid UTF-8".into()))?;
        Ok(text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect())
    }
}

/// Runs `program args` with `input` on stdin and returns stdout.
pub(crate) fn run(program: &str, args: &[&str], input: &str) -> Result<Vec<u8>, TtsError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                TtsError::Unavailable(format!("`{program}` not found: {INSTALL}"))
            }
            _ => TtsError::Engine(format!("cannot start `{program}`: {e}")),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // One line: a newline inside would be read as a pause anyway.
        let line = input.replace(['\n', '\r'], " ");
        stdin
            .write_all(line.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .map_err(|e| TtsError::Engine(format!("writing to `{program}`: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| TtsError::Engine(format!("`{program}`: {e}")))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(TtsError::Engine(format!(
            "`{program}` exited with {}: {}",
            out.status,
            err.trim()
        )));
    }
    Ok(out.stdout)
}

impl TtsEngine for EspeakEngine {
    fn name(&self) -> &str {
        "espeak"
    }

    fn synthesize(&self, text: &str, voice: &str, speed: f32) -> Result<Synthesized, TtsError> {
        check_input(text, speed)?;
        let voice = self.voice(voice)?;
        let wpm = ((DEFAULT_WPM * speed).round() as u32)
            .clamp(80, 450)
            .to_string();
        let out = run(&self.program, &["--stdout", "-v", voice, "-s", &wpm], text)?;
        wav::decode(&out)
    }

    fn voices(&self) -> Vec<String> {
        // `espeak-ng --voices`: "Pty Language Age/Gender VoiceName File Other".
        let listed = Command::new(&self.program)
            .arg("--voices")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
                    .filter(|v| *v != self.default_voice)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        std::iter::once(self.default_voice.clone())
            .chain(listed)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have_espeak() -> bool {
        let found = Command::new("espeak-ng")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "espeak-ng is missing under CI=true: run scripts/setup.sh"
            );
            println!("skipped: espeak-ng is not installed (apt-get install espeak-ng)");
        }
        found
    }

    #[test]
    fn renders_speech() {
        if !have_espeak() {
            return;
        }
        let e = EspeakEngine::default();
        let s = e.synthesize("Welcome to our service", "", 1.0).unwrap();
        assert_eq!(s.sample_rate, 22050);
        let secs = s.duration().as_secs_f64();
        assert!((0.8..4.0).contains(&secs), "{secs} s");
        assert!(s.peak() > 3000, "peak {}", s.peak());
        let fast = e
            .synthesize("Welcome to our service", "en-us", 2.0)
            .unwrap();
        assert!(fast.samples.len() < s.samples.len());
        // Text that looks like an option is spoken, not obeyed.
        let dash = e.synthesize("--help", "", 1.0).unwrap();
        assert!(dash.peak() > 1000);
        assert!(e.voices().iter().any(|v| v == "en-us"));
    }

    #[test]
    fn phonemes_per_clause() {
        if !have_espeak() {
            return;
        }
        let p = EspeakEngine::default()
            .phonemes("Hello there, world! How are you?", "en-us")
            .unwrap();
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].contains('ˈ'), "stress marks: {p:?}");
    }

    #[test]
    fn clear_errors() {
        let missing = EspeakEngine::new("/nonexistent/espeak-ng", "en-us");
        let err = missing.synthesize("hi", "", 1.0).unwrap_err();
        assert!(matches!(err, TtsError::Unavailable(_)));
        assert!(
            err.to_string().contains("apt-get install espeak-ng"),
            "{err}"
        );
        let e = EspeakEngine::default();
        assert!(matches!(
            e.synthesize("hi", "-w/tmp/x", 1.0),
            Err(TtsError::UnknownVoice(_))
        ));
        assert!(matches!(
            e.synthesize("hi", "", 9.0),
            Err(TtsError::BadSpeed(_))
        ));
    }
}
