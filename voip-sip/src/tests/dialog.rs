//! UA core scenarios in virtual time: two or three [`Ua`]s (and, for
//! forking, a stateless relay) over the simulated network.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::{Receive, Rng, TransportProtocol};

use super::net::{Conditions, Net};
use crate::dialog::DialogId;
use crate::header::{RAck, RSeq};
use crate::message::{Known, Message, Method, Response, StatusCode};
use crate::ua::{Body, InviteOptions, Rel100, TerminationCause, Ua, UaConfig, UaEvent};
use crate::{ParseConfig, parse_message};

type Filter = Box<dyn FnMut(usize, &[u8]) -> bool>;

enum Kind {
    Ua(Box<Ua>),
    /// A stateless forking relay: INVITE and CANCEL go to every callee with
    /// one Via per branch, responses go back to the caller.
    Relay {
        callees: Vec<SocketAddr>,
    },
    /// The stateful proxy core with Record-Route, forwarding new INVITEs to
    /// `callee` and everything else by loose routing.
    Proxy {
        layer: Box<crate::transaction::TransactionLayer>,
        proxy: Box<crate::proxy::Proxy>,
        callee: SocketAddr,
    },
}

struct Node {
    addr: SocketAddr,
    kind: Kind,
    events: VecDeque<UaEvent>,
    /// Every message this node sent, with the virtual time.
    sent: Vec<(Duration, Bytes)>,
}

struct Sim {
    net: Net,
    start: Instant,
    now: Instant,
    nodes: Vec<Node>,
    /// Drops a message (sender index, bytes) before it reaches the network.
    drop: Option<Filter>,
}

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1 + i as u8], 5060))
}

fn config(i: usize) -> UaConfig {
    UaConfig::new(addr(i), format!("sip:u{i}@{}", addr(i)).parse().unwrap())
}

