//! Proxy scenarios in virtual time: caller -> proxy -> callee(s), with
//! Record-Route, loose routing of ACK and BYE, forking and CANCEL.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::{Rng, Transmit, TransportProtocol};

use super::net::{Conditions, Net};
use crate::header::{CSeq, RecordRoute, Route, TypedHeader};
use crate::message::{Known, Message, Method, Request, Response, StatusCode};
use crate::proxy::{
    BranchCredentials, Destination, ForkMode, Incoming, Interface, NextHop, Proxy, ProxyConfig,
    ProxyEvent,
};
use crate::transaction::{
    ReplyPath, Target, TransactionConfig, TransactionEvent, TransactionLayer,
};
use crate::{ParseConfig, parse_message};

const A: &str = "192.0.2.1:5060";
const P: &str = "192.0.2.10:5060";
const B1: &str = "192.0.2.21:5060";
const B2: &str = "192.0.2.22:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// What a callee does with an INVITE.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Behaviour {
    Answer,
    Busy,
    RingForever,
    /// 407 unless the INVITE carries Proxy-Authorization for `acct`, then 200.
    Challenge,
}

struct Callee {
    addr: SocketAddr,
    layer: TransactionLayer,
    behaviour: Behaviour,
    acked: usize,
    byes: usize,
    cancelled: usize,
    route_set: Vec<Bytes>,
    /// The 2xx being retransmitted until the ACK (RFC 3261 §13.3.1.4).
    pending_2xx: Option<(
        crate::transaction::TransactionId,
        Response,
        Instant,
        Duration,
    )>,
}

struct Caller {
    layer: TransactionLayer,
    finals: Vec<StatusCode>,
    route_set: Vec<Bytes>,
    bye_done: bool,
    remote_target: Option<Bytes>,
}

struct World {
    net: Net,
    now: Instant,
    caller: Caller,
    proxy_layer: TransactionLayer,
    proxy: Proxy,
    callees: Vec<Callee>,
    mode: ForkMode,
    credentials: Option<BranchCredentials>,
    proxy_events: Vec<ProxyEvent>,
}

fn invite() -> Request {
    let mut r = Request::new(Method::Invite, "sip:bob@192.0.2.10".parse().unwrap());
    r.headers.push(
        Known::Via,
        Bytes::from_static(b"SIP/2.0/UDP 192.0.2.1:5060"),
    );
    r.headers.push(
        Known::From,
        Bytes::from_static(b"<sip:alice@192.0.2.10>;tag=a1"),
    );
    r.headers
        .push(Known::To, Bytes::from_static(b"<sip:bob@192.0.2.10>"));
    r.headers.push(Known::CallId, Bytes::from_static(b"call-1"));
    r.headers.push(Known::CSeq, Bytes::from_static(b"1 INVITE"));
    r.headers
        .push(Known::MaxForwards, Bytes::from_static(b"70"));
    r.headers.push(
        Known::Contact,
        Bytes::from_static(b"<sip:alice@192.0.2.1:5060>"),
    );
    r
}

impl World {
    fn new(seed: u64, conditions: Conditions, behaviours: &[Behaviour], mode: ForkMode) -> Self {
        let mut rng = Rng::seeded(seed);
        let config = ProxyConfig::new(
            vec![Interface {
                protocol: TransportProtocol::Udp,
                addr: addr(P),
            }],
            &mut rng,
        );
        let callees = behaviours
            .iter()
            .enumerate()
            .map(|(i, b)| Callee {
                addr: addr([B1, B2][i]),
                layer: TransactionLayer::new(
                    TransactionConfig::default(),
                    Rng::seeded(seed + 10 + i as u64),
                ),
                behaviour: *b,
                acked: 0,
                byes: 0,
                cancelled: 0,
                route_set: Vec::new(),
                pending_2xx: None,
            })
            .collect();
        Self {
            net: Net::new(seed, conditions),
            now: Instant::now(),
            caller: Caller {
                layer: TransactionLayer::new(TransactionConfig::default(), Rng::seeded(seed + 1)),
                finals: Vec::new(),
                route_set: Vec::new(),
                bye_done: false,
                remote_target: None,
            },
            proxy_layer: TransactionLayer::new(TransactionConfig::default(), Rng::seeded(seed + 2)),
            proxy: Proxy::new(config, Rng::seeded(seed + 3)),
            callees,
            mode,
            credentials: None,
            proxy_events: Vec::new(),
        }
    }

