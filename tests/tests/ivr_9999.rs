//! Issue 6 end to end: a caller dials 9999, hears the welcome prompt,
//! presses 1 and is transferred to a sales agent; every call leaves a CDR.
//!
//! - the server runs with `[ivr]` and a `[[groups]]` sales = [1002];
//! - 1002 is a registered sipp UAS (the agent), 1001 a registered sipp UAC
//!   running tests/sipp/ivr_caller.xml: INVITE 9999 (407 digest), ACK,
//!   3 s of prompt, key 1 from sipp's RFC 2833 capture, 9 s on the line, BYE;
//! - the caller's SDP names a media port this test binds itself: it
//!   counts the RTP packets of the prompt that carry speech (sipp 3.6
//!   cannot check received audio);
//! - the agent's sipp counts the call as successful (INVITE, 200, ACK,
//!   BYE from the IVR when the caller hung up, 200);
//! - GET /api/calls shows 1001 → 9999 and 9999 → 1002, both completed.
//!
//! `caller_hears_prompt_presses_1_and_reaches_sales` keeps the records in
//! SQLite (the default); `..._with_postgres` runs the same flow against a
//! PostgreSQL server the test starts and reads the rows back with psql.
//!
//! `the_agent_holds_and_resumes_the_bridged_caller` runs the same transfer
//! with an agent that puts the caller on hold and back.
//!
//! `cargo build --release -p voip-server && cargo test -p voip-tests --test ivr_9999 -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use voip_tests::postgres::Postgres;
use voip_tests::rtp_probe::RtpProbe;
use voip_tests::sipp::{Sipp, register, scenario, start_callee, start_callee_with, stat};
use voip_tests::{
    Server, TEST_USERS, free_udp_port, http_get, require_program, strings, wait_agent_online,
    wait_for,
};

const IVR_CONFIG: &str = r#"
[ivr]
extension = "9999"
rtp_ports = "34000-34200"
ring_timeout_seconds = 10

[[groups]]
name = "sales"
strategy = "round-robin"
members = ["1002"]
"#;

#[test]
#[ignore = "needs the release voip-server binary, sipp and espeak-ng or Piper; run with --ignored"]
fn caller_hears_prompt_presses_1_and_reaches_sales() {
    if !require_program("sipp") {
        return;
    }
    ivr_flow(None);
}

#[test]
#[ignore = "needs the release voip-server binary, sipp, PostgreSQL and espeak-ng or Piper; run with --ignored"]
fn caller_hears_prompt_presses_1_and_reaches_sales_with_postgres() {
    if !require_program("sipp") {
        return;
    }
    let Some(pg) = Postgres::start() else {
        return;
    };
    ivr_flow(Some(&pg));
    assert_eq!(
        pg.query(
            "SELECT count(*) FROM call_logs WHERE status = 'completed' \
             AND ((from_number = '1001' AND to_number = '9999') \
             OR (from_number = '9999' AND to_number = '1002'))"
        ),
        "2"
    );
    assert_eq!(
        pg.query("SELECT total_calls FROM agents WHERE extension = '1002'"),
        "1"
    );
}

/// A caller that re-negotiates in the IVR's dialog (tests/sipp/ivr_hold.xml):
/// hold (the IVR answers `recvonly` and stops sending), resume, an UPDATE
/// session refresh without body, a re-INVITE without offer. Each gets a
/// 200 (sipp fails the call on anything else, or on an answer without
/// `a=recvonly` to the hold); the prompt's RTP stops for the hold and
/// comes back.
#[test]
#[ignore = "needs the release voip-server binary, sipp and espeak-ng or Piper; run with --ignored"]
fn caller_holds_resumes_and_refreshes_the_ivr_call() {
    if !require_program("sipp") {
        return;
    }
    let mut server = Server::start_with_config(&format!("{TEST_USERS}{IVR_CONFIG}"));
    let caller_port = free_udp_port();
    register(&mut server, "1001", caller_port);
    let probe = call_ivr(&mut server, "ivr_hold.xml", caller_port, &[]);
    let (all, _) = probe.counts();
    let gap = probe.largest_gap();
    println!("caller received {all} PCMU packets; longest silence {gap:?}");
    // 1.5 s before the hold, 2.5 s after the resume: well over 100 packets
    assert!(all >= 100, "RTP before and after the hold: {all}");
    // the 2 s hold: nothing sent (a loaded machine only makes it longer)
    assert!(
        gap >= Duration::from_millis(1000),
        "RTP went on during the hold: longest silence {gap:?}\n{}",
        voip_tests::sipp::tail(&server.log(), 40)
    );
    assert!(
        server.log().contains("caller re-offer answered"),
        "{}",
        voip_tests::sipp::tail(&server.log(), 40)
    );
}

