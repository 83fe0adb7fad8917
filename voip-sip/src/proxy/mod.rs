//! A stateful proxy core (RFC 3261 §16), sans-IO, on top of the
//! [`TransactionLayer`].
//!
//! The application decides *where* a request goes (a location lookup, a
//! dispatcher, a trunk) and hands [`Destination`]s to [`Proxy::forward`];
//! the proxy does the rest of §16.6: Request-URI, Max-Forwards,
//! Record-Route (two entries, one per side, each carrying a flow token so
//! in-dialog requests reach clients behind NAT or on WebSocket), Route from
//! Path, a new Via, one client transaction per branch; then §16.7: response
//! contexts, provisional and 2xx forwarding, best final response, CANCEL
//! of pending branches, serial and parallel forking, Timer C.
//!
//! In-dialog requests and ACKs for 2xx go through [`Proxy::loose_route`],
//! which pops our own Route entries (RFC 3261 §16.4) and names the next hop.

mod context;
mod flow;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::{Rng, Transmit, TransportProtocol};

use context::{Branch, Context};

use crate::auth::ClientAuthState;
use crate::header::{CSeq, MaxForwards, NameAddr, Route, TypedHeader, Via};
use crate::message::{Known, Method, Request, Response, StatusCode};
use crate::transaction::{
    ReplyPath, Target, TransactionError, TransactionEvent, TransactionId, TransactionLayer,
};
use crate::uri::{Host, SipUri, Uri};

/// One of our listening addresses, as advertised in Via and Record-Route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interface {
    /// Its transport.
    pub protocol: TransportProtocol,
    /// Its address.
    pub addr: SocketAddr,
}

/// Proxy settings.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Our listening addresses.
    pub interfaces: Vec<Interface>,
    /// Whether to Record-Route dialog-creating requests.
    pub record_route: bool,
    /// Timer C (RFC 3261 §16.6 step 11), more than 3 minutes.
    pub timer_c: Duration,
    /// Key for flow tokens (random per process by default; share it between
    /// nodes that must understand each other's Record-Route).
    pub secret: Vec<u8>,
}

impl ProxyConfig {
    /// A config for `interfaces` with a random secret from `rng`.
    pub fn new(interfaces: Vec<Interface>, rng: &mut Rng) -> Self {
        let mut secret = vec![0u8; 32];
        rng.fill(&mut secret);
        Self {
            interfaces,
            record_route: true,
            timer_c: Duration::from_secs(181),
            secret,
        }
    }
}

/// Where one branch of a forwarded request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The Request-URI of the branch (a registered contact, a trunk URI).
    pub uri: Uri,
    /// The next hop.
    pub target: Target,
    /// Route entries to put first (a binding's Path, RFC 3327).
    pub route: Vec<Bytes>,
}

/// A username and password the proxy answers digest challenges (401/407)
/// from the next hop with, as Kamailio's `uac_auth()` does for carriers
/// that challenge every INVITE.
///
/// The retried request keeps the caller's CSeq (a proxy cannot renumber a
/// dialog it does not own) and gets a new Via branch, so it is a new
/// transaction; carriers accept this, as they do from Kamailio.
#[derive(Clone, PartialEq, Eq)]
pub struct BranchCredentials {
    /// The user name to authenticate as.
    pub username: String,
    /// The password.
    pub password: String,
}

impl std::fmt::Debug for BranchCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BranchCredentials")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What the proxy reports to the application (call accounting, as
/// Kamailio's `acc` module records it).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyEvent {
    /// The final response to a forwarded request went upstream: the first
    /// 2xx, or the best final response once every branch is done.
    Final {
        /// The server transaction of the forwarded request.
        server: TransactionId,
        /// Its method.
        method: Method,
        /// Whether it was an INVITE without a To tag (a new call).
        initial_invite: bool,
        /// Its Call-ID.
        call_id: Bytes,
        /// The status sent upstream.
        status: StatusCode,
    },
    /// A branch was challenged by the next hop and the proxy answered with
    /// the destination's credentials.
    ChallengeAnswered {
        /// The server transaction of the forwarded request.
        server: TransactionId,
        /// 401 or 407.
        status: StatusCode,
    },
}

