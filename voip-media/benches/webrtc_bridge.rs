//! How many bridged WebRTC <-> PCMU calls one core sustains.
//!
//! One call: a str0m peer plays the browser (full ICE, DTLS-SRTP, Opus),
//! our `WebRtcBridge` bridges it to a plain PCMU leg. After connecting, the
//! browser's SRTP packets for `SECONDS` of 20 ms Opus frames and the plain
//! side's PCMU packets are prepared outside the clock; the clock then runs
//! over what the server does per media second and call: SRTP unprotect +
//! Opus decode + 48k->8k resample + PCMU encode + RTP out, and RTP in +
//! PCMU decode + 8k->48k resample + Opus encode + SRTP protect, with the
//! legs' timers. calls/core = 1 s / (CPU time of one call-second).
//!
//! `cargo bench -p voip-media --bench webrtc_bridge`

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use str0m::format::{Codec as S0Codec, FormatParams};
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use voip_core::{AudioFrame, Rng};
use voip_media::codec::{Codec, OpusConfig, ulaw_encode};
use voip_media::rtp::{RtpSession, RtpSessionConfig};
use voip_media::sdp::{LocalMedia, SdpCodec, SdpConfig, SdpSession};
use voip_media::webrtc::{BridgeConfig, LocalCandidate, WebRtcBridge, WebRtcConfig};

const SECONDS: usize = 10;
const FRAMES: usize = SECONDS * 50;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn tone(rate: u32, n: usize, start: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin())
                as i16
        })
        .collect()
}

struct Peer {
    rtc: Rtc,
    out: Vec<(SocketAddr, Vec<u8>)>,
    connected: bool,
}

impl Peer {
    fn drain(&mut self, now: Instant) -> Instant {
        loop {
            match self.rtc.poll_output().unwrap() {
                Output::Timeout(t) => return t.max(now),
                Output::Transmit(t) => self.out.push((t.destination, t.contents.into())),
                Output::Event(Event::Connected) => self.connected = true,
                Output::Event(_) => {}
            }
        }
    }
}

/// One connected call; returns the bridge, the browser peer and `now`.
fn connected_call(
    server: SocketAddr,
    browser_addr: SocketAddr,
) -> (WebRtcBridge, Peer, str0m::media::Mid, Instant) {
    let mut now = Instant::now();
    let webrtc = WebRtcConfig::new(vec![LocalCandidate::host(server)])
        .build()
        .unwrap();
    let config = BridgeConfig::new(
        webrtc,
        "10.0.0.3".parse::<std::net::IpAddr>().unwrap(),
        20000,
    )
    .build()
    .unwrap();
    let mut bridge = WebRtcBridge::new(config, Rng::seeded(1), now).unwrap();
    let mut builder = Rtc::builder().clear_codecs();
    builder.codec_config().enable_opus(true, false);
    let events = FormatParams {
        telephone_event_max: Some(15),
        ..Default::default()
    };
    builder.codec_config().add_config(
        Pt::from(110),
        None,
        S0Codec::Tele,
        Frequency::FORTY_EIGHT_KHZ,
        None,
        events,
    );
    let mut peer = Peer {
        rtc: builder.build(now),
        out: Vec::new(),
        connected: false,
    };
    peer.rtc
        .add_local_candidate(Candidate::host(browser_addr, "udp").unwrap());
    let mut change = peer.rtc.sdp_api();
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    let (offer, pending) = change.apply().unwrap();
    peer.drain(now);
    let plain_offer = bridge.handle_browser_offer(&offer.to_sdp_string()).unwrap();
    let media = LocalMedia::audio(40000, vec![SdpCodec::pcmu()]);
    let mut plain = SdpSession::new(SdpConfig::new(
        "10.0.0.3".parse::<std::net::IpAddr>().unwrap(),
        9,
        vec![media],
    ));
    plain.handle_offer(&plain_offer).unwrap();
    let answer = bridge
        .handle_plain_answer(now, &plain.create_answer().unwrap())
        .unwrap();
    let answer = str0m::change::SdpAnswer::from_sdp_string(&answer).unwrap();
    peer.rtc.sdp_api().accept_answer(pending, answer).unwrap();
    let mut peer_timeout = peer.drain(now);
    for _ in 0..5000 {
        if peer.connected && bridge.leg().is_connected() {
            return (bridge, peer, mid, now);
        }
        for (dst, bytes) in std::mem::take(&mut peer.out) {
            bridge.handle_webrtc_receive(now, browser_addr, dst, &bytes);
        }
        while let Some(t) = bridge.poll_webrtc_transmit() {
            let r = Receive::new(Protocol::Udp, server, t.destination, &t.contents).unwrap();
            peer.rtc.handle_input(Input::Receive(now, r)).unwrap();
            peer_timeout = peer.drain(now);
        }
        now += Duration::from_millis(2);
        if now >= peer_timeout {
            peer.rtc.handle_input(Input::Timeout(now)).unwrap();
            peer_timeout = peer.drain(now);
        }
        bridge.handle_timeout(now, SystemTime::now());
    }
    panic!("bench call did not connect");
}

