//! Issue 6 with a real phone: baresip 1001 calls the IVR (9999), records
//! what it hears, presses 1 (RFC 4733) and is transferred to the sales
//! agent 1002, a second baresip that answers automatically.
//!
//! - the server runs with `[ivr]` and a `[[groups]]` sales = [1002]; both
//!   phones register with digest auth (MD5, [`TEST_USERS`]);
//! - 1001 dials `sip:9999@SERVER`; its `sndfile` recording of what it
//!   received (`*-dec.wav`, 8 kHz PCMU decoded) is read while the call
//!   runs. The welcome prompt's own rendering is read from the server's TTS
//!   cache (`DATA_DIR/tts-cache`, 8 kHz): once the recording holds the
//!   prompt's length after its first loud frame, the test checks it carries
//!   speech over that length (at least 80 % of the prompt's loud 20 ms
//!   frames and of its first-to-last loud span);
//! - 1001 sends `sndcode 1` (baresip sends RFC 4733 events only); the
//!   server logs the key, rings 1002, and 1002 reports `CALL_ESTABLISHED`;
//! - media is bridged both ways: 1001 sends a 350 Hz tone, 1002 a 440 Hz
//!   one, and each phone's recording has at least 0.5 s of the other's
//!   tone (Goertzel);
//! - 1001 hangs up; both phones see the call closed, and `/api/calls`
//!   shows 1001 → 9999 and 9999 → 1002, both completed by a BYE.
//!
//! Synchronised with deadlines on events, files and the HTTP API (no
//! sleeps); nothing is timed. Locally a missing baresip skips the test,
//! under `CI=true` it fails.
//!
//! `VOIP_SERVER_BIN=target/release/voip-server cargo test -p voip-tests --test baresip_ivr -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use voip_tests::baresip::{
    Ctrl, Phone, PhoneConfig, Report, SpeechSpan, frame_rms, json_str, parse_wav_channels,
    read_wav, speech_span, tone, tone_ratio, write_wav,
};
use voip_tests::{
    Server, TEST_USERS, TempDir, http_get, require_program, wait_agent_online, wait_for,
};

const IVR_CONFIG: &str = r#"
[recording]
enabled = true
rate = 8000

[ivr]
extension = "9999"
rtp_ports = "34400-34600"
ring_timeout_seconds = 10

[[groups]]
name = "sales"
strategy = "round-robin"
members = ["1002"]
"#;

/// The seed's welcome prompt (the default menu's greeting).
const WELCOME: &str = "Welcome to our service.";

/// RMS above which a 20 ms frame counts as loud (about -40 dBFS).
const LOUD: f64 = 300.0;

/// Samples per 20 ms at 8 kHz.
const FRAME: usize = 160;

/// The caller's tone (Hz), the agent's tone (Hz).
const CALLER_TONE: f64 = 350.0;
const AGENT_TONE: f64 = 440.0;

/// The welcome prompt as the IVR plays it: the 8 kHz rendering in the
/// server's TTS cache (rendered ahead at start).
fn cached_welcome(server: &Server) -> Vec<i16> {
    let cache = server.dir().join("data/tts-cache");
    let found = wait_for(Duration::from_secs(60), || {
        let index = std::fs::read(cache.join("index.json")).ok()?;
        let entries: serde_json::Value = serde_json::from_slice(&index).ok()?;
        let entry = entries.as_array()?.iter().find(|e| {
            e["sample_rate"] == 8000 && e["text"].as_str().is_some_and(|t| t.starts_with(WELCOME))
        })?;
        let file = cache.join(entry["file"].as_str()?);
        let (rate, samples) = read_wav(&file)?;
        (rate == 8000).then_some((entry["engine"].clone(), samples))
    });
    let Some((engine, samples)) = found else {
        panic!(
            "no 8 kHz welcome prompt in {}: {}",
            cache.display(),
            std::fs::read_to_string(cache.join("index.json")).unwrap_or_default()
        );
    };
    eprintln!(
        "welcome prompt ({engine}): {:.2} s at 8 kHz",
        samples.len() as f64 / 8000.0
    );
    samples
}

/// The frames of `samples` whose energy is mostly at `freq` and loud.
fn tone_frames(samples: &[i16], freq: f64) -> usize {
    samples
        .chunks_exact(FRAME)
        .filter(|block| frame_rms(block, FRAME)[0] > LOUD && tone_ratio(block, 8000, freq) > 0.5)
        .count()
}

/// The samples of `phone`'s received recording so far (empty before it exists).
fn received(phone: &Phone) -> Vec<i16> {
    phone
        .received_recording()
        .and_then(|path| read_wav(&path))
        .map(|(rate, samples)| {
            assert_eq!(rate, 8000, "G.711 recordings are 8 kHz");
            samples
        })
        .unwrap_or_default()
}

fn register(name: &str, ctrl: &mut Ctrl) {
    match ctrl.wait_registered(Duration::from_secs(15)) {
        Ok(info) => eprintln!("{name} registered:{info}"),
        Err(info) => panic!("{name} did not register within 15 s: {info}"),
    }
}