/// A caller whose INVITE carries no SDP (late offer,
/// tests/sipp/ivr_late_offer.xml): the IVR offers PCMU in its 200, the ACK
/// answers, and the prompt's RTP reaches the port of that answer.
#[test]
#[ignore = "needs the release voip-server binary, sipp and espeak-ng or Piper; run with --ignored"]
fn a_late_offer_call_hears_the_prompt() {
    if !require_program("sipp") {
        return;
    }
    let mut server = Server::start_with_config(&format!("{TEST_USERS}{IVR_CONFIG}"));
    let caller_port = free_udp_port();
    register(&mut server, "1001", caller_port);
    // long enough for a cold prompt synthesis on a loaded machine
    let probe = call_ivr(
        &mut server,
        "ivr_late_offer.xml",
        caller_port,
        &["-d", "8000"],
    );
    let (all, speech) = probe.counts();
    println!("caller received {all} PCMU packets, {speech} with speech");
    // 8 s on the line: the prompt reached the answer's port
    assert!(
        all >= 200 && speech >= 25,
        "prompt RTP after the ACK's answer: {all} packets, {speech} loud\n{}",
        voip_tests::sipp::tail(&server.log(), 40)
    );
}

/// 1001 (registered on `caller_port`) runs `scenario_file` against 9999
/// (plus `extra` sipp arguments); the offer's media port is a probe this
/// test listens on. Returns the probe once sipp succeeded.
fn call_ivr(
    server: &mut Server,
    scenario_file: &str,
    caller_port: u16,
    extra: &[&str],
) -> RtpProbe {
    let mut probe = RtpProbe::start();
    let rtp_port = probe.port().to_string();
    let mut args = strings(&[
        "-key",
        "ext",
        "1001",
        "-key",
        "pass",
        "secret1001",
        "-key",
        "rtp_port",
        &rtp_port,
        "-auth_uri",
        "9999@localhost",
        "-p",
        &caller_port.to_string(),
        "-m",
        "1",
        "-recv_timeout",
        "30s",
        "-timeout",
        "60s",
        "-timeout_error",
    ]);
    args.extend(strings(extra));
    let name = format!("{}-1001", scenario_file.trim_end_matches(".xml"));
    let uac = Sipp::spawn(
        &name,
        server.addr("sip-udp"),
        &scenario(scenario_file),
        &args,
    );
    let run = uac.wait(Duration::from_secs(90));
    probe.stop();
    run.assert_all_succeeded(server, 1);
    probe
}

