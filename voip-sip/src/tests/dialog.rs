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
            Kind::Relay { .. } => panic!("node {i} is a relay"),
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

    fn next_deadline(&mut self) -> Option<Instant> {
        let mut next = self.net.next_delivery();
        for n in &mut self.nodes {
            if let Kind::Ua(ua) = &mut n.kind {
                if let Some(t) = ua.poll_timeout() {
                    next = Some(next.map_or(t, |x| x.min(t)));
                }
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
            }
        }
        for n in &mut self.nodes {
            if let Kind::Ua(ua) = &mut n.kind {
                if ua.poll_timeout().is_some_and(|t| t <= now) {
                    ua.handle_timeout(now);
                }
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

#[test]
fn basic_call_caller_hangs_up() {
    let mut sim = Sim::pair(1, Conditions::perfect());
    let (da, db) = sim.call(0, 1, secs(5));
    let e = sim.wait(1, secs(5), |e| matches!(e, UaEvent::Acked { .. }));
    assert_eq!(
        e,
        UaEvent::Acked {
            dialog: db,
            body: None
        }
    );
    // both sides agree on the dialog
    let (a, b) = (
        sim.ua(0).dialog(da).unwrap().clone(),
        sim.ua(1).dialog(db).unwrap().clone(),
    );
    assert_eq!(a.call_id(), b.call_id());
    assert_eq!(
        (a.local_tag(), a.remote_tag()),
        (b.remote_tag(), b.local_tag())
    );
    assert_eq!(b.remote_target().to_string(), "sip:u0@192.0.2.1:5060");
    let now = sim.now;
    sim.ua(0).bye(now, da).unwrap();
    sim.wait(0, secs(1), terminated(da, TerminationCause::LocalBye));
    sim.wait(1, secs(5), terminated(db, TerminationCause::RemoteBye));
    sim.run_for(secs(5));
    // INVITE, ACK, BYE from the caller; 180, 200 (once: the ACK came), 200 BYE from the callee
    assert_eq!(sim.sent(0, |b| is_request(b, "INVITE")).len(), 1);
    assert_eq!(sim.sent(0, |b| is_request(b, "ACK")).len(), 1);
    assert_eq!(sim.sent(0, |b| is_request(b, "BYE")).len(), 1);
    assert_eq!(sim.sent(1, |b| is_response(b, 200, "INVITE")).len(), 1);
    assert_eq!(sim.sent(1, |b| is_response(b, 200, "BYE")).len(), 1);
    // terminated dialogs linger 64·T1, then go
    sim.run_for(secs(40));
    assert!(sim.ua(0).is_empty() && sim.ua(1).is_empty());
    assert_eq!(sim.ua(0).poll_timeout(), None);
}

#[test]
fn basic_call_callee_hangs_up() {
    let mut sim = Sim::pair(2, Conditions::perfect());
    let (da, db) = sim.call(0, 1, secs(5));
    // BYE right away: it waits for the ACK (RFC 3261 §15)
    let now = sim.now;
    sim.ua(1).bye(now, db).unwrap();
    sim.wait(1, secs(5), |e| matches!(e, UaEvent::Acked { .. }));
    sim.wait(1, secs(1), terminated(db, TerminationCause::LocalBye));
    sim.wait(0, secs(5), terminated(da, TerminationCause::RemoteBye));
    let acks = sim.sent(0, |b| is_request(b, "ACK"));
    let byes = sim.sent(1, |b| is_request(b, "BYE"));
    assert!(byes[0] > acks[0]);
}

/// 30% loss, 10% duplication, 5-150 ms of delay: every call of 20 seeds
/// completes, half hung up by the caller, half by the callee.
#[test]
fn basic_calls_survive_loss_reordering_and_duplication() {
    let (mut sent, mut dropped) = (0, 0);
    for seed in 1..=20 {
        let mut sim = Sim::pair(seed, Conditions::hostile());
        let (da, db) = sim.call(0, 1, secs(40));
        let now = sim.now;
        let (hanger, other, dh, dother) = if seed % 2 == 0 {
            (0, 1, da, db)
        } else {
            (1, 0, db, da)
        };
        sim.ua(hanger).bye(now, dh).unwrap();
        sim.wait(
            other,
            secs(70),
            terminated(dother, TerminationCause::RemoteBye),
        );
        sim.wait(hanger, secs(70), terminated(dh, TerminationCause::LocalBye));
        assert!(
            !sim.has(1, |e| matches!(
                e,
                UaEvent::Terminated {
                    cause: TerminationCause::AckTimeout,
                    ..
                }
            )),
            "seed {seed}"
        );
        sent += sim.net.sent;
        dropped += sim.net.dropped;
    }
    // the network really was hostile
    assert!(dropped * 5 > sent, "{dropped} of {sent} dropped");
}

#[test]
fn cancel_before_answer_gets_487() {
    let mut sim = Sim::pair(3, Conditions::perfect());
    let now = sim.now;
    let rid = sim
        .ua(0)
        .invite(now, Sim::options(0, 1).body(sdp("1")))
        .unwrap();
    let UaEvent::IncomingCall { dialog: db, .. } =
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        unreachable!()
    };
    let now = sim.now;
    sim.ua(1)
        .answer(now, db, StatusCode::RINGING, None)
        .unwrap();
    let UaEvent::Ringing {
        dialog: Some(da), ..
    } = sim.wait(0, secs(1), |e| matches!(e, UaEvent::Ringing { .. }))
    else {
        panic!("no early dialog")
    };
    let now = sim.now;
    sim.ua(0).cancel(now, rid).unwrap();
    sim.wait(1, secs(1), terminated(db, TerminationCause::Cancelled));
    let failed = sim.wait(0, secs(1), |e| matches!(e, UaEvent::CallFailed { .. }));
    assert!(matches!(
        failed,
        UaEvent::CallFailed {
            status: StatusCode::REQUEST_TERMINATED,
            ..
        }
    ));
    sim.wait(0, secs(1), terminated(da, TerminationCause::Cancelled));
    assert_eq!(sim.sent(0, |b| is_request(b, "CANCEL")).len(), 1);
    // answering now is too late
    let now = sim.now;
    assert!(sim.ua(1).answer(now, db, StatusCode::OK, None).is_err());
}

#[test]
fn cancel_before_any_provisional_waits_for_one() {
    let mut sim = Sim::pair(4, Conditions::perfect());
    let now = sim.now;
    let rid = sim
        .ua(0)
        .invite(now, Sim::options(0, 1).body(sdp("1")))
        .unwrap();
    sim.ua(0).cancel(now, rid).unwrap();
    sim.flush();
    assert!(sim.sent(0, |b| is_request(b, "CANCEL")).is_empty());
    // the 100 Trying lets the CANCEL go
    let failed = sim.wait(0, secs(2), |e| matches!(e, UaEvent::CallFailed { .. }));
    assert!(matches!(
        failed,
        UaEvent::CallFailed {
            status: StatusCode::REQUEST_TERMINATED,
            ..
        }
    ));
    assert_eq!(sim.sent(0, |b| is_request(b, "CANCEL")).len(), 1);
    assert!(sim.has(1, |e| matches!(
        e,
        UaEvent::Terminated {
            cause: TerminationCause::Cancelled,
            ..
        }
    )));
}

#[test]
fn forked_invite_makes_early_dialogs_and_the_extra_2xx_gets_ack_and_bye() {
    // node 0 calls through the relay (node 1) that forks to nodes 2 and 3
    let mut sim = Sim::new(
        5,
        Conditions::perfect(),
        vec![config(0), config(1), config(2), config(3)],
    );
    sim.nodes[1].kind = Kind::Relay {
        callees: vec![addr(2), addr(3)],
    };
    let now = sim.now;
    let rid = sim
        .ua(0)
        .invite(now, Sim::options(0, 1).body(sdp("1")))
        .unwrap();
    let mut callee_dialogs = Vec::new();
    for b in [2, 3] {
        let UaEvent::IncomingCall { dialog, .. } =
            sim.wait(b, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
        else {
            unreachable!()
        };
        callee_dialogs.push(dialog);
    }
    let now = sim.now;
    sim.ua(2)
        .answer(now, callee_dialogs[0], StatusCode::RINGING, None)
        .unwrap();
    sim.ua(3)
        .answer(
            now,
            callee_dialogs[1],
            StatusCode::SESSION_PROGRESS,
            Some(sdp("3")),
        )
        .unwrap();
    let mut early = Vec::new();
    for _ in 0..2 {
        let UaEvent::Ringing {
            dialog: Some(d),
            request,
            ..
        } = sim.wait(0, secs(1), |e| matches!(e, UaEvent::Ringing { .. }))
        else {
            panic!("ringing without dialog")
        };
        assert_eq!(request, rid);
        early.push(d);
    }
    assert_ne!(early[0], early[1], "two forks, two early dialogs");
    let tags: Vec<_> = early
        .iter()
        .map(|d| sim.ua(0).dialog(*d).unwrap().remote_tag().clone())
        .collect();
    assert_ne!(tags[0], tags[1]);
    // the first fork answers: its early dialog is confirmed, the other one lost
    let now = sim.now;
    sim.ua(2)
        .answer(now, callee_dialogs[0], StatusCode::OK, Some(sdp("2")))
        .unwrap();
    let UaEvent::Answered { dialog, .. } =
        sim.wait(0, secs(1), |e| matches!(e, UaEvent::Answered { .. }))
    else {
        unreachable!()
    };
    let (winner, loser) = if sim
        .ua(0)
        .dialog(dialog)
        .unwrap()
        .remote_target()
        .to_string()
        .contains("u2@")
    {
        (
            dialog,
            early.iter().copied().find(|d| *d != dialog).unwrap(),
        )
    } else {
        panic!("the answer came from node 2")
    };
    assert!(early.contains(&winner));
    sim.wait(0, secs(1), terminated(loser, TerminationCause::ForkLost));
    // the second fork answers too: ACK then BYE (RFC 3261 §13.2.2.4)
    let now = sim.now;
    sim.ua(3)
        .answer(now, callee_dialogs[1], StatusCode::OK, Some(sdp("3")))
        .unwrap();
    sim.wait(3, secs(2), |e| matches!(e, UaEvent::Acked { .. }));
    sim.wait(
        3,
        secs(2),
        terminated(callee_dialogs[1], TerminationCause::RemoteBye),
    );
    sim.wait(2, secs(2), |e| matches!(e, UaEvent::Acked { .. }));
    assert!(!sim.has(0, |e| matches!(e, UaEvent::Answered { .. })));
    assert_eq!(
        sim.ua(0).dialog(winner).unwrap().state(),
        crate::dialog::DialogState::Confirmed
    );
}

#[test]
fn uas_retransmits_2xx_until_ack_and_byes_after_64_t1() {
    let mut sim = Sim::pair(6, Conditions::perfect());
    // every ACK from the caller is lost
    sim.drop = Some(Box::new(|from, b| from == 0 && is_request(b, "ACK")));
    let now = sim.now;
    sim.ua(0)
        .invite(now, Sim::options(0, 1).body(sdp("1")))
        .unwrap();
    let UaEvent::IncomingCall { dialog: db, .. } =
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        unreachable!()
    };
    let answered_at = sim.now - sim.start;
    let now = sim.now;
    sim.ua(1)
        .answer(now, db, StatusCode::OK, Some(sdp("2")))
        .unwrap();
    let UaEvent::Answered { dialog: da, .. } =
        sim.wait(0, secs(1), |e| matches!(e, UaEvent::Answered { .. }))
    else {
        unreachable!()
    };
    sim.wait(1, secs(40), terminated(db, TerminationCause::AckTimeout));
    let sends: Vec<u64> = sim
        .sent(1, |b| is_response(b, 200, "INVITE"))
        .iter()
        .map(|t| (*t - answered_at).as_millis() as u64)
        .collect();
    // T1 doubling up to T2 (RFC 3261 §13.3.1.4)
    assert_eq!(
        sends,
        [
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    // the UAC ACKed every copy it got
    assert_eq!(sim.sent(0, |b| is_request(b, "ACK")).len(), sends.len());
    // 64·T1 without ACK: BYE
    let byes = sim.sent(1, |b| is_request(b, "BYE"));
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0] - answered_at, secs(32));
    sim.wait(0, secs(1), terminated(da, TerminationCause::RemoteBye));
}

/// Both sides send a re-INVITE at once: both get 491, the side that does
/// not own the Call-ID retries first (0-2 s), the owner after 2.1-4 s.
#[test]
fn glare_gets_491_and_retries_after_the_section_14_1_delays() {
    for seed in 7..12 {
        let mut sim = Sim::pair(seed, Conditions::perfect());
        let (da, db) = sim.call(0, 1, secs(5));
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::Acked { .. }));
        let now = sim.now;
        let t0 = now - sim.start;
        let ra = sim.ua(0).reinvite(now, da, Some(sdp("3"))).unwrap();
        let rb = sim.ua(1).reinvite(now, db, Some(sdp("4"))).unwrap();
        assert_eq!(
            sim.ua(0).reinvite(now, da, None),
            Err(crate::ua::UaError::Pending)
        );
        let mut done = [false, false];
        let limit = sim.now + secs(20);
        while !(done[0] && done[1]) {
            assert!(sim.step(limit), "seed {seed}: glare did not resolve");
            for (i, rid) in [(0, ra), (1, rb)] {
                while let Some(pos) = sim.nodes[i]
                    .events
                    .iter()
                    .position(|e| matches!(e, UaEvent::Reoffer { .. }))
                {
                    let Some(UaEvent::Reoffer { id, .. }) = sim.nodes[i].events.remove(pos) else {
                        unreachable!()
                    };
                    let now = sim.now;
                    sim.ua(i)
                        .respond(now, id, StatusCode::OK, Some(sdp("5")))
                        .unwrap();
                }
                if let Some(pos) = sim.nodes[i].events.iter().position(|e| {
                    matches!(e, UaEvent::Response { request, status: StatusCode::OK, .. } if *request == rid)
                }) {
                    sim.nodes[i].events.remove(pos);
                    done[i] = true;
                }
            }
        }
        for (i, range) in [(0usize, 2100..=4000u64), (1, 0..=2000)] {
            assert_eq!(
                sim.sent(1 - i, |b| is_response(b, 491, "INVITE")).len(),
                1,
                "seed {seed}"
            );
            let invites = sim.sent(i, |b| is_request(b, "INVITE"));
            let retry = invites.last().unwrap();
            let got_491 = t0 + Duration::from_millis(20);
            let delay = (*retry - got_491).as_millis() as u64;
            assert!(
                range.contains(&delay),
                "seed {seed}: node {i} retried after {delay} ms"
            );
        }
    }
}

