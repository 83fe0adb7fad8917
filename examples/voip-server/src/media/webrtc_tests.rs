//! Browser calls through the anchor on loopback, with str0m playing the
//! browser (full ICE, DTLS, Opus) on a real UDP socket and a plain PCMU
//! RTP endpoint playing the phone: the INVITE and the 2xx are rewritten
//! by the anchor as the proxy would send them; audio must cross both ways.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec as S0Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use voip_core::{AudioFrame, Transmit, TransportProtocol};
use voip_media::codec::{ulaw_decode, ulaw_encode};
use voip_media::relay::RecordingOptions;
use voip_media::{AudioDecoder, AudioEncoder, Codec, OpusConfig};

use super::anchor::{Anchor, AnchorEvent, MediaSummary};
use super::config::{MediaEntry, MediaSettings, resolve};
use super::message::{audio_address, parse};
use super::recording::RecordingSettings;

fn settings(ports: &str) -> MediaSettings {
    let entry: MediaEntry = toml::from_str(&format!(
        "rtp_ports = \"{ports}\"\npublic_ip = \"127.0.0.1\"\nbind_ip = \"127.0.0.1\"\n\
         webrtc_bind = \"127.0.0.1:0\"\nwebrtc_offer_opus = false\n"
    ))
    .unwrap();
    resolve(
        std::path::Path::new("t.toml"),
        Some(&entry),
        None,
        None,
        None,
    )
    .unwrap()
}

fn tone_at(rate: u32, samples: usize, start: usize, hz: f64) -> Vec<i16> {
    (start..start + samples)
        .map(|n| {
            (8000.0 * (2.0 * std::f64::consts::PI * hz * n as f64 / f64::from(rate)).sin()) as i16
        })
        .collect()
}

/// Power at `hz` relative to total power (Goertzel), 0..1.
fn tone_share(samples: &[i16], rate: u32, hz: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / f64::from(rate)).cos();
    let (mut s1, mut s2, mut total) = (0.0f64, 0.0f64, 0.0f64);
    for &x in samples {
        let x = f64::from(x);
        total += x * x;
        let s = x + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    power * 2.0 / (samples.len() as f64 * total.max(1.0))
}

/// Records to a directory of its own (removed first).
fn record_to(anchor: &mut Anchor, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voip-webrtc-rec-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    anchor
        .set_recording(RecordingSettings {
            enabled: true,
            dir: dir.clone(),
            options: RecordingOptions::default(),
        })
        .unwrap();
    dir
}

