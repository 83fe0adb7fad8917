//! Dispatcher selection, and the pinger in virtual time on a simulated
//! network: a member dies, traffic moves; it comes back, traffic returns.
//! Last, the dispatcher as the proxy's destination source with failover.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use voip_core::{Rng, Transmit, TransportProtocol};

use super::*;
use crate::message::Response;
use crate::proxy::{ForkMode, Incoming, Interface, Proxy, ProxyConfig};
use crate::transaction::{ReplyPath, TransactionConfig};
use crate::{ParseConfig, parse_message};

const P: &str = "192.0.2.10:5060";
const CALLER: &str = "192.0.2.1:5060";
const M: [&str; 3] = ["192.0.2.21:5060", "192.0.2.22:5060", "192.0.2.23:5060"];

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn members() -> Vec<Member> {
    M.iter()
        .map(|a| Member::from_uri(format!("sip:{a}").parse().unwrap()).unwrap())
        .collect()
}

fn config() -> DispatcherConfig {
    DispatcherConfig::new(format!("SIP/2.0/UDP {P};rport"))
}

fn call_ids(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("call-{i}@host").into_bytes())
        .collect()
}

fn ip_of(d: &Destination) -> SocketAddr {
    d.target.destination
}

#[test]
fn round_robin_cycles_and_skips_down_members() {
    let mut d = Dispatcher::new(config(), members(), Rng::seeded(1));
    let picks: Vec<usize> = (0..6).map(|_| d.select_id(b"x").unwrap().0).collect();
    assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
    d.set_health(MemberId(1), Health::Down);
    assert!(matches!(
        d.poll_event(),
        Some(DispatcherEvent::DestinationDown {
            member: MemberId(1),
            ..
        })
    ));
    let picks: Vec<usize> = (0..4).map(|_| d.select_id(b"x").unwrap().0).collect();
    assert_eq!(picks, [0, 2, 0, 2]);
    d.set_health(MemberId(0), Health::Down);
    d.set_health(MemberId(2), Health::Down);
    assert_eq!(d.select(b"x"), None);
    assert!(d.select_all(b"x").is_empty());
}

#[test]
fn weighted_follows_the_weights() {
    let ms: Vec<Member> = members()
        .into_iter()
        .zip([70, 20, 10])
        .map(|(m, w)| m.weight(w))
        .collect();
    let cfg = config().algorithm(Algorithm::Weighted);
    let mut d = Dispatcher::new(cfg.clone(), ms.clone(), Rng::seeded(3));
    let mut count = [0u32; 3];
    for _ in 0..10_000 {
        count[d.select_id(b"x").unwrap().0] += 1;
    }
    for (c, w) in count.iter().zip([0.7, 0.2, 0.1]) {
        assert!((f64::from(*c) / 10_000.0 - w).abs() < 0.03, "{count:?}");
    }
    // same seed, same picks
    let mut a = Dispatcher::new(cfg.clone(), ms.clone(), Rng::seeded(9));
    let mut b = Dispatcher::new(cfg, ms, Rng::seeded(9));
    for _ in 0..100 {
        assert_eq!(a.select_id(b"x"), b.select_id(b"x"));
    }
    // a member down: its share goes to the others
    a.set_health(MemberId(0), Health::Down);
    assert!((0..1000).all(|_| a.select_id(b"x") != Some(MemberId(0))));
}

#[test]
fn call_id_hash_is_sticky_and_only_the_dead_members_calls_move() {
    let mut d = Dispatcher::new(
        config().algorithm(Algorithm::CallIdHash),
        members(),
        Rng::seeded(1),
    );
    let calls = call_ids(300);
    let before: Vec<MemberId> = calls.iter().map(|c| d.select_id(c).unwrap()).collect();
    let again: Vec<MemberId> = calls.iter().map(|c| d.select_id(c).unwrap()).collect();
    assert_eq!(before, again, "sticky");
    for m in 0..3 {
        let n = before.iter().filter(|x| x.0 == m).count();
        assert!(n > 60, "member {m} got {n} of 300 calls");
    }
    d.set_health(MemberId(1), Health::Down);
    for (c, b) in calls.iter().zip(&before) {
        let now = d.select_id(c).unwrap();
        if b.0 == 1 {
            assert_eq!(now, MemberId(2), "the next member up takes the calls");
        } else {
            assert_eq!(now, *b, "calls of live members stay");
        }
    }
}

