//! Calls between two baresip 1.0 phones whose audio goes through the
//! server's media relay (`[media]`, rtpengine's role), UDP on 127.0.0.1.
//!
//! - `relay_audio_both_ways_g711`: 1001 calls 1002 (G.711); each phone
//!   sends a tone (1001: 440 Hz, 1002: 660 Hz) and records what it
//!   receives (`sndfile`); each recording has the other side's tone. The
//!   SDP each phone received names the relay (ports 50000-50999, a range
//!   baresip's own 10000-49000 never uses), never the other phone's port;
//!   `/metrics` shows the relayed packets, and no relay call after the
//!   hangup.
//! - `relay_transcodes_opus_caller_to_pcmu_callee`: 1001 has only Opus,
//!   1002 only PCMU: the relay adds PCMU to the offer (the default
//!   `transcode = ["PCMU"]`), 1002 answers PCMU, 1001 keeps Opus, and the
//!   tones cross both ways through the transcoder.
//! - `relay_transcodes_pcmu_caller_to_opus_callee`: the other way round,
//!   with `transcode = ["opus"]`: the relay offers Opus to 1002.
//! - `relay_sdes_srtp_caller_plain_callee`: 1001 insists on SDES-SRTP
//!   (`mediaenc=srtp-mand`: RTP/SAVP + `a=crypto`), the server is set to
//!   `srtp = "plain"` toward callees: 1002 gets plain RTP/AVP, 1001 gets
//!   RTP/SAVP with the relay's key, and the tones cross both ways.
//!
//! Everything waits on conditions with deadlines; no timing is asserted.
//! Facts about baresip headless: /work/shared/notes/baresip.md.
//!
//! `VOIP_SERVER_BIN=target/release/voip-server cargo test -p voip-tests --test relay_baresip -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use voip_tests::baresip::{
    Phone, PhoneConfig, Report, frame_rms, json_str, read_wav, tone, tone_ratio, write_wav,
};
use voip_tests::{Server, TEST_USERS, TempDir, http_get, require_program, wait_for};

/// The relay's ports in these tests: outside baresip's 10000-49000.
const RELAY_PORTS: (u16, u16) = (50000, 50999);
/// The tone each phone sends.
const CALLER_HZ: f64 = 440.0;
const CALLEE_HZ: f64 = 660.0;
/// One call at a time: six phones and three servers at once overload a
/// small machine.
static SERIAL: Mutex<()> = Mutex::new(());

/// The `m=audio` lines in a phone's log (`-s` prints every SIP message),
/// with their ports.
fn audio_lines(log: &str) -> Vec<(u16, String)> {
    log.lines()
        .filter_map(|line| {
            let at = line.find("m=audio ")?;
            let line = line[at..].trim().to_owned();
            let port = line.split_whitespace().nth(1)?.parse().ok()?;
            Some((port, line))
        })
        .collect()
}

fn in_relay_range(port: u16) -> bool {
    (RELAY_PORTS.0..=RELAY_PORTS.1).contains(&port)
}

/// The value of a metric line `name{labels} value` (or `name value`).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

/// 20 ms frames of the recording at `path` that are loud and mostly
/// `freq` Hz.
fn frames_with_tone(path: &Path, freq: f64) -> usize {
    let Some((rate, samples)) = read_wav(path) else {
        return 0;
    };
    let frame = (rate / 50) as usize;
    frame_rms(&samples, frame)
        .iter()
        .zip(samples.chunks_exact(frame))
        .filter(|(rms, block)| **rms > 500.0 && tone_ratio(block, rate, freq) > 0.5)
        .count()
}

/// What each phone saw, for the case's own checks.
struct Seen {
    caller_log: String,
    callee_log: String,
    /// The server's `relay call ended` log line (codecs and counters per leg).
    summary: String,
    /// The call's row in GET /api/calls, with the relay's codec and MOS.
    cdr: String,
}

