//! `sip:` and `sips:` URIs (RFC 3261 §19.1, IPv6 per RFC 5118).
//!
//! A parsed URI keeps the buffer it was parsed from and the offsets of its
//! parts: one reference count per URI, a value of 72 bytes, and nothing
//! copied. Setters write a fresh buffer for the new parts.

use std::fmt;
use std::hash::{Hash, Hasher};

use bytes::{BufMut, Bytes, BytesMut};

use super::host::{HostSlot, parse_slot, write_host};
use super::{Host, Params, ParamsRef, UriError};
use crate::charset::{PARAM, PASSWORD, URI_HEADER, USER, all, run};

/// A SIP or SIPS URI. Escaped parts are kept escaped, as received.
///
/// Read the parts with [`user`](Self::user), [`host`](Self::host),
/// [`params`](Self::params), ...; change them with the `set_` methods.
#[derive(Clone)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The port, if given.
    pub port: Option<u16>,
    host_slot: HostSlot,
    /// The buffer the parts lie in.
    buf: Bytes,
    /// First byte after the scheme (the user part or the host).
    start: u32,
    /// End of the user part (== `at - 1` without password).
    user_end: u32,
    /// Host start (== `start` without user part; else just past the `@`).
    at: u32,
    host_end: u32,
    /// `;params` start (after the port as received) and end (the `?` or
    /// the end).
    params_start: u32,
    params_end: u32,
    end: u32,
}

/// The parts of a URI to write into a fresh buffer.
struct Parts<'a> {
    user: Option<&'a [u8]>,
    password: Option<&'a [u8]>,
    host: HostText<'a>,
    params: &'a [u8],
    headers: Option<&'a [u8]>,
}

