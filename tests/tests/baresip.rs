//! Calls through voip-server between two baresip 1.0 phones (Debian package
//! `baresip`), headless, UDP on 127.0.0.1 only.
//!
//! - `baresip_call_register_dial_hangup`: 1001 and 1002 register with
//!   digest auth (baresip's `reginfo` shows `OK`, its log the server's
//!   `200 OK`); 1001 dials `sip:1002@127.0.0.1:PORT` through ctrl_tcp, the
//!   server challenges the INVITE (407), baresip answers it, the server
//!   forwards it to 1002's registered Contact, 1002 answers automatically,
//!   and both phones report `CALL_ESTABLISHED`; 1001 hangs up (BYE through
//!   the server) and both report `CALL_CLOSED`.
//!
//! The server runs with its default digest challenges (MD5 only): baresip
//! 1.0 (libre's digest code) fails to register ("Register: Function not
//! implemented") when a 401 offers SHA-256 at all, first or second.
//!
//! Media is not checked: the server does not relay RTP, the phones send it
//! to each other on loopback. The audio source is a WAV written here (1 s
//! of 440 Hz, then silence, 8 kHz mono 16-bit): baresip ends a call when
//! its source file runs out, so the file outlasts the call.
//!
//! Each phone runs with `-f DIR` (its own `config` and `accounts`), logs
//! to files in that dir (printed when the test fails) and is killed on
//! drop. Control is ctrl_tcp: netstrings `LEN:JSON,`, commands
//! `{"command":..,"params":..,"token":..}`, responses and events back.
//!
//! `cargo test -p voip-tests --test baresip -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use voip_tests::{Server, TEST_USERS, TempDir, require_program, wait_for};

/// Writes a 16-bit mono PCM WAV: `tone` seconds of 440 Hz, then silence up
/// to `total` seconds.
fn write_wav(path: &Path, rate: u32, tone: f64, total: f64) {
    let samples = (f64::from(rate) * total) as u32;
    let tone_samples = (f64::from(rate) * tone) as u32;
    let data_len = samples * 2;
    let mut bytes = Vec::with_capacity(44 + data_len as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    bytes.extend_from_slice(&1u16.to_le_bytes()); // PCM
    bytes.extend_from_slice(&1u16.to_le_bytes()); // mono
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 2).to_le_bytes()); // byte rate
    bytes.extend_from_slice(&2u16.to_le_bytes()); // block align
    bytes.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    for i in 0..samples {
        let sample = if i < tone_samples {
            let t = f64::from(i) / f64::from(rate);
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
        } else {
            0
        };
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Removes ANSI colour codes (`ESC [ ... m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The string value of `"key":"..."` in a flat JSON object (escapes kept
/// except `\"`, `\\` and `\/`; `\u001B` becomes ESC).
fn json_str(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let mut value = String::new();
    let mut chars = json[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    value.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// A baresip phone for one extension, killed on drop.
struct Phone {
    name: String,
    child: Child,
    dir: PathBuf,
    ctrl: SocketAddr,
}

impl Phone {
    /// Writes `DIR/config` and `DIR/accounts` and starts `baresip -f DIR`.
    fn start(work: &Path, ext: &str, password: &str, server: SocketAddr, wav: &Path) -> Self {
        let dir = work.join(ext);
        std::fs::create_dir_all(&dir).unwrap();
        let ctrl: SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
        let config = format!(
            "poll_method       epoll\n\
             sip_listen        127.0.0.1:0\n\
             net_interface     127.0.0.1\n\
             dns_server        127.0.0.1:53\n\
             audio_source      aufile,{wav}\n\
             ausrc_srate       8000\n\
             ausrc_channels    1\n\
             audio_buffer      20-160\n\
             rtp_ports         10000-49000\n\
             statmode_default  off\n\
             ringback_disabled yes\n\
             module_path       /usr/lib/baresip/modules\n\
             module            g711.so\n\
             module            aufile.so\n\
             module_tmp        account.so\n\
             module_app        menu.so\n\
             module_app        ctrl_tcp.so\n\
             ctrl_tcp_listen   {ctrl}\n",
            wav = wav.display()
        );
        std::fs::write(dir.join("config"), config).unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{ext}@{server};transport=udp>;auth_pass={password};regint=600;answermode=auto\n"
            ),
        )
        .unwrap();
        let stdout = File::create(dir.join("stdout.log")).unwrap();
        let stderr = File::create(dir.join("stderr.log")).unwrap();
        // -s: every SIP message in the log, for the failure report.
        let child = Command::new("baresip")
            .arg("-s")
            .arg("-f")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        Self {
            name: ext.to_owned(),
            child,
            dir,
            ctrl,
        }
    }

    /// stdout and stderr so far, colours removed.
    fn log(&self) -> String {
        let read = |file: &str| std::fs::read_to_string(self.dir.join(file)).unwrap_or_default();
        strip_ansi(&format!(
            "{}\n--- stderr ---\n{}",
            read("stdout.log"),
            read("stderr.log")
        ))
    }

    /// Connects to its ctrl_tcp port (it listens once baresip is up).
    fn connect(&mut self) -> Ctrl {
        let child = &mut self.child;
        let ctrl = self.ctrl;
        let stream = wait_for(Duration::from_secs(10), || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("baresip exited early with {status}");
            }
            TcpStream::connect_timeout(&ctrl, Duration::from_secs(1)).ok()
        })
        .unwrap_or_else(|| panic!("baresip {}: no ctrl_tcp on {ctrl} within 10 s", self.name));
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Ctrl {
            stream,
            buf: Vec::new(),
            events: Vec::new(),
            token: 0,
        }
    }
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A ctrl_tcp connection: netstring JSON commands, responses and events.
struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Every event received so far (raw JSON).
    events: Vec<String>,
    token: u32,
}

