//! The stream framer on arbitrary bytes cut into arbitrary chunks: no
//! panic, every framed message fits the limits, and the framer never holds
//! more than its buffer limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voip_sip::transport::{Framed, FramingLimits, StreamFramer};
use voip_sip::{ParseConfig, parse_message};

fuzz_target!(|data: &[u8]| {
    // First byte: chunk size (low 6 bits) and whether we expect a pong (top bit).
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let limits = FramingLimits::default()
        .with_max_header_bytes(1024)
        .with_max_message_bytes(2048)
        .with_max_buffered_bytes(4096);
    let mut framer = StreamFramer::new(limits);
    if seed & 0x80 != 0 {
        framer.expect_pong();
    }
    let chunk = usize::from(seed & 0x3f) + 1;
    let mut total = 0usize;
    'stream: for piece in rest.chunks(chunk) {
        if framer.push(piece).is_err() {
            break;
        }
        assert!(framer.buffered() <= limits.max_buffered_bytes());
        loop {
            match framer.poll_frame() {
                Ok(Some(Framed::Message(message))) => {
                    assert!(!message.is_empty());
                    assert!(message.len() <= limits.max_message_bytes());
                    total += message.len();
                    let _ = parse_message(message, &ParseConfig::default());
                }
                Ok(Some(_keep_alive)) => {}
                Ok(None) => break,
                Err(_) => {
                    // Errors are sticky.
                    assert!(framer.poll_frame().is_err());
                    break 'stream;
                }
            }
        }
    }
    assert!(total <= rest.len());
});