fn sdp(v: &str) -> Body {
    Body::sdp(Bytes::from(format!(
        "v=0\r\no=- 1 {v} IN IP4 192.0.2.1\r\n"
    )))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn is_response(b: &[u8], code: u16, method: &str) -> bool {
    match parse_message(Bytes::copy_from_slice(b), &ParseConfig::default()) {
        Ok(Message::Response(r)) => {
            r.status.as_u16() == code
                && r.cseq().unwrap().unwrap().method.as_bytes() == method.as_bytes()
        }
        _ => false,
    }
}

fn is_request(b: &[u8], method: &str) -> bool {
    b.starts_with(method.as_bytes()) && b.get(method.len()) == Some(&b' ')
}

impl Sim {
    fn new(seed: u64, conditions: Conditions, configs: Vec<UaConfig>) -> Self {
        let nodes = configs
            .into_iter()
            .enumerate()
            .map(|(i, c)| Node {
                addr: addr(i),
                kind: Kind::Ua(Box::new(Ua::new(
                    c.build().unwrap(),
                    Rng::seeded(seed * 16 + i as u64),
                ))),
                events: VecDeque::new(),
                sent: Vec::new(),
            })
            .collect();
        let start = Instant::now();
        Self {
            net: Net::new(seed, conditions),
            start,
            now: start,
            nodes,
            drop: None,
        }
    }

    fn pair(seed: u64, conditions: Conditions) -> Self {
        Self::new(seed, conditions, vec![config(0), config(1)])
    }

    fn ua(&mut self, i: usize) -> &mut Ua {
        match &mut self.nodes[i].kind {
            Kind::Ua(ua) => ua,
            _ => panic!("node {i} is not a UA"),
        }
    }

    fn uri(i: usize) -> crate::Uri {
        format!("sip:u{i}@{}", addr(i)).parse().unwrap()
    }

    fn options(from: usize, to: usize) -> InviteOptions {
        InviteOptions::new(Self::uri(from), Self::uri(to))
    }

    fn flush(&mut self) {
        let now = self.now;
        let elapsed = now - self.start;
        for i in 0..self.nodes.len() {
            let node = &mut self.nodes[i];
            let Kind::Ua(ua) = &mut node.kind else {
                continue;
            };
            while let Some(e) = ua.poll_event() {
                node.events.push_back(e);
            }
            let mut out = Vec::new();
            while let Some(t) = ua.poll_transmit() {
                out.push(t);
            }
            for t in out {
                self.nodes[i].sent.push((elapsed, t.contents.clone()));
                if self.drop.as_mut().is_some_and(|f| f(i, &t.contents)) {
                    continue;
                }
                self.net.send(now, addr(i), t);
            }
        }
    }

    fn relay(&mut self, i: usize, rx: Receive) {
        let Kind::Relay { callees } = &self.nodes[i].kind else {
            return;
        };
        let callees = callees.clone();
        let Ok(message) = parse_message(rx.contents.clone(), &ParseConfig::default()) else {
            return;
        };
        let mut out = Vec::new();
        match message {
            Message::Request(r) if matches!(r.method, Method::Invite | Method::Cancel) => {
                for (n, callee) in callees.iter().enumerate() {
                    let mut f = r.clone();
                    let branch = format!("z9hG4bKfork{n}{}", r.call_id().unwrap().unwrap().0.len());
                    f.headers.prepend_raw(
                        Known::Via,
                        format!("SIP/2.0/UDP {};branch={branch}", addr(i)),
                    );
                    out.push((*callee, f.to_bytes()));
                }
            }
            Message::Response(mut r) => {
                r.headers.remove_first(&Known::Via.into());
                out.push((addr(0), r.to_bytes()));
            }
            _ => {}
        }
        for (to, contents) in out {
            let t = voip_core::Transmit {
                protocol: TransportProtocol::Udp,
                source: None,
                destination: to,
                connection: None,
                contents,
            };
            self.net.send(self.now, addr(i), t);
        }
    }

    fn make_proxy(&mut self, i: usize, callee: usize) {
        let mut rng = Rng::seeded(99);
        let config = crate::proxy::ProxyConfig::new(
            vec![crate::proxy::Interface {
                protocol: TransportProtocol::Udp,
                addr: addr(i),
            }],
            &mut rng,
        );
        self.nodes[i].kind = Kind::Proxy {
            layer: Box::new(crate::transaction::TransactionLayer::new(
                crate::transaction::TransactionConfig::default(),
                Rng::seeded(98),
            )),
            proxy: Box::new(crate::proxy::Proxy::new(config, rng)),
            callee: addr(callee),
        };
    }

    /// Runs the proxy node `i`: its transaction events, its routing script,
    /// its output.
    fn run_proxy(&mut self, i: usize) {
        use crate::proxy::{Destination, ForkMode, Incoming, NextHop};
        use crate::transaction::{Target, TransactionEvent};
        let now = self.now;
        let Kind::Proxy {
            layer,
            proxy,
            callee,
        } = &mut self.nodes[i].kind
        else {
            return;
        };
        let callee = *callee;
        while let Some(e) = layer.poll_event() {
            let Some(e) = proxy.handle_event(layer, now, e) else {
                continue;
            };
            match e {
                TransactionEvent::Request {
                    id,
                    mut request,
                    path,
                    ..
                } => {
                    let hop = if request.headers.contains(&Known::Route.into()) {
                        match proxy.loose_route(&mut request, &path) {
                            NextHop::Forward(t) => t,
                            other => panic!("not routable: {other:?}"),
                        }
                    } else {
                        Target::new(TransportProtocol::Udp, callee)
                    };
                    let dest = Destination {
                        uri: request.uri.clone(),
                        target: hop,
                        route: Vec::new(),
                    };
                    let incoming = Incoming {
                        id,
                        request: &request.clone(),
                        path,
                    };
                    proxy
                        .forward(layer, now, incoming, vec![dest], ForkMode::Serial)
                        .unwrap();
                }
                TransactionEvent::Ack { mut request, path } => {
                    if let NextHop::Forward(target) = proxy.loose_route(&mut request, &path) {
                        proxy.prepare_stateless(&mut request, &target).unwrap();
                        layer.send_stateless(voip_core::Transmit {
                            protocol: target.protocol,
                            source: None,
                            destination: target.destination,
                            connection: target.connection,
                            contents: request.to_bytes(),
                        });
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        while let Some(t) = layer.poll_transmit() {
            out.push(t);
        }
        while let Some(t) = proxy.poll_transmit() {
            out.push(t);
        }
        for t in out {
            self.nodes[i]
                .sent
                .push((now - self.start, t.contents.clone()));
            self.net.send(now, addr(i), t);
        }
    }

    fn next_deadline(&mut self) -> Option<Instant> {
        let mut next = self.net.next_delivery();
        for n in &mut self.nodes {
            let t = match &mut n.kind {
                Kind::Ua(ua) => ua.poll_timeout(),
                Kind::Proxy { layer, proxy, .. } => {
                    match (layer.poll_timeout(), proxy.poll_timeout()) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    }
                }
                Kind::Relay { .. } => None,
            };
            if let Some(t) = t {
                next = Some(next.map_or(t, |x| x.min(t)));
            }
        }
        next
    }

    /// One step of virtual time; false when nothing happens before `limit`.
    fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let Some(at) = self.next_deadline().filter(|at| *at <= limit) else {
            return false;
        };
        self.now = self.now.max(at);
        let now = self.now;
        while let Some(rx) = self.net.deliver(now) {
            let Some(i) = self.nodes.iter().position(|n| n.addr == rx.destination) else {
                continue;
            };
            match &mut self.nodes[i].kind {
                Kind::Ua(ua) => ua.handle_receive(now, rx),
                Kind::Relay { .. } => self.relay(i, rx),
                Kind::Proxy { layer, .. } => {
                    let path = crate::transaction::ReplyPath::from(&rx);
                    if let Ok(m) = parse_message(rx.contents, &ParseConfig::default()) {
                        layer.handle_message(now, m, path);
                    }
                    self.run_proxy(i);
                }
            }
        }
        for i in 0..self.nodes.len() {
            match &mut self.nodes[i].kind {
                Kind::Ua(ua) => {
                    if ua.poll_timeout().is_some_and(|t| t <= now) {
                        ua.handle_timeout(now);
                    }
                }
                Kind::Proxy { layer, proxy, .. } => {
                    layer.handle_timeout(now);
                    proxy.handle_timeout(layer, now);
                    self.run_proxy(i);
                }
                Kind::Relay { .. } => {}
            }
        }
        self.flush();
        true
    }

    fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        while self.step(limit) {}
        self.now = limit;
    }

    /// Runs until node `i` has an event matching `pred` (at most `max`),
    /// and takes it.
    fn wait(&mut self, i: usize, max: Duration, pred: impl Fn(&UaEvent) -> bool) -> UaEvent {
        let limit = self.now + max;
        loop {
            if let Some(pos) = self.nodes[i].events.iter().position(&pred) {
                return self.nodes[i].events.remove(pos).unwrap();
            }
            if !self.step(limit) {
                panic!(
                    "node {i}: no matching event by {:?}; events: {:#?}",
                    self.now - self.start,
                    self.nodes[i].events
                );
            }
        }
    }

    fn has(&self, i: usize, pred: impl Fn(&UaEvent) -> bool) -> bool {
        self.nodes[i].events.iter().any(pred)
    }

    fn sent(&self, i: usize, pred: impl Fn(&[u8]) -> bool) -> Vec<Duration> {
        self.nodes[i]
            .sent
            .iter()
            .filter(|(_, b)| pred(b))
            .map(|(t, _)| *t)
            .collect()
    }

    /// A calls B with an offer, B rings and answers: returns (A's dialog,
    /// B's dialog).
    fn call(&mut self, a: usize, b: usize, max: Duration) -> (DialogId, DialogId) {
        let now = self.now;
        let rid = self
            .ua(a)
            .invite(now, Self::options(a, b).body(sdp("1")))
            .unwrap();
        let UaEvent::IncomingCall { dialog: db, .. } =
            self.wait(b, max, |e| matches!(e, UaEvent::IncomingCall { .. }))
        else {
            unreachable!()
        };
        let now = self.now;
        self.ua(b)
            .answer(now, db, StatusCode::RINGING, None)
            .unwrap();
        self.ua(b)
            .answer(now, db, StatusCode::OK, Some(sdp("2")))
            .unwrap();
        let UaEvent::Answered { dialog: da, .. } = self.wait(
            a,
            max,
            |e| matches!(e, UaEvent::Answered { request, .. } if *request == rid),
        ) else {
            unreachable!()
        };
        (da, db)
    }
}

fn terminated(dialog: DialogId, cause: TerminationCause) -> impl Fn(&UaEvent) -> bool {
    move |e| *e == UaEvent::Terminated { dialog, cause }
}

fn datagram(to: usize, raw: String) -> Receive {
    Receive {
        protocol: TransportProtocol::Udp,
        source: addr(0),
        destination: addr(to),
        connection: None,
        contents: Bytes::from(raw),
    }
}

fn inject(sim: &mut Sim, to: usize, raw: String) -> Response {
    let now = sim.now;
    sim.ua(to).handle_receive(now, datagram(to, raw));
    let mut found = None;
    while let Some(t) = sim.ua(to).poll_transmit() {
        if let Ok(Message::Response(r)) = parse_message(t.contents, &ParseConfig::default()) {
            found = Some(r);
        }
    }
    found.expect("a response")
}

mod calls;
mod offers;
mod requests;
