//! A sans-IO registrar and location service (RFC 3261 §10.3, Path RFC 3327,
//! outbound RFC 5626 §6).
//!
//! [`Registrar`] turns a REGISTER into its response and keeps the bindings
//! in a [`LocationStore`] ([`MemoryLocationStore`] unless you bring one).
//! It reads no clock: pass `now` to every call, drive expiry with
//! [`Registrar::poll_timeout`] and [`Registrar::handle_timeout`], and drain
//! [`Registrar::poll_event`] to follow who is registered.
//!
//! Authentication (RFC 3261 §10.3 step 4) is the caller's job, before
//! [`Registrar::handle_register`]: challenge with 401, then check that the
//! authenticated user may register [`Registrar::address_of_record`]. So is
//! the general request validation ([`crate::validate::check_request`],
//! Require handling) and sending the response through the transaction
//! layer.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use voip_core::TransportProtocol;
//! use voip_sip::registrar::{Registrar, RegistrarConfig, RegistrarEvent};
//! use voip_sip::transaction::ReplyPath;
//! use voip_sip::{Method, Request, StatusCode};
//!
//! let config = RegistrarConfig::default().with_domain("example.com").build().unwrap();
//! let mut registrar = Registrar::with_memory_store(Arc::new(config));
//!
//! let mut register = Request::new(Method::Register, "sip:example.com".parse().unwrap());
//! for (name, value) in [
//!     ("Via", "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bKnashds7"),
//!     ("From", "<sip:alice@example.com>;tag=456248"),
//!     ("To", "<sip:alice@example.com>"),
//!     ("Call-ID", "843817637684230@998sdasdh09"),
//!     ("CSeq", "1826 REGISTER"),
//!     ("Contact", "<sip:alice@192.0.2.4>;expires=600"),
//! ] {
//!     register.headers.push(voip_sip::HeaderName::from_bytes(name.into()), value);
//! }
//! let source = ReplyPath {
//!     protocol: TransportProtocol::Udp,
//!     remote: "192.0.2.4:5060".parse().unwrap(),
//!     local: "192.0.2.1:5060".parse().unwrap(),
//!     connection: None,
//! };
//! let now = Instant::now();
//! let aor = registrar.address_of_record(&register).unwrap(); // authorize this
//! let response = registrar.handle_register(now, &register, source);
//! assert_eq!(response.status, StatusCode::OK);
//! assert!(matches!(registrar.poll_event(), Some(RegistrarEvent::Registered { .. })));
//! assert_eq!(registrar.lookup(now, &aor).len(), 1);
//!
//! // Ten minutes later the binding expires.
//! let deadline = registrar.poll_timeout().unwrap();
//! assert_eq!(deadline, now + Duration::from_secs(600));
//! registrar.handle_timeout(deadline);
//! assert!(matches!(registrar.poll_event(), Some(RegistrarEvent::Unregistered { .. })));
//! assert!(registrar.lookup(deadline, &aor).is_empty());
//! ```

mod binding;
mod store;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::ConfigError;

pub use binding::{Binding, BindingKey, canonical_aor, canonical_contact};
pub use store::{LocationStore, MemoryLocationStore, StoreError};

use crate::header::{Contact, MinExpires, Path, Supported, Via};
use crate::message::{Known, Method, Request, Response, StatusCode};
use crate::transaction::ReplyPath;

/// Registrar settings. Start from [`Default`], adjust, then [`build`].
///
/// [`build`]: RegistrarConfig::build
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistrarConfig {
    /// Expiry in seconds when the REGISTER gives none (3600).
    pub default_expires: u32,
    /// The shortest expiry accepted; shorter non-zero ones get
    /// 423 Interval Too Brief with `Min-Expires` (60).
    pub min_expires: u32,
    /// Longer expiries are shortened to this (7200).
    pub max_expires: u32,
    /// Bindings one address-of-record may hold (10). A REGISTER that would
    /// exceed it gets 403 "Too Many Registered Contacts".
    pub max_contacts: usize,
    /// Domains served, compared case-insensitively with the host of the
    /// address-of-record; empty serves any (404 otherwise).
    pub domains: Vec<String>,
}

