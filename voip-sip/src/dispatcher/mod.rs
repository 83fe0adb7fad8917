//! A load balancer over a set of SIP destinations with OPTIONS health
//! checks (the role of Kamailio's dispatcher module), sans-IO.
//!
//! A [`Dispatcher`] holds [`Member`]s (URI, next hop, weight, priority)
//! and picks one per call with an [`Algorithm`]: round-robin, weighted,
//! a hash over the Call-ID (sticky), or priority with failover. Members
//! that are [`Health::Down`] are skipped. [`Dispatcher::select`] returns a
//! [`proxy::Destination`](crate::proxy::Destination), and
//! [`Dispatcher::select_all`] the failover order to hand to
//! [`Proxy::forward`](crate::proxy::Proxy::forward) with
//! [`ForkMode::Serial`](crate::proxy::ForkMode::Serial).
//!
//! Every `ping_interval` the pinger sends an OPTIONS to each member
//! (without one in flight). `down_after` consecutive failures (a timeout,
//! a transport error, or a reply that [`AliveOn`] does not count) take a
//! member down, `up_after` consecutive good replies bring it back; each
//! change is a [`DispatcherEvent`]. Pings go out either through a
//! [`TransactionLayer`] ([`Dispatcher::send_pings`] +
//! [`Dispatcher::handle_event`]) or, fully sans-IO, as [`Ping`]s from
//! [`Dispatcher::poll_ping`] whose results come back through
//! [`Dispatcher::handle_ping_response`] / [`Dispatcher::handle_ping_failure`].
//!
//! ```
//! use std::time::Instant;
//! use voip_core::Rng;
//! use voip_sip::dispatcher::{Algorithm, Dispatcher, DispatcherConfig, Member};
//!
//! let members = vec![
//!     Member::from_uri("sip:10.0.0.1:5060".parse().unwrap()).unwrap(),
//!     Member::from_uri("sip:10.0.0.2:5060".parse().unwrap()).unwrap(),
//! ];
//! let config = DispatcherConfig::new("SIP/2.0/UDP 10.0.0.10:5060;rport")
//!     .algorithm(Algorithm::CallIdHash);
//! let mut d = Dispatcher::new(config, members, Rng::seeded(1));
//! let now = Instant::now();
//! d.start(now);
//! let ping = d.poll_ping().unwrap(); // an OPTIONS for the first member
//! assert_eq!(ping.request.method, voip_sip::Method::Options);
//! let a = d.select(b"call-1@host").unwrap();
//! assert_eq!(d.select(b"call-1@host").unwrap(), a); // sticky
//! ```

mod health;
mod select;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use voip_core::{ConfigError, Rng};

pub use health::{AliveOn, Health};
pub use select::Algorithm;

use health::HealthState;

use crate::header::CSeq;
use crate::message::{Known, Method, Request, StatusCode};
use crate::proxy::{Destination, uri_target};
use crate::transaction::{Target, TransactionEvent, TransactionId, TransactionLayer};
use crate::uri::Uri;

/// Identifies a member: its index in the list given to [`Dispatcher::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(pub usize);

/// One destination of the set.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Member {
    /// The Request-URI of forwarded requests and pings.
    pub uri: Uri,
    /// The next hop (resolve a domain with [`crate::resolve`] first).
    pub target: Target,
    /// Share of traffic for [`Algorithm::Weighted`] [default: 1].
    pub weight: u32,
    /// Higher first for [`Algorithm::Priority`] [default: 0].
    pub priority: u32,
}

impl Member {
    /// A member reached at `target`.
    pub fn new(uri: Uri, target: Target) -> Self {
        Self {
            uri,
            target,
            weight: 1,
            priority: 0,
        }
    }

    /// A member whose URI has a numeric host (the target follows from it);
    /// `None` for a domain name.
    pub fn from_uri(uri: Uri) -> Option<Self> {
        let target = uri_target(uri.as_sip()?)?;
        Some(Self::new(uri, target))
    }

    /// Sets the weight.
    #[must_use]
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: u32) -> Self {
        self.priority = priority;
        self
    }
}

