//! URIs: SIP and SIPS URIs parsed into parts (RFC 3261 §19.1), any other
//! scheme kept as an opaque absolute URI (RFC 4475 §3.3.8 and §3.3.9).

mod host;
mod params;
mod sip;

use std::fmt;

use bytes::{Bytes, BytesMut};

pub use host::Host;
pub(crate) use host::{HostSlot, parse_ipv6, parse_slot as parse_host_slot, write_host};
pub use params::{Param, ParamIter, Params, ParamsRef};
pub(crate) use params::{param_setters, unquote};
pub use sip::SipUri;
pub(crate) use sip::parse_port as sip_port;

/// Why a URI did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// No `scheme:` prefix, or a scheme with invalid characters.
    #[error("missing or invalid uri scheme")]
    Scheme,
    /// A character not allowed at its place (whitespace, `<`, `"`, ...).
    #[error("invalid character in uri")]
    Character,
    /// The user or password part is invalid.
    #[error("invalid uri user part")]
    User,
    /// The host is missing or not a domain name or IP address.
    #[error("invalid uri host")]
    Host,
    /// The port is not a number from 0 to 65535.
    #[error("invalid uri port")]
    Port,
    /// A parameter is empty or has invalid characters.
    #[error("invalid uri parameter")]
    Param,
}

/// A URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Uri {
    /// A `sip:` or `sips:` URI.
    Sip(SipUri),
    /// Any other absolute URI (`tel:`, `http:`, `urn:`, ...), kept as received.
    Other(OtherUri),
}

/// A URI of a scheme other than `sip`/`sips`, kept as received.
#[derive(Clone)]
pub struct OtherUri {
    buf: Bytes,
    start: u32,
    colon: u32,
    end: u32,
}

impl OtherUri {
    /// The scheme, as received.
    pub fn scheme(&self) -> &[u8] {
        &self.buf[self.start as usize..self.colon as usize]
    }

    /// Everything after the first `:`.
    pub fn opaque(&self) -> &[u8] {
        &self.buf[self.colon as usize + 1..self.end as usize]
    }

    fn write_indexed(&self, out: &mut BytesMut) -> impl FnOnce(&Bytes) -> Self + use<> {
        let start = out.len();
        out.extend_from_slice(&self.buf[self.start as usize..self.end as usize]);
        let (colon, end) = (self.colon - self.start, self.end - self.start);
        move |buf: &Bytes| {
            let start = u32::try_from(start).unwrap_or(u32::MAX);
            Self {
                buf: buf.clone(),
                start,
                colon: start + colon,
                end: start + end,
            }
        }
    }
}

impl PartialEq for OtherUri {
    fn eq(&self, other: &Self) -> bool {
        self.scheme() == other.scheme() && self.opaque() == other.opaque()
    }
}

impl Eq for OtherUri {}

impl std::hash::Hash for OtherUri {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.scheme().hash(state);
        self.opaque().hash(state);
    }
}

impl fmt::Debug for OtherUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtherUri")
            .field("scheme", &String::from_utf8_lossy(self.scheme()))
            .field("opaque", &String::from_utf8_lossy(self.opaque()))
            .finish()
    }
}

impl Uri {
    /// Parses a URI.
    pub fn parse(raw: &Bytes) -> Result<Self, UriError> {
        Self::parse_range(raw, 0, raw.len())
    }

