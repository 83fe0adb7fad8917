//! Scenario tests in virtual time: two endpoints (behind NAT) talking
//! through the relay.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use voip_core::{AudioFrame, Rng, Transmit};
use webrtc_util::marshal::Unmarshal;

use super::*;
use crate::codec::{Codec, OpusConfig};
use crate::dtmf::{Rfc4733Event, TelephoneEvent};
use crate::srtp::{CryptoAttribute, CryptoSuite, SrtpSession};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const A_SDP: &str = "10.0.0.5:4000";
const A_NAT: &str = "203.0.113.7:61000";
const B_SDP: &str = "10.0.1.9:5000";
const B_NAT: &str = "198.51.100.2:7000";

fn local_a() -> LegAddrs {
    LegAddrs::pair(addr("192.0.2.1:30000"))
}
fn local_b() -> LegAddrs {
    LegAddrs::pair(addr("192.0.2.1:30002"))
}

fn sdp(ip: &str, port: u16, proto: &str, fmts: &str, lines: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} {proto} {fmts}\r\n{lines}"
    )
}

fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8, marker: bool, payload: &[u8]) -> Bytes {
    let mut b = vec![0x80, pt | (u8::from(marker) << 7)];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(payload);
    Bytes::from(b)
}

fn relay(t0: Instant) -> Relay {
    let config = RelayConfig::default()
        .media_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut r = Relay::new(config, Rng::seeded(9), t0, SystemTime::UNIX_EPOCH);
    r.create_call(t0, "c1", local_a(), local_b()).unwrap();
    r
}

fn drain(r: &mut Relay) -> Vec<Transmit> {
    std::iter::from_fn(|| r.poll_transmit()).collect()
}

fn events(r: &mut Relay) -> Vec<RelayEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

/// Runs timers up to `until`.
fn run(r: &mut Relay, until: Instant) {
    while let Some(t) = r.poll_timeout().filter(|t| *t <= until) {
        r.handle_timeout(t);
    }
}

fn pcmu_call(t0: Instant) -> Relay {
    let mut r = relay(t0);
    let offer = sdp(
        "10.0.0.5",
        4000,
        "RTP/AVP",
        "0 101",
        "a=rtpmap:101 telephone-event/8000\r\n",
    );
    let to_b = r
        .offer(
            t0,
            "c1",
            Side::A,
            offer.as_bytes(),
            &OfferOptions::default(),
        )
        .unwrap();
    let text = std::str::from_utf8(&to_b).unwrap();
    assert!(
        text.contains("c=IN IP4 192.0.2.1\r\n") && text.contains("m=audio 30002 RTP/AVP 0 101"),
        "{text}"
    );
    let answer = sdp(
        "10.0.1.9",
        5000,
        "RTP/AVP",
        "0 101",
        "a=rtpmap:101 telephone-event/8000\r\n",
    );
    let to_a = r.answer(t0, "c1", answer.as_bytes()).unwrap();
    assert!(
        std::str::from_utf8(&to_a)
            .unwrap()
            .contains("m=audio 30000 RTP/AVP 0 101")
    );
    assert_eq!(r.is_transcoding("c1"), Some(false));
    r
}

