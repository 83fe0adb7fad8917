//! SIPVicious (Debian package `sipvicious` 0.3.x: `svwar`, `svcrack`)
//! against voip-server on UDP, 127.0.0.1 only.
//!
//! - `svwar_finds_no_extension`: `svwar -e1000-1010` (the configured
//!   extensions are 1001 to 1003) with REGISTER (the default), INVITE and
//!   OPTIONS, each with and without `--force`, reports no extension: the
//!   server challenges every REGISTER (401) and INVITE (407) the same way
//!   before it looks anything up, and answers every OPTIONS with 200, so
//!   the answer for an unknown extension equals the one for a real one.
//! - `svcrack_is_stopped_by_the_ban`: with `auth_max_failures = 5` and
//!   `auth_ban_seconds = 600`, `svcrack -u 1001` with 30 wrong passwords
//!   and then the right one does not find it: after 5 failures 127.0.0.1
//!   is banned and its packets are dropped (`sip_banned_dropped_total` on
//!   /metrics), while 127.0.0.2 is still answered. The control run against
//!   a server that allows 1000 failures finds the password with the same
//!   wordlist, so the ban is what stops it. MD5 only (`TEST_USERS`):
//!   svcrack computes MD5 responses whatever the challenge says.
//!
//! Each tool gets its own local port (`-b 127.0.0.1 -P PORT`): the server
//! retransmits its 407 to an INVITE until the ACK that svwar never sends
//! (Timer G, up to Timer H = 32 s), and a later run on the same port would
//! count that stale 407 as an extension that exists.
//!
//! `cargo test -p voip-tests --test sipvicious -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use voip_tests::{
    Server, TEST_USERS, TempDir, free_udp_port, options_request, require_program, status_of,
    wait_for,
};

/// A SIPVicious run: the process, killed on drop, and its output file.
struct Tool {
    name: String,
    child: Child,
    output: std::path::PathBuf,
}

