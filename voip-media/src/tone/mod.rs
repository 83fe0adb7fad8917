//! Tone generation as [`MediaSource`](crate::MediaSource)s: DTMF digits
//! ([`DtmfGenerator`]) and call-progress tones (dial, ringback, busy,
//! congestion) with per-country tables after the ITU-T E.180 supplement
//! ([`Country::tone`]), or any custom cadence ([`Tone`]).
//!
//! ```
//! use voip_media::MediaSource;
//! use voip_media::tone::{Country, ToneKind};
//!
//! let mut ringback = Country::Gb.tone(ToneKind::Ringback).generator();
//! let frame = ringback.next_frame(8000, 160).unwrap(); // 20 ms at 8 kHz
//! assert_eq!(frame.samples.len(), 160);
//! ```

mod country;
mod dtmf;
mod generator;
#[cfg(test)]
mod testutil;

pub use country::{Country, ToneKind};
pub use dtmf::{DTMF_HIGH, DTMF_LOW, DtmfGenerator, DtmfToneConfig, NotDtmf, dtmf_frequencies};
pub use generator::{Component, FULL_SCALE_DBM0, Segment, Tone, ToneGenerator, dbm0_to_amplitude};
