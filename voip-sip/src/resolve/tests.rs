//! RFC 3263 resolution in virtual time, answered from a hand-written zone.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use voip_core::{Rng, TransportProtocol};

use super::*;
use crate::transaction::Target;

use TransportProtocol::{Tcp, Tls, Udp};

/// A zone: answers by (name, type); anything else is "no records".
#[derive(Default)]
struct Zone {
    answers: HashMap<(String, RecordType), DnsAnswer>,
    asked: Vec<(String, RecordType)>,
}

impl Zone {
    fn naptr(&mut self, name: &str, records: &[(u16, u16, &str, &str, &str)]) -> &mut Self {
        let rs = records
            .iter()
            .map(|(order, preference, flags, services, replacement)| {
                DnsRecord::new(
                    300,
                    RecordData::Naptr(Naptr {
                        order: *order,
                        preference: *preference,
                        flags: (*flags).into(),
                        services: (*services).into(),
                        replacement: (*replacement).into(),
                    }),
                )
            })
            .collect();
        self.set(name, RecordType::Naptr, DnsAnswer::Records(rs))
    }

    fn srv(&mut self, name: &str, records: &[(u16, u16, u16, &str)]) -> &mut Self {
        let rs = records
            .iter()
            .map(|(priority, weight, port, target)| {
                DnsRecord::new(
                    300,
                    RecordData::Srv(Srv {
                        priority: *priority,
                        weight: *weight,
                        port: *port,
                        target: (*target).into(),
                    }),
                )
            })
            .collect();
        self.set(name, RecordType::Srv, DnsAnswer::Records(rs))
    }

    fn a(&mut self, name: &str, ttl: u32, ips: &[[u8; 4]]) -> &mut Self {
        let rs = ips
            .iter()
            .map(|ip| DnsRecord::new(ttl, RecordData::A(Ipv4Addr::from(*ip))))
            .collect();
        self.set(name, RecordType::A, DnsAnswer::Records(rs))
    }

    fn aaaa(&mut self, name: &str, ip: Ipv6Addr) -> &mut Self {
        let rs = vec![DnsRecord::new(300, RecordData::Aaaa(ip))];
        self.set(name, RecordType::Aaaa, DnsAnswer::Records(rs))
    }

    fn set(&mut self, name: &str, kind: RecordType, answer: DnsAnswer) -> &mut Self {
        self.answers.insert((name.into(), kind), answer);
        self
    }

    /// Answers every query the resolver asks, until it asks no more.
    fn serve(&mut self, resolver: &mut Resolver, now: Instant) {
        while let Some(q) = resolver.poll_query() {
            self.asked.push((q.name.clone(), q.kind));
            let answer = self
                .answers
                .get(&(q.name.clone(), q.kind))
                .cloned()
                .unwrap_or(DnsAnswer::NoRecords { negative_ttl: None });
            resolver.handle_answer(now, q.id, answer);
        }
    }

    fn take_asked(&mut self) -> Vec<(String, RecordType)> {
        std::mem::take(&mut self.asked)
    }
}

fn resolver(seed: u64) -> Resolver {
    Resolver::new(ResolverConfig::default(), Rng::seeded(seed))
}

fn uri(s: &str) -> SipUri {
    SipUri::parse(&bytes::Bytes::copy_from_slice(s.as_bytes())).unwrap()
}

fn target(protocol: TransportProtocol, addr: &str) -> Target {
    Target::new(protocol, addr.parse().unwrap())
}

/// Resolves `u` against `zone` and returns the outcome.
fn resolve(
    r: &mut Resolver,
    zone: &mut Zone,
    now: Instant,
    u: &str,
) -> Result<Vec<Target>, ResolveError> {
    let id = r.resolve(now, &uri(u))?;
    zone.serve(r, now);
    let outcome = match r.poll_event() {
        Some(ResolveEvent::Resolved { id: got, targets }) => {
            assert_eq!(got, id);
            assert_eq!(r.targets(id), &targets[..]);
            Ok(targets)
        }
        Some(ResolveEvent::Failed { id: got, error }) => {
            assert_eq!(got, id);
            Err(error)
        }
        None => panic!("resolution of {u} did not complete"),
    };
    r.finish(id);
    outcome
}

fn srv_q(name: &str) -> (String, RecordType) {
    (name.into(), RecordType::Srv)
}

