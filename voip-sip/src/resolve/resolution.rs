//! One RFC 3263 resolution: a SIP URI to an ordered list of
//! (transport, address) targets.
//!
//! ```text
//!  numeric host ───────────────────────────────────────────────► Done
//!  domain + port (or ws/wss) ──────────────────► Addresses ────► Done
//!  domain + transport param ───► Srv ─(none)─► A/AAAA of domain, default port
//!  domain ──► Naptr ─(usable)──► Srv (NAPTR replacements, in order/preference)
//!                  └─(none)────► Srv (_sip._udp, _sip._tcp, _sips._tcp)
//!                                   └─(no SRV)─► A/AAAA of domain, UDP (TLS for sips)
//! ```
//!
//! Each stage waits until every answer it asked for is in (from the cache
//! or from the driver), then computes the next stage; answers are copied
//! into the resolution, so a record with TTL 0 is used once and never
//! asked for again by the same resolution.

use std::net::{IpAddr, SocketAddr};

use voip_core::TransportProtocol;

use super::cache::Known;
use super::records::{RecordData, RecordType, normalize, order_srv, select_naptr, srv_name};
use super::{ResolveError, Shared};
use crate::transaction::Target;
use crate::uri::{Host, SipUri};

/// What one query produced, as a resolution sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Known(Known),
    /// SERVFAIL, refused, a timeout: nothing is known.
    Failed,
}

#[derive(Debug)]
struct SrvSlot {
    transport: TransportProtocol,
    name: String,
    answer: Option<Outcome>,
}

#[derive(Debug)]
struct HostSlot {
    transport: TransportProtocol,
    name: String,
    port: u16,
    v4: Option<Outcome>,
    v6: Option<Outcome>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Naptr,
    Srv,
    Addresses,
    Done,
}

/// The state of one URI's resolution.
#[derive(Debug)]
pub(crate) struct TargetResolution {
    secure: bool,
    domain: String,
    stage: Stage,
    naptr: Option<Outcome>,
    srv: Vec<SrvSlot>,
    hosts: Vec<HostSlot>,
    /// A/AAAA of the domain when no SRV record answers (RFC 3263 §4.2).
    fallback: Option<(TransportProtocol, u16)>,
    /// Some query failed (rather than answered "no such record").
    saw_failure: bool,
    pub(crate) targets: Vec<Target>,
    pub(crate) cursor: usize,
}

/// The transport an explicit `transport=` parameter selects; a SIPS URI
/// upgrades TCP to TLS and WS to WSS, and cannot use UDP (RFC 5630 §3.1.3).
fn explicit_transport(uri: &SipUri) -> Result<Option<TransportProtocol>, ResolveError> {
    let Some(raw) = uri.transport() else {
        return Ok(None);
    };
    let unsupported = || ResolveError::UnsupportedTransport(String::from_utf8_lossy(raw).into());
    let t = TransportProtocol::from_bytes(raw).ok_or_else(unsupported)?;
    if !uri.secure {
        return Ok(Some(t));
    }
    match t {
        TransportProtocol::Tcp | TransportProtocol::Tls => Ok(Some(TransportProtocol::Tls)),
        TransportProtocol::Ws | TransportProtocol::Wss => Ok(Some(TransportProtocol::Wss)),
        _ => Err(unsupported()),
    }
}