#[test]
fn priority_selects_the_highest_and_fails_over_in_order() {
    let ms: Vec<Member> = members()
        .into_iter()
        .zip([5, 10, 1])
        .map(|(m, p)| m.priority(p))
        .collect();
    let mut d = Dispatcher::new(config().algorithm(Algorithm::Priority), ms, Rng::seeded(1));
    let order: Vec<SocketAddr> = d.select_all(b"c").iter().map(ip_of).collect();
    assert_eq!(order, [addr(M[1]), addr(M[0]), addr(M[2])]);
    d.set_health(MemberId(1), Health::Down);
    assert_eq!(ip_of(&d.select(b"c").unwrap()), addr(M[0]));
    let order: Vec<SocketAddr> = d.select_all(b"c").iter().map(ip_of).collect();
    assert_eq!(order, [addr(M[0]), addr(M[2])]);
}

#[test]
fn pings_are_options_to_each_member_one_in_flight() {
    let t0 = Instant::now();
    let mut d = Dispatcher::new(config(), members(), Rng::seeded(1));
    assert_eq!(d.poll_timeout(), None, "not started");
    d.start(t0);
    let pings: Vec<Ping> = std::iter::from_fn(|| d.poll_ping()).collect();
    assert_eq!(pings.len(), 3);
    for (i, p) in pings.iter().enumerate() {
        assert_eq!(p.member, MemberId(i));
        assert_eq!(p.request.method, Method::Options);
        assert_eq!(p.target.destination, addr(M[i]));
        assert_eq!(p.request.uri.to_string(), format!("sip:{}", M[i]));
    }
    assert_ne!(pings[0].request.call_id(), pings[1].request.call_id());
    assert_eq!(d.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    // member 0 answered, 1 and 2 did not yet: only 0 is probed again
    d.handle_ping_response(MemberId(0), StatusCode::OK);
    d.handle_timeout(t0 + Duration::from_secs(10));
    let again: Vec<MemberId> = std::iter::from_fn(|| d.poll_ping())
        .map(|p| p.member)
        .collect();
    assert_eq!(again, [MemberId(0)]);
    // a 100 Trying is not an answer; a 404 is (the server runs)
    d.handle_ping_response(MemberId(1), StatusCode::TRYING);
    d.handle_ping_response(MemberId(1), StatusCode::NOT_FOUND);
    assert_eq!(d.health(MemberId(1)), Some(Health::Up));
}

/// A minimal simulated network: 10 ms per hop, and a set of dead hosts
/// whose packets vanish (a crashed box, a pulled cable).
#[derive(Default)]
struct Net {
    queue: BinaryHeap<Reverse<(Instant, u64)>>,
    packets: HashMap<u64, (SocketAddr, Transmit)>,
    seq: u64,
    dead: HashSet<SocketAddr>,
}

impl Net {
    fn send(&mut self, now: Instant, from: SocketAddr, t: Transmit) {
        if self.dead.contains(&from) || self.dead.contains(&t.destination) {
            return;
        }
        self.seq += 1;
        self.queue
            .push(Reverse((now + Duration::from_millis(10), self.seq)));
        self.packets.insert(self.seq, (from, t));
    }

    fn next(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((at, _))| *at)
    }

    fn deliver(&mut self, now: Instant) -> Option<(SocketAddr, Transmit)> {
        let Reverse((at, seq)) = *self.queue.peek()?;
        if at > now {
            return None;
        }
        self.queue.pop();
        let (from, t) = self.packets.remove(&seq)?;
        // a host that died while the packet was on the wire never gets it
        if self.dead.contains(&t.destination) {
            return self.deliver(now);
        }
        Some((from, t))
    }
}

