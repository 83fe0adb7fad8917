//! Criterion benchmark: parse + typed access of a typical INVITE and
//! REGISTER with voip-sip, rsip 0.4 and rsipstack 0.7.
//!
//! `cargo bench -p voip-sip --bench parse`; the one-process table with
//! ratios is `cargo bench -p voip-sip --bench parse_table`.

mod common;

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn parse(c: &mut Criterion) {
    for (message, raw) in common::MESSAGES {
        // A refcounted buffer, as a transport hands out (not a static one,
        // whose clones cost nothing).
        let raw = Bytes::copy_from_slice(raw);
        let mut group = c.benchmark_group(message);
        group.throughput(Throughput::Elements(1));
        for (parser, run) in common::PARSERS {
            assert!(run(&raw).is_some(), "{parser} fails on {message}");
            group.bench_function(parser, |b| b.iter(|| run(black_box(&raw))));
        }
        group.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
