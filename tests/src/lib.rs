//! Shared harness for the cross-crate and interop tests.
//!
//! - [`Server::start`] runs the `voip-server` binary on loopback with every
//!   port 0 and a fresh data dir, then waits (with a deadline) for the
//!   server's `DATA_DIR/ports.json`, which it writes once every listener is
//!   bound. The process is killed when the [`Server`] drops.
//! - [`Server::start_with_config`] does the same with a TOML config file
//!   (users, domain, ...) written into that data dir; [`TEST_USERS`] is the
//!   config of the call tests (extensions 1001 to 1003, domain `localhost`).
//! - `VOIP_TEST_SERVER_LOG=FILTER` (e.g. `debug`) starts every server with
//!   `--log FILTER`; its log is in the temp dir, see [`Server::log`].
//! - [`server_bin`] finds the binary: `VOIP_SERVER_BIN` (relative paths are
//!   relative to the repository root), else the newer of
//!   `target/release/voip-server` and `target/debug/voip-server`.
//! - [`require_program`] skips a test locally when a peer program is missing
//!   but panics under `CI=true`, so CI never passes by skipping.
//! - [`corpus_dir`] is `VOIP_CORPUS_DIR`, else `<repo>/../shared/corpus`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod baresip;
pub mod browser;
pub mod postgres;
pub mod rtp_probe;
pub mod sipp;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The repository root (the workspace).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// The shared test corpus: `VOIP_CORPUS_DIR`, else `<repo>/../shared/corpus`.
pub fn corpus_dir() -> PathBuf {
    match std::env::var_os("VOIP_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/corpus"),
    }
}

/// True when running under CI (`CI=true`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// The server binary to test.
pub fn server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("VOIP_SERVER_BIN") {
        let bin = PathBuf::from(bin);
        let bin = if bin.is_relative() {
            repo_root().join(bin)
        } else {
            bin
        };
        assert!(
            bin.is_file(),
            "VOIP_SERVER_BIN={} does not exist",
            bin.display()
        );
        return bin;
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let mut found: Vec<(SystemTime, PathBuf)> = ["release", "debug"]
        .iter()
        .map(|profile| target.join(profile).join("voip-server"))
        .filter_map(|path| {
            let modified = path.metadata().and_then(|m| m.modified()).ok()?;
            Some((modified, path))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, path)) => path,
        None => panic!(
            "no voip-server binary: run `cargo build --release -p voip-server` or set VOIP_SERVER_BIN"
        ),
    }
}

/// Whether `program` is on PATH. Missing: false (skip) locally, a panic in CI.
pub fn require_program(program: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()));
    if !found {
        assert!(
            !in_ci(),
            "{program} is not installed but CI=true: add it to scripts/setup.sh"
        );
        eprintln!("skipping: {program} is not installed (bash scripts/setup.sh installs it)");
    }
    found
}

/// Polls `condition` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut condition: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = condition() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty directory under the system temp dir.
    pub fn new(prefix: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Parses the server's `ports.json` (`{"sip-udp": "127.0.0.1:1234", ...}`).
pub fn parse_ports(text: &str) -> HashMap<String, SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split('"');
            let _ = parts.next()?;
            let name = parts.next()?;
            let _ = parts.next()?;
            let addr = parts.next()?.parse().ok()?;
            Some((name.to_owned(), addr))
        })
        .collect()
}

/// A running `voip-server`, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    ports: HashMap<String, SocketAddr>,
    dir: TempDir,
    config: Option<String>,
    extra: Vec<String>,
}

impl Server {
    /// Starts the server on loopback with port 0 everywhere.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts the server with extra arguments after the defaults.
    pub fn start_with(extra: &[&str]) -> Self {
        Self::spawn(None, extra)
    }

    /// Starts the server with a config file and extra arguments.
    pub fn start_with_config_and(toml: &str, extra: &[&str]) -> Self {
        Self::spawn(Some(toml), extra)
    }

    /// Kills the server with SIGKILL (no clean shutdown), then starts it
    /// again with the same config, arguments, data dir and SIP UDP port
    /// (phones keep sending there); the other ports are new.
    pub fn kill_and_restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let udp = self.addr("sip-udp").to_string();
        let data = self.dir.path().join("data");
        let _ = std::fs::remove_file(data.join("ports.json"));
        let (child, ports) = launch(self.dir.path(), self.config.as_deref(), &self.extra, &udp);
        self.child = child;
        self.ports = ports;
    }

    /// Starts the server with `toml` as its `--config` file (written into
    /// the server's temp dir); the listeners are still loopback port 0.
    pub fn start_with_config(toml: &str) -> Self {
        Self::spawn(Some(toml), &[])
    }

    fn spawn(config: Option<&str>, extra: &[&str]) -> Self {
        let dir = TempDir::new("voip-server-test");
        let extra = strings(extra);
        let (child, ports) = launch(dir.path(), config, &extra, "127.0.0.1:0");
        Self {
            child,
            ports,
            dir,
            config: config.map(str::to_owned),
            extra,
        }
    }

    /// The bound address of a listener: `sip-udp`, `sip-tcp`, `sip-ws`, `http`.
    pub fn addr(&self, listener: &str) -> SocketAddr {
        match self.ports.get(listener) {
            Some(addr) => *addr,
            None => panic!("no {listener} listener in {:?}", self.ports),
        }
    }

    /// The process id (for /proc readings in benches).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The server's temp dir (config, `stdout.log`, `stderr.log`, data).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// What the server logged so far (stdout).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary in `dir` (config file, logs, `data/`) and waits for
