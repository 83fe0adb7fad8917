//! Calls through voip-server with sipp (`sip-tester`): extension 1001 (a
//! sipp UAC) calls 1002 (a sipp UAS that registered first) with digest
//! auth on REGISTER (401) and INVITE (407), two Record-Routes, and ACK and
//! BYE along the recorded route set.
//!
//! - `sipp_calls_10k_at_200_per_second`: 10 calls, then 10,000 at 200/s;
//!   every one must succeed.
//! - `sipp_calls_10k_with_10_percent_loss`: the same 10,000 with `-lost 10`
//!   on caller and callee: retransmissions must complete every call.
//! - `sipp_call_errors_after_auth`: 404 for an unknown extension, 480 for a
//!   configured one that is not registered, both after the 407.
//!
//! The scenarios chain like this (tests/sipp/):
//! `register.xml` (1002, `-p P`) → `uas.xml` on the same `-p P` (the server
//! sends calls over the flow the REGISTER came from); `register.xml`
//! (1001, `-p Q`) → `uac.xml` on `-p Q`.
//!
//! Needs the server binary and sipp: `cargo test -p voip-tests --test
//! sipp_calls -- --ignored --nocapture` (the summaries go to stderr).
//! `VOIP_TEST_SERVER_LOG=debug` starts the server with `--log debug`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use voip_tests::sipp::{Sipp, SippRun, call, register, scenario, start_callee};
use voip_tests::{Server, TEST_USERS, TempDir, free_udp_port, require_program, strings};

/// The load tests share two cores with the server: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn summary(label: &str, run: &SippRun, uas: &Sipp) {
    eprintln!(
        "{label}: {} successful, {} failed calls in {:.1} s; retransmissions: caller {}, callee {} (approx.)",
        run.successful(),
        run.failed(),
        run.elapsed.as_secs_f64(),
        run.retransmissions(),
        uas.retransmissions()
    );
}

#[test]
#[ignore = "needs the voip-server binary and sipp; run with --ignored"]
fn sipp_calls_10k_at_200_per_second() {
    if !require_program("sipp") {
        return;
    }
    let _serial = serial();
    let mut server = Server::start_with_config(TEST_USERS);
    let (caller, callee) = (free_udp_port(), free_udp_port());
    let uas = start_callee(&mut server, callee, 0);
    register(&mut server, "1001", caller);

    let smoke = call(&server, caller, 10, 10, 0, Duration::from_secs(60));
    smoke.assert_all_succeeded(&mut server, 10);
    summary("smoke", &smoke, &uas);

    let load = call(&server, caller, 10_000, 200, 0, Duration::from_secs(240));
    summary("10k at 200/s", &load, &uas);
    load.assert_all_succeeded(&mut server, 10_000);
}

#[test]
#[ignore = "needs the voip-server binary and sipp; run with --ignored"]
fn sipp_calls_10k_with_10_percent_loss() {
    if !require_program("sipp") {
        return;
    }
    let _serial = serial();
    let mut server = Server::start_with_config(TEST_USERS);
    let (caller, callee) = (free_udp_port(), free_udp_port());
    let uas = start_callee(&mut server, callee, 10);
    register(&mut server, "1001", caller);

    let lossy = call(&server, caller, 10_000, 200, 10, Duration::from_secs(300));
    summary("10k at 200/s, -lost 10", &lossy, &uas);
    lossy.assert_all_succeeded(&mut server, 10_000);
    assert!(
        lossy.retransmissions() > 0,
        "-lost 10 but the caller never retransmitted: {}",
        lossy.report(&server)
    );
}

#[test]
#[ignore = "needs the voip-server binary and sipp; run with --ignored"]
fn sipp_call_errors_after_auth() {
    if !require_program("sipp") {
        return;
    }
    let _serial = serial();
    let mut server = Server::start_with_config(TEST_USERS);
    let work = TempDir::new("voip-sipp-rejected");
    let template = std::fs::read_to_string(scenario("uac_rejected.xml.tmpl")).unwrap();
    // 9999 is no extension; 1003 is one, but nothing registered it
    for (callee, status) in [("9999", 404), ("1003", 480)] {
        let file = work.path().join(format!("uac_rejected_{status}.xml"));
        std::fs::write(
            &file,
            template.replace("response=\"STATUS\"", &format!("response=\"{status}\"")),
        )
        .unwrap();
        let auth_uri = format!("{callee}@localhost");
        let run = Sipp::spawn(
            &format!("uac-to-{callee}"),
            server.addr("sip-udp"),
            &file,
            &strings(&[
                "-key",
                "ext",
                "1001",
                "-key",
                "pass",
                "secret1001",
                "-key",
                "callee",
                callee,
                "-auth_uri",
                &auth_uri,
                "-p",
                &free_udp_port().to_string(),
                "-m",
                "1",
                "-timeout",
                "20s",
                "-timeout_error",
            ]),
        )
        .wait(Duration::from_secs(30));
        run.assert_all_succeeded(&mut server, 1);
    }
}
