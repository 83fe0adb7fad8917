//! Virtual-time scenarios: our ICE-lite bridge against a str0m full-ICE
//! "browser" and a plain PCMU peer, in one process, no sockets.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::collapsible_match,
    clippy::explicit_counter_loop
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use str0m::format::{Codec as S0Codec, CodecExtra, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt, TelephoneEvent};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use voip_core::{AudioFrame, Rng};

use super::*;
use crate::codec::{Codec, OpusConfig};
use crate::dtmf::{DtmfDigit, DtmfSender, DtmfSenderConfig};
use crate::rtp::{RtpSession, RtpSessionConfig};
use crate::sdp::{LocalMedia, SdpCodec, SdpConfig, SdpSession};

const SERVER: &str = "10.0.0.1:30000";
const BROWSER: &str = "10.0.0.2:50000";
const PLAIN: &str = "10.0.0.3:40000";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn tone(rate: u32, samples: usize, start: usize, hz: f64) -> Vec<i16> {
    (start..start + samples)
        .map(|n| {
            (8000.0 * (2.0 * std::f64::consts::PI * hz * n as f64 / f64::from(rate)).sin()) as i16
        })
        .collect()
}

/// Power at `hz` relative to total power (Goertzel), 0..1.
fn tone_share(samples: &[i16], rate: u32, hz: f64) -> f64 {
    let k = 2.0 * (2.0 * std::f64::consts::PI * hz / f64::from(rate)).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut total = 0.0;
    for &x in samples {
        let x = f64::from(x);
        total += x * x;
        let s = x + k * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - k * s1 * s2;
    // A pure tone gives power = N² A² / 4 and total = N A² / 2.
    power * 2.0 / (samples.len() as f64 * total.max(1.0))
}

/// A str0m peer with full ICE, playing the browser.
struct Browser {
    rtc: Rtc,
    mid: Option<Mid>,
    out: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    connected: bool,
    audio: Vec<i16>,
    opus_in: Box<dyn crate::AudioDecoder>,
    dtmf: Vec<u8>,
    timeout: Instant,
}

impl Browser {
    fn new(now: Instant) -> Self {
        let mut config = Rtc::builder().clear_codecs();
        {
            let codecs = config.codec_config();
            codecs.enable_opus(true, false);
            codecs.enable_pcmu(true, false);
            let events = FormatParams {
                telephone_event_max: Some(15),
                ..Default::default()
            };
            codecs.add_config(
                Pt::from(110),
                None,
                S0Codec::Tele,
                Frequency::FORTY_EIGHT_KHZ,
                None,
                events,
            );
        }
        let mut rtc = config.build(now);
        rtc.add_local_candidate(Candidate::host(addr(BROWSER), "udp").unwrap());
        Self {
            rtc,
            mid: None,
            out: Vec::new(),
            connected: false,
            audio: Vec::new(),
            opus_in: Codec::Opus(OpusConfig::default()).new_decoder().unwrap(),
            dtmf: Vec::new(),
            timeout: now,
        }
    }

    fn offer(&mut self, now: Instant) -> (String, str0m::change::SdpPendingOffer) {
        let mut change = self.rtc.sdp_api();
        let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        self.mid = Some(mid);
        let (offer, pending) = change.apply().unwrap();
        self.drain(now);
        (offer.to_sdp_string(), pending)
    }

    fn drain(&mut self, now: Instant) {
        loop {
            match self.rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.timeout = t.max(now);
                    return;
                }
                Ok(Output::Transmit(t)) => {
                    self.out.push((t.source, t.destination, t.contents.into()))
                }
                Ok(Output::Event(Event::Connected)) => self.connected = true,
                Ok(Output::Event(Event::MediaData(d))) => match d.codec_extra {
                    CodecExtra::Tele(t) => {
                        if t.end && self.dtmf.last() != Some(&t.event) {
                            self.dtmf.push(t.event)
                        }
                    }
                    _ if d.params.spec().codec == S0Codec::Opus => {
                        let _ = self.opus_in.decode_into(&d.data, &mut self.audio);
                    }
                    _ => {}
                },
                Ok(Output::Event(_)) => {}
                Err(e) => panic!("browser: {e}"),
            }
        }
    }

    fn receive(&mut self, now: Instant, source: SocketAddr, destination: SocketAddr, bytes: &[u8]) {
        let r = Receive::new(Protocol::Udp, source, destination, bytes).unwrap();
        self.rtc.handle_input(Input::Receive(now, r)).unwrap();
        self.drain(now);
    }

    fn tick(&mut self, now: Instant) {
        if now >= self.timeout {
            self.rtc.handle_input(Input::Timeout(now)).unwrap();
            self.drain(now);
        }
    }

    fn send_opus(
        &mut self,
        now: Instant,
        rtp_time: u64,
        payload: &[u8],
        event: Option<TelephoneEvent>,
    ) {
        let Some(mid) = self.mid else { return };
        let mut writer = self.rtc.writer(mid).unwrap();
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == S0Codec::Opus)
            .unwrap()
            .pt();
        if let Some(e) = event {
            writer = writer.telephone_event(e);
        }
        writer
            .write(
                pt,
                now,
                MediaTime::new(rtp_time, Frequency::FORTY_EIGHT_KHZ),
                payload.to_vec(),
            )
            .unwrap();
        self.drain(now);
    }
}

