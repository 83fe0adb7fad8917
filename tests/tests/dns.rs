//! RFC 3263 resolution against a real DNS server: dnsmasq on loopback
//! serves NAPTR, SRV and A records for `example.test`; the tokio
//! `DnsDriver` answers the sans-IO `Resolver`'s queries from it.
//!
//! - a domain resolves to the ordered targets its NAPTR and SRV records
//!   name (NAPTR order, SRV priority), a domain with only an A record to
//!   UDP on 5060, an unknown name to "not found";
//! - failover: two SRV targets, the first (higher priority) a dead port, the
//!   second a UDP responder; an OPTIONS sent through the transaction layer
//!   times out at the first (Timer F) and reaches the second.
//!
//! `cargo test -p voip-tests --test dns -- --ignored --nocapture`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use voip_core::{Rng, TransportProtocol};
use voip_sip::resolve::{DnsDriver, DnsDriverConfig, ResolutionId, ResolveError, Resolver};
use voip_sip::transaction::{
    ReplyPath, Target, TransactionConfig, TransactionEvent, TransactionLayer,
};
use voip_sip::{
    Message, Method, ParseConfig, Request, ResolverConfig, Response, SipUri, StatusCode,
    parse_message,
};
use voip_tests::{TempDir, free_udp_port, in_ci, require_program, wait_for};

/// dnsmasq is in /usr/sbin, which is not on every user's PATH.
fn dnsmasq_bin() -> Option<PathBuf> {
    let sbin = PathBuf::from("/usr/sbin/dnsmasq");
    if sbin.is_file() {
        return Some(sbin);
    }
    require_program("dnsmasq").then(|| PathBuf::from("dnsmasq"))
}