impl Default for RegistrarConfig {
    fn default() -> Self {
        Self {
            default_expires: 3600,
            min_expires: 60,
            max_expires: 7200,
            max_contacts: 10,
            domains: Vec::new(),
        }
    }
}

/// The longest expiry a configuration may allow (about 68 years).
const EXPIRES_LIMIT: u32 = i32::MAX as u32;

impl RegistrarConfig {
    /// Sets the expiry used when a REGISTER gives none.
    pub fn with_default_expires(mut self, seconds: u32) -> Self {
        self.default_expires = seconds;
        self
    }

    /// Sets the minimum expiry (423 below it).
    pub fn with_min_expires(mut self, seconds: u32) -> Self {
        self.min_expires = seconds;
        self
    }

    /// Sets the maximum expiry (longer ones are shortened).
    pub fn with_max_expires(mut self, seconds: u32) -> Self {
        self.max_expires = seconds;
        self
    }

    /// Sets the number of bindings per address-of-record.
    pub fn with_max_contacts(mut self, n: usize) -> Self {
        self.max_contacts = n;
        self
    }

    /// Adds a served domain.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domains.push(domain.into());
        self
    }

    /// Checks the values: `1 <= min_expires <= default_expires <=
    /// max_expires <= 2^31-1`, `max_contacts >= 1`, no empty domain.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.min_expires == 0 {
            return Err(ConfigError::new(
                "min_expires",
                "must be at least 1 s (0 means unregister)",
            ));
        }
        if self.max_expires > EXPIRES_LIMIT {
            return Err(ConfigError::new(
                "max_expires",
                format!("must be at most {EXPIRES_LIMIT} s"),
            ));
        }
        if self.max_expires < self.min_expires {
            return Err(ConfigError::new(
                "max_expires",
                "must be at least min_expires",
            ));
        }
        if !(self.min_expires..=self.max_expires).contains(&self.default_expires) {
            return Err(ConfigError::new(
                "default_expires",
                "must lie between min_expires and max_expires",
            ));
        }
        if self.max_contacts == 0 {
            return Err(ConfigError::new("max_contacts", "must be at least 1"));
        }
        if self.domains.iter().any(|d| d.trim().is_empty()) {
            return Err(ConfigError::new("domains", "must not hold an empty name"));
        }
        Ok(self)
    }

    /// Whether the registrar is responsible for `host`.
    pub fn serves(&self, host: &[u8]) -> bool {
        self.domains.is_empty()
            || self
                .domains
                .iter()
                .any(|d| d.as_bytes().eq_ignore_ascii_case(host))
    }
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnregisterReason {
    /// A REGISTER removed it (expiry 0 or `Contact: *`).
    Removed,
    /// It was not refreshed in time.
    Expired,
    /// A REGISTER for the same outbound flow key came with another contact
    /// or over another flow; a [`RegistrarEvent::Registered`] follows.
    Replaced,
}

/// What changed in the location service.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrarEvent {
    /// A new binding.
    Registered {
        /// The address-of-record.
        aor: Bytes,
        /// The binding.
        binding: Binding,
    },
    /// An existing binding was refreshed (same contact, same flow).
    Refreshed {
        /// The address-of-record.
        aor: Bytes,
        /// The binding with its new expiry.
        binding: Binding,
    },
    /// A binding is gone.
    Unregistered {
        /// The address-of-record.
        aor: Bytes,
        /// The binding as it was.
        binding: Binding,
        /// Why.
        reason: UnregisterReason,
    },
}

