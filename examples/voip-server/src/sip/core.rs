//! The server's SIP core: a sans-IO hub that puts the voip-sip layers
//! together the way Kamailio's routing script does in the seed.
//!
//! ```text
//! Receive ─► parse ─► (malformed: 400/505/513 or drop, stateless)
//!                  ─► validate (400, stateless) ─► stamp Via (received/rport)
//!                  ─► TransactionLayer ─► Proxy (its branches, CANCEL, Timer C)
//!                  ─► route():
//!        in-dialog (To tag) ......... loose_route ─► forward | 481
//!        REGISTER ................... 401 challenge ─► Registrar ─► 200 + bindings
//!        OPTIONS .................... 200 (Allow, Accept, Supported)
//!        INVITE, MESSAGE, ... ....... 407 challenge ─► user? 404 ─► bindings? 480
//!                                     ─► fork to every binding (parallel)
//! ```
//!
//! Every initial request but OPTIONS is authenticated before anything is
//! looked up, so a scanner learns nothing about which extensions exist
//! (all get the same challenge); repeated failures ban the source, and a
//! banned source's packets are dropped before parsing.
//!
//! Responses go back the way the request came (RFC 3581 symmetric
//! routing); requests to registered users go over the flow they
//! registered from (their NAT binding or connection), with Record-Route
//! flow tokens bringing in-dialog requests back the same way.

use std::collections::{HashSet, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use voip_core::{Receive, Rng, Transmit};
use voip_sip::auth::{AuthConfig, AuthOutcome, DigestAuthenticator};
use voip_sip::header::{MaxForwards, To, TypedHeader, Via};
use voip_sip::proxy::{
    BranchCredentials, Destination, ForkMode, Incoming, Interface, NextHop, Proxy, ProxyConfig,
    ProxyEvent,
};

use super::calls::{CallEvent, Outcome};
use voip_sip::registrar::{Registrar, RegistrarConfig};
use voip_sip::reply::reply_to_malformed;
use voip_sip::transaction::{
    ReplyPath, Target, TransactionConfig, TransactionEvent, TransactionId, TransactionLayer,
};
use voip_sip::trunk::{Registration, RegistrationConfig, RegistrationState};
use voip_sip::validate::{UasPolicy, check_request};
use voip_sip::{
    Host, Known, Message, Method, ParseConfig, Request, Response, StatusCode, Uri, parse_message,
};

use super::trunks::{Did, Trunk};
use super::users::Directory;

/// Methods the server serves (the Allow header).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, PRACK, REFER, SUBSCRIBE, NOTIFY";

/// What the core needs to know.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Our listening addresses as advertised (Via, Record-Route).
    pub interfaces: Vec<Interface>,
    /// The extensions.
    pub users: Directory,
    /// The SIP domain; address-of-records are `sip:<extension>@<domain>`.
    pub domain: String,
    /// Digest realm.
    pub realm: String,
    /// Failed authentications from one address before it is banned.
    pub max_auth_failures: u32,
    /// How long a ban lasts.
    pub ban: Duration,
    /// Digest algorithms offered, one challenge each, in this order.
    pub algorithms: Vec<voip_sip::auth::Algorithm>,
    /// Carrier trunks.
    pub trunks: Vec<Trunk>,
    /// Inbound numbers.
    pub dids: Vec<Did>,
    /// The key of Record-Route flow tokens; keep it across restarts (the
    /// server stores it in the data dir) so calls outlive a restart.
    /// `None`: a random one.
    pub flow_secret: Option<Vec<u8>>,
    /// The IVR media server (see `crate::ivr`), when enabled.
    pub ivr: Option<IvrRoute>,
}

/// Where calls to the IVR extension go, and the one source the proxy
/// trusts without digest authentication: the IVR's own SIP socket (its
/// transfers to agents come from there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrRoute {
    /// The extension that reaches the IVR, e.g. `9999`.
    pub extension: String,
    /// The IVR's SIP socket (UDP, loopback).
    pub addr: std::net::SocketAddr,
}

/// A trunk and its registration.
#[derive(Debug)]
struct TrunkState {
    trunk: Trunk,
    registration: Option<Registration>,
    /// The client transaction of the REGISTER in flight.
    transaction: Option<TransactionId>,
    /// The state last logged.
    logged: RegistrationState,
}

/// Counters of what the core did, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CoreStats {
    /// Requests parsed.
    pub requests: u64,
    /// Responses received.
    pub responses: u64,
    /// Messages that did not parse.
    pub malformed: u64,
    /// Malformed messages dropped without an answer.
    pub malformed_dropped: u64,
    /// Stateless answers (validation failures, malformed requests).
    pub stateless_replies: u64,
    /// Packets dropped because their source is banned.
    pub banned_dropped: u64,
    /// Requests forwarded to a registered user or along a route.
    pub forwarded: u64,
}

/// The SIP core of the reference server.
#[derive(Debug)]
pub struct SipCore {
    parse: ParseConfig,
    policy: UasPolicy,
    rng: Rng,
    layer: TransactionLayer,
    proxy: Proxy,
    registrar: Registrar,
    registrar_auth: DigestAuthenticator,
    proxy_auth: DigestAuthenticator,
    users: Directory,
    domain: String,
    interfaces: Vec<Interface>,
    out: VecDeque<Transmit>,
    stats: CoreStats,
    server_header: Bytes,
    trunks: Vec<TrunkState>,
    dids: Vec<Did>,
    calls: VecDeque<CallEvent>,
    /// The wall-clock time of the input being handled (for call events).
    wall: SystemTime,
    /// The authenticated caller of the request being routed, if any.
    caller: Option<String>,
    /// The IVR behind us, if enabled.
    ivr: Option<IvrRoute>,
    /// Whether the INVITE being routed has the IVR at one end.
    ivr_leg: bool,
    /// Call-IDs of live calls with the IVR at one end (their media is
    /// not anchored: the IVR is a media endpoint of ours).
    ivr_calls: HashSet<String>,
}