/// The call's summary links its WAV; the file is stereo at 16 kHz, the
/// caller's tone on the left, the callee's on the right.
fn check_recording(dir: &Path, summary: &MediaSummary, left_hz: f64, right_hz: f64) {
    assert_eq!(
        summary.recording.as_deref(),
        Some("/recordings/call-w.wav"),
        "{summary:?}"
    );
    let bytes = std::fs::read(dir.join("call-w.wav")).unwrap();
    let wav = voip_media::audio::Wav::parse(&bytes).unwrap();
    assert_eq!((wav.channels, wav.sample_rate), (2, 16000));
    let left: Vec<i16> = wav.samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = wav.samples.iter().skip(1).step_by(2).copied().collect();
    for (name, channel, own, other) in [
        ("left", &left, left_hz, right_hz),
        ("right", &right, right_hz, left_hz),
    ] {
        let loud = channel.iter().filter(|s| s.abs() > 2000).count();
        assert!(loud > 4000, "the {name} channel has {loud} loud samples");
        let share = tone_share(channel, 16000, own);
        assert!(share > 0.5, "{own} Hz share of the {name} channel {share}");
        let share = tone_share(channel, 16000, other);
        assert!(
            share < 0.1,
            "{other} Hz share of the {name} channel {share}"
        );
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

/// A str0m peer on a loopback socket, playing the browser.
struct Browser {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    mid: Option<Mid>,
    connected: bool,
    heard: Vec<i16>,
    decoder: Box<dyn AudioDecoder>,
    encoder: Box<dyn AudioEncoder>,
    timeout: Instant,
    sent: usize,
    hz: f64,
}

impl Browser {
    async fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let local = socket.local_addr().unwrap();
        let mut config = Rtc::builder().clear_codecs();
        config.codec_config().enable_opus(true, false);
        let now = Instant::now();
        let mut rtc = config.build(now);
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let opus = Codec::Opus(OpusConfig::default());
        Self {
            rtc,
            socket,
            local,
            mid: None,
            connected: false,
            heard: Vec::new(),
            decoder: opus.new_decoder().unwrap(),
            encoder: opus.new_encoder().unwrap(),
            timeout: now,
            sent: 0,
            hz: 440.0,
        }
    }

    fn offer(&mut self) -> (String, SdpPendingOffer) {
        let mut change = self.rtc.sdp_api();
        self.mid = Some(change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None));
        let (offer, pending) = change.apply().unwrap();
        (offer.to_sdp_string(), pending)
    }

    fn accept_answer(&mut self, pending: SdpPendingOffer, answer: &[u8]) {
        let answer = SdpAnswer::from_sdp_string(std::str::from_utf8(answer).unwrap()).unwrap();
        self.rtc.sdp_api().accept_answer(pending, answer).unwrap();
    }

    fn answer(&mut self, offer: &[u8]) -> String {
        let offer = SdpOffer::from_sdp_string(std::str::from_utf8(offer).unwrap()).unwrap();
        let answer = self.rtc.sdp_api().accept_offer(offer).unwrap();
        answer.to_sdp_string()
    }

    async fn drain(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(t) => {
                    self.timeout = t.max(now);
                    return;
                }
                Output::Transmit(t) => {
                    let _ = self.socket.send_to(&t.contents, t.destination).await;
                }
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(Event::MediaAdded(m)) => self.mid = Some(m.mid),
                Output::Event(Event::MediaData(d)) if d.params.spec().codec == S0Codec::Opus => {
                    let _ = self.decoder.decode_into(&d.data, &mut self.heard);
                }
                Output::Event(_) => {}
            }
        }
    }

    fn receive(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        if let Ok(r) = Receive::new(Protocol::Udp, from, self.local, bytes) {
            let _ = self.rtc.handle_input(Input::Receive(now, r));
        }
    }

    fn send_frame(&mut self, now: Instant) {
        let Some(mid) = self.mid.filter(|_| self.connected) else {
            return;
        };
        let frame = AudioFrame::mono(48000, tone_at(48000, 960, self.sent * 960, self.hz));
        let payload = self.encoder.encode(&frame).unwrap();
        let Some(writer) = self.rtc.writer(mid) else {
            return;
        };
        let Some(pt) = writer
            .payload_params()
            .find(|p| p.spec().codec == S0Codec::Opus)
            .map(|p| p.pt())
        else {
            return;
        };
        let time = MediaTime::new((self.sent * 960) as u64, Frequency::FORTY_EIGHT_KHZ);
        let _ = writer.write(pt, now, time, payload.to_vec());
        self.sent += 1;
    }
}

/// A plain PCMU phone.
struct Phone {
    socket: UdpSocket,
    to: Option<SocketAddr>,
    heard: Vec<i16>,
    seq: u16,
    hz: f64,
}

