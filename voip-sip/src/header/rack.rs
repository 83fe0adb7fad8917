//! `RAck` (RFC 3262 §7.2).

use bytes::{BufMut, Bytes, BytesMut};

use super::cseq::parse_decimal;
use super::scan::is_token_char;
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known, Method};

/// Acknowledges a reliable provisional response: its RSeq, CSeq and method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RAck {
    /// The RSeq of the provisional response.
    pub rseq: u32,
    /// The CSeq number of the request it answered.
    pub cseq: u32,
    /// The method of that request.
    pub method: Method,
}

impl TypedHeader for RAck {
    const NAME: HeaderName = HeaderName::Known(Known::RAck);

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        let mut parts = raw
            .split(|c| *c == b' ' || *c == b'\t')
            .filter(|p| !p.is_empty());
        let num = |p: Option<&[u8]>| {
            p.and_then(|p| parse_decimal(p, u64::from(u32::MAX)))
                .map(|v| v as u32)
                .ok_or(HeaderError::Number("RAck"))
        };
        let rseq = num(parts.next())?;
        let cseq = num(parts.next())?;
        let m = parts.next().ok_or(HeaderError::Invalid("RAck"))?;
        if parts.next().is_some() || !m.iter().all(|c| is_token_char(*c)) {
            return Err(HeaderError::Invalid("RAck"));
        }
        Ok(Self {
            rseq,
            cseq,
            method: Method::from_bytes(raw.slice_ref(m)),
        })
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(format!("{} {} ", self.rseq, self.cseq).as_bytes());
        out.put_slice(self.method.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let r = RAck::parse(&Bytes::from_static(b"776656 1 INVITE")).unwrap();
        assert_eq!(
            (r.rseq, r.cseq, r.method.clone()),
            (776656, 1, Method::Invite)
        );
        assert_eq!(RAck::parse(&r.to_bytes()).unwrap(), r);
        assert!(RAck::parse(&Bytes::from_static(b"1 INVITE")).is_err());
    }
}