/// Registers 1001 and 1002 (configured by `caller`/`callee`) at a server
/// with `media` in its `[media]` table, has 1001 call 1002, checks the
/// audio, the SDP and the metrics common to every case, hangs up, and
/// returns the logs.
fn call_through_relay(
    media: &str,
    caller: impl FnOnce(PhoneConfig) -> PhoneConfig,
    callee: impl FnOnce(PhoneConfig) -> PhoneConfig,
) -> Option<Seen> {
    if !require_program("baresip") {
        return None;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let config = format!(
        "{TEST_USERS}\n[media]\nrtp_ports = \"{}-{}\"\n{media}",
        RELAY_PORTS.0, RELAY_PORTS.1
    );
    let server = Server::start_with_config(&config);
    let sip = server.addr("sip-udp");
    let http = server.addr("http");
    let work = TempDir::new("voip-relay-baresip");
    // tones for the whole call (baresip hangs up when its source runs out)
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
        &callee(PhoneConfig::new("1002", sip, &callee_wav).recording()),
    );
    let mut a = Phone::start(
        work.path(),
        &caller(PhoneConfig::new("1001", sip, &caller_wav).recording()),
    );
    let mut b_ctrl = b.connect();
    let mut a_ctrl = a.connect();
    let report = Report {
        phones: [&a, &b],
        server: &server,
    };
    for (name, ctrl) in [("1002", &mut b_ctrl), ("1001", &mut a_ctrl)] {
        if let Err(info) = ctrl.wait_registered(Duration::from_secs(15)) {
            panic!("{name} did not register within 15 s: {info}");
        }
    }

    a_ctrl.command("dial", &format!("sip:1002@{sip}"));
    for (name, ctrl) in [("1001", &mut a_ctrl), ("1002", &mut b_ctrl)] {
        let up = ctrl.wait_event("CALL_ESTABLISHED", Duration::from_secs(15));
        assert!(
            up.is_some(),
            "{name}: no CALL_ESTABLISHED within 15 s; events: {:?}",
            ctrl.events
        );
    }

    // Audio both ways: each phone records the other's tone (1 s of it).
    for (phone, freq) in [(&a, CALLEE_HZ), (&b, CALLER_HZ)] {
        let heard = wait_for(Duration::from_secs(30), || {
            let path = phone.received_recording()?;
            (frames_with_tone(&path, freq) >= 50).then_some(())
        });
        assert!(
            heard.is_some(),
            "{} did not receive 1 s of the {freq} Hz tone through the relay within 30 s (recording: {:?})",
            phone.name,
            phone.received_recording()
        );
    }

    // The relay counted the packets both ways.
    let counted = wait_for(Duration::from_secs(10), || {
        let (status, text) = http_get(http, "/metrics");
        let received = metric(&text, "voip_relay_packets_total{direction=\"in\"}")?;
        let sent = metric(&text, "voip_relay_packets_total{direction=\"out\"}")?;
        let calls = metric(&text, "voip_relay_calls_total")?;
        (status == 200 && received >= 100.0 && sent >= 100.0 && calls >= 1.0).then_some(text)
    });
    let metrics = counted.unwrap_or_else(|| {
        panic!(
            "/metrics: relay packet counters did not grow:\n{}",
            http_get(http, "/metrics").1
        )
    });
    assert_eq!(
        metric(&metrics, "voip_relay_active_calls"),
        Some(1.0),
        "one relay call during the call"
    );

    a_ctrl.command("hangup", "");
    for (name, ctrl) in [("1001", &mut a_ctrl), ("1002", &mut b_ctrl)] {
        let closed = ctrl.wait_event("CALL_CLOSED", Duration::from_secs(15));
        let reason = closed
            .as_deref()
            .and_then(|e| json_str(e, "param"))
            .unwrap_or_default();
        assert!(
            closed.is_some() && !reason.contains("end of file"),
            "{name}: no CALL_CLOSED after the hangup within 15 s ({reason}); events: {:?}",
            ctrl.events
        );
    }
    // the BYE released the relay call
    let released = wait_for(Duration::from_secs(10), || {
        let text = http_get(http, "/metrics").1;
        (metric(&text, "voip_relay_active_calls") == Some(0.0)).then_some(())
    });
    assert!(
        released.is_some(),
        "the relay call was not released after BYE"
    );

    // Each phone saw the relay in the SDP it received, never the other
    // phone's own port.
    let (caller_log, callee_log) = (a.log(), b.log());
    let own = |log: &str| -> Vec<u16> {
        audio_lines(log)
            .into_iter()
            .map(|(p, _)| p)
            .filter(|p| !in_relay_range(*p))
            .collect()
    };
    let (a_own, b_own) = (own(&caller_log), own(&callee_log));
    assert!(
        !a_own.is_empty() && !b_own.is_empty(),
        "each phone's own m=audio is in its log"
    );
    for (name, log, other) in [("1001", &caller_log, &b_own), ("1002", &callee_log, &a_own)] {
        let lines = audio_lines(log);
        assert!(
            lines.iter().any(|(p, _)| in_relay_range(*p)),
            "{name} never got an SDP naming the relay: {lines:?}"
        );
        assert!(
            !lines.iter().any(|(p, _)| other.contains(p)),
            "{name} saw the other phone's own RTP port {other:?}: {lines:?}"
        );
    }
    let summary = server
        .log()
        .lines()
        .find(|l| l.contains("relay call ended"))
        .map(str::to_owned);
    let summary = summary.expect("the server logs the relay call's summary");
    eprintln!("{summary}");
    // the CDR carries what the relay measured
    let cdr = wait_for(Duration::from_secs(10), || {
        let (_, body) = http_get(http, "/api/calls?limit=1");
        (body.contains("\"status\":\"completed\"")
            && body.contains("\"caller_mos\":")
            && !body.contains("\"codec\":null"))
        .then_some(body)
    });
    let cdr =
        cdr.unwrap_or_else(|| panic!("no codec in the CDR: {}", http_get(http, "/api/calls").1));
    eprintln!("{cdr}");
    drop(report);
    Some(Seen {
        caller_log,
        callee_log,
        summary,
        cdr,
    })
}

