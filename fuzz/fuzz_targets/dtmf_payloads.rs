//! RFC 4733 payloads with arbitrary timestamps into the receiver, and
//! arbitrary SIP INFO bodies into the parser: nothing may panic, and the
//! receiver stays bounded.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use voip_media::dtmf::{InfoDtmf, Rfc4733Receiver};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    if selector & 1 == 0 {
        let ct = if selector & 2 == 0 { "application/dtmf-relay" } else { "application/dtmf" };
        if let Err(e) = InfoDtmf::parse(ct, rest) {
            assert!(e.status() >= 400);
        }
        return;
    }
    // Records: 4 bytes timestamp, 1 byte length (0..=15), payload, 1 byte time step.
    let t0 = Instant::now();
    let mut now = t0;
    let mut r = Rfc4733Receiver::new(8000);
    let mut input = rest;
    let mut events = 0usize;
    while input.len() >= 5 {
        let ts = u32::from_be_bytes([input[0], input[1], input[2], input[3]]);
        let len = usize::from(input[4] & 0x0f).min(input.len() - 5);
        let payload = &input[5..5 + len];
        input = &input[5 + len..];
        let _ = r.handle_packet(now, ts, payload);
        if let Some((&step, tail)) = input.split_first() {
            now += Duration::from_millis(u64::from(step) * 4);
            input = tail;
            if r.poll_timeout().is_some_and(|t| t <= now) {
                r.handle_timeout(now);
            }
        }
        while r.poll_event().is_some() {
            events += 1;
        }
    }
    r.handle_timeout(now + Duration::from_secs(10));
    assert!(r.poll_timeout().is_none(), "every event ends");
    while r.poll_event().is_some() {
        events += 1;
    }
    assert!(events <= 2 * (rest.len() / 4 + 1) * 8);
});