/// A server: answers every request with `status`.
struct Node {
    addr: SocketAddr,
    layer: TransactionLayer,
    status: StatusCode,
    requests: Vec<Method>,
}

struct World {
    now: Instant,
    net: Net,
    p: TransactionLayer,
    d: Dispatcher,
    proxy: Option<Proxy>,
    nodes: Vec<Node>,
    caller: TransactionLayer,
    caller_finals: Vec<StatusCode>,
    events: Vec<(Instant, DispatcherEvent)>,
}

impl World {
    fn new(cfg: DispatcherConfig, proxy_t1: Duration) -> Self {
        let now = Instant::now();
        let mut rng = Rng::seeded(42);
        let proxy_config = ProxyConfig::new(
            vec![Interface {
                protocol: TransportProtocol::Udp,
                addr: addr(P),
            }],
            &mut rng,
        );
        let tc = TransactionConfig {
            t1: proxy_t1,
            ..TransactionConfig::default()
        };
        let mut d = Dispatcher::new(cfg, members(), Rng::seeded(7));
        d.start(now);
        Self {
            now,
            net: Net::default(),
            p: TransactionLayer::new(tc, Rng::seeded(1)),
            d,
            proxy: Some(Proxy::new(proxy_config, rng)),
            nodes: M
                .iter()
                .enumerate()
                .map(|(i, a)| Node {
                    addr: addr(a),
                    layer: TransactionLayer::new(
                        TransactionConfig::default(),
                        Rng::seeded(100 + i as u64),
                    ),
                    status: StatusCode::OK,
                    requests: Vec::new(),
                })
                .collect(),
            caller: TransactionLayer::new(TransactionConfig::default(), Rng::seeded(200)),
            caller_finals: Vec::new(),
            events: Vec::new(),
        }
    }

    fn flush(&mut self) {
        let now = self.now;
        self.d.send_pings(&mut self.p, now);
        while let Some(ev) = self.p.poll_event() {
            let Some(ev) = self.d.handle_event(ev) else {
                continue;
            };
            let Some(proxy) = self.proxy.as_mut() else {
                continue;
            };
            let Some(ev) = proxy.handle_event(&mut self.p, now, ev) else {
                continue;
            };
            if let TransactionEvent::Request {
                id, request, path, ..
            } = ev
            {
                // the routing script: the dispatcher's failover order
                let call_id = request.call_id().unwrap().unwrap().0.to_vec();
                let destinations = self.d.select_all(&call_id);
                let incoming = Incoming {
                    id,
                    request: &request,
                    path,
                };
                proxy
                    .forward(&mut self.p, now, incoming, destinations, ForkMode::Serial)
                    .unwrap();
            }
        }
        while let Some(e) = self.d.poll_event() {
            self.events.push((now, e));
        }
        for n in &mut self.nodes {
            while let Some(ev) = n.layer.poll_event() {
                if let TransactionEvent::Request { id, request, .. } = ev {
                    n.requests.push(request.method.clone());
                    let r = Response::for_request(&request, n.status).with_to_tag("n");
                    n.layer.send_response(now, id, r).unwrap();
                }
            }
            while let Some(t) = n.layer.poll_transmit() {
                self.net.send(now, n.addr, t);
            }
        }
        while let Some(ev) = self.caller.poll_event() {
            if let TransactionEvent::Response { response, .. } = ev {
                if !response.status.is_provisional() {
                    self.caller_finals.push(response.status);
                }
            }
        }
        while let Some(t) = self.caller.poll_transmit() {
            self.net.send(now, addr(CALLER), t);
        }
        while let Some(t) = self.p.poll_transmit() {
            self.net.send(now, addr(P), t);
        }
        if let Some(proxy) = self.proxy.as_mut() {
            while let Some(t) = proxy.poll_transmit() {
                self.net.send(now, addr(P), t);
            }
        }
    }