/// The `m=audio` lines a phone received from the relay.
fn relay_lines(log: &str) -> Vec<String> {
    audio_lines(log)
        .into_iter()
        .filter(|(p, _)| in_relay_range(*p))
        .map(|(_, l)| l)
        .collect()
}

#[test]
#[ignore = "needs the server binary and baresip"]
fn relay_audio_both_ways_g711() {
    let Some(seen) = call_through_relay("", |c| c, |c| c) else {
        return;
    };
    assert!(
        seen.summary
            .contains("caller_codec=\"PCMU\" callee_codec=\"PCMU\""),
        "{}",
        seen.summary
    );
    for line in relay_lines(&seen.caller_log)
        .iter()
        .chain(&relay_lines(&seen.callee_log))
    {
        assert!(line.contains("RTP/AVP 0"), "G.711 both sides: {line}");
    }
}

#[test]
#[ignore = "needs the server binary and baresip"]
fn relay_transcodes_opus_caller_to_pcmu_callee() {
    let Some(seen) = call_through_relay(
        "transcode = [\"PCMU\"]\n",
        |c| {
            c.module("opus.so")
                .account_params(";audio_codecs=opus/48000/2")
        },
        |c| c.account_params(";audio_codecs=PCMU/8000/1"),
    ) else {
        return;
    };
    assert!(
        seen.summary
            .contains("caller_codec=\"opus\" callee_codec=\"PCMU\""),
        "the relay transcoded: {}",
        seen.summary
    );
    assert!(seen.cdr.contains("\"codec\":\"opus|PCMU\""), "{}", seen.cdr);
    // 1002 was offered PCMU by the relay (1001 has no G.711 at all)
    let to_callee = relay_lines(&seen.callee_log);
    assert!(
        to_callee
            .iter()
            .any(|l| l.split_whitespace().skip(3).any(|f| f == "0")),
        "the relay added PCMU to 1002's offer: {to_callee:?}"
    );
    // 1001 got an answer without PCMU (it keeps Opus)
    let to_caller = relay_lines(&seen.caller_log);
    assert!(
        !to_caller.is_empty()
            && to_caller
                .iter()
                .all(|l| !l.split_whitespace().skip(3).any(|f| f == "0")),
        "1001's answer keeps Opus: {to_caller:?}"
    );
}

