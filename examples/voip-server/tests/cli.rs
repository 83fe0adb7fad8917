//! The binary's start-up contract: one line on stderr and exit status 2 for
//! user errors; ports.json lists the bound addresses; SIGTERM exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_voip-server");

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("voip-server-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn loopback_args(data: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--sip-udp",
        "127.0.0.1:0",
        "--sip-tcp",
        "127.0.0.1:0",
        "--sip-ws",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--tts-http",
        "127.0.0.1:0",
        "--data-dir",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(data.display().to_string());
    args
}

/// Starts the server and waits (deadline 20 s) for ports.json.
fn start(data: &Path) -> (Running, String) {
    let child = Command::new(BIN)
        .args(loopback_args(data))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut running = Running(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(data.join("ports.json")) {
            return (running, text);
        }
        assert!(
            running.0.try_wait().unwrap().is_none(),
            "server exited early"
        );
        assert!(Instant::now() < deadline, "no ports.json within 20 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn port_of(ports: &str, name: &str) -> String {
    ports
        .lines()
        .find(|line| line.contains(&format!("\"{name}\"")))
        .and_then(|line| line.rsplit('"').nth(1))
        .unwrap_or_else(|| panic!("no {name} in {ports}"))
        .to_owned()
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn one_line_error(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(
        stderr.lines().count(),
        1,
        "stderr is not one line: {stderr:?}"
    );
    assert!(stderr.starts_with("voip-server: "), "{stderr:?}");
    stderr.trim_end().to_owned()
}

#[test]
fn second_server_on_the_same_port_fails_with_one_line() {
    let scratch = Scratch::new("busy");
    let (_first, ports) = start(&scratch.0.join("one"));
    let udp = port_of(&ports, "sip-udp");
    let two = scratch.0.join("two");
    let output = run(&[
        "--sip-udp",
        &udp,
        "--sip-tcp",
        "127.0.0.1:0",
        "--sip-ws",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--data-dir",
        two.to_str().unwrap(),
    ]);
    let line = one_line_error(&output);
    assert_eq!(
        line,
        format!(
            "voip-server: cannot listen for SIP over UDP on {udp}: address already in use (another process holds it; pick another with --sip-udp ADDR)"
        )
    );

    let http = port_of(&ports, "http");
    let output = run(&[
        "--sip-udp",
        "127.0.0.1:0",
        "--sip-tcp",
        "127.0.0.1:0",
        "--sip-ws",
        "127.0.0.1:0",
        "--http",
        &http,
        "--data-dir",
        two.to_str().unwrap(),
    ]);
    let line = one_line_error(&output);
    assert!(
        line.contains(&format!(
            "cannot listen for HTTP on {http}: address already in use"
        )),
        "{line}"
    );
    assert!(line.contains("--http ADDR"), "{line}");
}

#[test]
fn config_mistakes_exit_2_with_one_line() {
    let scratch = Scratch::new("config");
    let file = scratch.0.join("server.toml");
    std::fs::write(&file, "http = \"127.0.0.1:0\"\nsip_upd = \"127.0.0.1:0\"\n").unwrap();
    let line = one_line_error(&run(&["--config", file.to_str().unwrap()]));
    assert!(line.contains("line 2"), "{line}");
    assert!(line.contains("unknown field `sip_upd`"), "{line}");

    let line = one_line_error(&run(&["--sip-tcp", "nowhere:5060"]));
    assert!(line.contains("invalid address for --sip-tcp"), "{line}");

    let missing = scratch.0.join("missing.toml");
    let line = one_line_error(&run(&["--config", missing.to_str().unwrap()]));
    assert!(line.contains("cannot read config file"), "{line}");

    // A data dir below a regular file cannot be created.
    let blocker = scratch.0.join("file");
    std::fs::write(&blocker, "").unwrap();
    let args = loopback_args(&blocker.join("data"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let line = one_line_error(&run(&args));
    assert!(line.contains("cannot use data dir"), "{line}");
    assert!(line.contains("--data-dir DIR"), "{line}");
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let scratch = Scratch::new("term");
    let data = scratch.0.join("data");
    let (mut running, ports) = start(&data);
    let http = port_of(&ports, "http");
    // healthz over a raw HTTP/1.1 request
    let mut stream = std::net::TcpStream::connect(&http).unwrap();
    use std::io::{Read, Write};
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.ends_with("ok"), "{reply}");

    let status = Command::new("kill")
        .args(["-TERM", &running.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = running.0.try_wait().unwrap() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "no exit within 20 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(code, Some(0));
    assert!(!data.join("ports.json").exists(), "ports.json left behind");
}