/// A request received in a server transaction, to be forwarded.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The server transaction.
    pub id: TransactionId,
    /// The request as received (after any rewriting by the application).
    pub request: &'a Request,
    /// How it arrived.
    pub path: ReplyPath,
}

/// Whether branches run together or one after another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForkMode {
    /// All at once (ring-all).
    Parallel,
    /// In order; the next after a failure.
    Serial,
}

/// What [`Proxy::loose_route`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextHop {
    /// Send to this target (the request was updated: our Route entries removed).
    Forward(Target),
    /// The request is for this element (no Route of ours, Request-URI local
    /// or unresolvable here): the application handles it.
    Local,
    /// A Route entry or Request-URI names a host this proxy cannot resolve
    /// (no DNS in the core yet).
    Unresolvable,
}

/// Why forwarding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// No destinations were given.
    #[error("no destination to forward to")]
    NoDestination,
    /// No interface of ours speaks the destination's transport.
    #[error("no local interface for transport {0}")]
    NoInterface(TransportProtocol),
    /// The transaction layer refused.
    #[error(transparent)]
    Transaction(#[from] TransactionError),
}

/// The stateful proxy core.
#[derive(Debug)]
pub struct Proxy {
    config: ProxyConfig,
    rng: Rng,
    contexts: HashMap<TransactionId, Context>,
    /// `(timer_c, server)` of every context whose Timer C runs (set and no
    /// final response sent yet), so the earliest deadline and the due ones
    /// are found without visiting every context: contexts live on for
    /// Timer L/J (32 s over UDP) after their final response, thousands of
    /// them under load.
    timer_c_queue: BTreeSet<(Instant, TransactionId)>,
    branch_of: HashMap<TransactionId, TransactionId>,
    stateless: VecDeque<Transmit>,
    events: VecDeque<ProxyEvent>,
    auth: ClientAuthState,
}

const RECORD_ROUTED: [Method; 4] = [
    Method::Invite,
    Method::Subscribe,
    Method::Refer,
    Method::Notify,
];

impl Proxy {
    /// A proxy with `config`.
    pub fn new(config: ProxyConfig, rng: Rng) -> Self {
        Self {
            config,
            rng,
            contexts: HashMap::new(),
            timer_c_queue: BTreeSet::new(),
            branch_of: HashMap::new(),
            stateless: VecDeque::new(),
            events: VecDeque::new(),
            auth: ClientAuthState::new(),
        }
    }

    /// Number of live response contexts.
    pub fn len(&self) -> usize {
        self.contexts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.contexts.is_empty()
    }

    fn interface(&self, protocol: TransportProtocol) -> Option<Interface> {
        self.config
            .interfaces
            .iter()
            .copied()
            .find(|i| i.protocol == protocol)
    }

    /// Whether `uri` names one of our interfaces.
    pub fn is_own_uri(&self, uri: &SipUri) -> bool {
        let Some(ip) = uri.host().ip() else {
            return false;
        };
        self.config.interfaces.iter().any(|i| {
            let port = uri.port.unwrap_or(i.protocol.default_port());
            (i.addr.ip() == ip || i.addr.ip().is_unspecified() && ip.is_loopback())
                && i.addr.port() == port
        })
    }

    fn record_route_uri(&self, iface: Interface, flow: &Target) -> Bytes {
        let mut uri = SipUri::new(Host::from(iface.addr.ip()));
        uri.set_user(Some(Bytes::from(flow::encode(&self.config.secret, flow))));
        uri.port = Some(iface.addr.port());
        if iface.protocol != TransportProtocol::Udp {
            uri.set_param(
                "transport",
                Some(Bytes::from_static(iface.protocol.as_uri_param().as_bytes())),
            );
        }
        uri.set_param("lr", None);
        let na = NameAddr::new(Uri::Sip(uri));

        Route(na).to_bytes()
    }

