//! Jitter buffer scenarios in virtual time: a sender emits one packet per
//! 20 ms, a simulated network delays, reorders, repeats or loses them, and
//! the receiver pops once per 20 ms.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::Rng;

use super::*;

const F: Duration = Duration::from_millis(20);
const SAMPLES: u32 = 160;

fn packet(seq: u16, ts: u32) -> Packet {
    Packet {
        ssrc: 0x1234,
        sequence: seq,
        timestamp: ts,
        payload_type: 0,
        marker: false,
        payload: Bytes::from(seq.to_be_bytes().to_vec()),
    }
}

/// A receiver driven in virtual time.
struct Sim {
    jb: JitterBuffer,
    t0: Instant,
    /// Packets in flight: (arrival offset, packet), kept sorted.
    in_flight: Vec<(Duration, Packet)>,
    pops: u32,
    /// Offset of the pop clock against the send clock.
    phase: Duration,
    outcomes: Vec<PushOutcome>,
}

impl Sim {
    fn new(config: JitterConfig) -> Self {
        Self {
            jb: JitterBuffer::new(Arc::new(config.build().unwrap())),
            t0: Instant::now(),
            in_flight: Vec::new(),
            pops: 0,
            phase: Duration::from_millis(7),
            outcomes: Vec::new(),
        }
    }

    fn send(&mut self, arrival: Duration, p: Packet) {
        self.in_flight.push((arrival, p));
        self.in_flight.sort_by_key(|(t, _)| *t);
    }

    /// Sends `count` packets from `first` (sequence and timestamp counting
    /// from `seq0`/`ts0`), packet `i` leaving at `i * 20 ms + start` and
    /// taking `delay(i)` (None: lost).
    fn stream(
        &mut self,
        seq0: u16,
        ts0: u32,
        start: Duration,
        count: u32,
        mut delay: impl FnMut(u32) -> Option<Duration>,
    ) {
        for i in 0..count {
            let Some(d) = delay(i) else { continue };
            let p = packet(seq0.wrapping_add(i as u16), ts0.wrapping_add(i * SAMPLES));
            self.send(start + F * i + d, p);
        }
    }

    /// Pops `n` frames, delivering what has arrived before each.
    fn pop(&mut self, n: u32) -> Vec<Playout> {
        (0..n).map(|_| self.pop_one()).collect()
    }

    /// Pops until the packet `seq` has been played (at most 10,000 pops).
    fn pop_through(&mut self, seq: u16) -> Vec<Playout> {
        let mut out = Vec::new();
        for _ in 0..10_000 {
            let p = self.pop_one();
            let done = matches!(&p, Playout::Frame(f) if f.sequence == seq);
            out.push(p);
            if done {
                break;
            }
        }
        out
    }

    fn pop_one(&mut self) -> Playout {
        let now = self.phase + F * self.pops;
        self.pops += 1;
        while self.in_flight.first().is_some_and(|(t, _)| *t <= now) {
            let (t, p) = self.in_flight.remove(0);
            let outcome = self.jb.push(self.t0 + t, p);
            self.outcomes.push(outcome);
        }
        self.jb.pop(self.t0 + now)
    }
}

