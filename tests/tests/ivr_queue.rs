//! The IVR's queue and its menus from the database, through the release
//! server with real sipp peers:
//!
//! - `a_caller_waits_with_hold_music_until_the_agent_is_free`: agent 1002
//!   (a sipp UAS) is talking to caller 1001 (transferred by key 1); caller
//!   1003 presses 1 too, is queued, hears the queue prompt and then hold
//!   music (loud RTP up to the moment the agent takes it), and reaches
//!   1002 once 1001 hangs up. Three calls complete, each with one CDR.
//! - `menus_edited_in_the_database_and_a_webhook_drive_the_call`: with the
//!   server running, the test rewrites `ivr_menus`/`ivr_menu_options` in
//!   the SQLite file (key 1 now asks a webhook), the server reloads them;
//!   the test's HTTP application answers the POST with `say` and
//!   `transfer` verbs, and the caller reaches 1002.
//!
//! `cargo build --release -p voip-server && cargo test -p voip-tests --test ivr_queue -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use voip_tests::rtp_probe::RtpProbe;
use voip_tests::sipp::{Sipp, register, scenario, start_callee, stat, tail};
use voip_tests::{Server, TEST_USERS, free_udp_port, http_get, require_program, strings, wait_for};

const IVR_CONFIG: &str = r#"
[ivr]
extension = "9999"
rtp_ports = "34300-34500"
ring_timeout_seconds = 10
menu_reload_seconds = 1

[[groups]]
name = "sales"
strategy = "round-robin"
members = ["1002"]
queue = true
queue_timeout_seconds = 120
"#;

/// Starts the server and agent 1002, and waits until the IVR sees 1002 online.
fn start() -> (Server, Sipp) {
    let mut server = Server::start_with_config(&format!("{TEST_USERS}{IVR_CONFIG}"));
    let agent = start_callee(&mut server, free_udp_port(), 0);
    let online = wait_for(Duration::from_secs(10), || {
        let (_, body) = http_get(server.addr("http"), "/api/agents");
        body.contains("\"extension\":\"1002\",\"status\":\"online\"")
            .then_some(())
    });
    assert!(online.is_some(), "agent 1002 not online");
    // the menus are seeded before the IVR starts
    wait_log(&server, "ivr enabled", 1, Duration::from_secs(15));
    (server, agent)
}

/// Caller `ext` (registered on `port`) dials 9999, presses 1 after 3 s and
/// stays `stay_ms` more before its BYE; the IVR's RTP goes to `rtp_port`.
fn spawn_caller(server: &mut Server, ext: &str, port: u16, rtp_port: u16, stay_ms: u64) -> Sipp {
    register(server, ext, port);
    Sipp::spawn(
        &format!("ivr-caller-{ext}"),
        server.addr("sip-udp"),
        &scenario("ivr_caller.xml"),
        &strings(&[
            "-key",
            "ext",
            ext,
            "-key",
            "pass",
            &format!("secret{ext}"),
            "-key",
            "rtp_port",
            &rtp_port.to_string(),
            "-d",
            &stay_ms.to_string(),
            "-auth_uri",
            "9999@localhost",
            "-p",
            &port.to_string(),
            "-m",
            "1",
            "-recv_timeout",
            "60s",
            "-timeout",
            "120s",
            "-timeout_error",
        ]),
    )
}

/// Waits until the server log has `needle` at least `count` times; returns when it saw it.
fn wait_log(server: &Server, needle: &str, count: usize, limit: Duration) -> Instant {
    wait_for(limit, || {
        (server.log().matches(needle).count() >= count).then(Instant::now)
    })
    .unwrap_or_else(|| {
        panic!(
            "no {count}x {needle:?} in the log:\n{}",
            tail(&server.log(), 40)
        )
    })
}