    fn next_time(&self) -> Option<Instant> {
        [
            self.net.next(),
            self.p.poll_timeout(),
            self.d.poll_timeout(),
            self.caller.poll_timeout(),
            self.proxy.as_ref().and_then(Proxy::poll_timeout),
        ]
        .into_iter()
        .chain(self.nodes.iter().map(|n| n.layer.poll_timeout()))
        .flatten()
        .min()
    }

    /// Runs until `stop` holds (true) or virtual time passes `limit` (false).
    fn run_until(&mut self, limit: Duration, mut stop: impl FnMut(&World) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.flush();
            if stop(self) {
                return true;
            }
            let Some(next) = self.next_time() else {
                return false;
            };
            if next > end {
                self.now = end;
                return false;
            }
            self.now = self.now.max(next);
            let now = self.now;
            while let Some((from, t)) = self.net.deliver(now) {
                let Ok(msg) = parse_message(t.contents.clone(), &ParseConfig::default()) else {
                    continue;
                };
                let path = ReplyPath {
                    protocol: t.protocol,
                    remote: from,
                    local: t.destination,
                    connection: None,
                };
                if t.destination == addr(P) {
                    self.p.handle_message(now, msg, path);
                } else if t.destination == addr(CALLER) {
                    self.caller.handle_message(now, msg, path);
                } else if let Some(n) = self.nodes.iter_mut().find(|n| n.addr == t.destination) {
                    n.layer.handle_message(now, msg, path);
                }
            }
            self.p.handle_timeout(now);
            self.d.handle_timeout(now);
            self.caller.handle_timeout(now);
            if let Some(proxy) = self.proxy.as_mut() {
                proxy.handle_timeout(&mut self.p, now);
            }
            for n in &mut self.nodes {
                n.layer.handle_timeout(now);
            }
        }
    }

    fn has_event(&self, e: &DispatcherEvent) -> bool {
        self.events.iter().any(|(_, x)| x == e)
    }

    /// Sends a MESSAGE from the caller to the proxy.
    fn send_message(&mut self, call_id: &str) {
        let mut r = Request::new(Method::Message, "sip:service@192.0.2.10".parse().unwrap());
        for (name, value) in [
            (Known::Via, format!("SIP/2.0/UDP {CALLER};rport")),
            (Known::From, "<sip:alice@192.0.2.1>;tag=a".into()),
            (Known::To, "<sip:service@192.0.2.10>".into()),
            (Known::CallId, call_id.into()),
            (Known::CSeq, "1 MESSAGE".into()),
            (Known::MaxForwards, "70".into()),
            (Known::ContentLength, "0".into()),
        ] {
            r.headers.push(name, value);
        }
        let target = Target::new(TransportProtocol::Udp, addr(P));
        self.caller.send_request(self.now, r, target).unwrap();
    }
}

fn down(m: usize) -> DispatcherEvent {
    DispatcherEvent::DestinationDown {
        member: MemberId(m),
        uri: format!("sip:{}", M[m]).parse().unwrap(),
    }
}

fn up(m: usize) -> DispatcherEvent {
    DispatcherEvent::DestinationUp {
        member: MemberId(m),
        uri: format!("sip:{}", M[m]).parse().unwrap(),
    }
}

