//! `sip:` and `sips:` URIs (RFC 3261 §19.1, IPv6 per RFC 5118).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use super::{Host, Params, UriError};

/// A SIP or SIPS URI. Escaped parts are kept escaped, as received.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part (escaped), if any.
    pub user: Option<Bytes>,
    /// The password (escaped), if any.
    pub password: Option<Bytes>,
    /// The host.
    pub host: Host,
    /// The port, if given.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tcp;lr`).
    pub params: Params,
    /// The headers part after `?`, raw (escaped).
    pub headers: Option<Bytes>,
}

use crate::charset::{PARAM, PASSWORD, URI_HEADER, USER, all, is};

impl SipUri {
    /// A URI `sip:host`.
    pub fn new(host: Host) -> Self {
        Self {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: None,
        }
    }

    /// Parses a `sip:` or `sips:` URI.
    pub fn parse(raw: &Bytes) -> Result<Self, UriError> {
        match super::Uri::parse(raw)? {
            super::Uri::Sip(u) => Ok(u),
            super::Uri::Other { .. } => Err(UriError::Scheme),
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
        let mut user = None;
        let mut password = None;
        if let Some(at) = crate::charset::find(&b[pos..], b'@').map(|i| pos + i) {
            // user: USER characters up to ':' (then password) or '@'
            let mut i = pos;
            while i < at && is(b[i], USER) {
                i += 1;
            }
            if i == pos {
                return Err(UriError::User);
            }
            if i < at {
                if b[i] != b':' {
                    return Err(UriError::User);
                }
                let ps = i + 1;
                let mut j = ps;
                while j < at && is(b[j], PASSWORD) {
                    j += 1;
                }
                if j < at {
                    return Err(UriError::User);
                }
                password = Some(raw.slice(ps..at));
            }
            user = Some(raw.slice(pos..i));
            pos = at + 1;
        }
        // host
        let host;
        if b.get(pos) == Some(&b'[') {
            let host_end = crate::charset::find(&b[pos..], b']')
                .map(|i| pos + i + 1)
                .ok_or(UriError::Host)?;
            host = Host::parse_bracketed(&b[pos..host_end])?;
            pos = host_end;
        } else {
            let (h, e) =
                super::host::parse_plain(raw, pos, end, |c| matches!(c, b':' | b';' | b'?'))?;
            host = h;
            pos = e;
        }
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
            let mut i = ns;
            while i < end && is(b[i], PARAM) {
                i += 1;
            }
            if i == ns {
                return Err(UriError::Param);
            }
            if i < end && b[i] == b'=' {
                i += 1;
                while i < end && is(b[i], PARAM) {
                    i += 1;
                }
            }
            if i < end && !matches!(b[i], b';' | b'?') {
                return Err(UriError::Param);
            }
            pos = i;
        }
        let params = if pos > params_start {
            Params::from_raw(raw.slice(params_start..pos))
        } else {
            Params::new()
        };
        let mut headers = None;
        if b.get(pos) == Some(&b'?') {
            if !all(&b[pos + 1..], URI_HEADER) {
                return Err(UriError::Character);
            }
            headers = Some(raw.slice(pos + 1..end));
            pos = end;
        }
        if pos != end {
            return Err(UriError::Character);
        }
        // built in place in the `Uri` (no move of the parts afterwards)
        Ok(super::Uri::Sip(Self {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        }))
    }

    /// The `transport` parameter, if any.
    pub fn transport(&self) -> Option<&[u8]> {
        self.params.value("transport")
    }

    /// Whether the `lr` parameter is present (a loose router, RFC 3261 §16.12).
    pub fn is_loose_router(&self) -> bool {
        self.params.contains("lr")
    }

    /// Writes the URI.
    pub fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(if self.secure { b"sips:" } else { b"sip:" });
        if let Some(u) = &self.user {
            out.extend_from_slice(u);
            if let Some(p) = &self.password {
                out.put_u8(b':');
                out.extend_from_slice(p);
            }
            out.put_u8(b'@');
        }
        write_host(&self.host, out);
        if let Some(p) = self.port {
            out.put_u8(b':');
            out.extend_from_slice(itoa_u16(p).as_bytes());
        }
        self.params.write_to(out);
        if let Some(h) = &self.headers {
            out.put_u8(b'?');
            out.extend_from_slice(h);
        }
    }
}

pub(crate) fn write_host(host: &Host, out: &mut BytesMut) {
    match host {
        Host::Domain(d) => out.extend_from_slice(d),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

fn itoa_u16(v: u16) -> String {
    v.to_string()
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
        assert_eq!(u.user.as_deref(), Some(&b"alice"[..]));
        assert_eq!(u.password.as_deref(), Some(&b"secret"[..]));
        assert!(u.host.eq_domain("example.com"));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some(&b"tcp"[..]));
        assert!(u.is_loose_router());
        assert_eq!(u.headers.as_deref(), Some(&b"subject=x"[..]));
        assert_eq!(
            u.to_string(),
            "sips:alice:secret@Example.com:5061;transport=tcp;lr?subject=x"
        );
    }

    #[test]
    fn torture_uris() {
        // RFC 4475 §3.1.1.2, 3.1.1.5, 3.1.1.10, RFC 5118
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user.as_deref(),
            Some(&b"1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"[..])
        );
        assert_eq!(
            u.password.as_deref(),
            Some(&b"&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"[..])
        );
        assert_eq!(
            sip("sip:user;par=u%40example.net@example.com")
                .user
                .as_deref(),
            Some(&b"user;par=u%40example.net"[..])
        );
        assert!(matches!(sip("sip:[2001:db8::10]:5070").host, Host::V6(_)));
        assert_eq!(sip("sip:[2001:db8::10]:5070").port, Some(5070));
        assert_eq!(sip("sip:[2001:db8::10:5070]").port, None);
        assert!("sip:2001:db8::10".parse::<Uri>().is_err());
        assert!("sip:user@example.com;".parse::<Uri>().is_err());
        assert!("sip:user@example.com; lr".parse::<Uri>().is_err());
        assert!("sip:user@example.com:99999".parse::<Uri>().is_err());
        assert_eq!(
            sip("sip:host;maddr=[2001:db8::1]").params.value("maddr"),
            Some(&b"[2001:db8::1]"[..])
        );
    }
}
