//! HTTP: `GET /healthz`, `GET /metrics` (Prometheus text), `GET /status`
//! (a small HTML status page), the browser softphone (`GET /` redirects to
//! `/softphone/`, see `crate::softphone`), and the admin API:
//! `GET /api/calls?limit=N` (the latest CDRs, JSON) and
//! `GET /api/active-calls`; `GET /recordings/{file}`: a call's recording
//! (WAV, the `recording_url` of its CDR; see `crate::media::recording`).

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::sip::Counters;
use crate::softphone::Softphone;
use crate::store::{CallLog, Store};

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Renders the Prometheus text.
    pub metrics: PrometheusHandle,
    /// SIP message counters.
    pub counters: Arc<Counters>,
    /// Every listener: (name, bound address).
    pub listeners: Arc<Vec<(&'static str, SocketAddr)>>,
    /// The data directory.
    pub data_dir: PathBuf,
    /// When the server started.
    pub started: Instant,
    /// The database.
    pub store: Store,
    /// The softphone's files and settings.
    pub softphone: Arc<Softphone>,
    /// Where call recordings are (`[recording] dir`).
    pub recordings: PathBuf,
}

/// The HTTP routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/softphone/") }))
        .route("/status", get(status))
        .route("/softphone", get(crate::softphone::redirect_to_page))
        .route("/softphone/", get(softphone_index))
        .route("/softphone/config.json", get(softphone_config))
        .route("/softphone/{*path}", get(softphone_file))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/calls", get(calls))
        .route("/api/active-calls", get(active_calls))
        .route("/api/agents", get(agents))
        .route("/recordings/{file}", get(recording))
        .with_state(state)
}

async fn softphone_index(State(state): State<AppState>) -> Response {
    state.softphone.serve("").await
}

async fn softphone_file(State(state): State<AppState>, UrlPath(path): UrlPath<String>) -> Response {
    state.softphone.serve(&path).await
}

async fn softphone_config(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.softphone.config_json())
}

/// One recording, whole (`audio/wav`); 404 for names that are not ours.
async fn recording(State(state): State<AppState>, UrlPath(file): UrlPath<String>) -> Response {
    if !crate::media::recording::is_recording_name(&file) {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let path = state.recordings.join(&file);
    let read = tokio::task::spawn_blocking(move || match std::fs::read(&path) {
        Ok(body) => Ok(Some(body)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    })
    .await;
    match read {
        Ok(Ok(Some(body))) => (
            [
                (header::CONTENT_TYPE, "audio/wav"),
                (header::CACHE_CONTROL, "no-cache"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            body,
        )
            .into_response(),
        Ok(Ok(None)) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, file, "cannot read a recording");
            (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n").into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "recording file task failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
        }
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

#[derive(Debug, serde::Deserialize)]
struct CallsQuery {
    limit: Option<i64>,
}

async fn calls(
    State(state): State<AppState>,
    Query(query): Query<CallsQuery>,
) -> Result<Json<Vec<CallLog>>, (StatusCode, String)> {
    let limit = query.limit.unwrap_or(50).clamp(1, 1000);
    state
        .store
        .recent_calls(limit)
        .await
        .map(Json)
        .map_err(|error| (StatusCode::SERVICE_UNAVAILABLE, error.to_string()))
}

async fn active_calls(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    state
        .store
        .active_calls()
        .await
        .map(|n| Json(serde_json::json!({ "active_calls": n })))
        .map_err(|error| (StatusCode::SERVICE_UNAVAILABLE, error.to_string()))
}

/// One `agents` row in `GET /api/agents`.
#[derive(Debug, serde::Serialize)]
struct AgentJson {
    extension: String,
    status: String,
    current_calls: i64,
    total_calls: i64,
}

async fn agents(
    State(state): State<AppState>,
) -> Result<Json<Vec<AgentJson>>, (StatusCode, String)> {
    let rows = state
        .store
        .agents()
        .await
        .map_err(|error| (StatusCode::SERVICE_UNAVAILABLE, error.to_string()))?;
    Ok(Json(
        rows.into_iter()
            .map(
                |(extension, status, current_calls, total_calls)| AgentJson {
                    extension,
                    status,
                    current_calls,
                    total_calls,
                },
            )
            .collect(),
    ))
}

async fn status(State(state): State<AppState>) -> Html<String> {
    Html(status_page(&state))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn status_page(state: &AppState) -> String {
    let (received, sent, send_errors, malformed) = state.counters.snapshot();
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>voip-server</title></head><body>\n\
         <h1>voip-server {}</h1>\n<p>up {} s; data dir <code>{}</code></p>\n<h2>Listeners</h2>\n<ul>\n",
        env!("CARGO_PKG_VERSION"),
        state.started.elapsed().as_secs(),
        escape(&state.data_dir.display().to_string()),
    );
    for (name, addr) in state.listeners.iter() {
        let _ = writeln!(page, "<li>{name} <code>{addr}</code></li>");
    }
    let _ = write!(
        page,
        "</ul>\n<h2>SIP counters</h2>\n<table>\n<tr><td>messages received</td><td>{received}</td></tr>\n\
         <tr><td>messages sent</td><td>{sent}</td></tr>\n<tr><td>send errors</td><td>{send_errors}</td></tr>\n\
         <tr><td>malformed received</td><td>{malformed}</td></tr>\n\
         </table>\n<p><a href=\"/softphone/\">softphone</a> · <a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a></p>\n</body></html>\n"
    );
    page
}