impl Phone {
    async fn new() -> Self {
        Self {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            to: None,
            heard: Vec::new(),
            seq: 0,
            hz: 440.0,
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }

    async fn send_frame(&mut self) {
        let Some(to) = self.to else { return };
        let mut packet = vec![0x80, 0];
        packet.extend_from_slice(&self.seq.to_be_bytes());
        packet.extend_from_slice(&(u32::from(self.seq) * 160).to_be_bytes());
        packet.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        packet.extend(
            tone_at(8000, 160, usize::from(self.seq) * 160, self.hz)
                .iter()
                .map(|&s| ulaw_encode(s)),
        );
        self.seq = self.seq.wrapping_add(1);
        let _ = self.socket.send_to(&packet, to).await;
    }

    fn receive(&mut self, bytes: &[u8]) {
        if bytes.len() > 12 && bytes[1] & 0x7f == 0 {
            self.heard
                .extend(bytes[12..].iter().map(|&b| ulaw_decode(b)));
        }
    }
}

/// A phone's PCMU answer with its media on `port`.
fn pcmu_answer(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {port} RTP/AVP 0\r\n"
    )
}

fn sip(
    start: &str,
    to_tag: bool,
    protocol: TransportProtocol,
    contact: &str,
    body: &[u8],
) -> Transmit {
    let to = if to_tag { ";tag=tb" } else { "" };
    let mut text = format!(
        "{start}\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
         Record-Route: <sip:127.0.0.1:5060;lr>\r\n\
         From: <sip:1001@h>;tag=ta\r\nTo: <sip:1002@h>{to}\r\nCall-ID: call-w\r\nCSeq: 1 INVITE\r\n\
         Contact: <{contact}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    text.extend_from_slice(body);
    Transmit {
        protocol,
        source: None,
        destination: "127.0.0.1:5999".parse().unwrap(),
        connection: None,
        contents: Bytes::from(text),
    }
}

async fn through(anchor: &mut Anchor, t: Transmit) -> Bytes {
    let prepared = anchor.prepare(t, |_| false);
    let out = anchor.rewrite(prepared).await;
    parse(&out.contents).unwrap().body().clone()
}

/// Runs browsers and a phone for up to `limit`, sending 20 ms frames,
/// until `done` says so.
async fn run(
    browsers: &mut [&mut Browser],
    mut phone: Option<&mut Phone>,
    limit: Duration,
    done: impl Fn(&[&mut Browser], Option<&Phone>) -> bool,
) {
    let end = Instant::now() + limit;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    let mut buf = vec![0u8; 2048];
    while Instant::now() < end {
        let now = Instant::now();
        for b in browsers.iter_mut() {
            if now >= b.timeout {
                let _ = b.rtc.handle_input(Input::Timeout(now));
            }
            b.drain(now).await;
        }
        if done(browsers, phone.as_deref()) {
            return;
        }
        let next = browsers
            .iter()
            .map(|b| b.timeout)
            .min()
            .unwrap_or(end)
            .max(now + Duration::from_millis(1));
        let recv = async {
            for (i, b) in browsers.iter().enumerate() {
                if let Ok((n, from)) = b.socket.try_recv_from(&mut buf) {
                    return Some((i, from, buf[..n].to_vec()));
                }
            }
            None
        }
        .await;
        if let Some((i, from, bytes)) = recv {
            browsers[i].receive(Instant::now(), from, &bytes);
            continue;
        }
        if let Some(p) = phone.as_deref_mut() {
            if let Ok((n, _)) = p.socket.try_recv_from(&mut buf) {
                p.receive(&buf[..n]);
                continue;
            }
        }
        tokio::select! {
            _ = tick.tick() => {
                for b in browsers.iter_mut() {
                    b.send_frame(Instant::now());
                }
                if let Some(p) = phone.as_deref_mut() {
                    p.send_frame().await;
                }
            }
            () = tokio::time::sleep_until(next.min(now + Duration::from_millis(2)).into()) => {}
        }
    }
}

#[tokio::test]
async fn browser_calls_a_pcmu_phone_and_audio_crosses_both_ways() {
    let mut anchor = Anchor::start(&settings("42400-42419")).unwrap().unwrap();
    let dir = record_to(&mut anchor, "b2p");
    let mut browser = Browser::new().await;
    let mut phone = Phone::new().await;
    phone.hz = 1000.0;
    let (offer, pending) = browser.offer();
    let invite = sip(
        "INVITE sip:1002@h SIP/2.0",
        false,
        TransportProtocol::Udp,
        "sip:x@df.invalid;transport=ws",
        offer.as_bytes(),
    );
    let to_phone = through(&mut anchor, invite).await;
    let text = String::from_utf8_lossy(&to_phone).into_owned();
    assert!(
        text.contains("RTP/AVP 0 8"),
        "a PCMU/PCMA offer to the phone: {text}"
    );
    assert!(
        !text.contains("fingerprint") && !text.contains("ice-ufrag"),
        "{text}"
    );
    let bridge = audio_address(&to_phone).unwrap();
    assert!((42400..=42419).contains(&bridge.port()), "{bridge}");
    phone.to = Some(bridge);
    let answer = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0\r\na=sendrecv\r\n",
        phone.port()
    );
    let ok = sip(
        "SIP/2.0 200 OK",
        true,
        TransportProtocol::Ws,
        "sip:1002@127.0.0.1:5080",
        answer.as_bytes(),
    );
    let to_browser = through(&mut anchor, ok).await;
    let text = String::from_utf8_lossy(&to_browser).into_owned();
    assert!(
        text.contains("UDP/TLS/RTP/SAVPF") && text.contains("a=ice-lite"),
        "{text}"
    );
    browser.accept_answer(pending, &to_browser);

    run(
        &mut [&mut browser],
        Some(&mut phone),
        Duration::from_secs(20),
        |b, p| b[0].heard.len() >= 48000 && p.is_some_and(|p| p.heard.len() >= 8000),
    )
    .await;
    assert!(browser.connected, "ICE/DTLS up");
    assert!(
        browser.heard.len() >= 48000,
        "the browser heard {} samples",
        browser.heard.len()
    );
    assert!(
        phone.heard.len() >= 8000,
        "the phone heard {} samples",
        phone.heard.len()
    );
    let b = rms(&browser.heard[browser.heard.len() - 24000..]);
    let p = rms(&phone.heard[phone.heard.len() - 4000..]);
    assert!(b > 1000.0, "the browser hears the phone's tone (rms {b})");
    assert!(p > 1000.0, "the phone hears the browser's tone (rms {p})");

    let summary = anchor.end("call-w").await.expect("a bridged call");
    assert_eq!(summary.codecs, [Some("opus".into()), Some("PCMU".into())]);
    assert!(
        summary.legs[0].packets_in > 0 && summary.legs[1].packets_in > 0,
        "{summary:?}"
    );
    // the phone's leg has its E-model MOS for the call record (the score
    // itself depends on the machine's timing: only its range is checked)
    let mos = summary.legs[1].quality.map(|q| q.mos);
    assert!(
        mos.is_some_and(|m| (1.0..=4.5).contains(&m)),
        "phone leg MOS {mos:?}"
    );
    // Recorded: left the browser (the caller), right the phone.
    check_recording(&dir, &summary, 440.0, 1000.0);
    assert!(anchor.end("call-w").await.is_none());
}