#[test]
fn reinvite_puts_the_call_on_hold_and_back() {
    let mut sim = Sim::pair(12, Conditions::perfect());
    let (da, db) = sim.call(0, 1, secs(5));
    for (mine, theirs) in [("a=sendonly", "a=recvonly"), ("a=sendrecv", "a=sendrecv")] {
        let now = sim.now;
        let rid = sim.ua(0).reinvite(now, da, Some(Body::sdp(mine))).unwrap();
        let UaEvent::Reoffer {
            dialog,
            id,
            method,
            body,
        } = sim.wait(1, secs(1), |e| matches!(e, UaEvent::Reoffer { .. }))
        else {
            unreachable!()
        };
        assert_eq!((dialog, method), (db, Method::Invite));
        assert_eq!(body.unwrap().data, mine);
        let now = sim.now;
        sim.ua(1)
            .respond(now, id, StatusCode::OK, Some(Body::sdp(theirs)))
            .unwrap();
        let UaEvent::Response {
            status, response, ..
        } = sim.wait(
            0,
            secs(1),
            |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
        )
        else {
            unreachable!()
        };
        assert_eq!(status, StatusCode::OK);
        assert_eq!(response.unwrap().body, theirs);
        sim.wait(
            1,
            secs(1),
            |e| matches!(e, UaEvent::Acked { dialog, .. } if *dialog == db),
        );
    }
    // a rejected re-INVITE keeps the call
    let now = sim.now;
    let rid = sim
        .ua(1)
        .reinvite(now, db, Some(Body::sdp("m=video")))
        .unwrap();
    let UaEvent::Reoffer { id, .. } =
        sim.wait(0, secs(1), |e| matches!(e, UaEvent::Reoffer { .. }))
    else {
        unreachable!()
    };
    let now = sim.now;
    sim.ua(0)
        .respond(now, id, StatusCode::NOT_ACCEPTABLE_HERE, None)
        .unwrap();
    let e = sim.wait(
        1,
        secs(1),
        |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
    );
    assert!(matches!(
        e,
        UaEvent::Response {
            status: StatusCode::NOT_ACCEPTABLE_HERE,
            ..
        }
    ));
    assert_eq!(
        sim.ua(0).dialog(da).unwrap().state(),
        crate::dialog::DialogState::Confirmed
    );
}

