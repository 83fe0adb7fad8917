//! sipp (`sip-tester`) runs for the interop tests: a process per scenario
//! in its own work dir (error log, statistics CSV, final screen), killed on
//! drop, and the register → UAS / UAC chain of the call tests (scenarios in
//! tests/sipp/).

use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::{Server, TempDir, files_ending, repo_root, strings, wait_for};

/// The scenario file `tests/sipp/NAME`.
pub fn scenario(name: &str) -> PathBuf {
    repo_root().join("tests/sipp").join(name)
}

/// A sipp process in its own work dir, killed on drop.
#[derive(Debug)]
pub struct Sipp {
    name: String,
    child: Child,
    work: TempDir,
    started: Instant,
}

/// What a finished sipp run left behind.
#[derive(Debug)]
pub struct SippRun {
    /// The run's name.
    pub name: String,
    /// How sipp exited.
    pub status: ExitStatus,
    /// How long it ran.
    pub elapsed: Duration,
    /// The final screen.
    pub screen: String,
    /// The error log.
    pub errors: String,
    /// The statistics CSV.
    pub stats: String,
}

impl Sipp {
    /// Runs `sipp SERVER -sf SCENARIO ARGS` on UDP from 127.0.0.1, with the
    /// error log, the statistics CSV (every second) and the final screen.
    pub fn spawn(name: &str, server: SocketAddr, scenario: &PathBuf, args: &[String]) -> Self {
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
    pub fn file(&self, suffix: &str) -> String {
        files_ending(self.work.path(), suffix)
    }

    /// Waits for the exit; past `timeout` the process is killed and the
    /// test fails (sipp's own `-timeout` should have ended it first).
    pub fn wait(mut self, timeout: Duration) -> SippRun {
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
    pub fn retransmissions(&self) -> u64 {
        stat(&self.file(".csv"), "Retransmissions(C)").unwrap_or(0)
    }

    /// Whether sipp has bound its port yet.
    pub fn wait_bound(&mut self, port: u16) {
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
    pub fn count(&self, name: &str) -> Option<u64> {
        self.screen
            .lines()
            .filter(|line| line.trim_start().starts_with(name))
            .filter_map(|line| line.rsplit('|').next()?.trim().parse().ok())
            .next_back()
    }

    /// Successful calls.
    pub fn successful(&self) -> u64 {
        self.count("Successful call").unwrap_or(0)
    }

    /// Failed calls.
    pub fn failed(&self) -> u64 {
        self.count("Failed call").unwrap_or(0)
    }

    /// Retransmissions, from the statistics CSV.
    pub fn retransmissions(&self) -> u64 {
        stat(&self.stats, "Retransmissions(C)").unwrap_or(0)
    }

    /// Everything worth reading when a run failed.
    pub fn report(&self, server: &Server) -> String {
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

    /// Panics unless sipp exited well with `calls` successful calls and none failed.
    pub fn assert_all_succeeded(&self, server: &mut Server, calls: u64) {
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
pub fn stat(csv: &str, column: &str) -> Option<u64> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let index = header.iter().position(|h| h.trim() == column)?;
    let last = lines.next_back()?;
    last.split(';').nth(index)?.trim().parse().ok()
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The first `chars` characters of `text`.
pub fn head(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// sipp gives up after 5 INVITE and 7 other UDP retransmissions by
/// default; RFC 3261's Timers B and F (64·T1) allow 6 and 10. With 10% loss
/// on both sipp sides, sipp's shorter defaults abort about one call in ten
/// thousand on its own timeout, so the lossy runs use the RFC's numbers.
pub const RFC_RETRANSMISSIONS: &[&str] =
    &["-max_invite_retrans", "6", "-max_non_invite_retrans", "10"];

/// Registers `ext` (password `secret<ext>`) from 127.0.0.1:`port`.
pub fn register(server: &mut Server, ext: &str, port: u16) {
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
pub fn start_callee(server: &mut Server, port: u16, lost: u32) -> Sipp {
    start_callee_with(server, port, lost, "uas.xml")
}

/// [`start_callee`] running another UAS scenario of tests/sipp.
pub fn start_callee_with(server: &mut Server, port: u16, lost: u32, scenario_file: &str) -> Sipp {
    register(server, "1002", port);
    let mut args = strings(&["-p", &port.to_string(), "-timeout", "900s"]);
    if lost > 0 {
        args.extend(strings(&["-lost", &lost.to_string()]));
        args.extend(strings(RFC_RETRANSMISSIONS));
    }
    let name = format!("{}-1002", scenario_file.trim_end_matches(".xml"));
    let mut uas = Sipp::spawn(
        &name,
        server.addr("sip-udp"),
        &scenario(scenario_file),
        &args,
    );
    uas.wait_bound(port);
    uas
}

/// `calls` calls from 1001 on `port` to 1002 at `rate` per second.
pub fn call(
    server: &Server,
    port: u16,
    calls: u64,
    rate: u32,
    lost: u32,
    limit: Duration,
) -> SippRun {
    call_with(server, port, calls, rate, lost, limit, &scenario("uac.xml"))
}

/// [`call`] with another UAC scenario (same keys: ext, pass, callee).
pub fn call_with(
    server: &Server,
    port: u16,
    calls: u64,
    rate: u32,
    lost: u32,
    limit: Duration,
    uac: &PathBuf,
) -> SippRun {
    spawn_call(server, port, calls, rate, lost, limit, uac).wait(limit + Duration::from_secs(30))
}

/// Starts [`call_with`]'s sipp without waiting for it.
pub fn spawn_call(
    server: &Server,
    port: u16,
    calls: u64,
    rate: u32,
    lost: u32,
    limit: Duration,
    uac: &PathBuf,
) -> Sipp {
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
        uac,
        &args,
    )
}