#[tokio::test]
async fn browser_calls_a_browser_through_the_server() {
    let mut anchor = Anchor::start(&settings("42420-42439")).unwrap().unwrap();
    let dir = record_to(&mut anchor, "b2b");
    let mut caller = Browser::new().await;
    let mut callee = Browser::new().await;
    callee.hz = 1000.0;
    let (offer, pending) = caller.offer();
    let invite = sip(
        "INVITE sip:1002@h SIP/2.0",
        false,
        TransportProtocol::Ws,
        "sip:x@df.invalid;transport=ws",
        offer.as_bytes(),
    );
    let to_callee = through(&mut anchor, invite).await;
    let text = String::from_utf8_lossy(&to_callee).into_owned();
    assert!(
        text.contains("UDP/TLS/RTP/SAVPF") && text.contains("a=fingerprint"),
        "{text}"
    );
    let answer = callee.answer(&to_callee);
    let ok = sip(
        "SIP/2.0 200 OK",
        true,
        TransportProtocol::Ws,
        "sip:y@ab.invalid;transport=ws",
        answer.as_bytes(),
    );
    let to_caller = through(&mut anchor, ok).await;
    caller.accept_answer(pending, &to_caller);

    run(
        &mut [&mut caller, &mut callee],
        None,
        Duration::from_secs(20),
        |b, _| b.iter().all(|b| b.heard.len() >= 48000),
    )
    .await;
    for (name, b) in [("caller", &caller), ("callee", &callee)] {
        assert!(
            b.heard.len() >= 48000,
            "the {name} heard {} samples",
            b.heard.len()
        );
        let level = rms(&b.heard[b.heard.len() - 24000..]);
        assert!(
            level > 1000.0,
            "the {name} hears the other's tone (rms {level})"
        );
    }
    let summary = anchor.end("call-w").await.unwrap();
    assert_eq!(summary.codecs, [Some("opus".into()), Some("opus".into())]);
    // One file for the call (recorded on one of the two bridges), a
    // browser in each channel.
    check_recording(&dir, &summary, 440.0, 1000.0);
}