    /// RFC 3261 §16.4 for a request that arrived over `inbound`: removes our
    /// Route entries and names the next hop: the next Route, else the flow
    /// our Record-Route recorded, else the Request-URI when it is an IP.
    pub fn loose_route(&self, request: &mut Request, _inbound: &ReplyPath) -> NextHop {
        let mut flow = None;
        let mut popped = false;
        loop {
            let Some(Ok(route)) = request.headers.typed::<Route>() else {
                break;
            };
            let Some(sip) = route.uri().as_sip() else {
                break;
            };
            let decoded = sip
                .user()
                .as_ref()
                .and_then(|u| flow::decode(&self.config.secret, u));
            if !(self.is_own_uri(sip) || decoded.is_some()) {
                break;
            }
            pop_first_route(request);
            popped = true;
            if decoded.is_some() {
                flow = decoded;
            }
        }
        if let Some(Ok(route)) = request.headers.typed::<Route>() {
            return match route.uri().as_sip().and_then(uri_target) {
                Some(t) => NextHop::Forward(t),
                None => NextHop::Unresolvable,
            };
        }
        if let Some(f) = flow {
            return NextHop::Forward(f);
        }
        let _ = popped;
        match request.uri.as_sip() {
            Some(u) if self.is_own_uri(u) => NextHop::Local,
            Some(u) => uri_target(u).map_or(NextHop::Unresolvable, NextHop::Forward),
            None => NextHop::Unresolvable,
        }
    }

    /// Forwards `request` (received in server transaction `server` over
    /// `inbound`) to `destinations`.
    pub fn forward(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        incoming: Incoming<'_>,
        destinations: Vec<Destination>,
        mode: ForkMode,
    ) -> Result<(), ProxyError> {
        self.forward_inner(layer, now, incoming, destinations, mode, None)
    }

    /// [`forward`](Self::forward), answering a 401/407 from a destination
    /// once per branch with `credentials` (a trunk to a carrier that
    /// challenges calls). A second challenge on the same branch is final.
    pub fn forward_authenticated(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        incoming: Incoming<'_>,
        destinations: Vec<Destination>,
        mode: ForkMode,
        credentials: BranchCredentials,
    ) -> Result<(), ProxyError> {
        let credentials = Some(std::sync::Arc::new(credentials));
        self.forward_inner(layer, now, incoming, destinations, mode, credentials)
    }

