//! baresip 1.0 (Debian package `baresip`) as a headless test phone, and
//! the audio helpers its recordings need.
//!
//! - [`Phone::start`] writes `DIR/config` and `DIR/accounts` (loopback only,
//!   G.711, no sound card: an `aufile` source, optionally the `sndfile`
//!   recorder) and runs `baresip -s -f DIR`; its stdout and stderr go to
//!   files in DIR ([`Phone::log`]). Killed on drop.
//! - [`Ctrl`] is its ctrl_tcp connection: netstrings `LEN:JSON,`, commands
//!   `{"command":..,"params":..,"token":..}`, responses and events back.
//! - [`write_wav`] / [`read_wav`] for the source and the recordings (a
//!   recording read mid-call has a header with size 0: everything after the
//!   `data` chunk header is read then).
//! - [`frame_rms`], [`tone_ratio`] (Goertzel) and [`speech_span`] tell
//!   speech, tones and silence apart in a recording.
//!
//! Facts about baresip headless: /work/shared/notes/baresip.md.

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_tcp_port, wait_for};

/// What a [`Phone`] registers as and plays.
#[derive(Debug, Clone)]
pub struct PhoneConfig {
    /// The extension (user part of the account).
    pub ext: String,
    /// Its digest password.
    pub password: String,
    /// The server's SIP UDP address (registrar and outbound proxy).
    pub server: SocketAddr,
    /// The audio source: 16-bit mono PCM at 8 kHz, longer than any call
    /// (baresip hangs up when it runs out).
    pub source: PathBuf,
    /// Load `sndfile`: both directions of every call go to
    /// `DIR/recordings/dump-*-{dec,enc}.wav`.
    pub record: bool,
    /// `auto` (answer at once) or `manual` (answer with the `accept` command).
    pub answermode: &'static str,
    /// More modules to load, e.g. `opus.so`, `srtp.so`.
    pub modules: Vec<String>,
    /// More account parameters, e.g. `;audio_codecs=PCMU/8000/1` or
    /// `;mediaenc=srtp-mand`.
    pub account_params: String,
}

impl PhoneConfig {
    /// `ext` with password `secret<ext>` (the [`crate::TEST_USERS`]
    /// convention), auto-answer, no recording.
    pub fn new(ext: &str, server: SocketAddr, source: &Path) -> Self {
        Self {
            ext: ext.to_owned(),
            password: format!("secret{ext}"),
            server,
            source: source.to_owned(),
            record: false,
            answermode: "auto",
            modules: Vec::new(),
            account_params: String::new(),
        }
    }

    /// Also loads `module` (a file in /usr/lib/baresip/modules).
    pub fn module(mut self, module: &str) -> Self {
        self.modules.push(module.to_owned());
        self
    }

    /// Appends `;name=value` parameters to the account line.
    pub fn account_params(mut self, params: &str) -> Self {
        self.account_params.push_str(params);
        self
    }

    /// Records every call with `sndfile`.
    pub fn recording(mut self) -> Self {
        self.record = true;
        self
    }
}