    fn flush(&mut self) {
        let now = self.now;
        while let Some(t) = self.caller.layer.poll_transmit() {
            self.net.send(now, addr(A), t);
        }
        while let Some(t) = self.proxy_layer.poll_transmit() {
            self.net.send(now, addr(P), t);
        }
        while let Some(t) = self.proxy.poll_transmit() {
            self.net.send(now, addr(P), t);
        }
        for c in &mut self.callees {
            while let Some(t) = c.layer.poll_transmit() {
                self.net.send(now, c.addr, t);
            }
        }
    }

    fn proxy_events(&mut self) {
        let now = self.now;
        while let Some(e) = self.proxy_layer.poll_event() {
            let Some(e) = self.proxy.handle_event(&mut self.proxy_layer, now, e) else {
                continue;
            };
            match e {
                TransactionEvent::Request {
                    id,
                    mut request,
                    path,
                    ..
                } => {
                    let has_route = request.headers.contains(&Known::Route.into());
                    if request.method == Method::Invite && !has_route {
                        let dests = self
                            .callees
                            .iter()
                            .map(|c| Destination {
                                uri: format!("sip:bob@{}", c.addr).parse().unwrap(),
                                target: Target::new(TransportProtocol::Udp, c.addr),
                                route: Vec::new(),
                            })
                            .collect();
                        let incoming = Incoming {
                            id,
                            request: &request.clone(),
                            path,
                        };
                        match self.credentials.clone() {
                            Some(c) => self.proxy.forward_authenticated(
                                &mut self.proxy_layer,
                                now,
                                incoming,
                                dests,
                                self.mode,
                                c,
                            ),
                            None => self.proxy.forward(
                                &mut self.proxy_layer,
                                now,
                                incoming,
                                dests,
                                self.mode,
                            ),
                        }
                        .unwrap();
                    } else {
                        match self.proxy.loose_route(&mut request, &path) {
                            NextHop::Forward(target) => {
                                let dest = Destination {
                                    uri: request.uri.clone(),
                                    target,
                                    route: Vec::new(),
                                };
                                self.proxy
                                    .forward(
                                        &mut self.proxy_layer,
                                        now,
                                        Incoming {
                                            id,
                                            request: &request.clone(),
                                            path,
                                        },
                                        vec![dest],
                                        ForkMode::Serial,
                                    )
                                    .unwrap();
                            }
                            other => panic!("in-dialog request not routable: {other:?}"),
                        }
                    }
                }
                TransactionEvent::Ack { mut request, path } => {
                    match self.proxy.loose_route(&mut request, &path) {
                        NextHop::Forward(target) => {
                            self.proxy.prepare_stateless(&mut request, &target).unwrap();
                            self.proxy_layer.send_stateless(Transmit {
                                protocol: target.protocol,
                                source: None,
                                destination: target.destination,
                                connection: target.connection,
                                contents: request.to_bytes(),
                            });
                        }
                        other => panic!("ACK not routable: {other:?}"),
                    }
                }
                _ => {}
            }
        }
        while let Some(e) = self.proxy.poll_event() {
            self.proxy_events.push(e);
        }
    }

    fn callee_events(&mut self) {
        let now = self.now;
        for c in &mut self.callees {
            while let Some(e) = c.layer.poll_event() {
                match e {
                    TransactionEvent::Request {
                        id,
                        request,
                        cancels,
                        ..
                    } => match request.method {
                        Method::Invite => {
                            c.route_set = request
                                .headers
                                .get_all_bytes(&Known::RecordRoute.into())
                                .collect();
                            let tag = format!("b{}", c.addr.port());
                            let mut ringing = Response::for_request(&request, StatusCode::RINGING)
                                .with_to_tag(&tag);
                            for rr in &c.route_set {
                                ringing.headers.push(Known::RecordRoute, rr.clone());
                            }
                            c.layer.send_response(now, id, ringing).unwrap();
                            let authorized = request
                                .headers
                                .get(&Known::ProxyAuthorization.into())
                                .is_some_and(|v| {
                                    let v = String::from_utf8_lossy(v);
                                    v.contains("username=\"acct\"")
                                        && v.contains("nonce=\"n0nce\"")
                                        && v.contains("response=")
                                });
                            let status = match c.behaviour {
                                Behaviour::Challenge if !authorized => {
                                    let mut r = Response::for_request(
                                        &request,
                                        StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                                    )
                                    .with_to_tag(&tag);
                                    r.headers.push(
                                        Known::ProxyAuthenticate,
                                        Bytes::from_static(
                                            b"Digest realm=\"carrier\", nonce=\"n0nce\", qop=\"auth\"",
                                        ),
                                    );
                                    c.layer.send_response(now, id, r).unwrap();
                                    continue;
                                }
                                Behaviour::Answer | Behaviour::Challenge => Some(StatusCode::OK),
                                Behaviour::Busy => Some(StatusCode::BUSY_HERE),
                                Behaviour::RingForever => None,
                            };
                            if let Some(s) = status {
                                let mut r = Response::for_request(&request, s).with_to_tag(&tag);
                                for rr in &c.route_set {
                                    r.headers.push(Known::RecordRoute, rr.clone());
                                }
                                r.headers.push(
                                    Known::Contact,
                                    Bytes::from(format!("<sip:bob@{}>", c.addr)),
                                );
                                c.layer.send_response(now, id, r.clone()).unwrap();
                                if s.is_success() {
                                    let t1 = Duration::from_millis(500);
                                    c.pending_2xx = Some((id, r, now + t1, t1));
                                }
                            }
                        }
                        Method::Cancel => {
                            if let Some(inv) = cancels {
                                c.cancelled += 1;
                                let inv_req = c.layer.server_request(inv).unwrap().clone();
                                let r =
                                    Response::for_request(&inv_req, StatusCode::REQUEST_TERMINATED)
                                        .with_to_tag("x");
                                let _ = c.layer.send_response(now, inv, r);
                            }
                        }
                        Method::Bye => {
                            c.byes += 1;
                            let r = Response::for_request(&request, StatusCode::OK);
                            c.layer.send_response(now, id, r).unwrap();
                        }
                        _ => {}
                    },
                    TransactionEvent::Ack { .. } => {
                        c.acked += 1;
                        c.pending_2xx = None;
                    }
                    _ => {}
                }
            }
        }
    }