#[test]
fn latches_to_the_nat_source_and_passes_packets_through_unchanged() {
    let t0 = Instant::now();
    let mut r = pcmu_call(t0);
    // Before B's first packet, A's media goes to B's SDP address.
    let p = rtp(0x1111, 7, 160, 0, true, &[0x55; 160]);
    r.handle_datagram(t0, local_a().rtp, addr(A_NAT), p.clone());
    let out = drain(&mut r);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].source, Some(local_b().rtp));
    assert_eq!(out[0].destination, addr(B_SDP));
    assert_eq!(out[0].contents, p, "pass-through keeps every byte");
    // B answers from behind its NAT: it is latched, and B's media goes to
    // A's NAT'd source, not A's SDP address.
    let q = rtp(0x2222, 100, 8000, 0, false, &[0x33; 160]);
    r.handle_datagram(t0, local_b().rtp, addr(B_NAT), q.clone());
    let out = drain(&mut r);
    assert_eq!(out[0].destination, addr(A_NAT));
    assert_eq!(out[0].source, Some(local_a().rtp));
    assert_eq!(out[0].contents, q);
    assert_eq!(r.remote("c1", Side::B), Some(addr(B_NAT)));
    let ev = events(&mut r);
    assert!(ev.iter().any(
        |e| matches!(e, RelayEvent::Latched { side: Side::A, remote, .. } if *remote == addr(A_NAT))
    ));
    assert!(ev.iter().any(
        |e| matches!(e, RelayEvent::Latched { side: Side::B, remote, .. } if *remote == addr(B_NAT))
    ));
    // A's media now goes to B's NAT address; an intruder is dropped.
    r.handle_datagram(
        t0,
        local_a().rtp,
        addr(A_NAT),
        rtp(0x1111, 8, 320, 0, false, &[1; 160]),
    );
    assert_eq!(drain(&mut r)[0].destination, addr(B_NAT));
    r.handle_datagram(
        t0,
        local_a().rtp,
        addr("6.6.6.6:1234"),
        rtp(9, 1, 1, 0, false, &[1; 160]),
    );
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.stats().unlatched_source, 1);
    // RTCP passes through to B's RTCP port (RTP + 1 from the SDP).
    let rr = Bytes::from_static(&[0x80, 201, 0, 1, 0, 0, 0x11, 0x11]);
    r.handle_datagram(t0, local_a().rtcp, addr("203.0.113.7:61001"), rr.clone());
    let out = drain(&mut r);
    assert_eq!(out[0].destination, addr("10.0.1.9:5001"));
    assert_eq!(out[0].source, Some(local_b().rtcp));
    assert_eq!(out[0].contents, rr);
    let [a, b] = r.call_stats("c1").unwrap();
    assert_eq!((a.packets_in, a.rtcp_in, b.packets_out), (2, 1, 2));
    assert_eq!(b.packets_in, 1);
}

#[test]
fn srtp_on_one_side_only() {
    let t0 = Instant::now();
    let mut r = relay(t0);
    let mut rng = Rng::seeded(77);
    let a_key = CryptoAttribute::generate(1, CryptoSuite::AesCm128HmacSha1_80, &mut rng);
    let offer = sdp(
        "10.0.0.5",
        4000,
        "RTP/SAVP",
        "0",
        &format!("a=crypto:{a_key}\r\n"),
    );
    let opts = OfferOptions::default().srtp_to_answerer(false);
    let to_b = r.offer(t0, "c1", Side::A, offer.as_bytes(), &opts).unwrap();
    let to_b = std::str::from_utf8(&to_b).unwrap().to_string();
    assert!(
        to_b.contains("RTP/AVP 0") && !to_b.contains("crypto"),
        "{to_b}"
    );
    let to_a = r
        .answer(
            t0,
            "c1",
            sdp("10.0.1.9", 5000, "RTP/AVP", "0", "").as_bytes(),
        )
        .unwrap();
    let to_a = std::str::from_utf8(&to_a).unwrap().to_string();
    assert!(to_a.contains("RTP/SAVP 0"), "{to_a}");
    let line = to_a.lines().find(|l| l.starts_with("a=crypto:")).unwrap();
    let relay_key = CryptoAttribute::parse(line).unwrap();
    let mut a = SrtpSession::from_sdes(&a_key, &relay_key).unwrap();
    // A → B: protected by A, plain at B.
    let plain = rtp(0xaaaa, 1, 0, 0, true, &[0x42; 160]);
    let srtp = a.protect_rtp(&plain).unwrap();
    r.handle_datagram(t0, local_a().rtp, addr(A_NAT), srtp.clone());
    let out = drain(&mut r);
    assert_eq!(out[0].contents, plain);
    assert_eq!(out[0].destination, addr(B_SDP));
    // A forged packet fails authentication, is counted, latches nothing.
    let mut forged = srtp.to_vec();
    forged[3] ^= 1;
    forged[20] ^= 0xff;
    r.handle_datagram(t0, local_a().rtp, addr("6.6.6.6:1"), Bytes::from(forged));
    assert!(drain(&mut r).is_empty());
    assert_eq!(r.stats().srtp_auth, 1);
    assert_eq!(r.remote("c1", Side::A), Some(addr(A_NAT)));
    // B → A: plain from B, protected toward A, A decrypts it.
    let back = rtp(0xbbbb, 50, 400, 0, false, &[0x24; 160]);
    r.handle_datagram(t0, local_b().rtp, addr(B_SDP), back.clone());
    let out = drain(&mut r);
    assert_eq!(out[0].destination, addr(A_NAT));
    assert_ne!(out[0].contents, back);
    assert_eq!(a.unprotect_rtp(&out[0].contents).unwrap(), back);
}

