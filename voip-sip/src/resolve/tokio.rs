//! The tokio driver of the [`Resolver`]: answers its [`DnsQuery`]s with
//! hickory-resolver, against `/etc/resolv.conf`'s servers or one configured
//! name server (a loopback server in tests).

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig as HickoryConfig};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::rr::{RData, RecordType as HickoryType};
use hickory_resolver::{Name, ResolveError as HickoryError, TokioResolver};

use super::records::{DnsRecord, Naptr, RecordData, RecordType, Srv};
use super::{DnsAnswer, DnsQuery, QueryId, ResolutionId, ResolveError, ResolveEvent, Resolver};
use crate::uri::SipUri;

/// Where the driver sends its queries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DnsDriverConfig {
    /// One name server to ask (UDP, then TCP for truncated answers);
    /// `None`: the servers of `/etc/resolv.conf` [default: None].
    pub nameserver: Option<SocketAddr>,
    /// Time to wait for one server's answer [default: 2 s].
    pub timeout: Duration,
    /// Tries per query [default: 2].
    pub attempts: usize,
}

impl Default for DnsDriverConfig {
    fn default() -> Self {
        Self {
            nameserver: None,
            timeout: Duration::from_secs(2),
            attempts: 2,
        }
    }
}

impl DnsDriverConfig {
    /// Asks `nameserver` instead of the system's servers.
    #[must_use]
    pub fn nameserver(mut self, nameserver: SocketAddr) -> Self {
        self.nameserver = Some(nameserver);
        self
    }
}

/// Why the driver could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The system resolver configuration could not be read.
    #[error("cannot read the system dns configuration: {0}")]
    SystemConfig(String),
}

/// Answers DNS queries with hickory-resolver. Cheap to clone.
#[derive(Clone)]
pub struct DnsDriver {
    inner: TokioResolver,
}

impl fmt::Debug for DnsDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsDriver").finish_non_exhaustive()
    }
}

type Lookup = Pin<Box<dyn Future<Output = (QueryId, DnsAnswer)> + Send>>;

impl DnsDriver {
    /// A driver for `config`.
    pub fn new(config: &DnsDriverConfig) -> Result<Self, DriverError> {
        let provider = TokioConnectionProvider::default();
        let mut builder = match config.nameserver {
            Some(addr) => {
                let servers =
                    NameServerConfigGroup::from_ips_clear(&[addr.ip()], addr.port(), true);
                TokioResolver::builder_with_config(
                    HickoryConfig::from_parts(None, Vec::new(), servers),
                    provider,
                )
            }
            None => TokioResolver::builder(provider)
                .map_err(|e| DriverError::SystemConfig(e.to_string()))?,
        };
        let opts = builder.options_mut();
        opts.timeout = config.timeout;
        opts.attempts = config.attempts;
        // the core caches with the records' TTLs; names are absolute
        opts.ndots = 0;
        Ok(Self {
            inner: builder.build(),
        })
    }

    /// Answers one query.
    pub async fn lookup(&self, query: DnsQuery) -> (QueryId, DnsAnswer) {
        let answer = self.answer(&query.name, query.kind).await;
        (query.id, answer)
    }

    async fn answer(&self, name: &str, kind: RecordType) -> DnsAnswer {
        let Ok(name) = Name::from_ascii(format!("{name}.")) else {
            return DnsAnswer::NoRecords { negative_ttl: None };
        };
        let rtype = match kind {
            RecordType::Naptr => HickoryType::NAPTR,
            RecordType::Srv => HickoryType::SRV,
            RecordType::A => HickoryType::A,
            RecordType::Aaaa => HickoryType::AAAA,
        };
        match self.inner.lookup(name, rtype).await {
            Ok(lookup) => {
                // hickory's own cache may hand out older copies: count
                // down from when the answer stops being valid
                let left = lookup
                    .valid_until()
                    .saturating_duration_since(Instant::now())
                    .as_secs();
                let left = u32::try_from(left).unwrap_or(u32::MAX);
                let records = lookup
                    .records()
                    .iter()
                    .filter_map(|r| Some(DnsRecord::new(r.ttl().min(left), convert(r.data())?)))
                    .collect();
                DnsAnswer::Records(records)
            }
            Err(e) => negative(&e),
        }
    }

    /// Resolves `uri` to completion with `resolver`: starts the resolution,
    /// answers its queries (concurrently) until it is resolved, and returns
    /// its id; take the targets with [`Resolver::next_target`]. Events of
    /// this resolution are taken out of the resolver's queue; others stay.
    pub async fn resolve(
        &self,
        resolver: &mut Resolver,
        uri: &SipUri,
    ) -> Result<ResolutionId, ResolveError> {
        let id = resolver.resolve(Instant::now(), uri)?;
        let mut lookups: FuturesUnordered<Lookup> = FuturesUnordered::new();
        loop {
            let mut outcome = None;
            resolver.events.retain(|e| match e {
                ResolveEvent::Resolved { id: i, .. } if *i == id => {
                    outcome = Some(Ok(id));
                    false
                }
                ResolveEvent::Failed { id: i, error } if *i == id => {
                    outcome = Some(Err(error.clone()));
                    false
                }
                _ => true,
            });
            if let Some(o) = outcome {
                return o;
            }
            while let Some(q) = resolver.poll_query() {
                let me = self.clone();
                lookups.push(Box::pin(async move { me.lookup(q).await }));
            }
            let deadline = resolver.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some((qid, answer)) = lookups.next() => {
                    resolver.handle_answer(Instant::now(), qid, answer);
                }
                () = sleep => resolver.handle_timeout(Instant::now()),
            }
        }
    }
}

fn convert(data: &RData) -> Option<RecordData> {
    Some(match data {
        RData::A(a) => RecordData::A(a.0),
        RData::AAAA(a) => RecordData::Aaaa(a.0),
        RData::SRV(s) => RecordData::Srv(Srv {
            priority: s.priority(),
            weight: s.weight(),
            port: s.port(),
            target: s.target().to_ascii(),
        }),
        RData::NAPTR(n) => RecordData::Naptr(Naptr {
            order: n.order(),
            preference: n.preference(),
            flags: String::from_utf8_lossy(n.flags()).into_owned(),
            services: String::from_utf8_lossy(n.services()).into_owned(),
            replacement: n.replacement().to_ascii(),
        }),
        _ => return None,
    })
}

/// NXDOMAIN and "no records" are answers; anything else is a failure.
fn negative(e: &HickoryError) -> DnsAnswer {
    match e.proto().map(|p| p.kind()) {
        Some(ProtoErrorKind::NoRecordsFound { negative_ttl, .. }) => DnsAnswer::NoRecords {
            negative_ttl: *negative_ttl,
        },
        _ => DnsAnswer::Failed,
    }
}