/// Why a REGISTER failed; [`RegisterError::status`] is the answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegisterError {
    /// The request is not a REGISTER (405).
    #[error("not a register request")]
    NotRegister,
    /// A header the registrar needs is missing or malformed (400).
    #[error("missing or invalid {0} header")]
    BadHeader(&'static str),
    /// The To URI is not a SIP URI (404, RFC 3261 §10.3 step 3).
    #[error("address-of-record is not a sip uri")]
    NotSipUri,
    /// The domain of the address-of-record is not served here (404).
    #[error("domain not served by this registrar")]
    DomainNotServed,
    /// `Contact: *` with another contact or a non-zero Expires (400,
    /// RFC 3261 §10.3 step 6).
    #[error("wildcard contact requires expires 0 and no other contact")]
    BadWildcard,
    /// A non-zero expiry below the minimum (423 with `Min-Expires`).
    #[error("expiry below the minimum of {min} s")]
    IntervalTooBrief {
        /// The minimum, in seconds.
        min: u32,
    },
    /// The REGISTER has the Call-ID of an existing binding and a CSeq not
    /// above its CSeq: a reordered or replayed request (500, RFC 3261
    /// §10.3 step 7 says only that "the request fails").
    #[error("register out of order for an existing binding")]
    OutOfOrder,
    /// The address-of-record would hold more bindings than allowed (403:
    /// retrying does not help until a binding goes away).
    #[error("too many registered contacts (limit {limit})")]
    TooManyContacts {
        /// The limit.
        limit: usize,
    },
    /// More than one Contact with `reg-id` (400, RFC 5626 §6).
    #[error("more than one contact with reg-id")]
    MultipleRegIds,
    /// An outbound registration through a proxy that did not add a Path
    /// with `ob` (439, RFC 5626 §6).
    #[error("first hop lacks outbound support")]
    FirstHopLacksOutbound,
    /// The location store failed (500; 403 when it is full).
    #[error("location store: {0}")]
    Store(#[from] StoreError),
}

impl RegisterError {
    /// The status to answer.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotRegister => StatusCode::METHOD_NOT_ALLOWED,
            Self::BadHeader(_) | Self::BadWildcard | Self::MultipleRegIds => {
                StatusCode::BAD_REQUEST
            }
            Self::NotSipUri | Self::DomainNotServed => StatusCode::NOT_FOUND,
            Self::IntervalTooBrief { .. } => StatusCode::INTERVAL_TOO_BRIEF,
            Self::OutOfOrder | Self::Store(StoreError::Unavailable) => {
                StatusCode::SERVER_INTERNAL_ERROR
            }
            Self::TooManyContacts { .. } | Self::Store(StoreError::Full { .. }) => {
                StatusCode::FORBIDDEN
            }
            Self::FirstHopLacksOutbound => StatusCode::new(439).unwrap_or(StatusCode::BAD_REQUEST),
        }
    }

    /// The reason phrase.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooManyContacts { .. } | Self::Store(StoreError::Full { .. }) => {
                "Too Many Registered Contacts"
            }
            Self::FirstHopLacksOutbound => "First Hop Lacks Outbound Support",
            Self::BadWildcard => "Bad Request (Invalid Wildcard Contact)",
            Self::MultipleRegIds => "Bad Request (Multiple reg-id)",
            Self::OutOfOrder => "Server Internal Error (Out of Order REGISTER)",
            _ => self.status().canonical_reason(),
        }
    }

    /// The response to `request` (with `Min-Expires` for a 423).
    pub fn response(&self, request: &Request) -> Response {
        let mut r = Response::for_request(request, self.status());
        r.reason = Bytes::from_static(self.reason().as_bytes());
        if let Self::IntervalTooBrief { min } = self {
            r.headers.push_typed(&MinExpires(*min));
        }
        r
    }
}

/// The registrar: RFC 3261 §10.3 over a [`LocationStore`].
pub struct Registrar {
    config: Arc<RegistrarConfig>,
    store: Box<dyn LocationStore>,
    events: VecDeque<RegistrarEvent>,
}

impl std::fmt::Debug for Registrar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registrar")
            .field("config", &self.config)
            .field("bindings", &self.store.len())
            .field("events", &self.events.len())
            .finish()
    }
}

/// A REGISTER's header values, parsed once.
struct Parsed {
    aor: Bytes,
    call_id: Bytes,
    cseq: u32,
    expires: Option<u32>,
    contacts: Vec<Contact>,
    path: Vec<Bytes>,
    supports_path: bool,
    outbound: bool,
    user_agent: Option<Bytes>,
}

