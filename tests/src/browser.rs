//! Headless Debian Chromium on the server's softphone page, for the
//! `browser_*` interop tests. Facts behind the choices:
//! /work/shared/notes/browser-testing.md.
//!
//! - [`require_browser`] checks chromium, node, the driver's npm packages
//!   (`npm ci` in tests/browser) and the built softphone (`npm ci` in
//!   web/softphone): skip locally, panic under `CI=true`.
//! - [`in_private_netns`] re-runs the current test inside `unshare --net`
//!   with only `lo` up, so the server, Chromium and every peer share one
//!   loopback and Chromium has no other address to send from.
//! - [`Browser::start`] runs `node tests/browser/drive.mjs` (playwright-core
//!   driving `/usr/bin/chromium`, fake microphone from a WAV) and speaks its
//!   JSON-lines protocol: [`Browser::open`], [`Browser::register`],
//!   [`Browser::call`], [`Browser::wait_media`] and so on. Killed on drop.
//! - [`write_tone_wav`] renders the fake microphone.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{in_ci, repo_root, require_program};

/// Set in the re-run inside the network namespace.
const NETNS_ENV: &str = "VOIP_TEST_IN_NETNS";

/// Whether everything the browser tests need is there: `false` (skip)
/// locally when something is missing, a panic under `CI=true`.
pub fn require_browser() -> bool {
    if !(require_program("chromium") && require_program("node")) {
        return false;
    }
    let root = repo_root();
    for (path, what) in [
        (
            root.join("tests/browser/node_modules/playwright-core/package.json"),
            "the driver's npm packages (run `npm ci` in tests/browser)",
        ),
        (
            root.join("web/softphone/dist/index.html"),
            "the built softphone (run `npm ci` in web/softphone)",
        ),
    ] {
        if !path.is_file() {
            assert!(
                !in_ci(),
                "{} is missing but CI=true: {what}; bash scripts/setup.sh does both",
                path.display()
            );
            eprintln!("skipping: {} is missing: {what}", path.display());
            return false;
        }
    }
    true
}