fn rel100_pair(seed: u64) -> Sim {
    Sim::new(
        seed,
        Conditions::perfect(),
        vec![config(0), config(1).rel100(Rel100::Required)],
    )
}

#[test]
fn reliable_provisional_is_pracked_and_the_2xx_waits_for_the_prack() {
    let mut sim = rel100_pair(13);
    let now = sim.now;
    let rid = sim
        .ua(0)
        .invite(now, Sim::options(0, 1).body(sdp("1")))
        .unwrap();
    let UaEvent::IncomingCall { dialog: db, .. } =
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        unreachable!()
    };
    let now = sim.now;
    sim.ua(1)
        .answer(now, db, StatusCode::SESSION_PROGRESS, Some(sdp("2")))
        .unwrap();
    // the 2xx right behind it waits for the PRACK (RFC 3262 §3)
    sim.ua(1)
        .answer(now, db, StatusCode::OK, Some(sdp("2")))
        .unwrap();
    sim.flush();
    assert!(sim.sent(1, |b| is_response(b, 200, "INVITE")).is_empty());
    let UaEvent::Ringing {
        dialog: Some(da),
        body,
        ..
    } = sim.wait(0, secs(1), |e| matches!(e, UaEvent::Ringing { .. }))
    else {
        panic!()
    };
    assert!(body.is_some());
    sim.wait(1, secs(1), |e| matches!(e, UaEvent::PrackReceived { .. }));
    // the 183 carried RSeq and Require: 100rel; the PRACK its RAck
    let p183 = &sim.nodes[1]
        .sent
        .iter()
        .find(|(_, b)| is_response(b, 183, "INVITE"))
        .unwrap()
        .1;
    let Message::Response(r183) = parse_message(p183.clone(), &ParseConfig::default()).unwrap()
    else {
        panic!()
    };
    let RSeq(rseq) = r183.headers.typed::<RSeq>().unwrap().unwrap();
    assert!(crate::dialog::reliable::requires_100rel(&r183.headers));
    let prack = &sim.nodes[0]
        .sent
        .iter()
        .find(|(_, b)| is_request(b, "PRACK"))
        .unwrap()
        .1;
    let Message::Request(prack) = parse_message(prack.clone(), &ParseConfig::default()).unwrap()
    else {
        panic!()
    };
    let rack = prack.headers.typed::<RAck>().unwrap().unwrap();
    assert_eq!((rack.rseq, rack.method), (rseq, Method::Invite));
    assert_eq!(rack.cseq, r183.cseq().unwrap().unwrap().seq);
    let e = sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Answered { request, .. } if *request == rid),
    );
    assert!(matches!(e, UaEvent::Answered { dialog, .. } if dialog == da));
    assert_eq!(sim.sent(1, |b| is_response(b, 183, "INVITE")).len(), 1);
    // BYE's CSeq follows the PRACK's
    let now = sim.now;
    sim.ua(0).bye(now, da).unwrap();
    sim.wait(1, secs(1), terminated(db, TerminationCause::RemoteBye));
}

