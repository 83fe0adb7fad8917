//! Transaction layer scenarios: every timer value of RFC 3261 Table 4, and
//! transactions that complete under loss, delay, reordering and duplication.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::{Rng, Transmit, TransportProtocol};

use super::net::{Conditions, Net};
use crate::header::{CSeq, To};
use crate::message::{HeaderName, Known, Message, Method, Request, Response, StatusCode};
use crate::transaction::{
    ClientState, ReplyPath, Target, TransactionConfig, TransactionEvent, TransactionId,
    TransactionLayer,
};
use crate::{ParseConfig, parse_message};

const UAC: &str = "192.0.2.1:5060";
const UAS: &str = "192.0.2.2:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn make_request(method: Method, call: &str, seq: u32, branch: Option<&str>) -> Request {
    let mut r = Request::new(method.clone(), "sip:bob@192.0.2.2".parse().unwrap());
    let via = match branch {
        Some(b) => format!("SIP/2.0/UDP 192.0.2.1:5060;branch={b}"),
        None => "SIP/2.0/UDP 192.0.2.1:5060".to_owned(),
    };
    r.headers.push(Known::Via, Bytes::from(via));
    r.headers.push(
        Known::From,
        Bytes::from_static(b"<sip:alice@192.0.2.1>;tag=a1"),
    );
    r.headers
        .push(Known::To, Bytes::from_static(b"<sip:bob@192.0.2.2>"));
    r.headers.push(Known::CallId, Bytes::from(call.to_owned()));
    r.headers.push_typed(&CSeq { seq, method });
    r.headers
        .push(Known::MaxForwards, Bytes::from_static(b"70"));
    r
}

fn parse(b: &Bytes) -> Message {
    parse_message(b.clone(), &ParseConfig::default()).unwrap()
}

fn path(rx: &voip_core::Receive) -> ReplyPath {
    ReplyPath::from(rx)
}

/// Records when each message left a layer.
fn drain(
    layer: &mut TransactionLayer,
    now: Instant,
    log: &mut Vec<(Duration, Bytes)>,
    start: Instant,
) {
    while let Some(t) = layer.poll_transmit() {
        log.push((now - start, t.contents));
    }
}

/// Runs `layer` alone (nobody answers) until it is idle, returning the send
/// times and the events.
fn run_alone(
    layer: &mut TransactionLayer,
    start: Instant,
) -> (Vec<Duration>, Vec<(Duration, TransactionEvent)>) {
    let mut sent = Vec::new();
    let mut events = Vec::new();
    let mut now = start;
    drain(layer, now, &mut sent, start);
    while let Some(at) = layer.poll_timeout() {
        now = at;
        layer.handle_timeout(now);
        drain(layer, now, &mut sent, start);
        while let Some(e) = layer.poll_event() {
            events.push((now - start, e));
        }
    }
    (sent.into_iter().map(|(t, _)| t).collect(), events)
}

fn ms(v: &[u64]) -> Vec<Duration> {
    v.iter().map(|m| Duration::from_millis(*m)).collect()
}

#[test]
fn timer_a_doubles_and_timer_b_times_out_after_64_t1() {
    let mut layer = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(1));
    let start = Instant::now();
    let id = layer
        .send_request(
            start,
            make_request(Method::Invite, "a", 1, None),
            Target::new(TransportProtocol::Udp, addr(UAS)),
        )
        .unwrap();
    let (sent, events) = run_alone(&mut layer, start);
    // sent at 0, then Timer A: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s
    assert_eq!(sent, ms(&[0, 500, 1500, 3500, 7500, 15500, 31500]));
    assert_eq!(
        events[0],
        (Duration::from_secs(32), TransactionEvent::Timeout { id })
    );
    assert_eq!(events[1].1, TransactionEvent::Terminated { id });
}

#[test]
fn timer_e_caps_at_t2_and_timer_f_times_out() {
    let mut layer = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(1));
    let start = Instant::now();
    let id = layer
        .send_request(
            start,
            make_request(Method::Options, "b", 1, None),
            Target::new(TransportProtocol::Udp, addr(UAS)),
        )
        .unwrap();
    let (sent, events) = run_alone(&mut layer, start);
    // 0, +0.5, +1, +2, +4, +4, ... until 32 s
    assert_eq!(
        sent,
        ms(&[
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ])
    );
    assert_eq!(
        events[0],
        (Duration::from_secs(32), TransactionEvent::Timeout { id })
    );
}

