//! The seed's TTS service as an engine: `POST /tts {text, voice}` answers
//! `{path, url}`; the WAV is fetched from `url` (or read from `path` when the
//! service shares a volume and gives no URL).
//!
//! Uses `ureq` (blocking, no TLS compiled in): the engine already runs on a
//! blocking thread, and a plain HTTP/1.1 client with timeouts, redirects and
//! chunked bodies is more than a hand-rolled one would be worth keeping.

use std::time::Duration;

use serde::Deserialize;

use super::{Synthesized, TtsEngine, TtsError, check_input, wav};

/// Largest WAV accepted (about 12 minutes at 22,050 Hz).
const MAX_WAV: u64 = 32 * 1024 * 1024;

/// An engine backed by a TTS HTTP service.
#[derive(Debug, Clone)]
pub struct HttpEngine {
    base: String,
    /// `http <base>`: two services never share cache entries.
    name: String,
    agent: ureq::Agent,
}

#[derive(Deserialize)]
struct TtsAnswer {
    #[serde(default)]
    url: Option<String>,
    #[serde(default, alias = "file_path")]
    path: Option<String>,
}

#[derive(Deserialize)]
struct VoicesAnswer {
    voices: Vec<String>,
}

impl HttpEngine {
    /// A client of the service at `base` (e.g. `http://127.0.0.1:8000`),
    /// with a 30 s timeout per request.
    pub fn new(base: impl Into<String>) -> Self {
        Self::with_timeout(base, Duration::from_secs(30))
    }

    /// Same, with another timeout.
    pub fn with_timeout(base: impl Into<String>, timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let base = base.into().trim_end_matches('/').to_string();
        HttpEngine {
            name: format!("http {base}"),
            base,
            agent,
        }
    }

    fn absolute(&self, url: &str) -> Result<String, TtsError> {
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(url.to_string())
        } else if url.starts_with('/') {
            Ok(format!("{}{url}", self.base))
        } else {
            Err(TtsError::Http(format!("unusable audio url `{url}`")))
        }
    }

    fn read(
        &self,
        mut response: ureq::http::Response<ureq::Body>,
        what: &str,
    ) -> Result<Vec<u8>, TtsError> {
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_WAV)
            .read_to_vec()
            .map_err(|e| TtsError::Http(format!("{what}: {e}")))?;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body);
            let text: String = text.chars().take(200).collect();
            return Err(TtsError::Http(format!("{what}: {status}: {}", text.trim())));
        }
        Ok(body)
    }
}

impl TtsEngine for HttpEngine {
    fn name(&self) -> &str {
        &self.name
    }

    fn synthesize(&self, text: &str, voice: &str, speed: f32) -> Result<Synthesized, TtsError> {
        check_input(text, speed)?;
        let mut request = serde_json::json!({ "text": text, "speed": speed });
        if !voice.is_empty() {
            request["voice"] = voice.into();
        }
        let url = format!("{}/tts", self.base);
        let response = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .send(request.to_string().as_bytes())
            .map_err(|e| TtsError::Http(format!("POST {url}: {e}")))?;
        let body = self.read(response, &format!("POST {url}"))?;
        let answer: TtsAnswer = serde_json::from_slice(&body)
            .map_err(|e| TtsError::Http(format!("POST {url}: bad answer: {e}")))?;
        let bytes = match (answer.url, answer.path) {
            (Some(audio), _) => {
                let audio = self.absolute(&audio)?;
                let response = self
                    .agent
                    .get(&audio)
                    .call()
                    .map_err(|e| TtsError::Http(format!("GET {audio}: {e}")))?;
                self.read(response, &format!("GET {audio}"))?
            }
            (None, Some(path)) => {
                std::fs::read(&path).map_err(|e| TtsError::io(std::path::Path::new(&path), &e))?
            }
            (None, None) => {
                return Err(TtsError::Http(format!(
                    "POST {url}: answer has no url or path"
                )));
            }
        };
        wav::decode(&bytes)
    }

    fn voices(&self) -> Vec<String> {
        let url = format!("{}/voices", self.base);
        self.agent
            .get(&url)
            .call()
            .ok()
            .and_then(|r| self.read(r, "GET /voices").ok())
            .and_then(|b| serde_json::from_slice::<VoicesAnswer>(&b).ok())
            .map(|v| v.voices)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_service_is_a_clear_error() {
        // Port 9 on loopback (discard) is closed on test machines.
        let e = HttpEngine::with_timeout("http://127.0.0.1:9/", Duration::from_secs(2));
        let err = e.synthesize("hi", "", 1.0).unwrap_err().to_string();
        assert!(
            err.starts_with("tts service: POST http://127.0.0.1:9/tts"),
            "{err}"
        );
        assert!(e.voices().is_empty());
        assert!(matches!(
            e.synthesize(" ", "", 1.0),
            Err(TtsError::EmptyText)
        ));
    }

    #[test]
    fn audio_urls() {
        let e = HttpEngine::new("http://127.0.0.1:8000");
        assert_eq!(
            e.absolute("/audio/a.wav").unwrap(),
            "http://127.0.0.1:8000/audio/a.wav"
        );
        assert_eq!(e.absolute("http://h/x.wav").unwrap(), "http://h/x.wav");
        assert!(e.absolute("file:///etc/passwd").is_err());
        assert_eq!(e.name(), "http http://127.0.0.1:8000");
    }
}
