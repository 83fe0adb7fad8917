//! `name-addr` / `addr-spec` headers: From, To, Contact, Route, Record-Route,
//! Path, Refer-To, Referred-By, P-Asserted-Identity.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Deref, DerefMut};

use bytes::{BufMut, Bytes, BytesMut};

use super::scan::{Found, is_ws, params_range_finding, skip_quoted, trim};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};
use crate::uri::{Params, ParamsRef, Uri};

/// An address with an optional display name and header parameters.
///
/// The display name and parameters are ranges of the buffer the address
/// lies in: a parsed name-addr holds one reference count in all. Read with
/// [`display_name`](Self::display_name), [`uri`](Self::uri) and
/// [`params`](Self::params); the `set_` methods write a fresh buffer.
#[derive(Clone)]
pub struct NameAddr {
    uri: Uri,
    /// `display_name` range in `uri.source()`; `has_display` tells an
    /// empty quoted name (`""`) from none.
    display: (u32, u32),
    has_display: bool,
    /// `;params` range in `uri.source()`.
    params: (u32, u32),
    /// The `tag` parameter, as found when parsed.
    tag: Found,
}

impl NameAddr {
    /// An address without display name or parameters.
    pub fn new(uri: Uri) -> Self {
        Self {
            uri,
            display: (0, 0),
            has_display: false,
            params: (0, 0),
            tag: Found::Absent,
        }
    }

    /// The display name as received: the inside of a quoted string (escapes
    /// kept) or the tokens of an unquoted one.
    pub fn display_name(&self) -> Option<&[u8]> {
        self.has_display
            .then(|| &self.uri.source()[self.display.0 as usize..self.display.1 as usize])
    }

    /// The address.
    #[inline]
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Header parameters after the address (`;tag=`, `;expires=`, ...).
    #[inline]
    pub fn params(&self) -> ParamsRef<'_> {
        ParamsRef::over(&self.uri.source()[self.params.0 as usize..self.params.1 as usize])
    }

    /// The address, taken out.
    pub fn into_uri(self) -> Uri {
        self.uri
    }

    /// Replaces the address.
    pub fn set_uri(&mut self, uri: Uri) {
        let display = self.display_name().map(<[u8]>::to_vec);
        let params = self.params().as_bytes().to_vec();
        *self = Self::build(display.as_deref(), &uri, &params);
    }

    /// Sets the display name (the inside of a quoted string, escaped).
    pub fn set_display_name(&mut self, name: Option<impl AsRef<[u8]>>) {
        let params = self.params().as_bytes().to_vec();
        let uri = self.uri.clone();
        *self = Self::build(name.as_ref().map(AsRef::as_ref), &uri, &params);
    }

    crate::uri::param_setters!();

    /// Replaces all header parameters.
    pub fn set_params(&mut self, params: &Params) {
        let display = self.display_name().map(<[u8]>::to_vec);
        let uri = self.uri.clone();
        *self = Self::build(display.as_deref(), &uri, params.view().as_bytes());
    }

    /// Writes the parts into one fresh buffer.
    fn build(display: Option<&[u8]>, uri: &Uri, params: &[u8]) -> Self {
        let mut out = BytesMut::with_capacity(96);
        let off = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let d = display.map(|d| {
            out.extend_from_slice(d);
            (0, off(d.len()))
        });
        let make_uri = uri.write_indexed(&mut out);
        let ps = out.len();
        out.extend_from_slice(params);
        let pe = out.len();
        let buf = out.freeze();
        Self {
            uri: make_uri(&buf),
            display: d.unwrap_or((0, 0)),
            has_display: d.is_some(),
            params: (off(ps), off(pe)),
            tag: Found::Unknown,
        }
    }

    /// Parses `[display-name] <uri> *(;param)` or `addr-spec *(;param)`.
    pub fn parse(raw: &Bytes, what: &'static str) -> Result<Self, HeaderError> {
        Self::parse_in(raw, 0, raw.len(), what)
    }

    /// [`parse`](Self::parse) of `raw[start..end]`, parts kept as ranges of
    /// `raw`.
    pub(crate) fn parse_in(
        raw: &Bytes,
        start: usize,
        end: usize,
        what: &'static str,
    ) -> Result<Self, HeaderError> {
        let b = &raw[..end];
        let (mut pos, end) = trim(b, start, end);
        if pos == end {
            return Err(HeaderError::Invalid(what));
        }
        let mut display = None;
        let uri_start;
        let uri_end;
        if b[pos] == b'"' {
            let close = skip_quoted(b, pos).ok_or(HeaderError::Invalid(what))?;
            display = Some((pos + 1, close - 1));
            pos = close;
            while pos < end && is_ws(b[pos]) {
                pos += 1;
            }
            if b.get(pos) != Some(&b'<') {
                return Err(HeaderError::Invalid(what));
            }
        } else if b[pos] != b'<' {
            // an unquoted display name: tokens and whitespace up to '<'
            let i = crate::charset::run(b, pos, end, crate::charset::TOKEN_OR_BLANK);
            if i < end && b[i] == b'<' {
                let (ds, de) = trim(b, pos, i);
                if de > ds {
                    display = Some((ds, de));
                }
                pos = i;
            } else if crate::charset::find(&b[i..end], b'<').is_some() {
                // a '<' after a byte a display name cannot hold
                return Err(HeaderError::Invalid(what));
            }
        }
        if b.get(pos) == Some(&b'<') {
            let gt = crate::charset::find(&b[pos..end], b'>')
                .map(|i| pos + i)
                .ok_or(HeaderError::Invalid(what))?;
            uri_start = pos + 1;
            uri_end = gt;
            pos = gt + 1;
        } else {
            // addr-spec: the URI ends at the first ';' or whitespace and may
            // not hold ',' or '?' (RFC 3261 §20, RFC 4475 §3.1.2.17).
            uri_start = pos;
            let e = b[pos..end]
                .iter()
                .position(|c| *c == b';' || is_ws(*c))
                .map_or(end, |i| pos + i);
            if b[pos..e].iter().any(|c| matches!(c, b',' | b'?')) {
                return Err(HeaderError::Invalid(what));
            }
            uri_end = e;
            pos = e;
        }
        // the URI first, then the parameters (the order of the errors)
        let uri = Uri::parse_range(raw, uri_start, uri_end)?;
        let ((ps, pe), tag) = params_range_finding(b, pos, end, what, b"tag")?;
        // every offset is at most `end`: one check covers them all
        if u32::try_from(end).is_err() {
            return Err(HeaderError::Invalid(what));
        }
        let off = |n: usize| n as u32;
        let (ds, de) = display.unwrap_or((0, 0));
        Ok(Self {
            uri,
            display: (off(ds), off(de)),
            has_display: display.is_some(),
            params: (off(ps), off(pe)),
            tag,
        })
    }

    /// The `tag` parameter.
    #[inline]
    pub fn tag(&self) -> Option<&[u8]> {
        let params = self.params();
        self.tag
            .value(params.as_bytes())
            .unwrap_or_else(|()| params.value("tag"))
    }

    /// Sets the `tag` parameter.
    pub fn set_tag(&mut self, tag: impl Into<Bytes>) {
        self.set_param("tag", Some(tag.into()));
    }

    /// Writes `"display" <uri>;params`.
    pub fn write_to(&self, out: &mut BytesMut) {
        if let Some(d) = self.display_name() {
            out.put_u8(b'"');
            out.extend_from_slice(d);
            out.extend_from_slice(b"\" ");
        }
        out.put_u8(b'<');
        self.uri.write_to(out);
        out.put_u8(b'>');
        out.extend_from_slice(self.params().as_bytes());
    }
}

