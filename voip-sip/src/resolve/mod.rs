//! Locating SIP servers (RFC 3263), sans-IO: a SIP URI becomes an ordered
//! list of (transport, address) [`Target`]s, with failover.
//!
//! [`Resolver`] never touches the network. [`Resolver::resolve`] plans the
//! lookups for a URI (RFC 3263 §4.1 transport selection, §4.2 port and
//! address); the DNS questions it needs come out of
//! [`Resolver::poll_query`] as [`DnsQuery`]s, and their answers go back in
//! through [`Resolver::handle_answer`] with their TTLs. When a resolution
//! has every answer it needs, [`Resolver::poll_event`] reports
//! [`ResolveEvent::Resolved`] and [`Resolver::next_target`] hands out the
//! targets one at a time: the first, then the next after each transport
//! error, Timer B/F timeout or 503 (RFC 3263 §4.3). Answers are cached for
//! their TTL (negative answers for the SOA's negative TTL, RFC 2308), so
//! later resolutions of the same domain usually complete at once.
//!
//! - A numeric host skips DNS; a domain with a port (or `transport=ws`/`wss`)
//!   skips NAPTR and SRV (A/AAAA only); a `transport=` parameter skips NAPTR.
//! - NAPTR records are used in order, then preference; SRV records by
//!   priority, then weighted random selection (RFC 2782) drawn from the
//!   injected [`Rng`].
//! - A SIPS URI only ever resolves to TLS (or WSS) targets.
//! - `maddr` replaces the host as the TARGET.
//!
//! ```
//! use std::time::Instant;
//! use voip_core::{Rng, TransportProtocol};
//! use voip_sip::resolve::{
//!     DnsAnswer, DnsRecord, RecordData, RecordType, ResolveEvent, Resolver, ResolverConfig, Srv,
//! };
//!
//! let mut resolver = Resolver::new(ResolverConfig::default(), Rng::seeded(1));
//! let now = Instant::now();
//! let uri = voip_sip::SipUri::parse(&"sip:alice@example.com;transport=tcp".into()).unwrap();
//! let id = resolver.resolve(now, &uri).unwrap();
//! // transport given, no port: SRV first
//! let q = resolver.poll_query().unwrap();
//! assert_eq!((q.name.as_str(), q.kind), ("_sip._tcp.example.com", RecordType::Srv));
//! let srv = Srv { priority: 10, weight: 1, port: 5070, target: "pbx.example.com".into() };
//! resolver.handle_answer(now, q.id, DnsAnswer::Records(vec![DnsRecord::new(300, RecordData::Srv(srv))]));
//! // then the addresses of the SRV target
//! while let Some(q) = resolver.poll_query() {
//!     let answer = match q.kind {
//!         RecordType::A => DnsAnswer::Records(vec![DnsRecord::new(300, RecordData::A([192, 0, 2, 7].into()))]),
//!         _ => DnsAnswer::NoRecords { negative_ttl: Some(60) },
//!     };
//!     resolver.handle_answer(now, q.id, answer);
//! }
//! assert!(matches!(resolver.poll_event(), Some(ResolveEvent::Resolved { .. })));
//! let first = resolver.next_target(id).unwrap();
//! assert_eq!(first.protocol, TransportProtocol::Tcp);
//! assert_eq!(first.destination, "192.0.2.7:5070".parse().unwrap());
//! assert_eq!(resolver.next_target(id), None); // nothing to fail over to
//! resolver.finish(id);
//! ```

mod cache;
mod records;
mod resolution;
#[cfg(feature = "tokio")]
mod tokio;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use voip_core::{ConfigError, Rng, TransportProtocol};

pub use records::{DnsRecord, Naptr, RecordData, RecordType, Srv};
#[cfg(feature = "tokio")]
pub use tokio::{DnsDriver, DnsDriverConfig, DriverError};

use cache::{Cache, Known};
use resolution::{Outcome, TargetResolution};

use crate::message::StatusCode;
use crate::proxy::Destination;
use crate::transaction::Target;
use crate::uri::{SipUri, Uri};

/// Identifies a DNS question within one [`Resolver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueryId(pub u64);

/// Identifies one URI's resolution within one [`Resolver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResolutionId(pub u64);

