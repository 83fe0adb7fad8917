//! DNS records the resolver consumes, and their RFC orderings: NAPTR
//! (RFC 3403 order, then preference; RFC 3263 §4.1 service filtering) and
//! SRV (RFC 2782: priority, then weighted random selection).

use std::net::{Ipv4Addr, Ipv6Addr};

use voip_core::{Rng, TransportProtocol};

/// The DNS record types RFC 3263 resolution asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// Naming authority pointer (RFC 3403): which transports a domain offers.
    Naptr,
    /// Service location (RFC 2782): hosts and ports for one transport.
    Srv,
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
}

/// A NAPTR record (RFC 3403 §4.1), without the regexp field SIP never uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Lower first.
    pub order: u16,
    /// Lower first among records of the same order.
    pub preference: u16,
    /// `s` for a terminal record that points at SRV records.
    pub flags: String,
    /// `SIP+D2U`, `SIP+D2T`, `SIPS+D2T`, `SIP+D2W`, ...
    pub services: String,
    /// The SRV owner name to query next (`_sip._udp.example.com`).
    pub replacement: String,
}

/// An SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Srv {
    /// Lower first.
    pub priority: u16,
    /// Relative share among records of the same priority.
    pub weight: u16,
    /// The port the service listens on.
    pub port: u16,
    /// The host name; `.` means the service is decidedly not available.
    pub target: String,
}

/// The data of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordData {
    /// A NAPTR record.
    Naptr(Naptr),
    /// An SRV record.
    Srv(Srv),
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
}

impl RecordData {
    /// The record's type.
    pub fn record_type(&self) -> RecordType {
        match self {
            Self::Naptr(_) => RecordType::Naptr,
            Self::Srv(_) => RecordType::Srv,
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::Aaaa,
        }
    }
}

/// A record with its time to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsRecord {
    /// Seconds the record may be cached.
    pub ttl: u32,
    /// The record.
    pub data: RecordData,
}

impl DnsRecord {
    /// A record with `ttl` seconds to live.
    pub fn new(ttl: u32, data: RecordData) -> Self {
        Self { ttl, data }
    }
}

/// Normalises a domain name for queries and cache keys: lowercase, without
/// the trailing dot of an absolute name.
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The transport a NAPTR service field names (RFC 3263 §4.1, RFC 7118 §5
/// for WebSocket), and whether it is a SIPS service.
pub(crate) fn naptr_transport(services: &str) -> Option<TransportProtocol> {
    let s = services.to_ascii_uppercase();
    match s.as_str() {
        "SIP+D2U" => Some(TransportProtocol::Udp),
        "SIP+D2T" => Some(TransportProtocol::Tcp),
        "SIPS+D2T" => Some(TransportProtocol::Tls),
        "SIP+D2W" => Some(TransportProtocol::Ws),
        "SIPS+D2W" => Some(TransportProtocol::Wss),
        _ => None,
    }
}

/// The usable NAPTR records of a SIP(S) domain, best first: terminal (`s`
/// flag) records whose service names a transport in `supported`; for a
/// SIPS URI only the secure ones (RFC 3263 §4.1). Ties in order and
/// preference keep the answer's order.
pub(crate) fn select_naptr<'a>(
    records: impl Iterator<Item = &'a Naptr>,
    secure_uri: bool,
    supported: &[TransportProtocol],
) -> Vec<(TransportProtocol, String)> {
    let mut usable: Vec<(u16, u16, TransportProtocol, String)> = records
        .filter(|n| n.flags.eq_ignore_ascii_case("s"))
        .filter_map(|n| {
            let t = naptr_transport(&n.services)?;
            let replacement = normalize(&n.replacement);
            (supported.contains(&t) && (!secure_uri || t.is_secure()) && !replacement.is_empty())
                .then_some((n.order, n.preference, t, replacement))
        })
        .collect();
    usable.sort_by_key(|(order, pref, _, _)| (*order, *pref));
    let mut out: Vec<(TransportProtocol, String)> = Vec::new();
    for (_, _, t, name) in usable {
        if !out.iter().any(|(ot, on)| *ot == t && *on == name) {
            out.push((t, name));
        }
    }
    out
}