#[test]
fn naptr_order_then_preference_selects_transports() {
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.naptr(
        "example.com",
        &[
            (20, 10, "S", "SIP+D2U", "_sip._udp.example.com."),
            (10, 20, "s", "SIP+D2T", "_sip._tcp.example.com."),
            (10, 10, "s", "SIPS+D2T", "_sips._tcp.example.com."),
            (10, 5, "s", "SIP+D2S", "_sip._sctp.example.com."), // SCTP: not ours
            (1, 1, "", "SIP+D2U", "other.example.com."),        // not terminal
            (1, 1, "s", "E2U+sip", "!^.*$!sip:x@y!"),           // ENUM, not SIP
        ],
    )
    .srv(
        "_sips._tcp.example.com",
        &[(10, 0, 5061, "tls.example.com.")],
    )
    .srv(
        "_sip._tcp.example.com",
        &[(10, 0, 5060, "tcp.example.com.")],
    )
    .srv(
        "_sip._udp.example.com",
        &[(10, 0, 5060, "udp.example.com.")],
    )
    .a("tls.example.com", 300, &[[192, 0, 2, 1]])
    .a("tcp.example.com", 300, &[[192, 0, 2, 2]])
    .a("udp.example.com", 300, &[[192, 0, 2, 3]]);
    let mut r = resolver(1);
    let targets = resolve(&mut r, &mut zone, now, "sip:bob@Example.COM").unwrap();
    assert_eq!(
        targets,
        [
            target(Tls, "192.0.2.1:5061"),
            target(Tcp, "192.0.2.2:5060"),
            target(Udp, "192.0.2.3:5060"),
        ]
    );
    let asked = zone.take_asked();
    assert_eq!(asked[0], ("example.com".into(), RecordType::Naptr));
    assert_eq!(
        asked[1..4],
        [
            srv_q("_sips._tcp.example.com"),
            srv_q("_sip._tcp.example.com"),
            srv_q("_sip._udp.example.com"),
        ]
    );
    assert!(
        !asked
            .iter()
            .any(|(n, _)| n.contains("sctp") || n.starts_with("other"))
    );
}

#[test]
fn srv_priority_first_then_weights_deterministic_per_seed() {
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.srv(
        "_sip._udp.example.com",
        &[
            (20, 0, 5060, "backup.example.com."),
            (10, 60, 5060, "a.example.com."),
            (10, 30, 5060, "b.example.com."),
            (10, 10, 5060, "c.example.com."),
        ],
    )
    .a("a.example.com", 300, &[[192, 0, 2, 1]])
    .a("b.example.com", 300, &[[192, 0, 2, 2]])
    .a("c.example.com", 300, &[[192, 0, 2, 3]])
    .a("backup.example.com", 300, &[[192, 0, 2, 9]]);
    let u = "sip:example.com;transport=udp";
    let first = resolve(&mut resolver(7), &mut zone, now, u).unwrap();
    let again = resolve(&mut resolver(7), &mut zone, now, u).unwrap();
    assert_eq!(first, again, "same seed, same order");
    assert_eq!(first.len(), 4);
    assert_eq!(
        first[3],
        target(Udp, "192.0.2.9:5060"),
        "priority 20 comes last"
    );

    // the weights share the first place: 60/30/10 over many resolutions
    // (from the cache after the first)
    let mut r = resolver(11);
    let mut counts = HashMap::new();
    let n = 10_000;
    for _ in 0..n {
        let t = resolve(&mut r, &mut zone, now, u).unwrap();
        assert_eq!(t[3], target(Udp, "192.0.2.9:5060"));
        *counts.entry(t[0].destination).or_insert(0u32) += 1;
    }
    let share = |last: u8| {
        let a = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), 5060);
        f64::from(counts.get(&a).copied().unwrap_or(0)) / f64::from(n)
    };
    assert!((share(1) - 0.6).abs() < 0.03, "a: {}", share(1));
    assert!((share(2) - 0.3).abs() < 0.03, "b: {}", share(2));
    assert!((share(3) - 0.1).abs() < 0.03, "c: {}", share(3));
}