impl Tool {
    /// Runs `program ARGS udp://SERVER` with stdout and stderr into one file
    /// of `dir`, bound to 127.0.0.1 and a fresh local port.
    fn spawn(dir: &Path, name: &str, program: &str, args: &[&str], server: SocketAddr) -> Self {
        let output = dir.join(format!("{name}.log"));
        let file = File::create(&output).unwrap();
        let port = free_udp_port().to_string();
        let child = Command::new(program)
            .args(["-b", "127.0.0.1", "-P", &port])
            .args(args)
            .arg(format!("udp://{server}"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap();
        Self {
            name: name.to_owned(),
            child,
            output,
        }
    }

    /// Waits (at most `timeout`) for the exit and returns the output.
    fn finish(mut self, timeout: Duration) -> String {
        let status = wait_for(timeout, || self.child.try_wait().unwrap());
        let output = std::fs::read_to_string(&self.output).unwrap_or_default();
        assert!(
            status.is_some(),
            "{} still running after {timeout:?}:\n{output}",
            self.name
        );
        eprintln!("--- {} ({}) ---\n{output}", self.name, status.unwrap());
        output
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The rows of SIPVicious's result table (`| 1001 | reqauth |`), header
/// excluded, as cells.
fn table_rows(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .filter(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.first().is_some_and(|c| c != "Extension"))
        .collect()
}

/// `GET path` on the server's HTTP listener; the body.
fn http_get(server: &Server, path: &str) -> String {
    let mut stream =
        TcpStream::connect_timeout(&server.addr("http"), Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    match response.split_once("\r\n\r\n") {
        Some((_, body)) => body.to_owned(),
        None => response,
    }
}

/// A counter's value (summed over labels) on /metrics.
fn metric(server: &Server, name: &str) -> u64 {
    http_get(server, "/metrics")
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|value| value as u64)
        .sum()
}

/// Sends an OPTIONS from `local` (an IP address, port 0) and waits up to
/// `timeout` for the answer's status.
fn options_from(local: &str, server: SocketAddr, timeout: Duration) -> Option<u16> {
    let socket = UdpSocket::bind((local, 0)).unwrap();
    let me = socket.local_addr().unwrap();
    let request = options_request("UDP", me, server, &format!("probe{}", me.port()));
    socket.send_to(request.as_bytes(), server).unwrap();
    socket.set_read_timeout(Some(timeout)).unwrap();
    let mut buf = [0u8; 4096];
    match socket.recv_from(&mut buf) {
        Ok((len, _)) => status_of(&buf[..len]),
        Err(_) => None,
    }
}

#[test]
#[ignore = "needs the server binary and sipvicious"]
fn svwar_finds_no_extension() {
    if !require_program("svwar") {
        return;
    }
    let server = Server::start_with_config(TEST_USERS);
    let sip = server.addr("sip-udp");
    let work = TempDir::new("voip-svwar");
    for method in ["REGISTER", "INVITE", "OPTIONS"] {
        for force in [false, true] {
            let name = format!("svwar-{method}{}", if force { "-force" } else { "" });
            let mut args = vec!["-vv", "-e1000-1010", "-m", method, "--maximumtime", "5"];
            if force {
                args.push("--force");
            }
            let output = Tool::spawn(work.path(), &name, "svwar", &args, sip)
                .finish(Duration::from_secs(60));
            assert!(
                !output.contains("No server response") && !output.contains("Traceback"),
                "{name}: svwar got no answer or crashed:\n{output}"
            );
            let rows = table_rows(&output);
            assert!(
                rows.is_empty(),
                "{name}: svwar found extensions {rows:?}:\n{output}\n--- server log ---\n{}",
                server.log()
            );
            assert!(
                output.contains("found nothing"),
                "{name}: no \"found nothing\":\n{output}"
            );
            if method == "OPTIONS" {
                // The OPTIONS scan really asked for the real extensions.
                for ext in ["1001", "1002", "1003"] {
                    assert!(
                        output.contains(&format!("sending request for {ext}")),
                        "{name}: never asked for {ext}:\n{output}"
                    );
                }
            }
        }
    }
}

#[test]
#[ignore = "needs the server binary and sipvicious"]
fn svcrack_is_stopped_by_the_ban() {
    if !require_program("svcrack") {
        return;
    }
    let work = TempDir::new("voip-svcrack");
    let wordlist = work.path().join("passwords.txt");
    let mut words: Vec<String> = (1..=30).map(|i| format!("wrong{i}")).collect();
    words.push("secret1001".to_owned());
    std::fs::write(&wordlist, words.join("\n") + "\n").unwrap();
    let wordlist = wordlist.to_str().unwrap().to_owned();
    let args = ["-v", "-u", "1001", "-d", &wordlist, "--maximumtime", "5"];

    // Control: without an effective ban svcrack finds the password.
    let lenient = Server::start_with_config(&format!(
        "auth_max_failures = 1000\nauth_ban_seconds = 600\n{TEST_USERS}"
    ));
    let output = Tool::spawn(
        work.path(),
        "svcrack-control",
        "svcrack",
        &args,
        lenient.addr("sip-udp"),
    )
    .finish(Duration::from_secs(120));
    let rows = table_rows(&output);
    assert_eq!(
        rows,
        vec![vec!["1001".to_owned(), "secret1001".to_owned()]],
        "control: svcrack should crack 1001 when nothing bans it:\n{output}"
    );
    drop(lenient);

    // With the ban: 5 failures, then 127.0.0.1 is dropped.
    let server = Server::start_with_config(&format!(
        "auth_max_failures = 5\nauth_ban_seconds = 600\n{TEST_USERS}"
    ));
    let sip = server.addr("sip-udp");
    assert_eq!(
        options_from("127.0.0.1", sip, Duration::from_secs(5)),
        Some(200),
        "OPTIONS before the attack"
    );
    let output = Tool::spawn(work.path(), "svcrack-banned", "svcrack", &args, sip)
        .finish(Duration::from_secs(120));
    let rows = table_rows(&output);
    assert!(
        rows.is_empty(),
        "svcrack cracked {rows:?} despite the ban:\n{output}"
    );
    assert!(!output.contains("Traceback"), "svcrack crashed:\n{output}");
    let dropped = metric(&server, "sip_banned_dropped_total");
    eprintln!("sip_banned_dropped_total = {dropped}");
    assert!(dropped > 0, "no banned packets dropped on /metrics");
    assert_eq!(
        options_from("127.0.0.1", sip, Duration::from_secs(1)),
        None,
        "127.0.0.1 is banned: its OPTIONS must be dropped"
    );
    assert_eq!(
        options_from("127.0.0.2", sip, Duration::from_secs(5)),
        Some(200),
        "another address (127.0.0.2) must still be answered"
    );
    assert!(
        metric(&server, "sip_banned_dropped_total") > dropped,
        "the banned OPTIONS was not counted as dropped"
    );
}