#[test]
#[ignore = "needs the release voip-server binary, sipp and espeak-ng or Piper; run with --ignored"]
fn a_caller_waits_with_hold_music_until_the_agent_is_free() {
    if !require_program("sipp") {
        return;
    }
    let (mut server, agent) = start();

    // 1001 reaches the agent and stays 20 s
    let first_rtp = RtpProbe::start();
    let first = spawn_caller(
        &mut server,
        "1001",
        free_udp_port(),
        first_rtp.port(),
        20_000,
    );
    wait_log(
        &server,
        "agent answered; bridged",
        1,
        Duration::from_secs(30),
    );

    // 1003 presses 1 while the agent is busy: queued
    let mut second_rtp = RtpProbe::start();
    let second = spawn_caller(
        &mut server,
        "1003",
        free_udp_port(),
        second_rtp.port(),
        30_000,
    );
    let queued_at = wait_log(
        &server,
        "every agent is busy; queued",
        1,
        Duration::from_secs(30),
    );
    // 1001 hangs up; the queue hands 1003 to the agent
    let bridged_at = wait_log(
        &server,
        "agent answered; bridged",
        2,
        Duration::from_secs(60),
    );
    let first = first.wait(Duration::from_secs(60));
    first.assert_all_succeeded(&mut server, 1);
    let second = second.wait(Duration::from_secs(90));
    second_rtp.stop();
    second.assert_all_succeeded(&mut server, 1);

    // 1003 waited, and heard sound right up to the agent: the queue prompt
    // lasts about 6 s, so the last 3 s before the agent are hold music
    let waited = bridged_at - queued_at;
    println!("1003 waited {waited:?} in the queue");
    assert!(waited >= Duration::from_secs(10), "waited only {waited:?}");
    let (all, loud) = second_rtp.counts_between(
        bridged_at - Duration::from_millis(3500),
        bridged_at - Duration::from_millis(500),
    );
    println!("last 3 s before the agent: {all} packets, {loud} loud");
    assert!(all >= 100, "RTP stopped while queued: {all} packets in 3 s");
    assert!(loud >= 50, "no hold music: {loud} loud packets of {all}");
    let log = server.log();
    assert!(
        log.contains("an agent is free; ringing"),
        "{}",
        tail(&log, 40)
    );

    // the agent took both calls; three completed calls, one row each
    let successful = wait_for(Duration::from_secs(60), || {
        stat(&agent.file(".csv"), "SuccessfulCall(C)").filter(|n| *n >= 2)
    });
    assert_eq!(successful, Some(2), "agent calls: {}", agent.file(".csv"));
    let json = wait_for(Duration::from_secs(20), || {
        let (_, body) = http_get(server.addr("http"), "/api/calls?limit=20");
        (body.matches("\"status\":\"completed\"").count() >= 4).then_some(body)
    })
    .unwrap_or_else(|| panic!("calls: {}", http_get(server.addr("http"), "/api/calls").1));
    assert_eq!(
        json.matches("\"from_number\":\"9999\",\"to_number\":\"1002\"")
            .count(),
        2,
        "{json}"
    );
    assert!(
        json.contains("\"from_number\":\"1003\",\"to_number\":\"9999\""),
        "{json}"
    );
    let (_, metrics) = http_get(server.addr("http"), "/metrics");
    assert!(
        metrics.contains("ivr_queue_waiting{group=\"sales\"} 0"),
        "{metrics}"
    );
}

/// Answers one webhook POST with `answer`; sends the request's body on `tx`.
fn webhook_app(answer: &'static str, tx: mpsc::Sender<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/ivr", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).unwrap_or(0);
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            let complete = text.find("\r\n\r\n").is_some_and(|end| {
                let length = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                request.len() >= end + 4 + length
            });
            if complete || n == 0 {
                break;
            }
        }
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
            answer.len()
        );
        stream.write_all(reply.as_bytes()).unwrap();
        let text = String::from_utf8_lossy(&request).into_owned();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
        tx.send(body).unwrap();
    });
    url
}