/// A DNS question for the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsQuery {
    /// Answer with [`Resolver::handle_answer`] under this id.
    pub id: QueryId,
    /// An absolute domain name, lowercase, without the trailing dot.
    pub name: String,
    /// The record type.
    pub kind: RecordType,
}

/// The driver's answer to a [`DnsQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsAnswer {
    /// The records of the asked type (others are ignored). An empty list
    /// counts as [`DnsAnswer::NoRecords`] without a negative TTL.
    Records(Vec<DnsRecord>),
    /// NXDOMAIN, or the name has no record of that type; `negative_ttl`
    /// from the SOA (RFC 2308 §5) when the server sent one.
    NoRecords {
        /// Seconds the absence may be cached.
        negative_ttl: Option<u32>,
    },
    /// SERVFAIL, REFUSED, a timeout, a malformed answer: nothing is known,
    /// and nothing is cached.
    Failed,
}

/// What the resolver reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResolveEvent {
    /// The targets are known; take them with [`Resolver::next_target`].
    Resolved {
        /// The resolution.
        id: ResolutionId,
        /// All targets, best first.
        targets: Vec<Target>,
    },
    /// No target could be found.
    Failed {
        /// The resolution.
        id: ResolutionId,
        /// Why.
        error: ResolveError,
    },
}

/// Why a URI has no target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The `transport=` parameter names no transport we speak (or UDP on a
    /// SIPS URI).
    #[error("unsupported transport {0:?}")]
    UnsupportedTransport(String),
    /// DNS says the domain has no usable records.
    #[error("no sip server found for {0}")]
    NotFound(String),
    /// Some DNS query failed and no target was found.
    #[error("dns resolution of {0} failed")]
    Unavailable(String),
}

impl ResolveError {
    /// The answer a proxy gives when it cannot resolve the next hop: 404
    /// for a domain with no SIP server, 503 for a DNS failure, 400 for a
    /// bad transport parameter.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedTransport(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Resolver settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResolverConfig {
    /// Transports to discover through NAPTR/SRV, in our order of preference
    /// (used when the domain has no NAPTR records) [default: UDP, TCP, TLS].
    pub transports: Vec<TransportProtocol>,
    /// Ask for A records [default: true].
    pub ipv4: bool,
    /// Ask for AAAA records [default: true].
    pub ipv6: bool,
    /// Put a host's IPv6 addresses before its IPv4 ones [default: false].
    pub prefer_ipv6: bool,
    /// Longest a positive answer is cached, whatever its TTL [default: 1 h].
    pub max_ttl: Duration,
    /// How long "no such record" is cached when the answer carries no
    /// negative TTL [default: 30 s].
    pub negative_ttl: Duration,
    /// Longest a negative answer is cached [default: 5 min].
    pub max_negative_ttl: Duration,
    /// A query without an answer after this counts as failed [default: 10 s].
    pub query_timeout: Duration,
    /// Most cached `(name, type)` entries [default: 10,000].
    pub cache_capacity: usize,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self {
            transports: vec![
                TransportProtocol::Udp,
                TransportProtocol::Tcp,
                TransportProtocol::Tls,
            ],
            ipv4: true,
            ipv6: true,
            prefer_ipv6: false,
            max_ttl: Duration::from_secs(3600),
            negative_ttl: Duration::from_secs(30),
            max_negative_ttl: Duration::from_secs(300),
            query_timeout: Duration::from_secs(10),
            cache_capacity: 10_000,
        }
    }
}

impl ResolverConfig {
    /// Sets the transports to discover, in preference order.
    #[must_use]
    pub fn transports(mut self, transports: Vec<TransportProtocol>) -> Self {
        self.transports = transports;
        self
    }

    /// Sets the address families to ask for, and whether IPv6 goes first.
    #[must_use]
    pub fn families(mut self, ipv4: bool, ipv6: bool, prefer_ipv6: bool) -> Self {
        self.ipv4 = ipv4;
        self.ipv6 = ipv6;
        self.prefer_ipv6 = prefer_ipv6;
        self
    }

    /// Sets the query timeout.
    #[must_use]
    pub fn query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    /// Checks the values.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.transports.is_empty() {
            return Err(ConfigError::new("transports", "must name at least one"));
        }
        if !self.ipv4 && !self.ipv6 {
            return Err(ConfigError::new("ipv4", "ipv4 or ipv6 must be enabled"));
        }
        if self.query_timeout.is_zero() {
            return Err(ConfigError::new(
                "query_timeout",
                "must be greater than zero",
            ));
        }
        Ok(self)
    }
}

