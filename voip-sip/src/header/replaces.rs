//! `Replaces` (RFC 3891).

use bytes::{Bytes, BytesMut};

use super::scan::parse_params;
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};
use crate::uri::Params;

/// Names a dialog to replace: its Call-ID with `to-tag` and `from-tag`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Replaces {
    /// The Call-ID of the dialog.
    pub call_id: Bytes,
    /// `to-tag`, `from-tag`, `early-only`.
    pub params: Params,
}

impl Replaces {
    /// The `to-tag` parameter.
    pub fn to_tag(&self) -> Option<&[u8]> {
        self.params.value("to-tag")
    }

    /// The `from-tag` parameter.
    pub fn from_tag(&self) -> Option<&[u8]> {
        self.params.value("from-tag")
    }

    /// Whether `early-only` is present.
    pub fn early_only(&self) -> bool {
        self.params.contains("early-only")
    }
}

impl TypedHeader for Replaces {
    const NAME: HeaderName = HeaderName::Known(Known::Replaces);

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        let b = &raw[..];
        let s = b
            .iter()
            .position(|c| !c.is_ascii_whitespace())
            .unwrap_or(b.len());
        let e = b[s..]
            .iter()
            .position(|c| *c == b';' || c.is_ascii_whitespace())
            .map_or(b.len(), |i| s + i);
        if s == e {
            return Err(HeaderError::Invalid("Replaces"));
        }
        let r = Self {
            call_id: raw.slice(s..e),
            params: parse_params(raw, e, "Replaces")?,
        };
        if r.to_tag().is_none() || r.from_tag().is_none() {
            return Err(HeaderError::Invalid("Replaces"));
        }
        Ok(r)
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.call_id);
        self.params.write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let r = Replaces::parse(&Bytes::from_static(
            b"425928@bobster.example.org;to-tag=7743;from-tag=6472;early-only",
        ))
        .unwrap();
        assert_eq!(&r.call_id[..], b"425928@bobster.example.org");
        assert_eq!(
            (r.to_tag(), r.from_tag(), r.early_only()),
            (Some(&b"7743"[..]), Some(&b"6472"[..]), true)
        );
        assert!(Replaces::parse(&Bytes::from_static(b"abc;to-tag=1")).is_err());
    }
}
