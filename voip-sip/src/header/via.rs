//! `Via` (RFC 3261 §20.42, received/rport per RFC 3581, IPv6 per RFC 5118).

use std::net::IpAddr;

use bytes::{BufMut, Bytes, BytesMut};
use voip_core::TransportProtocol;

use super::scan::{is_token_char, is_ws, parse_params_until};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};
use crate::uri::{Host, Params, parse_ipv6, parse_plain_host};

/// One Via entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    /// Protocol name, normally `SIP`.
    pub protocol: Bytes,
    /// Protocol version, normally `2.0`.
    pub version: Bytes,
    /// Transport token as received (`UDP`, `TCP`, `SCTP`, anything).
    pub transport: Bytes,
    /// The sent-by host.
    pub host: Host,
    /// The sent-by port.
    pub port: Option<u16>,
    /// Parameters (`branch`, `received`, `rport`, `maddr`, `ttl`, ...).
    pub params: Params,
}

/// The magic cookie that marks an RFC 3261 branch.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

impl Via {
    /// A `SIP/2.0/<transport> host[:port];branch=<branch>` entry.
    pub fn new(transport: TransportProtocol, host: Host, port: Option<u16>, branch: &str) -> Self {
        let mut params = Params::new();
        params.set("branch", Some(Bytes::copy_from_slice(branch.as_bytes())));
        Self {
            protocol: Bytes::from_static(b"SIP"),
            version: Bytes::from_static(b"2.0"),
            transport: Bytes::from_static(transport.as_str().as_bytes()),
            host,
            port,
            params,
        }
    }

    /// The transport, if it is one this SDK speaks.
    pub fn transport_protocol(&self) -> Option<TransportProtocol> {
        TransportProtocol::from_bytes(&self.transport)
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&[u8]> {
        self.params.value("branch")
    }

    /// Whether the branch starts with the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter as an address (RFC 5118 allows IPv6 with or
    /// without brackets).
    pub fn received(&self) -> Option<IpAddr> {
        let v = self.params.value("received")?;
        let v = v
            .strip_prefix(b"[")
            .and_then(|v| v.strip_suffix(b"]"))
            .unwrap_or(v);
        if let Ok(a) = parse_ipv6(v) {
            return Some(IpAddr::V6(a));
        }
        std::str::from_utf8(v).ok()?.parse().ok()
    }

    /// `None` without `rport`, `Some(None)` for a bare `rport` (a request
    /// that asks for it), `Some(Some(port))` once filled in (RFC 3581).
    pub fn rport(&self) -> Option<Option<u16>> {
        match self.params.get("rport")? {
            None => Some(None),
            Some(v) => Some(std::str::from_utf8(v).ok().and_then(|s| s.parse().ok())),
        }
    }

    /// Stamps the address a request came from, as a server does on receipt:
    /// `received` when it differs from the sent-by host (always for a
    /// domain name), `rport=<port>` when the client asked for it.
    pub fn stamp_source(&mut self, source: std::net::SocketAddr) {
        if self.host.ip() != Some(source.ip()) {
            self.params
                .set("received", Some(Bytes::from(source.ip().to_string())));
        }
        if self.params.contains("rport") {
            self.params
                .set("rport", Some(Bytes::from(source.port().to_string())));
        }
    }

    /// Where a response to a request with this top Via goes over an
    /// unreliable transport (RFC 3261 §18.2.2 with RFC 3581): the received
    /// address (else the sent-by IP) and the rport (else the sent-by port,
    /// else the default). `None` for a domain without `received` (a DNS
    /// lookup is needed).
    pub fn response_address(&self) -> Option<std::net::SocketAddr> {
        let ip = self.received().or_else(|| self.host.ip())?;
        let port = self
            .rport()
            .flatten()
            .or(self.port)
            .unwrap_or_else(|| self.transport_protocol().map_or(5060, |t| t.default_port()));
        Some(std::net::SocketAddr::new(ip, port))
    }
}

/// The usual tokens come from static memory (no reference count to touch).
fn common_token(raw: &Bytes, range: std::ops::Range<usize>) -> Bytes {
    let common: &'static [u8] = match &raw[range.clone()] {
        b"SIP" => b"SIP",
        b"2.0" => b"2.0",
        b"UDP" => b"UDP",
        b"TCP" => b"TCP",
        b"TLS" => b"TLS",
        b"WS" => b"WS",
        b"WSS" => b"WSS",
        _ => return raw.slice(range),
    };
    Bytes::from_static(common)
}

fn token(b: &[u8], mut pos: usize) -> (usize, usize) {
    let s = pos;
    while pos < b.len() && is_token_char(b[pos]) {
        pos += 1;
    }
    (s, pos)
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while pos < b.len() && is_ws(b[pos]) {
        pos += 1;
    }
    pos
}