#[derive(Debug)]
struct PendingQuery {
    name: String,
    kind: RecordType,
    deadline: Instant,
}

/// What resolutions share: configuration, cache, RNG and queries in flight.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: ResolverConfig,
    pub(crate) rng: Rng,
    cache: Cache,
    next_query: u64,
    in_flight: HashMap<(String, RecordType), QueryId>,
    pending: HashMap<QueryId, PendingQuery>,
    deadlines: BTreeSet<(Instant, QueryId)>,
    out: VecDeque<DnsQuery>,
}

impl Shared {
    /// The cached outcome for `(name, kind)`; otherwise a query is asked
    /// (once, however many resolutions wait for it) and `None` returned.
    pub(crate) fn lookup(&mut self, now: Instant, name: &str, kind: RecordType) -> Option<Outcome> {
        if let Some(known) = self.cache.get(now, name, kind) {
            return Some(Outcome::Known(known));
        }
        let key = (name.to_owned(), kind);
        if !self.in_flight.contains_key(&key) {
            let id = QueryId(self.next_query);
            self.next_query += 1;
            let deadline = now + self.config.query_timeout;
            self.in_flight.insert(key, id);
            self.pending.insert(
                id,
                PendingQuery {
                    name: name.to_owned(),
                    kind,
                    deadline,
                },
            );
            self.deadlines.insert((deadline, id));
            self.out.push_back(DnsQuery {
                id,
                name: name.to_owned(),
                kind,
            });
        }
        None
    }

    /// Turns an answer into an outcome, caching it.
    fn record(&mut self, now: Instant, name: &str, kind: RecordType, answer: DnsAnswer) -> Outcome {
        let (known, lifetime) = match answer {
            DnsAnswer::Failed => return Outcome::Failed,
            DnsAnswer::NoRecords { negative_ttl } => (Known::Empty, self.negative(negative_ttl)),
            DnsAnswer::Records(records) => {
                let ttl = records
                    .iter()
                    .filter(|r| r.data.record_type() == kind)
                    .map(|r| r.ttl)
                    .min();
                let data: Vec<RecordData> = records
                    .into_iter()
                    .filter(|r| r.data.record_type() == kind)
                    .map(|r| r.data)
                    .collect();
                match ttl {
                    Some(ttl) => (
                        Known::Records(data),
                        Duration::from_secs(u64::from(ttl)).min(self.config.max_ttl),
                    ),
                    None => (Known::Empty, self.negative(None)),
                }
            }
        };
        self.cache.insert(now, name, kind, known.clone(), lifetime);
        Outcome::Known(known)
    }

    fn negative(&self, ttl: Option<u32>) -> Duration {
        ttl.map_or(self.config.negative_ttl, |s| {
            Duration::from_secs(u64::from(s))
        })
        .min(self.config.max_negative_ttl)
    }
}

/// The RFC 3263 resolver: a cache, the queries in flight, and the
/// resolutions waiting for them.
#[derive(Debug)]
pub struct Resolver {
    shared: Shared,
    next_resolution: u64,
    resolutions: HashMap<ResolutionId, TargetResolution>,
    events: VecDeque<ResolveEvent>,
}

impl Resolver {
    /// A resolver with an empty cache.
    pub fn new(config: ResolverConfig, rng: Rng) -> Self {
        Self {
            shared: Shared {
                cache: Cache::new(config.cache_capacity),
                config,
                rng,
                next_query: 1,
                in_flight: HashMap::new(),
                pending: HashMap::new(),
                deadlines: BTreeSet::new(),
                out: VecDeque::new(),
            },
            next_resolution: 1,
            resolutions: HashMap::new(),
            events: VecDeque::new(),
        }
    }

    /// Starts resolving `uri`. When the cache (or a numeric host) already
    /// answers everything, the outcome is in [`poll_event`](Self::poll_event)
    /// at once.
    pub fn resolve(&mut self, now: Instant, uri: &SipUri) -> Result<ResolutionId, ResolveError> {
        let mut r = TargetResolution::new(uri)?;
        let id = ResolutionId(self.next_resolution);
        self.next_resolution += 1;
        r.advance(now, &mut self.shared);
        if r.is_done() {
            self.events.push_back(done_event(id, &r));
        }
        self.resolutions.insert(id, r);
        Ok(id)
    }

