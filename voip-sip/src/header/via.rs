//! `Via` (RFC 3261 §20.42, received/rport per RFC 3581, IPv6 per RFC 5118).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use bytes::{BufMut, Bytes, BytesMut};
use voip_core::TransportProtocol;

use super::scan::{Found, is_ws, params_range_finding};
use super::{HeaderError, TypedHeader};
use crate::message::{HeaderName, Known};
use crate::uri::{Host, HostSlot, Params, ParamsRef, parse_host_slot, parse_ipv6};

/// One Via entry.
///
/// The parts are ranges of the buffer the entry was parsed from (one
/// reference count per entry). Read them with [`protocol`](Self::protocol),
/// [`transport`](Self::transport), [`host`](Self::host),
/// [`params`](Self::params), ...; [`set_param`](Self::set_param) and
/// [`set_host`](Self::set_host) write a fresh buffer.
#[derive(Clone)]
pub struct Via {
    /// The sent-by port.
    pub port: Option<u16>,
    host_slot: HostSlot,
    buf: Bytes,
    protocol: (u32, u32),
    version: (u32, u32),
    transport: (u32, u32),
    host: (u32, u32),
    params: (u32, u32),
    /// The `branch` parameter, as found when parsed.
    branch: Found,
}

/// The magic cookie that marks an RFC 3261 branch.
pub const MAGIC_COOKIE: &[u8] = b"z9hG4bK";

/// The parts of a Via to write into a fresh buffer.
struct Parts<'a> {
    protocol: &'a [u8],
    version: &'a [u8],
    transport: &'a [u8],
    host: &'a [u8],
    host_slot: HostSlot,
    params: &'a [u8],
}

impl Via {
    /// A `SIP/2.0/<transport> host[:port];branch=<branch>` entry.
    pub fn new(transport: TransportProtocol, host: Host, port: Option<u16>, branch: &str) -> Self {
        let mut params = BytesMut::with_capacity(branch.len() + 8);
        params.extend_from_slice(b";branch=");
        params.extend_from_slice(branch.as_bytes());
        let mut host_text = BytesMut::with_capacity(48);
        crate::uri::write_host(&host, &mut host_text);
        Self::build(
            port,
            Parts {
                protocol: b"SIP",
                version: b"2.0",
                transport: transport.as_str().as_bytes(),
                host: &host_text,
                host_slot: HostSlot::of(&host),
                params: &params,
            },
        )
    }

    fn slice(&self, (s, e): (u32, u32)) -> &[u8] {
        &self.buf[s as usize..e as usize]
    }

    /// Protocol name, normally `SIP`.
    pub fn protocol(&self) -> &[u8] {
        self.slice(self.protocol)
    }

    /// Protocol version, normally `2.0`.
    pub fn version(&self) -> &[u8] {
        self.slice(self.version)
    }

    /// Transport token as received (`UDP`, `TCP`, `SCTP`, anything).
    pub fn transport(&self) -> &[u8] {
        self.slice(self.transport)
    }

    /// The sent-by host.
    pub fn host(&self) -> Host {
        self.host_slot
            .host(&self.buf, self.host.0 as usize, self.host.1 as usize)
    }

    /// Parameters (`branch`, `received`, `rport`, `maddr`, `ttl`, ...).
    #[inline]
    pub fn params(&self) -> ParamsRef<'_> {
        ParamsRef::over(self.slice(self.params))
    }

    /// Sets the sent-by host.
    pub fn set_host(&mut self, host: &Host) {
        let mut text = BytesMut::with_capacity(48);
        crate::uri::write_host(host, &mut text);
        let mut parts = self.parts();
        parts.host = &text;
        parts.host_slot = HostSlot::of(host);
        *self = Self::build(self.port, parts);
    }

    crate::uri::param_setters!();

    /// Replaces all parameters.
    pub fn set_params(&mut self, params: &Params) {
        let mut parts = self.parts();
        parts.params = params.view().as_bytes();
        *self = Self::build(self.port, parts);
    }

    fn parts(&self) -> Parts<'_> {
        Parts {
            protocol: self.protocol(),
            version: self.version(),
            transport: self.transport(),
            host: self.slice(self.host),
            host_slot: self.host_slot,
            params: self.params().as_bytes(),
        }
    }

    fn build(port: Option<u16>, parts: Parts<'_>) -> Self {
        let mut out = BytesMut::with_capacity(64 + parts.params.len());
        let off = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let mut put = |b: &[u8]| {
            let s = out.len();
            out.extend_from_slice(b);
            (off(s), off(out.len()))
        };
        let protocol = put(parts.protocol);
        let version = put(parts.version);
        let transport = put(parts.transport);
        let host = put(parts.host);
        let params = put(parts.params);
        Self {
            port,
            host_slot: parts.host_slot,
            buf: out.freeze(),
            protocol,
            version,
            transport,
            host,
            params,
            branch: Found::Unknown,
        }
    }

    /// The transport, if it is one this SDK speaks.
    pub fn transport_protocol(&self) -> Option<TransportProtocol> {
        TransportProtocol::from_bytes(self.transport())
    }

    /// The `branch` parameter.
    #[inline]
    pub fn branch(&self) -> Option<&[u8]> {
        let params = self.params();
        self.branch
            .value(params.as_bytes())
            .unwrap_or_else(|()| params.value("branch"))
    }

    /// Whether the branch starts with the RFC 3261 magic cookie.
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// The `received` parameter as an address (RFC 5118 allows IPv6 with or
    /// without brackets).
    pub fn received(&self) -> Option<IpAddr> {
        let v = self.params().value("received")?;
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
        match self.params().get("rport")? {
            None => Some(None),
            Some(v) => Some(std::str::from_utf8(v).ok().and_then(|s| s.parse().ok())),
        }
    }

    /// The sent-by IP address, if the host is one.
    fn host_ip(&self) -> Option<IpAddr> {
        match self.host_slot {
            HostSlot::V4(a) => Some(IpAddr::V4(a)),
            HostSlot::V6 => self.host().ip(),
            HostSlot::Domain => None,
        }
    }

    /// Stamps the address a request came from, as a server does on receipt:
    /// `received` when it differs from the sent-by host (always for a
    /// domain name), `rport=<port>` when the client asked for it.
    pub fn stamp_source(&mut self, source: std::net::SocketAddr) {
        let received = self.host_ip() != Some(source.ip());
        let rport = self.params().contains("rport");
        if !received && !rport {
            return;
        }
        let mut params = self.params().to_params();
        if received {
            params.set("received", Some(Bytes::from(source.ip().to_string())));
        }
        if rport {
            params.set("rport", Some(Bytes::from(source.port().to_string())));
        }
        self.set_params(&params);
    }

    /// Where a response to a request with this top Via goes over an
    /// unreliable transport (RFC 3261 §18.2.2 with RFC 3581): the received
    /// address (else the sent-by IP) and the rport (else the sent-by port,
    /// else the default). `None` for a domain without `received` (a DNS
    /// lookup is needed).
    pub fn response_address(&self) -> Option<std::net::SocketAddr> {
        let ip = self.received().or_else(|| self.host_ip())?;
        let port = self
            .rport()
            .flatten()
            .or(self.port)
            .unwrap_or_else(|| self.transport_protocol().map_or(5060, |t| t.default_port()));
        Some(std::net::SocketAddr::new(ip, port))
    }
}