    fn caller_events(&mut self) {
        let now = self.now;
        while let Some(e) = self.caller.layer.poll_event() {
            let response = match e {
                TransactionEvent::Response { response, .. }
                | TransactionEvent::StrayResponse { response, .. } => response,
                _ => continue,
            };
            let cseq = response.cseq().unwrap().unwrap();
            if cseq.method == Method::Invite && response.status.is_final() {
                if !self.caller.finals.contains(&response.status) || response.status.is_success() {
                    self.caller.finals.push(response.status);
                }
                if response.status.is_success() {
                    // route set: Record-Route reversed (RFC 3261 §12.1.2)
                    let mut rr: Vec<Bytes> = response
                        .headers
                        .typed_all::<RecordRoute>()
                        .map(|r| r.unwrap().0)
                        .map(|na| Route(na).to_bytes())
                        .collect();
                    rr.reverse();
                    self.caller.route_set = rr;
                    self.caller.remote_target = response.headers.get_bytes(&Known::Contact.into());
                    let ack = self.in_dialog(Method::Ack, 1, &response);
                    self.caller.layer.send_stateless(Transmit {
                        protocol: TransportProtocol::Udp,
                        source: None,
                        destination: addr(P),
                        connection: None,
                        contents: ack.to_bytes(),
                    });
                    if self.caller.finals.iter().filter(|s| s.is_success()).count() == 1 {
                        let bye = self.in_dialog(Method::Bye, 2, &response);
                        self.caller
                            .layer
                            .send_request(now, bye, Target::new(TransportProtocol::Udp, addr(P)))
                            .unwrap();
                    }
                }
            } else if cseq.method == Method::Bye && response.status.is_success() {
                self.caller.bye_done = true;
            }
        }
    }

    fn in_dialog(&mut self, method: Method, seq: u32, response: &Response) -> Request {
        let target: crate::header::Contact =
            TypedHeader::parse(self.caller.remote_target.as_ref().unwrap()).unwrap();
        let mut r = Request::new(method, target.address().unwrap().uri().clone());
        let branch = self.caller.layer.new_branch();
        r.headers.push(
            Known::Via,
            Bytes::from(format!("SIP/2.0/UDP 192.0.2.1:5060;branch={branch}")),
        );
        for route in &self.caller.route_set {
            r.headers.push(Known::Route, route.clone());
        }
        r.headers.push(
            Known::From,
            Bytes::from_static(b"<sip:alice@192.0.2.10>;tag=a1"),
        );
        r.headers.push(
            Known::To,
            response.headers.get_bytes(&Known::To.into()).unwrap(),
        );
        r.headers.push(Known::CallId, Bytes::from_static(b"call-1"));
        r.headers.push_typed(&CSeq {
            seq,
            method: r.method.clone(),
        });
        r.headers
            .push(Known::MaxForwards, Bytes::from_static(b"70"));
        r
    }