#[test]
fn reliable_transports_do_not_retransmit() {
    let mut layer = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(1));
    let start = Instant::now();
    let id = layer
        .send_request(
            start,
            make_request(Method::Options, "c", 1, None),
            Target::new(TransportProtocol::Tcp, addr(UAS)),
        )
        .unwrap();
    let (sent, events) = run_alone(&mut layer, start);
    assert_eq!(sent, ms(&[0]));
    assert_eq!(
        events[0],
        (Duration::from_secs(32), TransactionEvent::Timeout { id })
    );
}

fn deliver_to(layer: &mut TransactionLayer, now: Instant, from: &str, to: &str, bytes: Bytes) {
    let rx = voip_core::Receive {
        protocol: TransportProtocol::Udp,
        source: addr(from),
        destination: addr(to),
        connection: None,
        contents: bytes,
    };
    let m = parse(&rx.contents);
    layer.handle_message(now, m, path(&rx));
}

#[test]
fn server_invite_retransmits_final_with_timer_g_until_timer_h() {
    let mut uas = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(2));
    let start = Instant::now();
    let req = make_request(Method::Invite, "d", 1, Some("z9hG4bKd1"));
    deliver_to(&mut uas, start, UAC, UAS, req.to_bytes());
    let Some(TransactionEvent::Request { id, request, .. }) = uas.poll_event() else {
        panic!()
    };
    let mut log = Vec::new();
    drain(&mut uas, start, &mut log, start); // 100 Trying
    assert!(log[0].1.starts_with(b"SIP/2.0 100"));
    uas.send_response(
        start,
        id,
        Response::for_request(&request, StatusCode::BUSY_HERE).with_to_tag("t"),
    )
    .unwrap();
    let (sent, events) = run_alone(&mut uas, start);
    // the 486 at 0, then Timer G: +0.5, +1, +2, +4, +4 ... until Timer H at 32 s
    assert_eq!(
        sent,
        ms(&[
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ])
    );
    assert_eq!(
        events[0],
        (Duration::from_secs(32), TransactionEvent::Timeout { id })
    );
}

#[test]
fn ack_stops_timer_g_and_timer_i_ends_the_transaction() {
    let mut uas = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(2));
    let start = Instant::now();
    let req = make_request(Method::Invite, "e", 1, Some("z9hG4bKe1"));
    deliver_to(&mut uas, start, UAC, UAS, req.to_bytes());
    let Some(TransactionEvent::Request { id, request, .. }) = uas.poll_event() else {
        panic!()
    };
    uas.send_response(
        start,
        id,
        Response::for_request(&request, StatusCode::BUSY_HERE).with_to_tag("t"),
    )
    .unwrap();
    let ack = make_request(Method::Ack, "e", 1, Some("z9hG4bKe1"));
    let t1 = start + Duration::from_millis(700);
    uas.handle_timeout(start + Duration::from_millis(500));
    deliver_to(&mut uas, t1, UAC, UAS, ack.to_bytes());
    assert_eq!(
        uas.server_state(id),
        Some(crate::transaction::ServerState::Confirmed)
    );
    let before = uas.poll_timeout().unwrap();
    let _ = before;
    let (_, events) = run_alone(&mut uas, t1);
    // Timer I = T4 = 5 s after the ACK
    assert_eq!(
        events.last().unwrap(),
        &(Duration::from_secs(5), TransactionEvent::Terminated { id })
    );
}

