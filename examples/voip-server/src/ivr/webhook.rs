//! The IVR's webhook client (the jambonz/TwiML style `webhook` action): the
//! machine's [`voip_ivr::Event::Webhook`] is POSTed as JSON on a blocking
//! thread and the answer body, or what went wrong, goes back to the machine.
//! The machine has its own deadline; the client's timeout is a backstop.

use std::time::Duration;

/// Largest answer body read (verbs are small).
const MAX_BODY: u64 = 256 * 1024;

/// A shared HTTP client for webhooks.
#[derive(Clone)]
pub struct WebhookClient {
    agent: ureq::Agent,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient").finish_non_exhaustive()
    }
}

impl WebhookClient {
    /// A client whose requests give up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self { agent }
    }

    /// POSTs `payload` to `url`; the body of a 2xx answer, else an error
    /// naming the URL and the status or failure. Blocks.
    pub fn post(&self, url: &str, payload: &serde_json::Value) -> Result<Vec<u8>, String> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!("webhook url {url:?} is not http(s)"));
        }
        let body = serde_json::to_vec(payload).map_err(|e| e.to_string())?;
        let mut response = self
            .agent
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(&body[..])
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| format!("POST {url}: {e}"))?;
        if !status.is_success() {
            return Err(format!("POST {url}: {status}"));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// Answers one request with `status` and `body`; returns what it read.
    fn serve_once(
        status: &'static str,
        body: &'static str,
    ) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ivr", listener.local_addr().unwrap());
        let handle = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // read headers and the Content-Length body
            loop {
                let n = stream.read(&mut buf).unwrap();
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
                if n == 0 {
                    break;
                }
            }
            let answer = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).unwrap();
            String::from_utf8_lossy(&request).into_owned()
        });
        (url, handle)
    }

    #[test]
    fn posts_json_and_returns_the_answer() {
        let (url, server) = serve_once("200 OK", r#"[{"verb":"hangup"}]"#);
        let client = WebhookClient::new(Duration::from_secs(5));
        let body = client
            .post(&url, &serde_json::json!({"digits": "3"}))
            .unwrap();
        assert_eq!(body, br#"[{"verb":"hangup"}]"#);
        let request = server.join().unwrap();
        assert!(request.starts_with("POST /ivr HTTP/1.1"), "{request}");
        assert!(
            request
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{request}"
        );
        assert!(request.ends_with(r#"{"digits":"3"}"#), "{request}");
    }

    #[test]
    fn errors_name_the_url_and_status() {
        let (url, server) = serve_once("500 Internal Server Error", "oops");
        let client = WebhookClient::new(Duration::from_secs(5));
        let error = client.post(&url, &serde_json::json!({})).unwrap_err();
        assert!(error.contains(&url) && error.contains("500"), "{error}");
        server.join().unwrap();
        let error = client
            .post("ftp://x/y", &serde_json::json!({}))
            .unwrap_err();
        assert!(error.contains("not http"), "{error}");
    }
}