impl Ctrl {
    /// The next netstring, or None when `deadline` passes first.
    fn next_message(&mut self, deadline: Instant) -> Option<String> {
        loop {
            if let Some(colon) = self.buf.iter().position(|&b| b == b':') {
                let len: usize = std::str::from_utf8(&self.buf[..colon])
                    .ok()
                    .and_then(|n| n.trim().parse().ok())
                    .expect("netstring length");
                if self.buf.len() > colon + len + 1 {
                    let message =
                        String::from_utf8_lossy(&self.buf[colon + 1..colon + 1 + len]).into_owned();
                    self.buf.drain(..colon + len + 2);
                    return Some(message);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("ctrl_tcp connection closed"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("ctrl_tcp read: {e}"),
            }
        }
    }

    /// Sends a command and waits (5 s) for its response's `data`; events
    /// received meanwhile are kept.
    fn command(&mut self, command: &str, params: &str) -> String {
        self.token += 1;
        let token = self.token.to_string();
        let json =
            format!("{{\"command\":\"{command}\",\"params\":\"{params}\",\"token\":\"{token}\"}}");
        write!(self.stream, "{}:{json},", json.len()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Some(message) = self.next_message(deadline) {
            if message.contains("\"response\":true") {
                if json_str(&message, "token").as_deref() == Some(token.as_str()) {
                    assert!(
                        message.contains("\"ok\":true"),
                        "{command} {params} failed: {message}"
                    );
                    return strip_ansi(&json_str(&message, "data").unwrap_or_default());
                }
            } else {
                self.events.push(message);
            }
        }
        panic!("no response to {command} {params} within 5 s");
    }

    /// Waits up to `timeout` for an event of `kind` (also among those
    /// already received); returns it.
    fn wait_event(&mut self, kind: &str, timeout: Duration) -> Option<String> {
        let is = |event: &String| json_str(event, "type").as_deref() == Some(kind);
        if let Some(event) = self.events.iter().find(|e| is(e)) {
            return Some(event.clone());
        }
        let deadline = Instant::now() + timeout;
        while let Some(message) = self.next_message(deadline) {
            if message.contains("\"event\":true") {
                self.events.push(message.clone());
                if is(&message) {
                    return Some(message);
                }
            }
        }
        None
    }

    /// Polls `reginfo` until the account shows `OK` (registered).
    fn wait_registered(&mut self, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let info = self.command("reginfo", "");
            if info.lines().any(|line| line.contains(" OK ")) {
                return Ok(info);
            }
            if Instant::now() >= deadline {
                return Err(info);
            }
            // Waiting for the next event is the pause between polls.
            let _ = self.wait_event("REGISTER_OK", Duration::from_millis(200));
        }
    }
}

/// Prints the phones' and the server's logs when the test fails.
struct Report<'a> {
    phones: [&'a Phone; 2],
    server: &'a Server,
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for phone in self.phones {
                eprintln!("=== baresip {} ===\n{}", phone.name, phone.log());
            }
            eprintln!(
                "=== voip-server ===\n{}\n{}",
                self.server.log(),
                self.server.stderr()
            );
        }
    }
}