    fn forward_inner(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        incoming: Incoming<'_>,
        mut destinations: Vec<Destination>,
        mode: ForkMode,
        credentials: Option<std::sync::Arc<BranchCredentials>>,
    ) -> Result<(), ProxyError> {
        let Incoming {
            id: server,
            request,
            path: inbound,
        } = incoming;
        if destinations.is_empty() {
            return Err(ProxyError::NoDestination);
        }
        let now_batch = match mode {
            ForkMode::Parallel => std::mem::take(&mut destinations),
            ForkMode::Serial => vec![destinations.remove(0)],
        };
        let mut ctx = Context {
            original: request.clone(),
            inbound,
            branches: Vec::new(),
            remaining: destinations,
            best: None,
            final_sent: false,
            timer_c: (request.method == Method::Invite).then(|| now + self.config.timer_c),
            credentials,
            initial_invite: request.method == Method::Invite
                && request
                    .to()
                    .and_then(Result::ok)
                    .is_none_or(|to| to.tag().is_none()),
        };
        let mut first_error = None;
        for d in now_batch {
            match self.start_branch(layer, now, server, &ctx.original, inbound, d) {
                Ok(b) => ctx.branches.push(b),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if ctx.branches.is_empty() {
            return Err(first_error.unwrap_or(ProxyError::NoDestination));
        }
        for b in &ctx.branches {
            self.branch_of.insert(b.id, server);
        }
        if let Some(at) = ctx.timer_c {
            self.timer_c_queue.insert((at, server));
        }
        self.contexts.insert(server, ctx);
        Ok(())
    }

    fn start_branch(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        _server: TransactionId,
        original: &Request,
        inbound: ReplyPath,
        d: Destination,
    ) -> Result<Branch, ProxyError> {
        let out_iface = self
            .interface(d.target.protocol)
            .ok_or(ProxyError::NoInterface(d.target.protocol))?;
        let mut req = original.clone();
        req.uri = d.uri.clone();
        let mf = req
            .headers
            .typed::<MaxForwards>()
            .and_then(Result::ok)
            .map_or(70, |m| m.0.saturating_sub(1));
        req.headers.set_typed(&MaxForwards(mf));
        if self.config.record_route && RECORD_ROUTED.contains(&req.method) {
            // Two entries: the inbound side below, the outbound side on top
            // (RFC 5658), each with the flow of its side.
            if let Some(in_iface) = self.interface(inbound.protocol) {
                let back = Target {
                    protocol: inbound.protocol,
                    destination: inbound.remote,
                    connection: inbound.connection,
                };
                let rr = self.record_route_uri(in_iface, &back);
                req.headers.prepend_raw(Known::RecordRoute, rr);
            }
            let rr = self.record_route_uri(out_iface, &d.target);
            req.headers.prepend_raw(Known::RecordRoute, rr);
        }
        for r in d.route.iter().rev() {
            req.headers.prepend_raw(Known::Route, r.clone());
        }
        let branch = layer.new_branch();
        let via = Via::new(
            out_iface.protocol,
            Host::from(out_iface.addr.ip()),
            Some(out_iface.addr.port()),
            &branch,
        );
        let mut via = via;
        via.set_param("rport", None);
        req.headers.prepend_typed(&via);
        let id = layer.send_request(now, req.clone(), d.target)?;
        Ok(Branch {
            id,
            request: req,
            target: d.target,
            provisional: false,
            cancel_wanted: false,
            cancelled: false,
            done: false,
            authenticated: false,
        })
    }

    /// Feeds a transaction event to the proxy. Events of our branches and
    /// CANCELs of forwarded INVITEs are consumed (`None`); every other event
    /// is handed back for the application.
    pub fn handle_event(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        event: TransactionEvent,
    ) -> Option<TransactionEvent> {
        match event {
            TransactionEvent::Response { id, response } if self.branch_of.contains_key(&id) => {
                self.on_response(layer, now, id, response);
                None
            }
            TransactionEvent::Timeout { id } if self.branch_of.contains_key(&id) => {
                self.on_branch_failure(layer, now, id, StatusCode::REQUEST_TIMEOUT);
                None
            }
            TransactionEvent::TransportError { id } if self.branch_of.contains_key(&id) => {
                self.on_branch_failure(layer, now, id, StatusCode::SERVICE_UNAVAILABLE);
                None
            }
            TransactionEvent::Terminated { id } if self.branch_of.contains_key(&id) => {
                self.branch_of.remove(&id);
                None
            }
            TransactionEvent::Terminated { id } if self.contexts.contains_key(&id) => {
                if let Some(ctx) = self.contexts.remove(&id)
                    && let Some(at) = ctx.timer_c
                {
                    self.timer_c_queue.remove(&(at, id));
                }
                Some(TransactionEvent::Terminated { id })
            }
            TransactionEvent::Request {
                request,
                cancels: Some(invite),
                ..
            } if request.method == Method::Cancel && self.contexts.contains_key(&invite) => {
                self.cancel_branches(layer, now, invite);
                None
            }
            TransactionEvent::StrayResponse { response, .. } => {
                // A 2xx retransmission that outlived its client transaction:
                // forward it statelessly by its Via (RFC 3261 §16.7 step 10).
                if response.status.is_success() {
                    self.forward_stateless_response(response);
                    None
                } else {
                    Some(TransactionEvent::StrayResponse {
                        response,
                        path: ReplyPath {
                            protocol: TransportProtocol::Udp,
                            remote: SocketAddr::from(([0, 0, 0, 0], 0)),
                            local: SocketAddr::from(([0, 0, 0, 0], 0)),
                            connection: None,
                        },
                    })
                }
            }
            other => Some(other),
        }
    }

    fn forward_stateless_response(&mut self, mut response: Response) {
        let Some(Ok(top)) = response.headers.typed::<Via>() else {
            return;
        };
        if !self.via_is_ours(&top) {
            return;
        }
        pop_first_via(&mut response);
        let Some(Ok(next)) = response.headers.typed::<Via>() else {
            return;
        };
        let Some(dest) = next.response_address() else {
            return;
        };
        let protocol = next.transport_protocol().unwrap_or(TransportProtocol::Udp);
        self.stateless.push_back(Transmit {
            protocol,
            source: None,
            destination: dest,
            connection: None,
            contents: response.to_bytes(),
        });
    }

    fn via_is_ours(&self, via: &Via) -> bool {
        let Some(ip) = via.host().ip() else {
            return false;
        };
        self.config
            .interfaces
            .iter()
            .any(|i| i.addr.ip() == ip && Some(i.addr.port()) == via.port)
    }

    fn on_response(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        id: TransactionId,
        mut response: Response,
    ) {
        let Some(&server) = self.branch_of.get(&id) else {
            return;
        };
        pop_first_via(&mut response);
        let status = response.status;
        if matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::PROXY_AUTHENTICATION_REQUIRED
        ) && self.answer_challenge(layer, now, server, id, &response)
        {
            return;
        }
        let mut to_cancel = Vec::new();
        let mut send = None;
        let mut try_next = false;
        {
            let Some(ctx) = self.contexts.get_mut(&server) else {
                return;
            };
            let Some(branch) = ctx.branches.iter_mut().find(|b| b.id == id) else {
                return;
            };
            if status.is_provisional() {
                branch.provisional = true;
                if branch.cancel_wanted && !branch.cancelled {
                    to_cancel.push(id);
                }
                if status != StatusCode::TRYING {
                    if let Some(old) = ctx.timer_c {
                        let at = now + self.config.timer_c;
                        ctx.timer_c = Some(at);
                        if self.timer_c_queue.remove(&(old, server)) {
                            self.timer_c_queue.insert((at, server));
                        }
                    }
                    if !ctx.final_sent {
                        send = Some(response);
                    }
                }
            } else {
                branch.done = true;
                if status.is_success() {
                    if !ctx.final_sent {
                        self.events.push_back(final_event(server, ctx, &response));
                    }
                    ctx.final_sent = true;
                    if let Some(at) = ctx.timer_c {
                        self.timer_c_queue.remove(&(at, server));
                    }
                    send = Some(response);
                    to_cancel.extend(ctx.pending().map(|b| b.id));
                } else {
                    if status.class() == 6 {
                        to_cancel.extend(ctx.pending().map(|b| b.id));
                    }
                    ctx.offer(response);
                    try_next = ctx.pending().next().is_none();
                }
            }
        }
        if let Some(r) = send {
            let _ = layer.send_response(now, server, r);
        }
        for b in to_cancel {
            self.cancel_branch(layer, now, server, b);
        }
        if try_next {
            self.advance(layer, now, server);
        }
    }

    /// Re-sends a challenged branch with credentials, once per branch.
    /// Returns whether it did (then the challenge is not a final response).
    fn answer_challenge(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        server: TransactionId,
        id: TransactionId,
        challenge: &Response,
    ) -> bool {
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return false;
        };
        let Some(credentials) = ctx.credentials.clone() else {
            return false;
        };
        if ctx.final_sent {
            return false;
        }
        let Some(branch) = ctx.branches.iter_mut().find(|b| b.id == id) else {
            return false;
        };
        if branch.authenticated || branch.cancelled || branch.cancel_wanted || branch.done {
            return false;
        }
        let mut request = branch.request.clone();
        pop_first_item(&mut request.headers, Known::Via);
        if self
            .auth
            .authorize(
                &mut request,
                challenge,
                &credentials.username,
                &credentials.password,
                &mut self.rng,
            )
            .is_err()
        {
            return false;
        }
        let Some(via) = branch.request.headers.typed::<Via>().and_then(Result::ok) else {
            return false;
        };
        let mut via = via;
        via.set_param("branch", Some(Bytes::from(layer.new_branch())));
        request.headers.prepend_typed(&via);
        let target = branch.target;
        let Ok(new_id) = layer.send_request(now, request.clone(), target) else {
            return false;
        };
        branch.done = true;
        ctx.branches.push(Branch {
            id: new_id,
            request,
            target,
            provisional: false,
            cancel_wanted: false,
            cancelled: false,
            done: false,
            authenticated: true,
        });
        self.branch_of.insert(new_id, server);
        self.events.push_back(ProxyEvent::ChallengeAnswered {
            server,
            status: challenge.status,
        });
        true
    }

