//! The seed's TTS service (port 8000) in the reference server: POST /tts
//! renders text (Piper, else espeak-ng) into the cache and answers the WAV's
//! path and URL; GET on the URL returns the WAV; GET /voices lists voices;
//! bad requests get 400 with a JSON error.
//!
//! `cargo build --release -p voip-server && cargo test -p voip-tests --test tts_api -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use voip_tests::{Server, http_get, http_request, require_program};

#[test]
#[ignore = "needs the release voip-server binary and espeak-ng or Piper; run with --ignored"]
fn post_tts_renders_and_serves_the_wav() {
    if !require_program("espeak-ng") {
        return;
    }
    let server = Server::start();
    let tts = server.addr("tts-http");

    let (status, voices) = http_get(tts, "/voices");
    assert_eq!(status, 200, "{voices}");
    let voices: serde_json::Value = serde_json::from_str(&voices).unwrap();
    println!("voices: {voices}");
    assert!(
        voices["voices"].as_array().is_some_and(|v| !v.is_empty()),
        "{voices}"
    );

    let request = br#"{"text": "Welcome to our service.", "sample_rate": 8000}"#;
    let (status, body) = http_request(tts, "POST", "/tts", Some(("application/json", request)));
    let body = String::from_utf8_lossy(&body).into_owned();
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    println!("POST /tts: {answer}");
    assert_eq!(answer["sample_rate"], 8000);
    assert!(
        answer["duration_ms"].as_u64().is_some_and(|ms| ms > 500),
        "{answer}"
    );
    let path = answer["path"].as_str().unwrap();
    assert!(std::path::Path::new(path).is_file(), "{path}");
    let url = answer["url"].as_str().unwrap();
    let (status, wav) = http_request(tts, "GET", url, None);
    assert_eq!(status, 200);
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(wav, std::fs::read(path).unwrap());
    // a repeat is a cache hit
    let (_, again) = http_request(tts, "POST", "/tts", Some(("application/json", request)));
    let again: serde_json::Value = serde_json::from_slice(&again).unwrap();
    assert_eq!(again["cached"], true, "{again}");

    let (status, error) = http_request(
        tts,
        "POST",
        "/tts",
        Some(("application/json", br#"{"text": ""}"#)),
    );
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&error).contains("error"));
}