impl TargetResolution {
    /// Plans the resolution of `uri` (RFC 3263 §4.1, §4.2): TARGET is the
    /// `maddr` parameter if present, else the host.
    pub(crate) fn new(uri: &SipUri) -> Result<Self, ResolveError> {
        let explicit = explicit_transport(uri)?;
        let default = if uri.secure {
            TransportProtocol::Tls
        } else {
            TransportProtocol::Udp
        };
        let maddr = uri
            .params()
            .value("maddr")
            .and_then(|m| Host::parse(&bytes::Bytes::copy_from_slice(m)).ok());
        let host = maddr.unwrap_or_else(|| uri.host());
        let host = &host;
        let mut r = Self {
            secure: uri.secure,
            domain: String::new(),
            stage: Stage::Done,
            naptr: None,
            srv: Vec::new(),
            hosts: Vec::new(),
            fallback: None,
            saw_failure: false,
            targets: Vec::new(),
            cursor: 0,
        };
        let domain = match host {
            Host::Domain(d) => normalize(&String::from_utf8_lossy(d)),
            _ => {
                let Some(ip) = host.ip() else {
                    return Err(ResolveError::NotFound(host.to_string()));
                };
                let t = explicit.unwrap_or(default);
                let port = uri.port.unwrap_or(t.default_port());
                r.targets.push(Target::new(t, SocketAddr::new(ip, port)));
                return Ok(r);
            }
        };
        r.domain = domain.clone();
        let t = explicit.unwrap_or(default);
        if let Some(port) = uri.port {
            r.push_host(t, domain, port);
            r.stage = Stage::Addresses;
        } else if let Some(t) = explicit {
            match srv_name(t, &domain) {
                Some(name) => {
                    r.srv.push(SrvSlot {
                        transport: t,
                        name,
                        answer: None,
                    });
                    r.fallback = Some((t, t.default_port()));
                    r.stage = Stage::Srv;
                }
                None => {
                    r.push_host(t, domain, t.default_port());
                    r.stage = Stage::Addresses;
                }
            }
        } else {
            r.fallback = Some((t, t.default_port()));
            r.stage = Stage::Naptr;
        }
        Ok(r)
    }

    fn push_host(&mut self, transport: TransportProtocol, name: String, port: u16) {
        // an SRV target may be an address literal
        let ip: Option<IpAddr> = name.parse().ok();
        let (v4, v6) = match ip {
            Some(IpAddr::V4(a)) => (
                Some(Outcome::Known(Known::Records(vec![RecordData::A(a)]))),
                Some(Outcome::Known(Known::Empty)),
            ),
            Some(IpAddr::V6(a)) => (
                Some(Outcome::Known(Known::Empty)),
                Some(Outcome::Known(Known::Records(vec![RecordData::Aaaa(a)]))),
            ),
            None => (None, None),
        };
        self.hosts.push(HostSlot {
            transport,
            name,
            port,
            v4,
            v6,
        });
    }

    pub(crate) fn is_done(&self) -> bool {
        self.stage == Stage::Done
    }

    /// Why the target list is empty.
    pub(crate) fn error(&self) -> ResolveError {
        if self.saw_failure {
            ResolveError::Unavailable(self.domain.clone())
        } else {
            ResolveError::NotFound(self.domain.clone())
        }
    }

    /// Takes an answer for `(name, kind)` if this resolution waits for it.
    pub(crate) fn offer(&mut self, name: &str, kind: RecordType, outcome: &Outcome) {
        match (self.stage, kind) {
            (Stage::Naptr, RecordType::Naptr) if self.domain == name && self.naptr.is_none() => {
                self.naptr = Some(outcome.clone());
            }
            (Stage::Srv, RecordType::Srv) => {
                for s in self
                    .srv
                    .iter_mut()
                    .filter(|s| s.name == name && s.answer.is_none())
                {
                    s.answer = Some(outcome.clone());
                }
            }
            (Stage::Addresses, RecordType::A | RecordType::Aaaa) => {
                for h in self.hosts.iter_mut().filter(|h| h.name == name) {
                    let slot = if kind == RecordType::A {
                        &mut h.v4
                    } else {
                        &mut h.v6
                    };
                    if slot.is_none() {
                        *slot = Some(outcome.clone());
                    }
                }
            }
            _ => {}
        }
    }