/// Runs the test `test` (its full name, as `cargo test` prints it) again
/// in a private network namespace with only `lo` up, and asserts that it
/// passed. In the parent this returns `true` (the test is done: return);
/// inside the namespace it brings `lo` up and returns `false` (go on).
///
/// Where `unshare --net` is not allowed (not root), the test is skipped
/// locally and fails under `CI=true`: in the host namespace Chromium may
/// send from the machine's external address to a loopback candidate.
pub fn in_private_netns(test: &str) -> bool {
    if std::env::var_os(NETNS_ENV).is_some() {
        let up = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status();
        assert!(
            up.is_ok_and(|s| s.success()),
            "`ip link set lo up` failed inside the network namespace"
        );
        return false;
    }
    let allowed = Command::new("unshare")
        .args(["--net", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !allowed {
        assert!(
            !in_ci(),
            "`unshare --net` is not allowed but CI=true: run the browser tests as root"
        );
        eprintln!("skipping: `unshare --net` is not allowed here (run as root)");
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let status = Command::new("unshare")
        .arg("--net")
        .arg(exe)
        .args([test, "--exact", "--ignored", "--nocapture"])
        .arg("--test-threads=1")
        .env(NETNS_ENV, "1")
        .status()
        .expect("run the test under unshare --net");
    assert!(
        status.success(),
        "{test} failed inside the network namespace ({status}); its output is above"
    );
    true
}

/// Writes `seconds` of a `hz` sine (amplitude 8000 of 32767) as 48 kHz
/// 16-bit mono PCM: Chromium's fake microphone loops it.
pub fn write_tone_wav(path: &Path, hz: f64, seconds: f64) {
    let samples = crate::baresip::tone(48_000, hz, 8000.0, seconds, seconds);
    crate::baresip::write_wav(path, 48_000, &samples);
}

/// The softphone's URL on a server's HTTP listener.
pub fn softphone_url(http: SocketAddr) -> String {
    format!("http://{http}/softphone/")
}

/// `node tests/browser/drive.mjs`: one headless Chromium, pages by name.
#[derive(Debug)]
pub struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<String>,
}

/// How long a command may take beyond its own timeout.
const MARGIN: Duration = Duration::from_secs(20);

impl Browser {
    /// Starts the driver with `fake_audio` as every page's microphone and
    /// waits (30 s at most) until Chromium is up.
    pub fn start(fake_audio: &Path) -> Self {
        let driver = repo_root().join("tests/browser/drive.mjs");
        let mut child = Command::new("node")
            .arg(&driver)
            .arg("--audio")
            .arg(fake_audio)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node tests/browser/drive.mjs");
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let (tx, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut browser = Self {
            child,
            stdin,
            replies,
        };
        let ready = browser.reply(Duration::from_secs(30));
        assert_eq!(ready["ready"], true, "the driver did not start: {ready}");
        eprintln!("browser: Chromium {}", ready["version"]);
        browser
    }

    fn reply(&mut self, timeout: Duration) -> Value {
        match self.replies.recv_timeout(timeout) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("the driver printed {line:?}, not JSON: {e}")),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                panic!("the browser driver did not answer within {timeout:?}")
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                panic!("the browser driver exited ({status:?}); its stderr is above")
            }
        }
    }

    /// Sends one command and returns the reply, `ok` true or false.
    pub fn request(&mut self, command: Value) -> Value {
        let timeout = command["timeout_ms"]
            .as_u64()
            .map(Duration::from_millis)
            .unwrap_or(Duration::from_secs(15))
            + MARGIN;
        let stdin = self.stdin.as_mut().expect("the driver's stdin is open");
        writeln!(stdin, "{command}").expect("write to the browser driver");
        stdin.flush().expect("flush the browser driver's stdin");
        self.reply(timeout)
    }

    /// [`Browser::request`], panicking with the driver's error when not ok.
    pub fn ok(&mut self, command: Value) -> Value {
        let reply = self.request(command.clone());
        assert_eq!(
            reply["ok"], true,
            "browser command {command} failed: {reply}"
        );
        reply
    }

    /// Opens the page `page` at `url` in a fresh context (microphone
    /// allowed) and waits until it has read its settings.
    pub fn open(&mut self, page: &str, url: &str) -> Value {
        self.ok(json!({"cmd": "open", "page": page, "url": url}))["state"].clone()
    }

    /// Fills extension and password, clicks Register, and returns the page
    /// state once it says registered or failed (15 s at most).
    pub fn register(&mut self, page: &str, extension: &str, password: &str) -> Value {
        self.ok(json!({
            "cmd": "register", "page": page, "extension": extension,
            "password": password, "timeout_ms": 15_000,
        }))["state"]
            .clone()
    }

    /// Dials `target` (an extension).
    pub fn call(&mut self, page: &str, target: &str) -> Value {
        self.ok(json!({"cmd": "call", "page": page, "target": target}))["state"].clone()
    }

    /// Waits until the page's call status is one of `states` (`incoming`,
    /// `ringing`, `active`, `ended`, `failed`, ...) and returns the state.
    pub fn wait_call(&mut self, page: &str, states: &[&str], timeout: Duration) -> Value {
        self.ok(json!({
            "cmd": "wait_call", "page": page, "states": states,
            "timeout_ms": timeout.as_millis() as u64,
        }))["state"]
            .clone()
    }

    /// Clicks Answer.
    pub fn answer(&mut self, page: &str) -> Value {
        self.ok(json!({"cmd": "answer", "page": page}))["state"].clone()
    }

    /// Clicks Hang up.
    pub fn hangup(&mut self, page: &str) -> Value {
        self.ok(json!({"cmd": "hangup", "page": page}))["state"].clone()
    }

    /// Clicks the keypad keys of `tones`, one after the other went out.
    pub fn dtmf(&mut self, page: &str, tones: &str) -> Value {
        self.ok(json!({"cmd": "dtmf", "page": page, "tones": tones}))["state"].clone()
    }

    /// `window.softphone.state()`.
    pub fn state(&mut self, page: &str) -> Value {
        self.ok(json!({"cmd": "state", "page": page}))["state"].clone()
    }

    /// The getStats() summary of the page's call: `inbound`
    /// (`packetsReceived`, `totalAudioEnergy`, `codec`, ...), `outbound`,
    /// `dtlsState`, `selectedPair` (`local`/`remote` `address`/`port`).
    pub fn stats(&mut self, page: &str) -> Value {
        self.ok(json!({"cmd": "stats", "page": page}))["stats"].clone()
    }

    /// Polls getStats until inbound `packetsReceived > packets_above` and
    /// `totalAudioEnergy > energy_above`: `Ok(stats)`, or `Err(the last
    /// stats)` when `timeout` passes first.
    pub fn wait_media(
        &mut self,
        page: &str,
        packets_above: u64,
        energy_above: f64,
        timeout: Duration,
    ) -> Result<Value, Value> {
        let reply = self.request(json!({
            "cmd": "wait_media", "page": page, "packets_above": packets_above,
            "energy_above": energy_above, "timeout_ms": timeout.as_millis() as u64,
        }));
        if reply["ok"] == true {
            Ok(reply["stats"].clone())
        } else {
            Err(reply)
        }
    }

    /// Closes the page's context (its call ends with it).
    pub fn close(&mut self, page: &str) {
        self.ok(json!({"cmd": "close", "page": page}));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "{}", json!({"cmd": "quit"}));
        }
        let quit = crate::wait_for(Duration::from_secs(10), || {
            self.child.try_wait().ok().flatten()
        });
        if quit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The inbound packet count in a [`Browser::stats`] summary.
pub fn packets_received(stats: &Value) -> u64 {
    stats["inbound"]["packetsReceived"].as_u64().unwrap_or(0)
}

/// The inbound `totalAudioEnergy` in a [`Browser::stats`] summary.
pub fn audio_energy(stats: &Value) -> f64 {
    stats["inbound"]["totalAudioEnergy"].as_f64().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_readers_take_the_inbound_counters() {
        let stats = json!({"inbound": {"packetsReceived": 72, "totalAudioEnergy": 0.0033}});
        assert_eq!(packets_received(&stats), 72);
        assert!((audio_energy(&stats) - 0.0033).abs() < 1e-12);
        // no call yet: stats is null
        assert_eq!(packets_received(&Value::Null), 0);
        assert_eq!(audio_energy(&Value::Null), 0.0);
    }

    #[test]
    fn the_fake_microphone_is_a_48_khz_tone() {
        let dir = crate::TempDir::new("voip-browser-wav");
        let path = dir.path().join("tone.wav");
        write_tone_wav(&path, 440.0, 0.5);
        let (rate, samples) = crate::baresip::read_wav(&path).unwrap();
        assert_eq!((rate, samples.len()), (48_000, 24_000));
        assert!(crate::baresip::tone_ratio(&samples[..4800], rate, 440.0) > 0.9);
    }
}
