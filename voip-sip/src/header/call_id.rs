//! `Call-ID` (RFC 3261 §20.8).

use bytes::{Bytes, BytesMut};

use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};

/// A call identifier: `word ["@" word]`, compared byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CallId(pub Bytes);

impl TypedHeader for CallId {
    const NAME: HeaderName = HeaderName::Known(Known::CallId);

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        Self::parse_in(raw, 0, raw.len())
    }

    fn parse_in(buf: &Bytes, start: usize, end: usize) -> Result<Self, HeaderError> {
        let b = buf[start..end].trim_ascii();
        if b.is_empty() || crate::charset::run(b, 0, b.len(), crate::charset::VISIBLE) < b.len() {
            return Err(HeaderError::Invalid("Call-ID"));
        }
        Ok(Self(if b.len() == buf.len() {
            buf.clone()
        } else {
            buf.slice_ref(b)
        }))
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert!(
            CallId::parse(&Bytes::from_static(
                b"intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
            ))
            .is_ok()
        );
        assert!(CallId::parse(&Bytes::from_static(b"a b")).is_err());
        assert!(CallId::parse(&Bytes::from_static(b"")).is_err());
    }
}