/// Dispatcher settings.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DispatcherConfig {
    /// How members are picked [default: round-robin].
    pub algorithm: Algorithm,
    /// Time between two rounds of OPTIONS [default: 10 s].
    pub ping_interval: Duration,
    /// Consecutive failures that take a member down [default: 3].
    pub down_after: u32,
    /// Consecutive good replies that bring it back [default: 2].
    pub up_after: u32,
    /// Which replies count as alive [default: anything but 5xx].
    pub alive_on: AliveOn,
    /// From URI of the pings [default: `sip:dispatcher@localhost`].
    pub ping_from: String,
    /// Via of the pings without a branch (`SIP/2.0/UDP 192.0.2.10:5060;rport`);
    /// the transaction layer adds the branch.
    pub via: String,
}

impl DispatcherConfig {
    /// The defaults, with the Via our pings carry.
    pub fn new(via: impl Into<String>) -> Self {
        Self {
            algorithm: Algorithm::RoundRobin,
            ping_interval: Duration::from_secs(10),
            down_after: 3,
            up_after: 2,
            alive_on: AliveOn::NotServerError,
            ping_from: "sip:dispatcher@localhost".into(),
            via: via.into(),
        }
    }

    /// Sets the algorithm.
    #[must_use]
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Sets the ping interval and the down/up thresholds.
    #[must_use]
    pub fn probing(mut self, interval: Duration, down_after: u32, up_after: u32) -> Self {
        self.ping_interval = interval;
        self.down_after = down_after;
        self.up_after = up_after;
        self
    }

    /// Sets which replies count as alive.
    #[must_use]
    pub fn alive_on(mut self, alive_on: AliveOn) -> Self {
        self.alive_on = alive_on;
        self
    }

    /// Checks the values.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.ping_interval.is_zero() {
            return Err(ConfigError::new(
                "ping_interval",
                "must be greater than zero",
            ));
        }
        if self.down_after == 0 || self.up_after == 0 {
            return Err(ConfigError::new(
                "down_after",
                "thresholds must be at least 1",
            ));
        }
        Ok(self)
    }
}

/// A health change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DispatcherEvent {
    /// The member stopped answering; it is skipped from now on.
    DestinationDown {
        /// The member.
        member: MemberId,
        /// Its URI.
        uri: Uri,
    },
    /// The member answers again and takes traffic.
    DestinationUp {
        /// The member.
        member: MemberId,
        /// Its URI.
        uri: Uri,
    },
}

/// An OPTIONS probe to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// The member probed.
    pub member: MemberId,
    /// The OPTIONS request (send it through a client transaction).
    pub request: Request,
    /// Where to send it.
    pub target: Target,
}

#[derive(Debug)]
struct Slot {
    member: Member,
    health: HealthState,
    /// A ping is in flight.
    probing: bool,
}

/// The load balancer and its pinger.
#[derive(Debug)]
pub struct Dispatcher {
    config: DispatcherConfig,
    rng: Rng,
    slots: Vec<Slot>,
    cursor: usize,
    next_ping: Option<Instant>,
    cseq: u32,
    pings: VecDeque<Ping>,
    events: VecDeque<DispatcherEvent>,
    /// Pings sent through [`Dispatcher::send_pings`], until their
    /// transaction terminates; `None` once their outcome was counted.
    transactions: HashMap<TransactionId, Option<MemberId>>,
}

impl Dispatcher {
    /// A dispatcher over `members`, all up; pings start with
    /// [`start`](Self::start).
    pub fn new(config: DispatcherConfig, members: Vec<Member>, rng: Rng) -> Self {
        Self {
            config,
            rng,
            slots: members
                .into_iter()
                .map(|member| Slot {
                    member,
                    health: HealthState::new(),
                    probing: false,
                })
                .collect(),
            cursor: 0,
            next_ping: None,
            cseq: 0,
            pings: VecDeque::new(),
            events: VecDeque::new(),
            transactions: HashMap::new(),
        }
    }