/// The SRV owner name for `transport` at `domain` (RFC 3263 §4.1):
/// `_sip._udp`, `_sip._tcp`, `_sips._tcp`. WebSocket has no SRV label.
pub(crate) fn srv_name(transport: TransportProtocol, domain: &str) -> Option<String> {
    let label = match transport {
        TransportProtocol::Udp => "_sip._udp",
        TransportProtocol::Tcp => "_sip._tcp",
        TransportProtocol::Tls => "_sips._tcp",
        _ => return None,
    };
    Some(format!("{label}.{domain}"))
}

/// A uniformly drawn integer in `0..=max`.
fn draw(rng: &mut Rng, max: u32) -> u32 {
    (rng.next_u64() % (u64::from(max) + 1)) as u32
}

/// RFC 2782 ordering: by priority, and within one priority by weighted
/// random selection: records of weight 0 first, then repeatedly a random
/// number in `0..=sum` of the remaining weights picks the first record
/// whose running sum reaches it. Records whose target is `.` are dropped.
pub(crate) fn order_srv(records: &[Srv], rng: &mut Rng) -> Vec<Srv> {
    let mut by_priority: Vec<Srv> = records
        .iter()
        .filter(|s| !normalize(&s.target).is_empty())
        .cloned()
        .collect();
    by_priority.sort_by_key(|s| s.priority);
    let mut out = Vec::with_capacity(by_priority.len());
    let mut i = 0;
    while i < by_priority.len() {
        let priority = by_priority[i].priority;
        let end = by_priority[i..]
            .iter()
            .position(|s| s.priority != priority)
            .map_or(by_priority.len(), |p| i + p);
        let mut group: Vec<Srv> = by_priority[i..end].to_vec();
        // weight 0 first, otherwise the answer's order (stable sort)
        group.sort_by_key(|s| s.weight != 0);
        while !group.is_empty() {
            let total: u32 = group.iter().map(|s| u32::from(s.weight)).sum();
            let pick = draw(rng, total);
            let mut running = 0u32;
            let idx = group
                .iter()
                .position(|s| {
                    running += u32::from(s.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(idx));
        }
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn srv(priority: u16, weight: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port: 5060,
            target: target.into(),
        }
    }

    #[test]
    fn naptr_services_map_to_transports() {
        assert_eq!(naptr_transport("sip+d2u"), Some(TransportProtocol::Udp));
        assert_eq!(naptr_transport("SIPS+D2T"), Some(TransportProtocol::Tls));
        assert_eq!(naptr_transport("SIPS+D2W"), Some(TransportProtocol::Wss));
        assert_eq!(naptr_transport("SIP+D2S"), None); // SCTP: not spoken here
        assert_eq!(naptr_transport("E2U+sip"), None);
    }

    #[test]
    fn srv_names() {
        let d = "example.com";
        assert_eq!(
            srv_name(TransportProtocol::Udp, d).unwrap(),
            "_sip._udp.example.com"
        );
        assert_eq!(
            srv_name(TransportProtocol::Tcp, d).unwrap(),
            "_sip._tcp.example.com"
        );
        assert_eq!(
            srv_name(TransportProtocol::Tls, d).unwrap(),
            "_sips._tcp.example.com"
        );
        assert_eq!(srv_name(TransportProtocol::Ws, d), None);
    }

    #[test]
    fn srv_priority_first_and_dot_dropped() {
        let mut rng = Rng::seeded(3);
        let records = [srv(20, 1, "b."), srv(10, 1, "a."), srv(5, 0, ".")];
        let ordered = order_srv(&records, &mut rng);
        let names: Vec<&str> = ordered.iter().map(|s| s.target.as_str()).collect();
        assert_eq!(names, ["a.", "b."]);
    }

    #[test]
    fn srv_all_zero_weights_keep_answer_order() {
        let mut rng = Rng::seeded(9);
        let records = [srv(1, 0, "x."), srv(1, 0, "y."), srv(1, 0, "z.")];
        let names: Vec<String> = order_srv(&records, &mut rng)
            .into_iter()
            .map(|s| s.target)
            .collect();
        assert_eq!(names, ["x.", "y.", "z."]);
    }
}