fn played(out: &[Playout]) -> Vec<u16> {
    out.iter()
        .filter_map(|p| match p {
            Playout::Frame(f) => Some(f.sequence),
            _ => None,
        })
        .collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn steady_stream_plays_every_frame_in_order() {
    let mut sim = Sim::new(JitterConfig::default());
    sim.stream(0, 0, ms(0), 200, |_| Some(ms(30)));
    let out = sim.pop_through(199);
    assert_eq!(played(&out), (0..200).collect::<Vec<_>>());
    let s = sim.jb.stats();
    assert_eq!((s.lost, s.late, s.concealed, s.duplicates), (0, 0, 0, 0));
    // On target, give or take the frame or two a continuous stream keeps
    // (audio is dropped only two frames over target).
    assert!(s.current_delay >= s.target_delay && s.current_delay < s.target_delay + 2 * F);
    assert_eq!(s.jitter, Duration::ZERO);
    // Once the sender stops, three frames are concealed, then silence.
    let tail = sim.pop(10);
    assert!(matches!(
        tail[..3],
        [
            Playout::Lost { next: None },
            Playout::Lost { .. },
            Playout::Lost { .. }
        ]
    ));
    assert!(tail[3..].iter().all(|p| *p == Playout::Silence));
    assert_eq!(sim.jb.stats().lost, 0);
}

#[test]
fn reordered_packets_are_put_back_in_order() {
    let mut sim = Sim::new(JitterConfig::default());
    // Every odd packet overtakes the even one before it by 5 ms.
    sim.stream(0, 0, ms(0), 100, |i| {
        Some(if i % 2 == 0 { ms(25) } else { ms(0) })
    });
    let out = sim.pop_through(99);
    assert_eq!(played(&out), (0..100).collect::<Vec<_>>());
    let s = sim.jb.stats();
    assert_eq!((s.lost, s.late, s.concealed), (0, 0, 0));
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let mut sim = Sim::new(JitterConfig::default());
    sim.stream(0, 0, ms(0), 50, |_| Some(ms(10)));
    // Every packet again 3 ms later, and five of them once more much later
    // (after they were played).
    sim.stream(0, 0, ms(3), 50, |_| Some(ms(10)));
    sim.stream(0, 0, ms(500), 5, |_| Some(ms(10)));
    let mut out = sim.pop_through(49);
    out.extend(sim.pop(10));
    assert_eq!(played(&out), (0..50).collect::<Vec<_>>());
    let s = sim.jb.stats();
    assert_eq!(s.duplicates, 55);
    assert_eq!(s.late, 0);
    assert_eq!(
        sim.outcomes
            .iter()
            .filter(|o| **o == PushOutcome::Duplicate)
            .count(),
        55
    );
}

#[test]
fn losses_are_concealed_with_the_next_packet_for_fec() {
    let mut sim = Sim::new(JitterConfig::default());
    let lost = [10u32, 20, 21];
    sim.stream(0, 0, ms(0), 40, |i| (!lost.contains(&i)).then_some(ms(5)));
    let out = sim.pop_through(39);
    let mut concealments = Vec::new();
    let mut before = None;
    for p in &out {
        match p {
            Playout::Frame(f) => before = Some(f.sequence),
            Playout::Lost { next } => {
                concealments.push((before, next.as_ref().map(|f| f.sequence)))
            }
            other => assert!(matches!(other, Playout::Silence), "{other:?}"),
        }
    }
    // 10 lost: 11 at hand (FEC); 20 lost with 21 lost too; 21 lost with 22.
    assert_eq!(
        concealments,
        vec![(Some(9), Some(11)), (Some(19), None), (Some(19), Some(22))]
    );
    let s = sim.jb.stats();
    assert_eq!((s.lost, s.concealed, s.concealed_with_next), (3, 3, 2));
    assert_eq!(s.played, 37);
}

#[test]
fn late_packets_are_dropped_and_counted() {
    let mut sim = Sim::new(JitterConfig::default().with_initial_delay(ms(20)));
    // Packet 30 is 300 ms late, beyond any delay the buffer built.
    sim.stream(0, 0, ms(0), 60, |i| {
        Some(if i == 30 { ms(300) } else { ms(1) })
    });
    let out = sim.pop(70);
    let seqs = played(&out);
    assert!(!seqs.contains(&30));
    assert!(seqs.contains(&29) && seqs.contains(&31));
    let s = sim.jb.stats();
    assert_eq!(s.late, 1);
    assert_eq!(s.lost, 1, "missing when its turn came");
    assert!(sim.outcomes.contains(&PushOutcome::Late));
    // One outlier (under the 3 % the target lets go) does not move it.
    assert!(s.target_delay < ms(100), "{:?}", s.target_delay);
}

/// Delay jitter drawn uniformly from `0..=max_ms` with a seeded RNG.
fn uniform(rng: &mut Rng, max_ms: u64) -> Duration {
    Duration::from_micros(rng.next_u64() % (max_ms * 1000 + 1))
}

#[test]
fn target_rises_under_jitter_and_falls_when_calm() {
    let mut sim = Sim::new(JitterConfig::default());
    let mut rng = Rng::seeded(42);
    // 10 s calm, 10 s of up to 100 ms jitter, 40 s calm.
    sim.stream(0, 0, ms(0), 3000, |i| {
        Some(if (500..1000).contains(&i) {
            ms(5) + uniform(&mut rng, 100)
        } else {
            ms(5)
        })
    });
    sim.pop(500);
    let calm_stats = sim.jb.stats();
    assert_eq!(calm_stats.target_delay, ms(20));
    assert!(calm_stats.current_delay < ms(60));

    // One second into the burst the target has caught up.
    sim.pop(50);
    let rising = sim.jb.stats();
    assert!(rising.target_delay >= ms(80), "{:?}", rising.target_delay);
    sim.pop(450);
    let burst = sim.jb.stats();
    assert!(burst.target_delay >= ms(90), "{:?}", burst.target_delay);
    assert!(burst.current_delay >= burst.target_delay);
    // Few late packets overall: the first jitter spikes before adapting.
    assert!(burst.late <= 25, "late {}", burst.late);
    assert!(burst.expanded >= 3);
    // Right after the burst the target holds (the window still has it).
    sim.pop(100);
    assert!(sim.jb.stats().target_delay >= ms(80));
    // After the calm settles the target and the delay are back down, one
    // frame dropped at a time.
    sim.pop(1900);
    let end = sim.jb.stats();
    assert_eq!(end.target_delay, ms(20));
    assert!(end.current_delay < ms(60), "{:?}", end.current_delay);
    assert!(end.accelerated >= 3);
}

#[test]
fn sequence_and_timestamp_wrap_around() {
    let mut sim = Sim::new(JitterConfig::default());
    let mut rng = Rng::seeded(5);
    // Sequence numbers wrap after 36 packets, timestamps after 31.
    let ts0 = u32::MAX - 30 * SAMPLES + 1;
    sim.stream(65_500, ts0, ms(0), 100, |_| Some(uniform(&mut rng, 30)));
    let out = sim.pop(110);
    let want: Vec<u16> = (0..100u16).map(|i| 65_500u16.wrapping_add(i)).collect();
    assert_eq!(played(&out), want);
    let s = sim.jb.stats();
    assert_eq!((s.lost, s.late, s.resets), (0, 0, 0));
}

#[test]
fn a_new_ssrc_resets_the_buffer() {
    let mut sim = Sim::new(JitterConfig::default());
    sim.stream(100, 5000, ms(0), 50, |_| Some(ms(5)));
    for i in 0..50u32 {
        let mut p = packet(40_000 + i as u16, 777_777 + i * SAMPLES);
        p.ssrc = 0xbeef;
        p.marker = i == 0;
        sim.send(ms(1000) + F * i + ms(5), p);
    }
    let out = sim.pop_through(40_049);
    let seqs = played(&out);
    // The old stream's last two packets, still buffered when the new SSRC
    // came, are dropped with it; the new stream plays from its start.
    let split = seqs.iter().position(|&s| s == 40_000).unwrap();
    assert_eq!(&seqs[..split], &(100..148).collect::<Vec<_>>()[..]);
    assert_eq!(&seqs[split..], &(40_000..40_050).collect::<Vec<_>>()[..]);
    let s = sim.jb.stats();
    assert_eq!((s.resets, s.lost, s.late, s.concealed), (1, 0, 0, 0));
    assert!(sim.outcomes.contains(&PushOutcome::Reset));
}

#[test]
fn a_sequence_jump_needs_a_second_packet() {
    let mut sim = Sim::new(JitterConfig::default());
    sim.stream(0, 0, ms(0), 10, |_| Some(ms(1)));
    // A stray packet far away is dropped...
    sim.send(ms(205), packet(30_000, 99));
    sim.stream(10, 10 * SAMPLES, ms(200), 10, |_| Some(ms(1)));
    // ...but two in sequence restart the stream.
    sim.stream(50_000, 1_000_000, ms(600), 10, |_| Some(ms(1)));
    let out = sim.pop(50);
    let seqs = played(&out);
    assert_eq!(&seqs[..20], &(0..20).collect::<Vec<_>>()[..]);
    assert_eq!(&seqs[20..], &(50_001..50_010).collect::<Vec<_>>()[..]);
    let s = sim.jb.stats();
    assert_eq!(s.out_of_range, 2);
    assert_eq!(s.resets, 1);
}

#[test]
fn overflow_is_bounded() {
    let mut sim = Sim::new(JitterConfig::default().with_max_packets(20));
    // 100 packets arrive at once after a stall.
    sim.stream(0, 0, ms(0), 100, |i| Some(ms(2000) - F * i));
    sim.pop(101);
    let s = sim.jb.stats();
    assert_eq!(s.overflow, 80);
    assert!(s.buffered <= 20);
    let out = sim.pop(30);
    let seqs = played(&out);
    assert_eq!(seqs.first(), Some(&80));
    assert_eq!(seqs.len(), 20);
}

#[test]
fn dtx_pause_plays_silence_and_resyncs_at_the_talkspurt() {
    let mut sim = Sim::new(JitterConfig::default());
    sim.stream(0, 0, ms(0), 50, |_| Some(ms(10)));
    // One second of DTX: sequence numbers go on, timestamps jump; the new
    // talkspurt carries the marker bit.
    for i in 0..50u32 {
        let mut p = packet(50 + i as u16, (100 + i) * SAMPLES);
        p.marker = i == 0;
        sim.send(F * (100 + i) + ms(10), p);
    }
    let out = sim.pop_through(99);
    assert_eq!(played(&out), (0..100).collect::<Vec<_>>());
    let s = sim.jb.stats();
    // Nothing tells the receiver that the sender paused: it conceals three
    // frames (60 ms), then plays silence until the next talkspurt.
    assert_eq!((s.lost, s.concealed, s.late), (0, 3, 0));
    assert!(s.silence >= 45, "{}", s.silence);
    let gap_start = out
        .iter()
        .position(|p| !matches!(p, Playout::Frame(_)) && !matches!(p, Playout::Silence))
        .unwrap();
    let gap_end = gap_start
        + out[gap_start..]
            .iter()
            .position(|p| matches!(p, Playout::Frame(_)))
            .unwrap();
    assert!(
        out[gap_start..gap_start + 3]
            .iter()
            .all(|p| matches!(p, Playout::Lost { next: None }))
    );
    assert!(
        out[gap_start + 3..gap_end]
            .iter()
            .all(|p| *p == Playout::Silence)
    );
    // The new talkspurt starts on target again.
    assert!(s.current_delay >= s.target_delay && s.current_delay < s.target_delay + F);
}

#[test]
fn a_pause_without_marker_is_found_by_the_sequence_number() {
    // 100 ms of delay: the next packet is at hand when the gap comes.
    let config = JitterConfig::default()
        .with_delay_bounds(ms(100), ms(500))
        .with_initial_delay(ms(100));
    let mut sim = Sim::new(config);
    sim.stream(0, 0, ms(0), 20, |_| Some(ms(10)));
    // Two frames not sent (DTX); the next packet follows in sequence, no marker.
    sim.stream(20, 22 * SAMPLES, F * 22, 20, |_| Some(ms(10)));
    let out = sim.pop_through(39);
    assert_eq!(played(&out), (0..40).collect::<Vec<_>>());
    let s = sim.jb.stats();
    assert_eq!(
        (s.concealed, s.lost, s.expanded, s.accelerated),
        (0, 0, 0, 0)
    );
    let after_19 = out
        .iter()
        .position(|p| matches!(p, Playout::Frame(f) if f.sequence == 19))
        .unwrap();
    assert_eq!(
        out[after_19 + 1..after_19 + 3],
        [Playout::Silence, Playout::Silence]
    );
    assert!(matches!(&out[after_19 + 3], Playout::Frame(f) if f.sequence == 20));
}

#[test]
fn comfort_noise_is_played_until_the_next_talkspurt() {
    let mut sim = Sim::new(JitterConfig::default());
    sim.stream(0, 0, ms(0), 20, |_| Some(ms(10)));
    let sid = ComfortNoise::new(60).with_reflection_coefficients(&[0.5]);
    let mut cn = packet(20, 20 * SAMPLES);
    cn.payload_type = 13;
    cn.payload = sid.to_bytes();
    sim.send(F * 20 + ms(10), cn);
    // A SID update half-way through the pause.
    let quieter = ComfortNoise::new(70);
    let mut cn2 = packet(21, 40 * SAMPLES);
    cn2.payload_type = 13;
    cn2.payload = quieter.to_bytes();
    sim.send(F * 40 + ms(10), cn2);
    for i in 0..10u32 {
        let mut p = packet(22 + i as u16, (60 + i) * SAMPLES);
        p.marker = i == 0;
        sim.send(F * (60 + i) + ms(10), p);
    }
    let out = sim.pop_through(31);
    let seqs = played(&out);
    assert_eq!(seqs, (0..20).chain(22..32).collect::<Vec<_>>());
    let noise: Vec<&ComfortNoise> = out
        .iter()
        .filter_map(|p| match p {
            Playout::ComfortNoise(c) => Some(c),
            _ => None,
        })
        .collect();
    let first_cn = out
        .iter()
        .position(|p| matches!(p, Playout::ComfortNoise(_)))
        .unwrap();
    assert!(matches!(&out[first_cn - 1], Playout::Frame(f) if f.sequence == 19));
    assert!(matches!(&out[first_cn + noise.len()], Playout::Frame(f) if f.sequence == 22));
    assert!(
        (39..=40).contains(&noise.len()),
        "the whole pause is comfort noise"
    );
    assert_eq!(noise[0], &sid);
    assert_eq!(noise.last(), Some(&&quieter));
    let s = sim.jb.stats();
    assert_eq!((s.lost, s.concealed), (0, 0));
    assert_eq!(s.comfort_noise, noise.len() as u64);
}

#[test]
fn an_empty_buffer_conceals_then_goes_silent() {
    let mut sim = Sim::new(JitterConfig::default());
    // The sender stops without a word.
    sim.stream(0, 0, ms(0), 20, |_| Some(ms(10)));
    let out = sim.pop(40);
    let after: Vec<&Playout> = out
        .iter()
        .skip_while(|p| !matches!(p, Playout::Frame(_)))
        .skip(20)
        .collect();
    assert!(matches!(after[0], Playout::Lost { next: None }));
    assert!(matches!(after[2], Playout::Lost { next: None }));
    assert!(after[3..].iter().all(|p| matches!(p, Playout::Silence)));
    assert_eq!(sim.jb.stats().concealed, 3);
}

#[test]
fn a_stall_is_bridged_without_loss() {
    let mut sim = Sim::new(JitterConfig::default());
    // Packets 20..35 are held by the network and come at once, just before
    // packet 35 (300 ms of stall).
    sim.stream(0, 0, ms(0), 60, |i| {
        Some(if (20..35).contains(&i) {
            F * (35 - i) + ms(4)
        } else {
            ms(5)
        })
    });
    let out = sim.pop_through(59);
    assert_eq!(played(&out), (0..60).collect::<Vec<_>>());
    let s = sim.jb.stats();
    assert_eq!((s.lost, s.late), (0, 0));
    assert!(s.concealed <= 3);
}

#[test]
fn the_buffer_expands_when_the_target_rises() {
    let mut sim = Sim::new(JitterConfig::default().with_initial_delay(ms(20)));
    // Every 20th packet is 60 ms slower than the rest (5 %, above the 3 %
    // the target lets go).
    sim.stream(0, 0, ms(0), 200, |i| {
        Some(if i % 20 == 19 { ms(61) } else { ms(1) })
    });
    let out = sim.pop_through(199);
    let s = sim.jb.stats();
    assert_eq!(s.late, 1, "only the first slow packet comes too late");
    assert_eq!(s.concealed, 1);
    assert!(s.expanded >= 2, "{}", s.expanded);
    assert!(out.contains(&Playout::Expand));
    assert!(s.target_delay >= ms(60), "{:?}", s.target_delay);
    assert_eq!(played(&out).len(), 199);
}

#[test]
fn time_scale_hints() {
    let mut sim = Sim::new(JitterConfig::default().with_initial_delay(ms(100)));
    sim.phase = ms(0);
    sim.stream(0, 0, ms(0), 50, |_| Some(ms(0)));
    sim.pop(6);
    // Delay 100 ms against a target that only just started to fall.
    assert_eq!(sim.jb.time_scale(), TimeScale::Normal);
    sim.pop(30);
    // The target has come down ~12 ms: more than half a frame of excess.
    assert_eq!(sim.jb.time_scale(), TimeScale::Accelerate);
}

#[test]
fn fec_lookahead_keeps_the_next_packet_at_hand() {
    for lookahead in [false, true] {
        let config = JitterConfig::default()
            .with_initial_delay(ms(20))
            .with_fec_lookahead(lookahead);
        let mut sim = Sim::new(config);
        // Packet 30 is lost and 31 comes 15 ms later than the rest.
        sim.stream(0, 0, ms(0), 60, |i| match i {
            30 => None,
            31 => Some(ms(16)),
            _ => Some(ms(1)),
        });
        let out = sim.pop_through(59);
        let lost: Vec<bool> = out
            .iter()
            .filter_map(|p| match p {
                Playout::Lost { next } => Some(next.is_some()),
                _ => None,
            })
            .collect();
        assert_eq!(lost, vec![lookahead], "lookahead {lookahead}");
        assert_eq!(played(&out).len(), 59);
        let s = sim.jb.stats();
        assert_eq!((s.lost, s.late), (1, 0));
    }
}