impl TypedHeader for Via {
    const NAME: HeaderName = HeaderName::Known(Known::Via);
    const LIST: bool = true;

    fn parse(raw: &Bytes) -> Result<Self, HeaderError> {
        Self::parse_in(raw, 0, raw.len())
    }

    fn parse_in(raw: &Bytes, start: usize, end: usize) -> Result<Self, HeaderError> {
        const WHAT: &str = "Via";
        let bad = HeaderError::Invalid(WHAT);
        let b = &raw[..end];
        let mut pos = skip_ws(b, start);
        let (protocol, version);
        if b[pos..].starts_with(b"SIP/2.0/") {
            // the usual form, as the general path below would parse it
            protocol = Bytes::from_static(b"SIP");
            version = Bytes::from_static(b"2.0");
            pos += 8;
        } else {
            let (ps, pe) = token(b, pos);
            pos = skip_ws(b, pe);
            if ps == pe || b.get(pos) != Some(&b'/') {
                return Err(bad);
            }
            pos = skip_ws(b, pos + 1);
            let (vs, ve) = token(b, pos);
            pos = skip_ws(b, ve);
            if vs == ve || b.get(pos) != Some(&b'/') {
                return Err(bad);
            }
            pos += 1;
            protocol = common_token(raw, ps..pe);
            version = common_token(raw, vs..ve);
        }
        pos = skip_ws(b, pos);
        let (ts, te) = token(b, pos);
        if ts == te || !b.get(te).is_some_and(|c| is_ws(*c)) {
            return Err(bad);
        }
        pos = skip_ws(b, te);
        // sent-by
        let host;
        if b.get(pos) == Some(&b'[') {
            let he = crate::charset::find(&b[pos..], b']')
                .map(|i| pos + i + 1)
                .ok_or(bad)?;
            host = Host::parse_bracketed(&b[pos..he])?;
            pos = he;
        } else {
            let (h, he) =
                parse_plain_host(raw, pos, b.len(), |c| matches!(c, b':' | b';') || is_ws(c))?;
            host = h;
            pos = he;
        }
        pos = skip_ws(b, pos);
        let mut port = None;
        if b.get(pos) == Some(&b':') {
            pos = skip_ws(b, pos + 1);
            let s = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            port = Some(crate::uri::sip_port(&b[s..pos]).map_err(|_| HeaderError::Number(WHAT))?);
        }
        let params = parse_params_until(raw, pos, end, WHAT)?;
        Ok(Self {
            protocol,
            version,
            transport: common_token(raw, ts..te),
            host,
            port,
            params,
        })
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(&self.protocol);
        out.put_u8(b'/');
        out.extend_from_slice(&self.version);
        out.put_u8(b'/');
        out.extend_from_slice(&self.transport);
        out.put_u8(b' ');
        crate::uri::write_host(&self.host, out);
        if let Some(p) = self.port {
            out.put_u8(b':');
            out.extend_from_slice(p.to_string().as_bytes());
        }
        self.params.write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::split_list;

    fn via(s: &'static str) -> Result<Via, HeaderError> {
        Via::parse(&Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn torture_forms() {
        let v = via("SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!(&v.transport[..], b"UDP");
        assert_eq!(v.branch(), Some(&b"390skdjuw"[..]));
        let all: Vec<_> = split_list(&Bytes::from_static(
            b"SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239",
        ))
        .map(|i| Via::parse(&i).unwrap())
        .collect();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].branch(), Some(&b"z9hG4bK30239"[..]));
        let v =
            via("SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3").unwrap();
        assert_eq!(v.received(), Some("2001:db8::9:255".parse().unwrap()));
        let v =
            via("SIP/2.0/UDP [2001:db8::9:1]:6050;received=[2001:db8::9:255];branch=z").unwrap();
        assert_eq!(v.port, Some(6050));
        assert_eq!(v.received(), Some("2001:db8::9:255".parse().unwrap()));
        assert!(via("SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf").is_ok());
        assert!(via("SIP/2.0/UDP 192.0.2.15;;").is_err());
        assert!(via("SIP/2.0/UDP").is_err());
        assert!(via("SIP/2.0/UDP host:70000").is_err());
    }

    #[test]
    fn rport_and_response_address() {
        let mut v = via("SIP/2.0/UDP client.example.com:5070;branch=z9hG4bK1;rport").unwrap();
        assert_eq!(v.rport(), Some(None));
        v.stamp_source("192.0.2.7:40000".parse().unwrap());
        assert_eq!(v.rport(), Some(Some(40000)));
        assert_eq!(
            v.response_address(),
            Some("192.0.2.7:40000".parse().unwrap())
        );
        let v = via("SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1").unwrap();
        assert_eq!(
            v.response_address(),
            Some("192.0.2.1:5060".parse().unwrap())
        );
        let printed = v.to_bytes();
        assert_eq!(Via::parse(&printed).unwrap(), v);
    }
}