enum HostText<'a> {
    /// Text already in the form a URI carries, and its kind.
    Raw(&'a [u8], HostSlot),
    Host(&'a Host),
}

impl SipUri {
    /// A URI `sip:host`.
    pub fn new(host: Host) -> Self {
        Self::build(
            false,
            None,
            Parts {
                user: None,
                password: None,
                host: HostText::Host(&host),
                params: b"",
                headers: None,
            },
        )
    }

    /// Parses a `sip:` or `sips:` URI.
    pub fn parse(raw: &Bytes) -> Result<Self, UriError> {
        match super::Uri::parse(raw)? {
            super::Uri::Sip(u) => Ok(u),
            super::Uri::Other(_) => Err(UriError::Scheme),
        }
    }

    /// The user part (escaped), if any.
    #[inline]
    pub fn user(&self) -> Option<&[u8]> {
        (self.at > self.start).then(|| &self.buf[self.start as usize..self.user_end as usize])
    }

    /// The password (escaped), if any.
    pub fn password(&self) -> Option<&[u8]> {
        (self.at > self.start && self.user_end + 1 < self.at)
            .then(|| &self.buf[self.user_end as usize + 1..self.at as usize - 1])
    }

    /// The host.
    pub fn host(&self) -> Host {
        self.host_slot
            .host(&self.buf, self.at as usize, self.host_end as usize)
    }

    /// The host as written (a domain as received, `[v6]` in brackets).
    pub fn host_bytes(&self) -> &[u8] {
        &self.buf[self.at as usize..self.host_end as usize]
    }

    /// URI parameters (`;transport=tcp;lr`).
    #[inline]
    pub fn params(&self) -> ParamsRef<'_> {
        ParamsRef::over(&self.buf[self.params_start as usize..self.params_end as usize])
    }

    /// The headers part after `?`, raw (escaped).
    pub fn headers(&self) -> Option<&[u8]> {
        (self.params_end < self.end)
            .then(|| &self.buf[self.params_end as usize + 1..self.end as usize])
    }

    /// The `transport` parameter, if any.
    pub fn transport(&self) -> Option<&[u8]> {
        self.params().value("transport")
    }

    /// Whether the `lr` parameter is present (a loose router, RFC 3261 §16.12).
    pub fn is_loose_router(&self) -> bool {
        self.params().contains("lr")
    }

    /// Sets the user part (escaped; `None` removes user and password).
    pub fn set_user(&mut self, user: Option<impl AsRef<[u8]>>) {
        let user = user.as_ref().map(AsRef::as_ref);
        let password = user.and(self.password());
        *self = self.rebuilt(|p| {
            p.user = user;
            p.password = password;
        });
    }

    /// Sets the password (escaped; ignored without a user part).
    pub fn set_password(&mut self, password: Option<impl AsRef<[u8]>>) {
        let password = password.as_ref().map(AsRef::as_ref);
        *self = self.rebuilt(|p| p.password = password);
    }

    /// Sets the host.
    pub fn set_host(&mut self, host: &Host) {
        *self = self.rebuilt(|p| p.host = HostText::Host(host));
    }

    crate::uri::param_setters!();

    /// Replaces all parameters.
    pub fn set_params(&mut self, params: &Params) {
        let raw = params.view().as_bytes();
        *self = self.rebuilt(|p| p.params = raw);
    }

    /// Sets the headers part (raw, escaped; `None` removes it).
    pub fn set_headers(&mut self, headers: Option<impl AsRef<[u8]>>) {
        let headers = headers.as_ref().map(AsRef::as_ref);
        *self = self.rebuilt(|p| p.headers = headers);
    }

    /// A copy with the parts changed by `change`, in a fresh buffer.
    fn rebuilt<'a>(&'a self, change: impl FnOnce(&mut Parts<'a>)) -> Self {
        let mut parts = Parts {
            user: self.user(),
            password: self.password(),
            host: HostText::Raw(self.host_bytes(), self.host_slot),
            params: self.params().as_bytes(),
            headers: self.headers(),
        };
        change(&mut parts);
        Self::build(self.secure, self.port, parts)
    }

    fn build(secure: bool, port: Option<u16>, parts: Parts<'_>) -> Self {
        let mut out = BytesMut::with_capacity(64);
        let (mut user_end, mut at) = (0, 0);
        if let Some(u) = parts.user {
            out.extend_from_slice(u);
            user_end = out.len();
            if let Some(p) = parts.password {
                out.put_u8(b':');
                out.extend_from_slice(p);
            }
            out.put_u8(b'@');
            at = out.len();
        }
        let host_slot = match parts.host {
            HostText::Raw(t, slot) => {
                out.extend_from_slice(t);
                slot
            }
            HostText::Host(h) => {
                write_host(h, &mut out);
                HostSlot::of(h)
            }
        };
        let host_end = out.len();
        out.extend_from_slice(parts.params);
        let params_end = out.len();
        if let Some(h) = parts.headers {
            out.put_u8(b'?');
            out.extend_from_slice(h);
        }
        let end = out.len();
        let off = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            secure,
            port,
            host_slot,
            buf: out.freeze(),
            start: 0,
            user_end: off(user_end),
            at: off(at),
            host_end: off(host_end),
            params_start: off(host_end),
            params_end: off(params_end),
            end: off(end),
        }
    }

    /// The buffer the parts lie in.
    pub(crate) fn source(&self) -> &Bytes {
        &self.buf
    }

    /// This URI's parts written at the end of `out` (scheme included), and
    /// the same URI over `out` once frozen: `rebase(frozen)`.
    pub(crate) fn write_indexed(&self, out: &mut BytesMut) -> impl FnOnce(&Bytes) -> Self + use<> {
        out.extend_from_slice(if self.secure { b"sips:" } else { b"sip:" });
        let shift = out.len() as i64 - i64::from(self.start);
        out.extend_from_slice(&self.buf[self.start as usize..self.host_end as usize]);
        let params_start = out.len() as i64 - i64::from(self.params_start);
        out.extend_from_slice(&self.buf[self.params_start as usize..self.end as usize]);
        let mut copy = self.clone();
        move |buf: &Bytes| {
            let at = |n: u32, by: i64| u32::try_from(i64::from(n) + by).unwrap_or(u32::MAX);
            copy.buf = buf.clone();
            copy.start = at(copy.start, shift);
            copy.user_end = at(copy.user_end, shift);
            copy.at = at(copy.at, shift);
            copy.host_end = at(copy.host_end, shift);
            copy.params_start = at(copy.params_start, params_start);
            copy.params_end = at(copy.params_end, params_start);
            copy.end = at(copy.end, params_start);
            copy
        }
    }

    /// Parses `raw[start..end]`, the part of a SIP URI after its scheme,
    /// in one left-to-right pass (errors in the order of the parts).
    pub(super) fn parse_range(
        raw: &Bytes,
        start: usize,
        end: usize,
        secure: bool,
    ) -> Result<super::Uri, UriError> {
        let b = &raw[..end];
        let mut pos = start;
        let mut user_end = start;
        if let Some(at) = crate::charset::find(&b[pos..], b'@').map(|i| pos + i) {
            // user: USER characters up to ':' (then password) or '@'
            let i = run(b, pos, at, USER);
            if i == pos {
                return Err(UriError::User);
            }
            if i < at {
                if b[i] != b':' {
                    return Err(UriError::User);
                }
                if run(b, i + 1, at, PASSWORD) < at {
                    return Err(UriError::User);
                }
            }
            user_end = i;
            pos = at + 1;
        }
        let at = pos;
        let (host_slot, host_end) = parse_slot(b, pos, end, |c| matches!(c, b':' | b';' | b'?'))?;
        pos = host_end;
        let mut port = None;
        if b.get(pos) == Some(&b':') {
            let s = pos + 1;
            let mut i = s;
            let mut v = 0u32;
            while i < end && b[i].is_ascii_digit() {
                if i - s < 5 {
                    v = v * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            if i == s || i - s > 5 || (i < end && !matches!(b[i], b';' | b'?')) {
                return Err(UriError::Port);
            }
            port = Some(u16::try_from(v).map_err(|_| UriError::Port)?);
            pos = i;
        }
        let params_start = pos;
        while b.get(pos) == Some(&b';') {
            // name: PARAM characters, then optionally '=' and a value of
            // PARAM characters; the item ends at ';', '?' or the end
            let ns = pos + 1;
            let mut i = run(b, ns, end, PARAM);
            if i == ns {
                return Err(UriError::Param);
            }
            if i < end && b[i] == b'=' {
                i = run(b, i + 1, end, PARAM);
            }
            if i < end && !matches!(b[i], b';' | b'?') {
                return Err(UriError::Param);
            }
            pos = i;
        }
        let params_end = pos;
        if b.get(pos) == Some(&b'?') {
            if !all(&b[pos + 1..], URI_HEADER) {
                return Err(UriError::Character);
            }
            pos = end;
        }
        if pos != end {
            return Err(UriError::Character);
        }
        // every offset is at most `end`: one check covers them all
        if u32::try_from(end).is_err() {
            return Err(UriError::Character);
        }
        let off = |n: usize| n as u32;
        // built in place in the `Uri` (no move of the parts afterwards)
        Ok(super::Uri::Sip(Self {
            secure,
            port,
            host_slot,
            buf: raw.clone(),
            start: off(start),
            user_end: off(user_end),
            at: off(at),
            host_end: off(host_end),
            params_start: off(params_start),
            params_end: off(params_end),
            end: off(end),
        }))
    }

    /// Writes the URI.
    pub fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(if self.secure { b"sips:" } else { b"sip:" });
        if self.host_slot == HostSlot::V6 {
            // an IPv6 reference in its standard form (RFC 5952), as the
            // decoded `host()` compares: equal URIs print the same
            out.extend_from_slice(&self.buf[self.start as usize..self.at as usize]);
            write_host(&self.host(), out);
        } else {
            out.extend_from_slice(&self.buf[self.start as usize..self.host_end as usize]);
        }
        if let Some(p) = self.port {
            out.put_u8(b':');
            out.extend_from_slice(p.to_string().as_bytes());
        }
        out.extend_from_slice(&self.buf[self.params_start as usize..self.end as usize]);
    }
}