#[tokio::test]
async fn a_wrong_fingerprint_hangs_the_call_up_both_ways() {
    let mut anchor = Anchor::start(&settings("42440-42459")).unwrap().unwrap();
    let mut browser = Browser::new().await;
    let phone = Phone::new().await;
    let (offer, pending) = browser.offer();
    let at = offer.find("a=fingerprint:sha-256 ").unwrap() + "a=fingerprint:sha-256 ".len();
    let mut tampered = offer.into_bytes();
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    let invite = sip(
        "INVITE sip:1002@h SIP/2.0",
        false,
        TransportProtocol::Udp,
        "sip:x@df.invalid;transport=ws",
        &tampered,
    );
    let _ = through(&mut anchor, invite).await;
    let answer = pcmu_answer(phone.port());
    let ok = sip(
        "SIP/2.0 200 OK",
        true,
        TransportProtocol::Ws,
        "sip:1002@127.0.0.1:5080",
        answer.as_bytes(),
    );
    let to_browser = through(&mut anchor, ok).await;
    browser.accept_answer(pending, &to_browser);

    // the browser runs its side; the anchor reports the failure
    let failed = async {
        loop {
            if let Some(AnchorEvent::WebRtc(event)) = anchor.next_any().await {
                anchor.handle_webrtc_event(event);
                if let Some(t) = anchor.poll_teardown(|_| false) {
                    return t;
                }
            }
        }
    };
    let mut browsers = [&mut browser];
    let browser_side = run(&mut browsers, None, Duration::from_secs(30), |_, _| false);
    let teardown = tokio::select! {
        t = failed => t,
        () = browser_side => panic!("no failure reported"),
    };
    assert!(
        teardown.reason.contains("fingerprint"),
        "{}",
        teardown.reason
    );
    assert_eq!(teardown.byes.len(), 2, "a BYE to each side");
    let (to_phone, target) = &teardown.byes[0];
    assert_eq!(to_phone.uri.to_string(), "sip:1002@127.0.0.1:5080");
    assert_eq!(target.destination, "127.0.0.1:5999".parse().unwrap());
    let (to_browser, target) = &teardown.byes[1];
    assert_eq!(to_browser.uri.to_string(), "sip:x@df.invalid;transport=ws");
    assert_eq!(target.protocol, TransportProtocol::Ws);
    let summary = anchor.end("call-w").await.unwrap();
    assert_eq!(summary.legs[1].packets_out, 0, "no media reached the phone");
}

