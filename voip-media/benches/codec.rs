//! Criterion benchmark: encode and decode of one 20 ms frame for PCMU,
//! G.722 and Opus (mono, 48 kHz, 32 kbit/s), and resampling 20 ms between
//! 8, 16 and 48 kHz.
//!
//! `cargo bench -p voip-media --bench codec`

// A benchmark that cannot set up its codec has nothing to measure: panic.
#![allow(clippy::expect_used)]

use std::f64::consts::PI;
use std::hint::black_box;

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use voip_core::AudioFrame;
use voip_media::Resampler;
use voip_media::codec::{Codec, OpusConfig};

/// 20 ms of speech-like audio (a gliding harmonic "vowel") at `rate`.
fn speech(rate: u32) -> Vec<i16> {
    let n = rate as usize / 50;
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            phase += 2.0 * PI * (140.0 + 30.0 * (2.0 * PI * 3.0 * t).sin()) / f64::from(rate);
            let v: f64 = (1..=10).map(|h| (h as f64 * phase).sin() / h as f64).sum();
            (6000.0 * v) as i16
        })
        .collect()
}

fn codecs(c: &mut Criterion) {
    let cases = [
        ("pcmu", Codec::Pcmu),
        ("g722", Codec::G722),
        (
            "opus-32k",
            Codec::Opus(OpusConfig::default().bitrate(Some(32_000))),
        ),
    ];
    for (name, codec) in cases {
        let mut group = c.benchmark_group(format!("codec/{name}"));
        group.throughput(Throughput::Elements(1)); // one 20 ms frame
        let frame = AudioFrame::mono(codec.sample_rate(), speech(codec.sample_rate()));
        let mut encoder = codec.new_encoder().expect("encoder");
        let mut out = BytesMut::with_capacity(4000);
        group.bench_function("encode_20ms", |b| {
            b.iter(|| {
                out.clear();
                encoder
                    .encode_into(black_box(&frame), &mut out)
                    .expect("encode");
            })
        });
        let payload = encoder.encode(&frame).expect("encode");
        let mut decoder = codec.new_decoder().expect("decoder");
        let mut pcm = Vec::with_capacity(4000);
        group.bench_function("decode_20ms", |b| {
            b.iter(|| {
                pcm.clear();
                decoder
                    .decode_into(black_box(&payload), &mut pcm)
                    .expect("decode");
            })
        });
        group.bench_function("conceal_20ms", |b| {
            b.iter(|| {
                pcm.clear();
                decoder.conceal_into(black_box(frame.samples.len()), &mut pcm);
                // Back to normal decoding so every iteration starts a new loss.
                pcm.clear();
                decoder.decode_into(&payload, &mut pcm).expect("decode");
            })
        });
        group.finish();
    }
}

fn resampling(c: &mut Criterion) {
    let mut group = c.benchmark_group("resample");
    group.throughput(Throughput::Elements(1)); // one 20 ms frame
    for (from, to) in [
        (8000, 16000),
        (16000, 8000),
        (8000, 48000),
        (48000, 8000),
        (16000, 48000),
        (48000, 16000),
    ] {
        let input = speech(from);
        let mut resampler = Resampler::new(from, to);
        let mut out = Vec::with_capacity(to as usize / 50 + 8);
        group.bench_function(format!("{}k_to_{}k_20ms", from / 1000, to / 1000), |b| {
            b.iter(|| {
                out.clear();
                resampler.process(black_box(&input), &mut out);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, codecs, resampling);
criterion_main!(benches);