#[test]
#[ignore = "needs the server binary and baresip"]
fn baresip_call_register_dial_hangup() {
    if !require_program("baresip") {
        return;
    }
    // the server's defaults must suit baresip: no auth_algorithms key
    let config = TEST_USERS.replace("auth_algorithms = [\"MD5\"]\n", "");
    assert!(!config.contains("auth_algorithms"), "{config}");
    let server = Server::start_with_config(&config);
    let sip = server.addr("sip-udp");
    let work = TempDir::new("voip-baresip");
    let wav = work.path().join("tone.wav");
    write_wav(&wav, 8000, 1.0, 60.0);

    let mut callee = Phone::start(work.path(), "1002", "secret1002", sip, &wav);
    let mut caller = Phone::start(work.path(), "1001", "secret1001", sip, &wav);
    let mut callee_ctrl = callee.connect();
    let mut caller_ctrl = caller.connect();
    let report = Report {
        phones: [&caller, &callee],
        server: &server,
    };

    for (name, ctrl) in [("1002", &mut callee_ctrl), ("1001", &mut caller_ctrl)] {
        match ctrl.wait_registered(Duration::from_secs(15)) {
            Ok(info) => eprintln!("{name} registered:{info}"),
            Err(info) => panic!("{name} did not register within 15 s: {info}"),
        }
    }
    for phone in report.phones {
        let log = phone.log();
        assert!(
            log.contains("200 OK (voip-server"),
            "baresip {}: no 200 OK from the server in its log",
            phone.name
        );
    }

    caller_ctrl.command("dial", &format!("sip:1002@{sip}"));
    let established = Duration::from_secs(15);
    let caller_up = caller_ctrl.wait_event("CALL_ESTABLISHED", established);
    assert!(
        caller_up.is_some(),
        "1001: no CALL_ESTABLISHED within 15 s; events: {:?}",
        caller_ctrl.events
    );
    let callee_up = callee_ctrl.wait_event("CALL_ESTABLISHED", established);
    assert!(
        callee_up.is_some(),
        "1002: no CALL_ESTABLISHED within 15 s; events: {:?}",
        callee_ctrl.events
    );
    let incoming = callee_up.unwrap();
    assert_eq!(
        json_str(&incoming, "direction").as_deref(),
        Some("incoming")
    );
    assert!(
        json_str(&incoming, "peeruri").is_some_and(|uri| uri.starts_with("sip:1001@")),
        "1002 sees the call from 1001: {incoming}"
    );
    eprintln!("established:\n  {}\n  {incoming}", caller_up.unwrap());

    caller_ctrl.command("hangup", "");
    let closed = Duration::from_secs(15);
    let caller_closed = caller_ctrl.wait_event("CALL_CLOSED", closed);
    let callee_closed = callee_ctrl.wait_event("CALL_CLOSED", closed);
    assert!(
        callee_closed.is_some(),
        "1002: no CALL_CLOSED (BYE) within 15 s; events: {:?}",
        callee_ctrl.events
    );
    assert!(
        caller_closed.is_some(),
        "1001: no CALL_CLOSED within 15 s; events: {:?}",
        caller_ctrl.events
    );
    for event in [caller_closed.unwrap(), callee_closed.unwrap()] {
        eprintln!("closed: {event}");
        let reason = json_str(&event, "param").unwrap_or_default();
        assert!(
            !reason.contains("end of file") && !reason.contains("Not Found"),
            "the call ended for another reason than the hangup: {event}"
        );
    }
    // The INVITE was challenged and reached 1002 through the server
    // (Record-Route), and 1002 got the BYE.
    let (caller_log, callee_log) = (caller.log(), callee.log());
    assert!(
        caller_log.contains("SIP/2.0 407 Proxy Authentication Required"),
        "1001's INVITE was not challenged"
    );
    assert!(
        callee_log.contains("INVITE sip:") && callee_log.contains("Record-Route:"),
        "1002 got no record-routed INVITE"
    );
    assert!(callee_log.contains("BYE sip:"), "1002 received no BYE");
    drop(report);
}