impl Registrar {
    /// A registrar over `store`.
    pub fn new(config: Arc<RegistrarConfig>, store: Box<dyn LocationStore>) -> Self {
        Self {
            config,
            store,
            events: VecDeque::new(),
        }
    }

    /// A registrar over a [`MemoryLocationStore`] bounded by
    /// `config.max_contacts`.
    pub fn with_memory_store(config: Arc<RegistrarConfig>) -> Self {
        let store = MemoryLocationStore::with_max_bindings_per_aor(config.max_contacts);
        Self::new(config, Box::new(store))
    }

    /// The configuration.
    pub fn config(&self) -> &RegistrarConfig {
        &self.config
    }

    /// The location store.
    pub fn store(&self) -> &dyn LocationStore {
        self.store.as_ref()
    }

    /// The location store, for administrative changes. These raise no
    /// [`RegistrarEvent`].
    pub fn store_mut(&mut self) -> &mut dyn LocationStore {
        self.store.as_mut()
    }

    /// The canonical address-of-record of a REGISTER: its To URI
    /// ([`canonical_aor`]), provided this registrar serves the domain. Check
    /// that the authenticated user may register it before
    /// [`Registrar::handle_register`].
    pub fn address_of_record(&self, request: &Request) -> Result<Bytes, RegisterError> {
        let to = match request.to() {
            Some(Ok(to)) => to,
            _ => return Err(RegisterError::BadHeader("To")),
        };
        let sip = to.uri().as_sip().ok_or(RegisterError::NotSipUri)?;
        let host = match &sip.host() {
            crate::uri::Host::Domain(d) => d.clone(),
            other => Bytes::from(other.ip().map(|ip| ip.to_string()).unwrap_or_default()),
        };
        if !self.config.serves(&host) {
            return Err(RegisterError::DomainNotServed);
        }
        canonical_aor(to.uri()).ok_or(RegisterError::NotSipUri)
    }

