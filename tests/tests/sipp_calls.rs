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

use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use voip_tests::{
    Server, TEST_USERS, TempDir, files_ending, free_udp_port, repo_root, require_program, strings,
    wait_for,
};

/// The load tests share two cores with the server: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn scenario(name: &str) -> PathBuf {
    repo_root().join("tests/sipp").join(name)
}

/// A sipp process in its own work dir, killed on drop.
struct Sipp {
    name: String,
    child: Child,
    work: TempDir,
    started: Instant,
}

/// What a finished sipp run left behind.
struct SippRun {
    name: String,
    status: ExitStatus,
    elapsed: Duration,
    screen: String,
    errors: String,
    stats: String,
}

impl Sipp {
    /// Runs `sipp SERVER -sf SCENARIO ARGS` on UDP from 127.0.0.1, with the
    /// error log, the statistics CSV (every second) and the final screen.
    fn spawn(name: &str, server: SocketAddr, scenario: &PathBuf, args: &[String]) -> Self {
        let work = TempDir::new(&format!("voip-sipp-{name}"));
        let stdout = File::create(work.path().join("stdout.log")).unwrap();
        let stderr = File::create(work.path().join("stderr.log")).unwrap();
        let child = Command::new("sipp")
            .current_dir(work.path())
            .arg(server.to_string())
            .arg("-sf")
            .arg(scenario)
            .args(["-t", "u1", "-i", "127.0.0.1", "-nostdin"])
            .args(["-trace_err", "-trace_screen", "-trace_stat", "-fd", "1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        Self {
            name: name.to_owned(),
            child,
            work,
            started: Instant::now(),
        }
    }

    /// The files of the work dir whose names end with `suffix`.
    fn file(&self, suffix: &str) -> String {
        files_ending(self.work.path(), suffix)
    }

    /// Waits for the exit; past `timeout` the process is killed and the
    /// test fails (sipp's own `-timeout` should have ended it first).
    fn wait(mut self, timeout: Duration) -> SippRun {
        let status = wait_for(timeout, || self.child.try_wait().unwrap());
        let Some(status) = status else {
            let _ = self.child.kill();
            panic!(
                "sipp {} still running after {timeout:?}\n--- stdout ---\n{}\n--- errors ---\n{}",
                self.name,
                tail(&self.file("stdout.log"), 40),
                head(&self.file("_errors.log"), 3000)
            );
        };
        let elapsed = self.started.elapsed();
        let screen = match self.file("_screen.log") {
            screen if screen.contains("Successful call") => screen,
            _ => self.file("stdout.log"),
        };
        SippRun {
            name: self.name.clone(),
            status,
            elapsed,
            screen,
            errors: self.file("_errors.log"),
            stats: self.file(".csv"),
        }
    }

    /// Retransmissions so far, from the statistics CSV.
    fn retransmissions(&self) -> u64 {
        stat(&self.file(".csv"), "Retransmissions(C)").unwrap_or(0)
    }

    /// Whether sipp has bound its port yet.
    fn wait_bound(&mut self, port: u16) {
        let bound = wait_for(Duration::from_secs(10), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "sipp {} exited with {status}: {}",
                    self.name,
                    tail(&self.file("stdout.log"), 20)
                );
            }
            UdpSocket::bind(("127.0.0.1", port)).is_err().then_some(())
        });
        assert!(bound.is_some(), "sipp {} did not bind {port}", self.name);
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SippRun {
    /// A counter of the final screen's `NAME | periodic | cumulative` line.
    fn count(&self, name: &str) -> Option<u64> {
        self.screen
            .lines()
            .filter(|line| line.trim_start().starts_with(name))
            .filter_map(|line| line.rsplit('|').next()?.trim().parse().ok())
            .next_back()
    }

    fn successful(&self) -> u64 {
        self.count("Successful call").unwrap_or(0)
    }

    fn failed(&self) -> u64 {
        self.count("Failed call").unwrap_or(0)
    }

    fn retransmissions(&self) -> u64 {
        stat(&self.stats, "Retransmissions(C)").unwrap_or(0)
    }

    /// Everything worth reading when a run failed.
    fn report(&self, server: &Server) -> String {
        format!(
            "sipp {} exited with {} after {:?}\n--- screen ---\n{}\n--- first errors ---\n{}\n--- server log (VOIP_TEST_SERVER_LOG=debug for more) ---\n{}",
            self.name,
            self.status,
            self.elapsed,
            tail(&self.screen, 45),
            head(&self.errors, 3000),
            tail(&server.log(), 30)
        )
    }

    fn assert_all_succeeded(&self, server: &mut Server, calls: u64) {
        assert!(server.is_running(), "voip-server died: {}", server.stderr());
        assert!(self.status.success(), "{}", self.report(server));
        assert_eq!(
            (self.successful(), self.failed()),
            (calls, 0),
            "successful and failed calls\n{}",
            self.report(server)
        );
    }
}