/// A dnsmasq we started, in the foreground, killed (by its pid) on drop.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl Dnsmasq {
    fn spawn(bin: &PathBuf, records: &[String]) -> Self {
        let dir = TempDir::new("voip-dnsmasq");
        let port = free_udp_port();
        let stderr = File::create(dir.path().join("dnsmasq.log")).unwrap();
        let child = Command::new(bin)
            .args([
                "--keep-in-foreground",
                "--log-facility=-",
                "--log-queries",
                "--conf-file=/dev/null",
                "--pid-file=",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                // authoritative for the test domain: NXDOMAIN, not REFUSED
                "--local=/example.test/",
                "--local-ttl=60",
            ])
            .arg(format!("--port={port}"))
            .args(records)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dnsmasq.log")).unwrap_or_default()
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uri(s: &str) -> SipUri {
    SipUri::parse(&s.as_bytes().to_vec().into()).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A driver for `server`, once the server answers (it binds after spawn).
fn driver_for(rt: &tokio::runtime::Runtime, server: &mut Dnsmasq) -> DnsDriver {
    let mut config = DnsDriverConfig::default().nameserver(server.addr);
    config.timeout = Duration::from_millis(500);
    let driver = DnsDriver::new(&config).unwrap();
    let ready = wait_for(Duration::from_secs(15), || {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("dnsmasq exited with {status}: {}", server.log());
        }
        let mut probe = Resolver::new(ResolverConfig::default(), Rng::seeded(0));
        let r = rt.block_on(driver.resolve(&mut probe, &uri("sip:probe.example.test:5060")));
        // NotFound is an answer: the server is up
        matches!(r, Err(ResolveError::NotFound(_))).then_some(())
    });
    assert!(ready.is_some(), "dnsmasq did not answer: {}", server.log());
    driver
}

fn resolve(
    rt: &tokio::runtime::Runtime,
    driver: &DnsDriver,
    resolver: &mut Resolver,
    u: &str,
) -> Result<(ResolutionId, Vec<Target>), ResolveError> {
    let id = rt.block_on(driver.resolve(resolver, &uri(u)))?;
    Ok((id, resolver.targets(id).to_vec()))
}

fn target(protocol: TransportProtocol, addr: &str) -> Target {
    Target::new(protocol, addr.parse().unwrap())
}

#[test]
#[ignore = "needs dnsmasq; run with --ignored"]
fn naptr_srv_and_a_records_give_ordered_targets() {
    let Some(bin) = dnsmasq_bin() else {
        return;
    };
    let records: Vec<String> = [
        // TCP preferred over UDP by NAPTR order
        "--naptr-record=example.test,20,10,S,SIP+D2U,,_sip._udp.example.test",
        "--naptr-record=example.test,10,10,S,SIP+D2T,,_sip._tcp.example.test",
        // a service we do not speak
        "--naptr-record=example.test,5,10,S,SIP+D2S,,_sip._sctp.example.test",
        // SRV: priority 2 after priority 1, whatever the order given here
        "--srv-host=_sip._tcp.example.test,b.example.test,5072,2,0",
        "--srv-host=_sip._tcp.example.test,a.example.test,5071,1,0",
        "--srv-host=_sip._udp.example.test,c.example.test,5073,1,0",
        "--host-record=a.example.test,127.0.0.11",
        "--host-record=b.example.test,127.0.0.12",
        "--host-record=c.example.test,127.0.0.13,::13",
        // only an address: UDP, port 5060
        "--host-record=plain.example.test,127.0.0.20",
    ]
    .map(String::from)
    .to_vec();
    let mut server = Dnsmasq::spawn(&bin, &records);
    let rt = runtime();
    let driver = driver_for(&rt, &mut server);
    let mut resolver = Resolver::new(ResolverConfig::default(), Rng::seeded(1));

    let (_, targets) = resolve(&rt, &driver, &mut resolver, "sip:alice@example.test").unwrap();
    assert_eq!(
        targets,
        [
            target(TransportProtocol::Tcp, "127.0.0.11:5071"),
            target(TransportProtocol::Tcp, "127.0.0.12:5072"),
            target(TransportProtocol::Udp, "127.0.0.13:5073"),
            target(TransportProtocol::Udp, "[::13]:5073"),
        ],
        "{}",
        server.log()
    );
    // an explicit transport goes straight to its SRV records
    let (_, targets) = resolve(
        &rt,
        &driver,
        &mut resolver,
        "sip:alice@example.test;transport=udp",
    )
    .unwrap();
    assert_eq!(
        targets[0],
        target(TransportProtocol::Udp, "127.0.0.13:5073")
    );

    let (_, targets) = resolve(&rt, &driver, &mut resolver, "sip:plain.example.test").unwrap();
    assert_eq!(targets, [target(TransportProtocol::Udp, "127.0.0.20:5060")]);

    let e = resolve(&rt, &driver, &mut resolver, "sip:nosuch.example.test").unwrap_err();
    assert_eq!(e, ResolveError::NotFound("nosuch.example.test".into()));
    assert_eq!(e.status(), StatusCode::NOT_FOUND);

    // the second time, the cache answers: dnsmasq sees no new query
    let asked = server.log().matches("query[").count();
    resolve(&rt, &driver, &mut resolver, "sip:alice@example.test").unwrap();
    assert_eq!(
        server.log().matches("query[").count(),
        asked,
        "{}",
        server.log()
    );
    if in_ci() {
        eprintln!("{}", server.log());
    }
}

/// Answers every SIP request on `socket` with 200 until `stop`.
fn responder(socket: UdpSocket, stop: Arc<AtomicBool>, seen: Arc<AtomicUsize>) {
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let mut buf = vec![0u8; 65_535];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Ok(Message::Request(request)) =
            parse_message(buf[..n].to_vec().into(), &ParseConfig::default())
        else {
            continue;
        };
        seen.fetch_add(1, Ordering::Relaxed);
        let response = Response::for_request(&request, StatusCode::OK).with_to_tag("live");
        let _ = socket.send_to(&response.to_bytes(), from);
    }
}

fn options(local: SocketAddr, to: &SipUri, cseq: u32) -> Request {
    let mut r = Request::new(Method::Options, voip_sip::Uri::Sip(to.clone()));
    for (name, value) in [
        ("Via", format!("SIP/2.0/UDP {local};rport")),
        ("Max-Forwards", "70".to_owned()),
        ("From", format!("<sip:dns-test@{local}>;tag=dns")),
        ("To", format!("<{to}>")),
        ("Call-ID", "dns-failover@voip-tests".to_owned()),
        ("CSeq", format!("{cseq} OPTIONS")),
        ("Content-Length", "0".to_owned()),
    ] {
        r.headers.push(
            voip_sip::HeaderName::from_bytes(name.as_bytes().to_vec().into()),
            value,
        );
    }
    r
}