    /// Answers a REGISTER that arrived over `source` (RFC 3261 §10.3 steps
    /// 2, 3 and 5 to 8): a 200 listing every binding of the
    /// address-of-record with its remaining `expires`, or the error
    /// response. The response carries a To tag.
    pub fn handle_register(
        &mut self,
        now: Instant,
        request: &Request,
        source: ReplyPath,
    ) -> Response {
        let response = match self.register(now, request, source) {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!(error = %e, "register refused");
                e.response(request)
            }
        };
        response.with_to_tag(&to_tag(request))
    }

    /// Like [`Registrar::handle_register`], with the error kept typed (for
    /// metrics); the response has no To tag yet.
    pub fn register(
        &mut self,
        now: Instant,
        request: &Request,
        source: ReplyPath,
    ) -> Result<Response, RegisterError> {
        if request.method != Method::Register {
            return Err(RegisterError::NotRegister);
        }
        let p = self.parse(request)?;
        if self.store.next_expiry().is_some_and(|t| t <= now) {
            self.handle_timeout(now);
        }
        let old = self.store.bindings(&p.aor, now);
        let mut new = old.clone();
        if p.contacts.iter().any(|c| matches!(c, Contact::Wildcard)) {
            // Step 6: `*` only alone and with Expires: 0.
            if p.contacts.len() != 1 || p.expires != Some(0) {
                return Err(RegisterError::BadWildcard);
            }
            for b in &old {
                check_order(b, &p)?;
            }
            new.clear();
        } else {
            self.apply_contacts(now, &p, &old, &mut new, source)?;
        }
        if new.len() > self.config.max_contacts {
            return Err(RegisterError::TooManyContacts {
                limit: self.config.max_contacts,
            });
        }
        if new != old {
            self.store.replace(&p.aor, new.clone())?;
            self.diff_events(&p.aor, &old, &new);
        }
        let mut response = Response::for_request(request, StatusCode::OK);
        sort_for_lookup(&mut new);
        for b in &new {
            response.headers.push(Known::Contact, b.contact_value(now));
        }
        if p.supports_path {
            for path in &p.path {
                response.headers.push(Known::Path, path.clone());
            }
        }
        if p.outbound {
            response
                .headers
                .push_typed(&crate::header::Require(crate::header::OptionTag(
                    Bytes::from_static(b"outbound"),
                )));
        }
        Ok(response)
    }

    fn parse(&self, request: &Request) -> Result<Parsed, RegisterError> {
        let aor = self.address_of_record(request)?;
        let call_id = match request.call_id() {
            Some(Ok(c)) => c.0,
            _ => return Err(RegisterError::BadHeader("Call-ID")),
        };
        let cseq = match request.cseq() {
            Some(Ok(c)) => c.seq,
            _ => return Err(RegisterError::BadHeader("CSeq")),
        };
        let expires = match request.headers.get(&Known::Expires.into()) {
            None => None,
            Some(v) => Some(parse_seconds(v).ok_or(RegisterError::BadHeader("Expires"))?),
        };
        let contacts = request
            .headers
            .typed_all::<Contact>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| RegisterError::BadHeader("Contact"))?;
        let paths = request
            .headers
            .typed_all::<Path>()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| RegisterError::BadHeader("Path"))?;
        let supported = |tag: &[u8]| {
            request
                .headers
                .typed_all::<Supported>()
                .any(|s| s.is_ok_and(|s| s.as_bytes().eq_ignore_ascii_case(tag)))
        };
        // RFC 5626 §6: outbound applies when the UA supports it and a
        // contact carries both +sip.instance and reg-id.
        let flows = contacts
            .iter()
            .filter_map(Contact::address)
            .filter(|a| a.params().contains("+sip.instance") && reg_id(a).is_some())
            .count();
        let outbound = flows > 0 && supported(b"outbound");
        if outbound {
            if flows > 1 {
                return Err(RegisterError::MultipleRegIds);
            }
            let vias = request.headers.typed_all::<Via>().count();
            let first_hop_ob = paths
                .first()
                .and_then(|p| p.uri().as_sip())
                .is_some_and(|u| u.params().contains("ob"));
            if vias > 1 && !first_hop_ob {
                return Err(RegisterError::FirstHopLacksOutbound);
            }
        }
        Ok(Parsed {
            aor,
            call_id,
            cseq,
            expires,
            contacts,
            path: paths
                .iter()
                .map(crate::header::TypedHeader::to_bytes)
                .collect(),
            supports_path: supported(b"path"),
            outbound,
            user_agent: request.headers.get_bytes(&Known::UserAgent.into()),
        })
    }

    fn apply_contacts(
        &self,
        now: Instant,
        p: &Parsed,
        old: &[Binding],
        new: &mut Vec<Binding>,
        source: ReplyPath,
    ) -> Result<(), RegisterError> {
        let cfg = &self.config;
        for contact in &p.contacts {
            let Contact::Address(addr) = contact else {
                continue;
            };
            // Step 6: the contact's expires, else the header, else default;
            // a malformed parameter counts as absent.
            let requested = addr
                .params()
                .value("expires")
                .and_then(parse_seconds)
                .or(p.expires)
                .unwrap_or(cfg.default_expires);
            if requested != 0 && requested < cfg.min_expires {
                return Err(RegisterError::IntervalTooBrief {
                    min: cfg.min_expires,
                });
            }
            let expires = requested.min(cfg.max_expires);
            let instance = addr
                .params()
                .value("+sip.instance")
                .map(Bytes::copy_from_slice);
            let mut stored = addr.clone();
            stored.remove_param("expires");
            let candidate = Binding {
                aor: p.aor.clone(),
                contact: stored,
                expires_at: now
                    .checked_add(Duration::from_secs(u64::from(expires)))
                    .ok_or(RegisterError::BadHeader("Expires"))?,
                registered_at: now,
                q: contact.q().unwrap_or(1000),
                call_id: p.call_id.clone(),
                cseq: p.cseq,
                path: p.path.clone(),
                reg_id: if p.outbound && instance.is_some() {
                    reg_id(addr)
                } else {
                    None
                },
                instance,
                source,
                user_agent: p.user_agent.clone(),
            };
            let key = candidate.key();
            // Step 7, against the binding as stored before this request.
            if let Some(existing) = old.iter().find(|b| b.key() == key) {
                check_order(existing, p)?;
            }
            match (new.iter().position(|b| b.key() == key), expires) {
                (Some(i), 0) => {
                    new.remove(i);
                }
                (Some(i), _) => new[i] = candidate,
                (None, 0) => {}
                (None, _) => new.push(candidate),
            }
        }
        Ok(())
    }

    fn diff_events(&mut self, aor: &Bytes, old: &[Binding], new: &[Binding]) {
        for o in old {
            let key = o.key();
            if !new.iter().any(|b| b.key() == key) {
                self.events.push_back(RegistrarEvent::Unregistered {
                    aor: aor.clone(),
                    binding: o.clone(),
                    reason: UnregisterReason::Removed,
                });
            }
        }
        for b in new {
            let key = b.key();
            let event = match old.iter().find(|o| o.key() == key) {
                None => RegistrarEvent::Registered {
                    aor: aor.clone(),
                    binding: b.clone(),
                },
                Some(o) if o.contact.uri() == b.contact.uri() && o.source == b.source => {
                    if o == b {
                        continue;
                    }
                    RegistrarEvent::Refreshed {
                        aor: aor.clone(),
                        binding: b.clone(),
                    }
                }
                Some(o) => {
                    self.events.push_back(RegistrarEvent::Unregistered {
                        aor: aor.clone(),
                        binding: o.clone(),
                        reason: UnregisterReason::Replaced,
                    });
                    RegistrarEvent::Registered {
                        aor: aor.clone(),
                        binding: b.clone(),
                    }
                }
            };
            self.events.push_back(event);
        }
    }

    /// The unexpired bindings of `aor` (canonical, see [`canonical_aor`]):
    /// highest `q` first, then the most recently registered.
    pub fn lookup(&self, now: Instant, aor: &[u8]) -> Vec<Binding> {
        let mut bindings = self.store.bindings(aor, now);
        sort_for_lookup(&mut bindings);
        bindings
    }

    /// Removes the bindings expired at `now`, raising
    /// [`RegistrarEvent::Unregistered`] for each.
    pub fn handle_timeout(&mut self, now: Instant) {
        for binding in self.store.expire(now) {
            self.events.push_back(RegistrarEvent::Unregistered {
                aor: binding.aor.clone(),
                binding,
                reason: UnregisterReason::Expired,
            });
        }
    }

    /// When [`Registrar::handle_timeout`] should next run: the earliest
    /// expiry of any binding.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.store.next_expiry()
    }

    /// The next change in the location service.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RegistrarEvent> {
        self.events.pop_front()
    }
}