/// The plain G.711 side: an RTP session and its SDP.
struct Plain {
    rtp: RtpSession,
    sdp: SdpSession,
    pcm: Vec<i16>,
    dtmf_packets: Vec<Vec<u8>>,
    sender: DtmfSender,
}

impl Plain {
    fn new(now: Instant) -> Self {
        let config = RtpSessionConfig::default()
            .clock_rate(8000)
            .min_sequential(1)
            .build()
            .unwrap();
        let media = LocalMedia::audio(addr(PLAIN).port(), vec![SdpCodec::pcmu()]);
        let dtmf = DtmfSenderConfig::default()
            .payload_type(101)
            .build()
            .unwrap();
        Self {
            rtp: RtpSession::new(config, Rng::seeded(7), now),
            sdp: SdpSession::new(SdpConfig::new(addr(PLAIN).ip(), 9, vec![media])),
            pcm: Vec::new(),
            dtmf_packets: Vec::new(),
            sender: DtmfSender::new(dtmf, now, 0),
        }
    }

    fn receive(&mut self, now: Instant, bytes: Bytes) {
        let Ok(r) = self.rtp.handle_rtp(now, bytes) else {
            return;
        };
        match r.packet.header.payload_type {
            0 => self.pcm.extend(
                r.packet
                    .payload
                    .iter()
                    .map(|&b| crate::codec::ulaw_decode(b)),
            ),
            101 => self.dtmf_packets.push(r.packet.payload.to_vec()),
            _ => {}
        }
    }
}

struct Call {
    now: Instant,
    bridge: WebRtcBridge,
    browser: Browser,
    plain: Plain,
    events: Vec<BridgeEvent>,
    /// Datagrams to the bridge from somewhere else than the browser.
    stray_to_server: Vec<(SocketAddr, Vec<u8>)>,
    /// The first DTLS handshake record seen on the wire (either way).
    first_dtls: Option<Vec<u8>>,
}

impl Call {
    fn new(tamper: impl FnOnce(String) -> String) -> Self {
        let now = Instant::now();
        let webrtc = WebRtcConfig::new(vec![LocalCandidate::host(addr(SERVER))])
            .build()
            .unwrap();
        let config = BridgeConfig::new(webrtc, addr(PLAIN).ip(), 20000)
            .build()
            .unwrap();
        let mut bridge = WebRtcBridge::new(config, Rng::seeded(1), now).unwrap();
        let mut browser = Browser::new(now);
        let mut plain = Plain::new(now);
        let (offer, pending) = browser.offer(now);
        let plain_offer = bridge.handle_browser_offer(&tamper(offer)).unwrap();
        let text = String::from_utf8_lossy(&plain_offer).to_string();
        assert!(text.contains("RTP/AVP"), "{text}");
        assert!(
            !text.contains("fingerprint") && !text.contains("ice-ufrag"),
            "{text}"
        );
        plain.sdp.handle_offer(&plain_offer).unwrap();
        let plain_answer = plain.sdp.create_answer().unwrap();
        let answer = bridge.handle_plain_answer(now, &plain_answer).unwrap();
        assert!(answer.contains("a=ice-lite"), "{answer}");
        assert!(answer.contains("UDP/TLS/RTP/SAVPF"), "{answer}");
        let answer = str0m::change::SdpAnswer::from_sdp_string(&answer).unwrap();
        browser
            .rtc
            .sdp_api()
            .accept_answer(pending, answer)
            .unwrap();
        browser.drain(now);
        Self {
            now,
            bridge,
            browser,
            plain,
            events: Vec::new(),
            stray_to_server: Vec::new(),
            first_dtls: None,
        }
    }