/// The last row's value of a `-trace_stat` CSV column (`;`-separated).
fn stat(csv: &str, column: &str) -> Option<u64> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let index = header.iter().position(|h| h.trim() == column)?;
    let last = lines.next_back()?;
    last.split(';').nth(index)?.trim().parse().ok()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn head(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// sipp gives up after 5 INVITE and 7 other UDP retransmissions by
/// default; RFC 3261's Timers B and F (64·T1) allow 6 and 10. With 10% loss
/// on both sipp sides, sipp's shorter defaults abort about one call in ten
/// thousand on its own timeout, so the lossy runs use the RFC's numbers.
const RFC_RETRANSMISSIONS: &[&str] = &["-max_invite_retrans", "6", "-max_non_invite_retrans", "10"];

/// Registers `ext` (password `secret<ext>`) from 127.0.0.1:`port`.
fn register(server: &mut Server, ext: &str, port: u16) {
    let sip = server.addr("sip-udp");
    let pass = format!("secret{ext}");
    let run = Sipp::spawn(
        &format!("register-{ext}"),
        sip,
        &scenario("register.xml"),
        &strings(&[
            "-key",
            "ext",
            ext,
            "-key",
            "pass",
            &pass,
            // sipp 3.6 puts sip:remote_ip:remote_port in the digest uri
            // unless told; the server wants the Request-URI
            "-auth_uri",
            "localhost",
            "-p",
            &port.to_string(),
            "-m",
            "1",
            "-timeout",
            "20s",
            "-timeout_error",
        ]),
    )
    .wait(Duration::from_secs(30));
    run.assert_all_succeeded(server, 1);
}

/// 1002's UAS on `port` (registered from there first), `-lost` percent.
fn start_callee(server: &mut Server, port: u16, lost: u32) -> Sipp {
    register(server, "1002", port);
    let mut args = strings(&["-p", &port.to_string(), "-timeout", "900s"]);
    if lost > 0 {
        args.extend(strings(&["-lost", &lost.to_string()]));
        args.extend(strings(RFC_RETRANSMISSIONS));
    }
    let mut uas = Sipp::spawn(
        "uas-1002",
        server.addr("sip-udp"),
        &scenario("uas.xml"),
        &args,
    );
    uas.wait_bound(port);
    uas
}

/// `calls` calls from 1001 on `port` to 1002 at `rate` per second.
fn call(server: &Server, port: u16, calls: u64, rate: u32, lost: u32, limit: Duration) -> SippRun {
    let mut args = strings(&[
        "-key",
        "ext",
        "1001",
        "-key",
        "pass",
        "secret1001",
        "-key",
        "callee",
        "1002",
        "-auth_uri",
        "1002@localhost",
        "-p",
        &port.to_string(),
        "-m",
        &calls.to_string(),
        "-r",
        &rate.to_string(),
        "-l",
        "10000",
        // a call stuck waiting (answers stopped) fails instead of hanging
        "-recv_timeout",
        "60s",
        // the whole run ends, as a failure, before the harness kills it
        "-timeout",
        &format!("{}s", limit.as_secs()),
        "-timeout_error",
    ]);
    if lost > 0 {
        args.extend(strings(&["-lost", &lost.to_string()]));
        args.extend(strings(RFC_RETRANSMISSIONS));
    }
    Sipp::spawn(
        &format!("uac-1001-{calls}"),
        server.addr("sip-udp"),
        &scenario("uac.xml"),
        &args,
    )
    .wait(limit + Duration::from_secs(30))
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