impl PartialEq for Via {
    fn eq(&self, other: &Self) -> bool {
        self.port == other.port
            && self.protocol() == other.protocol()
            && self.version() == other.version()
            && self.transport() == other.transport()
            && self.params().as_bytes() == other.params().as_bytes()
            && self.host() == other.host()
    }
}

impl Eq for Via {}

impl Hash for Via {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.port.hash(state);
        self.protocol().hash(state);
        self.version().hash(state);
        self.transport().hash(state);
        self.params().as_bytes().hash(state);
        self.host().hash(state);
    }
}

impl fmt::Debug for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        f.debug_struct("Via")
            .field("protocol", &text(self.protocol()))
            .field("version", &text(self.version()))
            .field("transport", &text(self.transport()))
            .field("host", &self.host())
            .field("port", &self.port)
            .field("params", &self.params())
            .finish()
    }
}

fn token(b: &[u8], pos: usize) -> (usize, usize) {
    (
        pos,
        crate::charset::run(b, pos, b.len(), crate::charset::TOKEN),
    )
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
            protocol = (pos, pos + 3);
            version = (pos + 4, pos + 7);
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
            protocol = (ps, pe);
            version = (vs, ve);
        }
        pos = skip_ws(b, pos);
        let (ts, te) = token(b, pos);
        if ts == te || !b.get(te).is_some_and(|c| is_ws(*c)) {
            return Err(bad);
        }
        pos = skip_ws(b, te);
        // sent-by
        let hs = pos;
        let (host_slot, he) =
            parse_host_slot(b, pos, b.len(), |c| matches!(c, b':' | b';') || is_ws(c))?;
        pos = skip_ws(b, he);
        let mut port = None;
        if b.get(pos) == Some(&b':') {
            pos = skip_ws(b, pos + 1);
            let s = pos;
            while pos < b.len() && b[pos].is_ascii_digit() {
                pos += 1;
            }
            port = Some(crate::uri::sip_port(&b[s..pos]).map_err(|_| HeaderError::Number(WHAT))?);
        }
        let (params, branch) = params_range_finding(b, pos, end, WHAT, b"branch")?;
        // every offset is at most `end`: one check covers them all
        if u32::try_from(end).is_err() {
            return Err(bad);
        }
        let off = |(s, e): (usize, usize)| (s as u32, e as u32);
        Ok(Self {
            port,
            host_slot,
            buf: raw.clone(),
            protocol: off(protocol),
            version: off(version),
            transport: off((ts, te)),
            host: off((hs, he)),
            params: off(params),
            branch,
        })
    }

    fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.protocol());
        out.put_u8(b'/');
        out.extend_from_slice(self.version());
        out.put_u8(b'/');
        out.extend_from_slice(self.transport());
        out.put_u8(b' ');
        if self.host_slot == HostSlot::V6 {
            // the standard form, as `host()` compares
            crate::uri::write_host(&self.host(), out);
        } else {
            out.extend_from_slice(self.slice(self.host));
        }
        if let Some(p) = self.port {
            out.put_u8(b':');
            out.extend_from_slice(p.to_string().as_bytes());
        }
        out.extend_from_slice(self.params().as_bytes());
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
        assert_eq!(v.transport(), b"UDP");
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