    fn on_branch_failure(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        id: TransactionId,
        status: StatusCode,
    ) {
        let Some(&server) = self.branch_of.get(&id) else {
            return;
        };
        let mut try_next = false;
        if let Some(ctx) = self.contexts.get_mut(&server) {
            if let Some(b) = ctx.branches.iter_mut().find(|b| b.id == id) {
                if b.done {
                    return;
                }
                b.done = true;
                let mut r = Response::for_request(&ctx.original, status);
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    r.status = StatusCode::SERVICE_UNAVAILABLE;
                }
                ctx.offer(r);
                try_next = ctx.pending().next().is_none();
            }
        }
        if try_next {
            self.advance(layer, now, server);
        }
    }

    /// All branches are done: start the next serial destination, or send the
    /// best final response.
    fn advance(&mut self, layer: &mut TransactionLayer, now: Instant, server: TransactionId) {
        loop {
            let Some(ctx) = self.contexts.get_mut(&server) else {
                return;
            };
            if ctx.final_sent {
                return;
            }
            let six = ctx.best.as_ref().is_some_and(|b| b.status.class() == 6);
            if !six && !ctx.remaining.is_empty() {
                let d = ctx.remaining.remove(0);
                let original = ctx.original.clone();
                let inbound = ctx.inbound;
                match self.start_branch(layer, now, server, &original, inbound, d) {
                    Ok(b) => {
                        self.branch_of.insert(b.id, server);
                        if let Some(ctx) = self.contexts.get_mut(&server) {
                            ctx.branches.push(b);
                        }
                        return;
                    }
                    Err(_) => continue,
                }
            }
            ctx.final_sent = true;
            if let Some(at) = ctx.timer_c {
                self.timer_c_queue.remove(&(at, server));
            }
            let best = ctx.best.take().unwrap_or_else(|| {
                Response::for_request(&ctx.original, StatusCode::REQUEST_TIMEOUT)
            });
            let tag = self.rng.token(10);
            let best = best.with_to_tag(&tag);
            self.events.push_back(final_event(server, ctx, &best));
            let _ = layer.send_response(now, server, best);
            return;
        }
    }

    fn cancel_branches(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        server: TransactionId,
    ) {
        let ids: Vec<TransactionId> = match self.contexts.get_mut(&server) {
            Some(ctx) => {
                ctx.remaining.clear();
                ctx.pending().map(|b| b.id).collect()
            }
            None => return,
        };
        for id in ids {
            self.cancel_branch(layer, now, server, id);
        }
    }

    fn cancel_branch(
        &mut self,
        layer: &mut TransactionLayer,
        now: Instant,
        server: TransactionId,
        id: TransactionId,
    ) {
        let Some(ctx) = self.contexts.get_mut(&server) else {
            return;
        };
        let Some(b) = ctx.branches.iter_mut().find(|b| b.id == id) else {
            return;
        };
        if b.done || b.cancelled || b.request.method != Method::Invite {
            return;
        }
        if !b.provisional {
            // RFC 3261 §9.1: wait for a provisional response first.
            b.cancel_wanted = true;
            return;
        }
        b.cancelled = true;
        let cancel = cancel_for(&b.request);
        let target = b.target;
        let _ = layer.send_request(now, cancel, target);
    }

    /// Fires Timer C: pending INVITE branches that rang too long are
    /// cancelled (or, without a provisional, treated as timed out).
    pub fn handle_timeout(&mut self, layer: &mut TransactionLayer, now: Instant) {
        let mut due = Vec::new();
        while let Some(&(at, server)) = self.timer_c_queue.first() {
            if at > now {
                break;
            }
            self.timer_c_queue.pop_first();
            due.push(server);
        }
        for server in due {
            let pending: Vec<(TransactionId, bool)> = match self.contexts.get_mut(&server) {
                Some(ctx) if !ctx.final_sent => {
                    ctx.timer_c = None;
                    ctx.pending().map(|b| (b.id, b.provisional)).collect()
                }
                _ => continue,
            };
            for (id, provisional) in pending {
                if provisional {
                    self.cancel_branch(layer, now, server, id);
                } else {
                    self.on_branch_failure(layer, now, id, StatusCode::REQUEST_TIMEOUT);
                }
            }
        }
    }

    /// The earliest Timer C deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_c_queue.first().map(|(at, _)| *at)
    }

    /// What happened to forwarded requests since the last call (final
    /// responses, answered challenges).
    #[must_use]
    pub fn poll_event(&mut self) -> Option<ProxyEvent> {
        self.events.pop_front()
    }

    /// Messages the proxy sends outside transactions (forwarded 2xx
    /// retransmissions).
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.stateless.pop_front()
    }

    /// Builds the statelessly forwarded copy of an ACK for 2xx or another
    /// request routed by [`loose_route`](Self::loose_route): decrements
    /// Max-Forwards and adds our Via (RFC 3261 §16.11).
    pub fn prepare_stateless(
        &mut self,
        request: &mut Request,
        target: &Target,
    ) -> Result<(), ProxyError> {
        let iface = self
            .interface(target.protocol)
            .ok_or(ProxyError::NoInterface(target.protocol))?;
        let mf = request
            .headers
            .typed::<MaxForwards>()
            .and_then(Result::ok)
            .map_or(70, |m| m.0.saturating_sub(1));
        request.headers.set_typed(&MaxForwards(mf));
        let branch = format!("z9hG4bK{}", self.rng.token(16));
        let via = Via::new(
            iface.protocol,
            Host::from(iface.addr.ip()),
            Some(iface.addr.port()),
            &branch,
        );
        request.headers.prepend_typed(&via);
        Ok(())
    }
}

