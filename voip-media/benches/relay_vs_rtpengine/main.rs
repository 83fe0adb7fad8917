//! Relayed RTP packets per second per core: voip-media's `RelayDriver`
//! against rtpengine (userspace forwarding), driven by the same traffic
//! generator. `scripts/bench-relay.sh` runs it; by hand:
//!
//! ```text
//! relay_vs_rtpengine serve --ng 127.0.0.1:22240 --ports 44000-45999
//!     our relay in its own process: RelayDriver on a one-thread tokio
//!     runtime, controlled by ng (offer/answer/delete), like rtpengine
//! relay_vs_rtpengine gen --ng 127.0.0.1:22240 --pid <relay pid> --label voip-media
//!     [--calls 500] [--rate 50] [--secs 10] [--warmup 2] [--payload 160] [--sockets 64]
//! ```
//!
//! The generator sets up `--calls` calls through the ng protocol (the same
//! client code for both relays), then sends RTP on both legs of every call,
//! `--rate` packets per second per leg, paced, one `sendmsg` and one
//! datagram per packet (no GSO: a relay sees one datagram per phone packet,
//! as in production), from `2 * --sockets` endpoint sockets the calls share;
//! it counts with `recvmmsg` what comes out. It reads the relay's CPU time
//! from `/proc/<pid>/stat` and prints offered and relayed packets per
//! second, the loss, and relayed packets per relay CPU-second ("per core").
//!
//! `cargo bench` runs it without a mode: it then only checks its bencode
//! codec and exits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ng;
mod udp;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ng::Value;

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: Option<T>) -> T {
    let flag = format!("--{name}");
    match args.iter().position(|a| *a == flag) {
        Some(i) => args
            .get(i + 1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("bad value for {flag}")),
        None => default.unwrap_or_else(|| panic!("{flag} is required")),
    }
}

fn main() {
    ng::self_check();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("serve") => serve(&args),
        Some("gen") => generate(&args),
        _ => eprintln!(
            "relay_vs_rtpengine: bencode self-check passed; run scripts/bench-relay.sh for the comparison"
        ),
    }
}

// ---------------------------------------------------------------- serve --

fn ng_reply(cookie: &[u8], result: Result<Option<Bytes>, String>) -> Vec<u8> {
    let body = match result {
        Ok(Some(sdp)) => Value::dict([
            ("result", Value::str("ok")),
            ("sdp", Value::Bytes(sdp.to_vec())),
        ]),
        Ok(None) => Value::dict([("result", Value::str("ok"))]),
        Err(e) => Value::dict([
            ("result", Value::str("error")),
            ("error-reason", Value::str(&e)),
        ]),
    };
    ng::message(cookie, &body)
}

fn serve(args: &[String]) {
    use voip_core::Rng;
    use voip_media::relay::{OfferOptions, RelayConfig, RelayDriver, Side, SocketMode};

    let ng_addr: SocketAddr = arg(args, "ng", None);
    let ports: String = arg(args, "ports", None);
    let (min, max) = ports.split_once('-').expect("--ports MIN-MAX");
    let mode = match arg(args, "mode", Some("batched".to_owned())).as_str() {
        "unbatched" => SocketMode::Unbatched,
        _ => SocketMode::Batched,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let config = RelayConfig::default()
            .port_range(min.parse().unwrap(), max.parse().unwrap())
            .media_timeout(Duration::from_secs(3600))
            .build()
            .unwrap();
        let handle = RelayDriver::spawn(config, "127.0.0.1".parse().unwrap(), Rng::os(), mode);
        let sock = tokio::net::UdpSocket::bind(ng_addr).await.unwrap();
        println!("ready");
        let mut calls = HashSet::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let Ok((n, from)) = sock.recv_from(&mut buf).await else {
                continue;
            };
            let Some((cookie, msg)) = ng::parse_message(&buf[..n]) else {
                continue;
            };
            let s = |k: &str| msg.get(k).and_then(Value::as_str).unwrap_or_default();
            let call = s("call-id").to_owned();
            let sdp = Bytes::from(s("sdp").to_owned());
            let result = match s("command") {
                "ping" => {
                    let pong = Value::dict([("result", Value::str("pong"))]);
                    let _ = sock.send_to(&ng::message(cookie, &pong), from).await;
                    continue;
                }
                "offer" => {
                    let created = if calls.contains(&call) {
                        Ok(())
                    } else {
                        handle.create_call(&call).await.map(|_| {
                            calls.insert(call.clone());
                        })
                    };
                    match created {
                        Ok(()) => handle
                            .offer(&call, Side::A, sdp, OfferOptions::default())
                            .await
                            .map(Some),
                        Err(e) => Err(e),
                    }
                }
                "answer" => handle.answer(&call, sdp).await.map(Some),
                "delete" => {
                    calls.remove(&call);
                    handle.delete(&call).await.map(|()| None)
                }
                other => {
                    let reply = ng_reply(cookie, Err(format!("unknown command {other}")));
                    let _ = sock.send_to(&reply, from).await;
                    continue;
                }
            };
            let reply = ng_reply(cookie, result.map_err(|e| e.to_string()));
            let _ = sock.send_to(&reply, from).await;
        }
    });
}