fn tone(rate: u32, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| {
            (8000.0 * (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / f64::from(rate)).sin())
                as i16
        })
        .collect()
}

/// Power at `freq` relative to the total power (Goertzel).
fn goertzel_share(samples: &[i16], rate: u32, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    let mut total = 0.0;
    for &x in samples {
        let x = f64::from(x);
        total += x * x;
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (total * samples.len() as f64 / 2.0)
}

fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / s.len() as f64).sqrt()
}

#[test]
fn transcodes_pcmu_to_opus_and_back_keeping_a_tone_and_remaps_dtmf() {
    let t0 = Instant::now();
    let mut r = relay(t0);
    let offer = sdp(
        "10.0.0.5",
        4000,
        "RTP/AVP",
        "0 101",
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n",
    );
    let opts = OfferOptions::default().transcode(Codec::Opus(OpusConfig::default()));
    let to_b = r.offer(t0, "c1", Side::A, offer.as_bytes(), &opts).unwrap();
    let to_b = std::str::from_utf8(&to_b).unwrap().to_string();
    assert!(to_b.contains("a=rtpmap:96 opus/48000/2"), "{to_b}");
    assert!(to_b.contains("a=rtpmap:97 telephone-event/48000"), "{to_b}");
    // B speaks only Opus.
    let answer = sdp(
        "10.0.1.9",
        5000,
        "RTP/AVP",
        "96 97",
        "a=rtpmap:96 opus/48000/2\r\na=rtpmap:97 telephone-event/48000\r\n",
    );
    let to_a = r.answer(t0, "c1", answer.as_bytes()).unwrap();
    let to_a = std::str::from_utf8(&to_a).unwrap().to_string();
    assert!(to_a.contains("m=audio 30000 RTP/AVP 0 101"), "{to_a}");
    assert!(!to_a.contains("opus"));
    assert_eq!(r.is_transcoding("c1"), Some(true));

    let mut pcmu = Codec::Pcmu.new_encoder().unwrap();
    let mut opus_at_b = Codec::Opus(OpusConfig::default()).new_decoder().unwrap();
    let mut opus_from_b = Codec::Opus(OpusConfig::default()).new_encoder().unwrap();
    let mut pcmu_at_a = Codec::Pcmu.new_decoder().unwrap();
    let mut heard_at_b = Vec::new();
    let mut heard_at_a = Vec::new();
    let mut b_seq = 0u16;
    let mut to_b_pts = Vec::new();
    for i in 0..150u32 {
        let now = t0 + Duration::from_millis(20 * u64::from(i));
        run(&mut r, now);
        let payload = pcmu
            .encode(&AudioFrame::mono(8000, tone(8000, 160 * i as usize, 160)))
            .unwrap();
        r.handle_datagram(
            now,
            local_a().rtp,
            addr(A_NAT),
            rtp(0xa, i as u16, 160 * i, 0, i == 0, &payload),
        );
        run(&mut r, now);
        for t in drain(&mut r) {
            let p = rtp::packet::Packet::unmarshal(&mut &t.contents[..]).unwrap();
            if t.source == Some(local_b().rtp) {
                to_b_pts.push(p.header.payload_type);
                let pcm = opus_at_b.decode(&p.payload).unwrap();
                heard_at_b.extend_from_slice(&pcm.samples);
                // B echoes the tone back, re-encoded (48 kHz Opus).
                let echo = opus_from_b.encode(&pcm).unwrap();
                r.handle_datagram(
                    now,
                    local_b().rtp,
                    addr(B_NAT),
                    rtp(0xb, b_seq, 960 * u32::from(b_seq), 96, b_seq == 0, &echo),
                );
                b_seq += 1;
            } else if t.source == Some(local_a().rtp) && t.destination == addr(A_NAT) {
                assert_eq!(p.header.payload_type, 0);
                heard_at_a.extend_from_slice(&pcmu_at_a.decode(&p.payload).unwrap().samples);
            }
        }
    }
    assert!(to_b_pts.iter().all(|pt| *pt == 96));
    assert!(heard_at_b.len() > 48000, "{}", heard_at_b.len());
    assert!(heard_at_a.len() > 8000, "{}", heard_at_a.len());
    let b_tail = &heard_at_b[heard_at_b.len() - 48000..];
    let a_tail = &heard_at_a[heard_at_a.len() - 8000..];
    assert!(
        goertzel_share(b_tail, 48000, 1000.0) > 0.9,
        "{}",
        goertzel_share(b_tail, 48000, 1000.0)
    );
    assert!(
        goertzel_share(a_tail, 8000, 1000.0) > 0.9,
        "{}",
        goertzel_share(a_tail, 8000, 1000.0)
    );
    let reference = rms(&tone(8000, 0, 8000));
    for (name, got) in [("b", rms(b_tail)), ("a", rms(a_tail))] {
        let db = 20.0 * (got / reference).log10();
        assert!(db.abs() < 2.0, "{name}: level off by {db:.2} dB");
    }

    // DTMF from A (PT 101, 8 kHz) reaches B as PT 97 at 48 kHz, on B's
    // timestamp line, and is reported.
    let now = t0 + Duration::from_secs(3);
    let ev = TelephoneEvent {
        event: 1,
        end: false,
        volume: 10,
        duration: 160,
    }
    .to_bytes();
    r.handle_datagram(
        now,
        local_a().rtp,
        addr(A_NAT),
        rtp(0xa, 150, 24000, 101, true, &ev),
    );
    let ev = TelephoneEvent {
        event: 1,
        end: true,
        volume: 10,
        duration: 800,
    }
    .to_bytes();
    r.handle_datagram(
        now,
        local_a().rtp,
        addr(A_NAT),
        rtp(0xa, 151, 24000, 101, false, &ev),
    );
    let sent: Vec<_> = drain(&mut r)
        .into_iter()
        .filter(|t| t.source == Some(local_b().rtp))
        .map(|t| rtp::packet::Packet::unmarshal(&mut &t.contents[..]).unwrap())
        .filter(|p| p.header.payload_type == 97)
        .collect();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].header.timestamp, sent[1].header.timestamp);
    assert_eq!(sent[0].header.ssrc, sent[1].header.ssrc);
    let last = TelephoneEvent::parse(sent[1].payload[..4].try_into().unwrap());
    assert_eq!((last.event, last.end, last.duration), (1, true, 4800));
    let ev = events(&mut r);
    assert!(ev.iter().any(|e| matches!(
        e,
        RelayEvent::Dtmf {
            from: Side::A,
            event: Rfc4733Event::Pressed(_),
            ..
        }
    )));
    // Our own RTCP went to both legs (terminated per leg).
    run(&mut r, now + Duration::from_secs(10));
    let [a, b] = r.call_stats("c1").unwrap();
    assert!(a.rtcp_out >= 1 && b.rtcp_out >= 1, "{a:?} {b:?}");
}

