//! Recording scenarios in virtual time: two legs through the relay core,
//! with jitter, loss, reordering and duplicates; the recording goes through
//! the [`RecordingWriter`] into a real WAV file that is read back.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use voip_core::{AudioFrame, Rng};

use super::*;
use crate::audio::Wav;
use crate::codec::{Codec, OpusConfig};

const RATE: u32 = 16000;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn local_a() -> LegAddrs {
    LegAddrs::pair(addr("192.0.2.1:30000"))
}

fn local_b() -> LegAddrs {
    LegAddrs::pair(addr("192.0.2.1:30002"))
}

fn sdp(ip: &str, port: u16, fmts: &str, lines: &str) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {fmts}\r\n{lines}"
    )
}

fn rtp(ssrc: u32, seq: u16, ts: u32, pt: u8, payload: &[u8]) -> Bytes {
    let mut b = vec![0x80, pt];
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(&ts.to_be_bytes());
    b.extend_from_slice(&ssrc.to_be_bytes());
    b.extend_from_slice(payload);
    Bytes::from(b)
}

fn tone(freq: f64, rate: u32, start: usize, n: usize) -> Vec<i16> {
    (start..start + n)
        .map(|i| {
            (6000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin()) as i16
        })
        .collect()
}

/// Power at `freq` relative to the total power (Goertzel).
fn share(samples: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(RATE);
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2, mut total) = (0.0f64, 0.0f64, 0.0f64);
    for &x in samples {
        let x = f64::from(x);
        total += x * x;
        let s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    power / (total * samples.len() as f64 / 2.0).max(1.0)
}

fn rms(s: &[i16]) -> f64 {
    (s.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / s.len().max(1) as f64).sqrt()
}

/// The first 5 ms window from which the channel is loud.
fn onset(channel: &[i16]) -> Option<usize> {
    channel
        .chunks(80)
        .position(|w| rms(w) > 1000.0)
        .map(|k| k * 80)
}

