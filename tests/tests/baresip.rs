//! Calls through voip-server between two baresip 1.0 phones (Debian package
//! `baresip`), headless, UDP on 127.0.0.1 only.
//!
//! - `baresip_call_register_dial_hangup`: 1001 and 1002 register with
//!   digest auth (baresip's `reginfo` shows `OK`, its log the server's
//!   `200 OK`); 1001 dials `sip:1002@127.0.0.1:PORT` through ctrl_tcp, the
//!   server challenges the INVITE (407), baresip answers it, the server
//!   forwards it to 1002's registered Contact, 1002 answers automatically,
//!   and both phones report `CALL_ESTABLISHED`; 1001 hangs up (BYE through
//!   the server) and both report `CALL_CLOSED`.
//!
//! The server runs with its default digest challenges (MD5 only): baresip
//! 1.0 (libre's digest code) fails to register ("Register: Function not
//! implemented") when a 401 offers SHA-256 at all, first or second.
//!
//! Media is not checked: the server does not relay RTP, the phones send it
//! to each other on loopback. The audio source is a WAV written here (1 s
//! of 440 Hz, then silence, 8 kHz mono 16-bit): baresip ends a call when
//! its source file runs out, so the file outlasts the call.
//!
//! Each phone (`voip_tests::baresip`) runs with `-f DIR` (its own `config`
//! and `accounts`), logs to files in that dir (printed when the test fails)
//! and is killed on drop. Control is ctrl_tcp: netstrings `LEN:JSON,`,
//! commands `{"command":..,"params":..,"token":..}`, responses and events
//! back.
//!
//! `cargo test -p voip-tests --test baresip -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use voip_tests::baresip::{Phone, PhoneConfig, Report, json_str, tone, write_wav};
use voip_tests::{Server, TEST_USERS, TempDir, require_program};

#[test]
#[ignore = "needs the server binary and baresip"]
fn baresip_call_register_dial_hangup() {
    if !require_program("baresip") {
        return;
    }
    // the server's defaults must suit baresip: no auth_algorithms key
    let config = TEST_USERS.replace("auth_algorithms = [\"MD5\"]\n", "");
    assert!(!config.contains("auth_algorithms"), "{config}");
    let server = Server::start_with_config(&config);
    let sip = server.addr("sip-udp");
    let work = TempDir::new("voip-baresip");
    let wav = work.path().join("tone.wav");
    write_wav(&wav, 8000, &tone(8000, 440.0, 8000.0, 1.0, 60.0));

    let mut callee = Phone::start(work.path(), &PhoneConfig::new("1002", sip, &wav));
    let mut caller = Phone::start(work.path(), &PhoneConfig::new("1001", sip, &wav));
    let mut callee_ctrl = callee.connect();
    let mut caller_ctrl = caller.connect();
    let report = Report {
        phones: [&caller, &callee],
        server: &server,
    };

    for (name, ctrl) in [("1002", &mut callee_ctrl), ("1001", &mut caller_ctrl)] {
        match ctrl.wait_registered(Duration::from_secs(15)) {
            Ok(info) => eprintln!("{name} registered:{info}"),
            Err(info) => panic!("{name} did not register within 15 s: {info}"),
        }
    }
    for phone in report.phones {
        let log = phone.log();
        assert!(
            log.contains("200 OK (voip-server"),
            "baresip {}: no 200 OK from the server in its log",
            phone.name
        );
    }

    caller_ctrl.command("dial", &format!("sip:1002@{sip}"));
    let established = Duration::from_secs(15);
    let caller_up = caller_ctrl.wait_event("CALL_ESTABLISHED", established);
    assert!(
        caller_up.is_some(),
        "1001: no CALL_ESTABLISHED within 15 s; events: {:?}",
        caller_ctrl.events
    );
    let callee_up = callee_ctrl.wait_event("CALL_ESTABLISHED", established);
    assert!(
        callee_up.is_some(),
        "1002: no CALL_ESTABLISHED within 15 s; events: {:?}",
        callee_ctrl.events
    );
    let incoming = callee_up.unwrap();
    assert_eq!(
        json_str(&incoming, "direction").as_deref(),
        Some("incoming")
    );
    assert!(
        json_str(&incoming, "peeruri").is_some_and(|uri| uri.starts_with("sip:1001@")),
        "1002 sees the call from 1001: {incoming}"
    );
    eprintln!("established:\n  {}\n  {incoming}", caller_up.unwrap());

    caller_ctrl.command("hangup", "");
    let closed = Duration::from_secs(15);
    let caller_closed = caller_ctrl.wait_event("CALL_CLOSED", closed);
    let callee_closed = callee_ctrl.wait_event("CALL_CLOSED", closed);
    assert!(
        callee_closed.is_some(),
        "1002: no CALL_CLOSED (BYE) within 15 s; events: {:?}",
        callee_ctrl.events
    );
    assert!(
        caller_closed.is_some(),
        "1001: no CALL_CLOSED within 15 s; events: {:?}",
        caller_ctrl.events
    );
    for event in [caller_closed.unwrap(), callee_closed.unwrap()] {
        eprintln!("closed: {event}");
        let reason = json_str(&event, "param").unwrap_or_default();
        assert!(
            !reason.contains("end of file") && !reason.contains("Not Found"),
            "the call ended for another reason than the hangup: {event}"
        );
    }
    // The INVITE was challenged and reached 1002 through the server
    // (Record-Route), and 1002 got the BYE.
    let (caller_log, callee_log) = (caller.log(), callee.log());
    assert!(
        caller_log.contains("SIP/2.0 407 Proxy Authentication Required"),
        "1001's INVITE was not challenged"
    );
    assert!(
        callee_log.contains("INVITE sip:") && callee_log.contains("Record-Route:"),
        "1002 got no record-routed INVITE"
    );
    assert!(callee_log.contains("BYE sip:"), "1002 received no BYE");
    drop(report);
}