#[test]
fn srv_weight_zero_is_rarely_first() {
    // RFC 2782: weight 0 has a very small chance of being selected first
    // when others have weight: 1 in (sum + 1)
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.srv(
        "_sip._tcp.example.com",
        &[
            (1, 0, 5060, "zero.example.com."),
            (1, 99, 5060, "big.example.com."),
        ],
    )
    .a("zero.example.com", 300, &[[192, 0, 2, 1]])
    .a("big.example.com", 300, &[[192, 0, 2, 2]]);
    let mut r = resolver(5);
    let mut zero_first = 0;
    for _ in 0..10_000 {
        let t = resolve(&mut r, &mut zone, now, "sip:example.com;transport=tcp").unwrap();
        assert_eq!(t.len(), 2);
        if t[0].destination.ip() == IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)) {
            zero_first += 1;
        }
    }
    assert!(
        (50..=200).contains(&zero_first),
        "weight 0 first {zero_first} times in 10000"
    );
}

#[test]
fn no_naptr_no_srv_falls_back_to_a_and_aaaa() {
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.a("example.com", 300, &[[192, 0, 2, 5]])
        .aaaa("example.com", "2001:db8::5".parse().unwrap());
    let mut r = resolver(1);
    let targets = resolve(&mut r, &mut zone, now, "sip:example.com").unwrap();
    assert_eq!(
        targets,
        [
            target(Udp, "192.0.2.5:5060"),
            target(Udp, "[2001:db8::5]:5060")
        ]
    );
    let asked = zone.take_asked();
    assert_eq!(asked[0], ("example.com".into(), RecordType::Naptr));
    // one SRV query per supported transport, in our preference order
    assert_eq!(
        asked[1..4],
        [
            srv_q("_sip._udp.example.com"),
            srv_q("_sip._tcp.example.com"),
            srv_q("_sips._tcp.example.com"),
        ]
    );
    // preferring IPv6 swaps the order
    let mut v6 = Resolver::new(
        ResolverConfig::default().families(true, true, true),
        Rng::seeded(1),
    );
    let targets = resolve(&mut v6, &mut zone, now, "sip:example.com").unwrap();
    assert_eq!(targets[0], target(Udp, "[2001:db8::5]:5060"));
}

#[test]
fn numeric_hosts_and_explicit_ports_skip_naptr_and_srv() {
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.a("pbx.example.com", 300, &[[192, 0, 2, 8]]);
    let mut r = resolver(1);
    let t = resolve(&mut r, &mut zone, now, "sip:bob@192.0.2.1").unwrap();
    assert_eq!(t, [target(Udp, "192.0.2.1:5060")]);
    let t = resolve(
        &mut r,
        &mut zone,
        now,
        "sip:bob@192.0.2.1:5080;transport=tcp",
    )
    .unwrap();
    assert_eq!(t, [target(Tcp, "192.0.2.1:5080")]);
    let t = resolve(&mut r, &mut zone, now, "sips:bob@[2001:db8::1]").unwrap();
    assert_eq!(t, [target(Tls, "[2001:db8::1]:5061")]);
    assert!(zone.take_asked().is_empty(), "numeric hosts ask nothing");

    let t = resolve(&mut r, &mut zone, now, "sip:bob@pbx.example.com:5080").unwrap();
    assert_eq!(t, [target(Udp, "192.0.2.8:5080")]);
    assert_eq!(
        zone.take_asked(),
        [
            ("pbx.example.com".into(), RecordType::A),
            ("pbx.example.com".into(), RecordType::Aaaa)
        ]
    );
    // maddr replaces the host as the target
    let t = resolve(
        &mut r,
        &mut zone,
        now,
        "sip:bob@pbx.example.com;maddr=192.0.2.50",
    )
    .unwrap();
    assert_eq!(t, [target(Udp, "192.0.2.50:5060")]);
}

#[test]
fn explicit_transport_queries_its_srv_then_falls_back_to_the_domain() {
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.a("example.com", 300, &[[192, 0, 2, 5]]);
    let mut r = resolver(1);
    let t = resolve(&mut r, &mut zone, now, "sip:example.com;transport=tcp").unwrap();
    assert_eq!(t, [target(Tcp, "192.0.2.5:5060")]);
    let asked = zone.take_asked();
    assert_eq!(asked[0], srv_q("_sip._tcp.example.com"));
    assert!(!asked.iter().any(|(_, k)| *k == RecordType::Naptr));
}