#[tokio::test]
async fn a_pcmu_phone_calls_a_browser() {
    let mut anchor = Anchor::start(&settings("42460-42479")).unwrap().unwrap();
    let dir = record_to(&mut anchor, "p2b");
    let mut browser = Browser::new().await;
    let mut phone = Phone::new().await;
    phone.hz = 1000.0;
    let offer = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 101\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n",
        phone.port()
    );
    // the INVITE leaves over WS: the callee registered from a browser
    let invite = sip(
        "INVITE sip:x@df.invalid;transport=ws SIP/2.0",
        false,
        TransportProtocol::Ws,
        "sip:1001@127.0.0.1:5080",
        offer.as_bytes(),
    );
    let to_browser = through(&mut anchor, invite).await;
    let text = String::from_utf8_lossy(&to_browser).into_owned();
    assert!(
        text.contains("UDP/TLS/RTP/SAVPF") && text.contains("a=ice-lite"),
        "{text}"
    );
    let answer = browser.answer(&to_browser);
    let ok = sip(
        "SIP/2.0 200 OK",
        true,
        TransportProtocol::Udp,
        "sip:y@ab.invalid;transport=ws",
        answer.as_bytes(),
    );
    let to_phone = through(&mut anchor, ok).await;
    let text = String::from_utf8_lossy(&to_phone).into_owned();
    assert!(
        text.contains("RTP/AVP 0"),
        "a PCMU answer to the phone: {text}"
    );
    phone.to = Some(audio_address(&to_phone).unwrap());

    run(
        &mut [&mut browser],
        Some(&mut phone),
        Duration::from_secs(20),
        |b, p| b[0].heard.len() >= 48000 && p.is_some_and(|p| p.heard.len() >= 8000),
    )
    .await;
    assert!(
        browser.heard.len() >= 48000,
        "the browser heard {} samples",
        browser.heard.len()
    );
    assert!(
        phone.heard.len() >= 8000,
        "the phone heard {} samples",
        phone.heard.len()
    );
    assert!(rms(&browser.heard[browser.heard.len() - 24000..]) > 1000.0);
    assert!(rms(&phone.heard[phone.heard.len() - 4000..]) > 1000.0);
    let summary = anchor.end("call-w").await.unwrap();
    assert_eq!(summary.codecs, [Some("PCMU".into()), Some("opus".into())]);
    // the phone is the caller here: its MOS is the caller leg's
    let mos = summary.legs[0].quality.map(|q| q.mos);
    assert!(
        mos.is_some_and(|m| (1.0..=4.5).contains(&m)) && summary.legs[1].quality.is_none(),
        "caller (phone) MOS {mos:?}, callee {:?}",
        summary.legs[1].quality
    );
    // Left the phone (the caller), right the browser.
    check_recording(&dir, &summary, 1000.0, 440.0);
}

#[tokio::test]
async fn a_browser_call_the_ivr_records_is_not_recorded_twice() {
    let mut anchor = Anchor::start(&settings("42480-42499")).unwrap().unwrap();
    let dir = record_to(&mut anchor, "ivr");
    let mut browser = Browser::new().await;
    let phone = Phone::new().await;
    let (offer, _pending) = browser.offer();
    let invite = sip(
        "INVITE sip:9999@h SIP/2.0",
        false,
        TransportProtocol::Udp,
        "sip:x@df.invalid;transport=ws",
        offer.as_bytes(),
    );
    let _ = through(&mut anchor, invite).await;
    let answer = pcmu_answer(phone.port());
    let ok = sip(
        "SIP/2.0 200 OK",
        true,
        TransportProtocol::Ws,
        "sip:9999@127.0.0.1:5080",
        answer.as_bytes(),
    );
    // the IVR's call (the proxy's `bypass` says so): the IVR records it
    let prepared = anchor.prepare(ok, |id| id == "call-w");
    let out = anchor.rewrite(prepared).await;
    let body = parse(&out.contents).unwrap().body().clone();
    assert!(String::from_utf8_lossy(&body).contains("UDP/TLS/RTP/SAVPF"));
    let summary = anchor.end("call-w").await.unwrap();
    assert_eq!(summary.recording, None);
    assert!(!dir.join("call-w.wav").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
