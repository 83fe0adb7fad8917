//! Drives the transaction layer and the proxy core with arbitrary message
//! sequences, responses and timeouts: nothing may panic, and every
//! transaction must end once enough virtual time has passed.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use voip_core::{Rng, TransportProtocol};
use voip_sip::proxy::{Destination, ForkMode, Incoming, Interface, Proxy, ProxyConfig};
use voip_sip::transaction::{ReplyPath, Target, TransactionConfig, TransactionEvent, TransactionLayer};
use voip_sip::{ParseConfig, Response, StatusCode, parse_message};

const LOCAL: &str = "192.0.2.10:5060";
const NEXT: &str = "192.0.2.20:5060";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

fuzz_target!(|data: &[u8]| {
    let mut rng = Rng::seeded(1);
    let config = ProxyConfig::new(
        vec![
            Interface { protocol: TransportProtocol::Udp, addr: addr(LOCAL) },
            Interface { protocol: TransportProtocol::Tcp, addr: addr(LOCAL) },
        ],
        &mut rng,
    );
    let mut proxy = Proxy::new(config, Rng::seeded(2));
    let mut layer = TransactionLayer::new(TransactionConfig::default(), Rng::seeded(3));
    let start = Instant::now();
    let mut now = start;
    let mut servers = Vec::new();
    for chunk in data.split(|b| *b == 0xff) {
        let Some((&op, rest)) = chunk.split_first() else { continue };
        match op % 4 {
            0 | 1 => {
                let protocol = if op & 0x10 == 0 { TransportProtocol::Udp } else { TransportProtocol::Tcp };
                let source = SocketAddr::from(([192, 0, 2, 1 + (op >> 5)], 5060));
                if let Ok(m) = parse_message(Bytes::copy_from_slice(rest), &ParseConfig::default()) {
                    let path = ReplyPath { protocol, remote: source, local: addr(LOCAL), connection: None };
                    layer.handle_message(now, m, path);
                }
            }
            2 => {
                now += Duration::from_millis(u64::from(rest.first().copied().unwrap_or(1)) * 250);
                layer.handle_timeout(now);
                proxy.handle_timeout(&mut layer, now);
            }
            _ => {
                if let (Some(&pick), Some(&code)) = (rest.first(), rest.get(1)) {
                    if let Some(&id) = servers.get(usize::from(pick) % servers.len().max(1)) {
                        if let Some(req) = layer.server_request(id).cloned() {
                            let status = StatusCode::new(100 + u16::from(code) * 2).unwrap_or(StatusCode::OK);
                            let _ = layer.send_response(now, id, Response::for_request(&req, status).with_to_tag("t"));
                        }
                    }
                }
            }
        }
        while let Some(event) = layer.poll_event() {
            let Some(event) = proxy.handle_event(&mut layer, now, event) else { continue };
            if let TransactionEvent::Request { id, request, path, .. } = event {
                if request.method == voip_sip::Method::Invite && servers.len() % 2 == 0 {
                    let dest = Destination {
                        uri: request.uri.clone(),
                        target: Target::new(TransportProtocol::Udp, addr(NEXT)),
                        route: Vec::new(),
                    };
                    let _ = proxy.forward(&mut layer, now, Incoming { id, request: &request, path }, vec![dest], ForkMode::Parallel);
                }
                servers.push(id);
            }
        }
        while layer.poll_transmit().is_some() {}
        while proxy.poll_transmit().is_some() {}
    }
    // Everything ends: run the clock for ten minutes.
    for _ in 0..2400 {
        now += Duration::from_millis(250);
        layer.handle_timeout(now);
        proxy.handle_timeout(&mut layer, now);
        while let Some(event) = layer.poll_event() {
            let _ = proxy.handle_event(&mut layer, now, event);
        }
        while layer.poll_transmit().is_some() {}
    }
});