#[test]
#[ignore = "needs the release voip-server binary, sipp, sqlite3 and espeak-ng or Piper; run with --ignored"]
fn menus_edited_in_the_database_and_a_webhook_drive_the_call() {
    if !require_program("sipp") || !require_program("sqlite3") {
        return;
    }
    let (mut server, agent) = start();
    // the seed's menu was written at start
    let db = server.dir().join("data").join("voip.db");
    let sql = |statement: &str| {
        let out = Command::new("sqlite3")
            .args(["-cmd", ".timeout 10000"])
            .arg(&db)
            .arg(statement)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert_eq!(
        sql(
            "SELECT action_type || ' ' || action_value FROM ivr_menu_options WHERE menu_id = 'main' AND digit = '1'"
        ),
        "transfer group:sales"
    );

    let (tx, rx) = mpsc::channel();
    let url = webhook_app(
        r#"[{"verb":"say","text":"The webhook sends you to sales."},{"verb":"transfer","group":"sales"}]"#,
        tx,
    );
    sql(&format!(
        "UPDATE ivr_menus SET welcome_message = 'Press 1 to ask the application.' WHERE menu_id = 'main'; \
         UPDATE ivr_menu_options SET action_type = 'webhook', action_value = '{url}', say_message = NULL \
         WHERE menu_id = 'main' AND digit = '1';"
    ));
    wait_log(
        &server,
        "ivr menus changed; reloaded",
        1,
        Duration::from_secs(15),
    );

    let mut rtp = RtpProbe::start();
    let caller = spawn_caller(&mut server, "1001", free_udp_port(), rtp.port(), 9_000);
    let body = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the webhook was not called");
    println!("webhook payload: {body}");
    let payload: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(payload["event"], "option");
    assert_eq!(payload["digits"], "1");
    assert_eq!(payload["caller_id"], "1001");
    assert_eq!(payload["menu_id"], "main");
    let run = caller.wait(Duration::from_secs(90));
    rtp.stop();
    run.assert_all_succeeded(&mut server, 1);
    let (all, loud) = rtp.counts();
    assert!(
        all >= 150 && loud >= 25,
        "prompt audio: {all} packets, {loud} loud"
    );
    let successful = wait_for(Duration::from_secs(60), || {
        stat(&agent.file(".csv"), "SuccessfulCall(C)").filter(|n| *n >= 1)
    });
    assert_eq!(successful, Some(1), "agent calls: {}", agent.file(".csv"));
    let log = server.log();
    assert!(log.contains("ivr webhook"), "{}", tail(&log, 40));
    assert!(
        log.contains("agent answered; bridged"),
        "{}",
        tail(&log, 40)
    );
}

#[test]
#[ignore = "needs the release voip-server binary, sipp, sqlite3 and espeak-ng or Piper; run with --ignored"]
fn a_menu_key_transfers_to_an_outside_number_through_a_trunk() {
    if !require_program("sipp") || !require_program("sqlite3") {
        return;
    }
    // the carrier: 401 to the first INVITE, digest checked, 200, waits for BYE
    let carrier_port = free_udp_port();
    let carrier = Sipp::spawn(
        "carrier",
        "127.0.0.1:5060".parse().unwrap(),
        &scenario("carrier.xml"),
        &strings(&[
            "-p",
            &carrier_port.to_string(),
            "-m",
            "1",
            "-timeout",
            "90s",
            "-timeout_error",
        ]),
    );
    let config = format!(
        "{TEST_USERS}{IVR_CONFIG}\n[[trunks]]\nname = \"carrier\"\ntarget = \"127.0.0.1:{carrier_port}\"\n\
         username = \"trunkuser\"\npassword = \"trunkpass\"\nregister = false\nfrom_user = \"5551000\"\nprefix = \"9\"\n"
    );
    let mut server = Server::start_with_config(&config);
    // the menus are seeded before the IVR starts
    wait_log(&server, "ivr enabled", 1, Duration::from_secs(15));
    let db = server.dir().join("data").join("voip.db");
    let out = Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(&db)
        .arg(
            "UPDATE ivr_menu_options SET action_type = 'transfer', action_value = 'trunk:carrier:5551234', \
             say_message = 'Connecting you' WHERE menu_id = 'main' AND digit = '1';",
        )
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_log(
        &server,
        "ivr menus changed; reloaded",
        1,
        Duration::from_secs(15),
    );

    let mut rtp = RtpProbe::start();
    let caller = spawn_caller(&mut server, "1001", free_udp_port(), rtp.port(), 9_000);
    let run = caller.wait(Duration::from_secs(90));
    rtp.stop();
    run.assert_all_succeeded(&mut server, 1);
    let carrier = carrier.wait(Duration::from_secs(60));
    carrier.assert_all_succeeded(&mut server, 1);
    let log = server.log();
    assert!(
        log.contains("transferring to an outside number"),
        "{}",
        tail(&log, 40)
    );
    assert!(
        log.contains("agent answered; bridged"),
        "{}",
        tail(&log, 40)
    );
    let json = wait_for(Duration::from_secs(20), || {
        let (_, body) = http_get(server.addr("http"), "/api/calls?limit=10");
        (body.matches("\"status\":\"completed\"").count() >= 2).then_some(body)
    })
    .unwrap_or_else(|| panic!("calls: {}", http_get(server.addr("http"), "/api/calls").1));
    assert!(
        json.contains("\"from_number\":\"9999\",\"to_number\":\"95551234\""),
        "{json}"
    );
    // an outside number is not an agent
    let (_, agents) = http_get(server.addr("http"), "/api/agents");
    assert!(!agents.contains("5551234"), "{agents}");
}