/// The target for a SIP URI with an IP host (DNS resolution is the
/// application's, for now).
pub fn uri_target(uri: &SipUri) -> Option<Target> {
    let ip = uri.host().ip()?;
    let protocol = match uri.transport() {
        Some(t) => TransportProtocol::from_bytes(t)?,
        None if uri.secure => TransportProtocol::Tls,
        None => TransportProtocol::Udp,
    };
    let port = uri.port.unwrap_or(protocol.default_port());
    Some(Target::new(protocol, SocketAddr::new(ip, port)))
}

/// The CANCEL for a forwarded INVITE (RFC 3261 §9.1).
pub fn cancel_for(invite: &Request) -> Request {
    let mut c = Request::new(Method::Cancel, invite.uri.clone());
    if let Some(v) = invite.headers.get_bytes(&Known::Via.into()) {
        let top = crate::header::split_list(&v).next().unwrap_or_default();
        c.headers.push(Known::Via, top);
    }
    for name in [Known::Route, Known::From, Known::To, Known::CallId] {
        for v in invite.headers.get_all_bytes(&name.into()) {
            c.headers.push(name, v);
        }
    }
    let seq = invite
        .headers
        .typed::<CSeq>()
        .and_then(Result::ok)
        .map_or(1, |c| c.seq);
    c.headers.push_typed(&CSeq {
        seq,
        method: Method::Cancel,
    });
    c.headers
        .push(Known::MaxForwards, Bytes::from_static(b"70"));
    c.headers
        .push(Known::ContentLength, Bytes::from_static(b"0"));
    c
}

