//! Concurrent IVR calls against the release server, and the jitter of the
//! RTP it sends (issue 6: 500 calls, p99 send jitter under 5 ms).
//!
//! sipp places CALLS calls to 9999 (digest, PCMU, key 1 after 3 s, BYE
//! after HOLD seconds), ramping at RATE per second, so that all of them are
//! up at once for a while. Every call's SDP names one UDP port this bench
//! reads in a thread of its own; streams are told apart by SSRC. For each
//! packet after a stream's first second the bench takes its send-schedule
//! deviation: how far its arrival is from where the 20 ms clock says it
//! should be, relative to the previous packet
//! (`|Δarrival − Δtimestamp/8000|`), and prints the percentiles, the RFC
//! 3550 interarrival jitter per stream, the peak of concurrent streams and
//! the server's CPU time. Key 1 repeats the menu here (the bench sets it in
//! the database), so calls stay in the IVR and play prompts all along.
//!
//! ```text
//! bash scripts/bench-ivr.sh            # CALLS=500 RATE=50 HOLD=30
//! CALLS=100 cargo bench -p voip-tests --bench ivr_load
//! ```
//!
//! Arrival times are the kernel's receive timestamps (SO_TIMESTAMPNS), on
//! the same machine as the server: the bench thread's own scheduling does
//! not count, the loopback path and the server's sending do. The server
//! also reports its own measure, how late each 20 ms send pass starts
//! (`ivr_rtp_send_lateness_seconds` on /metrics).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::IoSliceMut;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use voip_tests::sipp::{Sipp, register, scenario};
use voip_tests::{Server, TEST_USERS, free_udp_port, require_program, strings, wait_for};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// One stream's packets: (kernel arrival time in seconds, RTP timestamp).
type Stream = Vec<(f64, u32)>;

/// Reads every datagram with the kernel's receive timestamp
/// (SO_TIMESTAMPNS), so the bench thread's own scheduling does not count.
fn listen(socket: UdpSocket, stop: Arc<AtomicBool>) -> HashMap<u32, Stream> {
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    setsockopt(socket.as_raw_fd(), sockopt::ReceiveTimestampns, &true).unwrap();
    let mut streams: HashMap<u32, Stream> = HashMap::new();
    let mut buf = [0u8; 2048];
    let mut control = nix::cmsg_space!(TimeSpec);
    while !stop.load(Ordering::Relaxed) {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let Ok(message) = recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::empty(),
        ) else {
            continue;
        };
        let at = message.cmsgs().find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => {
                Some(ts.tv_sec() as f64 + ts.tv_nsec() as f64 * 1e-9)
            }
            _ => None,
        });
        let len = message.bytes;
        let (Some(at), true) = (at, len >= 12) else {
            continue;
        };
        if buf[0] >> 6 != 2 || buf[1] & 0x7f != 0 {
            continue;
        }
        let timestamp = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        let ssrc = u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        streams.entry(ssrc).or_default().push((at, timestamp));
    }
    streams
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Peak number of streams sending at the same time (1 s buckets).
fn peak_concurrency(streams: &HashMap<u32, Stream>) -> usize {
    let mut buckets: HashMap<u64, usize> = HashMap::new();
    for packets in streams.values() {
        let (Some(first), Some(last)) = (packets.first(), packets.last()) else {
            continue;
        };
        let (from, to) = (first.0 as u64, last.0 as u64);
        for second in from..=to {
            *buckets.entry(second).or_default() += 1;
        }
    }
    buckets.values().copied().max().unwrap_or(0)
}

