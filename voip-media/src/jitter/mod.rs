//! Adaptive jitter buffer, packet-loss concealment hooks and comfort noise (RFC 3389).
//!
//! [`JitterBuffer`] is sans-IO: [`push`](JitterBuffer::push) each received
//! RTP packet with the time it arrived, and call [`pop`](JitterBuffer::pop)
//! once per frame time (every 20 ms by default) with the current time. Each
//! pop says what to play:
//!
//! | [`Playout`] | what the caller does |
//! |---|---|
//! | `Frame(frame)` | decode `frame.payload` |
//! | `Lost { next }` | conceal one frame: decode the lost frame from `next` with in-band FEC (Opus), or run the decoder's PLC |
//! | `Expand` | the buffer is growing its delay: one frame of PLC (or stretch), nothing was lost |
//! | `Silence` | the sender paused (DTX) or nothing came yet: silence (or local comfort noise) |
//! | `ComfortNoise(params)` | the sender paused and sent RFC 3389 CN: feed [`ComfortNoiseGenerator`] |
//!
//! # How the delay adapts
//!
//! The *delay* of a frame is how much later than the fastest recent packet
//! it plays. A packet arrives in time if its delay variation (its transit
//! minus the fastest transit) is at most the playout delay, so the *target*
//! is a high quantile (97 % by default) of the variation of the last 250
//! packets, within `min_delay..=max_delay`. The target goes up as soon as
//! the quantile does, and down at `decrease_per_second` (20 ms/s) when the
//! network calms. The playout delay follows the target in whole frames:
//!
//! - below target: [`Playout::Expand`] (at once when the frame is missing,
//!   every other pop when it is at hand);
//! - a frame or more above target: a missing frame is skipped instead of
//!   concealed, or a buffered one dropped (at most one per 4 pops, unless
//!   the delay is past `max_delay`);
//! - at each talkspurt start (the next packet carries the marker bit, or
//!   follows the last played one in sequence after a timestamp gap, or
//!   nothing has come for `max_concealment`), the buffer goes silent and
//!   schedules the next packet afresh when its delay reaches the target —
//!   the inaudible place to resynchronise;
//! - with [`JitterConfig::with_fec_lookahead`] the target holds one frame
//!   more, so the packet after a lost one is usually there for Opus FEC
//!   (docs/audio-quality.md measures what that is worth);
//! - [`JitterBuffer::time_scale`] tells a caller with a time-stretcher which
//!   way to stretch, so it can keep the delay on target smoothly.
//!
//! Packets whose playout time has passed are dropped and counted as late,
//! repeated ones as duplicates; reordering within the buffer is absorbed;
//! 16-bit sequence numbers and 32-bit timestamps are extended across
//! wrap-around; a new SSRC (or a sequence jump confirmed by a second
//! packet) resets the buffer; at most `max_packets` are held. All of it is
//! counted in [`JitterStats`].
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use voip_media::jitter::{JitterBuffer, JitterConfig, Packet, Playout};
//!
//! let config = JitterConfig::default().build().unwrap(); // 8 kHz, 20 ms
//! let mut jb = JitterBuffer::new(Arc::new(config));
//! let t0 = Instant::now();
//! let packet = |seq: u16| Packet {
//!     ssrc: 1,
//!     sequence: seq,
//!     timestamp: u32::from(seq) * 160,
//!     payload_type: 0,
//!     marker: seq == 0,
//!     payload: Bytes::from(vec![0xff; 160]),
//! };
//! jb.push(t0, packet(0));
//! jb.push(t0 + Duration::from_millis(20), packet(1));
//! // Nothing is played before the initial 40 ms delay.
//! assert_eq!(jb.pop(t0 + Duration::from_millis(20)), Playout::Silence);
//! assert!(matches!(jb.pop(t0 + Duration::from_millis(40)), Playout::Frame(f) if f.sequence == 0));
//! // Packet 2 is lost; packet 3 is here, so the caller may use its FEC.
//! jb.push(t0 + Duration::from_millis(60), packet(3));
//! assert!(matches!(jb.pop(t0 + Duration::from_millis(60)), Playout::Frame(f) if f.sequence == 1));
//! assert!(matches!(jb.pop(t0 + Duration::from_millis(80)), Playout::Lost { next: Some(f) } if f.sequence == 3));
//! ```

mod buffer;
mod cng;
mod comfort_noise;
mod config;
mod estimator;
mod playout;
mod seq;
#[cfg(test)]
mod tests;

pub use buffer::JitterBuffer;
pub use cng::ComfortNoiseGenerator;
pub use comfort_noise::{CnError, ComfortNoise, MAX_CN_ORDER};
pub use config::JitterConfig;
pub use playout::{Frame, JitterStats, Packet, Playout, PushOutcome, TimeScale};
