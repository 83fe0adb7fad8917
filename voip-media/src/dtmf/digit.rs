//! The sixteen DTMF keys, their RFC 4733 event codes and their tone pairs.

use std::fmt;

/// Low-group (row) frequencies in Hz, ITU-T Q.23.
pub const ROW_FREQUENCIES: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// High-group (column) frequencies in Hz, ITU-T Q.23.
pub const COLUMN_FREQUENCIES: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

/// One DTMF key.
///
/// The RFC 4733 §3.2 event codes are 0–9 for the digits, 10 for `*`, 11 for
/// `#` and 12–15 for `A`–`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DtmfDigit {
    /// `0`
    D0,
    /// `1`
    D1,
    /// `2`
    D2,
    /// `3`
    D3,
    /// `4`
    D4,
    /// `5`
    D5,
    /// `6`
    D6,
    /// `7`
    D7,
    /// `8`
    D8,
    /// `9`
    D9,
    /// `*`
    Star,
    /// `#`
    Pound,
    /// `A`
    A,
    /// `B`
    B,
    /// `C`
    C,
    /// `D`
    D,
}

/// The keypad, row by row: `KEYPAD[row][column]`.
const KEYPAD: [[DtmfDigit; 4]; 4] = [
    [DtmfDigit::D1, DtmfDigit::D2, DtmfDigit::D3, DtmfDigit::A],
    [DtmfDigit::D4, DtmfDigit::D5, DtmfDigit::D6, DtmfDigit::B],
    [DtmfDigit::D7, DtmfDigit::D8, DtmfDigit::D9, DtmfDigit::C],
    [
        DtmfDigit::Star,
        DtmfDigit::D0,
        DtmfDigit::Pound,
        DtmfDigit::D,
    ],
];

impl DtmfDigit {
    /// All sixteen keys in event-code order.
    pub const ALL: [DtmfDigit; 16] = [
        DtmfDigit::D0,
        DtmfDigit::D1,
        DtmfDigit::D2,
        DtmfDigit::D3,
        DtmfDigit::D4,
        DtmfDigit::D5,
        DtmfDigit::D6,
        DtmfDigit::D7,
        DtmfDigit::D8,
        DtmfDigit::D9,
        DtmfDigit::Star,
        DtmfDigit::Pound,
        DtmfDigit::A,
        DtmfDigit::B,
        DtmfDigit::C,
        DtmfDigit::D,
    ];

    /// The key for an RFC 4733 event code (0–15); other events (16 is
    /// flash, 32+ are tones and line signals) are not keys.
    pub fn from_event(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code)).copied()
    }

    /// The RFC 4733 event code.
    pub fn event(self) -> u8 {
        self as u8
    }

    /// The key for a character: `0`–`9`, `*`, `#`, `A`–`D` (either case).
    pub fn from_char(c: char) -> Option<Self> {
        Some(match c.to_ascii_uppercase() {
            '0'..='9' => return Self::from_event(c as u8 - b'0'),
            '*' => DtmfDigit::Star,
            '#' => DtmfDigit::Pound,
            'A' => DtmfDigit::A,
            'B' => DtmfDigit::B,
            'C' => DtmfDigit::C,
            'D' => DtmfDigit::D,
            _ => return None,
        })
    }

    /// The character printed on the key.
    pub fn as_char(self) -> char {
        match self {
            DtmfDigit::Star => '*',
            DtmfDigit::Pound => '#',
            DtmfDigit::A => 'A',
            DtmfDigit::B => 'B',
            DtmfDigit::C => 'C',
            DtmfDigit::D => 'D',
            digit => char::from(b'0' + digit as u8),
        }
    }

    /// The key at `row` (0–3, low group) and `column` (0–3, high group).
    pub fn from_position(row: usize, column: usize) -> Option<Self> {
        KEYPAD.get(row)?.get(column).copied()
    }

    /// `(row, column)` on the keypad.
    pub fn position(self) -> (usize, usize) {
        for (r, row) in KEYPAD.iter().enumerate() {
            for (c, key) in row.iter().enumerate() {
                if *key == self {
                    return (r, c);
                }
            }
        }
        (0, 0)
    }

    /// The `(low, high)` tone pair in Hz.
    pub fn frequencies(self) -> (f64, f64) {
        let (r, c) = self.position();
        (ROW_FREQUENCIES[r], COLUMN_FREQUENCIES[c])
    }
}

impl fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// Where a digit was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DtmfSource {
    /// RFC 4733 telephone-event RTP packets.
    Rfc4733,
    /// A SIP INFO body (`application/dtmf-relay` or `application/dtmf`).
    SipInfo,
    /// Tones in the audio, found by the Goertzel detector.
    Inband,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_follow_rfc4733_table() {
        // RFC 4733 §3.2, Table 7: 0-9, * = 10, # = 11, A-D = 12-15, flash = 16.
        assert_eq!(DtmfDigit::from_event(0), Some(DtmfDigit::D0));
        assert_eq!(DtmfDigit::from_event(9), Some(DtmfDigit::D9));
        assert_eq!(DtmfDigit::from_event(10), Some(DtmfDigit::Star));
        assert_eq!(DtmfDigit::from_event(11), Some(DtmfDigit::Pound));
        assert_eq!(DtmfDigit::from_event(12), Some(DtmfDigit::A));
        assert_eq!(DtmfDigit::from_event(15), Some(DtmfDigit::D));
        assert_eq!(DtmfDigit::from_event(16), None);
        for d in DtmfDigit::ALL {
            assert_eq!(DtmfDigit::from_event(d.event()), Some(d));
            assert_eq!(DtmfDigit::from_char(d.as_char()), Some(d));
        }
        assert_eq!(DtmfDigit::from_char('b'), Some(DtmfDigit::B));
        assert_eq!(DtmfDigit::from_char('x'), None);
    }

    #[test]
    fn tone_pairs_follow_q23() {
        assert_eq!(DtmfDigit::D1.frequencies(), (697.0, 1209.0));
        assert_eq!(DtmfDigit::D5.frequencies(), (770.0, 1336.0));
        assert_eq!(DtmfDigit::D9.frequencies(), (852.0, 1477.0));
        assert_eq!(DtmfDigit::D0.frequencies(), (941.0, 1336.0));
        assert_eq!(DtmfDigit::Star.frequencies(), (941.0, 1209.0));
        assert_eq!(DtmfDigit::Pound.frequencies(), (941.0, 1477.0));
        assert_eq!(DtmfDigit::D.frequencies(), (941.0, 1633.0));
        assert_eq!(DtmfDigit::from_position(1, 3), Some(DtmfDigit::B));
        assert_eq!(DtmfDigit::from_position(4, 0), None);
    }
}