#[test]
#[ignore = "needs dnsmasq; run with --ignored"]
fn failover_to_the_second_srv_target_when_the_first_is_dead() {
    let Some(bin) = dnsmasq_bin() else {
        return;
    };
    let dead_port = free_udp_port();
    let live = UdpSocket::bind("127.0.0.1:0").unwrap();
    let live_port = live.local_addr().unwrap().port();
    let records = vec![
        format!("--srv-host=_sip._udp.fail.example.test,dead.example.test,{dead_port},10,0"),
        format!("--srv-host=_sip._udp.fail.example.test,live.example.test,{live_port},20,0"),
        "--host-record=dead.example.test,127.0.0.1".to_owned(),
        "--host-record=live.example.test,127.0.0.1".to_owned(),
    ];
    let mut server = Dnsmasq::spawn(&bin, &records);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(AtomicUsize::new(0));
    let responder_thread = {
        let (stop, seen) = (stop.clone(), seen.clone());
        std::thread::spawn(move || responder(live, stop, seen))
    };

    let rt = runtime();
    let driver = driver_for(&rt, &mut server);
    let mut resolver = Resolver::new(ResolverConfig::default(), Rng::seeded(1));
    let to = uri("sip:fail.example.test;transport=udp");
    let (id, targets) = resolve(
        &rt,
        &driver,
        &mut resolver,
        "sip:fail.example.test;transport=udp",
    )
    .unwrap();
    assert_eq!(
        targets
            .iter()
            .map(|t| t.destination.port())
            .collect::<Vec<_>>(),
        [dead_port, live_port],
        "{}",
        server.log()
    );

    // OPTIONS through a transaction layer over a real UDP socket; T1 of
    // 50 ms makes Timer F fire after 3.2 s instead of 32 s
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let local = socket.local_addr().unwrap();
    let config = TransactionConfig {
        t1: Duration::from_millis(50),
        ..TransactionConfig::default()
    };
    let mut layer = TransactionLayer::new(config, Rng::seeded(2));
    let mut cseq = 1;
    let first = resolver.next_target(id).unwrap();
    let mut tried = vec![first.destination];
    layer
        .send_request(Instant::now(), options(local, &to, cseq), first)
        .unwrap();
    let mut buf = vec![0u8; 65_535];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut answer = None;
    while answer.is_none() && Instant::now() < deadline {
        while let Some(t) = layer.poll_transmit() {
            let _ = socket.send_to(&t.contents, t.destination);
        }
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if let Ok(msg) = parse_message(buf[..n].to_vec().into(), &ParseConfig::default()) {
                let path = ReplyPath {
                    protocol: TransportProtocol::Udp,
                    remote: from,
                    local,
                    connection: None,
                };
                layer.handle_message(Instant::now(), msg, path);
            }
        }
        layer.handle_timeout(Instant::now());
        while let Some(event) = layer.poll_event() {
            match event {
                TransactionEvent::Response { response, .. } if response.status.is_final() => {
                    answer = Some(response.status);
                }
                TransactionEvent::Timeout { .. } | TransactionEvent::TransportError { .. } => {
                    // RFC 3263 §4.3: the next target
                    let next = resolver.next_target(id).expect("a second target");
                    tried.push(next.destination);
                    cseq += 1;
                    layer
                        .send_request(Instant::now(), options(local, &to, cseq), next)
                        .unwrap();
                }
                _ => {}
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    responder_thread.join().unwrap();
    assert_eq!(answer, Some(StatusCode::OK), "tried {tried:?}");
    assert_eq!(tried.len(), 2);
    assert_eq!(tried[1].port(), live_port);
    assert!(
        seen.load(Ordering::Relaxed) >= 1,
        "the OPTIONS reached the live target"
    );
    resolver.finish(id);
}
