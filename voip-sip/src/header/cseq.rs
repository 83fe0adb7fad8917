//! `CSeq` (RFC 3261 §20.16).

use bytes::{BufMut, Bytes, BytesMut};

use super::scan::{is_token_char, is_ws};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known, Method};

/// A sequence number and method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number, below 2^31 (RFC 3261 §8.1.1.5).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

/// Parses a decimal number with at most `max` as value; leading zeros allowed.
pub(crate) fn parse_decimal(b: &[u8], max: u64) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for d in b {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        if v > max {
            return None;
        }
    }
    Some(v)
}

impl TypedHeader for CSeq {
    const NAME: HeaderName = HeaderName::Known(Known::CSeq);

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        Self::parse_in(raw, 0, raw.len())
    }

    fn parse_in(raw: &Bytes, start: usize, end: usize) -> Result<Self, HeaderError> {
        let b = &raw[..end];
        let mut pos = start;
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        let ns = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let seq = parse_decimal(&b[ns..pos], (1 << 31) - 1).ok_or(HeaderError::Number("CSeq"))?;
        let ws = pos;
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        let ms = pos;
        while pos < b.len() && is_token_char(b[pos]) {
            pos += 1;
        }
        if ws == ms || ms == pos || b[pos..].iter().any(|c| !is_ws(*c)) {
            return Err(HeaderError::Invalid("CSeq"));
        }
        Ok(Self {
            seq: seq as u32,
            method: Method::from_buf(raw, ms..pos),
        })
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.seq.to_string().as_bytes());
        out.put_u8(b' ');
        out.extend_from_slice(self.method.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let c = CSeq::parse(&Bytes::from_static(b"0009 INVITE")).unwrap();
        assert_eq!((c.seq, c.method), (9, Method::Invite));
        assert!(CSeq::parse(&Bytes::from_static(b"36893488147419103232 REGISTER")).is_err());
        assert!(CSeq::parse(&Bytes::from_static(b"2147483648 INVITE")).is_err());
        assert!(CSeq::parse(&Bytes::from_static(b"8")).is_err());
        assert!(CSeq::parse(&Bytes::from_static(b"8INVITE")).is_err());
        let c = CSeq::parse(&Bytes::from_static(b"29344 RE%47IST%45R")).unwrap();
        assert_eq!(c.method.as_bytes(), b"RE%47IST%45R");
        assert_eq!(&c.to_bytes()[..], b"29344 RE%47IST%45R");
    }
}
