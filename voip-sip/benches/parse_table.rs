//! One-process comparison table: each parser runs "parse + typed access" in
//! a tight loop on one thread for about two seconds per message, in rounds
//! that take turns (`PARSE_TABLE_ROUNDS`, default 10), then each parser's
//! best round is printed as messages/s and ns/message, with the voip-sip
//! ratios.
//!
//! `cargo bench -p voip-sip --bench parse_table` (set `PARSE_TABLE_SECS` to
//! change the time per case, `PARSE_TABLE_ONLY=voip-sip` to run one parser,
//! e.g. under a profiler; with `PARSE_TABLE_ITERS=N`, `PARSE_TABLE_MESSAGE=invite`
//! counts one message).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;

/// Runs `run` for about `budget`, in batches so the clock is read rarely.
fn measure(run: common::Run, raw: &Bytes, budget: Duration) -> (u64, Duration) {
    const BATCH: u64 = 1_000;
    // Warm up caches and the allocator.
    for _ in 0..BATCH {
        black_box(run(black_box(raw)));
    }
    let start = Instant::now();
    let mut count = 0u64;
    loop {
        for _ in 0..BATCH {
            black_box(run(black_box(raw)));
        }
        count += BATCH;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            return (count, elapsed);
        }
    }
}

fn main() {
    // `PARSE_TABLE_ITERS=N`: run each case exactly N times and print
    // nothing but the checksum, for instruction counting under
    // `valgrind --tool=callgrind` (repeatable on a noisy machine).
    if let Some(iters) = std::env::var("PARSE_TABLE_ITERS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        let only = std::env::var("PARSE_TABLE_ONLY").ok();
        let message = std::env::var("PARSE_TABLE_MESSAGE").ok();
        let mut sum = 0u64;
        for (name, raw) in common::MESSAGES {
            if message.as_deref().is_some_and(|m| m != name) {
                continue;
            }
            let raw = Bytes::copy_from_slice(raw);
            for (parser, run) in common::PARSERS {
                if only.as_deref().is_some_and(|o| o != parser) {
                    continue;
                }
                for _ in 0..iters {
                    sum = sum.wrapping_add(black_box(run(black_box(&raw))).unwrap_or(0));
                }
            }
        }
        println!("checksum {sum}");
        return;
    }
    // `cargo bench` passes `--bench`; nothing else is expected.
    let secs: f64 = std::env::var("PARSE_TABLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2.0);
    // The time per case is split into rounds that visit the parsers in
    // turn; each parser's best round is reported. On a shared machine a
    // round can lose the core to another job; the best one is the parser's
    // own speed, and every parser gets the same chances.
    let rounds: u32 = std::env::var("PARSE_TABLE_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10)
        .max(1);
    let budget = Duration::from_secs_f64(secs / f64::from(rounds));
    let only = std::env::var("PARSE_TABLE_ONLY").ok();
    println!("| parser | message | bytes | messages/s | ns/message | voip-sip speed-up |");
    println!("|---|---|---:|---:|---:|---:|");
    for (message, raw) in common::MESSAGES {
        // A refcounted buffer, as a transport hands out (not a static one,
        // whose clones cost nothing).
        let raw = Bytes::copy_from_slice(raw);
        let parsers: Vec<_> = common::PARSERS
            .iter()
            .filter(|(parser, _)| only.as_deref().is_none_or(|o| o == *parser))
            .collect();
        for (parser, run) in &parsers {
            assert!(run(&raw).is_some(), "{parser} fails on {message}");
        }
        let mut best = vec![0f64; parsers.len()];
        for _ in 0..rounds {
            for (i, (_, run)) in parsers.iter().enumerate() {
                let (count, elapsed) = measure(*run, &raw, budget);
                best[i] = best[i].max(count as f64 / elapsed.as_secs_f64());
            }
        }
        let ours = best.first().copied().unwrap_or(0.0);
        for ((parser, _), rate) in parsers.iter().zip(&best) {
            println!(
                "| {parser} | {message} | {} | {:.0} | {:.0} | {:.2}x |",
                raw.len(),
                rate,
                1e9 / rate,
                ours / rate
            );
        }
    }
}