/// RFC 3261 §10.3 step 7: same Call-ID needs a higher CSeq.
fn check_order(existing: &Binding, p: &Parsed) -> Result<(), RegisterError> {
    if existing.call_id == p.call_id && p.cseq <= existing.cseq {
        return Err(RegisterError::OutOfOrder);
    }
    Ok(())
}

fn sort_for_lookup(bindings: &mut [Binding]) {
    bindings.sort_by(|a, b| {
        b.q.cmp(&a.q)
            .then_with(|| b.registered_at.cmp(&a.registered_at))
    });
}

/// A delta-seconds value; values above 2^32-1 count as 2^32-1 (RFC 3261
/// §20.19). `None` unless it is all digits.
fn parse_seconds(v: &[u8]) -> Option<u32> {
    let v = v.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u32, |acc, d| {
        acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
    }))
}

/// The `reg-id` parameter: 1 to 2^31-1 (RFC 5626 §4.2).
fn reg_id(addr: &crate::header::NameAddr) -> Option<u32> {
    let v = parse_seconds(addr.params().value("reg-id")?)?;
    (1..=EXPIRES_LIMIT).contains(&v).then_some(v)
}

/// A To tag derived from the Call-ID (FNV-1a), so the registrar needs no
/// random source and a repeated REGISTER gets the same tag.
fn to_tag(request: &Request) -> String {
    let call_id = request
        .headers
        .get(&Known::CallId.into())
        .unwrap_or_default();
    let hash = call_id.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
        (h ^ u64::from(*c)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{hash:016x}")
}