fn seconds(s: f64) -> usize {
    (s * f64::from(RATE)) as usize
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("voip-relay-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A datagram in flight.
struct Flight {
    at: Instant,
    local: SocketAddr,
    source: SocketAddr,
    bytes: Bytes,
}

/// The network: each packet is delayed 10–40 ms (so some overtake the one
/// before), every `lose`-th is lost, every 50th is sent twice.
#[allow(clippy::too_many_arguments)]
fn send(
    flights: &mut Vec<Flight>,
    rng: &mut Rng,
    n: u64,
    sent: Instant,
    leg: LegAddrs,
    source: &str,
    bytes: Bytes,
    lose: u64,
) {
    if n % lose == lose - 1 {
        return;
    }
    let delay = Duration::from_millis(10 + rng.next_u64() % 31);
    flights.push(Flight {
        at: sent + delay,
        local: leg.rtp,
        source: addr(source),
        bytes: bytes.clone(),
    });
    if n % 50 == 7 {
        flights.push(Flight {
            at: sent + delay + Duration::from_millis(3),
            local: leg.rtp,
            source: addr(source),
            bytes,
        });
    }
}

/// Delivers the flights in arrival order, running the relay's timers in
/// between; returns the recording's events.
fn deliver(r: &mut Relay, mut flights: Vec<Flight>, until: Instant) -> Vec<RecordingEvent> {
    flights.sort_by_key(|f| f.at);
    let mut events = Vec::new();
    for f in flights {
        while let Some(t) = r.poll_timeout().filter(|t| *t <= f.at) {
            r.handle_timeout(t);
        }
        r.handle_datagram(f.at, f.local, f.source, f.bytes);
        while r.poll_transmit().is_some() {}
        events.extend(std::iter::from_fn(|| r.poll_recording()));
    }
    while let Some(t) = r.poll_timeout().filter(|t| *t <= until) {
        r.handle_timeout(t);
    }
    while r.poll_transmit().is_some() {}
    events.extend(std::iter::from_fn(|| r.poll_recording()));
    events
}

fn write_wav(
    events: Vec<RecordingEvent>,
    path: &PathBuf,
    layout: RecordingLayout,
) -> [RecordingStats; 2] {
    let mut writer = RecordingWriter::new();
    writer
        .open(
            Arc::from("c1"),
            path,
            RecordingOptions::default().layout(layout),
        )
        .unwrap();
    let mut stats = None;
    for e in events {
        if let RecordingEvent::Stopped { stats: s, .. } = &e {
            stats = Some(*s);
        }
        if let Some(done) = writer.handle(e) {
            assert!(done.error.is_none());
            assert_eq!(&done.path, path);
        }
    }
    assert!(writer.is_empty(), "Stopped finished the file");
    stats.expect("a Stopped event")
}

use std::sync::Arc;

#[test]
fn pcmu_caller_and_opus_callee_are_recorded_time_aligned_through_loss_and_reordering() {
    let t0 = Instant::now();
    let config = RelayConfig::default().build().unwrap();
    let mut r = Relay::new(config, Rng::seeded(3), t0, SystemTime::UNIX_EPOCH);
    r.create_call(t0, "c1", local_a(), local_b()).unwrap();
    let offer = sdp(
        "10.0.0.5",
        4000,
        "0 101",
        "a=rtpmap:101 telephone-event/8000\r\n",
    );
    let opts = OfferOptions::default().transcode(Codec::Opus(OpusConfig::default()));
    r.offer(t0, "c1", Side::A, offer.as_bytes(), &opts).unwrap();
    let answer = sdp("10.0.1.9", 5000, "96", "a=rtpmap:96 opus/48000/2\r\n");
    r.answer(t0, "c1", answer.as_bytes()).unwrap();
    assert_eq!(r.is_transcoding("c1"), Some(true));
    r.start_recording(t0, "c1", RATE).unwrap();
    assert!(r.is_recording("c1"));
    assert!(matches!(
        r.start_recording(t0, "c1", RATE),
        Err(RelayError::Recording(_))
    ));

    let mut rng = Rng::seeded(11);
    let mut flights = Vec::new();
    // A (PCMU): 440 Hz from 0.5 s to 3.5 s, 20 ms packets, every 17th lost,
    // a DTMF press on the way (skipped by the recording).
    let mut pcmu = Codec::Pcmu.new_encoder().unwrap();
    let mut seq = 1000u16;
    for i in 0..150u64 {
        let sent = t0 + Duration::from_millis(500 + 20 * i);
        let pcm = tone(440.0, 8000, 160 * i as usize, 160);
        let payload = pcmu.encode(&AudioFrame::mono(8000, pcm)).unwrap();
        let p = rtp(0xa, seq, 5000 + 160 * i as u32, 0, &payload);
        seq += 1;
        send(
            &mut flights,
            &mut rng,
            i,
            sent,
            local_a(),
            "203.0.113.7:61000",
            p,
            17,
        );
        if i == 60 {
            // an RFC 4733 packet between two audio packets, in sequence
            let p = rtp(0xa, seq, 5000 + 160 * i as u32, 101, &[5, 10, 0, 160]);
            seq += 1;
            flights.push(Flight {
                at: sent + Duration::from_millis(10),
                local: local_a().rtp,
                source: addr("203.0.113.7:61000"),
                bytes: p,
            });
        }
    }
    // B (Opus): 1000 Hz from 1.3 s to 3.3 s, every 23rd lost.
    let mut opus = Codec::Opus(OpusConfig::default()).new_encoder().unwrap();
    for i in 0..100u64 {
        let sent = t0 + Duration::from_millis(1300 + 20 * i);
        let pcm = tone(1000.0, 48000, 960 * i as usize, 960);
        let payload = opus.encode(&AudioFrame::mono(48000, pcm)).unwrap();
        let p = rtp(0xb, 40000 + i as u16, 90000 + 960 * i as u32, 96, &payload);
        send(
            &mut flights,
            &mut rng,
            i,
            sent,
            local_b(),
            "198.51.100.2:7000",
            p,
            23,
        );
    }
    let end = t0 + Duration::from_secs(4);
    let mut events = deliver(&mut r, flights, end);
    r.delete(end, "c1").unwrap();
    events.extend(std::iter::from_fn(|| r.poll_recording()));
    assert!(matches!(
        &events[0],
        RecordingEvent::Started { rate: RATE, .. }
    ));
    let frames = events
        .iter()
        .filter(|e| matches!(e, RecordingEvent::Frame(_)))
        .count();
    assert!(frames > 200, "{frames}");

    for e in &events {
        if let RecordingEvent::Frame(f) = e {
            if f.side == Side::B && (27000..30000).contains(&f.offset) {
                eprintln!(
                    "B frame at {} len {} rms {}",
                    f.offset,
                    f.samples.len(),
                    rms(&f.samples)
                );
            }
        }
    }
    let path = temp("aligned.wav");
    let stats = write_wav(events, &path, RecordingLayout::Stereo);
    // 150 − 8 lost + the duplicates; 100 − 4 lost.
    assert_eq!(stats[0].decoded, 142, "{stats:?}");
    assert_eq!(stats[0].concealed, 8, "{stats:?}");
    assert_eq!(stats[1].decoded, 96, "{stats:?}");
    assert_eq!(stats[1].concealed, 4, "{stats:?}");
    assert_eq!(stats[0].late + stats[1].late, 0, "{stats:?}");
    assert_eq!(
        (stats[0].duplicates, stats[1].duplicates),
        (3, 2),
        "{stats:?}"
    );

    let wav = Wav::read(&path).unwrap();
    assert_eq!((wav.sample_rate, wav.channels), (RATE, 2));
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(
        u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize,
        wav.samples.len() * 2,
        "the data size is in the header"
    );
    // The file runs from start_recording to delete: 4 s.
    assert_eq!(wav.samples.len() / 2, seconds(4.0));
    let left: Vec<i16> = wav.samples.iter().step_by(2).copied().collect();
    let right: Vec<i16> = wav.samples.iter().skip(1).step_by(2).copied().collect();

    // Each leg starts where it arrived (sent + 10..40 ms of network).
    let l0 = onset(&left).unwrap();
    let r0 = onset(&right).unwrap();
    assert!(
        (seconds(0.505)..=seconds(0.56)).contains(&l0),
        "left starts at {} s",
        l0 as f64 / f64::from(RATE)
    );
    assert!(
        (seconds(1.305)..=seconds(1.36)).contains(&r0),
        "right starts at {} s",
        r0 as f64 / f64::from(RATE)
    );
    // The right offset between the legs: 0.8 s as sent, ± the jitter.
    let between = r0 as f64 / f64::from(RATE) - l0 as f64 / f64::from(RATE);
    assert!((0.76..=0.84).contains(&between), "{between}");

    // Each channel carries its own leg's tone and not the other's.
    let l = &left[seconds(1.4)..seconds(3.2)];
    let rr = &right[seconds(1.4)..seconds(3.2)];
    assert!(share(l, 440.0) > 0.8, "{}", share(l, 440.0));
    assert!(share(l, 1000.0) < 0.01);
    assert!(share(rr, 1000.0) > 0.8, "{}", share(rr, 1000.0));
    assert!(share(rr, 440.0) < 0.01);
    assert!(
        rms(l) > 3000.0 && rms(rr) > 3000.0,
        "{} {}",
        rms(l),
        rms(rr)
    );
    // Loss is concealed: no quiet 10 ms inside the G.711 tone (pitch
    // concealment); libopus's concealment fades out and back in over a few
    // frames, so one loss of the Opus leg may leave quiet windows.
    for (name, ch, from, to, most) in [("left", &left, 0.6, 3.4, 0), ("right", &right, 1.4, 3.2, 6)]
    {
        let quiet = ch[seconds(from)..seconds(to)]
            .chunks(160)
            .filter(|w| rms(w) < 1000.0)
            .count();
        assert!(quiet <= most, "{name} has {quiet} quiet windows");
    }
    // Silence where a leg did not send.
    assert!(rms(&left[..seconds(0.5)]) < 1.0);
    assert!(rms(&right[..seconds(1.3)]) < 1.0);
    assert!(rms(&left[seconds(3.6)..]) < 1.0);
    assert!(rms(&right[seconds(3.45)..]) < 1.0);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn pauses_late_packets_and_a_new_stream_keep_the_wall_clock() {
    let t0 = Instant::now();
    let config = RelayConfig::default().build().unwrap();
    let mut r = Relay::new(config, Rng::seeded(4), t0, SystemTime::UNIX_EPOCH);
    r.create_call(t0, "c1", local_a(), local_b()).unwrap();
    let offer = sdp("10.0.0.5", 4000, "8 13", "");
    r.offer(
        t0,
        "c1",
        Side::A,
        offer.as_bytes(),
        &OfferOptions::default(),
    )
    .unwrap();
    let answer = sdp("10.0.1.9", 5000, "8", "");
    r.answer(t0, "c1", answer.as_bytes()).unwrap();
    assert_eq!(r.is_transcoding("c1"), Some(false));
    r.start_recording(t0, "c1", RATE).unwrap();
    let mut pcma = Codec::Pcma.new_encoder().unwrap();
    let mut flights = Vec::new();
    let mut packet = |ssrc: u32, seq: u16, ts: u32, at_ms: u64, pt: u8| {
        let payload = if pt == 13 {
            Bytes::from_static(&[40])
        } else {
            pcma.encode(&AudioFrame::mono(8000, tone(500.0, 8000, ts as usize, 160)))
                .unwrap()
        };
        Flight {
            at: t0 + Duration::from_millis(at_ms),
            local: local_a().rtp,
            source: addr("203.0.113.7:61000"),
            bytes: rtp(ssrc, seq, ts, pt, &payload),
        }
    };
    // Talk 0.1–0.5 s; silence suppressed (one CN packet) until 1.5 s, the
    // timestamps jumping over the pause; talk to 2.0 s.
    for i in (0..20u16).filter(|i| *i != 10) {
        flights.push(packet(7, i, 160 * u32::from(i), 100 + 20 * u64::from(i), 8));
    }
    flights.push(packet(7, 20, 3200, 500, 13));
    for i in 0..25u16 {
        let k = 70 + u32::from(i);
        flights.push(packet(7, 21 + i, 160 * k, 100 + 20 * u64::from(k), 8));
    }
    // Packet 10 comes 300 ms late: dropped, counted (concealed in time);
    // a copy of packet 30 is dropped too.
    flights.push(packet(7, 10, 1600, 600, 8));
    flights.push(packet(7, 30, 160 * 79, 100 + 20 * 79 + 5, 8));
    // The phone restarts its stream (new SSRC, random timestamps) at 2.5 s.
    for i in 0..10u16 {
        flights.push(packet(
            9,
            5000 + i,
            7_000_000 + 160 * u32::from(i),
            2500 + 20 * u64::from(i),
            8,
        ));
    }
    let end = t0 + Duration::from_secs(3);
    let mut events = deliver(&mut r, flights, end);
    assert!(r.stop_recording(end, "c1"));
    assert!(!r.stop_recording(end, "c1"));
    events.extend(std::iter::from_fn(|| r.poll_recording()));
    let path = temp("pauses.wav");
    let stats = write_wav(events, &path, RecordingLayout::Mono);
    assert_eq!(stats[0].late, 1, "{stats:?}");
    assert_eq!(stats[0].duplicates, 1, "{stats:?}");
    assert_eq!(stats[0].concealed, 1, "the CN packet is no loss: {stats:?}");
    assert_eq!(stats[0].decoded, 54, "{stats:?}");
    let wav = Wav::read(&path).unwrap();
    assert_eq!((wav.channels, wav.samples.len()), (1, seconds(3.0)));
    let s = &wav.samples;
    let loud = |from: f64, to: f64| rms(&s[seconds(from)..seconds(to)]);
    assert!(loud(0.12, 0.48) > 2000.0);
    assert!(loud(0.53, 1.48) < 1.0, "the pause is silence");
    assert!(loud(1.52, 1.98) > 2000.0, "talk resumes at 1.5 s");
    assert!(loud(2.03, 2.48) < 1.0);
    assert!(loud(2.52, 2.68) > 2000.0, "the new stream lands at 2.5 s");
    assert!(share(&s[seconds(1.52)..seconds(1.98)], 500.0) > 0.8);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn recording_commands_fail_cleanly() {
    let t0 = Instant::now();
    let config = RelayConfig::default().build().unwrap();
    let mut r = Relay::new(config, Rng::seeded(5), t0, SystemTime::UNIX_EPOCH);
    assert_eq!(
        r.start_recording(t0, "nope", RATE),
        Err(RelayError::UnknownCall)
    );
    r.create_call(t0, "c1", local_a(), local_b()).unwrap();
    assert!(matches!(
        r.start_recording(t0, "c1", 4000),
        Err(RelayError::Recording(_))
    ));
    assert!(!r.is_recording("c1"));
    assert!(!r.stop_recording(t0, "c1"));
    // Recording before the SDP: packets of an unknown format are counted.
    r.start_recording(t0, "c1", 8000).unwrap();
    r.handle_datagram(
        t0,
        local_a().rtp,
        addr("203.0.113.7:61000"),
        rtp(1, 1, 0, 120, &[1, 2, 3]),
    );
    r.handle_datagram(
        t0,
        local_a().rtp,
        addr("203.0.113.7:61000"),
        rtp(1, 2, 160, 0, &[0xff; 160]),
    );
    r.delete(t0 + Duration::from_secs(1), "c1").unwrap();
    let events: Vec<_> = std::iter::from_fn(|| r.poll_recording()).collect();
    let Some(RecordingEvent::Stopped { end, stats, .. }) = events.last() else {
        panic!("{events:?}")
    };
    assert_eq!(*end, 8000);
    assert_eq!(stats[0].unknown_format, 1);
    assert_eq!(stats[0].decoded, 1);
}
