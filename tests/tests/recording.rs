//! Call recording in the server (`[recording] enabled = true`): two
//! baresip 1.0 phones call each other through the media relay, UDP on
//! 127.0.0.1, each sending its own tone (1001: 440 Hz, 1002: 660 Hz).
//!
//! - `relayed_call_is_recorded_stereo_caller_left_callee_right`: after the
//!   hangup the call's CDR (`GET /api/calls`) has a `recording_url`;
//!   `GET` on it returns a finished WAV (16 kHz, two channels, the data
//!   size in its header) whose left channel carries the caller's tone and
//!   not the callee's, the right channel the callee's and not the caller's,
//!   both starting within half a second of each other (both phones start
//!   their tones when the call is answered). Names that are not
//!   recordings get a 404.
//!
//! Everything waits on conditions with deadlines; no timing is asserted.
//!
//! `VOIP_SERVER_BIN=target/release/voip-server cargo test -p voip-tests --test recording -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use voip_tests::baresip::{Phone, PhoneConfig, frame_rms, json_str, tone, tone_ratio, write_wav};
use voip_tests::{Server, TEST_USERS, TempDir, http_get, http_request, require_program, wait_for};

/// The relay's ports: outside baresip's own 10000-49000.
const RELAY_PORTS: (u16, u16) = (51000, 51999);
const CALLER_HZ: f64 = 440.0;
const CALLEE_HZ: f64 = 660.0;

