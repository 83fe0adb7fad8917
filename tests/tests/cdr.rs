//! Call detail records from real calls: sipp's 1001 calls 1002 through
//! voip-server and the rows appear in `call_logs` (read back through the
//! server's `/api/calls`, and with psql for PostgreSQL).
//!
//! - `cdrs_in_sqlite`: the embedded default, a file in the data dir.
//! - `cdrs_in_postgres`: a PostgreSQL server the test starts on loopback,
//!   given to the server with `--db-url`.
//! - `cdr_survives_sigkill_mid_call`: the server is killed with SIGKILL while
//!   five calls are up and started again on the same port; the callers'
//!   BYEs still route (the Record-Route key is kept in the data dir) and
//!   every call sipp reports complete has exactly one completed row.
//!
//! `cargo test -p voip-tests --test cdr -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use voip_tests::postgres::Postgres;
use voip_tests::sipp::{call, scenario, spawn_call, start_callee};
use voip_tests::{Server, TEST_USERS, TempDir, free_udp_port, http_get, require_program, wait_for};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The CDRs as JSON text, from the server's API.
fn calls_json(server: &Server) -> String {
    let (status, body) = http_get(server.addr("http"), "/api/calls?limit=100");
    assert_eq!(status, 200, "GET /api/calls: {body}");
    body
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Three calls from 1001 to 1002; returns once sipp is done.
fn three_calls(server: &mut Server) {
    let (caller, callee) = (free_udp_port(), free_udp_port());
    let _uas = start_callee(server, callee, 0);
    voip_tests::sipp::register(server, "1001", caller);
    let run = call(server, caller, 3, 3, 0, Duration::from_secs(60));
    run.assert_all_succeeded(server, 3);
}

/// Waits until the writer has recorded `n` completed calls.
fn wait_completed(server: &Server, n: usize) -> String {
    let json = wait_for(Duration::from_secs(20), || {
        let json = calls_json(server);
        (count(&json, "\"status\":\"completed\"") >= n).then_some(json)
    });
    json.unwrap_or_else(|| panic!("not {n} completed calls: {}", calls_json(server)))
}

#[test]
#[ignore = "needs the voip-server binary and sipp; run with --ignored"]
fn cdrs_in_sqlite() {
    if !require_program("sipp") {
        return;
    }
    let _serial = serial();
    let mut server = Server::start_with_config(TEST_USERS);
    three_calls(&mut server);
    let json = wait_completed(&server, 3);
    assert_eq!(count(&json, "\"call_id\""), 3, "one row per call: {json}");
    assert_eq!(count(&json, "\"from_number\":\"1001\""), 3, "{json}");
    assert_eq!(count(&json, "\"to_number\":\"1002\""), 3, "{json}");
    assert_eq!(count(&json, "\"hangup_cause\":\"BYE\""), 3, "{json}");
    assert!(server.dir().join("data/voip.db").exists());
    let (_, active) = http_get(server.addr("http"), "/api/active-calls");
    assert!(active.contains("\"active_calls\":0"), "{active}");
}

#[test]
#[ignore = "needs the voip-server binary, sipp and PostgreSQL; run with --ignored"]
fn cdrs_in_postgres() {
    if !require_program("sipp") {
        return;
    }
    let Some(pg) = Postgres::start() else {
        return;
    };
    let _serial = serial();
    let url = pg.url();
    let mut server = Server::start_with_config_and(TEST_USERS, &["--db-url", &url]);
    three_calls(&mut server);
    wait_completed(&server, 3);
    assert_eq!(
        pg.query(
            "SELECT count(*) FROM call_logs WHERE status = 'completed' AND from_number = '1001'"
        ),
        "3"
    );
    assert_eq!(pg.query("SELECT count(*) FROM active_calls"), "0");
    assert!(
        !server.dir().join("data/voip.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );
}

#[test]
#[ignore = "needs the voip-server binary and sipp; run with --ignored"]
fn cdr_survives_sigkill_mid_call() {
    if !require_program("sipp") {
        return;
    }
    let _serial = serial();
    let mut server = Server::start_with_config(TEST_USERS);
    let (caller, callee) = (free_udp_port(), free_udp_port());
    let _uas = start_callee(&mut server, callee, 0);
    voip_tests::sipp::register(&mut server, "1001", caller);
    // uac.xml with 12 s calls instead of 0.5 s
    let work = TempDir::new("voip-cdr-long-call");
    let long = work.path().join("uac_long.xml");
    let text = std::fs::read_to_string(scenario("uac.xml")).unwrap();
    assert!(text.contains("<pause milliseconds=\"500\" />"));
    std::fs::write(
        &long,
        text.replace(
            "<pause milliseconds=\"500\" />",
            "<pause milliseconds=\"12000\" />",
        ),
    )
    .unwrap();
    const CALLS: usize = 5;
    let uac = spawn_call(
        &server,
        caller,
        CALLS as u64,
        5,
        0,
        Duration::from_secs(90),
        &long,
    );
    // every call is answered (rows written), then the server dies
    let answered = wait_for(Duration::from_secs(30), || {
        (count(&calls_json(&server), "\"status\":\"answered\"") == CALLS).then_some(())
    });
    assert!(
        answered.is_some(),
        "calls not answered: {}",
        calls_json(&server)
    );
    server.kill_and_restart();
    // sipp's BYEs reach the new process on the same port
    let run = uac.wait(Duration::from_secs(120));
    run.assert_all_succeeded(&mut server, CALLS as u64);
    let json = wait_completed(&server, CALLS);
    assert_eq!(
        count(&json, "\"call_id\""),
        CALLS,
        "exactly one row per call: {json}"
    );
    assert_eq!(count(&json, "\"hangup_cause\":\"BYE\""), CALLS, "{json}");
}