// ------------------------------------------------------------- generate --

/// The address an SDP body gives for audio (`c=` and `m=audio`).
fn sdp_media_addr(sdp: &str) -> Option<SocketAddr> {
    let ip = sdp
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))?
        .trim()
        .parse()
        .ok()?;
    let port = sdp
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))?
        .split(' ')
        .next()?
        .parse()
        .ok()?;
    Some(SocketAddr::new(ip, port))
}

fn endpoint_sdp(port: u16, session: u32) -> String {
    format!(
        "v=0\r\no=- {session} 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    )
}

/// One leg of one call as the generator sees it: the endpoint socket it
/// sends from (shared by many calls) and the relay port it sends to.
struct Leg {
    sock: usize,
    to: SocketAddr,
    ssrc: u32,
    seq: u16,
    sent: u64,
}

/// utime + stime of a process (all its threads), in seconds (USER_HZ is
/// 100 on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("relay process");
    let after = &stat[stat.rfind(')').expect("stat") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn generate(args: &[String]) {
    let ng_addr: SocketAddr = arg(args, "ng", None);
    let pid: u32 = arg(args, "pid", None);
    let label: String = arg(args, "label", None);
    let calls: usize = arg(args, "calls", Some(500));
    let rate: f64 = arg(args, "rate", Some(50.0));
    let secs: f64 = arg(args, "secs", Some(10.0));
    let warmup: f64 = arg(args, "warmup", Some(2.0));
    let payload: usize = arg(args, "payload", Some(160));
    let nsock: usize = arg(args, "sockets", Some(64));

    let mut ctl = ng::Client::new(ng_addr).unwrap();
    ctl.call(&Value::dict([("command", Value::str("ping"))]))
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    // Endpoint sockets: calls share them (side A of call i on socket
    // 2 * (i % nsock), side B on the next), like many phones behind a few
    // addresses; each relay still has its own ports per call and leg.
    let socks: Vec<udp::Socket> = (0..2 * nsock)
        .map(|_| udp::Socket::bind().unwrap())
        .collect();
    let tag = std::process::id();
    let mut legs: Vec<Leg> = Vec::with_capacity(2 * calls);
    for c in 0..calls {
        let call_id = format!("bench-{tag}-{c}");
        let (sa, sb) = (2 * (c % nsock), 2 * (c % nsock) + 1);
        let pa = socks[sa].io.local_addr().unwrap().port();
        let pb = socks[sb].io.local_addr().unwrap().port();
        let offer = ctl
            .call(&Value::dict([
                ("command", Value::str("offer")),
                ("call-id", Value::str(&call_id)),
                ("from-tag", Value::str("a")),
                ("flags", Value::List(vec![Value::str("trust-address")])),
                ("sdp", Value::str(&endpoint_sdp(pa, 1))),
            ]))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let to_b = sdp_media_addr(offer.get("sdp").and_then(Value::as_str).unwrap())
            .expect("offer sdp has c= and m=audio");
        let answer = ctl
            .call(&Value::dict([
                ("command", Value::str("answer")),
                ("call-id", Value::str(&call_id)),
                ("from-tag", Value::str("a")),
                ("to-tag", Value::str("b")),
                ("flags", Value::List(vec![Value::str("trust-address")])),
                ("sdp", Value::str(&endpoint_sdp(pb, 2))),
            ]))
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let to_a = sdp_media_addr(answer.get("sdp").and_then(Value::as_str).unwrap())
            .expect("answer sdp has c= and m=audio");
        // A sends to the relay port given to A (in the answer), B to the
        // one given to B (in the offer).
        let leg = |sock, to, ssrc| Leg {
            sock,
            to,
            ssrc,
            seq: 0,
            sent: 0,
        };
        legs.push(leg(sa, to_a, 0x1000_0000 + c as u32));
        legs.push(leg(sb, to_b, 0x2000_0000 + c as u32));
    }

    let mut rbufs = udp::RecvBufs::new();
    let mut packet = vec![0x80u8, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    packet.extend(std::iter::repeat_n(0xd5, payload));
    let mut send_failed = 0u64;
    let mut send = |legs: &mut [Leg], due: u64, failed: &mut u64| {
        for l in legs.iter_mut() {
            while l.sent < due {
                packet[2..4].copy_from_slice(&l.seq.to_be_bytes());
                packet[4..8].copy_from_slice(&(u32::from(l.seq).wrapping_mul(160)).to_be_bytes());
                packet[8..12].copy_from_slice(&l.ssrc.to_be_bytes());
                if !socks[l.sock].send(l.to, &packet) {
                    *failed += 1;
                }
                l.seq = l.seq.wrapping_add(1);
                l.sent += 1;
            }
        }
    };
    let recv = |rbufs: &mut udp::RecvBufs| -> u64 {
        let mut n = 0u64;
        for s in &socks {
            loop {
                let got = s.recv(rbufs);
                if got == 0 {
                    break;
                }
                n += got as u64;
            }
        }
        n
    };

    // Every leg must be relayed before the clock starts (latching, setup):
    // one packet per leg, then wait for 2 * calls packets.
    let start = Instant::now();
    send(&mut legs, 1, &mut send_failed);
    let mut first = 0u64;
    while first < legs.len() as u64 {
        first += recv(&mut rbufs);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{label}: the relay forwarded {first} of {} first packets",
            legs.len()
        );
    }

    // Paced sending: every leg sends `rate` packets per second, spread
    // over time; what comes out is counted as it arrives.
    let paced = Instant::now();
    let t0 = paced + Duration::from_secs_f64(warmup);
    let t1 = t0 + Duration::from_secs_f64(secs);
    let mut mark: Option<(u64, u64, f64, Instant)> = None;
    let mut received = 0u64;
    loop {
        let now = Instant::now();
        if mark.is_none() && now >= t0 {
            let sent: u64 = legs.iter().map(|l| l.sent).sum();
            mark = Some((sent, received, cpu_seconds(pid), now));
        }
        if now >= t1 {
            break;
        }
        let due = 1 + (now.duration_since(paced).as_secs_f64() * rate) as u64;
        send(&mut legs, due, &mut send_failed);
        received += recv(&mut rbufs);
    }
    let (sent0, recv0, cpu0, t0) = mark.expect("measured");
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds(pid) - cpu0;
    let sent1: u64 = legs.iter().map(|l| l.sent).sum();
    let relayed = (received - recv0) as f64;
    // Loss over the whole run: everything sent against everything that
    // came out, once nothing more has arrived for 500 ms (a relay that fell
    // behind still delivers its backlog).
    let mut quiet = Instant::now();
    let drain = Instant::now();
    while quiet.elapsed() < Duration::from_millis(500) && drain.elapsed() < Duration::from_secs(10)
    {
        let n = recv(&mut rbufs);
        if n > 0 {
            received += n;
            quiet = Instant::now();
        }
    }
    let sent = (sent1 - sent0) as f64;
    let loss = (1.0 - (first + received) as f64 / sent1 as f64).max(0.0);
    println!(
        "RESULT {label} calls={calls} rate={rate} payload={payload} secs={wall:.1} \
         offered_pps={:.0} relayed_pps={:.0} loss={:.5} relay_cpu={:.2} pps_per_core={:.0} send_failed={send_failed}",
        sent / wall,
        relayed / wall,
        loss,
        cpu / wall,
        if cpu > 0.0 { relayed / cpu } else { 0.0 },
    );
    for c in 0..calls {
        let _ = ctl.call(&Value::dict([
            ("command", Value::str("delete")),
            ("call-id", Value::str(&format!("bench-{tag}-{c}"))),
            ("from-tag", Value::str("a")),
        ]));
    }
}