    /// Parses the URI `raw[start..end]`; its parts are slices of `raw`.
    pub(crate) fn parse_range(raw: &Bytes, start: usize, end: usize) -> Result<Self, UriError> {
        let b = &raw[start..end];
        // the usual schemes first (same result as the general path below):
        // four bytes compared at once, letters in any case
        if let Some(w) = b.first_chunk::<4>() {
            let w = u32::from_le_bytes(*w) | 0x2020_2020;
            if w == u32::from_le_bytes(*b"sip:") && b[3] == b':' {
                return SipUri::parse_range(raw, start + 4, end, false);
            }
            if w == u32::from_le_bytes(*b"sips") && b.get(4) == Some(&b':') {
                return SipUri::parse_range(raw, start + 5, end, true);
            }
        }
        let colon = crate::charset::find(b, b':').ok_or(UriError::Scheme)?;
        let scheme = &b[..colon];
        if scheme.is_empty()
            || !scheme[0].is_ascii_alphabetic()
            || !scheme
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            return Err(UriError::Scheme);
        }
        let opaque = &b[colon + 1..];
        if opaque.is_empty()
            || opaque.iter().any(|c| {
                c.is_ascii_whitespace() || c.is_ascii_control() || matches!(c, b'<' | b'>' | b'"')
            })
        {
            return Err(UriError::Character);
        }
        let off = |n: usize| u32::try_from(n).map_err(|_| UriError::Character);
        Ok(Uri::Other(OtherUri {
            buf: raw.clone(),
            start: off(start)?,
            colon: off(start + colon)?,
            end: off(end)?,
        }))
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Self::Sip(u) => Some(u),
            Self::Other(_) => None,
        }
    }

    /// The buffer the URI's parts lie in.
    pub(crate) fn source(&self) -> &Bytes {
        match self {
            Self::Sip(u) => u.source(),
            Self::Other(o) => &o.buf,
        }
    }

    /// Writes the URI at the end of `out`; the returned function makes the
    /// same URI over `out` once frozen (see `NameAddr`'s setters).
    pub(crate) fn write_indexed(&self, out: &mut BytesMut) -> Box<dyn FnOnce(&Bytes) -> Self> {
        match self {
            Self::Sip(u) => {
                let f = u.write_indexed(out);
                Box::new(move |b| Self::Sip(f(b)))
            }
            Self::Other(o) => {
                let f = o.write_indexed(out);
                Box::new(move |b| Self::Other(f(b)))
            }
        }
    }

    /// The scheme (`sip`, `sips`, or as received).
    pub fn scheme(&self) -> &[u8] {
        match self {
            Self::Sip(u) if u.secure => b"sips",
            Self::Sip(_) => b"sip",
            Self::Other(o) => o.scheme(),
        }
    }

    /// Whether the scheme is `sip`, `sips` or `tel` (RFC 3966).
    pub fn is_supported_scheme(&self) -> bool {
        match self {
            Self::Sip(_) => true,
            Self::Other(o) => o.scheme().eq_ignore_ascii_case(b"tel"),
        }
    }

    /// Writes the URI.
    pub fn write_to(&self, out: &mut BytesMut) {
        match self {
            Self::Sip(u) => u.write_to(out),
            Self::Other(o) => out.extend_from_slice(&o.buf[o.start as usize..o.end as usize]),
        }
    }

    /// The URI as bytes.
    pub fn to_bytes(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(64);
        self.write_to(&mut b);
        b.freeze()
    }
}

impl From<SipUri> for Uri {
    fn from(u: SipUri) -> Self {
        Self::Sip(u)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl std::str::FromStr for Uri {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(&Bytes::copy_from_slice(s.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_schemes_are_kept() {
        for s in [
            "isbn:2983792873",
            "http://www.example.com",
            "name:John_Smith",
            "soap.beep://192.0.2.103:3002",
        ] {
            let u: Uri = s.parse().unwrap();
            assert!(matches!(u, Uri::Other { .. }), "{s}");
            assert_eq!(u.to_string(), s);
        }
        assert!(
            "tel:+1-201-555-0123"
                .parse::<Uri>()
                .unwrap()
                .is_supported_scheme()
        );
        assert!(
            !"nobodyKnowsThisScheme:totallyopaquecontent"
                .parse::<Uri>()
                .unwrap()
                .is_supported_scheme()
        );
        assert!("<sip:a@b>".parse::<Uri>().is_err());
        assert!("noscheme".parse::<Uri>().is_err());
    }
}