    /// Moves every queued datagram and advances time by `step`.
    fn step(&mut self, step: Duration) {
        for _ in 0..50 {
            let mut moved = false;
            for (src, dst, bytes) in std::mem::take(&mut self.browser.out) {
                if bytes[0] == 22 && self.first_dtls.is_none() {
                    self.first_dtls = Some(bytes.clone());
                }
                if dst == addr(SERVER) {
                    self.bridge
                        .handle_webrtc_receive(self.now, src, dst, &bytes);
                    moved = true;
                }
            }
            for (src, bytes) in std::mem::take(&mut self.stray_to_server) {
                self.bridge
                    .handle_webrtc_receive(self.now, src, addr(SERVER), &bytes);
            }
            while let Some(t) = self.bridge.poll_webrtc_transmit() {
                assert_eq!(
                    t.destination,
                    addr(BROWSER),
                    "only the validated browser gets datagrams"
                );
                if t.contents[0] == 22 && self.first_dtls.is_none() {
                    self.first_dtls = Some(t.contents.to_vec());
                }
                self.browser
                    .receive(self.now, addr(SERVER), t.destination, &t.contents);
                moved = true;
            }
            while let Some(t) = self.bridge.poll_plain_transmit() {
                if !t.rtcp {
                    assert_eq!(t.destination, Some(addr(PLAIN)));
                    self.plain.receive(self.now, t.contents);
                }
            }
            while let Some(e) = self.bridge.poll_event() {
                self.events.push(e);
            }
            if !moved {
                break;
            }
        }
        self.now += step;
        self.browser.tick(self.now);
        self.bridge.handle_timeout(self.now, SystemTime::now());
    }

    fn connect(&mut self) {
        for _ in 0..2000 {
            if self.browser.connected && self.bridge.leg().is_connected() {
                return;
            }
            self.step(Duration::from_millis(5));
        }
        panic!("no connection; events {:?}", self.events);
    }
}

#[test]
fn audio_and_dtmf_cross_the_bridge_with_transcoding() {
    let mut call = Call::new(|o| o);
    call.connect();
    assert!(call.events.contains(&BridgeEvent::Connected));
    assert!(call.bridge.is_transcoding(), "browser Opus, plain PCMU");
    assert_eq!(
        call.bridge.leg().audio_format().unwrap().codec,
        WebRtcAudioCodec::Opus
    );

    let mut opus = Codec::Opus(OpusConfig::default()).new_encoder().unwrap();
    let mut plain_seq = 0u32;
    for i in 0..100usize {
        // Browser → bridge: 20 ms of a 1 kHz tone in Opus.
        let frame = AudioFrame::mono(48000, tone(48000, 960, i * 960, 1000.0));
        let payload = opus.encode(&frame).unwrap();
        let event = (i == 40).then_some(TelephoneEvent {
            event: 5,
            end: true,
            volume: 10,
            duration: Duration::from_millis(100),
        });
        call.browser
            .send_opus(call.now, (i * 960) as u64, &payload, event);
        // Plain → bridge: 20 ms of a 1 kHz tone in PCMU.
        let pcm = tone(8000, 160, i * 160, 1000.0);
        let ulaw: Vec<u8> = pcm.iter().map(|&s| crate::codec::ulaw_encode(s)).collect();
        let packet = call
            .plain
            .rtp
            .send_rtp(call.now, 0, plain_seq * 160, i == 0, &ulaw);
        plain_seq += 1;
        call.bridge.handle_plain_rtp(call.now, packet);
        if i == 60 {
            call.plain
                .sender
                .send(call.now, DtmfDigit::from_char('7').unwrap())
                .unwrap();
        }
        while let Some(p) = call.plain.sender.poll_packet() {
            let packet = call
                .plain
                .rtp
                .send_rtp(call.now, 101, p.timestamp, p.marker, &p.payload);
            call.bridge.handle_plain_rtp(call.now, packet);
        }
        call.step(Duration::from_millis(10));
        call.plain.sender.handle_timeout(call.now);
        call.step(Duration::from_millis(10));
        call.plain.sender.handle_timeout(call.now);
    }
    for _ in 0..40 {
        call.step(Duration::from_millis(10));
    }

    // The PCMU side hears the tone (skip the codec warm-up).
    let pcm = &call.plain.pcm;
    assert!(pcm.len() >= 8000 * 3 / 2, "plain got {} samples", pcm.len());
    let share = tone_share(&pcm[4000..], 8000, 1000.0);
    assert!(share > 0.8, "1 kHz share on the plain side {share}");
    // The browser hears the tone.
    let audio = &call.browser.audio;
    assert!(
        audio.len() >= 48000,
        "browser decoded {} samples",
        audio.len()
    );
    let share = tone_share(&audio[24000..], 48000, 1000.0);
    assert!(share > 0.8, "1 kHz share on the browser side {share}");

    // DTMF: browser 5 reached the plain side as RFC 4733 at 8 kHz, ended.
    assert!(call.events.contains(&BridgeEvent::DtmfFromBrowser(
        DtmfDigit::from_event(5).unwrap()
    )));
    let ends: Vec<_> = call
        .plain
        .dtmf_packets
        .iter()
        .filter(|p| p[0] == 5 && p[1] & 0x80 != 0)
        .collect();
    assert!(
        !ends.is_empty(),
        "no end packet: {:?}",
        call.plain.dtmf_packets
    );
    let units = u16::from_be_bytes([ends[0][2], ends[0][3]]);
    assert_eq!(units, 800, "100 ms at 8 kHz");
    // Plain 7 reached the browser.
    assert!(call.events.contains(&BridgeEvent::DtmfFromPlain(
        DtmfDigit::from_char('7').unwrap()
    )));
    assert_eq!(call.browser.dtmf, vec![7]);
    let stats = call.bridge.stats();
    assert!(stats.to_plain >= 95 && stats.to_browser >= 95, "{stats:?}");
}