impl SipCore {
    /// A core for `config`, drawing tags, branches, nonces and secrets from `rng`.
    pub fn new(config: CoreConfig, mut rng: Rng) -> Result<Self, voip_core::ConfigError> {
        let auth = |proxy: bool| {
            AuthConfig::default()
                .realm(config.realm.clone())
                .max_failures(config.max_auth_failures)
                .ban_duration(config.ban)
                .algorithms(&config.algorithms)
                .proxy(proxy)
                .build()
        };
        let registrar_auth = DigestAuthenticator::new(auth(false)?, Rng::seeded(rng.next_u64()));
        let proxy_auth = DigestAuthenticator::new(auth(true)?, Rng::seeded(rng.next_u64()));
        let registrar =
            Registrar::with_memory_store(std::sync::Arc::new(RegistrarConfig::default().build()?));
        let mut proxy_config = ProxyConfig::new(config.interfaces.clone(), &mut rng);
        if let Some(secret) = config.flow_secret.clone() {
            proxy_config.secret = secret;
        }
        let proxy = Proxy::new(proxy_config, Rng::seeded(rng.next_u64()));
        let layer = TransactionLayer::new(
            TransactionConfig::default().build()?,
            Rng::seeded(rng.next_u64()),
        );
        let udp = config
            .interfaces
            .iter()
            .find(|i| i.protocol == voip_core::TransportProtocol::Udp)
            .map(|i| i.addr);
        let mut trunks = Vec::with_capacity(config.trunks.len());
        for trunk in config.trunks {
            let registration = match (trunk.register, udp) {
                (true, Some(local)) => {
                    let uri = |text: String| {
                        text.parse::<Uri>().map_err(|_| {
                            voip_core::ConfigError::new(
                                "trunks",
                                format!("trunk {}: {text:?} is not a SIP URI", trunk.name),
                            )
                        })
                    };
                    let host = trunk.host();
                    let config = RegistrationConfig::new(
                        uri(format!("sip:{host}"))?,
                        uri(format!("sip:{}@{host}", trunk.username))?,
                        uri(format!("sip:{}@{local}", trunk.username))?,
                        format!("SIP/2.0/UDP {local};rport"),
                    )
                    .credentials(trunk.username.clone(), trunk.password.clone())
                    .expires(trunk.expires);
                    Some(Registration::new(config, Rng::seeded(rng.next_u64())))
                }
                (true, None) => {
                    tracing::warn!(trunk = %trunk.name, "no UDP listener: trunk not registered");
                    None
                }
                (false, _) => None,
            };
            trunks.push(TrunkState {
                trunk,
                registration,
                transaction: None,
                logged: RegistrationState::Unregistered,
            });
        }
        Ok(Self {
            parse: ParseConfig::default(),
            policy: UasPolicy::default(),
            rng,
            layer,
            proxy,
            registrar,
            registrar_auth,
            proxy_auth,
            users: config.users,
            domain: config.domain,
            interfaces: config.interfaces,
            out: VecDeque::new(),
            stats: CoreStats::default(),
            server_header: Bytes::from(format!("voip-server/{}", env!("CARGO_PKG_VERSION"))),
            trunks,
            dids: config.dids,
            calls: VecDeque::new(),
            wall: SystemTime::UNIX_EPOCH,
            caller: None,
            ivr: config.ivr,
            ivr_leg: false,
            ivr_calls: HashSet::new(),
        })
    }

    /// Starts the trunk registrations; call once before the first event.
    pub fn start(&mut self, now: Instant) {
        for t in &mut self.trunks {
            if let Some(registration) = &mut t.registration {
                registration.start(now);
            }
        }
        self.pump_trunks(now);
    }

    /// The registration state of each trunk that registers, by name.
    #[cfg(test)]
    pub fn trunk_states(&self) -> Vec<(&str, RegistrationState)> {
        self.trunks
            .iter()
            .filter_map(|t| Some((t.trunk.name.as_str(), t.registration.as_ref()?.state())))
            .collect()
    }

    /// Sends the trunks' queued REGISTERs and logs state changes.
    fn pump_trunks(&mut self, now: Instant) {
        for t in &mut self.trunks {
            let Some(registration) = &mut t.registration else {
                continue;
            };
            while let Some(request) = registration.poll_request() {
                let target = Target::new(voip_core::TransportProtocol::Udp, t.trunk.target);
                match self.layer.send_request(now, request, target) {
                    Ok(id) => t.transaction = Some(id),
                    Err(error) => {
                        tracing::warn!(trunk = %t.trunk.name, %error, "register not sent");
                        registration.handle_transaction_timeout(now);
                    }
                }
            }
            let state = registration.state();
            if std::mem::discriminant(&state) != std::mem::discriminant(&t.logged) {
                match state {
                    RegistrationState::Registered { until } => tracing::info!(
                        trunk = %t.trunk.name,
                        expires_in = ?until.saturating_duration_since(now),
                        "trunk registered"
                    ),
                    RegistrationState::Failed { retry_at } => tracing::info!(
                        trunk = %t.trunk.name,
                        retry_in = ?retry_at.saturating_duration_since(now),
                        "trunk registration failed"
                    ),
                    other => {
                        tracing::info!(trunk = %t.trunk.name, state = ?other, "trunk registration")
                    }
                }
            }
            t.logged = state;
        }
    }

    /// A response or failure for a trunk's REGISTER transaction; false if
    /// `id` is not one.
    fn trunk_event(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Option<&Response>,
    ) -> bool {
        let Some(t) = self.trunks.iter_mut().find(|t| t.transaction == Some(id)) else {
            return false;
        };
        if let Some(registration) = &mut t.registration {
            match response {
                Some(response) if response.status.is_provisional() => return true,
                Some(response) => registration.handle_response(now, response),
                None => registration.handle_transaction_timeout(now),
            }
        }
        t.transaction = None;
        self.pump_trunks(now);
        true
    }

    /// What the core has done so far.
    pub fn stats(&self) -> CoreStats {
        self.stats
    }

    /// Whether `extension` has a live binding (the IVR picks agents by it).
    pub fn is_registered(&self, now: Instant, extension: &str) -> bool {
        let aor = format!("sip:{extension}@{}", self.domain);
        !self.registrar.lookup(now, aor.as_bytes()).is_empty()
    }

    /// Live registrations (bindings).
    pub fn registrations(&self) -> usize {
        self.registrar.store().len()
    }

    /// Handles one received message. `wall` is the wall-clock time (nonce
    /// timestamps and bans).
    pub fn handle_receive(&mut self, now: Instant, wall: SystemTime, rx: Receive) {
        self.wall = wall;
        self.caller = None;
        self.ivr_leg = false;
        let ip = rx.source.ip();
        if self.registrar_auth.is_banned(wall, ip) || self.proxy_auth.is_banned(wall, ip) {
            self.stats.banned_dropped += 1;
            return;
        }
        let path = ReplyPath::from(&rx);
        match parse_message(rx.contents.clone(), &self.parse) {
            Err(error) => {
                self.stats.malformed += 1;
                tracing::debug!(source = %rx.source, %error, "malformed sip message");
                let tag = self.rng.token(10);
                match reply_to_malformed(&rx.contents, &error, &tag) {
                    Some(bytes) => self.send_stateless(&rx, bytes),
                    None => self.stats.malformed_dropped += 1,
                }
            }
            Ok(Message::Response(response)) => {
                self.stats.responses += 1;
                self.layer
                    .handle_message(now, Message::Response(response), path);
            }
            Ok(Message::Request(mut request)) => {
                self.stats.requests += 1;
                if request.method != Method::Ack {
                    if let Err(rejection) = check_request(&request) {
                        tracing::debug!(status = %rejection.status, reason = %rejection.reason, "rejected");
                        let response = rejection.response(&request);
                        self.reply_stateless(&rx, response);
                        return;
                    }
                }
                stamp_top_via(&mut request, &rx);
                self.layer
                    .handle_message(now, Message::Request(request), path);
            }
        }
        self.drain_events(now, wall);
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime) {
        self.wall = wall;
        self.layer.handle_timeout(now);
        self.proxy.handle_timeout(&mut self.layer, now);
        if self.registrar.poll_timeout().is_some_and(|t| t <= now) {
            self.registrar.handle_timeout(now);
        }
        while self.registrar.poll_event().is_some() {}
        for t in &mut self.trunks {
            if let Some(registration) = &mut t.registration
                && registration.poll_timeout().is_some_and(|at| at <= now)
            {
                registration.handle_timeout(now);
            }
        }
        self.pump_trunks(now);
        self.drain_events(now, wall);
    }