#[test]
fn sips_resolves_to_tls_only() {
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.naptr(
        "example.com",
        &[
            (10, 10, "s", "SIP+D2U", "_sip._udp.example.com."),
            (20, 10, "s", "SIPS+D2T", "_sips._tcp.example.com."),
        ],
    )
    .srv("_sip._udp.example.com", &[(1, 1, 5060, "udp.example.com.")])
    .srv(
        "_sips._tcp.example.com",
        &[(1, 1, 5061, "tls.example.com.")],
    )
    .a("udp.example.com", 300, &[[192, 0, 2, 1]])
    .a("tls.example.com", 300, &[[192, 0, 2, 2]])
    .a("other.example", 300, &[[192, 0, 2, 3]]);
    let mut r = resolver(1);
    let t = resolve(&mut r, &mut zone, now, "sips:bob@example.com").unwrap();
    assert_eq!(t, [target(Tls, "192.0.2.2:5061")]);
    assert!(!zone.take_asked().contains(&srv_q("_sip._udp.example.com")));
    // no NAPTR: only _sips._tcp, then the domain on 5061
    let t = resolve(&mut r, &mut zone, now, "sips:bob@other.example").unwrap();
    assert_eq!(t, [target(Tls, "192.0.2.3:5061")]);
    let srvs: Vec<_> = zone
        .take_asked()
        .into_iter()
        .filter(|(_, k)| *k == RecordType::Srv)
        .collect();
    assert_eq!(srvs, [srv_q("_sips._tcp.other.example")]);
    // transport=tcp on a SIPS URI is TLS; UDP is refused
    let t = resolve(&mut r, &mut zone, now, "sips:bob@192.0.2.9;transport=tcp").unwrap();
    assert_eq!(t, [target(Tls, "192.0.2.9:5061")]);
    assert!(matches!(
        r.resolve(now, &uri("sips:bob@192.0.2.9;transport=udp")),
        Err(ResolveError::UnsupportedTransport(_))
    ));
}

#[test]
fn failover_walks_the_list_in_order() {
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.srv(
        "_sip._udp.example.com",
        &[
            (10, 0, 5060, "one.example.com."),
            (20, 0, 5070, "two.example.com."),
        ],
    )
    .a("one.example.com", 300, &[[192, 0, 2, 1], [192, 0, 2, 11]])
    .a("two.example.com", 300, &[[192, 0, 2, 2]]);
    let mut r = resolver(1);
    let id = r
        .resolve(now, &uri("sip:example.com;transport=udp"))
        .unwrap();
    assert_eq!(r.next_target(id), None, "nothing before the answers");
    zone.serve(&mut r, now);
    assert!(matches!(
        r.poll_event(),
        Some(ResolveEvent::Resolved { .. })
    ));
    // first target; then Timer F / 503 / transport error: the next one
    assert_eq!(r.next_target(id), Some(target(Udp, "192.0.2.1:5060")));
    assert_eq!(r.next_target(id), Some(target(Udp, "192.0.2.11:5060")));
    assert_eq!(r.next_target(id), Some(target(Udp, "192.0.2.2:5070")));
    assert_eq!(r.next_target(id), None);
    // the same list as proxy destinations, the Request-URI unchanged
    let request_uri: crate::Uri = "sip:bob@example.com".parse().unwrap();
    let ds = r.destinations(id, &request_uri);
    assert_eq!(ds.len(), 3);
    assert!(
        ds.iter()
            .all(|d| d.uri == request_uri && d.route.is_empty())
    );
    assert_eq!(ds[2].target, target(Udp, "192.0.2.2:5070"));
    r.finish(id);
    assert!(r.is_empty());
    assert!(r.destinations(id, &request_uri).is_empty());
}

#[test]
fn answers_are_cached_for_their_ttl_then_asked_again() {
    let t0 = Instant::now();
    let mut zone = Zone::default();
    zone.a("pbx.example.com", 60, &[[192, 0, 2, 8]]).set(
        "pbx.example.com",
        RecordType::Aaaa,
        DnsAnswer::NoRecords {
            negative_ttl: Some(100),
        },
    );
    let mut r = resolver(1);
    let u = "sip:pbx.example.com:5060";
    resolve(&mut r, &mut zone, t0, u).unwrap();
    assert_eq!(zone.take_asked().len(), 2); // A, AAAA
    // within the TTL: resolved from the cache at once
    let id = r.resolve(t0 + Duration::from_secs(59), &uri(u)).unwrap();
    assert!(r.poll_query().is_none());
    assert!(matches!(
        r.poll_event(),
        Some(ResolveEvent::Resolved { .. })
    ));
    r.finish(id);
    // the A record expired, the negative AAAA answer (100 s) did not
    zone.a("pbx.example.com", 60, &[[192, 0, 2, 9]]);
    let t = resolve(&mut r, &mut zone, t0 + Duration::from_secs(61), u).unwrap();
    assert_eq!(t, [target(Udp, "192.0.2.9:5060")]);
    assert_eq!(
        zone.take_asked(),
        [("pbx.example.com".into(), RecordType::A)]
    );
}