#[test]
fn wrong_fingerprint_fails_the_call_and_no_media_flows() {
    // Flip one hex digit of the browser's certificate fingerprint.
    let mut call = Call::new(|offer| {
        let at = offer.find("a=fingerprint:sha-256 ").unwrap() + "a=fingerprint:sha-256 ".len();
        let mut bytes = offer.into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(bytes).unwrap()
    });
    let mut opus = Codec::Opus(OpusConfig::default()).new_encoder().unwrap();
    for i in 0..400usize {
        if call.browser.connected {
            let frame = AudioFrame::mono(48000, tone(48000, 960, i * 960, 1000.0));
            let payload = opus.encode(&frame).unwrap();
            call.browser
                .send_opus(call.now, (i * 960) as u64, &payload, None);
        }
        call.step(Duration::from_millis(20));
        if call.bridge.leg().is_finished() {
            break;
        }
    }
    assert!(
        call.events.contains(&BridgeEvent::Failed {
            reason: FailReason::Fingerprint
        }),
        "{:?}",
        call.events
    );
    assert!(!call.events.contains(&BridgeEvent::Connected));
    assert!(!call.bridge.leg().is_connected());
    assert_eq!(call.bridge.stats().to_plain, 0);
    assert!(call.plain.pcm.is_empty());
}

#[test]
fn dtls_from_an_address_ice_has_not_validated_is_ignored() {
    let mut call = Call::new(|o| o);
    // Take the first DTLS handshake flight (a ClientHello, whichever side
    // is the DTLS client) and replay it from an attacker's address that
    // never did a STUN check.
    let attacker = addr("10.0.0.66:6666");
    for _ in 0..400 {
        if call.first_dtls.is_some() {
            break;
        }
        call.step(Duration::from_millis(5));
    }
    let hello = call.first_dtls.clone().expect("DTLS started");
    assert_eq!(hello[0], 22, "a handshake record");
    assert_eq!(hello[13], 1, "a ClientHello");
    let before = call.bridge.leg().stats().unvalidated_dropped;
    call.stray_to_server.push((attacker, hello.clone()));
    call.step(Duration::from_millis(1));
    assert_eq!(call.bridge.leg().stats().unvalidated_dropped, before + 1);
    // step() asserts every transmit went to the browser, none to the attacker.
    call.connect();
    // Once connected, the attacker's ClientHello is still dropped.
    call.stray_to_server.push((attacker, hello));
    call.step(Duration::from_millis(1));
    assert_eq!(call.bridge.leg().stats().unvalidated_dropped, before + 2);
    assert!(call.bridge.leg().is_connected());
}