/// Server CPU seconds (user + system) from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() {
    // `cargo bench` passes --bench; nothing else is taken
    let calls = env("CALLS", 500);
    let rate = env("RATE", 50);
    let hold = env("HOLD", 30);
    if !require_program("sipp") || !require_program("sqlite3") {
        eprintln!("ivr_load: needs sipp and sqlite3 (bash scripts/setup.sh)");
        std::process::exit(1);
    }
    let high = 30000 + 2 * calls + 100;
    let config = format!(
        "{TEST_USERS}\n[ivr]\nextension = \"9999\"\nrtp_ports = \"30000-{high}\"\nmenu_reload_seconds = 1\n"
    );
    let mut server = Server::start_with_config_and(&config, &["--log", "warn,voip_server=info"]);
    // the menus are seeded before the IVR starts
    let seeded = wait_for(Duration::from_secs(15), || {
        server.log().contains("ivr enabled").then_some(())
    });
    assert!(seeded.is_some(), "the IVR did not start:\n{}", server.log());
    // key 1 repeats the menu: the calls stay in the IVR
    let db = server.dir().join("data").join("voip.db");
    let out = Command::new("sqlite3")
        .args(["-cmd", ".timeout 10000"])
        .arg(&db)
        .arg("UPDATE ivr_menu_options SET action_type = 'repeat', action_value = NULL, say_message = NULL WHERE menu_id = 'main' AND digit = '1';")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reloaded = wait_for(Duration::from_secs(15), || {
        server
            .log()
            .contains("ivr menus changed; reloaded")
            .then_some(())
    });
    assert!(reloaded.is_some(), "menus not reloaded:\n{}", server.log());
    // the prompts are rendered before the first call
    let ready = wait_for(Duration::from_secs(120), || {
        server.log().contains("ivr prompts ready").then_some(())
    });
    assert!(ready.is_some(), "prompts not rendered:\n{}", server.log());

    let media = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp_port = media.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let listener = {
        let stop = stop.clone();
        std::thread::spawn(move || listen(media, stop))
    };
    let caller_port = free_udp_port();
    register(&mut server, "1001", caller_port);
    let pid = server.pid();
    let cpu_before = cpu_seconds(pid);
    let origin = Instant::now();
    let limit = Duration::from_secs(calls / rate.max(1) + hold + 90);
    let run = Sipp::spawn(
        "ivr-load",
        server.addr("sip-udp"),
        &scenario("ivr_caller.xml"),
        &strings(&[
            "-key",
            "ext",
            "1001",
            "-key",
            "pass",
            "secret1001",
            "-key",
            "rtp_port",
            &rtp_port.to_string(),
            "-d",
            &(hold * 1000).to_string(),
            "-auth_uri",
            "9999@localhost",
            "-p",
            &caller_port.to_string(),
            "-m",
            &calls.to_string(),
            "-l",
            &calls.to_string(),
            "-r",
            &rate.to_string(),
            "-recv_timeout",
            "60s",
            "-timeout",
            &format!("{}s", limit.as_secs()),
        ]),
    )
    .wait(limit + Duration::from_secs(30));
    let elapsed = origin.elapsed();
    // the server's own measure, over its last minute (the load)
    let (_, metrics) = voip_tests::http_get(server.addr("http"), "/metrics");
    let cpu = cpu_seconds(pid).zip(cpu_before).map(|(a, b)| a - b);
    stop.store(true, Ordering::Relaxed);
    let streams = listener.join().unwrap();

    let mut deviations = Vec::new();
    let mut jitters = Vec::new();
    let mut packets = 0usize;
    for stream in streams.values() {
        packets += stream.len();
        let Some(&(start, _)) = stream.first() else {
            continue;
        };
        let mut j = 0.0f64;
        for pair in stream.windows(2) {
            let ((a0, t0), (a1, t1)) = (pair[0], pair[1]);
            let arrival = (a1 - a0) * 1000.0;
            let scheduled = f64::from(t1.wrapping_sub(t0)) / 8.0;
            let d = arrival - scheduled;
            // RFC 3550 A.8, in milliseconds
            j += (d.abs() - j) / 16.0;
            if a0 - start >= 1.0 {
                deviations.push(d.abs());
            }
        }
        jitters.push(j);
    }
    deviations.sort_by(f64::total_cmp);
    jitters.sort_by(f64::total_cmp);
    let successful = voip_tests::sipp::stat(&run.stats, "SuccessfulCall(C)").unwrap_or(0);
    let failed = voip_tests::sipp::stat(&run.stats, "FailedCall(C)").unwrap_or(0);
    println!();
    println!("IVR load: {calls} calls to 9999 at {rate}/s, {hold} s on the line each, PCMU 20 ms");
    println!("| figure | value |");
    println!("|---|---|");
    println!("| calls completed / failed (sipp) | {successful} / {failed} |");
    println!("| RTP streams received | {} |", streams.len());
    println!(
        "| peak concurrent streams | {} |",
        peak_concurrency(&streams)
    );
    println!("| packets received | {packets} |");
    for (name, p) in [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)] {
        println!(
            "| send-schedule deviation {name} | {:.2} ms |",
            percentile(&deviations, p)
        );
    }
    println!(
        "| send-schedule deviation max | {:.2} ms |",
        deviations.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| RFC 3550 jitter per stream, median / p99 | {:.2} / {:.2} ms |",
        percentile(&jitters, 0.5),
        percentile(&jitters, 0.99)
    );
    for (name, quantile) in [
        ("p50", "0.5"),
        ("p99", "0.99"),
        ("p99.9", "0.999"),
        ("max", "1"),
    ] {
        let needle = format!("ivr_rtp_send_lateness_seconds{{quantile=\"{quantile}\"}} ");
        let value = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&needle))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if let Some(value) = value {
            println!(
                "| server send lateness {name} (its own clock) | {:.2} ms |",
                value * 1000.0
            );
        }
    }
    if let Some(cpu) = cpu {
        println!(
            "| server CPU | {cpu:.1} s in {:.1} s ({:.0} % of one core) |",
            elapsed.as_secs_f64(),
            100.0 * cpu / elapsed.as_secs_f64()
        );
    }
    let p99 = percentile(&deviations, 0.99);
    println!(
        "target: p99 send jitter under 5 ms with {calls} concurrent calls: {}",
        if p99 < 5.0 && successful == calls {
            "met"
        } else {
            "NOT met"
        }
    );
}