#[test]
fn reliable_provisional_is_retransmitted_until_64_t1_then_500() {
    let mut sim = rel100_pair(14);
    sim.drop = Some(Box::new(|from, b| from == 0 && is_request(b, "PRACK")));
    let now = sim.now;
    let rid = sim
        .ua(0)
        .invite(now, Sim::options(0, 1).body(sdp("1")))
        .unwrap();
    let UaEvent::IncomingCall { dialog: db, .. } =
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        unreachable!()
    };
    let t0 = sim.now - sim.start;
    let now = sim.now;
    sim.ua(1)
        .answer(now, db, StatusCode::RINGING, None)
        .unwrap();
    sim.wait(1, secs(40), terminated(db, TerminationCause::PrackTimeout));
    let sends: Vec<u64> = sim
        .sent(1, |b| is_response(b, 180, "INVITE"))
        .iter()
        .map(|t| (*t - t0).as_millis() as u64)
        .collect();
    assert_eq!(sends, [0, 500, 1500, 3500, 7500, 15500, 31500]);
    let e = sim.wait(0, secs(1), |e| matches!(e, UaEvent::CallFailed { .. }));
    assert_eq!(
        e,
        match e.clone() {
            UaEvent::CallFailed { response, .. } => UaEvent::CallFailed {
                request: rid,
                status: StatusCode::SERVER_INTERNAL_ERROR,
                response,
            },
            _ => unreachable!(),
        }
    );
    // one PRACK transaction (retransmitted by Timer E): the 180
    // retransmissions are not PRACKed again
    let mut cseqs: Vec<Bytes> = sim.nodes[0]
        .sent
        .iter()
        .filter(|(_, b)| is_request(b, "PRACK"))
        .map(
            |(_, b)| match parse_message(b.clone(), &ParseConfig::default()) {
                Ok(Message::Request(r)) => r.headers.get(&Known::CSeq.into()).unwrap().clone(),
                _ => panic!(),
            },
        )
        .collect();
    assert!(cseqs.len() > 1);
    cseqs.dedup();
    assert_eq!(cseqs.len(), 1);
}

