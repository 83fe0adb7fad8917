//! Hosts in URIs and Via sent-by: domain names, IPv4 and IPv6 (RFC 5118).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::Bytes;

use crate::charset;
use crate::uri::UriError;

/// A host: a domain name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A domain name, as received (compare with [`Host::eq_domain`]).
    Domain(Bytes),
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address (printed in brackets).
    V6(Ipv6Addr),
}

impl Host {
    /// Parses a host: `[v6]`, a dotted IPv4 address, or a hostname.
    pub fn parse(raw: &Bytes) -> Result<Self, UriError> {
        let b = &raw[..];
        match b.first() {
            None => Err(UriError::Host),
            Some(b'[') => {
                if b.len() < 3 || b[b.len() - 1] != b']' {
                    return Err(UriError::Host);
                }
                parse_ipv6(&b[1..b.len() - 1]).map(Host::V6)
            }
            Some(_) => {
                let classes = charset::common(b);
                if classes & charset::IPV4 != 0 {
                    return parse_ipv4(b).map(Host::V4).ok_or(UriError::Host);
                }
                if classes & charset::HOSTNAME != 0 {
                    Ok(Host::Domain(raw.clone()))
                } else {
                    Err(UriError::Host)
                }
            }
        }
    }

    /// Parses `[v6]` (brackets included).
    pub(crate) fn parse_bracketed(b: &[u8]) -> Result<Self, UriError> {
        if b.len() < 3 || b[0] != b'[' || b[b.len() - 1] != b']' {
            return Err(UriError::Host);
        }
        parse_ipv6(&b[1..b.len() - 1]).map(Host::V6)
    }

    /// The IP address, if the host is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Domain(_) => None,
            Self::V4(a) => Some(IpAddr::V4(*a)),
            Self::V6(a) => Some(IpAddr::V6(*a)),
        }
    }

    /// Case-insensitive comparison with a domain name.
    pub fn eq_domain(&self, name: &str) -> bool {
        matches!(self, Self::Domain(d) if d.eq_ignore_ascii_case(name.as_bytes()))
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Self::V4(a),
            IpAddr::V6(a) => Self::V6(a),
        }
    }
}

/// What kind of host a parsed value holds; its text stays in the value's
/// buffer (an IPv4 address is kept decoded, an IPv6 one is decoded again
/// on access: it is rare and 16 bytes would grow every URI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum HostSlot {
    Domain,
    V4(Ipv4Addr),
    V6,
}

impl HostSlot {
    /// The slot for a host and the text it is written as.
    pub(crate) fn of(host: &Host) -> Self {
        match host {
            Host::Domain(_) => Self::Domain,
            Host::V4(a) => Self::V4(*a),
            Host::V6(_) => Self::V6,
        }
    }

    /// The host, from its text `text` (as validated when parsed or built).
    pub(crate) fn host(self, buf: &Bytes, s: usize, e: usize) -> Host {
        match self {
            Self::Domain => Host::Domain(buf.slice(s..e)),
            Self::V4(a) => Host::V4(a),
            Self::V6 => {
                let t = &buf[s..e];
                let t = t
                    .strip_prefix(b"[")
                    .and_then(|t| t.strip_suffix(b"]"))
                    .unwrap_or(t);
                parse_ipv6(t).map_or_else(|_| Host::Domain(buf.slice(s..e)), Host::V6)
            }
        }
    }
}

/// Parses a host at `b[pos..end]`: `[v6]` (up to its `]`), or a host name
/// or IPv4 address (running to the first byte that is neither, which must
/// be `end` or a byte accepted by `is_end`). Returns the kind and where the
/// host ends; nothing is sliced.
#[inline]
pub(crate) fn parse_slot(
    b: &[u8],
    pos: usize,
    end: usize,
    is_end: impl Fn(u8) -> bool,
) -> Result<(HostSlot, usize), UriError> {
    let b = &b[..end];
    if b.get(pos) == Some(&b'[') {
        let e = charset::find(&b[pos..], b']')
            .map(|i| pos + i + 1)
            .ok_or(UriError::Host)?;
        Host::parse_bracketed(&b[pos..e])?;
        return Ok((HostSlot::V6, e));
    }
    // IPv4 bytes (digits, '.') are host name bytes too
    let (i, classes) = charset::run_common(b, pos, end, charset::HOSTNAME);
    if i == pos || (i < end && !is_end(b[i])) {
        return Err(UriError::Host);
    }
    let slot = if classes & charset::IPV4 != 0 {
        HostSlot::V4(parse_ipv4(&b[pos..i]).ok_or(UriError::Host)?)
    } else {
        HostSlot::Domain
    };
    Ok((slot, i))
}

/// Writes a host as it appears in a URI or Via (`[v6]` in brackets).
pub(crate) fn write_host(host: &Host, out: &mut bytes::BytesMut) {
    match host {
        Host::Domain(d) => out.extend_from_slice(d),
        other => out.extend_from_slice(other.to_string().as_bytes()),
    }
}

/// Parses an IPv6 address without brackets (RFC 5118 allows it in `received`).
pub(crate) fn parse_ipv6(b: &[u8]) -> Result<Ipv6Addr, UriError> {
    std::str::from_utf8(b)
        .ok()
        .and_then(|s| s.parse::<Ipv6Addr>().ok())
        .ok_or(UriError::Host)
}

/// Parses a dotted quad (`192.0.2.1`) without going through `str`: four
/// parts of one to three digits, no leading zero, each at most 255.
fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    let mut v = 0u16;
    let mut len = 0;
    for &c in b {
        if c == b'.' {
            if len == 0 || n == 3 {
                return None;
            }
            octets[n] = u8::try_from(v).ok()?;
            n += 1;
            v = 0;
            len = 0;
        } else if c.is_ascii_digit() {
            if len == 3 || (len == 1 && v == 0) {
                return None;
            }
            v = v * 10 + u16::from(c - b'0');
            len += 1;
        } else {
            return None;
        }
    }
    if len == 0 || n != 3 {
        return None;
    }
    octets[3] = u8::try_from(v).ok()?;
    Some(Ipv4Addr::from(octets))
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Domain(d) => f.write_str(&String::from_utf8_lossy(d)),
            Self::V4(a) => write!(f, "{a}"),
            Self::V6(a) => write!(f, "[{a}]"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &'static str) -> Result<Host, UriError> {
        Host::parse(&Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn forms() {
        assert_eq!(h("192.0.2.1"), Ok(Host::V4(Ipv4Addr::new(192, 0, 2, 1))));
        assert!(matches!(h("[2001:db8::10]"), Ok(Host::V6(_))));
        assert!(matches!(h("[::ffff:192.0.2.10]"), Ok(Host::V6(_))));
        assert!(h("[2001:db8:::192.0.2.1]").is_err());
        assert!(h("192.0.2.300").is_err());
        assert!(h("").is_err() && h("a b").is_err() && h("[]").is_err());
        assert!(h("Example.COM").unwrap().eq_domain("example.com"));
        assert_eq!(h("[2001:db8::1]").unwrap().to_string(), "[2001:db8::1]");
    }
}