#[test]
fn pcma_to_pcmu_transcoding_and_dtmf_across_passthrough() {
    let t0 = Instant::now();
    let mut r = relay(t0);
    let offer = sdp("10.0.0.5", 4000, "RTP/AVP", "8", "");
    let opts = OfferOptions::default().transcode(Codec::Pcmu);
    let to_b = r.offer(t0, "c1", Side::A, offer.as_bytes(), &opts).unwrap();
    assert!(
        std::str::from_utf8(&to_b)
            .unwrap()
            .contains("m=audio 30002 RTP/AVP 8 0")
    );
    r.answer(
        t0,
        "c1",
        sdp("10.0.1.9", 5000, "RTP/AVP", "0", "").as_bytes(),
    )
    .unwrap();
    assert_eq!(r.is_transcoding("c1"), Some(true));
    for i in 0..20u32 {
        let now = t0 + Duration::from_millis(20 * u64::from(i));
        r.handle_datagram(
            now,
            local_a().rtp,
            addr(A_SDP),
            rtp(5, i as u16, 160 * i, 8, false, &[0xd5; 160]),
        );
        run(&mut r, now);
    }
    let out = drain(&mut r);
    let rtp_out: Vec<_> = out
        .iter()
        .filter(|t| t.destination == addr(B_SDP))
        .collect();
    assert!(rtp_out.len() >= 15);
    let p = rtp::packet::Packet::unmarshal(&mut &rtp_out[0].contents[..]).unwrap();
    assert_eq!(p.header.payload_type, 0);
    assert_ne!(p.header.ssrc, 5);

    // Pass-through calls relay DTMF as is and report it.
    let mut r = pcmu_call(t0);
    let ev = TelephoneEvent {
        event: 11,
        end: true,
        volume: 10,
        duration: 400,
    }
    .to_bytes();
    let pkt = rtp(0x2222, 9, 1234, 101, true, &ev);
    r.handle_datagram(t0, local_b().rtp, addr(B_NAT), pkt.clone());
    assert_eq!(drain(&mut r)[0].contents, pkt);
    assert!(
        events(&mut r)
            .iter()
            .any(|e| matches!(e, RelayEvent::Dtmf { from: Side::B, .. }))
    );
}

