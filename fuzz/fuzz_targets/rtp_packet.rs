//! Arbitrary bytes through the RTP receive path (and the borrowed
//! `RtpView` the IVR reads with, checked against the full parser), the RTCP parser, SRTP
//! unprotect and the SDES `a=crypto` parser: no panic; every RTP datagram is
//! either accepted or counted as a drop; a parsed crypto attribute prints
//! back to itself.
#![no_main]

use std::time::{Duration, Instant, UNIX_EPOCH};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use voip_core::Rng;
use voip_media::rtp::packet::{RtpView, parse_rtp};
use voip_media::rtp::{RtpSession, RtpSessionConfig, classify, rtcp};
use voip_media::srtp::{CryptoAttribute, CryptoSuite, SrtpSession};

fuzz_target!(|data: &[u8]| {
    // The input is a list of datagrams, each prefixed by its length octet.
    let t0 = Instant::now();
    let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let Ok(config) = RtpSessionConfig::default().min_sequential(1).build() else {
        return;
    };
    let mut session = RtpSession::new(config, Rng::seeded(1), t0);
    let key = [7u8; 30];
    let mut srtp = SrtpSession::new(CryptoSuite::AesCm128HmacSha1_80, &key, &key, 128).ok();
    // The AES-GCM suites' RTP goes through voip-media's own RFC 7714 transform.
    let gcm_key = [7u8; 28];
    let mut srtp_gcm = SrtpSession::new(CryptoSuite::AeadAes128Gcm, &gcm_key, &gcm_key, 128).ok();
    let mut rest = data;
    let mut rtp_in = 0u64;
    let mut rtp_ok = 0u64;
    let mut i = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let take = usize::from(len).min(tail.len());
        let (datagram, tail) = tail.split_at(take);
        rest = tail;
        i += 1;
        let now = t0 + Duration::from_millis(i * 20);
        let _ = classify(datagram);
        // The borrowed view (the IVR's reader) agrees with the full parser.
        if let Ok(view) = RtpView::parse(datagram) {
            let full = parse_rtp(&Bytes::copy_from_slice(datagram));
            if let Ok(full) = full {
                assert_eq!(view.sequence, full.header.sequence_number);
                assert_eq!(view.timestamp, full.header.timestamp);
                assert_eq!(view.ssrc, full.header.ssrc);
                assert_eq!(view.payload, &full.payload[..]);
            }
        }
        rtp_in += 1;
        if session
            .handle_rtp(now, Bytes::copy_from_slice(datagram))
            .is_ok()
        {
            rtp_ok += 1;
        }
        let _ = session.handle_rtcp(now, wall, datagram);
        let _ = rtcp::parse_compound(datagram);
        for s in [srtp.as_mut(), srtp_gcm.as_mut()].into_iter().flatten() {
            let _ = s.unprotect_rtp(datagram);
            let _ = s.unprotect_rtcp(datagram);
        }
        if let Ok(text) = std::str::from_utf8(datagram) {
            if let Ok(attr) = CryptoAttribute::parse(text) {
                assert_eq!(CryptoAttribute::parse(&attr.to_string()), Ok(attr));
            }
        }
        if session.poll_timeout().is_some_and(|d| d <= now) {
            session.handle_timeout(now, wall);
        }
        while session.poll_transmit().is_some() {}
        while session.poll_event().is_some() {}
    }
    let stats = session.stats();
    assert_eq!(
        stats.rtp_received
            + stats.rtp_malformed
            + stats.rtp_probation
            + stats.rtp_bad_sequence
            + stats.rtp_rejected,
        rtp_in
    );
    assert_eq!(stats.rtp_received, rtp_ok);
});