impl PartialEq for SipUri {
    fn eq(&self, other: &Self) -> bool {
        self.secure == other.secure
            && self.port == other.port
            && self.user() == other.user()
            && self.password() == other.password()
            && self.params().as_bytes() == other.params().as_bytes()
            && self.headers() == other.headers()
            && self.host() == other.host()
    }
}

impl Eq for SipUri {}

impl Hash for SipUri {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.secure.hash(state);
        self.port.hash(state);
        self.user().hash(state);
        self.password().hash(state);
        self.params().as_bytes().hash(state);
        self.headers().hash(state);
        self.host().hash(state);
    }
}

impl fmt::Debug for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |b: Option<&[u8]>| b.map(|b| String::from_utf8_lossy(b).into_owned());
        f.debug_struct("SipUri")
            .field("secure", &self.secure)
            .field("user", &text(self.user()))
            .field("password", &text(self.password()))
            .field("host", &self.host())
            .field("port", &self.port)
            .field("params", &self.params())
            .field("headers", &text(self.headers()))
            .finish()
    }
}

pub(crate) fn parse_port(b: &[u8]) -> Result<u16, UriError> {
    if b.is_empty() || b.len() > 5 || !b.iter().all(u8::is_ascii_digit) {
        return Err(UriError::Port);
    }
    b.iter()
        .try_fold(0u32, |acc, d| Some(acc * 10 + u32::from(d - b'0')))
        .and_then(|v| u16::try_from(v).ok())
        .ok_or(UriError::Port)
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = BytesMut::with_capacity(64);
        self.write_to(&mut b);
        f.write_str(&String::from_utf8_lossy(&b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Uri;

    fn sip(s: &str) -> SipUri {
        match s.parse::<Uri>() {
            Ok(Uri::Sip(u)) => u,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn parts() {
        let u = sip("sips:alice:secret@Example.com:5061;transport=tcp;lr?subject=x");
        assert!(u.secure);
        assert_eq!(u.user(), Some(&b"alice"[..]));
        assert_eq!(u.password(), Some(&b"secret"[..]));
        assert!(u.host().eq_domain("example.com"));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some(&b"tcp"[..]));
        assert!(u.is_loose_router());
        assert_eq!(u.headers(), Some(&b"subject=x"[..]));
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@Example.com:5061;transport=tcp;lr?subject=x"
        );
    }

    #[test]
    fn ipv6_hosts_print_in_standard_form() {
        let a = sip("sip:a@[2001:DB8:0::1]:5070;lr");
        let b = sip("sip:a@[2001:db8::1]:5070;lr");
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "sip:a@[2001:db8::1]:5070;lr");
        assert_eq!(a.to_string(), b.to_string());
    }

    #[test]
    fn torture_uris() {
        // RFC 4475 §3.1.1.2, 3.1.1.5, 3.1.1.10, RFC 5118
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user(),
            Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
        );
        assert_eq!(
            u.password(),
            Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
        );
        assert_eq!(
            sip("sip:user;par=u%40example.net@example.com").user(),
            Some(&b"user;par=u%40example.net"[..])
        );
        assert!(matches!(sip("sip:[2001:db8::10]:5070").host(), Host::V6(_)));
        assert_eq!(sip("sip:[2001:db8::10]:5070").port, Some(5070));
        assert_eq!(sip("sip:[2001:db8::10:5070]").port, None);
        assert!("sip:2001:db8::10".parse::<Uri>().is_err());
        assert!("sip:user@example.com;".parse::<Uri>().is_err());
        assert!("sip:user@example.com; lr".parse::<Uri>().is_err());
        assert!("sip:user@example.com:99999".parse::<Uri>().is_err());
        assert_eq!(
            sip("sip:host;maddr=[2001:db8::1]").params().value("maddr"),
            Some(&b"[2001:db8::1]"[..])
        );
    }
}