/// A WAV as the server writes it (44-byte header): (rate, channels,
/// interleaved samples); `None` until the header holds the data size (the
/// recording is finished).
fn finished_wav(bytes: &[u8]) -> Option<(u32, u16, Vec<i16>)> {
    if bytes.len() < 44 || &bytes[0..4] != b"RIFF" || &bytes[36..40] != b"data" {
        return None;
    }
    let channels = u16::from_le_bytes([bytes[22], bytes[23]]);
    let rate = u32::from_le_bytes(bytes[24..28].try_into().ok()?);
    let size = u32::from_le_bytes(bytes[40..44].try_into().ok()?) as usize;
    if size == 0 || size != bytes.len() - 44 {
        return None;
    }
    let samples = bytes[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    Some((rate, channels, samples))
}

/// The 20 ms frames of `channel` that are loud and mostly `freq` Hz.
fn tone_frames(channel: &[i16], rate: u32, freq: f64) -> Vec<usize> {
    let frame = (rate / 50) as usize;
    frame_rms(channel, frame)
        .iter()
        .zip(channel.chunks_exact(frame))
        .enumerate()
        .filter(|(_, (rms, block))| **rms > 500.0 && tone_ratio(block, rate, freq) > 0.5)
        .map(|(i, _)| i)
        .collect()
}

#[test]
#[ignore = "needs the server binary and baresip"]
fn relayed_call_is_recorded_stereo_caller_left_callee_right() {
    if !require_program("baresip") {
        return;
    }
    let config = format!(
        "{TEST_USERS}\n[media]\nrtp_ports = \"{}-{}\"\n[recording]\nenabled = true\nformat = \"stereo\"\n",
        RELAY_PORTS.0, RELAY_PORTS.1
    );
    let server = Server::start_with_config(&config);
    let sip = server.addr("sip-udp");
    let http = server.addr("http");
    let work = TempDir::new("voip-recording");
    let caller_wav = work.path().join("caller.wav");
    let callee_wav = work.path().join("callee.wav");
    write_wav(
        &caller_wav,
        8000,
        &tone(8000, CALLER_HZ, 8000.0, 120.0, 120.0),
    );
    write_wav(
        &callee_wav,
        8000,
        &tone(8000, CALLEE_HZ, 8000.0, 120.0, 120.0),
    );
    let mut b = Phone::start(
        work.path(),
        &PhoneConfig::new("1002", sip, &callee_wav).recording(),
    );
    let mut a = Phone::start(
        work.path(),
        &PhoneConfig::new("1001", sip, &caller_wav).recording(),
    );
    let mut b_ctrl = b.connect();
    let mut a_ctrl = a.connect();
    let dump = |why: &str| -> ! {
        panic!(
            "{why}\n=== 1001 ===\n{}\n=== 1002 ===\n{}\n=== voip-server ===\n{}\n{}",
            a.log(),
            b.log(),
            server.log(),
            server.stderr()
        )
    };
    for (name, ctrl) in [("1002", &mut b_ctrl), ("1001", &mut a_ctrl)] {
        if let Err(info) = ctrl.wait_registered(Duration::from_secs(15)) {
            dump(&format!("{name} did not register within 15 s: {info}"));
        }
    }
    a_ctrl.command("dial", &format!("sip:1002@{sip}"));
    for (name, ctrl) in [("1001", &mut a_ctrl), ("1002", &mut b_ctrl)] {
        if ctrl
            .wait_event("CALL_ESTABLISHED", Duration::from_secs(15))
            .is_none()
        {
            dump(&format!("{name}: no CALL_ESTABLISHED within 15 s"));
        }
    }
    // 2 s of each tone reached the other phone through the relay.
    for (phone, freq) in [(&a, CALLEE_HZ), (&b, CALLER_HZ)] {
        let heard = wait_for(Duration::from_secs(30), || {
            let path = phone.received_recording()?;
            let (rate, samples) = voip_tests::baresip::read_wav(&path)?;
            (tone_frames(&samples, rate, freq).len() >= 100).then_some(())
        });
        if heard.is_none() {
            dump(&format!(
                "{} did not hear {freq} Hz within 30 s",
                phone.name
            ));
        }
    }
    a_ctrl.command("hangup", "");
    for (name, ctrl) in [("1001", &mut a_ctrl), ("1002", &mut b_ctrl)] {
        if ctrl
            .wait_event("CALL_CLOSED", Duration::from_secs(15))
            .is_none()
        {
            dump(&format!("{name}: no CALL_CLOSED after the hangup"));
        }
    }

    // The CDR names the recording.
    let url = wait_for(Duration::from_secs(10), || {
        let (_, body) = http_get(http, "/api/calls?limit=1");
        if !body.contains("\"status\":\"completed\"") {
            return None;
        }
        json_str(&body, "recording_url")
    });
    let url = url.unwrap_or_else(|| {
        dump(&format!(
            "no recording_url in the CDR: {}",
            http_get(http, "/api/calls?limit=1").1
        ))
    });
    eprintln!("recording_url: {url}");
    assert!(
        url.starts_with("/recordings/") && url.ends_with(".wav"),
        "{url}"
    );
    // GET it once the writer has finished the file.
    let wav = wait_for(Duration::from_secs(10), || {
        let (status, body) = http_request(http, "GET", &url, None);
        if status != 200 {
            return None;
        }
        finished_wav(&body)
    });
    let (rate, channels, samples) =
        wav.unwrap_or_else(|| dump(&format!("GET {url} gave no finished WAV")));
    assert_eq!((rate, channels), (16000, 2));
    let left: Vec<i16> = samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    let seconds = left.len() as f64 / f64::from(rate);
    let l_caller = tone_frames(&left, rate, CALLER_HZ);
    let l_callee = tone_frames(&left, rate, CALLEE_HZ);
    let r_callee = tone_frames(&right, rate, CALLEE_HZ);
    let r_caller = tone_frames(&right, rate, CALLER_HZ);
    eprintln!(
        "{seconds:.2} s; left: {} frames of {CALLER_HZ} Hz, {} of {CALLEE_HZ} Hz; right: {} of {CALLEE_HZ} Hz, {} of {CALLER_HZ} Hz",
        l_caller.len(),
        l_callee.len(),
        r_callee.len(),
        r_caller.len()
    );
    assert!(l_caller.len() >= 100, "the caller's tone is on the left");
    assert!(r_callee.len() >= 100, "the callee's tone is on the right");
    assert!(l_callee.len() <= 2, "no callee tone on the left");
    assert!(r_caller.len() <= 2, "no caller tone on the right");
    // Both phones start their tones at the answer: the channels start
    // together (time-aligned), and the tones last most of the file.
    let (l0, r0) = (l_caller[0], r_callee[0]);
    assert!(
        l0.abs_diff(r0) <= 25,
        "left starts at frame {l0}, right at {r0} (20 ms frames)"
    );
    let frames = left.len() / (rate as usize / 50);
    assert!(
        l_caller.len() * 10 >= frames * 6 && r_callee.len() * 10 >= frames * 6,
        "tones fill most of the {frames} frames"
    );

    // Only recording names are served.
    for bad in [
        "/recordings/..%2Fvoip.db",
        "/recordings/nope.wav",
        "/recordings/x.txt",
    ] {
        assert_eq!(http_get(http, bad).0, 404, "{bad}");
    }
}