#[test]
#[ignore = "needs the release voip-server binary, baresip and espeak-ng or Piper; run with --ignored"]
fn baresip_hears_prompt_presses_1_and_reaches_sales() {
    if !require_program("baresip") {
        return;
    }
    let server = Server::start_with_config(&format!("{TEST_USERS}{IVR_CONFIG}"));
    let sip = server.addr("sip-udp");
    let work = TempDir::new("voip-baresip-ivr");
    // sources outlast the call: baresip hangs up when its file ends
    let (caller_wav, agent_wav) = (
        work.path().join("caller.wav"),
        work.path().join("agent.wav"),
    );
    write_wav(
        &caller_wav,
        8000,
        &tone(8000, CALLER_TONE, 6000.0, 300.0, 300.0),
    );
    write_wav(
        &agent_wav,
        8000,
        &tone(8000, AGENT_TONE, 6000.0, 300.0, 300.0),
    );

    let mut agent = Phone::start(
        work.path(),
        &PhoneConfig::new("1002", sip, &agent_wav).recording(),
    );
    let mut caller = Phone::start(
        work.path(),
        &PhoneConfig::new("1001", sip, &caller_wav).recording(),
    );
    let mut agent_ctrl = agent.connect();
    let mut caller_ctrl = caller.connect();
    let report = Report {
        phones: [&caller, &agent],
        server: &server,
    };
    register("1002", &mut agent_ctrl);
    register("1001", &mut caller_ctrl);
    wait_agent_online(&server, "1002");
    let prompt = cached_welcome(&server);
    let prompt_speech = speech_span(&prompt, 8000, LOUD).expect("the welcome prompt is silent");

    // (a) 1001 calls 9999 and records the prompt
    caller_ctrl.command("dial", &format!("sip:9999@{sip}"));
    let up = caller_ctrl.wait_event("CALL_ESTABLISHED", Duration::from_secs(15));
    assert!(
        up.is_some(),
        "1001: no CALL_ESTABLISHED within 15 s; events: {:?}",
        caller_ctrl.events
    );
    // wait until the recording holds the prompt's whole length after its
    // first loud frame (the prompt starts when the IVR's media task does)
    let heard = wait_for(Duration::from_secs(40), || {
        let samples = received(&caller);
        let span = speech_span(&samples, 8000, LOUD)?;
        (samples.len() >= span.first * FRAME + prompt.len() + 4000).then_some((samples, span))
    });
    let Some((before_key, heard)) = heard else {
        let samples = received(&caller);
        panic!(
            "1001 did not receive the prompt's length of audio with speech in 40 s: \
             {} samples recorded, speech {:?}, prompt {} samples",
            samples.len(),
            speech_span(&samples, 8000, LOUD),
            prompt.len()
        );
    };
    let window = &before_key[heard.first * FRAME..heard.first * FRAME + prompt.len()];
    let heard_in_window: SpeechSpan = speech_span(window, 8000, LOUD).unwrap();
    println!(
        "prompt: {} loud frames over {} ({:.2} s); 1001 heard {} loud frames over {} ({:.2} s), \
         starting {:.2} s into the call",
        prompt_speech.loud,
        prompt_speech.frames(),
        prompt_speech.frames() as f64 / 50.0,
        heard_in_window.loud,
        heard_in_window.frames(),
        heard_in_window.frames() as f64 / 50.0,
        heard.first as f64 / 50.0,
    );
    assert!(
        prompt_speech.frames() >= 50,
        "the welcome prompt has less than a second of speech: {prompt_speech:?}"
    );
    assert!(
        heard_in_window.loud * 10 >= prompt_speech.loud * 8,
        "1001 heard speech in {} frames, the prompt has {}",
        heard_in_window.loud,
        prompt_speech.loud
    );
    assert!(
        heard_in_window.frames() * 10 >= prompt_speech.frames() * 8,
        "1001 heard speech over {} frames, the prompt spans {}",
        heard_in_window.frames(),
        prompt_speech.frames()
    );

    // (b) key 1 (RFC 4733) transfers 1001 to the sales agent 1002
    let key_at = before_key.len();
    caller_ctrl.command("sndcode", "1");
    let key = wait_for(Duration::from_secs(10), || {
        server
            .log()
            .lines()
            .find(|line| line.contains("ivr key") && line.contains("digit=1"))
            .map(str::to_owned)
    });
    assert!(key.is_some(), "the IVR did not log key 1 within 10 s");
    println!("server: {}", key.unwrap().trim());
    let agent_up = agent_ctrl.wait_event("CALL_ESTABLISHED", Duration::from_secs(30));
    let Some(agent_up) = agent_up else {
        panic!(
            "1002: no CALL_ESTABLISHED within 30 s of the key; events: {:?}",
            agent_ctrl.events
        );
    };
    assert_eq!(
        json_str(&agent_up, "direction").as_deref(),
        Some("incoming")
    );
    assert!(
        json_str(&agent_up, "peeruri").is_some_and(|uri| uri.starts_with("sip:9999@")),
        "1002 sees the IVR's transfer from 9999: {agent_up}"
    );
    println!("1002 answered: {agent_up}");

    // (c) media bridged both ways: each phone hears the other's tone
    let agent_heard = wait_for(Duration::from_secs(20), || {
        let n = tone_frames(&received(&agent), CALLER_TONE);
        (n >= 25).then_some(n)
    });
    assert!(
        agent_heard.is_some(),
        "1002 did not receive 0.5 s of 1001's {CALLER_TONE} Hz tone: {} frames",
        tone_frames(&received(&agent), CALLER_TONE)
    );
    let caller_heard = wait_for(Duration::from_secs(20), || {
        let samples = received(&caller);
        let n = tone_frames(samples.get(key_at..).unwrap_or_default(), AGENT_TONE);
        (n >= 25).then_some(n)
    });
    assert!(
        caller_heard.is_some(),
        "1001 did not receive 0.5 s of 1002's {AGENT_TONE} Hz tone after the key"
    );
    println!(
        "bridged: 1002 received {} frames of 1001's tone, 1001 {} frames of 1002's",
        agent_heard.unwrap(),
        caller_heard.unwrap()
    );

    // (d) 1001 hangs up; the IVR ends the agent's leg; two completed CDRs
    caller_ctrl.command("hangup", "");
    for (name, ctrl) in [("1001", &mut caller_ctrl), ("1002", &mut agent_ctrl)] {
        let closed = ctrl.wait_event("CALL_CLOSED", Duration::from_secs(15));
        assert!(
            closed.is_some(),
            "{name}: no CALL_CLOSED within 15 s; events: {:?}",
            ctrl.events
        );
    }
    let json = wait_for(Duration::from_secs(20), || {
        let (_, body) = http_get(server.addr("http"), "/api/calls?limit=10");
        (body.matches("\"status\":\"completed\"").count() >= 2).then_some(body)
    })
    .unwrap_or_else(|| {
        panic!(
            "no two completed calls: {}",
            http_get(server.addr("http"), "/api/calls").1
        )
    });
    assert!(
        json.contains("\"from_number\":\"1001\",\"to_number\":\"9999\""),
        "{json}"
    );
    assert!(
        json.contains("\"from_number\":\"9999\",\"to_number\":\"1002\""),
        "{json}"
    );
    assert_eq!(
        json.matches("\"hangup_cause\":\"BYE\"").count(),
        2,
        "{json}"
    );
    let log = caller.log();
    assert!(
        log.contains("send DTMF digit"),
        "1001's log shows no DTMF sent"
    );

    // [recording]: the IVR recorded the call it carried; left the caller's
    // tone, right the agent's once bridged
    let url = wait_for(Duration::from_secs(10), || {
        let (_, body) = http_get(server.addr("http"), "/api/calls?limit=10");
        body.split("},{")
            .find(|row| row.contains("\"from_number\":\"1001\",\"to_number\":\"9999\""))
            .and_then(|row| json_str(row, "recording_url"))
    })
    .unwrap_or_else(|| {
        panic!(
            "no recording_url: {}",
            http_get(server.addr("http"), "/api/calls").1
        )
    });
    let recorded = wait_for(Duration::from_secs(10), || {
        let (status, wav) = voip_tests::http_request(server.addr("http"), "GET", &url, None);
        (status == 200)
            .then(|| parse_wav_channels(&wav))
            .flatten()
            .filter(|(_, channels)| {
                channels.len() == 2 && tone_frames(&channels[1], AGENT_TONE) >= 25
            })
    });
    let (_, channels) =
        recorded.unwrap_or_else(|| panic!("{url}: no stereo recording with the agent's tone"));
    let (left_caller, right_agent) = (
        tone_frames(&channels[0], CALLER_TONE),
        tone_frames(&channels[1], AGENT_TONE),
    );
    println!(
        "recording {url}: caller tone {left_caller} frames (left), agent tone {right_agent} frames (right)"
    );
    assert!(
        left_caller >= 25,
        "the caller's tone is not on the left: {left_caller}"
    );
    assert_eq!(
        tone_frames(&channels[1], CALLER_TONE),
        0,
        "the caller's tone leaked right"
    );
    save_recording(&caller);
    drop(report);
}

/// Keeps the caller's recording when `VOIP_TEST_KEEP_RECORDING=DIR` is set
/// (to listen to it).
fn save_recording(phone: &Phone) {
    if let (Some(dir), Some(path)) = (
        std::env::var_os("VOIP_TEST_KEEP_RECORDING"),
        phone.received_recording(),
    ) {
        let target = Path::new(&dir).join("baresip-ivr-1001-dec.wav");
        std::fs::copy(&path, &target).unwrap();
        println!("recording kept at {}", target.display());
    }
}
