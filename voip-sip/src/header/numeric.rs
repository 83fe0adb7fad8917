//! Headers whose value is a number: Max-Forwards, Content-Length, Expires,
//! Min-Expires, RSeq, and the session timer headers (RFC 4028).

use bytes::{Bytes, BytesMut};

use super::cseq::parse_decimal;
use super::scan::{is_ws, parse_params};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};
use crate::uri::Params;

macro_rules! numeric_header {
    ($(#[$doc:meta])* $ty:ident($inner:ty), $known:ident, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(pub $inner);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::Known(Known::$known);

            fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
                Self::parse_in(raw, 0, raw.len())
            }

            fn parse_in(buf: &Bytes, start: usize, end: usize) -> Result<Self, HeaderError> {
                parse_decimal(buf[start..end].trim_ascii(), $max)
                    .and_then(|v| <$inner>::try_from(v).ok())
                    .map(Self)
                    .ok_or(HeaderError::Number(Known::$known.as_str()))
            }

            fn write_to(&self, out: &mut BytesMut) {
                out.extend_from_slice(self.0.to_string().as_bytes());
            }
        }
    };
}

numeric_header!(
    /// `Max-Forwards` (RFC 3261 §20.22), 0 to 255.
    MaxForwards(u8), MaxForwards, 255
);
numeric_header!(
    /// `Content-Length` (RFC 3261 §20.14).
    ContentLength(u32), ContentLength, u64::from(u32::MAX)
);
numeric_header!(
    /// `Expires` in seconds (RFC 3261 §20.19), up to 2^32-1.
    Expires(u32), Expires, u64::from(u32::MAX)
);
numeric_header!(
    /// `Min-Expires` in seconds (RFC 3261 §20.23).
    MinExpires(u32), MinExpires, u64::from(u32::MAX)
);
numeric_header!(
    /// `RSeq` (RFC 3262), 1 to 2^31-1.
    RSeq(u32), RSeq, (1 << 31) - 1
);

macro_rules! delta_with_params {
    ($(#[$doc:meta])* $ty:ident, $known:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty {
            /// Interval in seconds.
            pub delta: u32,
            /// Parameters (`refresher=uac|uas` for Session-Expires).
            pub params: Params,
        }

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::Known(Known::$known);

            fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
                let what = Known::$known.as_str();
                let b = &raw[..];
                let mut pos = 0;
                while pos < b.len() && is_ws(b[pos]) {
                    pos += 1;
                }
                let s = pos;
                while pos < b.len() && b[pos].is_ascii_digit() {
                    pos += 1;
                }
                let delta = parse_decimal(&b[s..pos], u64::from(u32::MAX))
                    .ok_or(HeaderError::Number(what))? as u32;
                Ok(Self {
                    delta,
                    params: parse_params(raw, pos, what)?,
                })
            }

            fn write_to(&self, out: &mut BytesMut) {
                out.extend_from_slice(self.delta.to_string().as_bytes());
                self.params.write_to(out);
            }
        }
    };
}

delta_with_params!(
    /// `Session-Expires` (RFC 4028).
    SessionExpires, SessionExpires
);
delta_with_params!(
    /// `Min-SE` (RFC 4028).
    MinSe, MinSe
);

impl SessionExpires {
    /// The `refresher` parameter (`uac` or `uas`).
    pub fn refresher(&self) -> Option<&[u8]> {
        self.params.value("refresher")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            MaxForwards::parse(&Bytes::from_static(b"0068")),
            Ok(MaxForwards(68))
        );
        assert!(MaxForwards::parse(&Bytes::from_static(b"300")).is_err());
        assert!(ContentLength::parse(&Bytes::from_static(b"-999")).is_err());
        assert!(Expires::parse(&Bytes::from_static(b"10000000000000000000000000")).is_err());
        assert_eq!(
            Expires::parse(&Bytes::from_static(b" 3600 ")),
            Ok(Expires(3600))
        );
        let se = SessionExpires::parse(&Bytes::from_static(b"1800;refresher=uac")).unwrap();
        assert_eq!((se.delta, se.refresher()), (1800, Some(&b"uac"[..])));
        assert_eq!(&se.to_bytes()[..], b"1800;refresher=uac");
    }
}