fn final_event(server: TransactionId, ctx: &Context, response: &Response) -> ProxyEvent {
    ProxyEvent::Final {
        server,
        method: ctx.original.method.clone(),
        initial_invite: ctx.initial_invite,
        call_id: ctx
            .original
            .headers
            .get_bytes(&Known::CallId.into())
            .unwrap_or_default(),
        status: response.status,
    }
}

fn pop_first_via(response: &mut Response) {
    pop_first_item(&mut response.headers, Known::Via);
}

fn pop_first_route(request: &mut Request) {
    pop_first_item(&mut request.headers, Known::Route);
}

/// Removes the first element of the first `name` line (the whole line when
/// it holds one element).
fn pop_first_item(headers: &mut crate::message::Headers, name: Known) {
    let Some(line) = headers.get_bytes(&name.into()) else {
        return;
    };
    let mut items = crate::header::split_list(&line);
    let _ = items.next();
    let rest: Vec<Bytes> = items.collect();
    if rest.is_empty() {
        headers.remove_first(&name.into());
    } else {
        let mut v = Vec::new();
        for (i, r) in rest.iter().enumerate() {
            if i > 0 {
                v.extend_from_slice(b", ");
            }
            v.extend_from_slice(r);
        }
        headers.set_first(&name.into(), v);
    }
}