    fn run(&mut self, until: Duration, cancel_at: Option<Duration>) {
        let start = self.now;
        let mut cancelled = false;
        loop {
            self.caller_events();
            self.proxy_events();
            self.callee_events();
            self.flush();
            if let Some(at) = cancel_at {
                if !cancelled && self.now >= start + at {
                    cancelled = true;
                    let mut inv = invite();
                    inv.headers.set(
                        Known::Via.into(),
                        Bytes::from_static(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller1"),
                    );
                    let c = crate::proxy::cancel_for(&inv);
                    self.caller
                        .layer
                        .send_request(self.now, c, Target::new(TransportProtocol::Udp, addr(P)))
                        .unwrap();
                    continue;
                }
            }
            let mut next = [
                self.net.next_delivery(),
                self.caller.layer.poll_timeout(),
                self.proxy_layer.poll_timeout(),
                self.proxy.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .chain(self.callees.iter().filter_map(|c| c.layer.poll_timeout()))
            .chain(
                self.callees
                    .iter()
                    .filter_map(|c| c.pending_2xx.as_ref().map(|p| p.2)),
            )
            .min();
            if let Some(at) = cancel_at {
                if !cancelled {
                    next = Some(next.map_or(start + at, |n| n.min(start + at)));
                }
            }
            let Some(next) = next else { break };
            if next > start + until {
                break;
            }
            self.now = self.now.max(next);
            let now = self.now;
            while let Some(rx) = self.net.deliver(now) {
                let Ok(m) = parse_message(rx.contents.clone(), &ParseConfig::default()) else {
                    continue;
                };
                let path = ReplyPath::from(&rx);
                if rx.destination == addr(A) {
                    self.caller.layer.handle_message(now, m, path);
                } else if rx.destination == addr(P) {
                    self.proxy_layer.handle_message(now, m, path);
                } else if let Some(c) = self.callees.iter_mut().find(|c| c.addr == rx.destination) {
                    c.layer.handle_message(now, m, path);
                }
            }
            self.caller.layer.handle_timeout(now);
            self.proxy_layer.handle_timeout(now);
            self.proxy.handle_timeout(&mut self.proxy_layer, now);
            for c in &mut self.callees {
                c.layer.handle_timeout(now);
                if let Some((id, r, at, interval)) = &mut c.pending_2xx {
                    if *at <= now {
                        let _ = c.layer.send_response(now, *id, r.clone());
                        *interval = (*interval * 2).min(Duration::from_secs(4));
                        *at = now + *interval;
                    }
                }
            }
        }
    }
}

fn start_call(w: &mut World) {
    let mut inv = invite();
    inv.headers.set(
        Known::Via.into(),
        Bytes::from_static(b"SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller1"),
    );
    w.caller
        .layer
        .send_request(w.now, inv, Target::new(TransportProtocol::Udp, addr(P)))
        .unwrap();
}

#[test]
fn call_through_the_proxy_with_record_route_ack_and_bye() {
    let mut w = World::new(
        1,
        Conditions::perfect(),
        &[Behaviour::Answer],
        ForkMode::Parallel,
    );
    start_call(&mut w);
    w.run(Duration::from_secs(120), None);
    assert_eq!(w.caller.finals, [StatusCode::OK]);
    assert_eq!(w.caller.route_set.len(), 2, "double Record-Route");
    assert_eq!(
        w.callees[0].acked, 1,
        "the ACK for 2xx was loose-routed to the callee"
    );
    assert_eq!(w.callees[0].byes, 1);
    assert!(w.caller.bye_done);
    assert!(w.proxy.is_empty(), "contexts cleaned up");
}

#[test]
fn call_through_the_proxy_survives_loss_and_reordering() {
    let mut completed = 0;
    for seed in 0..10 {
        let mut w = World::new(
            100 + seed,
            Conditions::hostile(),
            &[Behaviour::Answer],
            ForkMode::Parallel,
        );
        start_call(&mut w);
        w.run(Duration::from_secs(200), None);
        if w.caller.bye_done && w.callees[0].byes >= 1 {
            completed += 1;
        }
    }
    assert!(
        completed >= 9,
        "{completed} of 10 calls completed under 30% loss"
    );
}

#[test]
fn parallel_fork_forwards_the_2xx_and_cancels_the_rest() {
    let mut w = World::new(
        2,
        Conditions::perfect(),
        &[Behaviour::RingForever, Behaviour::Answer],
        ForkMode::Parallel,
    );
    start_call(&mut w);
    w.run(Duration::from_secs(60), None);
    assert_eq!(w.caller.finals, [StatusCode::OK]);
    assert_eq!(
        w.callees[0].cancelled, 1,
        "the ringing branch was cancelled"
    );
    assert_eq!(w.callees[1].acked, 1);
}

#[test]
fn serial_fork_tries_the_next_after_a_failure() {
    let mut w = World::new(
        3,
        Conditions::perfect(),
        &[Behaviour::Busy, Behaviour::Answer],
        ForkMode::Serial,
    );
    start_call(&mut w);
    w.run(Duration::from_secs(60), None);
    assert_eq!(w.caller.finals, [StatusCode::OK]);
    assert_eq!(w.callees[1].acked, 1);
}

#[test]
fn best_response_when_every_branch_fails() {
    let mut w = World::new(
        4,
        Conditions::perfect(),
        &[Behaviour::Busy, Behaviour::Busy],
        ForkMode::Parallel,
    );
    start_call(&mut w);
    w.run(Duration::from_secs(60), None);
    assert_eq!(w.caller.finals, [StatusCode::BUSY_HERE]);
}

#[test]
fn cancel_propagates_to_ringing_branches() {
    let mut w = World::new(
        5,
        Conditions::perfect(),
        &[Behaviour::RingForever, Behaviour::RingForever],
        ForkMode::Parallel,
    );
    start_call(&mut w);
    w.run(Duration::from_secs(60), Some(Duration::from_secs(2)));
    assert_eq!(w.callees.iter().map(|c| c.cancelled).sum::<usize>(), 2);
    assert_eq!(w.caller.finals, [StatusCode::REQUEST_TERMINATED]);
}

#[test]
fn timer_c_ends_a_call_that_rings_forever() {
    let mut w = World::new(
        6,
        Conditions::perfect(),
        &[Behaviour::RingForever],
        ForkMode::Parallel,
    );
    start_call(&mut w);
    w.run(Duration::from_secs(400), None);
    assert_eq!(w.callees[0].cancelled, 1);
    assert_eq!(w.caller.finals, [StatusCode::REQUEST_TERMINATED]);
    let _ = Message::Request(invite());
}

#[test]
fn timer_c_deadline_follows_the_call() {
    // ringing: Timer C runs, restarted by the 180
    let mut w = World::new(
        7,
        Conditions::perfect(),
        &[Behaviour::RingForever],
        ForkMode::Parallel,
    );
    let start = w.now;
    start_call(&mut w);
    w.run(Duration::from_secs(5), None);
    let deadline = w.proxy.poll_timeout().expect("Timer C runs while ringing");
    assert!(deadline > start + Duration::from_secs(180), "{deadline:?}");
    assert!(deadline <= start + Duration::from_secs(182), "{deadline:?}");

    // answered (and hung up): the contexts live on (Timer L for the INVITE,
    // Timer J for the BYE) but Timer C is gone
    let mut w = World::new(
        8,
        Conditions::perfect(),
        &[Behaviour::Answer],
        ForkMode::Parallel,
    );
    start_call(&mut w);
    w.run(Duration::from_secs(5), None);
    assert_eq!(w.caller.finals, [StatusCode::OK]);
    assert!(!w.proxy.is_empty(), "the contexts wait for Timers L and J");
    assert_eq!(w.proxy.poll_timeout(), None, "no Timer C after the 2xx");
}

#[test]
fn a_challenging_next_hop_is_answered_with_the_destination_credentials() {
    let mut w = World::new(
        8,
        Conditions::perfect(),
        &[Behaviour::Challenge],
        ForkMode::Serial,
    );
    w.credentials = Some(BranchCredentials {
        username: "acct".into(),
        password: "secret".into(),
    });
    start_call(&mut w);
    w.run(Duration::from_secs(60), None);
    assert_eq!(
        w.caller.finals,
        [StatusCode::OK],
        "the caller never sees the 407"
    );
    assert_eq!(w.callees[0].acked, 1);
    assert!(w.proxy_events.iter().any(|e| matches!(
        e,
        ProxyEvent::ChallengeAnswered { status, .. } if *status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
    )));
    assert!(w.proxy_events.iter().any(|e| matches!(
        e,
        ProxyEvent::Final { status, initial_invite: true, call_id, .. }
            if *status == StatusCode::OK && &call_id[..] == b"call-1"
    )));
}

#[test]
fn without_credentials_the_challenge_goes_upstream() {
    let mut w = World::new(
        9,
        Conditions::perfect(),
        &[Behaviour::Challenge],
        ForkMode::Serial,
    );
    start_call(&mut w);
    w.run(Duration::from_secs(60), None);
    assert_eq!(w.caller.finals, [StatusCode::PROXY_AUTHENTICATION_REQUIRED]);
    assert!(w.proxy_events.iter().any(|e| matches!(
        e,
        ProxyEvent::Final { status, .. } if *status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
    )));
}