/// its ports.json.
fn launch(
    dir: &Path,
    config: Option<&str>,
    extra: &[String],
    sip_udp: &str,
) -> (Child, HashMap<String, SocketAddr>) {
    let data = dir.join("data");
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if let Some(toml) = config {
        let file = dir.join("voip-server.toml");
        std::fs::write(&file, toml).unwrap();
        args.push("--config".into());
        args.push(file.into());
    }
    if let Ok(filter) = std::env::var("VOIP_TEST_SERVER_LOG") {
        args.push("--log".into());
        args.push(filter.into());
    }
    // append: a restarted server's lines follow the killed one's
    let log = |name: &str| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(name))
            .unwrap()
    };
    let stdout = log("stdout.log");
    let stderr = log("stderr.log");
    let mut child = Command::new(server_bin())
        .args([
            "--sip-udp",
            sip_udp,
            "--sip-tcp",
            "127.0.0.1:0",
            "--sip-ws",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--tts-http",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(&data)
        .args(&args)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    let ports_file = data.join("ports.json");
    let ports = wait_for(Duration::from_secs(30), || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "voip-server exited with {status}: {}",
                std::fs::read_to_string(dir.join("stderr.log")).unwrap_or_default()
            );
        }
        let ports = parse_ports(&std::fs::read_to_string(&ports_file).ok()?);
        (!ports.is_empty()).then_some(ports)
    });
    let Some(ports) = ports else {
        let _ = child.kill();
        panic!(
            "voip-server did not write {} within 30 s",
            ports_file.display()
        );
    };
    (child, ports)
}

/// The config of the call tests: domain `localhost`, MD5 digest only, and
/// extensions 1001, 1002 and 1003 (password `secret<extension>`).
pub const TEST_USERS: &str = r#"domain = "localhost"
# sipp 3.6 answers only the first challenge and knows only MD5
auth_algorithms = ["MD5"]

[[users]]
extension = "1001"
password = "secret1001"
display_name = "Test 1001"

[[users]]
extension = "1002"
password = "secret1002"
display_name = "Test 1002"

[[users]]
extension = "1003"
password = "secret1003"
"#;

/// A minimal SIP OPTIONS request from `local` to `server` over `transport`
/// (`UDP` or `TCP`).
pub fn options_request(
    transport: &str,
    local: SocketAddr,
    server: SocketAddr,
    tag: &str,
) -> String {
    format!(
        "OPTIONS sip:{server} SIP/2.0\r\n\
         Via: SIP/2.0/{transport} {local};branch=z9hG4bK{tag};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:test@{local}>;tag={tag}\r\n\
         To: <sip:{server}>\r\n\
         Call-ID: {tag}@voip-tests\r\n\
         CSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// The status code of a response's start line.
pub fn status_of(response: &[u8]) -> Option<u16> {
    let rest = response.strip_prefix(b"SIP/2.0 ")?;
    std::str::from_utf8(rest.get(..3)?).ok()?.parse().ok()
}

/// A UDP port on 127.0.0.1 that was free a moment ago (sipp's `-p 0`
/// means 5060, so tests pick ports themselves).
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free UDP port on 127.0.0.1: {e}"))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free TCP port on 127.0.0.1: {e}"))
}

/// Waits until `/api/agents` shows `extension` online (its registration
/// reached the IVR's view); fails the test after 10 s.
pub fn wait_agent_online(server: &Server, extension: &str) {
    let want = format!("\"extension\":\"{extension}\",\"status\":\"online\"");
    let online = wait_for(Duration::from_secs(10), || {
        let (_, body) = http_get(server.addr("http"), "/api/agents");
        body.contains(&want).then_some(())
    });
    assert!(
        online.is_some(),
        "agent {extension} not online: {}",
        http_get(server.addr("http"), "/api/agents").1
    );
}

/// `GET path` over HTTP/1.1 to `addr`; returns (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (status, body) = http_request(addr, "GET", path, None);
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// One HTTP/1.1 request (`Connection: close`) with an optional
/// `(content type, body)`; returns (status, body bytes).
pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<(&str, &[u8])>,
) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((content_type, body)) = body {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    if let Some((_, body)) = body {
        bytes.extend_from_slice(body);
    }
    stream.write_all(&bytes).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(response.len());
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response.get(split + 4..).unwrap_or_default().to_vec();
    (status, body)
}

/// Owned copies of command-line arguments.
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// The concatenated contents of the files in `dir` whose names end with
/// `suffix` (sipp names its logs `<scenario>_<pid>_messages.log` and so on).
pub fn files_ending(dir: &Path, suffix: &str) -> String {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return String::new();
    };
    entries
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            path.to_string_lossy()
                .ends_with(suffix)
                .then(|| std::fs::read_to_string(&path).unwrap_or_default())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_file_parses() {
        let ports =
            parse_ports("{\n  \"sip-udp\": \"127.0.0.1:5060\",\n  \"http\": \"[::1]:3000\"\n}\n");
        assert_eq!(ports["sip-udp"], "127.0.0.1:5060".parse().unwrap());
        assert_eq!(ports["http"], "[::1]:3000".parse().unwrap());
    }

    #[test]
    fn status_line() {
        assert_eq!(status_of(b"SIP/2.0 200 OK\r\n"), Some(200));
        assert_eq!(status_of(b"OPTIONS sip:x SIP/2.0\r\n"), None);
    }
}