#[test]
fn a_leg_that_never_connects_times_out() {
    let mut call = Call::new(|o| o);
    // Nothing from the browser ever arrives.
    for _ in 0..200 {
        call.browser.out.clear();
        call.step(Duration::from_millis(100));
    }
    assert!(call.events.contains(&BridgeEvent::Failed {
        reason: FailReason::ConnectTimeout
    }));
    assert!(
        call.bridge.poll_timeout().is_none_or(|t| t > call.now) || call.bridge.leg().is_finished()
    );
}

#[test]
fn recording_taps_both_directions_on_one_timeline() {
    use crate::relay::{RecordingEvent, Side};

    let mut call = Call::new(|o| o);
    call.connect();
    let start = call.now;
    let rate = 16000u32;
    call.bridge
        .start_recording(start, "call-1", rate, Side::A)
        .unwrap();
    assert!(call.bridge.is_recording());
    assert!(
        call.bridge
            .start_recording(start, "call-1", rate, Side::A)
            .is_err()
    );

    // The browser (the caller) says 1 kHz, the plain side 600 Hz, 2 s each.
    let mut opus = Codec::Opus(OpusConfig::default()).new_encoder().unwrap();
    for i in 0..100usize {
        let frame = AudioFrame::mono(48000, tone(48000, 960, i * 960, 1000.0));
        let payload = opus.encode(&frame).unwrap();
        call.browser
            .send_opus(call.now, (i * 960) as u64, &payload, None);
        let pcm = tone(8000, 160, i * 160, 600.0);
        let ulaw: Vec<u8> = pcm.iter().map(|&s| crate::codec::ulaw_encode(s)).collect();
        let packet = call
            .plain
            .rtp
            .send_rtp(call.now, 0, (i * 160) as u32, i == 0, &ulaw);
        call.bridge.handle_plain_rtp(call.now, packet);
        call.step(Duration::from_millis(20));
    }
    let end = call.now;
    call.bridge.close(end, SystemTime::now());
    assert!(!call.bridge.is_recording());

    let mut events = Vec::new();
    while let Some(e) = call.bridge.poll_recording() {
        events.push(e);
    }
    assert_eq!(
        events.first(),
        Some(&RecordingEvent::Started {
            call: "call-1".into(),
            rate
        })
    );
    let Some(RecordingEvent::Stopped {
        end: length, stats, ..
    }) = events.last()
    else {
        panic!("no Stopped last: {:?}", events.last());
    };
    // Sides as heard: the file is as long as the call ran since the start.
    let ran = (end - start).as_millis() as u64 * u64::from(rate) / 1000;
    assert!(
        (ran..=ran + u64::from(rate) / 10).contains(length),
        "{length} vs {ran}"
    );
    assert!(
        stats[0].decoded >= 95 && stats[1].decoded >= 95,
        "{stats:?}"
    );

    // Lay each side out on the timeline.
    let mut sides = [vec![0i16; *length as usize], vec![0i16; *length as usize]];
    let mut first = [None, None];
    let mut last_end = [0u64, 0];
    for e in &events {
        let RecordingEvent::Frame(f) = e else {
            continue;
        };
        assert_eq!(&*f.call, "call-1");
        let k = usize::from(f.side == Side::B);
        assert!(f.offset >= last_end[k], "frames of a side never overlap");
        first[k].get_or_insert(f.offset);
        last_end[k] = f.offset + f.samples.len() as u64;
        let at = f.offset as usize;
        sides[k][at..at + f.samples.len()].copy_from_slice(&f.samples);
    }
    // Both start within 100 ms of the recording's start (their first packet
    // arrived then) and run to its end.
    for k in 0..2 {
        let first = first[k].expect("frames of both sides");
        assert!(first < u64::from(rate) / 10, "side {k} starts at {first}");
        assert!(
            last_end[k] + u64::from(rate) / 10 >= ran,
            "side {k} ends at {}",
            last_end[k]
        );
    }
    // Left (A, the browser) carries 1 kHz, right (B, the plain side) 600 Hz.
    let (from, to) = (rate as usize / 4, rate as usize * 3 / 2);
    let a = &sides[0][from..to];
    let b = &sides[1][from..to];
    assert!(
        tone_share(a, rate, 1000.0) > 0.8,
        "{}",
        tone_share(a, rate, 1000.0)
    );
    assert!(tone_share(a, rate, 600.0) < 0.05);
    assert!(
        tone_share(b, rate, 600.0) > 0.8,
        "{}",
        tone_share(b, rate, 600.0)
    );
    assert!(tone_share(b, rate, 1000.0) < 0.05);
    // Nothing after the end.
    assert!(call.bridge.poll_recording().is_none());
}