#[test]
fn update_in_an_early_dialog() {
    let mut sim = rel100_pair(15);
    let now = sim.now;
    sim.ua(0)
        .invite(now, Sim::options(0, 1).body(sdp("1")))
        .unwrap();
    let UaEvent::IncomingCall { dialog: db, .. } =
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        unreachable!()
    };
    let now = sim.now;
    sim.ua(1)
        .answer(now, db, StatusCode::SESSION_PROGRESS, Some(sdp("2")))
        .unwrap();
    let UaEvent::Ringing {
        dialog: Some(da), ..
    } = sim.wait(0, secs(1), |e| matches!(e, UaEvent::Ringing { .. }))
    else {
        panic!()
    };
    sim.wait(1, secs(1), |e| matches!(e, UaEvent::PrackReceived { .. }));
    let now = sim.now;
    let rid = sim.ua(0).update(now, da, Some(sdp("3"))).unwrap();
    let UaEvent::Reoffer {
        id, method, dialog, ..
    } = sim.wait(1, secs(1), |e| matches!(e, UaEvent::Reoffer { .. }))
    else {
        unreachable!()
    };
    assert_eq!((method, dialog), (Method::Update, db));
    let now = sim.now;
    sim.ua(1)
        .respond(now, id, StatusCode::OK, Some(sdp("4")))
        .unwrap();
    let e = sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
    );
    assert!(matches!(
        e,
        UaEvent::Response {
            status: StatusCode::OK,
            method: Method::Update,
            ..
        }
    ));
    assert_eq!(
        sim.ua(0).dialog(da).unwrap().state(),
        crate::dialog::DialogState::Early
    );
    let now = sim.now;
    sim.ua(1)
        .answer(now, db, StatusCode::OK, Some(sdp("4")))
        .unwrap();
    sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Answered { dialog, .. } if *dialog == da),
    );
}

fn timer_configs(a_se: Option<u32>, b_min: u32) -> Vec<UaConfig> {
    vec![
        config(0).session_timer(a_se, 90),
        config(1).session_timer(None, b_min),
    ]
}

#[test]
fn session_timer_refreshes_at_half_the_interval_and_expires_into_bye() {
    let mut sim = Sim::new(16, Conditions::perfect(), timer_configs(Some(120), 90));
    let (da, db) = sim.call(0, 1, secs(5));
    let t = sim.ua(0).session_timer(da).unwrap();
    assert_eq!(t.interval, 120);
    assert_eq!(t.refresher, crate::dialog::session_timer::Refresher::Uac);
    assert_eq!(sim.ua(1).session_timer(db), Some(t));
    let t0 = sim.now - sim.start;
    // the caller refreshes every 60 s with UPDATE (the callee allows it)
    sim.run_for(secs(200));
    let updates: Vec<u64> = sim
        .sent(0, |b| is_request(b, "UPDATE"))
        .iter()
        .map(|t| (*t - t0).as_secs())
        .collect();
    assert_eq!(updates, [60, 120, 180]);
    assert_eq!(
        sim.nodes[1]
            .events
            .iter()
            .filter(|e| matches!(e, UaEvent::SessionRefreshed { .. }))
            .count(),
        3
    );
    // the refreshes stop reaching the callee: it gives up at 120 - 32 s
    sim.drop = Some(Box::new(|from, b| from == 0 && is_request(b, "UPDATE")));
    let last_refresh = sim.now;
    sim.wait(
        1,
        secs(200),
        terminated(db, TerminationCause::SessionExpired),
    );
    let expired_after = sim.now - last_refresh;
    assert!(expired_after <= secs(88), "{expired_after:?}");
    sim.wait(0, secs(1), terminated(da, TerminationCause::RemoteBye));
}

#[test]
fn session_interval_too_small_is_retried_with_the_min_se() {
    let mut sim = Sim::new(17, Conditions::perfect(), timer_configs(Some(90), 300));
    let (da, db) = sim.call(0, 1, secs(5));
    assert_eq!(sim.sent(1, |b| is_response(b, 422, "INVITE")).len(), 1);
    assert_eq!(sim.sent(0, |b| is_request(b, "INVITE")).len(), 2);
    let retry = &sim.nodes[0]
        .sent
        .iter()
        .rfind(|(_, b)| is_request(b, "INVITE"))
        .unwrap()
        .1;
    let Message::Request(retry) = parse_message(retry.clone(), &ParseConfig::default()).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        &retry.headers.get(&Known::SessionExpires.into()).unwrap()[..],
        b"300"
    );
    assert_eq!(
        &retry.headers.get(&Known::MinSe.into()).unwrap()[..],
        b"300"
    );
    assert_eq!(sim.ua(0).session_timer(da).unwrap().interval, 300);
    assert_eq!(sim.ua(1).session_timer(db).unwrap().interval, 300);
    // the callee saw one call, not two
    assert!(!sim.has(1, |e| matches!(e, UaEvent::IncomingCall { .. })));
}