#[test]
fn a_member_dies_traffic_moves_it_returns_traffic_comes_back() {
    let cfg = config()
        .algorithm(Algorithm::CallIdHash)
        .probing(Duration::from_secs(5), 2, 2);
    let mut w = World::new(cfg, Duration::from_millis(500));
    w.proxy = None;
    // member 1 answers 404 to OPTIONS: alive, as in Kamailio's usual set-up
    w.nodes[1].status = StatusCode::NOT_FOUND;
    assert!(!w.run_until(Duration::from_secs(60), |w| !w.events.is_empty()));
    assert!(
        w.nodes.iter().all(|n| n.requests.len() >= 10),
        "pinged every 5 s"
    );
    let calls = call_ids(300);
    let before: Vec<MemberId> = calls.iter().map(|c| w.d.select_id(c).unwrap()).collect();
    assert!(before.contains(&MemberId(2)));

    // member 2 dies: two Timer F expiries (32 s each) take it down
    let died = w.now;
    w.net.dead.insert(addr(M[2]));
    assert!(w.run_until(Duration::from_secs(120), |w| w.has_event(&down(2))));
    let took = w.now - died;
    assert!(
        took >= Duration::from_secs(64) && took < Duration::from_secs(80),
        "{took:?}"
    );
    assert_eq!(w.d.health(MemberId(2)), Some(Health::Down));
    for (c, b) in calls.iter().zip(&before) {
        let m = w.d.select_id(c).unwrap();
        assert_ne!(m, MemberId(2));
        if *b != MemberId(2) {
            assert_eq!(m, *b, "calls of live members stay put");
        }
    }

    // it comes back: two answered pings bring it up
    let back = w.now;
    w.net.dead.remove(&addr(M[2]));
    assert!(w.run_until(Duration::from_secs(60), |w| w.has_event(&up(2))));
    // the ping in flight gets through on a retransmission, then one more round
    assert!(w.now - back < Duration::from_secs(45), "{:?}", w.now - back);
    let after: Vec<MemberId> = calls.iter().map(|c| w.d.select_id(c).unwrap()).collect();
    assert_eq!(after, before, "traffic returns to where it was");
    // the 404-answering member never went down
    assert!(!w.has_event(&down(1)));
    assert!(!w.has_event(&down(0)));
}

#[test]
fn a_member_answering_503_goes_down_unless_any_response_counts() {
    for (alive_on, goes_down) in [
        (AliveOn::NotServerError, true),
        (AliveOn::AnyResponse, false),
    ] {
        let cfg = config()
            .probing(Duration::from_secs(5), 3, 1)
            .alive_on(alive_on);
        let mut w = World::new(cfg, Duration::from_millis(500));
        let start = w.now;
        w.proxy = None;
        w.nodes[0].status = StatusCode::SERVICE_UNAVAILABLE;
        let went = w.run_until(Duration::from_secs(60), |w| w.has_event(&down(0)));
        assert_eq!(went, goes_down, "{alive_on:?}");
        if goes_down {
            // three rounds, 5 s apart: at 0, 5 and 10 s
            let (at, _) = w.events[0];
            assert!(at - start < Duration::from_secs(11), "{:?}", at - start);
        }
    }
}

#[test]
fn proxy_fails_over_to_the_next_member_and_the_pinger_takes_the_dead_one_out() {
    // priority: member 0 first; it is dead from the start. The proxy's
    // own Timer F (T1 = 100 ms: 6.4 s) moves the MESSAGE to member 1
    // well before the caller's 32 s.
    let ms_cfg = config()
        .algorithm(Algorithm::Priority)
        .probing(Duration::from_secs(5), 1, 1);
    let mut w = World::new(ms_cfg, Duration::from_millis(100));
    w.d = Dispatcher::new(
        w.d.config.clone(),
        members()
            .into_iter()
            .zip([30, 20, 10])
            .map(|(m, p)| m.priority(p))
            .collect(),
        Rng::seeded(7),
    );
    w.net.dead.insert(addr(M[0]));
    w.send_message("first@caller");
    assert!(w.run_until(Duration::from_secs(30), |w| !w.caller_finals.is_empty()));
    assert_eq!(w.caller_finals, [StatusCode::OK]);
    assert_eq!(w.nodes[1].requests, [Method::Message]);
    assert!(w.nodes[2].requests.is_empty());

    // the pinger (started after the first MESSAGE) takes member 0 out:
    // later calls go straight to member 1
    w.d.start(w.now);
    assert!(w.run_until(Duration::from_secs(30), |w| w.has_event(&down(0))));
    let sent = w.now;
    w.send_message("second@caller");
    assert!(w.run_until(Duration::from_secs(5), |w| w.caller_finals.len() == 2));
    assert!(
        w.now - sent < Duration::from_secs(1),
        "no timeout on the way"
    );
    let messages = w.nodes[1]
        .requests
        .iter()
        .filter(|m| **m == Method::Message)
        .count();
    assert_eq!(messages, 2);
}
