//! The browser softphone: the files in the web root (`web/softphone/dist`,
//! built by `npm ci` in `web/softphone`) under `/softphone/`, and
//! `GET /softphone/config.json`, which tells the page where the SIP
//! WebSocket listeners are (`{"ws_port": 8080, "wss_port": null,
//! "domain": "localhost"}`; the page connects to its own host name on that
//! port).
//!
//! Only plain files directly named by a clean relative path are served: no
//! `..`, no hidden files, no directory listings. When the bundle is missing
//! the page says which command builds it, and so does one log line at start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// What the softphone routes need.
#[derive(Debug, Clone)]
pub struct Softphone {
    /// The directory served at `/softphone/`.
    pub root: PathBuf,
    /// The SIP over WebSocket listener, if on.
    pub ws: Option<SocketAddr>,
    /// The SIP over secure WebSocket listener, if on.
    pub wss: Option<SocketAddr>,
    /// The SIP domain the page registers in.
    pub domain: String,
}

/// The web root when neither `--web-root` nor `web_root` is given: the
/// repository's `web/softphone/dist`, where `npm ci` builds the page.
pub fn default_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .and_then(Path::parent)
        .unwrap_or(manifest)
        .join("web/softphone/dist")
}

impl Softphone {
    /// Whether the bundle is built (`index.html` exists).
    pub fn is_built(&self) -> bool {
        self.root.join("index.html").is_file()
    }

    /// The one line that tells how to build a missing bundle.
    pub fn missing_message(&self) -> String {
        format!(
            "the softphone page is not built: {} has no index.html (run `npm ci` in web/softphone, or give the built directory with --web-root DIR)",
            self.root.display()
        )
    }

    /// Logs where the page is served from, or how to build it.
    pub fn log_status(&self, http: SocketAddr) {
        if self.is_built() {
            tracing::info!(
                "softphone at http://{}/softphone/ from {}",
                display_host(http),
                self.root.display()
            );
        } else {
            tracing::warn!("{}", self.missing_message());
        }
    }

    /// The body of `GET /softphone/config.json`.
    pub fn config_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ws_port": self.ws.map(|a| a.port()),
            "wss_port": self.wss.map(|a| a.port()),
            "domain": self.domain,
        })
    }

    /// `GET /softphone/{path}`: a file of the web root, `index.html` for
    /// the empty path.
    pub async fn serve(&self, path: &str) -> Response {
        let path = if path.is_empty() { "index.html" } else { path };
        let Some(relative) = clean_path(path) else {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        };
        if !self.is_built() {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                format!("{}\n", self.missing_message()),
            )
                .into_response();
        }
        let file = self.root.join(relative);
        let read = tokio::task::spawn_blocking(move || {
            if file.is_file() {
                std::fs::read(&file).map(Some)
            } else {
                Ok(None)
            }
        })
        .await;
        match read {
            Ok(Ok(Some(body))) => (
                [
                    (header::CONTENT_TYPE, content_type(path)),
                    (header::CACHE_CONTROL, "no-cache"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                ],
                body,
            )
                .into_response(),
            Ok(Ok(None)) => (StatusCode::NOT_FOUND, "not found\n").into_response(),
            Ok(Err(error)) => {
                tracing::warn!(%error, path, "cannot read a softphone file");
                (StatusCode::INTERNAL_SERVER_ERROR, "cannot read the file\n").into_response()
            }
            Err(error) => {
                tracing::warn!(%error, "softphone file task failed");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
            }
        }
    }
}

/// `/softphone` without the slash: relative links need the slash.
pub async fn redirect_to_page() -> Redirect {
    Redirect::permanent("/softphone/")
}

/// `host:port` to show in a URL: `localhost` for a wildcard or loopback
/// listener.
fn display_host(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() || addr.ip().is_loopback() {
        format!("localhost:{}", addr.port())
    } else {
        addr.to_string()
    }
}

/// A request path made of plain names (letters, digits, `-`, `_`, `.`, no
/// leading dot), joined by single slashes; anything else is `None`.
fn clean_path(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for segment in path.split('/') {
        let plain = !segment.is_empty()
            && !segment.starts_with('.')
            && segment
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c));
        if !plain {
            return None;
        }
        out.push(segment);
    }
    Some(out)
}

/// The `Content-Type` for a file name.
fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match extension.to_ascii_lowercase().as_str() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "wav" => "audio/wav",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_served() {
        assert_eq!(clean_path("app.js"), Some(PathBuf::from("app.js")));
        assert_eq!(
            clean_path("sounds/ring.wav"),
            Some(PathBuf::from("sounds/ring.wav"))
        );
        for bad in [
            "../secret",
            "a/../../b",
            ".env",
            "a//b",
            "/etc/passwd",
            "a/",
            "a\\b",
            "%2e%2e",
            "",
        ] {
            assert_eq!(clean_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("app.js.map"), "application/json");
        assert_eq!(content_type("STYLE.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }

    #[tokio::test]
    async fn a_missing_bundle_says_how_to_build_it() {
        let softphone = Softphone {
            root: PathBuf::from("/nonexistent/softphone/dist"),
            ws: Some("127.0.0.1:8080".parse().unwrap()),
            wss: None,
            domain: "localhost".into(),
        };
        let response = softphone.serve("").await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("run `npm ci` in web/softphone"), "{body}");
        assert_eq!(
            softphone.config_json(),
            serde_json::json!({"ws_port": 8080, "wss_port": null, "domain": "localhost"})
        );
    }

    #[tokio::test]
    async fn files_of_the_root_are_served_with_their_type() {
        let root = std::env::temp_dir().join(format!("softphone-test-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("index.html"), "<!doctype html>").unwrap();
        std::fs::write(root.join("app.js"), "1;").unwrap();
        let softphone = Softphone {
            root: root.clone(),
            ws: None,
            wss: None,
            domain: "localhost".into(),
        };
        let index = softphone.serve("").await;
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let script = softphone.serve("app.js").await;
        assert_eq!(
            script.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            softphone.serve("missing.js").await.status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            softphone.serve("../Cargo.toml").await.status(),
            StatusCode::NOT_FOUND
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