fn main() {
    let server = addr("10.0.0.1:30000");
    let browser_addr = addr("10.0.0.2:50000");
    let (mut bridge, mut peer, mid, start) = connected_call(server, browser_addr);
    assert!(bridge.is_transcoding());

    // Prepare the browser's SRTP datagrams and the plain RTP packets.
    let mut opus = Codec::Opus(OpusConfig::default()).new_encoder().unwrap();
    let mut browser_packets = Vec::with_capacity(FRAMES);
    let mut plain_packets = Vec::with_capacity(FRAMES);
    let rtp_config = RtpSessionConfig::default()
        .clock_rate(8000)
        .build()
        .unwrap();
    let mut plain = RtpSession::new(rtp_config, Rng::seeded(3), start);
    for i in 0..FRAMES {
        let at = start + Duration::from_millis(20 * i as u64);
        let payload = opus
            .encode(&AudioFrame::mono(48000, tone(48000, 960, i * 960)))
            .unwrap();
        let mut writer = peer.rtc.writer(mid).unwrap();
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == S0Codec::Opus)
            .unwrap()
            .pt();
        writer = writer.audio_level(-30, true);
        writer
            .write(
                pt,
                at,
                MediaTime::new((i * 960) as u64, Frequency::FORTY_EIGHT_KHZ),
                payload.to_vec(),
            )
            .unwrap();
        peer.rtc.handle_input(Input::Timeout(at)).unwrap();
        peer.drain(at);
        for (_, bytes) in std::mem::take(&mut peer.out) {
            if (128..=191).contains(&bytes[0]) && !(200..=206).contains(&bytes[1]) {
                browser_packets.push((at, bytes));
            }
        }
        let ulaw: Vec<u8> = tone(8000, 160, i * 160)
            .iter()
            .map(|&s| ulaw_encode(s))
            .collect();
        plain_packets.push((at, plain.send_rtp(at, 0, (i * 160) as u32, i == 0, &ulaw)));
    }

    // The clock runs over the server's work only.
    let clock = Instant::now();
    let (mut webrtc_out, mut plain_out) = (0usize, 0usize);
    let mut next = 0;
    for (i, (at, packet)) in plain_packets.into_iter().enumerate() {
        while next < browser_packets.len() && browser_packets[next].0 <= at {
            bridge.handle_webrtc_receive(at, browser_addr, server, &browser_packets[next].1);
            next += 1;
        }
        bridge.handle_plain_rtp(at, packet);
        if bridge.poll_timeout().is_some_and(|t| t <= at) || i % 5 == 0 {
            bridge.handle_timeout(at, SystemTime::now());
        }
        while let Some(t) = bridge.poll_webrtc_transmit() {
            webrtc_out += t.contents.len();
        }
        while let Some(t) = bridge.poll_plain_transmit() {
            plain_out += t.contents.len();
        }
        while bridge.poll_event().is_some() {}
    }
    let elapsed = clock.elapsed();
    let stats = bridge.stats();
    assert!(stats.to_plain as usize >= FRAMES * 9 / 10, "{stats:?}");
    assert!(stats.to_browser as usize >= FRAMES * 9 / 10, "{stats:?}");
    let per_call_second = elapsed / SECONDS as u32;
    let calls = 1.0 / per_call_second.as_secs_f64();
    println!(
        "webrtc_bridge: Opus(SRTP) <-> PCMU, 20 ms frames, {SECONDS} s of media both ways: \
         {:.1} us CPU per call-second ({} frames to PCMU, {} to the browser, {} B SRTP out, {} B RTP out)",
        per_call_second.as_secs_f64() * 1e6,
        stats.to_plain,
        stats.to_browser,
        webrtc_out,
        plain_out
    );
    println!(
        "webrtc_bridge: ~{calls:.0} concurrent bridged WebRTC<->PCMU calls per core (transcoding + SRTP both ways)"
    );
}
