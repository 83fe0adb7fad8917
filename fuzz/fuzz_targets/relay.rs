//! Arbitrary datagrams (to every leg port and an unknown one, from a few
//! sources), SDP bodies and timer runs into a relay with a pass-through
//! call and a transcoding SRTP call: no panic, every datagram is forwarded
//! or counted, and after `delete` nothing is left scheduled.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use voip_core::Rng;
use voip_media::codec::Codec;
use voip_media::relay::{LegAddrs, OfferOptions, Relay, RelayConfig, Side};

fn sdp(port: u16, proto: &str, fmts: &str, lines: &str) -> String {
    format!("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio {port} {proto} {fmts}\r\n{lines}")
}

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let Ok(config) = RelayConfig::default().media_timeout(Duration::from_secs(1)).build() else {
        return;
    };
    let mut r = Relay::new(config, Rng::seeded(1), t0, SystemTime::UNIX_EPOCH);
    let legs: Vec<LegAddrs> = (0..4u16)
        .map(|i| LegAddrs::pair(SocketAddr::from(([192, 0, 2, 1], 30000 + 2 * i))))
        .collect();
    if r.create_call(t0, "pass", legs[0], legs[1]).is_err() || r.create_call(t0, "tc", legs[2], legs[3]).is_err() {
        return;
    }
    let _ = r.offer(t0, "pass", Side::A, sdp(4000, "RTP/AVP", "0 101", "a=rtpmap:101 telephone-event/8000\r\n").as_bytes(), &OfferOptions::default());
    let _ = r.answer(t0, "pass", sdp(5000, "RTP/AVP", "0 101", "a=rtpmap:101 telephone-event/8000\r\n").as_bytes());
    let crypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n";
    let _ = r.offer(t0, "tc", Side::A, sdp(4002, "RTP/SAVP", "8", crypto).as_bytes(), &OfferOptions::default().srtp_to_answerer(false).transcode(Codec::Pcmu));
    let _ = r.answer(t0, "tc", sdp(5002, "RTP/AVP", "0", "").as_bytes());
    let mut rest = data;
    let mut now = t0;
    while let Some((&op, tail)) = rest.split_first() {
        let Some((&len, tail)) = tail.split_first() else { break };
        let take = usize::from(len).min(tail.len());
        let (body, tail) = tail.split_at(take);
        rest = tail;
        match op % 8 {
            0..=4 => {
                let port = 30000 + u16::from(op % 9);
                let local = SocketAddr::from(([192, 0, 2, 1], port));
                let source = SocketAddr::from(([10, 0, 0, op % 3], 4000 + u16::from(op % 4)));
                r.handle_datagram(now, local, source, Bytes::copy_from_slice(body));
            }
            5 => {
                now += Duration::from_millis(u64::from(len) * 4);
                while let Some(t) = r.poll_timeout().filter(|t| *t <= now) {
                    r.handle_timeout(t);
                }
            }
            6 => {
                let _ = r.offer(now, "pass", Side::B, body, &OfferOptions::default());
            }
            _ => {
                let _ = r.answer(now, "tc", body);
            }
        }
        while r.poll_transmit().is_some() {}
        while r.poll_event().is_some() {}
    }
    let _ = r.call_stats("tc");
    r.delete(now, "pass");
    r.delete(now, "tc");
    assert_eq!(r.call_count(), 0);
    assert_eq!(r.poll_timeout(), None);
});
