//! Load: sipp sends 10,000 OPTIONS at 1,000/s over UDP; every one must get a
//! 200. Needs the server binary and sipp (`sip-tester`):
//! `cargo test -p voip-tests -- --include-ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use voip_tests::{Server, TempDir, repo_root, require_program};

#[test]
#[ignore = "needs the voip-server binary and sipp; run with --include-ignored"]
fn sipp_options_load_10k_at_1k_per_second() {
    if !require_program("sipp") {
        return;
    }
    let mut server = Server::start();
    let target = server.addr("sip-udp");
    let work = TempDir::new("voip-sipp");
    let scenario = repo_root().join("tests/sipp/options.xml");
    let output = Command::new("sipp")
        .current_dir(work.path())
        .arg(target.to_string())
        .arg("-sf")
        .arg(&scenario)
        .args(["-t", "u1", "-i", "127.0.0.1", "-p", "0"])
        .args(["-m", "10000", "-r", "1000", "-l", "2000"])
        // Ends the run even if answers stop; a timeout is a failure.
        .args(["-timeout", "60s", "-timeout_error"])
        .args(["-nostdin", "-trace_err", "-trace_screen"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: String = std::fs::read_dir(work.path())
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let name = path.file_name()?.to_string_lossy().into_owned();
            name.contains("errors")
                .then(|| std::fs::read_to_string(&path).unwrap_or_default())
        })
        .collect();
    let screen: String = std::fs::read_dir(work.path())
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            path.to_string_lossy()
                .ends_with("_screen.log")
                .then(|| std::fs::read_to_string(&path).unwrap_or_default())
        })
        .collect();
    assert!(
        server.is_running(),
        "voip-server died under load: {}",
        server.stderr()
    );
    assert!(
        output.status.success(),
        "sipp exited with {}: not every OPTIONS got a 200\n--- screen ---\n{}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- first errors ---\n{}",
        output.status,
        tail(&screen, 40),
        tail(&stdout, 20),
        tail(&stderr, 20),
        errors.chars().take(2000).collect::<String>()
    );
    assert!(
        screen.is_empty() || screen.contains("Successful call"),
        "no statistics in sipp's screen log: {screen}"
    );
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