#[test]
fn hostile_datagrams_are_counted_and_never_panic() {
    let t0 = Instant::now();
    let mut r = pcmu_call(t0);
    let mut rng = Rng::seeded(3);
    r.handle_datagram(
        t0,
        addr("192.0.2.1:40000"),
        addr(A_NAT),
        Bytes::from_static(b"x"),
    );
    assert_eq!(r.stats().unknown_port, 1);
    for i in 0..5000u32 {
        let mut len = [0u8; 2];
        rng.fill(&mut len);
        let mut d = vec![0u8; usize::from(len[0]) % 200];
        rng.fill(&mut d);
        if i % 3 == 0 && !d.is_empty() {
            d[0] = 0x80 | (d[0] & 0x3f); // RTP-looking
        }
        let local = [local_a().rtp, local_a().rtcp, local_b().rtp, local_b().rtcp][i as usize % 4];
        let now = t0 + Duration::from_millis(u64::from(i));
        r.handle_datagram(now, local, addr(A_NAT), Bytes::from(d));
        run(&mut r, now);
    }
    let s = r.stats();
    assert!(
        s.malformed + s.not_media + s.unlatched_source > 1000,
        "{s:?}"
    );
    let _ = drain(&mut r);
    let _ = events(&mut r);
}

#[test]
fn media_timeout_is_reported_once_per_silence() {
    let t0 = Instant::now();
    let mut r = pcmu_call(t0);
    r.handle_datagram(
        t0,
        local_a().rtp,
        addr(A_NAT),
        rtp(1, 1, 0, 0, false, &[0; 160]),
    );
    run(&mut r, t0 + Duration::from_secs(4));
    assert!(
        !events(&mut r)
            .iter()
            .any(|e| matches!(e, RelayEvent::MediaTimeout { .. }))
    );
    run(&mut r, t0 + Duration::from_secs(30));
    let timeouts: Vec<_> = events(&mut r)
        .into_iter()
        .filter_map(|e| match e {
            RelayEvent::MediaTimeout {
                side, silent_for, ..
            } => Some((side, silent_for)),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts.len(), 2, "{timeouts:?}");
    assert!(timeouts.iter().all(|(_, d)| *d >= Duration::from_secs(5)));
    assert_eq!(r.delete(t0, "c1"), Some([local_a(), local_b()]));
    assert_eq!(r.call_count(), 0);
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn commands_fail_cleanly() {
    let t0 = Instant::now();
    let mut r = relay(t0);
    assert_eq!(
        r.create_call(t0, "c1", local_a(), local_b()),
        Err(RelayError::CallExists)
    );
    assert_eq!(
        r.create_call(t0, "c2", local_a(), LegAddrs::pair(addr("192.0.2.1:30010"))),
        Err(RelayError::AddressInUse)
    );
    assert_eq!(
        r.answer(t0, "c1", sdp("1.2.3.4", 5, "RTP/AVP", "0", "").as_bytes()),
        Err(RelayError::NoPendingOffer)
    );
    assert_eq!(
        r.offer(t0, "nope", Side::A, b"", &OfferOptions::default()),
        Err(RelayError::UnknownCall)
    );
    assert!(matches!(
        r.offer(t0, "c1", Side::A, b"junk", &OfferOptions::default()),
        Err(RelayError::MalformedSdp(_))
    ));
    r.offer(
        t0,
        "c1",
        Side::A,
        sdp("1.2.3.4", 5, "RTP/AVP", "0", "").as_bytes(),
        &OfferOptions::default(),
    )
    .unwrap();
    let err = r
        .answer(t0, "c1", sdp("1.2.3.4", 6, "RTP/AVP", "18", "").as_bytes())
        .unwrap_err();
    assert_eq!(err, RelayError::NoCommonCodec);
    assert_eq!(err.status(), 488);
}
