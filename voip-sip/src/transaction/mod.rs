//! The transaction layer (RFC 3261 §17, RFC 6026), sans-IO.
//!
//! [`TransactionLayer`] owns every client and server transaction of an
//! endpoint. Feed it parsed messages with their [`ReplyPath`], commands from
//! the transaction user (TU: a UA core, a proxy core), and timeouts; drain
//! [`TransactionLayer::poll_transmit`], [`TransactionLayer::poll_event`] and
//! [`TransactionLayer::poll_timeout`].
//!
//! ```
//! use std::time::Instant;
//! use voip_core::{Rng, TransportProtocol};
//! use voip_sip::transaction::{Target, TransactionConfig, TransactionLayer};
//! use voip_sip::{Method, Request};
//!
//! let mut layer = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(1));
//! let mut options = Request::new(Method::Options, "sip:bob@127.0.0.1".parse().unwrap());
//! for (name, value) in [
//!     ("Via", "SIP/2.0/UDP 127.0.0.1:5070"),
//!     ("From", "<sip:alice@127.0.0.1>;tag=1"),
//!     ("To", "<sip:bob@127.0.0.1>"),
//!     ("Call-ID", "c1"),
//!     ("CSeq", "1 OPTIONS"),
//! ] {
//!     options.headers.push(voip_sip::HeaderName::from_bytes(name.into()), value);
//! }
//! let target = Target::new(TransportProtocol::Udp, "127.0.0.1:5060".parse().unwrap());
//! let now = Instant::now();
//! let id = layer.send_request(now, options, target).unwrap();
//! let sent = layer.poll_transmit().unwrap(); // the OPTIONS, with a branch added
//! assert!(sent.contents.windows(7).any(|w| w == b"z9hG4bK"));
//! assert!(layer.poll_timeout().is_some()); // Timer E
//! # let _ = id;
//! ```

mod client;
mod key;
mod server;
mod timer;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::{ConfigError, ConnectionId, Receive, Rng, Transmit, TransportProtocol};

pub use client::ClientState;
pub use server::ServerState;
pub use timer::Timer;

use client::ClientTransaction;
use key::{ClientKey, ServerKey};
use server::ServerTransaction;

use crate::header::{TypedHeader, Via};

use crate::message::{Known, Message, Method, Request, Response, StatusCode};

/// Identifies a transaction within one [`TransactionLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub u64);

/// Where a client transaction sends its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The transport.
    pub protocol: TransportProtocol,
    /// The next hop.
    pub destination: SocketAddr,
    /// A connection to reuse.
    pub connection: Option<ConnectionId>,
}

impl Target {
    /// A target without a connection to reuse.
    pub fn new(protocol: TransportProtocol, destination: SocketAddr) -> Self {
        Self {
            protocol,
            destination,
            connection: None,
        }
    }
}

/// How a request arrived, and so how its responses leave: over the same
/// transport and connection, from the local address, to the source
/// (RFC 3261 §18.2.2 with RFC 3581 symmetric response routing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyPath {
    /// The transport.
    pub protocol: TransportProtocol,
    /// The address the request came from.
    pub remote: SocketAddr,
    /// The local address it arrived at.
    pub local: SocketAddr,
    /// The connection it came on.
    pub connection: Option<ConnectionId>,
}

impl From<&Receive> for ReplyPath {
    fn from(rx: &Receive) -> Self {
        Self {
            protocol: rx.protocol,
            remote: rx.source,
            local: rx.destination,
            connection: rx.connection,
        }
    }
}

/// Timer values (RFC 3261 Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionConfig {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE
    /// responses, 4 s.
    pub t2: Duration,
    /// Maximum duration a message remains in the network, 5 s.
    pub t4: Duration,
    /// Timer D over unreliable transports, at least 32 s.
    pub timer_d: Duration,
    /// Whether server INVITE transactions answer 100 Trying at once.
    pub send_trying: bool,
}

impl Default for TransactionConfig {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_d: Duration::from_secs(32),
            send_trying: true,
        }
    }
}