    /// Sends the first round of pings now, then one every interval.
    pub fn start(&mut self, now: Instant) {
        self.next_ping = Some(now);
        self.handle_timeout(now);
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// A member.
    pub fn member(&self, id: MemberId) -> Option<&Member> {
        self.slots.get(id.0).map(|s| &s.member)
    }

    /// A member's health.
    pub fn health(&self, id: MemberId) -> Option<Health> {
        self.slots.get(id.0).map(|s| s.health.health)
    }

    fn up(&self) -> Vec<bool> {
        self.slots
            .iter()
            .map(|s| s.health.health == Health::Up)
            .collect()
    }

    /// The member for a new request of call `call_id` (only
    /// [`Algorithm::CallIdHash`] looks at it); `None` when all are down.
    pub fn select_id(&mut self, call_id: &[u8]) -> Option<MemberId> {
        let up = self.up();
        let n = up.len();
        if n == 0 {
            return None;
        }
        let i = match self.config.algorithm {
            Algorithm::RoundRobin => {
                let i = select::next_up(&up, self.cursor % n)?;
                self.cursor = (i + 1) % n;
                i
            }
            Algorithm::Weighted => {
                let weights: Vec<u32> = self.slots.iter().map(|s| s.member.weight).collect();
                select::weighted(&up, &weights, &mut self.rng)?
            }
            Algorithm::CallIdHash => {
                select::next_up(&up, (select::hash(call_id) % n as u64) as usize)?
            }
            Algorithm::Priority => {
                let priorities: Vec<u32> = self.slots.iter().map(|s| s.member.priority).collect();
                select::by_priority(&priorities)
                    .into_iter()
                    .find(|&i| up[i])?
            }
        };
        Some(MemberId(i))
    }

    /// The destination for a new request of call `call_id`.
    pub fn select(&mut self, call_id: &[u8]) -> Option<Destination> {
        let id = self.select_id(call_id)?;
        self.destination(id)
    }

    /// Every member that is up, in failover order: the selected one first,
    /// then by priority for [`Algorithm::Priority`], else the list order
    /// after the selected one (Kamailio's `ds_next_dst`).
    pub fn select_all(&mut self, call_id: &[u8]) -> Vec<Destination> {
        let Some(first) = self.select_id(call_id) else {
            return Vec::new();
        };
        let up = self.up();
        let n = up.len();
        let rest: Vec<usize> = match self.config.algorithm {
            Algorithm::Priority => {
                let priorities: Vec<u32> = self.slots.iter().map(|s| s.member.priority).collect();
                select::by_priority(&priorities)
            }
            _ => (1..n).map(|k| (first.0 + k) % n).collect(),
        };
        std::iter::once(first.0)
            .chain(rest.into_iter().filter(|&i| i != first.0 && up[i]))
            .filter_map(|i| self.destination(MemberId(i)))
            .collect()
    }

    fn destination(&self, id: MemberId) -> Option<Destination> {
        let m = &self.slots.get(id.0)?.member;
        Some(Destination {
            uri: m.uri.clone(),
            target: m.target,
            route: Vec::new(),
        })
    }

    /// The member whose target is `target` (to report a failed branch).
    pub fn member_for(&self, target: &Target) -> Option<MemberId> {
        self.slots
            .iter()
            .position(|s| s.member.target.destination == target.destination)
            .map(MemberId)
    }

    /// Sets a member's health by hand (an operator's command).
    pub fn set_health(&mut self, id: MemberId, health: Health) {
        if let Some(s) = self.slots.get_mut(id.0) {
            if s.health.health != health {
                s.health.set(health);
                self.events.push_back(change_event(id, s));
            }
        }
    }

    /// Counts a result seen outside the pinger, such as a forwarded request
    /// that timed out (`alive == false`) or was answered.
    pub fn report(&mut self, id: MemberId, alive: bool) {
        let (down_after, up_after) = (self.config.down_after, self.config.up_after);
        if let Some(s) = self.slots.get_mut(id.0) {
            if s.health.record(alive, down_after, up_after).is_some() {
                self.events.push_back(change_event(id, s));
            }
        }
    }

    /// Starts a due round of pings.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.next_ping.is_none_or(|t| t > now) {
            return;
        }
        // an interval of zero (a config that skipped build()) must not spin
        let interval = self.config.ping_interval.max(Duration::from_millis(100));
        self.next_ping = Some(now + interval);
        for i in 0..self.slots.len() {
            if self.slots[i].probing {
                continue;
            }
            self.slots[i].probing = true;
            let request = self.options(i);
            let target = self.slots[i].member.target;
            self.pings.push_back(Ping {
                member: MemberId(i),
                request,
                target,
            });
        }
    }

    fn options(&mut self, i: usize) -> Request {
        self.cseq += 1;
        let uri = self.slots[i].member.uri.clone();
        let mut r = Request::new(Method::Options, uri.clone());
        r.headers.push(Known::Via, self.config.via.clone());
        r.headers.push(Known::MaxForwards, "70");
        let tag = self.rng.token(10);
        r.headers.push(
            Known::From,
            format!("<{}>;tag={tag}", self.config.ping_from),
        );
        r.headers.push(Known::To, format!("<{uri}>"));
        r.headers.push(Known::CallId, self.rng.token(20));
        r.headers.set_typed(&CSeq {
            seq: self.cseq,
            method: Method::Options,
        });
        r.headers.push(Known::UserAgent, "voip-sip dispatcher");
        r.headers.push(Known::ContentLength, "0");
        r
    }

    /// The next round of pings.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_ping
    }

    /// The next ping to send.
    #[must_use]
    pub fn poll_ping(&mut self) -> Option<Ping> {
        self.pings.pop_front()
    }

    /// The next health change.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<DispatcherEvent> {
        self.events.pop_front()
    }

    /// The final response to member `id`'s ping.
    pub fn handle_ping_response(&mut self, id: MemberId, status: StatusCode) {
        if status.is_provisional() {
            return;
        }
        let alive = self.config.alive_on.is_alive(status);
        self.ping_done(id, alive);
    }

    /// Member `id`'s ping timed out (Timer F) or could not be sent.
    pub fn handle_ping_failure(&mut self, id: MemberId) {
        self.ping_done(id, false);
    }

    fn ping_done(&mut self, id: MemberId, alive: bool) {
        match self.slots.get_mut(id.0) {
            Some(s) if s.probing => s.probing = false,
            _ => return,
        }
        self.report(id, alive);
    }

    /// Sends every queued ping through `layer`; a ping the layer refuses
    /// counts as failed.
    pub fn send_pings(&mut self, layer: &mut TransactionLayer, now: Instant) {
        while let Some(p) = self.pings.pop_front() {
            match layer.send_request(now, p.request, p.target) {
                Ok(tid) => {
                    self.transactions.insert(tid, Some(p.member));
                }
                Err(_) => self.handle_ping_failure(p.member),
            }
        }
    }

    /// Feeds a transaction event: the events of pings sent by
    /// [`send_pings`](Self::send_pings) are consumed (`None`), every other
    /// event is handed back.
    pub fn handle_event(&mut self, event: TransactionEvent) -> Option<TransactionEvent> {
        let id = match &event {
            TransactionEvent::Response { id, .. }
            | TransactionEvent::Timeout { id }
            | TransactionEvent::TransportError { id }
            | TransactionEvent::Terminated { id } => *id,
            _ => return Some(event),
        };
        let Some(entry) = self.transactions.get_mut(&id) else {
            return Some(event);
        };
        match event {
            TransactionEvent::Response { response, .. } if !response.status.is_provisional() => {
                if let Some(m) = entry.take() {
                    self.handle_ping_response(m, response.status);
                }
            }
            TransactionEvent::Timeout { .. } | TransactionEvent::TransportError { .. } => {
                if let Some(m) = entry.take() {
                    self.handle_ping_failure(m);
                }
            }
            TransactionEvent::Terminated { .. } => {
                self.transactions.remove(&id);
            }
            _ => {}
        }
        None
    }
}

fn change_event(id: MemberId, s: &Slot) -> DispatcherEvent {
    let uri = s.member.uri.clone();
    match s.health.health {
        Health::Up => DispatcherEvent::DestinationUp { member: id, uri },
        Health::Down => DispatcherEvent::DestinationDown { member: id, uri },
    }
}

#[cfg(test)]
mod tests;