impl std::convert::From<Uri> for NameAddr {
    fn from(uri: Uri) -> Self {
        Self::new(uri)
    }
}

impl PartialEq for NameAddr {
    fn eq(&self, other: &Self) -> bool {
        self.uri == other.uri
            && self.display_name() == other.display_name()
            && self.params().as_bytes() == other.params().as_bytes()
    }
}

impl Eq for NameAddr {}

impl Hash for NameAddr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uri.hash(state);
        self.display_name().hash(state);
        self.params().as_bytes().hash(state);
    }
}

impl fmt::Debug for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NameAddr")
            .field(
                "display_name",
                &self.display_name().map(String::from_utf8_lossy),
            )
            .field("uri", &self.uri)
            .field("params", &self.params())
            .finish()
    }
}

macro_rules! name_addr_header {
    ($(#[$doc:meta])* $ty:ident, $known:ident, $list:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $ty(pub NameAddr);

        impl TypedHeader for $ty {
            const NAME: HeaderName = HeaderName::Known(Known::$known);
            const LIST: bool = $list;

            fn parse(value: &Bytes) -> Result<Self, HeaderError> {
                NameAddr::parse(value, Known::$known.as_str()).map(Self)
            }

            fn parse_in(buf: &Bytes, start: usize, end: usize) -> Result<Self, HeaderError> {
                NameAddr::parse_in(buf, start, end, Known::$known.as_str()).map(Self)
            }

            fn write_to(&self, out: &mut BytesMut) {
                self.0.write_to(out)
            }
        }

        impl Deref for $ty {
            type Target = NameAddr;

            fn deref(&self) -> &NameAddr {
                &self.0
            }
        }

        impl DerefMut for $ty {
            fn deref_mut(&mut self) -> &mut NameAddr {
                &mut self.0
            }
        }
    };
}

name_addr_header!(
    /// `From` (RFC 3261 §20.20).
    From, From, false
);
name_addr_header!(
    /// `To` (RFC 3261 §20.39).
    To, To, false
);
name_addr_header!(
    /// One `Route` entry (RFC 3261 §20.34).
    Route, Route, true
);
name_addr_header!(
    /// One `Record-Route` entry (RFC 3261 §20.30).
    RecordRoute, RecordRoute, true
);
name_addr_header!(
    /// One `Path` entry (RFC 3327).
    Path, Path, true
);
name_addr_header!(
    /// `Refer-To` (RFC 3515).
    ReferTo, ReferTo, false
);
name_addr_header!(
    /// `Referred-By` (RFC 3892).
    ReferredBy, ReferredBy, false
);
name_addr_header!(
    /// One `P-Asserted-Identity` entry (RFC 3325).
    PAssertedIdentity, PAssertedIdentity, true
);

/// One `Contact` entry (RFC 3261 §20.10): an address, or `*` in a REGISTER
/// that removes all bindings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
// The wildcard is rare and an address is the common case: boxing it would
// cost an allocation per Contact for no gain.
#[allow(clippy::large_enum_variant)]
pub enum Contact {
    /// `Contact: *`.
    Wildcard,
    /// An address with parameters (`expires`, `q`, `+sip.instance`, `reg-id`).
    Address(NameAddr),
}

impl Contact {
    /// The address, unless this is the wildcard.
    pub fn address(&self) -> Option<&NameAddr> {
        match self {
            Self::Wildcard => None,
            Self::Address(a) => Some(a),
        }
    }

    /// The `expires` parameter in seconds.
    pub fn expires(&self) -> Option<u32> {
        let v = self.address()?.params().value("expires")?;
        std::str::from_utf8(v).ok()?.parse().ok()
    }

    /// The `q` parameter, in thousandths (q=0.5 gives 500).
    pub fn q(&self) -> Option<u16> {
        let v = std::str::from_utf8(self.address()?.params().value("q")?).ok()?;
        let q: f32 = v.parse().ok()?;
        (0.0..=1.0)
            .contains(&q)
            .then(|| (q * 1000.0).round() as u16)
    }
}

impl TypedHeader for Contact {
    const NAME: HeaderName = HeaderName::Known(Known::Contact);
    const LIST: bool = true;

    fn parse(value: &Bytes) -> Result<Self, HeaderError> {
        Self::parse_in(value, 0, value.len())
    }

    fn parse_in(buf: &Bytes, start: usize, end: usize) -> Result<Self, HeaderError> {
        if buf[start..end].trim_ascii() == b"*" {
            return Ok(Self::Wildcard);
        }
        NameAddr::parse_in(buf, start, end, "Contact").map(Self::Address)
    }

    fn write_to(&self, out: &mut BytesMut) {
        match self {
            Self::Wildcard => out.put_u8(b'*'),
            Self::Address(a) => a.write_to(out),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Host;

    fn na(s: &'static str) -> Result<NameAddr, HeaderError> {
        NameAddr::parse(&Bytes::from_static(s.as_bytes()), "t")
    }

    #[test]
    fn forms() {
        let a = na("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>  ;  tag = 98asjd8")
            .unwrap();
        assert_eq!(a.display_name(), Some(&b"J Rosenberg \\\\\\\""[..]));
        assert_eq!(a.tag(), Some(&b"98asjd8"[..]));
        let a = na("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(a.display_name(), Some(&b"caller"[..]));
        let a = na("sip:+19725552222@gw1.example.net;unknownparam").unwrap();
        assert!(a.params().contains("unknownparam"));
        assert!(a.uri().as_sip().unwrap().params().is_empty());
        let a = na("<sip:user@example.com?Route=%3Csip:sip.example.com%3E>").unwrap();
        assert!(a.uri().as_sip().unwrap().headers().is_some());
        let a = na("isbn:2983792873").unwrap();
        assert!(matches!(a.uri(), Uri::Other { .. }));
        let a = na("\"Caller\" <sip:caller@[2001:db8::1]>").unwrap();
        assert!(matches!(a.uri().as_sip().unwrap().host(), Host::V6(_)));
    }

    #[test]
    fn rfc4475_invalid_forms() {
        assert!(na("\"Mr. J. User <sip:j.user@example.com>").is_err()); // quotbal
        assert!(na("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err()); // baddn
        assert!(na("\"Watson, Thomas\" < sip:t.watson@example.org >").is_err()); // badaspec
        assert!(na("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err()); // regbadct
        assert!(na("\"Joe\" <sip:joe@example.org>;;;;").is_err()); // badinv01
        assert!(na("").is_err());
    }

    #[test]
    fn contact_params() {
        let c = Contact::parse(&Bytes::from_static(b"<sip:a@b>;expires=60;q=0.7")).unwrap();
        assert_eq!(c.expires(), Some(60));
        assert_eq!(c.q(), Some(700));
        assert_eq!(
            Contact::parse(&Bytes::from_static(b" * ")).unwrap(),
            Contact::Wildcard
        );
    }

    #[test]
    fn print_round_trip() {
        let a = na("token1 token2 <sip:a@b;lr>;p=\"x y\"").unwrap();
        let printed = From(a.clone()).to_bytes();
        assert_eq!(na_owned(printed), a);
    }

    fn na_owned(b: Bytes) -> NameAddr {
        NameAddr::parse(&b, "t").unwrap()
    }
}
