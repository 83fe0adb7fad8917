//! The RFC 4733 §2.3 telephone-event payload: four bytes per event.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     event     |E|R| volume    |          duration             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! A packet may carry several events back to back (§2.5.1.5); each block
//! after the first starts where the previous one ended.

/// Bytes per event block.
pub const EVENT_BLOCK_LEN: usize = 4;

/// One decoded event block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TelephoneEvent {
    /// Event code (0–15 are the DTMF keys, RFC 4733 §3.2).
    pub event: u8,
    /// The E bit: this is the final report of the event.
    pub end: bool,
    /// Power level as `-volume` dBm0, 0..=63 (the 6-bit field).
    pub volume: u8,
    /// Duration so far in RTP timestamp units.
    pub duration: u16,
}

/// Why a telephone-event payload was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// Empty, or not a multiple of four bytes.
    #[error("telephone-event payload of {0} bytes is not a non-empty multiple of 4")]
    BadLength(usize),
}

impl TelephoneEvent {
    /// Decodes one four-byte block. The R bit is ignored on receipt.
    pub fn parse(block: [u8; 4]) -> Self {
        TelephoneEvent {
            event: block[0],
            end: block[1] & 0x80 != 0,
            volume: block[1] & 0x3f,
            duration: u16::from_be_bytes([block[2], block[3]]),
        }
    }

    /// Encodes the block (R bit zero, volume clamped to 63).
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        let e = if self.end { 0x80 } else { 0 };
        [self.event, e | self.volume.min(63), d[0], d[1]]
    }

    /// Decodes every block of a payload.
    pub fn parse_all(payload: &[u8]) -> Result<Vec<TelephoneEvent>, PayloadError> {
        if payload.is_empty() || payload.len() % EVENT_BLOCK_LEN != 0 {
            return Err(PayloadError::BadLength(payload.len()));
        }
        Ok(payload
            .chunks_exact(EVENT_BLOCK_LEN)
            .map(|c| TelephoneEvent::parse([c[0], c[1], c[2], c[3]]))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_rfc4733_figure_1() {
        // Digit 9, end bit, volume 10 (-10 dBm0), duration 1600 (200 ms at 8 kHz).
        let ev = TelephoneEvent {
            event: 9,
            end: true,
            volume: 10,
            duration: 1600,
        };
        assert_eq!(ev.to_bytes(), [0x09, 0x8a, 0x06, 0x40]);
        assert_eq!(TelephoneEvent::parse([0x09, 0x8a, 0x06, 0x40]), ev);
        // The reserved bit is ignored by receivers.
        assert_eq!(TelephoneEvent::parse([0x09, 0xca, 0x06, 0x40]), ev);
        // Volume beyond 6 bits is clamped, never spills into R or E.
        let loud = TelephoneEvent {
            event: 1,
            end: false,
            volume: 200,
            duration: 0,
        };
        assert_eq!(loud.to_bytes()[1], 63);
    }

    #[test]
    fn several_blocks_and_bad_lengths() {
        let mut p = Vec::new();
        p.extend_from_slice(&[1, 0x8a, 0x03, 0x20]);
        p.extend_from_slice(&[2, 0x0a, 0x01, 0x40]);
        let all = TelephoneEvent::parse_all(&p).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].duration, 800);
        assert!(all[0].end && !all[1].end);
        assert_eq!(
            TelephoneEvent::parse_all(&[]),
            Err(PayloadError::BadLength(0))
        );
        assert_eq!(
            TelephoneEvent::parse_all(&[1, 2, 3]),
            Err(PayloadError::BadLength(3))
        );
    }
}
