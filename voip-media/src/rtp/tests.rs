//! Scenario tests: two sessions in virtual time over a simulated network
//! (fixed one-way delay, loss, jitter). The wall clock is derived from the
//! virtual `Instant`, as a driver's would be.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use proptest::prelude::*;
use voip_core::Rng;

use super::*;

struct Clock {
    t0: Instant,
}

impl Clock {
    fn new() -> Self {
        Self { t0: Instant::now() }
    }
    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }
    fn wall(&self, now: Instant) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000) + now.duration_since(self.t0)
    }
}

fn session(seed: u64, min_sequential: u32) -> RtpSession {
    let config = RtpSessionConfig::default()
        .clock_rate(8000)
        .min_sequential(min_sequential)
        .cname(format!("leg-{seed}@example.test"))
        .build()
        .unwrap();
    RtpSession::new(config, Rng::seeded(seed), Instant::now())
}

fn events(s: &mut RtpSession) -> Vec<RtpEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Runs a one-way G.711 stream from `a` to `b` for `ms` milliseconds, with
/// RTCP both ways, each direction delayed by `delay_ms`; every `lose_every`th
/// RTP packet is lost. RTCP is delivered at the sender's timeout instant plus
/// the delay (both sessions see the same virtual clock).
fn call(
    a: &mut RtpSession,
    b: &mut RtpSession,
    clock: &Clock,
    ms: u64,
    delay_ms: u64,
    lose_every: u64,
) {
    let mut in_flight: Vec<(Instant, bool, Bytes)> = Vec::new(); // (arrival, to_b, bytes)
    let mut t = 0;
    while t <= ms {
        let now = clock.at(t);
        if t % 20 == 0 {
            let n = t / 20;
            let p = a.send_rtp(now, 0, (n * 160) as u32, n == 0, &[0xd5; 160]);
            if lose_every == 0 || n % lose_every != lose_every - 1 {
                // Every third packet a little late: some jitter.
                let extra = if n % 3 == 0 { 4 } else { 0 };
                in_flight.push((clock.at(t + delay_ms + extra), true, p));
            }
        }
        for (s, to_b) in [(&mut *a, true), (&mut *b, false)] {
            if s.poll_timeout().is_some_and(|d| d <= now) {
                s.handle_timeout(now, clock.wall(now));
            }
            while let Some(rtcp) = s.poll_transmit() {
                in_flight.push((clock.at(t + delay_ms), to_b, rtcp));
            }
        }
        in_flight.sort_by_key(|(at, _, _)| *at);
        while in_flight.first().is_some_and(|(at, _, _)| *at <= now) {
            let (_, to_b, bytes) = in_flight.remove(0);
            let dst = if to_b { &mut *b } else { &mut *a };
            match classify(&bytes) {
                PacketKind::Rtcp => dst.handle_rtcp(now, clock.wall(now), &bytes).unwrap(),
                PacketKind::Rtp => {
                    let _ = dst.handle_rtp(now, bytes);
                }
                other => panic!("{other:?}"),
            }
        }
        t += 1;
    }
}

#[test]
fn a_call_with_loss_reports_loss_jitter_and_rtt() {
    let clock = Clock::new();
    let mut a = session(1, 2);
    let mut b = session(2, 2);
    call(&mut a, &mut b, &clock, 30_000, 30, 20);
    // 1501 packets sent, 1 in 20 lost, the first on probation.
    let src = b.active_source().unwrap();
    assert_eq!(src.ssrc(), a.ssrc());
    assert_eq!(
        src.cname().map(|c| &c[..]),
        Some(&b"leg-1@example.test"[..])
    );
    let (received, expected) = src.counts();
    // The last packet or two are still in flight when the test stops.
    assert!((1497..=1500).contains(&expected), "{expected}");
    assert!(
        (74..=75).contains(&(expected - received)),
        "{received}/{expected}"
    );
    assert!(
        (src.loss_percent() - 5.0).abs() < 0.1,
        "{}",
        src.loss_percent()
    );
    // Every third packet 4 ms (32 units) late: |D| alternates 32, 32, 0.
    assert!(src.jitter() > 10 && src.jitter() < 32, "{}", src.jitter());
    assert_eq!(b.stats().rtp_received, received);
    assert_eq!(b.stats().rtp_probation, 1);

    // a heard b's reports about its stream, with an RTT of 2 × 30 ms.
    let evs = events(&mut a);
    let rtts: Vec<Duration> = evs
        .iter()
        .filter_map(|e| match e {
            RtpEvent::ReceptionReport { rtt, from, block } => {
                assert_eq!(*from, b.ssrc());
                assert_eq!(block.ssrc, a.ssrc());
                *rtt
            }
            _ => None,
        })
        .collect();
    assert!(rtts.len() >= 3, "{evs:?}");
    for rtt in &rtts {
        assert!(
            rtt.abs_diff(Duration::from_millis(60)) < Duration::from_millis(1),
            "{rtt:?}"
        );
    }
    let block = a.remote_report().unwrap();
    assert!(
        block.cumulative_lost > 60 && block.cumulative_lost <= 75,
        "{block:?}"
    );
    assert!(
        events(&mut b)
            .iter()
            .any(|e| matches!(e, RtpEvent::SenderReport { .. }))
    );

    // Quality from b's side: 5 % loss on G.711 with PLC, RTT unknown to b
    // (a is not receiving), so Ta = jitter buffer + codec.
    let q = b
        .quality(CodecImpairment::G711_PLC, Duration::from_millis(40))
        .unwrap();
    assert!((q.loss_percent - 5.0).abs() < 0.1);
    assert!(q.mos > 3.5 && q.mos < 4.0, "{q:?}");
    let q = a.quality(CodecImpairment::G711, Duration::ZERO);
    assert!(q.is_none(), "a receives nothing");
}

