//! The seed's TTS HTTP API as an axum [`Router`] (feature `http`); the
//! reference server mounts it on port 8000.
//!
//! | method and path | request | answer |
//! |---|---|---|
//! | `POST /tts` | `{"text", "voice"?, "speed"?, "sample_rate"?}` | `{"path", "url", "key", "cached", "sample_rate", "duration_ms"}` |
//! | `GET /voices` | | `{"engine", "voices": [..]}` (the first is the default) |
//! | `GET /audio/{key}.wav` | | the WAV (`audio/wav`) |
//! | `GET /health` | | `ok` |
//!
//! `path` is the WAV file on this machine (the seed's shared-volume
//! contract), `url` the same file through `GET /audio/..`. Errors are
//! `{"error": ".."}` with 400 (empty text, bad speed, unknown voice), 404,
//! 503 (engine not installed) or 500. Rendering runs on tokio's blocking
//! pool.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::cache::is_key;
use super::{TtsCache, TtsError};

/// Largest text accepted in one request.
const MAX_TEXT: usize = 5_000;

/// The body of `POST /tts`.
#[derive(Debug, Deserialize)]
struct TtsRequest {
    text: String,
    #[serde(default)]
    voice: Option<String>,
    #[serde(default)]
    speed: Option<f32>,
    #[serde(default)]
    sample_rate: Option<u32>,
}