#[test]
#[ignore = "needs the server binary and baresip"]
fn relay_transcodes_pcmu_caller_to_opus_callee() {
    let Some(seen) = call_through_relay(
        "transcode = [\"opus\"]\n",
        |c| c.account_params(";audio_codecs=PCMU/8000/1"),
        |c| {
            c.module("opus.so")
                .account_params(";audio_codecs=opus/48000/2")
        },
    ) else {
        return;
    };
    assert!(
        seen.summary
            .contains("caller_codec=\"PCMU\" callee_codec=\"opus\""),
        "the relay transcoded: {}",
        seen.summary
    );
    assert!(
        seen.callee_log.contains("opus/48000/2"),
        "1002 was offered Opus by the relay"
    );
    let to_caller = relay_lines(&seen.caller_log);
    assert!(
        !to_caller.is_empty() && to_caller.iter().all(|l| l.contains("RTP/AVP 0")),
        "1001's answer keeps PCMU: {to_caller:?}"
    );
}

#[test]
#[ignore = "needs the server binary and baresip"]
fn relay_sdes_srtp_caller_plain_callee() {
    let Some(seen) = call_through_relay(
        "srtp = \"plain\"\n",
        |c| c.module("srtp.so").account_params(";mediaenc=srtp-mand"),
        |c| c,
    ) else {
        return;
    };
    assert!(
        seen.summary
            .contains("caller_codec=\"PCMU\" callee_codec=\"PCMU\""),
        "{}",
        seen.summary
    );
    let to_callee = relay_lines(&seen.callee_log);
    assert!(
        !to_callee.is_empty() && to_callee.iter().all(|l| l.contains("RTP/AVP ")),
        "1002 gets plain RTP: {to_callee:?}"
    );
    let to_caller = relay_lines(&seen.caller_log);
    assert!(
        !to_caller.is_empty() && to_caller.iter().all(|l| l.contains("RTP/SAVP ")),
        "1001 gets SRTP: {to_caller:?}"
    );
    assert!(
        seen.caller_log.contains("a=crypto:"),
        "1001's answer carries the relay's SDES key"
    );
}

#[test]
fn helpers_read_logs_and_metrics() {
    let log = "x\nm=audio 50002 RTP/AVP 0 101\n\u{1b}[0mm=audio 12000 RTP/SAVP 0\n";
    assert_eq!(
        audio_lines(log),
        [
            (50002, "m=audio 50002 RTP/AVP 0 101".to_owned()),
            (12000, "m=audio 12000 RTP/SAVP 0".to_owned())
        ]
    );
    assert_eq!(relay_lines(log), ["m=audio 50002 RTP/AVP 0 101"]);
    let text = "# TYPE x counter\nvoip_relay_packets_total{direction=\"in\"} 250\nvoip_relay_active_calls 1\n";
    assert_eq!(
        metric(text, "voip_relay_packets_total{direction=\"in\"}"),
        Some(250.0)
    );
    assert_eq!(metric(text, "voip_relay_active_calls"), Some(1.0));
    assert_eq!(metric(text, "voip_relay_calls_total"), None);
}