/// Prints the phones' and the server's logs when a test fails (on drop
/// while panicking).
#[derive(Debug)]
pub struct Report<'a> {
    /// The phones of the test.
    pub phones: [&'a Phone; 2],
    /// The server.
    pub server: &'a crate::Server,
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

/// A baresip process for one extension, killed on drop.
#[derive(Debug)]
pub struct Phone {
    /// The extension.
    pub name: String,
    child: Child,
    dir: PathBuf,
    ctrl: SocketAddr,
}

impl Phone {
    /// Writes `WORK/EXT/config` and `.../accounts` and starts `baresip -s -f DIR`.
    pub fn start(work: &Path, config: &PhoneConfig) -> Self {
        let dir = work.join(&config.ext);
        std::fs::create_dir_all(&dir).unwrap();
        let ctrl: SocketAddr = format!("127.0.0.1:{}", free_tcp_port()).parse().unwrap();
        let mut text = format!(
            "poll_method       epoll\n\
             sip_listen        127.0.0.1:0\n\
             net_interface     127.0.0.1\n\
             dns_server        127.0.0.1:53\n\
             audio_source      aufile,{source}\n\
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
            source = config.source.display()
        );
        for module in &config.modules {
            text.push_str(&format!("module            {module}\n"));
        }
        if config.record {
            let recordings = dir.join("recordings");
            std::fs::create_dir_all(&recordings).unwrap();
            text.push_str(&format!(
                "module            sndfile.so\nsnd_path          {}\n",
                recordings.display()
            ));
        }
        std::fs::write(dir.join("config"), text).unwrap();
        std::fs::write(
            dir.join("accounts"),
            format!(
                "<sip:{}@{};transport=udp>;auth_pass={};regint=600;answermode={}{}\n",
                config.ext,
                config.server,
                config.password,
                config.answermode,
                config.account_params
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
            name: config.ext.clone(),
            child,
            dir,
            ctrl,
        }
    }

    /// stdout and stderr so far, colours removed.
    pub fn log(&self) -> String {
        let read = |file: &str| std::fs::read_to_string(self.dir.join(file)).unwrap_or_default();
        strip_ansi(&format!(
            "{}\n--- stderr ---\n{}",
            read("stdout.log"),
            read("stderr.log")
        ))
    }

    /// The recording of what the phone received (`*-dec.wav`), once
    /// `sndfile` has created it (the first call's; see [`PhoneConfig::record`]).
    pub fn received_recording(&self) -> Option<PathBuf> {
        self.recording_ending("-dec.wav")
    }

    /// The recording of what the phone sent (`*-enc.wav`).
    pub fn sent_recording(&self) -> Option<PathBuf> {
        self.recording_ending("-enc.wav")
    }

    fn recording_ending(&self, suffix: &str) -> Option<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(self.dir.join("recordings"))
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path()))
            .filter(|path| path.to_string_lossy().ends_with(suffix))
            .collect();
        found.sort();
        found.into_iter().next()
    }

    /// Connects to its ctrl_tcp port (it listens once baresip is up).
    pub fn connect(&mut self) -> Ctrl {
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
#[derive(Debug)]
pub struct Ctrl {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Every event received so far (raw JSON).
    pub events: Vec<String>,
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
    pub fn command(&mut self, command: &str, params: &str) -> String {
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
    pub fn wait_event(&mut self, kind: &str, timeout: Duration) -> Option<String> {
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

    /// Reads the events that arrived so far (waiting at most `wait` for
    /// the first), so [`Ctrl::events`] is current.
    pub fn drain_events(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(message) = self.next_message(deadline) {
            if message.contains("\"event\":true") {
                self.events.push(message);
            }
        }
    }

    /// Polls `reginfo` until the account shows `OK` (registered).
    pub fn wait_registered(&mut self, timeout: Duration) -> Result<String, String> {
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

/// Removes ANSI colour codes (`ESC [ ... m`).
pub fn strip_ansi(text: &str) -> String {
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
pub fn json_str(json: &str, key: &str) -> Option<String> {
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

/// A sine of `freq` Hz at `amplitude` (of 32767) for `seconds`, then
/// silence up to `total` seconds, at `rate`.
pub fn tone(rate: u32, freq: f64, amplitude: f64, seconds: f64, total: f64) -> Vec<i16> {
    let samples = (f64::from(rate) * total) as u32;
    let tone_samples = (f64::from(rate) * seconds) as u32;
    (0..samples)
        .map(|i| {
            if i < tone_samples {
                let t = f64::from(i) / f64::from(rate);
                (amplitude * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
            } else {
                0
            }
        })
        .collect()
}

/// Writes 16-bit mono PCM as a WAV file.
pub fn write_wav(path: &Path, rate: u32, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
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
    for sample in samples {
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    std::fs::write(path, bytes).unwrap();
}

/// A 16-bit PCM WAV's sample rate and first channel's samples. A header
/// whose `data` size is 0 or too large (a recording still being written)
/// means "everything after the chunk header". None when it is no such WAV.
pub fn read_wav(path: &Path) -> Option<(u32, Vec<i16>)> {
    parse_wav(&std::fs::read(path).ok()?)
}

/// The first channel of a 16-bit PCM WAV held in memory (see
/// [`parse_wav_channels`]).
pub fn parse_wav(bytes: &[u8]) -> Option<(u32, Vec<i16>)> {
    let (rate, mut channels) = parse_wav_channels(bytes)?;
    Some((rate, channels.swap_remove(0)))
}

/// Every channel of a 16-bit PCM WAV held in memory, de-interleaved. A
/// data size of 0 or past the end (a file still being written) reads to
/// the end.
pub fn parse_wav_channels(bytes: &[u8]) -> Option<(u32, Vec<Vec<i16>>)> {
    if bytes.get(..4)? != b"RIFF" || bytes.get(8..12)? != b"WAVE" {
        return None;
    }
    let u16_at = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let mut at = 12;
    let mut format: Option<(u16, u32, u16)> = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = u32_at(at + 4)? as usize;
        let body = at + 8;
        if id == b"fmt " {
            // PCM (1) or WAVE_FORMAT_EXTENSIBLE (0xfffe)
            let tag = u16_at(body)?;
            let bits = u16_at(body + 14)?;
            if !(tag == 1 || tag == 0xfffe) || bits != 16 {
                return None;
            }
            format = Some((u16_at(body + 2)?, u32_at(body + 4)?, bits));
        } else if id == b"data" {
            let (channels, rate, _) = format?;
            let end = if size == 0 || body + size > bytes.len() {
                bytes.len()
            } else {
                body + size
            };
            let count = usize::from(channels.max(1));
            let mut out = vec![Vec::new(); count];
            for frame in bytes[body..end].chunks_exact(2 * count) {
                for (channel, sample) in out.iter_mut().zip(frame.chunks_exact(2)) {
                    channel.push(i16::from_le_bytes([sample[0], sample[1]]));
                }
            }
            return Some((rate, out));
        }
        at = body + size + (size & 1);
    }
    None
}

/// The RMS of each `frame`-sample block (the last partial one dropped).
pub fn frame_rms(samples: &[i16], frame: usize) -> Vec<f64> {
    samples
        .chunks_exact(frame.max(1))
        .map(|block| {
            let energy: f64 = block.iter().map(|s| f64::from(*s).powi(2)).sum();
            (energy / block.len() as f64).sqrt()
        })
        .collect()
}

/// The share (0 to 1) of a block's energy at `freq` Hz (Goertzel).
pub fn tone_ratio(block: &[i16], rate: u32, freq: f64) -> f64 {
    if block.is_empty() {
        return 0.0;
    }
    let n = block.len() as f64;
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for sample in block {
        let s0 = f64::from(*sample) + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let energy: f64 = block.iter().map(|s| f64::from(*s).powi(2)).sum();
    if energy == 0.0 {
        return 0.0;
    }
    // a full-scale bin holds (n/2)^2 * amplitude^2 = n/2 * energy
    (power / (n / 2.0 * energy)).min(1.0)
}

/// Speech activity in 20 ms frames: the frames above `threshold` RMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeechSpan {
    /// Index of the first loud frame.
    pub first: usize,
    /// Index of the last loud frame.
    pub last: usize,
    /// How many frames are loud.
    pub loud: usize,
}

impl SpeechSpan {
    /// Frames from the first loud one to the last, both included.
    pub fn frames(&self) -> usize {
        self.last + 1 - self.first
    }
}

/// Where the 20 ms frames of `samples` (at `rate`) are louder than
/// `threshold` RMS; None when none is.
pub fn speech_span(samples: &[i16], rate: u32, threshold: f64) -> Option<SpeechSpan> {
    let frame = (rate / 50) as usize;
    let rms = frame_rms(samples, frame);
    let loud: Vec<usize> = (0..rms.len()).filter(|i| rms[*i] > threshold).collect();
    Some(SpeechSpan {
        first: *loud.first()?,
        last: *loud.last()?,
        loud: loud.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wav_round_trip_and_open_recording() {
        let dir = crate::TempDir::new("voip-baresip-wav");
        let path = dir.path().join("t.wav");
        let samples = tone(8000, 440.0, 8000.0, 0.5, 1.0);
        write_wav(&path, 8000, &samples);
        assert_eq!(read_wav(&path), Some((8000, samples.clone())));
        // a recording still open: data size 0
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[40..44].copy_from_slice(&0u32.to_le_bytes());
        assert_eq!(parse_wav(&bytes), Some((8000, samples)));
        assert_eq!(parse_wav(b"RIFF\0\0\0\0WAVE"), None);
    }

    #[test]
    fn tone_and_speech_detection() {
        let samples = tone(8000, 440.0, 8000.0, 1.0, 2.0);
        assert!(tone_ratio(&samples[..160], 8000, 440.0) > 0.8);
        assert!(tone_ratio(&samples[..160], 8000, 1000.0) < 0.1);
        assert_eq!(tone_ratio(&samples[8000..8160], 8000, 440.0), 0.0);
        let span = speech_span(&samples, 8000, 300.0).unwrap();
        assert_eq!((span.first, span.last, span.loud), (0, 49, 50));
        assert_eq!(span.frames(), 50);
        assert_eq!(speech_span(&samples[8000..], 8000, 300.0), None);
    }

    #[test]
    fn json_and_ansi() {
        let event = r#"{"event":true,"type":"CALL_DTMF_START","param":"1\u001B[;m"}"#;
        assert_eq!(json_str(event, "type").as_deref(), Some("CALL_DTMF_START"));
        assert_eq!(
            strip_ansi(&json_str(event, "param").unwrap()),
            "1".to_owned()
        );
    }
}