#[test]
fn info_and_message_within_and_outside_a_dialog() {
    let mut sim = Sim::pair(18, Conditions::perfect());
    let (da, db) = sim.call(0, 1, secs(5));
    let now = sim.now;
    let dtmf = Body::new("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n");
    let rid = sim.ua(0).info(now, da, dtmf.clone()).unwrap();
    let UaEvent::Info {
        dialog,
        id,
        request,
    } = sim.wait(1, secs(1), |e| matches!(e, UaEvent::Info { .. }))
    else {
        unreachable!()
    };
    assert_eq!(dialog, db);
    assert_eq!(request.body, dtmf.data);
    let now = sim.now;
    sim.ua(1).respond(now, id, StatusCode::OK, None).unwrap();
    let e = sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
    );
    assert!(matches!(
        e,
        UaEvent::Response {
            status: StatusCode::OK,
            method: Method::Info,
            ..
        }
    ));
    // MESSAGE in the dialog
    let now = sim.now;
    let rid = sim
        .ua(1)
        .message(now, db, Body::new("text/plain", "hello"))
        .unwrap();
    let UaEvent::Message { dialog, id, .. } =
        sim.wait(0, secs(1), |e| matches!(e, UaEvent::Message { .. }))
    else {
        unreachable!()
    };
    assert_eq!(dialog, Some(da));
    let now = sim.now;
    sim.ua(0).respond(now, id, StatusCode::OK, None).unwrap();
    sim.wait(
        1,
        secs(1),
        |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
    );
    // MESSAGE outside a dialog (RFC 3428): pager mode
    let now = sim.now;
    let rid = sim
        .ua(0)
        .request_out_of_dialog(
            now,
            Method::Message,
            Sim::uri(0),
            Sim::uri(1),
            Some(Body::new("text/plain", "hi")),
        )
        .unwrap();
    let UaEvent::Message {
        dialog,
        id,
        request,
    } = sim.wait(1, secs(1), |e| matches!(e, UaEvent::Message { .. }))
    else {
        unreachable!()
    };
    assert_eq!((dialog, &request.body[..]), (None, &b"hi"[..]));
    let now = sim.now;
    sim.ua(1)
        .respond(now, id, StatusCode::ACCEPTED, None)
        .unwrap();
    let e = sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
    );
    assert!(matches!(
        e,
        UaEvent::Response {
            status: StatusCode::ACCEPTED,
            dialog: None,
            ..
        }
    ));
    // OPTIONS is answered by the core
    let now = sim.now;
    let rid = sim
        .ua(0)
        .request_out_of_dialog(now, Method::Options, Sim::uri(0), Sim::uri(1), None)
        .unwrap();
    let UaEvent::Response { response, .. } = sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
    ) else {
        unreachable!()
    };
    let response: Response = response.unwrap();
    assert_eq!(response.status, StatusCode::OK);
    assert!(
        response
            .headers
            .get(&Known::Allow.into())
            .unwrap()
            .windows(5)
            .any(|w| w == b"REFER")
    );
}

/// Blind transfer (RFC 5589 §6): 0 calls 1, refers 1 to 2; 1 calls 2 and
/// reports through NOTIFYs; 0 hangs up.
#[test]
fn blind_transfer() {
    let mut sim = Sim::new(
        19,
        Conditions::perfect(),
        vec![config(0), config(1), config(2)],
    );
    let (d01, d10) = sim.call(0, 1, secs(5));
    let now = sim.now;
    let refer = sim.ua(0).refer(now, d01, &Sim::uri(2), None).unwrap();
    let UaEvent::TransferRequested {
        dialog,
        id,
        target,
        replaces,
        referred_by,
    } = sim.wait(1, secs(1), |e| {
        matches!(e, UaEvent::TransferRequested { .. })
    })
    else {
        unreachable!()
    };
    assert_eq!((dialog, replaces), (d10, None));
    assert_eq!(target, Sim::uri(2));
    let referred_by = referred_by.unwrap();
    assert_eq!(referred_by.uri, Sim::uri(0));
    let now = sim.now;
    sim.ua(1)
        .respond(now, id, StatusCode::ACCEPTED, None)
        .unwrap();
    let e = sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Response { request, .. } if *request == refer),
    );
    assert!(matches!(
        e,
        UaEvent::Response {
            status: StatusCode::ACCEPTED,
            ..
        }
    ));
    let e = sim.wait(0, secs(1), |e| {
        matches!(e, UaEvent::TransferProgress { .. })
    });
    assert_eq!(
        e,
        UaEvent::TransferProgress {
            dialog: d01,
            status: StatusCode::TRYING,
            done: false
        }
    );
    // the transferee calls the target, with Referred-By
    let now = sim.now;
    let call = sim
        .ua(1)
        .invite(
            now,
            Sim::options(1, 2).body(sdp("7")).referred_by(referred_by),
        )
        .unwrap();
    let UaEvent::IncomingCall {
        dialog: d21,
        request,
        ..
    } = sim.wait(2, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        unreachable!()
    };
    assert!(request.headers.contains(&Known::ReferredBy.into()));
    let now = sim.now;
    sim.ua(2)
        .answer(now, d21, StatusCode::OK, Some(sdp("8")))
        .unwrap();
    sim.wait(
        1,
        secs(1),
        |e| matches!(e, UaEvent::Answered { request, .. } if *request == call),
    );
    let now = sim.now;
    sim.ua(1)
        .transfer_progress(now, d10, StatusCode::OK)
        .unwrap();
    let e = sim.wait(0, secs(1), |e| {
        matches!(e, UaEvent::TransferProgress { .. })
    });
    assert_eq!(
        e,
        UaEvent::TransferProgress {
            dialog: d01,
            status: StatusCode::OK,
            done: true
        }
    );
    // the NOTIFYs carried the sipfrag bodies and subscription states
    let notifies: Vec<Bytes> = sim.nodes[1]
        .sent
        .iter()
        .filter(|(_, b)| is_request(b, "NOTIFY"))
        .map(|(_, b)| b.clone())
        .collect();
    assert_eq!(notifies.len(), 2);
    let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
    assert!(text(&notifies[0]).contains("Subscription-State: active;expires=60"));
    assert!(text(&notifies[0]).ends_with("SIP/2.0 100 Trying\r\n"));
    assert!(text(&notifies[1]).contains("Subscription-State: terminated;reason=noresource"));
    assert!(text(&notifies[1]).contains("Content-Type: message/sipfrag;version=2.0"));
    assert!(text(&notifies[1]).ends_with("SIP/2.0 200 OK\r\n"));
    assert!(
        sim.ua(1)
            .transfer_progress(now, d10, StatusCode::OK)
            .is_err()
    );
    // the transferor leaves
    let now = sim.now;
    sim.ua(0).bye(now, d01).unwrap();
    sim.wait(1, secs(1), terminated(d10, TerminationCause::RemoteBye));
    assert_eq!(
        sim.ua(2).dialog(d21).unwrap().state(),
        crate::dialog::DialogState::Confirmed
    );
}

