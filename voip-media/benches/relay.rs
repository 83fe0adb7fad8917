//! Relay throughput, printed (no assertions):
//! - the sans-IO core: pass-through packets/s; PCMU ⇄ Opus transcoding in
//!   both directions (decode + resample + encode per 20 ms frame each way),
//!   printed as transcoded calls per core;
//! - the tokio driver on loopback through real sockets, batched (quinn-udp:
//!   recvmmsg/GRO, GSO) and unbatched (one syscall per datagram) side by
//!   side.
//!
//! Run: `cargo bench -p voip-media --bench relay`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::net::UdpSocket;
use voip_core::{AudioFrame, Rng};
use voip_media::codec::{Codec, OpusConfig};
use voip_media::relay::{
    LegAddrs, OfferOptions, Relay, RelayConfig, RelayDriver, Side, SocketMode,
};

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

fn core(transcode: bool) -> (Relay, LegAddrs, LegAddrs) {
    let t0 = Instant::now();
    let config = RelayConfig::default().build().unwrap_or_default_config();
    let mut r = Relay::new(config, Rng::seeded(1), t0, SystemTime::now());
    let a = LegAddrs::pair("192.0.2.1:30000".parse().unwrap());
    let b = LegAddrs::pair("192.0.2.1:30002".parse().unwrap());
    r.create_call(t0, "c", a, b).unwrap();
    let mut opts = OfferOptions::default();
    if transcode {
        opts = opts.transcode(Codec::Opus(OpusConfig::default()));
    }
    r.offer(
        t0,
        "c",
        Side::A,
        sdp("10.0.0.1", 4000, "0", "").as_bytes(),
        &opts,
    )
    .unwrap();
    let answer = if transcode {
        sdp("10.0.0.2", 5000, "96", "a=rtpmap:96 opus/48000/2\r\n")
    } else {
        sdp("10.0.0.2", 5000, "0", "")
    };
    r.answer(t0, "c", answer.as_bytes()).unwrap();
    (r, a, b)
}

trait OrDefault {
    fn unwrap_or_default_config(self) -> std::sync::Arc<RelayConfig>;
}
impl<E> OrDefault for Result<std::sync::Arc<RelayConfig>, E> {
    fn unwrap_or_default_config(self) -> std::sync::Arc<RelayConfig> {
        self.unwrap_or_else(|_| std::sync::Arc::new(RelayConfig::default()))
    }
}

fn bench_passthrough() {
    let (mut r, a, _) = core(false);
    let src: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    let n = 1_000_000u32;
    let t0 = Instant::now();
    let start = Instant::now();
    for i in 0..n {
        let p = rtp(7, i as u16, i * 160, 0, &[0x55; 160]);
        r.handle_datagram(t0, a.rtp, src, p);
        while r.poll_transmit().is_some() {}
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "core pass-through            {:>10.0} packets/s",
        f64::from(n) / s
    );
}

/// 20 ms of a speech-like signal (a gliding harmonic vowel) at `rate`,
/// frame `k` of a continuous stream.
fn speech(rate: u32, k: u32) -> Vec<i16> {
    let n = rate / 50;
    (0..n)
        .map(|i| {
            let t = f64::from(k * n + i) / f64::from(rate);
            let f0 = 140.0 + 30.0 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let v: f64 = (1..=10)
                .map(|h| (2.0 * std::f64::consts::PI * f64::from(h) * f0 * t).sin() / f64::from(h))
                .sum();
            (5000.0 * v) as i16
        })
        .collect()
}

/// utime + stime of this process in seconds (Linux; USER_HZ is 100).
fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split(' ').collect();
    Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
}