impl TransactionConfig {
    /// Checks the values: T1 > 0, T2 >= T1, Timer D >= 32 s.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.t1.is_zero() {
            return Err(ConfigError::new(
                "t1",
                "must be greater than zero (RFC 3261 default 500 ms)",
            ));
        }
        if self.t2 < self.t1 {
            return Err(ConfigError::new(
                "t2",
                "must be at least t1 (RFC 3261 default 4 s)",
            ));
        }
        if self.timer_d < Duration::from_secs(32) {
            return Err(ConfigError::new(
                "timer_d",
                "must be at least 32 s (RFC 3261 §17.1.1.2)",
            ));
        }
        Ok(self)
    }
}

/// What the transaction layer tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransactionEvent {
    /// A new request created a server transaction; answer it with
    /// [`TransactionLayer::send_response`]. For a CANCEL, `cancels` names the
    /// INVITE server transaction it matches (RFC 3261 §9.2), if any; the
    /// layer has already answered the CANCEL 200 or 481.
    Request {
        /// The new server transaction.
        id: TransactionId,
        /// The request.
        request: Request,
        /// How responses leave.
        path: ReplyPath,
        /// For a CANCEL: the INVITE transaction it cancels.
        cancels: Option<TransactionId>,
    },
    /// An ACK that belongs to no transaction of ours in a state that absorbs
    /// it: the ACK for a 2xx (end to end, matched by the dialog), or stray.
    Ack {
        /// The ACK.
        request: Request,
        /// Where it came from.
        path: ReplyPath,
    },
    /// A response for a client transaction.
    Response {
        /// The client transaction.
        id: TransactionId,
        /// The response.
        response: Response,
    },
    /// A response that matches no client transaction (a 2xx retransmission
    /// after the transaction ended, or something to forward statelessly).
    StrayResponse {
        /// The response.
        response: Response,
        /// Where it came from.
        path: ReplyPath,
    },
    /// Timer B or F (client) or Timer H (server: no ACK) fired.
    Timeout {
        /// The transaction.
        id: TransactionId,
    },
    /// The transport reported a failure for the transaction's message.
    TransportError {
        /// The transaction.
        id: TransactionId,
    },
    /// The transaction ended and was removed.
    Terminated {
        /// The transaction.
        id: TransactionId,
    },
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransactionError {
    /// The request has no (valid) Via header to put a branch in.
    #[error("request has no valid via header")]
    MissingVia,
    /// ACK and CANCEL handling have their own commands.
    #[error("{0} is not sent through a client transaction here")]
    WrongMethod(&'static str),
    /// No such transaction (or it ended).
    #[error("no transaction {0:?}")]
    NoTransaction(TransactionId),
    /// The transaction's state does not allow that response.
    #[error("transaction {0:?} cannot send that response now")]
    InvalidState(TransactionId),
}

#[derive(Debug, Default)]
pub(crate) struct Outputs {
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<TransactionEvent>,
}

/// All transactions of one endpoint.
#[derive(Debug)]
pub struct TransactionLayer {
    config: TransactionConfig,
    rng: Rng,
    next_id: u64,
    clients: HashMap<TransactionId, (ClientKey, ClientTransaction)>,
    client_keys: HashMap<ClientKey, TransactionId>,
    servers: HashMap<TransactionId, (ServerKey, ServerTransaction)>,
    server_keys: HashMap<ServerKey, TransactionId>,
    /// Deadlines by transaction; entries go stale when timers change and
    /// are skipped when popped.
    deadlines: BinaryHeap<Reverse<(Instant, TransactionId)>>,
    out: Outputs,
}

impl TransactionLayer {
    /// An empty layer.
    pub fn new(config: TransactionConfig, rng: Rng) -> Self {
        Self {
            config,
            rng,
            next_id: 1,
            clients: HashMap::new(),
            client_keys: HashMap::new(),
            servers: HashMap::new(),
            server_keys: HashMap::new(),
            deadlines: BinaryHeap::new(),
            out: Outputs::default(),
        }
    }

    fn new_id(&mut self) -> TransactionId {
        let id = TransactionId(self.next_id);
        self.next_id += 1;
        id
    }

    /// A new RFC 3261 branch (`z9hG4bK` + 16 random characters).
    pub fn new_branch(&mut self) -> String {
        format!("z9hG4bK{}", self.rng.token(16))
    }

    /// Number of live transactions (client, server).
    pub fn len(&self) -> (usize, usize) {
        (self.clients.len(), self.servers.len())
    }

    /// The state of a client transaction.
    pub fn client_state(&self, id: TransactionId) -> Option<ClientState> {
        self.clients.get(&id).map(|(_, t)| t.state)
    }

    /// The state of a server transaction.
    pub fn server_state(&self, id: TransactionId) -> Option<ServerState> {
        self.servers.get(&id).map(|(_, t)| t.state)
    }

    /// The request of a server transaction.
    pub fn server_request(&self, id: TransactionId) -> Option<&Request> {
        self.servers.get(&id).map(|(_, t)| &t.request)
    }

    /// Handles a parsed message that arrived over `path`.
    pub fn handle_message(&mut self, now: Instant, message: Message, path: ReplyPath) {
        match message {
            Message::Response(r) => self.handle_response(now, r, path),
            Message::Request(r) => self.handle_request(now, r, path),
        }
    }

    fn handle_response(&mut self, now: Instant, response: Response, path: ReplyPath) {
        let id = ClientKey::for_response(&response).and_then(|k| self.client_keys.get(&k).copied());
        match id.and_then(|id| self.clients.get_mut(&id)) {
            Some((_, t)) => {
                t.handle_response(now, response, &self.config, &mut self.out);
                let id = t.id;
                self.reap_client(id);
            }
            None => self
                .out
                .events
                .push_back(TransactionEvent::StrayResponse { response, path }),
        }
    }

    fn handle_request(&mut self, now: Instant, request: Request, path: ReplyPath) {
        let Some(key) = ServerKey::for_request(&request, path.remote) else {
            // Without the headers that identify it, a request cannot have a
            // transaction; the message layer's validation answers it first.
            return;
        };
        if let Some(&id) = self.server_keys.get(&key) {
            if let Some((_, t)) = self.servers.get_mut(&id) {
                t.handle_request(now, request, &self.config, &mut self.out);
                self.reap_server(id);
                return;
            }
        }
        if request.method == Method::Ack {
            self.out
                .events
                .push_back(TransactionEvent::Ack { request, path });
            return;
        }
        let id = self.new_id();
        let trying = (request.method == Method::Invite && self.config.send_trying)
            .then(|| Response::for_request(&request, StatusCode::TRYING));
        let mut cancels = None;
        let mut cancel_reply = None;
        if request.method == Method::Cancel {
            cancels = ServerKey::cancelled_invite(&request, path.remote)
                .and_then(|k| self.server_keys.get(&k).copied());
            let status = if cancels.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
            };
            cancel_reply = Some(Response::for_request(&request, status));
        }
        let t = ServerTransaction::start(
            id,
            request.clone(),
            path,
            &self.config,
            &mut self.out,
            trying,
        );
        self.server_keys.insert(key.clone(), id);
        self.servers.insert(id, (key, t));
        self.schedule(id);
        if let Some(mut reply) = cancel_reply {
            let tag = self.rng.token(10);
            reply = reply.with_to_tag(&tag);
            let _ = self.send_response(now, id, reply);
        }
        self.out.events.push_back(TransactionEvent::Request {
            id,
            request,
            path,
            cancels,
        });
    }

    /// Starts a client transaction for `request` (not ACK or CANCEL of a
    /// 2xx: send those with [`send_stateless`](Self::send_stateless)). A
    /// top Via without an RFC 3261 branch gets a new one.
    pub fn send_request(
        &mut self,
        now: Instant,
        mut request: Request,
        target: Target,
    ) -> Result<TransactionId, TransactionError> {
        if request.method == Method::Ack {
            return Err(TransactionError::WrongMethod("ACK"));
        }
        let mut via = match request.headers.typed::<Via>() {
            Some(Ok(v)) => v,
            _ => return Err(TransactionError::MissingVia),
        };
        if !via.has_rfc3261_branch() {
            let branch = self.new_branch();
            via.set_param("branch", Some(Bytes::from(branch)));
            replace_top_via(&mut request, &via);
        }
        let branch = via.branch().unwrap_or_default().to_vec();
        let key = ClientKey::for_request(&branch, &request.method);
        let id = self.new_id();
        let t = ClientTransaction::start(id, request, target, now, &self.config, &mut self.out);
        self.client_keys.insert(key.clone(), id);
        self.clients.insert(id, (key, t));
        self.schedule(id);
        Ok(id)
    }

    /// Sends a response through server transaction `id`.
    pub fn send_response(
        &mut self,
        now: Instant,
        id: TransactionId,
        response: Response,
    ) -> Result<(), TransactionError> {
        let (_, t) = self
            .servers
            .get_mut(&id)
            .ok_or(TransactionError::NoTransaction(id))?;
        if !t.send_response(now, &response, &self.config, &mut self.out) {
            return Err(TransactionError::InvalidState(id));
        }
        self.reap_server(id);
        Ok(())
    }

    /// Sends a message outside any transaction (the ACK for a 2xx, a
    /// stateless response or a forwarded 2xx).
    pub fn send_stateless(&mut self, transmit: Transmit) {
        self.out.transmits.push_back(transmit);
    }

    /// The transport failed to deliver a message of transaction `id`.
    pub fn handle_transport_error(&mut self, id: TransactionId) {
        if let Some((_, t)) = self.clients.get_mut(&id) {
            t.handle_transport_error(&mut self.out);
            self.reap_client(id);
        } else if let Some((_, t)) = self.servers.get_mut(&id) {
            t.handle_transport_error(&mut self.out);
            self.reap_server(id);
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((deadline, id))) = self.deadlines.peek().copied() {
            if deadline > now {
                break;
            }
            self.deadlines.pop();
            if let Some((_, t)) = self.clients.get_mut(&id) {
                while let Some(timer) = t.timers.take_expired(now) {
                    t.handle_timer(now, timer, &self.config, &mut self.out);
                }
                self.reap_client(id);
            } else if let Some((_, t)) = self.servers.get_mut(&id) {
                while let Some(timer) = t.timers.take_expired(now) {
                    t.handle_timer(now, timer, &self.config, &mut self.out);
                }
                self.reap_server(id);
            }
        }
    }

    /// Records the next deadline of transaction `id` after its timers changed.
    fn schedule(&mut self, id: TransactionId) {
        let next = match (self.clients.get(&id), self.servers.get(&id)) {
            (Some((_, t)), _) => t.timers.next(),
            (_, Some((_, t))) => t.timers.next(),
            _ => None,
        };
        if let Some(at) = next {
            self.deadlines.push(Reverse((at, id)));
        }
        self.prune();
    }

    /// Drops stale entries from the top of the deadline heap, so that
    /// [`poll_timeout`](Self::poll_timeout) reports a real deadline.
    fn prune(&mut self) {
        while let Some(Reverse((at, id))) = self.deadlines.peek().copied() {
            let actual = match (self.clients.get(&id), self.servers.get(&id)) {
                (Some((_, t)), _) => t.timers.next(),
                (_, Some((_, t))) => t.timers.next(),
                _ => None,
            };
            if actual == Some(at) {
                break;
            }
            self.deadlines.pop();
        }
    }

    fn reap_client(&mut self, id: TransactionId) {
        self.schedule(id);
        if self
            .clients
            .get(&id)
            .is_some_and(|(_, t)| t.state == ClientState::Terminated)
        {
            if let Some((key, _)) = self.clients.remove(&id) {
                self.client_keys.remove(&key);
            }
            self.out
                .events
                .push_back(TransactionEvent::Terminated { id });
        }
    }

    fn reap_server(&mut self, id: TransactionId) {
        self.schedule(id);
        if self
            .servers
            .get(&id)
            .is_some_and(|(_, t)| t.state == ServerState::Terminated)
        {
            if let Some((key, _)) = self.servers.remove(&id) {
                self.server_keys.remove(&key);
            }
            self.out
                .events
                .push_back(TransactionEvent::Terminated { id });
        }
    }

    /// The last final status a server transaction sent.
    pub fn server_last_status(&self, id: TransactionId) -> Option<StatusCode> {
        self.servers.get(&id).and_then(|(_, t)| t.last_status())
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    /// The next event for the transaction user.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.out.events.pop_front()
    }

    /// The earliest timer deadline.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }
}

/// Replaces the first Via entry of `request` with `via`.
pub(crate) fn replace_top_via(request: &mut Request, via: &Via) {
    let Some(line) = request.headers.get_bytes(&Known::Via.into()) else {
        request.headers.prepend_typed(via);
        return;
    };
    let mut items = crate::header::split_list(&line);
    let _first = items.next();
    let mut value = via.to_bytes().to_vec();
    for rest in items {
        value.extend_from_slice(b", ");
        value.extend_from_slice(&rest);
    }
    request.headers.set_first(&Known::Via.into(), value);
}