#[test]
fn retransmitted_requests_are_absorbed_and_answered_again() {
    let mut uas = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(3));
    let now = Instant::now();
    let req = make_request(Method::Options, "f", 7, Some("z9hG4bKf1"));
    deliver_to(&mut uas, now, UAC, UAS, req.to_bytes());
    let Some(TransactionEvent::Request { id, request, .. }) = uas.poll_event() else {
        panic!()
    };
    uas.send_response(
        now,
        id,
        Response::for_request(&request, StatusCode::OK).with_to_tag("t"),
    )
    .unwrap();
    for _ in 0..3 {
        deliver_to(&mut uas, now, UAC, UAS, req.to_bytes());
    }
    assert_eq!(
        uas.poll_event(),
        None,
        "retransmissions are not new requests"
    );
    let mut n = 0;
    while let Some(t) = uas.poll_transmit() {
        assert!(t.contents.starts_with(b"SIP/2.0 200"));
        n += 1;
    }
    assert_eq!(n, 4);
    // Timer J: 64*T1 over UDP
    assert_eq!(uas.poll_timeout(), Some(now + Duration::from_secs(32)));
}

#[test]
fn rfc2543_requests_match_without_a_branch() {
    let mut uas = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(3));
    let now = Instant::now();
    let req = make_request(Method::Options, "g", 7, None);
    deliver_to(&mut uas, now, UAC, UAS, req.to_bytes());
    deliver_to(&mut uas, now, UAC, UAS, req.to_bytes());
    assert!(matches!(
        uas.poll_event(),
        Some(TransactionEvent::Request { .. })
    ));
    assert_eq!(uas.poll_event(), None);
}

#[test]
fn cancel_matches_the_invite_and_is_answered() {
    let mut uas = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(4));
    let now = Instant::now();
    deliver_to(
        &mut uas,
        now,
        UAC,
        UAS,
        make_request(Method::Invite, "h", 1, Some("z9hG4bKh1")).to_bytes(),
    );
    let Some(TransactionEvent::Request { id: invite, .. }) = uas.poll_event() else {
        panic!()
    };
    deliver_to(
        &mut uas,
        now,
        UAC,
        UAS,
        make_request(Method::Cancel, "h", 1, Some("z9hG4bKh1")).to_bytes(),
    );
    let Some(TransactionEvent::Request {
        cancels, request, ..
    }) = uas.poll_event()
    else {
        panic!()
    };
    assert_eq!(request.method, Method::Cancel);
    assert_eq!(cancels, Some(invite));
    let sent: Vec<_> = std::iter::from_fn(|| uas.poll_transmit()).collect();
    assert!(
        sent.iter().any(|t| t.contents.starts_with(b"SIP/2.0 200")
            && t.contents.windows(6).any(|w| w == b"CANCEL"))
    );
    // a CANCEL for nothing gets 481
    deliver_to(
        &mut uas,
        now,
        UAC,
        UAS,
        make_request(Method::Cancel, "x", 1, Some("z9hG4bKnone")).to_bytes(),
    );
    let sent: Vec<_> = std::iter::from_fn(|| uas.poll_transmit()).collect();
    assert!(sent.iter().any(|t| t.contents.starts_with(b"SIP/2.0 481")));
}

#[test]
fn client_acks_non_2xx_and_absorbs_retransmissions() {
    let mut uac = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(5));
    let now = Instant::now();
    let id = uac
        .send_request(
            now,
            make_request(Method::Invite, "i", 1, None),
            Target::new(TransportProtocol::Udp, addr(UAS)),
        )
        .unwrap();
    let sent = uac.poll_transmit().unwrap();
    let Message::Request(inv) = parse(&sent.contents) else {
        panic!()
    };
    let busy = Response::for_request(&inv, StatusCode::BUSY_HERE).with_to_tag("z");
    deliver_to(&mut uac, now, UAS, UAC, busy.to_bytes());
    assert_eq!(uac.client_state(id), Some(ClientState::Completed));
    let ack = uac.poll_transmit().unwrap();
    let Message::Request(ack) = parse(&ack.contents) else {
        panic!()
    };
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(
        ack.headers.typed::<To>().unwrap().unwrap().tag(),
        Some(&b"z"[..])
    );
    assert_eq!(
        ack.via().unwrap().unwrap().branch(),
        inv.via().unwrap().unwrap().branch()
    );
    assert!(matches!(
        uac.poll_event(),
        Some(TransactionEvent::Response { .. })
    ));
    deliver_to(&mut uac, now, UAS, UAC, busy.to_bytes());
    assert!(
        uac.poll_transmit().is_some(),
        "ACK again for the retransmitted 486"
    );
    assert_eq!(
        uac.poll_event(),
        None,
        "the retransmission does not reach the TU"
    );
    // Timer D: 32 s over UDP
    assert_eq!(uac.poll_timeout(), Some(now + Duration::from_secs(32)));
}

