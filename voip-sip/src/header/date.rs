//! `Date` (RFC 3261 §20.17): an RFC 1123 date, always in GMT.

use bytes::{Bytes, BytesMut};

use super::cseq::parse_decimal;
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};

/// A date such as `Sat, 13 Nov 2010 23:29:00 GMT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of month, 1 to 31.
    pub day: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second (60 for a leap second).
    pub second: u8,
    /// Day of week, 0 = Monday.
    pub weekday: u8,
}

const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const MONTHS: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

impl TypedHeader for Date {
    const NAME: HeaderName = HeaderName::Known(Known::Date);

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        let bad = HeaderError::Invalid("Date");
        let b = raw.trim_ascii();
        // "Www, DD Mmm YYYY HH:MM:SS GMT" is exactly 29 octets.
        if b.len() != 29
            || &b[3..5] != b", "
            || b[7] != b' '
            || b[11] != b' '
            || b[16] != b' '
            || b[19] != b':'
            || b[22] != b':'
            || &b[25..] != b" GMT"
        {
            return Err(bad);
        }
        let weekday = DAYS.iter().position(|d| *d == &b[..3]).ok_or(bad)? as u8;
        let month = MONTHS.iter().position(|m| *m == &b[8..11]).ok_or(bad)? as u8 + 1;
        let num = |r: std::ops::Range<usize>, max: u64| parse_decimal(&b[r], max).ok_or(bad);
        let day = num(5..7, 31)? as u8;
        let year = num(12..16, 9999)? as u16;
        let hour = num(17..19, 23)? as u8;
        let minute = num(20..22, 59)? as u8;
        let second = num(23..25, 60)? as u8;
        if day == 0 {
            return Err(bad);
        }
        Ok(Self {
            year,
            month,
            day,
            hour,
            minute,
            second,
            weekday,
        })
    }

    fn write_to(&self, out: &mut BytesMut) {
        let s = format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            String::from_utf8_lossy(DAYS[usize::from(self.weekday % 7)]),
            self.day,
            String::from_utf8_lossy(MONTHS[usize::from((self.month.clamp(1, 12)) - 1)]),
            self.year,
            self.hour,
            self.minute,
            self.second
        );
        out.extend_from_slice(s.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123_gmt_only() {
        let d = Date::parse(&Bytes::from_static(b"Sat, 13 Nov 2010 23:29:00 GMT")).unwrap();
        assert_eq!((d.year, d.month, d.day, d.hour), (2010, 11, 13, 23));
        assert_eq!(&d.to_bytes()[..], b"Sat, 13 Nov 2010 23:29:00 GMT");
        // RFC 4475 §3.1.2.14 baddate
        assert!(Date::parse(&Bytes::from_static(b"Fri, 01 Jan 2010 16:00:00 EST")).is_err());
    }
}