    /// The next deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.layer.poll_timeout(),
            self.proxy.poll_timeout(),
            self.registrar.poll_timeout(),
        ]
        .into_iter()
        .chain(
            self.trunks
                .iter()
                .map(|t| t.registration.as_ref().and_then(Registration::poll_timeout)),
        )
        .flatten()
        .min()
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out
            .pop_front()
            .or_else(|| self.layer.poll_transmit())
            .or_else(|| self.proxy.poll_transmit())
    }

    /// The next call accounting event (for the CDR writer).
    pub fn poll_call_event(&mut self) -> Option<CallEvent> {
        self.calls.pop_front()
    }

    /// Whether `uri` names this proxy (one of our Record-Route entries).
    pub fn is_own_uri(&self, uri: &Uri) -> bool {
        uri.as_sip().is_some_and(|sip| self.proxy.is_own_uri(sip))
    }

    /// Sends a request the server originates itself (a BYE hanging up a
    /// call whose media failed) in a client transaction toward `target`,
    /// with our Via for its transport. Its response ends there.
    pub fn originate(&mut self, now: Instant, mut request: Request, target: Target) {
        let Some(iface) = self
            .interfaces
            .iter()
            .find(|i| i.protocol == target.protocol)
            .or_else(|| self.interfaces.first())
        else {
            return;
        };
        let via = format!("SIP/2.0/{} {}", target.protocol.as_str(), iface.addr);
        request.headers.prepend_raw(Known::Via, via);
        if let Err(error) = self.layer.send_request(now, request, target) {
            tracing::debug!(%error, "request not sent");
        }
    }

    /// Records that the server ended a call itself (`cause`, e.g. why its
    /// media failed): the call record closes as failed.
    pub fn end_call(&mut self, wall: SystemTime, call_id: &str, cause: &str) {
        self.push_call_event(CallEvent::Ended {
            call_id: call_id.to_owned(),
            outcome: Outcome::Failed,
            cause: cause.to_owned(),
            at: wall,
        });
    }

    /// Whether a call has the IVR at one end (its media is not anchored).
    pub fn is_ivr_call(&self, call_id: &str) -> bool {
        self.ivr_calls.contains(call_id)
    }

    fn push_call_event(&mut self, event: CallEvent) {
        if let CallEvent::Ended { call_id, .. } = &event {
            self.ivr_calls.remove(call_id);
        }
        self.calls.push_back(event);
    }

    fn drain_events(&mut self, now: Instant, wall: SystemTime) {
        self.drain_transaction_events(now, wall);
        while let Some(event) = self.proxy.poll_event() {
            if let ProxyEvent::Final {
                initial_invite: true,
                call_id,
                status,
                ..
            } = event
            {
                let call_id = String::from_utf8_lossy(&call_id).into_owned();
                self.push_call_event(if status.is_success() {
                    CallEvent::Answered { call_id, at: wall }
                } else {
                    CallEvent::Ended {
                        call_id,
                        outcome: Outcome::of_final(status.as_u16()),
                        cause: status.to_string(),
                        at: wall,
                    }
                });
            }
        }
    }

    fn drain_transaction_events(&mut self, now: Instant, wall: SystemTime) {
        while let Some(event) = self.layer.poll_event() {
            let Some(event) = self.proxy.handle_event(&mut self.layer, now, event) else {
                continue;
            };
            match event {
                TransactionEvent::Request {
                    id,
                    request,
                    path,
                    cancels,
                    ..
                } => {
                    if request.method == Method::Cancel {
                        // answered by the transaction layer; a CANCEL for a
                        // proxied INVITE was consumed by the proxy
                        let _ = cancels;
                        continue;
                    }
                    let span = tracing::debug_span!("request", method = %request.method, source = %path.remote);
                    let _guard = span.enter();
                    self.route(now, wall, id, request, path);
                }
                TransactionEvent::Ack { mut request, path } => {
                    let routes_before = route_count(&request);
                    let hop = self.proxy.loose_route(&mut request, &path);
                    if route_count(&request) == routes_before {
                        continue; // not a dialog of ours: absorb
                    }
                    if let NextHop::Forward(target) = hop {
                        if self.proxy.prepare_stateless(&mut request, &target).is_ok() {
                            self.layer.send_stateless(Transmit {
                                protocol: target.protocol,
                                source: None,
                                destination: target.destination,
                                connection: target.connection,
                                contents: request.to_bytes(),
                            });
                        }
                    }
                }
                TransactionEvent::Response { id, response } => {
                    self.trunk_event(now, id, Some(&response));
                }
                TransactionEvent::Timeout { id } | TransactionEvent::TransportError { id } => {
                    self.trunk_event(now, id, None);
                }
                _ => {}
            }
        }
    }

    fn respond(&mut self, now: Instant, id: TransactionId, request: &Request, status: StatusCode) {
        let response = Response::for_request(request, status);
        self.respond_with(now, id, response);
    }

    fn respond_with(&mut self, now: Instant, id: TransactionId, response: Response) {
        let tag = self.rng.token(10);
        let mut response = response.with_to_tag(&tag);
        response
            .headers
            .push(Known::Server, self.server_header.clone());
        if let Err(error) = self.layer.send_response(now, id, response) {
            tracing::debug!(%error, "response not sent");
        }
    }

    fn route(
        &mut self,
        now: Instant,
        wall: SystemTime,
        id: TransactionId,
        mut request: Request,
        path: ReplyPath,
    ) {
        if let Err(rejection) = self.policy.check(&request) {
            let response = rejection.response(&request);
            return self.respond_with(now, id, response);
        }
        let local_target = self.is_local_uri(&request.uri, &path);
        let max_forwards = request.headers.typed::<MaxForwards>().and_then(Result::ok);
        if max_forwards == Some(MaxForwards(0))
            && !(local_target && request.method == Method::Options)
        {
            return self.respond(now, id, &request, StatusCode::TOO_MANY_HOPS);
        }
        let in_dialog = request
            .to()
            .and_then(Result::ok)
            .is_some_and(|t| t.tag().is_some());
        if in_dialog {
            // Only dialogs we record-routed are routed through us (Kamailio's
            // "404 Not here"): anything else would make us an open relay.
            let routes_before = route_count(&request);
            let hop = self.proxy.loose_route(&mut request, &path);
            let ours = route_count(&request) < routes_before;
            return match hop {
                NextHop::Forward(target) if ours => {
                    if request.method == Method::Bye {
                        self.push_call_event(CallEvent::Ended {
                            call_id: call_id_of(&request),
                            outcome: Outcome::Completed,
                            cause: "BYE".to_owned(),
                            at: wall,
                        });
                    }
                    let dest = Destination {
                        uri: request.uri.clone(),
                        target,
                        route: Vec::new(),
                    };
                    self.forward(now, id, &request, path, vec![dest], ForkMode::Serial);
                }
                NextHop::Local if request.method == Method::Options => {
                    self.options(now, id, &request)
                }
                NextHop::Forward(_) => self.respond(now, id, &request, StatusCode::NOT_FOUND),
                _ => self.respond(
                    now,
                    id,
                    &request,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                ),
            };
        }
        match request.method {
            Method::Register => self.register(now, wall, id, &request, path, local_target),
            Method::Options => self.options(now, id, &request),
            Method::Invite | Method::Message | Method::Subscribe | Method::Refer => {
                self.initial_request(now, wall, id, request, path, local_target)
            }
            Method::Bye | Method::Prack | Method::Update | Method::Info | Method::Notify => self
                .respond(
                    now,
                    id,
                    &request,
                    StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                ),
            Method::Publish => {
                self.respond_allow(now, id, &request, StatusCode::METHOD_NOT_ALLOWED)
            }
            _ => self.respond_allow(now, id, &request, StatusCode::NOT_IMPLEMENTED),
        }
    }

    fn respond_allow(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: &Request,
        status: StatusCode,
    ) {
        let mut response = Response::for_request(request, status);
        response
            .headers
            .push(Known::Allow, Bytes::from_static(ALLOW.as_bytes()));
        self.respond_with(now, id, response);
    }

    fn options(&mut self, now: Instant, id: TransactionId, request: &Request) {
        let mut response = Response::for_request(request, StatusCode::OK);
        response
            .headers
            .push(Known::Allow, Bytes::from_static(ALLOW.as_bytes()));
        response
            .headers
            .push(Known::Accept, Bytes::from_static(b"application/sdp"));
        response
            .headers
            .push(Known::Supported, Bytes::from_static(b"path"));
        self.respond_with(now, id, response);
    }

    fn register(
        &mut self,
        now: Instant,
        wall: SystemTime,
        id: TransactionId,
        request: &Request,
        path: ReplyPath,
        local_target: bool,
    ) {
        if !local_target {
            return self.respond(now, id, request, StatusCode::NOT_FOUND);
        }
        let username = match self
            .registrar_auth
            .check(wall, path.remote.ip(), request, &self.users)
        {
            AuthOutcome::Authenticated { username } => username,
            AuthOutcome::Challenge(r) | AuthOutcome::Forbidden(r) => {
                return self.respond_with(now, id, r);
            }
            _ => return,
        };
        let to_user = request
            .to()
            .and_then(Result::ok)
            .and_then(|t| user_of(t.uri()));
        if to_user.as_deref() != Some(username.as_str()) {
            // one may only register one's own extension
            return self.respond(now, id, request, StatusCode::FORBIDDEN);
        }
        // Bindings are kept under sip:<extension>@<domain>, whatever host
        // and port the client put in To.
        let mut canonical = request.clone();
        let aor: Uri = match format!("sip:{username}@{}", self.domain).parse() {
            Ok(u) => u,
            Err(_) => return self.respond(now, id, request, StatusCode::SERVER_INTERNAL_ERROR),
        };
        if let Some(Ok(mut to)) = canonical.to() {
            to.set_uri(aor);
            canonical.headers.set_typed(&to);
        }
        let mut response = self.registrar.handle_register(now, &canonical, path);
        while self.registrar.poll_event().is_some() {}
        // answer with the client's own To (plus our tag)
        if let (Some(original), Some(Ok(ours))) =
            (request.headers.get_bytes(&Known::To.into()), response.to())
        {
            let mut to: To = match To::parse(&original) {
                Ok(t) => t,
                Err(_) => return self.respond_with(now, id, response),
            };
            if let Some(tag) = ours.tag() {
                to.set_tag(Bytes::copy_from_slice(tag));
            }
            response.headers.set_typed(&to);
        }
        self.respond_with(now, id, response);
    }

    fn initial_request(
        &mut self,
        now: Instant,
        wall: SystemTime,
        id: TransactionId,
        request: Request,
        path: ReplyPath,
        local_target: bool,
    ) {
        if local_target && request.method == Method::Invite {
            if let Some(extension) = self.inbound_did(&request, &path) {
                tracing::debug!(%extension, "inbound call from a trunk");
                return self.call_extension(now, id, request, path, &extension);
            }
        }
        // The IVR's own socket is trusted (it authenticated the caller it
        // transfers); everyone else answers the digest challenge.
        let trusted = self.ivr.as_ref().is_some_and(|ivr| {
            ivr.addr == path.remote && path.protocol == voip_core::TransportProtocol::Udp
        });
        let username = if trusted {
            match request
                .from()
                .and_then(Result::ok)
                .and_then(|f| user_of(f.uri()))
            {
                Some(user) => user,
                None => return self.respond(now, id, &request, StatusCode::FORBIDDEN),
            }
        } else {
            match self
                .proxy_auth
                .check(wall, path.remote.ip(), &request, &self.users)
            {
                AuthOutcome::Authenticated { username } => username,
                AuthOutcome::Challenge(r) | AuthOutcome::Forbidden(r) => {
                    return self.respond_with(now, id, r);
                }
                _ => return,
            }
        };
        let from_user = request
            .from()
            .and_then(Result::ok)
            .and_then(|f| user_of(f.uri()));
        if from_user.as_deref() != Some(username.as_str()) {
            return self.respond(now, id, &request, StatusCode::FORBIDDEN);
        }
        self.caller = Some(username);
        self.ivr_leg = trusted;
        let mut request = request;
        // credentials are for us, not for the callee
        request.headers.remove(&Known::ProxyAuthorization.into());
        if local_target
            && request.method == Method::Invite
            && let Some(dialled) = user_of(&request.uri)
            && self.users.get(&dialled).is_none()
            // local numbers win over trunk prefixes (9999 with prefix "9")
            && self.ivr.as_ref().is_none_or(|ivr| ivr.extension != dialled)
            && let Some((dest, credentials)) = self.route_to_trunk(&mut request, &dialled)
        {
            // the carrier may challenge the call: answer with the trunk's
            // credentials instead of relaying the challenge to the caller
            let incoming = Incoming {
                id,
                request: &request,
                path,
            };
            let forwarded = self.proxy.forward_authenticated(
                &mut self.layer,
                now,
                incoming,
                vec![dest],
                ForkMode::Serial,
                credentials,
            );
            return self.forwarded(now, id, &request, forwarded);
        }
        if !local_target {
            // an authenticated user calling out directly: only IP targets
            // (trunks with DNS come later)
            return match request.uri.as_sip().and_then(voip_sip::proxy::uri_target) {
                Some(target) => {
                    let dest = Destination {
                        uri: request.uri.clone(),
                        target,
                        route: Vec::new(),
                    };
                    self.forward(now, id, &request, path, vec![dest], ForkMode::Serial);
                }
                None => self.respond(now, id, &request, StatusCode::NOT_FOUND),
            };
        }
        let Some(callee) = user_of(&request.uri) else {
            return self.respond(now, id, &request, StatusCode::NOT_FOUND);
        };
        if let Some(ivr) = self.ivr.clone()
            && callee == ivr.extension
            && request.method == Method::Invite
        {
            if trusted {
                // the IVR does not call itself
                return self.respond(now, id, &request, StatusCode::LOOP_DETECTED);
            }
            return self.call_ivr(now, id, request, path, &ivr);
        }
        self.call_extension(now, id, request, path, &callee);
    }

    /// The extension for an INVITE from a trunk's IP to one of our DIDs.
    fn inbound_did(&self, request: &Request, path: &ReplyPath) -> Option<String> {
        let source = path.remote.ip();
        if !self.trunks.iter().any(|t| t.trunk.target.ip() == source) {
            return None;
        }
        let number = user_of(&request.uri)?;
        self.dids
            .iter()
            .find(|d| d.number == number)
            .map(|d| d.extension.clone())
    }

    /// Rewrites an authenticated user's INVITE to `dialled` for the first
    /// trunk whose prefix matches: Request-URI `sip:<number>@<trunk host>`,
    /// From user the trunk's number, and a P-Asserted-Identity.
    fn route_to_trunk(
        &self,
        request: &mut Request,
        dialled: &str,
    ) -> Option<(Destination, BranchCredentials)> {
        let t = self
            .trunks
            .iter()
            .find(|t| t.trunk.outbound_number(dialled).is_some())?;
        let number = t.trunk.outbound_number(dialled)?;
        let host = t.trunk.host();
        let identity = format!("sip:{}@{host}", t.trunk.from_user);
        let uri: Uri = format!("sip:{number}@{host}").parse().ok()?;
        let identity_uri: Uri = identity.parse().ok()?;
        if let Some(Ok(mut from)) = request.from() {
            from.set_uri(identity_uri);
            request.headers.set_typed(&from);
        }
        request.headers.remove(&Known::PAssertedIdentity.into());
        request
            .headers
            .push(Known::PAssertedIdentity, format!("<{identity}>"));
        request.uri = uri.clone();
        tracing::info!(trunk = %t.trunk.name, %number, "outbound call through trunk");
        let credentials = BranchCredentials {
            username: t.trunk.username.clone(),
            password: t.trunk.password.clone(),
        };
        let destination = Destination {
            uri,
            target: Target::new(voip_core::TransportProtocol::Udp, t.trunk.target),
            route: Vec::new(),
        };
        Some((destination, credentials))
    }

    /// Forwards an INVITE for the IVR extension to the IVR's socket, as to
    /// any destination (Record-Route and call records as usual).
    fn call_ivr(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        path: ReplyPath,
        ivr: &IvrRoute,
    ) {
        self.ivr_leg = true;
        let Ok(uri) = format!("sip:{}@{}", ivr.extension, ivr.addr).parse::<Uri>() else {
            return self.respond(now, id, &request, StatusCode::SERVER_INTERNAL_ERROR);
        };
        let dest = Destination {
            uri,
            target: Target::new(voip_core::TransportProtocol::Udp, ivr.addr),
            route: Vec::new(),
        };
        self.forward(now, id, &request, path, vec![dest], ForkMode::Serial);
    }

    /// Forks `request` to every binding of `callee`.
    fn call_extension(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: Request,
        path: ReplyPath,
        callee: &str,
    ) {
        if self.users.get(callee).is_none() {
            return self.respond(now, id, &request, StatusCode::NOT_FOUND);
        }
        let aor = format!("sip:{callee}@{}", self.domain);
        let bindings = self.registrar.lookup(now, aor.as_bytes());
        if bindings.is_empty() {
            return self.respond(now, id, &request, StatusCode::TEMPORARILY_UNAVAILABLE);
        }
        let destinations = bindings
            .iter()
            .map(|b| Destination {
                uri: b.contact.uri().clone(),
                target: voip_sip::transaction::Target {
                    protocol: b.source.protocol,
                    destination: b.source.remote,
                    connection: b.source.connection,
                },
                route: b.path.clone(),
            })
            .collect();
        self.forward(now, id, &request, path, destinations, ForkMode::Parallel);
    }

    fn forward(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: &Request,
        path: ReplyPath,
        destinations: Vec<Destination>,
        mode: ForkMode,
    ) {
        let incoming = Incoming { id, request, path };
        let forwarded = self
            .proxy
            .forward(&mut self.layer, now, incoming, destinations, mode);
        self.forwarded(now, id, request, forwarded);
    }

    fn forwarded(
        &mut self,
        now: Instant,
        id: TransactionId,
        request: &Request,
        result: Result<(), voip_sip::proxy::ProxyError>,
    ) {
        match result {
            Ok(()) => {
                self.stats.forwarded += 1;
                let to = request.to().and_then(Result::ok);
                if request.method == Method::Invite
                    && to.as_ref().is_some_and(|t| t.tag().is_none())
                {
                    let from = self.caller.take().or_else(|| {
                        request
                            .from()
                            .and_then(Result::ok)
                            .and_then(|f| user_of(f.uri()))
                    });
                    if std::mem::take(&mut self.ivr_leg) {
                        self.ivr_calls.insert(call_id_of(request));
                    }
                    self.calls.push_back(CallEvent::Started {
                        call_id: call_id_of(request),
                        from: from.unwrap_or_default(),
                        to: to.and_then(|t| user_of(t.uri())).unwrap_or_default(),
                        at: self.wall,
                    });
                }
            }
            Err(error) => {
                tracing::debug!(%error, "cannot forward");
                self.respond(now, id, request, StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    }

    /// Whether `uri` names this server: our domain, `localhost`, one of our
    /// addresses, or the address the request arrived at.
    fn is_local_uri(&self, uri: &Uri, path: &ReplyPath) -> bool {
        let Some(sip) = uri.as_sip() else {
            return false;
        };
        match &sip.host() {
            Host::Domain(d) => {
                d.eq_ignore_ascii_case(self.domain.as_bytes())
                    || d.eq_ignore_ascii_case(b"localhost")
            }
            host => host.ip().is_some_and(|ip| self.is_local_ip(ip, path)),
        }
    }

    fn is_local_ip(&self, ip: IpAddr, path: &ReplyPath) -> bool {
        ip == path.local.ip()
            || ip.is_loopback()
            || self.interfaces.iter().any(|i| i.addr.ip() == ip)
    }

    fn send_stateless(&mut self, rx: &Receive, bytes: Bytes) {
        self.stats.stateless_replies += 1;
        self.out.push_back(Transmit::reply_to(rx, bytes));
    }

    fn reply_stateless(&mut self, rx: &Receive, response: Response) {
        let tag = self.rng.token(10);
        let mut response = response.with_to_tag(&tag);
        response
            .headers
            .push(Known::Server, self.server_header.clone());
        self.send_stateless(rx, response.to_bytes());
    }
}

/// Number of Route entries.
fn call_id_of(request: &Request) -> String {
    request
        .headers
        .get(&Known::CallId.into())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

fn route_count(request: &Request) -> usize {
    request
        .headers
        .typed_all::<voip_sip::header::Route>()
        .count()
}

/// The user part of a SIP URI, unescaped only as far as it is plain text.
fn user_of(uri: &Uri) -> Option<String> {
    let user = uri.as_sip()?.user()?;
    std::str::from_utf8(user).ok().map(str::to_owned)
}

/// Adds `received` and fills `rport` in the top Via (RFC 3581).
fn stamp_top_via(request: &mut Request, rx: &Receive) {
    let Some(Ok(mut via)) = request.headers.typed::<Via>() else {
        return;
    };
    via.stamp_source(rx.source);
    let Some(line) = request.headers.get_bytes(&Known::Via.into()) else {
        return;
    };
    let rest = split_after_first_item(&line);
    let mut value = via.to_bytes().to_vec();
    if let Some(rest) = rest {
        value.extend_from_slice(b", ");
        value.extend_from_slice(&rest);
    }
    request.headers.set_first(&Known::Via.into(), value);
}

fn split_after_first_item(value: &Bytes) -> Option<Bytes> {
    let mut quoted = false;
    for (i, c) in value.iter().enumerate() {
        match c {
            b'"' => quoted = !quoted,
            b',' if !quoted => return Some(Bytes::copy_from_slice(value[i + 1..].trim_ascii())),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use voip_core::TransportProtocol;
    use voip_sip::auth::authorize;

    use super::*;
    use crate::sip::users::User;

    const SERVER: &str = "127.0.0.1:5060";
    const ALICE: &str = "127.0.0.1:41001";
    const BOB: &str = "127.0.0.1:41002";

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn core() -> SipCore {
        core_with(Vec::new(), Vec::new())
    }

    const CARRIER: &str = "127.0.0.9:5080";

    fn carrier_trunk() -> Trunk {
        Trunk {
            name: "carrier".into(),
            target: addr(CARRIER),
            domain: None,
            username: "trunkuser".into(),
            password: "trunkpass".into(),
            register: true,
            expires: 120,
            from_user: "5551000".into(),
            prefix: "9".into(),
            strip: true,
        }
    }

    fn core_with(trunks: Vec<Trunk>, dids: Vec<Did>) -> SipCore {
        let users = Directory::new([
            User {
                extension: "1001".into(),
                password: "secret1".into(),
                display_name: None,
            },
            User {
                extension: "1002".into(),
                password: "secret2".into(),
                display_name: None,
            },
        ]);
        SipCore::new(
            CoreConfig {
                interfaces: vec![Interface {
                    protocol: TransportProtocol::Udp,
                    addr: addr(SERVER),
                }],
                users,
                domain: "localhost".into(),
                realm: "localhost".into(),
                max_auth_failures: 3,
                ban: Duration::from_secs(60),
                algorithms: vec![
                    voip_sip::auth::Algorithm::Sha256,
                    voip_sip::auth::Algorithm::Md5,
                ],
                trunks,
                dids,
                flow_secret: None,
                ivr: None,
            },
            Rng::seeded(7),
        )
        .unwrap()
    }

    struct Net {
        core: SipCore,
        now: Instant,
        wall: SystemTime,
    }

    impl Net {
        fn new() -> Self {
            Self {
                core: core(),
                now: Instant::now(),
                wall: SystemTime::now(),
            }
        }

        /// Sends `request` from `from` and returns everything the core sent.
        fn send(&mut self, from: &str, bytes: Bytes) -> Vec<Transmit> {
            self.core.handle_receive(
                self.now,
                self.wall,
                Receive {
                    protocol: TransportProtocol::Udp,
                    source: addr(from),
                    destination: addr(SERVER),
                    connection: None,
                    contents: bytes,
                },
            );
            std::iter::from_fn(|| self.core.poll_transmit()).collect()
        }

        /// The final response among `sent` addressed to `to`.
        fn final_to(sent: &[Transmit], to: &str) -> Option<Response> {
            sent.iter()
                .filter(|t| t.destination == addr(to))
                .filter_map(
                    |t| match parse_message(t.contents.clone(), &ParseConfig::default()) {
                        Ok(Message::Response(r)) if r.status.is_final() => Some(r),
                        _ => None,
                    },
                )
                .last()
        }

        fn request_to(sent: &[Transmit], to: &str) -> Option<Request> {
            sent.iter()
                .filter(|t| t.destination == addr(to))
                .find_map(
                    |t| match parse_message(t.contents.clone(), &ParseConfig::default()) {
                        Ok(Message::Request(r)) => Some(r),
                        _ => None,
                    },
                )
        }

        /// Sends `request`, answers a 401/407 with credentials once, returns
        /// the final response.
        fn with_auth(
            &mut self,
            from: &str,
            mut request: Request,
            user: &str,
            password: &str,
        ) -> Response {
            let sent = self.send(from, request.to_bytes());
            let first = Self::final_to(&sent, from).unwrap();
            if !matches!(first.status.as_u16(), 401 | 407) {
                return first;
            }
            let mut rng = Rng::seeded(3);
            authorize(&mut request, &first, user, password, &mut rng).unwrap();
            bump(&mut request);
            let sent = self.send(from, request.to_bytes());
            Self::final_to(&sent, from).unwrap()
        }
    }

    fn bump(request: &mut Request) {
        let mut cseq = request.cseq().unwrap().unwrap();
        cseq.seq += 1;
        request.headers.set_typed(&cseq);
        let branch = format!("z9hG4bK{}", Rng::os().token(12));
        let mut via = request.via().unwrap().unwrap();
        via.set_param("branch", Some(Bytes::from(branch)));
        request.headers.set_typed(&via);
    }

    fn register(user: &str, from: &str) -> Request {
        let mut r = Request::new(Method::Register, "sip:localhost".parse().unwrap());
        for (n, v) in [
            (
                "Via",
                format!("SIP/2.0/UDP {from};branch=z9hG4bKreg{user};rport"),
            ),
            ("From", format!("<sip:{user}@localhost>;tag=r{user}")),
            ("To", format!("<sip:{user}@localhost>")),
            ("Call-ID", format!("reg-{user}")),
            ("CSeq", "1 REGISTER".into()),
            ("Contact", format!("<sip:{user}@{from}>")),
            ("Max-Forwards", "70".into()),
            ("Expires", "300".into()),
        ] {
            r.headers
                .push(voip_sip::HeaderName::from_bytes(n.into()), Bytes::from(v));
        }
        r
    }

    fn invite(from_user: &str, from: &str, to_user: &str) -> Request {
        let mut r = Request::new(
            Method::Invite,
            format!("sip:{to_user}@127.0.0.1").parse().unwrap(),
        );
        for (n, v) in [
            (
                "Via",
                format!("SIP/2.0/UDP {from};branch=z9hG4bKinv{from_user}{to_user};rport"),
            ),
            (
                "From",
                format!("<sip:{from_user}@localhost>;tag=i{from_user}"),
            ),
            ("To", format!("<sip:{to_user}@localhost>")),
            ("Call-ID", format!("call-{from_user}-{to_user}")),
            ("CSeq", "1 INVITE".into()),
            ("Contact", format!("<sip:{from_user}@{from}>")),
            ("Max-Forwards", "70".into()),
        ] {
            r.headers
                .push(voip_sip::HeaderName::from_bytes(n.into()), Bytes::from(v));
        }
        r
    }

    const IVR: &str = "127.0.0.1:45999";

    #[test]
    fn ivr_extension_goes_to_the_ivr_and_the_ivr_is_trusted() {
        let mut n = Net::new();
        n.core.ivr = Some(IvrRoute {
            extension: "9999".into(),
            addr: addr(IVR),
        });
        assert_eq!(
            n.with_auth(BOB, register("1002", BOB), "1002", "secret2")
                .status,
            StatusCode::OK
        );
        assert!(n.core.is_registered(n.now, "1002"));
        assert!(!n.core.is_registered(n.now, "1001"));
        // the caller authenticates as for any call, then reaches the IVR
        let mut inv = invite("1001", ALICE, "9999");
        let sent = n.send(ALICE, inv.to_bytes());
        let challenge = Net::final_to(&sent, ALICE).unwrap();
        assert_eq!(challenge.status.as_u16(), 407);
        authorize(&mut inv, &challenge, "1001", "secret1", &mut Rng::seeded(1)).unwrap();
        bump(&mut inv);
        let sent = n.send(ALICE, inv.to_bytes());
        let forwarded = Net::request_to(&sent, IVR).expect("INVITE forwarded to the IVR");
        assert_eq!(forwarded.uri.to_string(), format!("sip:9999@{IVR}"));
        assert_eq!(forwarded.headers.count(&Known::RecordRoute.into()), 2);
        // the IVR is a media endpoint of ours: its calls are not anchored
        assert!(n.core.is_ivr_call("call-1001-9999"));
        // the IVR's transfer to an agent needs no credentials
        let transfer = invite("9999", IVR, "1002");
        let sent = n.send(IVR, transfer.to_bytes());
        let to_bob = Net::request_to(&sent, BOB).expect("the IVR's INVITE reaches the agent");
        assert_eq!(to_bob.method, Method::Invite);
        assert!(n.core.is_ivr_call("call-9999-1002"));
        // anyone else calling from another port of the same host is challenged
        let spoof = invite("9999", "127.0.0.1:45998", "1002");
        let sent = n.send("127.0.0.1:45998", spoof.to_bytes());
        assert_eq!(
            Net::final_to(&sent, "127.0.0.1:45998")
                .unwrap()
                .status
                .as_u16(),
            407
        );
        // the IVR does not call itself
        let mut looped = invite("9999", IVR, "9999");
        looped
            .headers
            .set(Known::CallId.into(), Bytes::from_static(b"loop"));
        let sent = n.send(IVR, looped.to_bytes());
        assert_eq!(Net::final_to(&sent, IVR).unwrap().status.as_u16(), 482);
    }

    #[test]
    fn register_needs_digest_auth_then_binds() {
        let mut n = Net::new();
        let r = n.with_auth(BOB, register("1002", BOB), "1002", "secret2");
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(n.core.registrations(), 1);
        // the wrong password is challenged again
        let r = n.with_auth(ALICE, register("1001", ALICE), "1001", "wrong");
        assert_eq!(r.status.as_u16(), 401);
    }

    #[test]
    fn registered_users_call_each_other_through_the_proxy() {
        let mut n = Net::new();
        assert_eq!(
            n.with_auth(BOB, register("1002", BOB), "1002", "secret2")
                .status,
            StatusCode::OK
        );
        let mut inv = invite("1001", ALICE, "1002");
        let sent = n.send(ALICE, inv.to_bytes());
        let challenge = Net::final_to(&sent, ALICE).unwrap();
        assert_eq!(challenge.status.as_u16(), 407);
        authorize(&mut inv, &challenge, "1001", "secret1", &mut Rng::seeded(1)).unwrap();
        bump(&mut inv);
        let sent = n.send(ALICE, inv.to_bytes());
        let forwarded = Net::request_to(&sent, BOB).expect("INVITE forwarded to Bob's binding");
        assert_eq!(forwarded.method, Method::Invite);
        assert!(
            !forwarded
                .headers
                .contains(&Known::ProxyAuthorization.into())
        );
        assert_eq!(forwarded.headers.count(&Known::RecordRoute.into()), 2);
        assert_eq!(forwarded.headers.typed_all::<Via>().count(), 2);
        // Bob answers 200; it reaches Alice
        let ok = Response::for_request(&forwarded, StatusCode::OK).with_to_tag("bob");
        let sent = n.send(BOB, ok.to_bytes());
        let r = Net::final_to(&sent, ALICE).unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.headers.typed_all::<Via>().count(), 1, "our Via removed");
        assert!(!n.core.is_ivr_call("call-1001-1002"));
        // accounting: the call started (by the authenticated caller) and was answered
        let events: Vec<CallEvent> = std::iter::from_fn(|| n.core.poll_call_event()).collect();
        assert!(
            matches!(&events[..], [
                CallEvent::Started { from, to, .. },
                CallEvent::Answered { .. },
            ] if from == "1001" && to == "1002"),
            "{events:?}"
        );
    }

    #[test]
    fn unknown_and_unregistered_callees_after_authentication() {
        let mut n = Net::new();
        let r = n.with_auth(ALICE, invite("1001", ALICE, "1002"), "1001", "secret1");
        assert_eq!(r.status, StatusCode::TEMPORARILY_UNAVAILABLE);
        let r = n.with_auth(ALICE, invite("1001", ALICE, "9876"), "1001", "secret1");
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }

    #[test]
    fn extensions_cannot_be_enumerated() {
        let mut n = Net::new();
        // the same answer for a known and an unknown extension
        for (user, src) in [("1001", "127.0.0.1:42001"), ("5555", "127.0.0.1:42002")] {
            let sent = n.send(src, register(user, src).to_bytes());
            assert_eq!(
                Net::final_to(&sent, src).unwrap().status.as_u16(),
                401,
                "{user}"
            );
            let sent = n.send(src, invite(user, src, "1002").to_bytes());
            assert_eq!(
                Net::final_to(&sent, src).unwrap().status.as_u16(),
                407,
                "{user}"
            );
        }
    }

    #[test]
    fn brute_force_is_banned() {
        let mut n = Net::new();
        for i in 0..3 {
            let mut r = register("1001", ALICE);
            r.headers
                .set(Known::CallId.into(), Bytes::from(format!("bf-{i}")));
            let _ = n.with_auth(ALICE, r, "1001", "guess");
        }
        // banned: even the right password is dropped now
        let sent = n.send(ALICE, register("1001", ALICE).to_bytes());
        assert!(sent.is_empty());
        assert!(n.core.stats().banned_dropped >= 1);
        // another address still works
        let other = "127.0.0.2:41002";
        let r = n.with_auth(other, register("1002", other), "1002", "secret2");
        assert_eq!(r.status, StatusCode::OK);
    }

    #[test]
    fn options_and_torture_semantics() {
        let mut n = Net::new();
        let mut o = invite("x", ALICE, "y");
        o.method = Method::Options;
        o.headers
            .set(Known::CSeq.into(), Bytes::from_static(b"1 OPTIONS"));
        let sent = n.send(ALICE, o.to_bytes());
        let r = Net::final_to(&sent, ALICE).unwrap();
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.headers.contains(&Known::Allow.into()));
        // garbage is dropped and counted
        assert!(
            n.send(ALICE, Bytes::from_static(b"\x00\x01garbage"))
                .is_empty()
        );
        assert_eq!(n.core.stats().malformed_dropped, 1);
    }

    fn parse_request(t: &Transmit) -> Option<Request> {
        match parse_message(t.contents.clone(), &ParseConfig::default()) {
            Ok(Message::Request(r)) => Some(r),
            _ => None,
        }
    }

    #[test]
    fn trunk_registers_with_digest_and_refreshes() {
        let mut n = Net::new();
        n.core = core_with(vec![carrier_trunk()], Vec::new());
        n.core.start(n.now);
        let sent: Vec<Transmit> = std::iter::from_fn(|| n.core.poll_transmit()).collect();
        let register = parse_request(&sent[0]).unwrap();
        assert_eq!(sent[0].destination, addr(CARRIER));
        assert_eq!(register.method, Method::Register);
        assert_eq!(register.uri.to_string(), format!("sip:{CARRIER}"));
        let mut challenge =
            Response::for_request(&register, StatusCode::UNAUTHORIZED).with_to_tag("c");
        challenge.headers.push(
            Known::WwwAuthenticate,
            r#"Digest realm="carrier", nonce="abc", algorithm=MD5, qop="auth""#,
        );
        let sent = n.send(CARRIER, challenge.to_bytes());
        let again = parse_request(&sent[0]).unwrap();
        assert!(again.headers.contains(&Known::Authorization.into()));
        assert_eq!(again.cseq().unwrap().unwrap().seq, 2);
        let mut ok = Response::for_request(&again, StatusCode::OK).with_to_tag("c");
        ok.headers.push(
            Known::Contact,
            format!("<sip:trunkuser@{SERVER}>;expires=60"),
        );
        n.send(CARRIER, ok.to_bytes());
        assert!(matches!(
            n.core.trunk_states()[0].1,
            RegistrationState::Registered { .. }
        ));
        // refresh after half of the granted 60 s
        let refresh = n.now + Duration::from_secs(30);
        assert!(n.core.poll_timeout().unwrap() <= refresh);
        n.core.handle_timeout(refresh, n.wall);
        let sent: Vec<Transmit> = std::iter::from_fn(|| n.core.poll_transmit()).collect();
        let refresh = sent
            .iter()
            .filter_map(parse_request)
            .find(|r| r.method == Method::Register);
        assert_eq!(refresh.unwrap().cseq().unwrap().unwrap().seq, 3);
    }

    #[test]
    fn outbound_call_through_trunk_rewrites_from() {
        let mut n = Net::new();
        let mut trunk = carrier_trunk();
        trunk.register = false;
        n.core = core_with(vec![trunk], Vec::new());
        let mut inv = invite("1001", ALICE, "95551234");
        let sent = n.send(ALICE, inv.to_bytes());
        let challenge = Net::final_to(&sent, ALICE).unwrap();
        assert_eq!(challenge.status.as_u16(), 407);
        authorize(&mut inv, &challenge, "1001", "secret1", &mut Rng::seeded(1)).unwrap();
        bump(&mut inv);
        let sent = n.send(ALICE, inv.to_bytes());
        let out = Net::request_to(&sent, CARRIER).expect("INVITE to the carrier");
        assert_eq!(out.uri.to_string(), format!("sip:5551234@{CARRIER}"));
        let from = out.from().unwrap().unwrap();
        assert_eq!(from.uri().to_string(), format!("sip:5551000@{CARRIER}"));
        assert_eq!(from.tag(), Some(&b"i1001"[..]));
        assert_eq!(
            out.headers.get(&Known::PAssertedIdentity.into()).unwrap(),
            format!("<sip:5551000@{CARRIER}>").as_bytes()
        );
        assert!(!out.headers.contains(&Known::ProxyAuthorization.into()));
    }

    #[test]
    fn the_ivr_extension_wins_over_a_trunk_prefix() {
        let mut n = Net::new();
        let mut trunk = carrier_trunk();
        trunk.register = false;
        n.core = core_with(vec![trunk], Vec::new());
        n.core.ivr = Some(IvrRoute {
            extension: "9999".into(),
            addr: addr(IVR),
        });
        let mut inv = invite("1001", ALICE, "9999");
        let sent = n.send(ALICE, inv.to_bytes());
        let challenge = Net::final_to(&sent, ALICE).unwrap();
        authorize(&mut inv, &challenge, "1001", "secret1", &mut Rng::seeded(1)).unwrap();
        bump(&mut inv);
        let sent = n.send(ALICE, inv.to_bytes());
        assert!(Net::request_to(&sent, IVR).is_some(), "9999 is the IVR");
        assert!(Net::request_to(&sent, CARRIER).is_none(), "not the carrier");
    }

    #[test]
    fn inbound_did_rings_its_extension_without_auth() {
        let mut n = Net::new();
        let mut trunk = carrier_trunk();
        trunk.register = false;
        n.core = core_with(
            vec![trunk],
            vec![Did {
                number: "5551000".into(),
                extension: "1002".into(),
            }],
        );
        assert_eq!(
            n.with_auth(BOB, register("1002", BOB), "1002", "secret2")
                .status,
            StatusCode::OK
        );
        let sent = n.send(CARRIER, invite("carrier", CARRIER, "5551000").to_bytes());
        let forwarded = Net::request_to(&sent, BOB).expect("INVITE forwarded to 1002");
        assert_eq!(forwarded.method, Method::Invite);
        // another number from the carrier's IP still needs credentials
        let sent = n.send(CARRIER, invite("carrier", CARRIER, "1002").to_bytes());
        assert_eq!(Net::final_to(&sent, CARRIER).unwrap().status.as_u16(), 407);
    }
}