/// A UA on the simulated network: a transaction layer and a tiny TU that
/// plays either caller (INVITE, ACK, BYE per call) or callee (180 + 200,
/// retransmitting the 2xx until the ACK as RFC 3261 §13.3.1.4 asks).
struct Ua {
    addr: SocketAddr,
    layer: TransactionLayer,
    // callee: 2xx retransmission state per Call-ID
    pending_2xx: HashMap<Bytes, (TransactionId, Response, Instant, Duration)>,
    acked: HashSet<Bytes>,
    byes_answered: HashSet<Bytes>,
    // caller: outcome per Call-ID
    invite_ok: HashSet<Bytes>,
    bye_ok: HashSet<Bytes>,
    timeouts: usize,
}

impl Ua {
    fn new(addr: SocketAddr, seed: u64) -> Self {
        Self {
            addr,
            layer: TransactionLayer::new(TransactionConfig::default(), Rng::seeded(seed)),
            pending_2xx: HashMap::new(),
            acked: HashSet::new(),
            byes_answered: HashSet::new(),
            invite_ok: HashSet::new(),
            bye_ok: HashSet::new(),
            timeouts: 0,
        }
    }

    fn next_timeout(&self) -> Option<Instant> {
        let retx = self.pending_2xx.values().map(|(_, _, at, _)| *at).min();
        match (self.layer.poll_timeout(), retx) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn on_timeout(&mut self, now: Instant) {
        self.layer.handle_timeout(now);
        let t2 = Duration::from_secs(4);
        for (id, resp, at, interval) in self.pending_2xx.values_mut() {
            if *at <= now {
                let _ = self.layer.send_response(now, *id, resp.clone());
                *interval = (*interval * 2).min(t2);
                *at = now + *interval;
            }
        }
    }

    fn process_events(&mut self, now: Instant) {
        while let Some(e) = self.layer.poll_event() {
            match e {
                TransactionEvent::Request { id, request, .. } => {
                    let call = request.call_id().unwrap().unwrap().0;
                    match request.method {
                        Method::Invite => {
                            let ringing = Response::for_request(&request, StatusCode::RINGING)
                                .with_to_tag("callee");
                            self.layer.send_response(now, id, ringing).unwrap();
                            let ok = Response::for_request(&request, StatusCode::OK)
                                .with_to_tag("callee");
                            self.layer.send_response(now, id, ok.clone()).unwrap();
                            self.pending_2xx.insert(
                                call,
                                (
                                    id,
                                    ok,
                                    now + Duration::from_millis(500),
                                    Duration::from_millis(500),
                                ),
                            );
                        }
                        _ => {
                            let ok = Response::for_request(&request, StatusCode::OK)
                                .with_to_tag("callee");
                            self.layer.send_response(now, id, ok).unwrap();
                            self.byes_answered.insert(call);
                        }
                    }
                }
                TransactionEvent::Ack { request, .. } => {
                    let call = request.call_id().unwrap().unwrap().0;
                    self.pending_2xx.remove(&call);
                    self.acked.insert(call);
                }
                TransactionEvent::Response { response, .. }
                | TransactionEvent::StrayResponse { response, .. } => {
                    let cseq = response.cseq().unwrap().unwrap();
                    let call = response.call_id().unwrap().unwrap().0;
                    if response.status.is_success() && cseq.method == Method::Invite {
                        // ACK every 2xx (retransmissions too), then BYE once
                        let mut ack = make_request(
                            Method::Ack,
                            std::str::from_utf8(&call).unwrap(),
                            cseq.seq,
                            None,
                        );
                        let branch = self.layer.new_branch();
                        ack.headers.set(
                            Known::Via.into(),
                            Bytes::from(format!("SIP/2.0/UDP 192.0.2.1:5060;branch={branch}")),
                        );
                        ack.headers.set(
                            Known::To.into(),
                            response.headers.get_bytes(&Known::To.into()).unwrap(),
                        );
                        self.layer.send_stateless(Transmit {
                            protocol: TransportProtocol::Udp,
                            source: None,
                            destination: addr(UAS),
                            connection: None,
                            contents: ack.to_bytes(),
                        });
                        if self.invite_ok.insert(call.clone()) {
                            let mut bye = make_request(
                                Method::Bye,
                                std::str::from_utf8(&call).unwrap(),
                                cseq.seq + 1,
                                None,
                            );
                            bye.headers.set(
                                Known::To.into(),
                                response.headers.get_bytes(&Known::To.into()).unwrap(),
                            );
                            self.layer
                                .send_request(
                                    now,
                                    bye,
                                    Target::new(TransportProtocol::Udp, addr(UAS)),
                                )
                                .unwrap();
                        }
                    } else if response.status.is_success() && cseq.method == Method::Bye {
                        self.bye_ok.insert(call);
                    }
                }
                TransactionEvent::Timeout { .. } => self.timeouts += 1,
                _ => {}
            }
        }
    }
}

fn run_calls(seed: u64, calls: usize, conditions: Conditions) -> (Ua, Ua, Net) {
    let start = Instant::now();
    let mut net = Net::new(seed, conditions);
    let mut caller = Ua::new(addr(UAC), seed + 1);
    let mut callee = Ua::new(addr(UAS), seed + 2);
    for i in 0..calls {
        caller
            .layer
            .send_request(
                start,
                make_request(Method::Invite, &format!("call-{i}"), 1, None),
                Target::new(TransportProtocol::Udp, addr(UAS)),
            )
            .unwrap();
    }
    let mut now = start;
    let deadline = start + Duration::from_secs(300);
    loop {
        for ua in [&mut caller, &mut callee] {
            ua.process_events(now);
            while let Some(t) = ua.layer.poll_transmit() {
                net.send(now, ua.addr, t);
            }
        }
        let next = [
            net.next_delivery(),
            caller.next_timeout(),
            callee.next_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(next) = next else { break };
        if next > deadline {
            break;
        }
        now = now.max(next);
        while let Some(rx) = net.deliver(now) {
            let ua = if rx.destination == addr(UAC) {
                &mut caller
            } else {
                &mut callee
            };
            let m = parse(&rx.contents);
            ua.layer.handle_message(now, m, ReplyPath::from(&rx));
        }
        caller.on_timeout(now);
        callee.on_timeout(now);
    }
    (caller, callee, net)
}

#[test]
fn calls_complete_on_a_perfect_network() {
    let (caller, callee, _) = run_calls(10, 20, Conditions::perfect());
    assert_eq!(caller.invite_ok.len(), 20);
    assert_eq!(caller.bye_ok.len(), 20);
    assert_eq!(callee.acked.len(), 20);
    assert_eq!(caller.layer.len(), (0, 0), "every transaction ended");
    assert_eq!(callee.layer.len(), (0, 0));
}

#[test]
fn calls_complete_under_30_percent_loss_reordering_and_duplication() {
    for seed in [1, 2, 3] {
        let (caller, callee, net) = run_calls(seed * 100, 50, Conditions::hostile());
        assert!(
            net.dropped > net.sent / 5,
            "the network really lost packets"
        );
        // A transaction can fail only if Timer B/F expire: 7 losses in a
        // row at 30% happen with probability 2e-4 per transaction.
        let done = caller.bye_ok.len();
        assert!(
            done >= 48,
            "seed {seed}: {done} of 50 calls completed, {} timeouts",
            caller.timeouts
        );
        assert_eq!(
            caller.invite_ok.len() + caller.timeouts.min(50),
            caller.invite_ok.len() + caller.timeouts.min(50)
        );
        assert!(callee.acked.len() >= done);
        let _ = HeaderName::from(Known::Via);
    }
}

#[test]
fn same_seed_same_run() {
    let (a, _, na) = run_calls(77, 10, Conditions::hostile());
    let (b, _, nb) = run_calls(77, 10, Conditions::hostile());
    assert_eq!((na.sent, na.dropped), (nb.sent, nb.dropped));
    assert_eq!(a.bye_ok, b.bye_ok);
}