    /// The answer to query `id` (unknown or timed-out ids are ignored).
    pub fn handle_answer(&mut self, now: Instant, id: QueryId, answer: DnsAnswer) {
        let Some(q) = self.shared.pending.remove(&id) else {
            return;
        };
        self.shared.deadlines.remove(&(q.deadline, id));
        self.shared.in_flight.remove(&(q.name.clone(), q.kind));
        let outcome = self.shared.record(now, &q.name, q.kind, answer);
        self.distribute(now, &q.name, q.kind, &outcome);
    }

    fn distribute(&mut self, now: Instant, name: &str, kind: RecordType, outcome: &Outcome) {
        let mut ids: Vec<ResolutionId> = self
            .resolutions
            .iter()
            .filter(|(_, r)| !r.is_done())
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        for id in ids {
            let Some(r) = self.resolutions.get_mut(&id) else {
                continue;
            };
            r.offer(name, kind, outcome);
            r.advance(now, &mut self.shared);
            if r.is_done() {
                self.events.push_back(done_event(id, r));
            }
        }
    }

    /// Queries unanswered for longer than the query timeout count as failed.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.shared.deadlines.first() {
            if at > now {
                break;
            }
            self.handle_answer(now, id, DnsAnswer::Failed);
        }
    }

    /// The next DNS question to send.
    #[must_use]
    pub fn poll_query(&mut self) -> Option<DnsQuery> {
        self.shared.out.pop_front()
    }

    /// The next outcome.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ResolveEvent> {
        self.events.pop_front()
    }

    /// The earliest query deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.shared.deadlines.first().map(|(at, _)| *at)
    }

    /// The next target of resolution `id`: the first one on the first call,
    /// then the next after each failure of the previous one; `None` when
    /// the list is exhausted (or not resolved yet).
    pub fn next_target(&mut self, id: ResolutionId) -> Option<Target> {
        let r = self.resolutions.get_mut(&id).filter(|r| r.is_done())?;
        let t = r.targets.get(r.cursor).copied()?;
        r.cursor += 1;
        Some(t)
    }

    /// All targets of resolution `id`, best first (empty until resolved).
    pub fn targets(&self, id: ResolutionId) -> &[Target] {
        self.resolutions
            .get(&id)
            .filter(|r| r.is_done())
            .map_or(&[], |r| &r.targets)
    }

    /// The targets of resolution `id` as proxy destinations for `uri`: the
    /// Request-URI stays, only the next hop differs. Hand them to
    /// [`Proxy::forward`](crate::proxy::Proxy::forward) with
    /// [`ForkMode::Serial`](crate::proxy::ForkMode::Serial) to fail over
    /// inside the proxy; note that the proxy moves on after any failure
    /// (a timeout, a transport error, or a 4xx/5xx), not only after the
    /// timeouts, transport errors and 503s of RFC 3263 §4.3.
    pub fn destinations(&self, id: ResolutionId, uri: &Uri) -> Vec<Destination> {
        self.targets(id)
            .iter()
            .map(|t| Destination {
                uri: uri.clone(),
                target: *t,
                route: Vec::new(),
            })
            .collect()
    }

    /// Forgets resolution `id` (its cached answers stay).
    pub fn finish(&mut self, id: ResolutionId) {
        self.resolutions.remove(&id);
    }

    /// Number of resolutions held (finished or not).
    pub fn len(&self) -> usize {
        self.resolutions.len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.resolutions.is_empty()
    }

    /// Number of cached `(name, type)` answers.
    pub fn cache_len(&self) -> usize {
        self.shared.cache.len()
    }

    /// Empties the cache (queries in flight continue).
    pub fn clear_cache(&mut self) {
        self.shared.cache.clear();
    }
}

fn done_event(id: ResolutionId, r: &TargetResolution) -> ResolveEvent {
    if r.targets.is_empty() {
        ResolveEvent::Failed {
            id,
            error: r.error(),
        }
    } else {
        ResolveEvent::Resolved {
            id,
            targets: r.targets.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