/// One transcoded call through the core, both directions: every 20 ms leg A
/// sends a PCMU packet and leg B an Opus packet; each is decoded, resampled
/// and re-encoded for the other side. Cost per second of call audio gives
/// transcoded calls per core (1 s / cost).
fn bench_transcode() {
    let (mut r, a, b) = core(true);
    let src_a: SocketAddr = "10.0.0.1:4000".parse().unwrap();
    let src_b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
    // 50 distinct frames of each codec, cycled (1 s of speech-like audio).
    let mut pcmu = Codec::Pcmu.new_encoder().unwrap();
    let mut opus = Codec::Opus(OpusConfig::default()).new_encoder().unwrap();
    let pcmu_frames: Vec<Bytes> = (0..50)
        .map(|k| {
            pcmu.encode(&AudioFrame::mono(8000, speech(8000, k)))
                .unwrap()
        })
        .collect();
    let opus_frames: Vec<Bytes> = (0..50)
        .map(|k| {
            opus.encode(&AudioFrame::mono(48000, speech(48000, k)))
                .unwrap()
        })
        .collect();
    let n = 15_000u32; // 300 s of call audio
    let t0 = Instant::now();
    let cpu0 = process_cpu_seconds();
    let start = Instant::now();
    let (mut to_a, mut to_b) = (0u64, 0u64);
    for i in 0..n {
        let now = t0 + Duration::from_millis(20 * u64::from(i));
        let k = (i % 50) as usize;
        r.handle_datagram(
            now,
            a.rtp,
            src_a,
            rtp(7, i as u16, i * 160, 0, &pcmu_frames[k]),
        );
        r.handle_datagram(
            now,
            b.rtp,
            src_b,
            rtp(9, i as u16, i * 960, 96, &opus_frames[k]),
        );
        while let Some(t) = r.poll_timeout().filter(|t| *t <= now) {
            r.handle_timeout(t);
        }
        while let Some(t) = r.poll_transmit() {
            if t.destination == src_a {
                to_a += 1;
            } else {
                to_b += 1;
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    // CPU time, not wall time: on a shared machine the thread may wait for
    // a core; what a call costs is the CPU it used (the wall figure is
    // printed too).
    let s = process_cpu_seconds()
        .zip(cpu0)
        .map_or(wall, |(b, a)| b - a)
        .max(1e-9);
    let audio = f64::from(n) * 0.020;
    let per_call_second = s / audio;
    println!(
        "core PCMU <-> Opus transcoding, both directions: {:.1} us CPU per 20 ms (both ways), {:.2} ms CPU per call-second ({:.2} s CPU, {wall:.2} s wall)",
        s / f64::from(n) * 1e6,
        per_call_second * 1e3,
        s,
    );
    println!(
        "transcoded calls per core (Opus <-> PCMU, 20 ms frames both ways) {:>8.0}   ({to_b} packets out to the Opus leg, {to_a} to the PCMU leg, of {n} each way)",
        1.0 / per_call_second
    );
}

async fn bench_driver(mode: SocketMode, base: u16) -> f64 {
    let config = RelayConfig::default()
        .port_range(base, base + 9)
        .build()
        .unwrap_or_default_config();
    let handle = RelayDriver::spawn(config, "127.0.0.1".parse().unwrap(), Rng::seeded(1), mode);
    let [a, _b] = handle.create_call("c").await.unwrap();
    let ep_a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let ep_b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let offer = sdp("127.0.0.1", ep_a.local_addr().unwrap().port(), "0", "");
    handle
        .offer("c", Side::A, Bytes::from(offer), OfferOptions::default())
        .await
        .unwrap();
    let answer = sdp("127.0.0.1", ep_b.local_addr().unwrap().port(), "0", "");
    handle.answer("c", Bytes::from(answer)).await.unwrap();
    let window = 64u32;
    let windows = 1500u32;
    let mut buf = [0u8; 2048];
    let start = Instant::now();
    let mut received = 0u32;
    for w in 0..windows {
        for i in 0..window {
            let seq = w * window + i;
            let _ = ep_a
                .send_to(&rtp(7, seq as u16, seq * 160, 0, &[0x55; 160]), a.rtp)
                .await;
        }
        // Count what arrives; a lost datagram only ends the window early.
        while received < (w + 1) * window {
            match tokio::time::timeout(Duration::from_millis(50), ep_b.recv_from(&mut buf)).await {
                Ok(Ok(_)) => received += 1,
                _ => break,
            }
        }
    }
    f64::from(received) / start.elapsed().as_secs_f64()
}

fn main() {
    bench_passthrough();
    bench_transcode();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let batched = rt.block_on(bench_driver(SocketMode::Batched, 42000));
    let unbatched = rt.block_on(bench_driver(SocketMode::Unbatched, 42100));
    println!(
        "driver loopback, batched     {batched:>10.0} packets/s (quinn-udp recvmmsg/GRO + GSO)"
    );
    println!("driver loopback, unbatched   {unbatched:>10.0} packets/s (recv_from/send_to)");
    println!("batched / unbatched          {:>10.2}", batched / unbatched);
}