/// Attended transfer (RFC 5589 §7): 0 talks to 1 and to 2, refers 1 to 2
/// with Replaces; 1's INVITE with Replaces takes over 2's dialog with 0.
#[test]
fn attended_transfer_replaces_the_dialog() {
    let mut sim = Sim::new(
        20,
        Conditions::perfect(),
        vec![config(0), config(1), config(2)],
    );
    let (d01, d10) = sim.call(0, 1, secs(5));
    let (d02, d20) = sim.call(0, 2, secs(5));
    let now = sim.now;
    sim.ua(0).attended_transfer(now, d01, d02).unwrap();
    let UaEvent::TransferRequested {
        id,
        target,
        replaces,
        referred_by,
        ..
    } = sim.wait(1, secs(1), |e| {
        matches!(e, UaEvent::TransferRequested { .. })
    })
    else {
        unreachable!()
    };
    let replaces = replaces.expect("attended transfer carries Replaces");
    assert_eq!(target.to_string(), "sip:u2@192.0.2.3:5060");
    assert_eq!(&replaces.call_id, sim.ua(2).dialog(d20).unwrap().call_id());
    let now = sim.now;
    sim.ua(1)
        .respond(now, id, StatusCode::ACCEPTED, None)
        .unwrap();
    let mut options = InviteOptions::new(Sim::uri(1), target)
        .body(sdp("9"))
        .replaces(replaces);
    if let Some(by) = referred_by {
        options = options.referred_by(by);
    }
    let call = sim.ua(1).invite(now, options).unwrap();
    let UaEvent::IncomingCall {
        dialog: d21,
        replaces: Some(old),
        ..
    } = sim.wait(2, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        panic!("the INVITE with Replaces matched no dialog")
    };
    assert_eq!(old, d20);
    let now = sim.now;
    sim.ua(2)
        .answer(now, d21, StatusCode::OK, Some(sdp("10")))
        .unwrap();
    sim.wait(2, secs(1), terminated(d20, TerminationCause::Replaced));
    sim.wait(0, secs(1), terminated(d02, TerminationCause::RemoteBye));
    sim.wait(
        1,
        secs(1),
        |e| matches!(e, UaEvent::Answered { request, .. } if *request == call),
    );
    let now = sim.now;
    sim.ua(1)
        .transfer_progress(now, d10, StatusCode::OK)
        .unwrap();
    sim.wait(0, secs(1), |e| {
        matches!(
            e,
            UaEvent::TransferProgress {
                status: StatusCode::OK,
                done: true,
                ..
            }
        )
    });
    let now = sim.now;
    sim.ua(0).bye(now, d01).unwrap();
    sim.wait(1, secs(1), terminated(d10, TerminationCause::RemoteBye));
    // an INVITE naming a dialog that is gone gets 481
    let now = sim.now;
    let stale = sim.ua(1).dialog(d10).unwrap().replaces();
    let again = sim
        .ua(0)
        .invite(now, Sim::options(0, 1).body(sdp("11")).replaces(stale))
        .unwrap();
    let e = sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::CallFailed { request, .. } if *request == again),
    );
    assert!(matches!(
        e,
        UaEvent::CallFailed {
            status: StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
            ..
        }
    ));
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