    /// Moves through the stages as far as the known answers allow, asking
    /// `shared` (cache, then a query) for what is missing.
    pub(crate) fn advance(&mut self, now: std::time::Instant, shared: &mut Shared) {
        loop {
            match self.stage {
                Stage::Naptr => {
                    if self.naptr.is_none() {
                        self.naptr = shared.lookup(now, &self.domain, RecordType::Naptr);
                    }
                    let Some(outcome) = self.naptr.take() else {
                        return;
                    };
                    self.note(&outcome);
                    let naptrs = records(&outcome).filter_map(|r| match r {
                        RecordData::Naptr(n) => Some(n),
                        _ => None,
                    });
                    let mut chosen = select_naptr(naptrs, self.secure, &shared.config.transports);
                    if chosen.is_empty() {
                        // no (usable) NAPTR: an SRV query per supported transport
                        chosen = shared
                            .config
                            .transports
                            .iter()
                            .filter(|t| !self.secure || t.is_secure())
                            .filter_map(|&t| Some((t, srv_name(t, &self.domain)?)))
                            .collect();
                    }
                    self.srv = chosen
                        .into_iter()
                        .map(|(transport, name)| SrvSlot {
                            transport,
                            name,
                            answer: None,
                        })
                        .collect();
                    self.stage = Stage::Srv;
                }
                Stage::Srv => {
                    let mut waiting = false;
                    for i in 0..self.srv.len() {
                        if self.srv[i].answer.is_none() {
                            let name = self.srv[i].name.clone();
                            self.srv[i].answer = shared.lookup(now, &name, RecordType::Srv);
                        }
                        waiting |= self.srv[i].answer.is_none();
                    }
                    if waiting {
                        return;
                    }
                    let slots = std::mem::take(&mut self.srv);
                    let mut any_srv = false;
                    for slot in slots {
                        let Some(outcome) = slot.answer else { continue };
                        self.note(&outcome);
                        let srvs: Vec<_> = records(&outcome)
                            .filter_map(|r| match r {
                                RecordData::Srv(s) => Some(s.clone()),
                                _ => None,
                            })
                            .collect();
                        any_srv |= !srvs.is_empty();
                        for s in order_srv(&srvs, &mut shared.rng) {
                            self.push_host(slot.transport, normalize(&s.target), s.port);
                        }
                    }
                    // the domain's own address only when there is no SRV
                    // record at all: a target of "." says "decidedly not
                    // available" (RFC 2782)
                    if !any_srv {
                        if let Some((t, port)) = self.fallback {
                            let domain = self.domain.clone();
                            self.push_host(t, domain, port);
                        }
                    }
                    self.stage = Stage::Addresses;
                }
                Stage::Addresses => {
                    let mut waiting = false;
                    for i in 0..self.hosts.len() {
                        let name = self.hosts[i].name.clone();
                        if self.hosts[i].v4.is_none() {
                            self.hosts[i].v4 = if shared.config.ipv4 {
                                shared.lookup(now, &name, RecordType::A)
                            } else {
                                Some(Outcome::Known(Known::Empty))
                            };
                        }
                        if self.hosts[i].v6.is_none() {
                            self.hosts[i].v6 = if shared.config.ipv6 {
                                shared.lookup(now, &name, RecordType::Aaaa)
                            } else {
                                Some(Outcome::Known(Known::Empty))
                            };
                        }
                        waiting |= self.hosts[i].v4.is_none() || self.hosts[i].v6.is_none();
                    }
                    if waiting {
                        return;
                    }
                    let prefer_v6 = shared.config.prefer_ipv6;
                    let hosts = std::mem::take(&mut self.hosts);
                    for h in hosts {
                        let (Some(v4), Some(v6)) = (h.v4, h.v6) else {
                            continue;
                        };
                        self.note(&v4);
                        self.note(&v6);
                        let (first, second) = if prefer_v6 { (v6, v4) } else { (v4, v6) };
                        for r in records(&first).chain(records(&second)) {
                            let ip = match r {
                                RecordData::A(a) => IpAddr::V4(*a),
                                RecordData::Aaaa(a) => IpAddr::V6(*a),
                                _ => continue,
                            };
                            let t = Target::new(h.transport, SocketAddr::new(ip, h.port));
                            if !self.targets.contains(&t) {
                                self.targets.push(t);
                            }
                        }
                    }
                    self.stage = Stage::Done;
                }
                Stage::Done => return,
            }
        }
    }

    fn note(&mut self, outcome: &Outcome) {
        if *outcome == Outcome::Failed {
            self.saw_failure = true;
        }
    }
}

fn records(outcome: &Outcome) -> std::slice::Iter<'_, RecordData> {
    match outcome {
        Outcome::Known(Known::Records(r)) => r.iter(),
        _ => [].iter(),
    }
}
