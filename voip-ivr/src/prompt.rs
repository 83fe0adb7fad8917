//! Prompts: what the machine asks the media layer to play.

use serde::{Deserialize, Serialize};

/// Something to play to the caller: text to speak or an audio file.
///
/// In JSON (menus, webhook answers) a prompt is either a plain string, read as
/// text to speak, or an object: `{"text": "...", "voice": "..."}` or
/// `{"file": "/path/or/url.wav"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged, from = "PromptRepr")]
#[non_exhaustive]
pub enum Prompt {
    /// Text rendered by a TTS engine (see [`crate::tts`]).
    Tts {
        /// The words to say. `${name}` is replaced by the session variable
        /// `name` when the machine emits the prompt.
        text: String,
        /// The voice; `None` is the engine's default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        voice: Option<String>,
    },
    /// An audio file (a path the media layer can open, or a URL).
    File {
        /// Path or URL of the file.
        file: String,
    },
}

/// The accepted JSON forms of a prompt.
#[derive(Deserialize)]
#[serde(untagged)]
enum PromptRepr {
    Text(String),
    Tts {
        text: String,
        #[serde(default)]
        voice: Option<String>,
    },
    File {
        #[serde(alias = "url")]
        file: String,
    },
}

impl From<PromptRepr> for Prompt {
    fn from(repr: PromptRepr) -> Self {
        match repr {
            PromptRepr::Text(text) => Prompt::Tts { text, voice: None },
            PromptRepr::Tts { text, voice } => Prompt::Tts { text, voice },
            PromptRepr::File { file } => Prompt::File { file },
        }
    }
}

impl Prompt {
    /// Text to speak with the default voice.
    pub fn tts(text: impl Into<String>) -> Self {
        Prompt::Tts {
            text: text.into(),
            voice: None,
        }
    }

    /// Text to speak with a given voice.
    pub fn tts_with_voice(text: impl Into<String>, voice: impl Into<String>) -> Self {
        Prompt::Tts {
            text: text.into(),
            voice: Some(voice.into()),
        }
    }

    /// An audio file.
    pub fn file(path: impl Into<String>) -> Self {
        Prompt::File { file: path.into() }
    }

    /// The text to speak, for TTS prompts.
    pub fn text(&self) -> Option<&str> {
        match self {
            Prompt::Tts { text, .. } => Some(text),
            Prompt::File { .. } => None,
        }
    }

    /// The prompt with every `${name}` in its text (or file path) replaced by
    /// `lookup(name)`; unknown names become empty.
    pub fn interpolate(&self, lookup: impl Fn(&str) -> Option<String>) -> Prompt {
        match self {
            Prompt::Tts { text, voice } => Prompt::Tts {
                text: interpolate(text, &lookup),
                voice: voice.clone(),
            },
            Prompt::File { file } => Prompt::File {
                file: interpolate(file, &lookup),
            },
        }
    }
}

impl From<&str> for Prompt {
    fn from(text: &str) -> Self {
        Prompt::tts(text)
    }
}

/// Replaces `${name}` by `lookup(name)` (empty when unknown). A `$` not
/// followed by `{`, or an unclosed `${`, is kept as written.
pub(crate) fn interpolate(text: &str, lookup: &impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                out.push_str(&lookup(&after[..end]).unwrap_or_default());
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_forms() {
        let p: Prompt = serde_json::from_str(r#""Hello""#).unwrap();
        assert_eq!(p, Prompt::tts("Hello"));
        let p: Prompt = serde_json::from_str(r#"{"text":"Hi","voice":"joe"}"#).unwrap();
        assert_eq!(p, Prompt::tts_with_voice("Hi", "joe"));
        let p: Prompt = serde_json::from_str(r#"{"file":"/a.wav"}"#).unwrap();
        assert_eq!(p, Prompt::file("/a.wav"));
        assert!(serde_json::from_str::<Prompt>(r#"{"nothing":1}"#).is_err());
        assert_eq!(
            serde_json::to_string(&Prompt::tts("x")).unwrap(),
            r#"{"text":"x"}"#
        );
    }

    #[test]
    fn interpolation() {
        let lookup = |name: &str| (name == "digits").then(|| "42".to_string());
        assert_eq!(interpolate("You said ${digits}.", &lookup), "You said 42.");
        assert_eq!(interpolate("${nope}x", &lookup), "x");
        assert_eq!(
            interpolate("cost $5 ${unclosed", &lookup),
            "cost $5 ${unclosed"
        );
        let p = Prompt::tts("n=${digits}").interpolate(lookup);
        assert_eq!(p.text(), Some("n=42"));
    }
}