/// The TTS API over a cache (and through it, an engine).
pub fn router(cache: Arc<TtsCache>) -> Router {
    Router::new()
        .route("/tts", post(synthesize))
        .route("/voices", get(voices))
        .route("/audio/{file}", get(audio))
        .route("/health", get(|| async { "ok" }))
        .with_state(cache)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn status_of(e: &TtsError) -> StatusCode {
    match e {
        TtsError::EmptyText | TtsError::BadSpeed(_) | TtsError::UnknownVoice(_) => {
            StatusCode::BAD_REQUEST
        }
        TtsError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn synthesize(State(cache): State<Arc<TtsCache>>, Json(req): Json<TtsRequest>) -> Response {
    if req.text.len() > MAX_TEXT {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("text longer than {MAX_TEXT} bytes"),
        );
    }
    if req
        .sample_rate
        .is_some_and(|r| !(4_000..=96_000).contains(&r))
    {
        return error(StatusCode::BAD_REQUEST, "sample_rate must be 4000-96000");
    }
    let job = Arc::clone(&cache);
    let rendered = tokio::task::spawn_blocking(move || {
        job.render(
            &req.text,
            req.voice.as_deref().unwrap_or(""),
            req.speed.unwrap_or(1.0),
            req.sample_rate,
        )
    })
    .await;
    match rendered {
        Ok(Ok(r)) => Json(json!({
            "path": r.path.display().to_string(),
            "url": format!("/audio/{}.wav", r.key),
            "key": r.key,
            "cached": r.cached,
            "sample_rate": r.audio.sample_rate,
            "duration_ms": r.audio.duration().as_millis() as u64,
        }))
        .into_response(),
        Ok(Err(e)) => {
            tracing::warn!("POST /tts: {e}");
            error(status_of(&e), e.to_string())
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("render task: {e}"),
        ),
    }
}

async fn voices(State(cache): State<Arc<TtsCache>>) -> Response {
    let job = Arc::clone(&cache);
    // Listing may run a program (espeak-ng --voices) or ask a service.
    match tokio::task::spawn_blocking(move || job.engine().voices()).await {
        Ok(voices) => {
            Json(json!({ "engine": cache.engine().name(), "voices": voices })).into_response()
        }
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("voices task: {e}"),
        ),
    }
}

async fn audio(State(cache): State<Arc<TtsCache>>, Path(file): Path<String>) -> Response {
    let Some(key) = file.strip_suffix(".wav").filter(|k| is_key(k)) else {
        return error(StatusCode::NOT_FOUND, "no such audio");
    };
    let Some(path) = cache.path_of(key) else {
        return error(StatusCode::NOT_FOUND, "no such audio");
    };
    match tokio::task::spawn_blocking(move || std::fs::read(path)).await {
        Ok(Ok(bytes)) => ([(header::CONTENT_TYPE, "audio/wav")], bytes).into_response(),
        _ => error(StatusCode::NOT_FOUND, "no such audio"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::{HttpEngine, ToneEngine, TtsEngine, wav};

    struct Served {
        base: String,
        engine: Arc<ToneEngine>,
        dir: std::path::PathBuf,
    }

    async fn serve(name: &str) -> Served {
        let dir = std::env::temp_dir().join(format!("voip-ivr-http-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let engine = Arc::new(ToneEngine::new(8000));
        let cache = Arc::new(TtsCache::open(&dir, engine.clone()).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router(cache)).await;
        });
        Served {
            base: format!("http://{addr}"),
            engine,
            dir,
        }
    }

    /// A blocking request on the blocking pool: (status, body).
    async fn request(method: &'static str, url: String, body: Option<String>) -> (u16, Vec<u8>) {
        tokio::task::spawn_blocking(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .into();
            let mut response = match (method, body) {
                ("POST", Some(b)) => agent
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .send(b.as_bytes()),
                _ => agent.get(&url).call(),
            }
            .unwrap();
            let status = response.status().as_u16();
            (status, response.body_mut().read_to_vec().unwrap())
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn http_engine_against_the_api() {
        let served = serve("engine").await;
        let base = served.base.clone();
        let (audio, voices) = tokio::task::spawn_blocking(move || {
            let client = HttpEngine::new(base);
            (client.synthesize("Hello", "", 1.0), client.voices())
        })
        .await
        .unwrap();
        let direct = ToneEngine::new(8000).synthesize("Hello", "", 1.0).unwrap();
        assert_eq!(audio.unwrap(), direct);
        assert_eq!(voices, vec!["tone".to_string()]);
        assert_eq!(served.engine.calls(), 1);
        let _ = std::fs::remove_dir_all(&served.dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn endpoints_and_errors() {
        let served = serve("api").await;
        let b = &served.base;
        let body = r#"{"text":"Transferring to sales","sample_rate":16000}"#.to_string();
        let (status, answer) = request("POST", format!("{b}/tts"), Some(body.clone())).await;
        assert_eq!(status, 200);
        let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["cached"], false);
        assert_eq!(answer["sample_rate"], 16000);
        let path = answer["path"].as_str().unwrap();
        assert!(std::path::Path::new(path).is_file());
        let url = answer["url"].as_str().unwrap().to_string();
        assert!(url.starts_with("/audio/") && url.ends_with(".wav"));

        let (status, again) = request("POST", format!("{b}/tts"), Some(body)).await;
        assert_eq!(status, 200);
        let again: serde_json::Value = serde_json::from_slice(&again).unwrap();
        assert_eq!(again["cached"], true);
        assert_eq!(served.engine.calls(), 1);

        let (status, bytes) = request("GET", format!("{b}{url}"), None).await;
        assert_eq!(status, 200);
        assert_eq!(wav::decode(&bytes).unwrap().sample_rate, 16000);

        let (status, voices) = request("GET", format!("{b}/voices"), None).await;
        assert_eq!(status, 200);
        let voices: serde_json::Value = serde_json::from_slice(&voices).unwrap();
        assert_eq!(voices["engine"], "tone");

        for (body, want) in [
            (r#"{"text":"  "}"#, 400),
            (r#"{"text":"hi","speed":10}"#, 400),
            (r#"{"text":"hi","voice":"nobody"}"#, 400),
            (r#"{"text":"hi","sample_rate":5}"#, 400),
        ] {
            let (status, err) = request("POST", format!("{b}/tts"), Some(body.into())).await;
            assert_eq!(status, want, "{body}");
            let err: serde_json::Value = serde_json::from_slice(&err).unwrap();
            assert!(err["error"].is_string());
        }
        let (status, _) = request("POST", format!("{b}/tts"), Some("{bad".into())).await;
        assert!((400..500).contains(&status));
        let long = format!(r#"{{"text":"{}"}}"#, "a".repeat(MAX_TEXT + 1));
        assert_eq!(request("POST", format!("{b}/tts"), Some(long)).await.0, 413);

        for bad in [
            "/audio/..%2Findex.json",
            "/audio/index.json",
            &format!("/audio/{}.wav", "0".repeat(64)),
        ] {
            assert_eq!(
                request("GET", format!("{b}{bad}"), None).await.0,
                404,
                "{bad}"
            );
        }
        assert_eq!(
            request("GET", format!("{b}/health"), None).await,
            (200, b"ok".to_vec())
        );
        let _ = std::fs::remove_dir_all(&served.dir);
    }
}
