//! DTMF: RFC 4733 telephone-events (send and receive), SIP INFO
//! `application/dtmf-relay` bodies, an in-band Goertzel detector (ITU-T
//! Q.24), and de-duplication across sources.
//!
//! ```text
//! RTP telephone-event ──► Rfc4733Receiver ──┐
//! SIP INFO body ───────► InfoDtmf::parse ───┼──► DtmfDeduper ──► one report per key press
//! decoded audio ───────► DtmfDetector ──────┘
//! key presses ─────────► DtmfSender ──► telephone-event payloads for the RTP session
//! ```
//!
//! All of it is sans-IO: time comes in as `now`, nothing reads a clock.
//! See `docs/dtmf.md` for the parameters and how to run the test suite.

mod dedupe;
mod detector;
mod digit;
mod goertzel;
mod info;
mod payload;
mod receiver;
mod sender;

#[cfg(test)]
mod detector_tests;

pub use dedupe::{DtmfDeduper, DtmfReport};
pub use detector::{DtmfDetector, DtmfDetectorConfig};
pub use digit::{COLUMN_FREQUENCIES, DtmfDigit, DtmfSource, ROW_FREQUENCIES};
pub use info::{InfoDtmf, InfoError, MAX_INFO_BODY};
pub use payload::{EVENT_BLOCK_LEN, PayloadError, TelephoneEvent};
pub use receiver::{Rfc4733Event, Rfc4733Receiver};
pub use sender::{DtmfPacket, DtmfSender, DtmfSenderConfig, SendError};