#[test]
fn rtcp_intervals_follow_the_minimum_and_randomisation() {
    let clock = Clock::new();
    let config = RtpSessionConfig::default().build().unwrap();
    let mut s = RtpSession::new(config, Rng::seeded(7), clock.at(0));
    let mut times = Vec::new();
    let mut now = clock.at(0);
    for _ in 0..50 {
        now = s.poll_timeout().unwrap();
        s.handle_timeout(now, clock.wall(now));
        if s.poll_transmit().is_some() {
            times.push(now.duration_since(clock.t0).as_secs_f64());
        }
    }
    let _ = now;
    // First report: 2.5 s × [0.5, 1.5) / (e − 1.5).
    assert!(
        times[0] >= 1.25 / 1.2183 && times[0] < 3.75 / 1.2183,
        "{}",
        times[0]
    );
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            (2.5 / 1.2183 - 1e-6..7.5 / 1.2183 + 1e-6).contains(&gap),
            "{gap}"
        );
    }
    // Reduced minimum at 1 Mbit/s: 360 ms, so reports come far more often.
    let config = RtpSessionConfig::default()
        .session_bandwidth(1_000_000)
        .reduced_minimum(true)
        .build()
        .unwrap();
    let s = RtpSession::new(config, Rng::seeded(7), clock.at(0));
    assert!(s.poll_timeout().unwrap() < clock.at(1000));
}

#[test]
fn a_new_ssrc_replaces_the_source_with_fresh_statistics() {
    let clock = Clock::new();
    let mut a = session(1, 1);
    let mut b = session(2, 1);
    for n in 0..10u32 {
        let now = clock.at(u64::from(n) * 20);
        if n != 3 {
            b.handle_rtp(now, a.send_rtp(now, 0, n * 160, false, &[0; 160]))
                .unwrap();
        } else {
            let _ = a.send_rtp(now, 0, n * 160, false, &[0; 160]);
        }
    }
    let old = a.ssrc();
    assert_eq!(b.active_source().unwrap().loss_percent(), 10.0);
    // The far end re-INVITEs to a new media server: new SSRC, new sequence.
    let mut c = session(3, 1);
    let now = clock.at(300);
    let got = b
        .handle_rtp(now, c.send_rtp(now, 0, 0, true, &[0; 160]))
        .unwrap();
    assert!(!got.late);
    assert_eq!(
        events(&mut b),
        vec![
            RtpEvent::NewSource {
                ssrc: old,
                replaced: None
            },
            RtpEvent::NewSource {
                ssrc: c.ssrc(),
                replaced: Some(old)
            },
        ]
    );
    let src = b.active_source().unwrap();
    assert_eq!(src.ssrc(), c.ssrc());
    assert_eq!(src.counts(), (1, 1));
    assert_eq!(src.loss_percent(), 0.0);
}

#[test]
fn a_sequence_restart_resets_statistics() {
    let clock = Clock::new();
    let mut b = session(2, 1);
    let pkt = |seq: u16| {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        Bytes::from(p)
    };
    for seq in 100..110 {
        b.handle_rtp(clock.at(0), pkt(seq)).unwrap();
    }
    assert_eq!(
        b.handle_rtp(clock.at(0), pkt(40_000)),
        Err(RtpDrop::BadSequence)
    );
    b.handle_rtp(clock.at(0), pkt(40_001)).unwrap();
    assert!(events(&mut b).contains(&RtpEvent::SequenceRestarted { ssrc: 9 }));
    assert_eq!(b.active_source().unwrap().counts(), (1, 1));
    assert_eq!(b.stats().rtp_bad_sequence, 1);
}

