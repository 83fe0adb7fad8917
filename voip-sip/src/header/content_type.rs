//! `Content-Type` and `Accept` (RFC 3261 §20.15, §20.1).

use bytes::{BufMut, Bytes, BytesMut};

use super::scan::{is_token_char, is_ws, parse_params};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};
use crate::uri::Params;

/// A media type `type/subtype;params` (or a range such as `*/*` in Accept).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MediaType {
    /// The type, e.g. `application`.
    pub mtype: Bytes,
    /// The subtype, e.g. `sdp`.
    pub subtype: Bytes,
    /// Parameters such as `boundary` or `charset`.
    pub params: Params,
}

impl MediaType {
    /// `application/sdp`.
    pub fn sdp() -> Self {
        Self {
            mtype: Bytes::from_static(b"application"),
            subtype: Bytes::from_static(b"sdp"),
            params: Params::new(),
        }
    }

    /// Whether the type and subtype are `mtype/subtype`, case-insensitively.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype.as_bytes())
            && self.subtype.eq_ignore_ascii_case(subtype.as_bytes())
    }

    /// Whether this (as a range from Accept) admits `mtype/subtype`.
    pub fn admits(&self, mtype: &str, subtype: &str) -> bool {
        (&self.mtype[..] == b"*" || self.mtype.eq_ignore_ascii_case(mtype.as_bytes()))
            && (&self.subtype[..] == b"*" || self.subtype.eq_ignore_ascii_case(subtype.as_bytes()))
    }

    fn parse(raw: &Bytes, what: &'static str) -> Result<Self, HeaderError> {
        let b = &raw[..];
        let mut pos = 0;
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        let ts = pos;
        while pos < b.len() && is_token_char(b[pos]) {
            pos += 1;
        }
        let te = pos;
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        if ts == te || b.get(pos) != Some(&b'/') {
            return Err(HeaderError::Invalid(what));
        }
        pos += 1;
        while pos < b.len() && is_ws(b[pos]) {
            pos += 1;
        }
        let ss = pos;
        while pos < b.len() && is_token_char(b[pos]) {
            pos += 1;
        }
        if ss == pos {
            return Err(HeaderError::Invalid(what));
        }
        Ok(Self {
            mtype: raw.slice(ts..te),
            subtype: raw.slice(ss..pos),
            params: parse_params(raw, pos, what)?,
        })
    }

    fn write(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.mtype);
        out.put_u8(b'/');
        out.extend_from_slice(&self.subtype);
        self.params.write_to(out);
    }
}

/// `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentType(pub MediaType);

impl TypedHeader for ContentType {
    const NAME: HeaderName = HeaderName::Known(Known::ContentType);

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        MediaType::parse(raw, "Content-Type").map(Self)
    }

    fn write_to(&self, out: &mut BytesMut) {
        self.0.write(out)
    }
}

/// One media range of an `Accept` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Accept(pub MediaType);

impl TypedHeader for Accept {
    const NAME: HeaderName = HeaderName::Known(Known::Accept);
    const LIST: bool = true;

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        MediaType::parse(raw, "Accept").map(Self)
    }

    fn write_to(&self, out: &mut BytesMut) {
        self.0.write(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let c = ContentType::parse(&Bytes::from_static(
            b"multipart/mixed;boundary=7a9cbec02ceef655",
        ))
        .unwrap();
        assert!(c.0.is("Multipart", "MIXED"));
        assert_eq!(c.0.params.value("boundary"), Some(&b"7a9cbec02ceef655"[..]));
        assert!(
            Accept::parse(&Bytes::from_static(b"*/*"))
                .unwrap()
                .0
                .admits("application", "sdp")
        );
        assert!(ContentType::parse(&Bytes::from_static(b"sdp")).is_err());
        assert_eq!(
            &c.to_bytes()[..],
            b"multipart/mixed;boundary=7a9cbec02ceef655"
        );
    }
}
