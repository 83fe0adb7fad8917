//! A voip-server trunk against a sipp carrier (tests/sipp/carrier.xml):
//! the server registers (401 challenge, then digest credentials, 200 with
//! `expires=60`), then extension 1001 (tests/sipp/uac.xml) dials
//! `95551234`; the server sends the INVITE to the carrier as
//! `sip:5551234@carrier` with From user `5551000` and a
//! P-Asserted-Identity, and the call completes (ACK, BYE).
//!
//! `cargo test -p voip-tests --test sipp_trunk -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::net::UdpSocket;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use voip_tests::{
    Server, TEST_USERS, TempDir, files_ending, free_udp_port, repo_root, require_program, strings,
    wait_for,
};

/// A sipp process in its own work dir, killed on drop.
struct Sipp {
    child: Child,
    work: TempDir,
}

impl Sipp {
    fn spawn(name: &str, scenario: &str, args: &[String]) -> Self {
        let work = TempDir::new(&format!("voip-sipp-trunk-{name}"));
        let stdout = File::create(work.path().join("stdout.log")).unwrap();
        let stderr = File::create(work.path().join("stderr.log")).unwrap();
        let child = Command::new("sipp")
            .current_dir(work.path())
            .arg("-sf")
            .arg(repo_root().join("tests/sipp").join(scenario))
            .args(["-t", "u1", "-i", "127.0.0.1", "-nostdin"])
            .args(["-trace_err", "-trace_msg", "-trace_screen"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        Self { child, work }
    }

    /// The files of the work dir whose names end with `suffix`.
    fn file(&self, suffix: &str) -> String {
        files_ending(self.work.path(), suffix)
    }

    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_for(timeout, || self.child.try_wait().unwrap())
    }

    fn report(&self) -> String {
        format!(
            "--- messages ---\n{}\n--- errors ---\n{}\n--- stdout ---\n{}",
            self.file("_messages.log"),
            self.file("_errors.log"),
            self.file("stdout.log")
        )
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs sipp and the voip-server binary"]
fn trunk_registers_with_digest_and_carries_an_outbound_call() {
    if !require_program("sipp") {
        return;
    }
    let carrier_port = free_udp_port();
    let mut carrier = Sipp::spawn(
        "carrier",
        "carrier.xml",
        &strings(&[
            "-p",
            &carrier_port.to_string(),
            "-m",
            "2",
            "-timeout",
            "60s",
            "-timeout_error",
        ]),
    );
    let bound = wait_for(Duration::from_secs(10), || {
        UdpSocket::bind(("127.0.0.1", carrier_port))
            .is_err()
            .then_some(())
    });
    assert!(bound.is_some(), "carrier sipp did not bind {carrier_port}");

    let config = format!(
        "{TEST_USERS}\n\
         [[trunks]]\n\
         name = \"carrier\"\n\
         target = \"127.0.0.1:{carrier_port}\"\n\
         username = \"trunkuser\"\n\
         password = \"trunkpass\"\n\
         expires = 300\n\
         from_user = \"5551000\"\n\
         prefix = \"9\"\n"
    );
    let mut server = Server::start_with_config(&config);

    // the carrier got the REGISTER with credentials and the server logged
    // the registration
    let registered = wait_for(Duration::from_secs(15), || {
        server.log().contains("trunk registered").then_some(())
    });
    let messages = carrier.file("_messages.log");
    assert!(
        registered.is_some(),
        "no trunk registration\n{}\n--- server ---\n{}",
        carrier.report(),
        server.log()
    );
    assert!(
        messages.contains("Authorization: Digest username=\"trunkuser\""),
        "{}",
        carrier.report()
    );

    let caller_port = free_udp_port();
    let mut caller = Sipp::spawn(
        "uac-1001",
        "uac.xml",
        &[
            server.addr("sip-udp").to_string(),
            "-key".into(),
            "ext".into(),
            "1001".into(),
            "-key".into(),
            "pass".into(),
            "secret1001".into(),
            "-key".into(),
            "callee".into(),
            "95551234".into(),
            "-auth_uri".into(),
            "95551234@localhost".into(),
            "-p".into(),
            caller_port.to_string(),
            "-m".into(),
            "1".into(),
            "-timeout".into(),
            "30s".into(),
            "-timeout_error".into(),
        ],
    );
    let caller_status = caller.wait(Duration::from_secs(45));
    let carrier_status = carrier.wait(Duration::from_secs(45));
    let messages = carrier.file("_messages.log");
    if std::env::var_os("VOIP_TEST_DUMP").is_some() {
        eprintln!("{messages}");
    }
    assert!(
        caller_status.is_some_and(|s| s.success()),
        "caller: {caller_status:?}\n{}\n--- carrier ---\n{}\n--- server ---\n{}",
        caller.report(),
        carrier.report(),
        server.log()
    );
    assert!(
        carrier_status.is_some_and(|s| s.success()),
        "carrier: {carrier_status:?}\n{}",
        carrier.report()
    );
    assert!(
        messages.contains(&format!(
            "INVITE sip:5551234@127.0.0.1:{carrier_port} SIP/2.0"
        )),
        "{messages}"
    );
    assert!(
        messages.contains(&format!(
            "P-Asserted-Identity: <sip:5551000@127.0.0.1:{carrier_port}>"
        )),
        "{messages}"
    );
    assert!(
        messages
            .matches("Authorization: Digest username=\"trunkuser\"")
            .count()
            >= 2,
        "the carrier's 401 on the INVITE was answered with the trunk's credentials\n{messages}"
    );
    assert!(server.is_running(), "voip-server died: {}", server.stderr());
    for line in messages.lines().filter(|l| {
        [
            "INVITE sip:",
            "REGISTER sip:",
            "From:",
            "P-Asserted-Identity:",
            "Authorization:",
        ]
        .iter()
        .any(|p| l.trim_start().starts_with(p))
    }) {
        eprintln!("carrier log: {}", line.trim());
    }
}