#[test]
fn bye_ends_the_source_and_close_stops_the_timer() {
    let clock = Clock::new();
    let mut a = session(1, 1);
    let mut b = session(2, 1);
    let now = clock.at(0);
    b.handle_rtp(now, a.send_rtp(now, 0, 0, true, &[0; 160]))
        .unwrap();
    a.close(clock.at(20), clock.wall(clock.at(20)), Some("hangup"));
    assert!(a.poll_timeout().is_none());
    let bye = a.poll_transmit().unwrap();
    let parsed = rtcp::parse_compound(&bye).unwrap();
    assert!(matches!(parsed[0], RtcpPacket::SenderReport { .. }));
    b.handle_rtcp(clock.at(40), clock.wall(clock.at(40)), &bye)
        .unwrap();
    let evs = events(&mut b);
    assert!(evs.contains(&RtpEvent::Bye {
        ssrc: a.ssrc(),
        reason: Some(Bytes::from_static(b"hangup"))
    }));
    assert!(b.active_source().is_none());
}

#[test]
fn silent_sources_time_out() {
    let clock = Clock::new();
    let mut a = session(1, 1);
    let mut b = session(2, 1);
    b.handle_rtp(clock.at(0), a.send_rtp(clock.at(0), 0, 0, true, &[0; 160]))
        .unwrap();
    let mut now = clock.at(0);
    while now < clock.at(60_000) {
        now = b.poll_timeout().unwrap();
        b.handle_timeout(now, clock.wall(now));
        while b.poll_transmit().is_some() {}
    }
    assert!(events(&mut b).contains(&RtpEvent::SourceTimedOut { ssrc: a.ssrc() }));
    assert!(b.active_source().is_none());
}

#[test]
fn our_own_ssrc_from_the_network_is_a_collision() {
    let clock = Clock::new();
    let mut a = session(1, 1);
    let own = a.send_rtp(clock.at(0), 0, 0, false, &[0; 10]);
    let old = a.ssrc();
    assert_eq!(a.handle_rtp(clock.at(0), own), Err(RtpDrop::SsrcCollision));
    assert_ne!(a.ssrc(), old);
    assert_eq!(
        events(&mut a),
        vec![RtpEvent::SsrcChanged { old, new: a.ssrc() }]
    );
    let bye = rtcp::parse_compound(&a.poll_transmit().unwrap()).unwrap();
    assert!(
        bye.iter()
            .any(|p| matches!(p, RtcpPacket::Bye { sources, .. } if sources == &vec![old]))
    );
}

#[test]
fn spoofed_ssrcs_cannot_grow_the_state() {
    let clock = Clock::new();
    let mut b = session(2, 2);
    for ssrc in 0..1000u32 {
        let mut p = vec![0x80, 0, 0, 1, 0, 0, 0, 0];
        p.extend_from_slice(&ssrc.to_be_bytes());
        let _ = b.handle_rtp(clock.at(u64::from(ssrc)), Bytes::from(p));
    }
    assert_eq!(b.stats().rtp_probation, 1000);
    let tracked = (0..1000u32).filter(|s| b.source(*s).is_some()).count();
    assert!(tracked <= 4, "{tracked}");
}

#[test]
fn rtcp_payload_types_on_the_rtp_path_are_refused() {
    let mut b = session(2, 1);
    let p = Bytes::from_static(&[0x80, 72, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9]);
    assert_eq!(
        b.handle_rtp(Instant::now(), p),
        Err(RtpDrop::RtcpPayloadType)
    );
}

proptest! {
    #[test]
    fn arbitrary_datagrams_are_dropped_and_counted_never_panic(
        datagrams in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..20),
    ) {
        let clock = Clock::new();
        let mut b = session(2, 1);
        let mut bad = 0;
        for (i, d) in datagrams.iter().enumerate() {
            let now = clock.at(i as u64);
            if b.handle_rtp(now, Bytes::from(d.clone())).is_err() { bad += 1; }
            let _ = b.handle_rtcp(now, clock.wall(now), d);
            b.handle_timeout(now, clock.wall(now));
        }
        let s = b.stats();
        prop_assert_eq!(
            s.rtp_malformed + s.rtp_probation + s.rtp_bad_sequence + s.rtp_rejected,
            bad
        );
        prop_assert_eq!(s.rtcp_malformed + s.rtcp_received, datagrams.len() as u64);
    }
}