/// The sales agent puts the bridged caller on hold and back
/// (tests/sipp/ivr_agent_hold.xml): both of its re-INVITEs are answered,
/// the hold with `a=recvonly` and the resume with `a=sendrecv` (sipp checks
/// the answers), and the call then ends as usual with the caller's BYE.
#[test]
#[ignore = "needs the release voip-server binary, sipp and espeak-ng or Piper; run with --ignored"]
fn the_agent_holds_and_resumes_the_bridged_caller() {
    if !require_program("sipp") {
        return;
    }
    let mut server = Server::start_with_config(&format!("{TEST_USERS}{IVR_CONFIG}"));
    let (caller_port, agent_port) = (free_udp_port(), free_udp_port());
    let agent = start_callee_with(&mut server, agent_port, 0, "ivr_agent_hold.xml");
    register(&mut server, "1001", caller_port);
    wait_agent_online(&server, "1002");
    // on the line for 9 s after the key: the agent's hold and resume fit
    call_ivr(&mut server, "ivr_caller.xml", caller_port, &["-d", "9000"]);
    let done = wait_for(Duration::from_secs(30), || {
        stat(&agent.file(".csv"), "SuccessfulCall(C)").filter(|n| *n >= 1)
    });
    assert_eq!(
        done,
        Some(1),
        "agent calls: {}\n{}\n{}",
        agent.file(".csv"),
        agent.file("_errors.log"),
        voip_tests::sipp::tail(&server.log(), 40)
    );
    let log = server.log();
    assert_eq!(
        log.matches("agent re-offer answered").count(),
        2,
        "{}",
        voip_tests::sipp::tail(&log, 40)
    );
}

/// The whole flow; the records go to `pg` when given, else to SQLite.
fn ivr_flow(pg: Option<&Postgres>) {
    let mut config = format!("{TEST_USERS}{IVR_CONFIG}");
    if let Some(pg) = pg {
        // a top-level key: it must come before the tables
        config = format!("db_url = \"{}\"\n{config}", pg.url());
    }
    let mut server = Server::start_with_config(&config);
    let (caller_port, agent_port) = (free_udp_port(), free_udp_port());
    let agent = start_callee(&mut server, agent_port, 0);
    register(&mut server, "1001", caller_port);
    wait_agent_online(&server, "1002");

    // on the line after the key
    let probe = call_ivr(&mut server, "ivr_caller.xml", caller_port, &["-d", "9000"]);

    // (a) the prompt arrived as RTP with speech in it: the welcome prompt
    // plays 3 s before the key, then "Transferring to sales" (~1.5 s)
    let (all, speech) = probe.counts();
    println!("caller received {all} PCMU packets, {speech} with speech");
    assert!(
        all >= 150,
        "at least 3 s of 20 ms packets: {all}\n{}",
        server.log()
    );
    // 93-96 speech packets on a quiet machine, 53 on a loaded one (the
    // prompt starts later); half a second of speech proves the prompt
    assert!(
        speech >= 25,
        "speech in at least 0.5 s of them: {speech} of {all}"
    );

    // (b) the agent took the call: sipp counts it once its 32 s Timer J wait is over
    let csv_successful = wait_for(Duration::from_secs(60), || {
        stat(&agent.file(".csv"), "SuccessfulCall(C)").filter(|n| *n >= 1)
    });
    assert_eq!(
        csv_successful,
        Some(1),
        "agent UAS calls: {}\n{}",
        agent.file(".csv"),
        voip_tests::sipp::tail(&server.log(), 40)
    );

    // (c) two CDRs, both completed by a BYE
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

    // the IVR put the caller leg's codec and quality into 1001 -> 9999
    let quality = wait_for(Duration::from_secs(10), || {
        let (_, body) = http_get(server.addr("http"), "/api/calls?limit=10");
        body.split("},{")
            .find(|row| row.contains("\"from_number\":\"1001\",\"to_number\":\"9999\""))
            .filter(|row| {
                row.contains("\"codec\":\"PCMU\"") && !row.contains("\"caller_mos\":null")
            })
            .map(str::to_owned)
    });
    assert!(
        quality.is_some(),
        "no codec/MOS on the IVR call: {}",
        http_get(server.addr("http"), "/api/calls").1
    );
    println!("IVR call record: {}", quality.unwrap_or_default());

    // the agent is back online with one call
    let (_, agents) = http_get(server.addr("http"), "/api/agents");
    assert!(
        agents.contains(
            "\"extension\":\"1002\",\"status\":\"online\",\"current_calls\":0,\"total_calls\":1"
        ),
        "{agents}"
    );
    let log = server.log();
    assert!(
        log.contains("agent answered; bridged"),
        "{}",
        voip_tests::sipp::tail(&log, 40)
    );
}