#[test]
fn lower_cseq_gets_500_and_unknown_dialogs_481() {
    let mut sim = Sim::pair(21, Conditions::perfect());
    let (da, db) = sim.call(0, 1, secs(5));
    sim.wait(1, secs(1), |e| matches!(e, UaEvent::Acked { .. }));
    let d = sim.ua(0).dialog(da).unwrap().clone();
    let seq = sim.ua(1).dialog(db).unwrap().remote_seq().unwrap();
    let request = |cseq: u32, to_tag: &str, branch: &str| {
        format!(
            "INFO sip:u1@192.0.2.2:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:u0@192.0.2.1:5060>;tag={}\r\n\
             To: <sip:u1@192.0.2.2:5060>;tag={to_tag}\r\n\
             Call-ID: {}\r\n\
             CSeq: {cseq} INFO\r\n\
             Content-Length: 0\r\n\r\n",
            String::from_utf8_lossy(d.local_tag()),
            String::from_utf8_lossy(d.call_id()),
        )
    };
    let remote = String::from_utf8_lossy(d.remote_tag()).into_owned();
    let r = inject(&mut sim, 1, request(seq - 1, &remote, "low"));
    assert_eq!(r.status, StatusCode::SERVER_INTERNAL_ERROR);
    let r = inject(&mut sim, 1, request(seq + 5, "nosuchtag", "unknown"));
    assert_eq!(r.status, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
    // a BYE outside any dialog, too
    let r = inject(
        &mut sim,
        1,
        request(seq + 6, &remote, "bye")
            .replace("INFO", "BYE")
            .replace(
                &format!("Call-ID: {}", String::from_utf8_lossy(d.call_id())),
                "Call-ID: other",
            ),
    );
    assert_eq!(r.status, StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST);
    // the dialog is untouched; a higher CSeq is fine
    let now = sim.now;
    sim.ua(1)
        .handle_receive(now, datagram(1, request(seq + 7, &remote, "ok")));
    assert!(matches!(sim.ua(1).poll_event(), Some(UaEvent::Info { dialog, .. }) if dialog == db));
    assert_eq!(sim.ua(1).dialog(db).unwrap().remote_seq(), Some(seq + 7));
}

#[test]
fn a_digest_challenge_is_answered_once_with_the_next_cseq() {
    let mut a = Ua::new(
        config(0).credentials("alice", "secret").build().unwrap(),
        Rng::seeded(1),
    );
    let now = Instant::now();
    let rid = a.invite(now, Sim::options(0, 1).body(sdp("1"))).unwrap();
    let first = a.poll_transmit().unwrap();
    let Ok(Message::Request(invite)) = parse_message(first.contents, &ParseConfig::default())
    else {
        panic!()
    };
    let challenge = |request: &crate::Request| {
        let mut r = Response::for_request(request, StatusCode::PROXY_AUTHENTICATION_REQUIRED)
            .with_to_tag("proxy");
        r.headers.push(
            Known::ProxyAuthenticate,
            r#"Digest realm="example.com", nonce="n1", qop="auth", algorithm=MD5"#,
        );
        Receive {
            protocol: TransportProtocol::Udp,
            source: addr(1),
            destination: addr(0),
            connection: None,
            contents: r.to_bytes(),
        }
    };
    a.handle_receive(now, challenge(&invite));
    let mut retry = None;
    while let Some(t) = a.poll_transmit() {
        if let Ok(Message::Request(r)) = parse_message(t.contents, &ParseConfig::default()) {
            if r.method == Method::Invite {
                retry = Some(r);
            }
        }
    }
    let retry = retry.expect("the INVITE again, with credentials");
    assert!(retry.headers.contains(&Known::ProxyAuthorization.into()));
    assert_eq!(retry.call_id(), invite.call_id());
    assert_eq!(retry.from(), invite.from());
    assert_eq!(
        retry.cseq().unwrap().unwrap().seq,
        invite.cseq().unwrap().unwrap().seq + 1
    );
    assert_ne!(
        retry.via().unwrap().unwrap().branch(),
        invite.via().unwrap().unwrap().branch()
    );
    // a second challenge is the answer: the call fails with it
    a.handle_receive(now, challenge(&retry));
    let failed = std::iter::from_fn(|| a.poll_event())
        .find(|e| matches!(e, UaEvent::CallFailed { .. }))
        .unwrap();
    assert!(matches!(
        failed,
        UaEvent::CallFailed { request, status: StatusCode::PROXY_AUTHENTICATION_REQUIRED, .. } if request == rid
    ));
}

/// Re-INVITE, INFO and a transfer's NOTIFYs all complete over the hostile
/// network too.
#[test]
fn mid_call_requests_survive_loss() {
    for seed in 30..36 {
        let mut sim = Sim::pair(seed, Conditions::hostile());
        let (da, db) = sim.call(0, 1, secs(40));
        let now = sim.now;
        let rid = sim.ua(0).reinvite(now, da, Some(sdp("3"))).unwrap();
        let UaEvent::Reoffer { id, .. } =
            sim.wait(1, secs(40), |e| matches!(e, UaEvent::Reoffer { .. }))
        else {
            unreachable!()
        };
        let now = sim.now;
        sim.ua(1)
            .respond(now, id, StatusCode::OK, Some(sdp("4")))
            .unwrap();
        let e = sim.wait(
            0,
            secs(40),
            |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
        );
        assert!(
            matches!(
                e,
                UaEvent::Response {
                    status: StatusCode::OK,
                    ..
                }
            ),
            "seed {seed}: {e:?}"
        );
        let now = sim.now;
        let info = sim
            .ua(1)
            .info(now, db, Body::new("application/dtmf-relay", "Signal=1\r\n"))
            .unwrap();
        let UaEvent::Info { id, .. } = sim.wait(0, secs(40), |e| matches!(e, UaEvent::Info { .. }))
        else {
            unreachable!()
        };
        let now = sim.now;
        sim.ua(0).respond(now, id, StatusCode::OK, None).unwrap();
        sim.wait(
            1,
            secs(40),
            |e| matches!(e, UaEvent::Response { request, .. } if *request == info),
        );
        let now = sim.now;
        sim.ua(1).refer(now, db, &Sim::uri(2), None).unwrap();
        let UaEvent::TransferRequested { id, .. } = sim.wait(0, secs(40), |e| {
            matches!(e, UaEvent::TransferRequested { .. })
        }) else {
            unreachable!()
        };
        let now = sim.now;
        sim.ua(0)
            .respond(now, id, StatusCode::ACCEPTED, None)
            .unwrap();
        sim.ua(0)
            .transfer_progress(now, da, StatusCode::OK)
            .unwrap();
        sim.wait(1, secs(40), |e| {
            matches!(e, UaEvent::TransferProgress { done: true, .. })
        });
        let now = sim.now;
        sim.ua(1).bye(now, db).unwrap();
        sim.wait(0, secs(70), terminated(da, TerminationCause::RemoteBye));
        assert!(!sim.has(0, |e| matches!(e, UaEvent::Terminated { .. })));
    }
}
