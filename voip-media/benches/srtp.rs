//! SRTP protect and unprotect per packet with voip-media's `SrtpSession`
//! (our RFC 7714 transform on `aes-gcm` for AES-GCM, webrtc-srtp for AES-CM,
//! plus our replay window), for two suites and two packet sizes. Prints one
//! line per case:
//!
//! `srtp <impl> <suite> <payload bytes> <protect|unprotect> <ns per packet>`
//!
//! `scripts/bench-srtp.sh` runs this and the libsrtp2 harness
//! (bench/srtp/libsrtp_bench.c) with the same keys, sizes and counts and
//! prints the ratios. `SRTP_BENCH_PACKETS` sets the packets per case;
//! `SRTP_BENCH_SUITE` (a suite name) and `SRTP_BENCH_PAYLOAD` (160 or 1200)
//! run one case (for callgrind).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Instant;

use voip_media::srtp::{CryptoSuite, SrtpSession};

/// A 12-byte RTP header (version 2, PT 0, SSRC 0x11223344) and `payload`.
fn rtp_packet(seq: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x1122_3344u32.to_be_bytes());
    p.extend((0..payload).map(|i| (i % 251) as u8));
    p
}

/// One timed protect (not inlined: callgrind counts it by this name).
#[inline(never)]
fn protect_one(s: &mut SrtpSession, p: &[u8]) -> bytes::Bytes {
    s.protect_rtp(p).expect("protect")
}

/// One timed unprotect (not inlined, as above).
#[inline(never)]
fn unprotect_one(s: &mut SrtpSession, p: &[u8]) -> bytes::Bytes {
    s.unprotect_rtp(p).expect("unprotect")
}

fn main() {
    let packets: usize = std::env::var("SRTP_BENCH_PACKETS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60_000)
        .min(65_000);
    for (suite, name) in [
        (CryptoSuite::AesCm128HmacSha1_80, "AES_CM_128_HMAC_SHA1_80"),
        (CryptoSuite::AeadAes128Gcm, "AEAD_AES_128_GCM"),
    ] {
        // the same master key and salt as the C harness: bytes 0, 1, 2, ...
        let key_salt: Vec<u8> = (0..(suite.key_len() + suite.salt_len()) as u8).collect();
        if std::env::var("SRTP_BENCH_SUITE").is_ok_and(|s| s != name) {
            continue;
        }
        for payload in [160usize, 1200] {
            if std::env::var("SRTP_BENCH_PAYLOAD").is_ok_and(|s| s != payload.to_string()) {
                continue;
            }
            let mut sender = SrtpSession::new(suite, &key_salt, &key_salt, 1024).expect("session");
            let mut twin = SrtpSession::new(suite, &key_salt, &key_salt, 1024).expect("session");
            let mut receiver =
                SrtpSession::new(suite, &key_salt, &key_salt, 1024).expect("session");
            let plain: Vec<Vec<u8>> = (0..packets)
                .map(|i| rtp_packet(i as u16, payload))
                .collect();
            // The packets to unprotect, made untimed by a second sender with
            // the same key (the output is deterministic). Keeping the timed
            // sender's output instead would time the allocator growing the
            // heap by 60,000 packets (page faults); a relay sends each
            // protected packet and drops it, as the timed loop does.
            let protected: Vec<_> = plain
                .iter()
                .map(|p| twin.protect_rtp(p).expect("protect"))
                .collect();
            let start = Instant::now();
            for p in &plain {
                black_box(protect_one(&mut sender, black_box(p)));
            }
            let protect_ns = start.elapsed().as_nanos() as f64 / packets as f64;
            let start = Instant::now();
            for p in &protected {
                black_box(unprotect_one(&mut receiver, black_box(p)));
            }
            let unprotect_ns = start.elapsed().as_nanos() as f64 / packets as f64;
            println!("srtp voip-media {name} {payload} protect {protect_ns:.0}");
            println!("srtp voip-media {name} {payload} unprotect {unprotect_ns:.0}");
        }
    }
}