#[test]
fn negative_answers_are_cached_failures_are_not() {
    let t0 = Instant::now();
    let mut zone = Zone::default();
    for kind in [RecordType::A, RecordType::Aaaa] {
        zone.set(
            "gone.example.com",
            kind,
            DnsAnswer::NoRecords {
                negative_ttl: Some(120),
            },
        );
    }
    let mut r = resolver(1);
    let u = "sip:gone.example.com:5060";
    let e = resolve(&mut r, &mut zone, t0, u).unwrap_err();
    assert_eq!(e, ResolveError::NotFound("gone.example.com".into()));
    assert_eq!(e.status(), crate::StatusCode::NOT_FOUND);
    zone.take_asked();
    let e = resolve(&mut r, &mut zone, t0 + Duration::from_secs(100), u).unwrap_err();
    assert!(matches!(e, ResolveError::NotFound(_)));
    assert!(zone.take_asked().is_empty(), "negative answer cached");
    resolve(&mut r, &mut zone, t0 + Duration::from_secs(121), u).unwrap_err();
    assert_eq!(
        zone.take_asked().len(),
        2,
        "asked again after the negative TTL"
    );

    // SERVFAIL: Unavailable (503), and asked again next time
    for kind in [RecordType::A, RecordType::Aaaa] {
        zone.set("broken.example.com", kind, DnsAnswer::Failed);
    }
    let u = "sip:broken.example.com:5060";
    let e = resolve(&mut r, &mut zone, t0, u).unwrap_err();
    assert_eq!(e.status(), crate::StatusCode::SERVICE_UNAVAILABLE);
    zone.take_asked();
    resolve(&mut r, &mut zone, t0, u).unwrap_err();
    assert_eq!(zone.take_asked().len(), 2);
}

#[test]
fn unanswered_queries_time_out_and_concurrent_resolutions_share_queries() {
    let t0 = Instant::now();
    let mut r = Resolver::new(
        ResolverConfig::default().query_timeout(Duration::from_secs(5)),
        Rng::seeded(1),
    );
    let a = r.resolve(t0, &uri("sip:slow.example.com:5060")).unwrap();
    let b = r
        .resolve(t0, &uri("sip:alice@slow.example.com:5060;transport=udp"))
        .unwrap();
    let queries: Vec<DnsQuery> = std::iter::from_fn(|| r.poll_query()).collect();
    assert_eq!(queries.len(), 2, "A and AAAA once for both resolutions");
    assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(5)));
    // the A answer comes; the AAAA never does
    let ok = DnsAnswer::Records(vec![DnsRecord::new(
        30,
        RecordData::A([192, 0, 2, 4].into()),
    )]);
    let a_query = queries.iter().find(|q| q.kind == RecordType::A).unwrap();
    r.handle_answer(t0, a_query.id, ok);
    assert!(r.poll_event().is_none());
    r.handle_timeout(t0 + Duration::from_secs(5));
    let mut resolved = Vec::new();
    while let Some(e) = r.poll_event() {
        if let ResolveEvent::Resolved { id, targets } = e {
            assert_eq!(targets, [target(Udp, "192.0.2.4:5060")]);
            resolved.push(id);
        }
    }
    resolved.sort();
    assert_eq!(resolved, [a, b]);
    assert_eq!(r.poll_timeout(), None);
    // a late answer for the timed-out query is ignored
    let late = queries.iter().find(|q| q.kind == RecordType::Aaaa).unwrap();
    r.handle_answer(t0, late.id, DnsAnswer::Failed);
    assert!(r.poll_event().is_none());
}

#[test]
fn srv_target_dot_means_decidedly_not_available() {
    let now = Instant::now();
    let mut zone = Zone::default();
    zone.srv("_sip._udp.example.com", &[(0, 0, 0, ".")])
        .a("example.com", 300, &[[192, 0, 2, 5]]);
    let mut r = resolver(1);
    // RFC 2782: no fallback to the domain's own address
    let e = resolve(&mut r, &mut zone, now, "sip:example.com;transport=udp").unwrap_err();
    assert_eq!(e, ResolveError::NotFound("example.com".into()));
    assert!(!zone.take_asked().iter().any(|(_, k)| *k == RecordType::A));
}
