//! The server's SIP responder: a sans-IO core that answers every request the
//! server cannot route yet, statelessly (RFC 3261 §8.2).
//!
//! - Malformed requests get 400 (505 for a bad version, 513 when too large)
//!   echoing whatever Via/From/To/Call-ID/CSeq could be recovered, or are
//!   dropped when no answer can be built (RFC 4475 §3.1.2).
//! - Responses are dropped: no transaction of ours is waiting for them.
//! - Well-formed requests pass the checks of [`voip_sip::validate`] (400,
//!   416, 420, 415, 406), Max-Forwards (483 for a request that would have to
//!   be forwarded), then: OPTIONS 200 with Allow/Accept/Supported; INVITE and
//!   REGISTER 404 (no such user yet); BYE, CANCEL and other in-dialog
//!   requests 481; other known methods 405 with Allow; unknown methods 501.
//!   ACK is absorbed.
//!
//! Responses go back where the request came from (the source address and
//! port, or the same connection), the way RFC 3581 answers `rport`: that
//! reaches clients behind NAT and never sends to an address the packet did
//! not come from. The top Via is stamped with `received`/`rport`.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;
use voip_core::{Receive, Rng, Transmit};
use voip_sip::header::{MaxForwards, TypedHeader, Via};
use voip_sip::reply::reply_to_malformed;
use voip_sip::validate::{UasPolicy, check_request};
use voip_sip::{
    Known, Message, Method, ParseConfig, Request, Response, StatusCode, Uri, parse_message,
};

/// Methods the server will serve (the Allow header).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER";

/// Counts of what the responder did, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ResponderStats {
    /// Requests parsed.
    pub requests: u64,
    /// Responses received (and dropped).
    pub responses_dropped: u64,
    /// Messages that did not parse.
    pub malformed: u64,
    /// Malformed messages dropped without an answer.
    pub malformed_dropped: u64,
    /// Responses sent.
    pub replies: u64,
}

/// Answers requests statelessly.
#[derive(Debug)]
pub struct Responder {
    parse: ParseConfig,
    policy: UasPolicy,
    rng: Rng,
    out: VecDeque<Transmit>,
    stats: ResponderStats,
    server_header: Bytes,
}

impl Default for Responder {
    fn default() -> Self {
        Self::new()
    }
}

impl Responder {
    /// A responder with default limits and OS randomness for tags.
    pub fn new() -> Self {
        Self::with_rng(Rng::os())
    }

    /// A responder drawing its To tags from `rng` (seed it in tests).
    pub fn with_rng(rng: Rng) -> Self {
        Self {
            parse: ParseConfig::default(),
            policy: UasPolicy::default(),
            rng,
            out: VecDeque::new(),
            stats: ResponderStats::default(),
            server_header: Bytes::from(format!("voip-server/{}", env!("CARGO_PKG_VERSION"))),
        }
    }

    /// What the responder has done so far.
    pub fn stats(&self) -> ResponderStats {
        self.stats
    }

    /// Handles one received message (a datagram or one framed stream message).
    pub fn handle_receive(&mut self, _now: Instant, rx: Receive) {
        match parse_message(rx.contents.clone(), &self.parse) {
            Err(error) => {
                self.stats.malformed += 1;
                tracing::debug!(source = %rx.source, %error, "malformed sip message");
                let tag = self.rng.token(10);
                match reply_to_malformed(&rx.contents, &error, &tag) {
                    Some(bytes) => self.send(&rx, bytes),
                    None => self.stats.malformed_dropped += 1,
                }
            }
            Ok(Message::Response(_)) => self.stats.responses_dropped += 1,
            Ok(Message::Request(request)) => {
                self.stats.requests += 1;
                self.handle_request(&rx, request);
            }
        }
    }

    fn handle_request(&mut self, rx: &Receive, mut request: Request) {
        let span = tracing::debug_span!("request", method = %request.method, source = %rx.source);
        let _guard = span.enter();
        if request.method == Method::Ack {
            return;
        }
        if let Err(rejection) = check_request(&request) {
            tracing::debug!(status = %rejection.status, reason = %rejection.reason, "rejected");
            let response = rejection.response(&request);
            self.reply(rx, response);
            return;
        }
        stamp_top_via(&mut request, rx);
        if let Err(rejection) = self.policy.check(&request) {
            let response = rejection.response(&request);
            self.reply(rx, response);
            return;
        }
        let max_forwards = request.headers.typed::<MaxForwards>().and_then(Result::ok);
        if max_forwards == Some(MaxForwards(0)) && !is_local(&request.uri, rx) {
            self.reply(
                rx,
                Response::for_request(&request, StatusCode::TOO_MANY_HOPS),
            );
            return;
        }
        let status = match &request.method {
            Method::Options => StatusCode::OK,
            Method::Invite | Method::Register => StatusCode::NOT_FOUND,
            Method::Bye | Method::Cancel | Method::Prack | Method::Update | Method::Info => {
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
            }
            m if m.is_known() => StatusCode::METHOD_NOT_ALLOWED,
            _ => StatusCode::NOT_IMPLEMENTED,
        };
        let mut response = Response::for_request(&request, status);
        if matches!(
            status,
            StatusCode::OK | StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED
        ) {
            response
                .headers
                .push(Known::Allow, Bytes::from_static(ALLOW.as_bytes()));
        }
        if status == StatusCode::OK {
            response
                .headers
                .push(Known::Accept, Bytes::from_static(b"application/sdp"));
            response.headers.push(Known::Supported, Bytes::new());
        }
        self.reply(rx, response);
    }

    fn reply(&mut self, rx: &Receive, response: Response) {
        let tag = self.rng.token(10);
        let mut response = response.with_to_tag(&tag);
        response
            .headers
            .push(Known::Server, self.server_header.clone());
        self.send(rx, response.to_bytes());
    }

    fn send(&mut self, rx: &Receive, bytes: Bytes) {
        self.stats.replies += 1;
        self.out.push_back(Transmit::reply_to(rx, bytes));
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
}

/// Adds `received` and fills `rport` in the top Via (RFC 3581).
fn stamp_top_via(request: &mut Request, rx: &Receive) {
    let Some(Ok(mut via)) = request.headers.typed::<Via>() else {
        return;
    };
    via.stamp_source(rx.source);
    let Some(line) = request.headers.first_mut(&Known::Via.into()) else {
        return;
    };
    // The first line may hold several Vias: replace only the first item.
    let rest = split_after_first_item(&line.value);
    let mut value = via.to_bytes().to_vec();
    if let Some(rest) = rest {
        value.extend_from_slice(b", ");
        value.extend_from_slice(&rest);
    }
    line.value = Bytes::from(value);
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

/// Whether the Request-URI names this server: its address, `localhost`, or
/// no user part at a local IP.
fn is_local(uri: &Uri, rx: &Receive) -> bool {
    let Some(sip) = uri.as_sip() else {
        return false;
    };
    match sip.host.ip() {
        Some(ip) => ip == rx.destination.ip() || ip.is_loopback() || ip.is_unspecified(),
        None => sip.host.eq_domain("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use voip_core::TransportProtocol;

    fn rx(bytes: &'static [u8]) -> Receive {
        Receive {
            protocol: TransportProtocol::Udp,
            source: "127.0.0.1:40000".parse().unwrap(),
            destination: "127.0.0.1:5060".parse().unwrap(),
            connection: None,
            contents: Bytes::from_static(bytes),
        }
    }

    fn answer(r: &mut Responder, bytes: &'static [u8]) -> Option<Response> {
        r.handle_receive(Instant::now(), rx(bytes));
        let t = r.poll_transmit()?;
        assert_eq!(t.destination, "127.0.0.1:40000".parse().unwrap());
        match parse_message(t.contents, &ParseConfig::default()) {
            Ok(Message::Response(resp)) => Some(resp),
            other => panic!("{other:?}"),
        }
    }

    const OPTIONS: &[u8] = b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK1;rport\r\nTo: <sip:127.0.0.1>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn options_gets_200_with_capabilities_and_stamped_via() {
        let mut r = Responder::with_rng(Rng::seeded(1));
        let resp = answer(&mut r, OPTIONS).unwrap();
        assert_eq!(resp.status, StatusCode::OK);
        assert!(resp.headers.contains(&Known::Allow.into()));
        assert!(resp.headers.contains(&Known::Accept.into()));
        assert!(resp.headers.contains(&Known::Supported.into()));
        assert!(resp.to().unwrap().unwrap().tag().is_some());
        assert_eq!(resp.via().unwrap().unwrap().rport(), Some(Some(40000)));
    }

    #[test]
    fn methods_map_to_final_responses() {
        let mut r = Responder::with_rng(Rng::seeded(1));
        let cases: [(&'static [u8], u16); 4] = [
            (b"INVITE sip:nobody@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nTo: <sip:nobody@127.0.0.1>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c2\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n\r\n", 404),
            (b"BYE sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK3\r\nTo: <sip:x@127.0.0.1>;tag=2\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c3\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\n\r\n", 481),
            (b"PUBLISH sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK4\r\nTo: <sip:x@127.0.0.1>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c4\r\nCSeq: 2 PUBLISH\r\nMax-Forwards: 70\r\n\r\n", 405),
            (b"FOO sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK5\r\nTo: <sip:x@127.0.0.1>\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c5\r\nCSeq: 2 FOO\r\nMax-Forwards: 70\r\n\r\n", 501),
        ];
        for (bytes, status) in cases {
            assert_eq!(answer(&mut r, bytes).unwrap().status.as_u16(), status);
        }
        assert!(answer(&mut r, b"ACK sip:x@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK6\r\nTo: <sip:x@h>;tag=2\r\nFrom: <sip:a@b>;tag=1\r\nCall-ID: c6\r\nCSeq: 1 ACK\r\n\r\n").is_none());
        assert!(
            answer(
                &mut r,
                b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK6\r\n\r\n"
            )
            .is_none()
        );
    }

    #[test]
    fn zero_max_forwards_to_a_foreign_domain_is_483() {
        let mut r = Responder::with_rng(Rng::seeded(1));
        let resp = answer(&mut r, b"OPTIONS sip:user@example.com SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=3ghsd41\r\nCall-ID: zeromf.jfasdlfnm2o2l43r5u0asdfas\r\nCSeq: 39234321 OPTIONS\r\nVia: SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw2349i\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(resp.status, StatusCode::TOO_MANY_HOPS);
    }

    #[test]
    fn garbage_is_dropped_and_counted() {
        let mut r = Responder::with_rng(Rng::seeded(1));
        assert!(answer(&mut r, b"\x00\x01garbage").is_none());
        assert_eq!(r.stats().malformed, 1);
        assert_eq!(r.stats().malformed_dropped, 1);
    }
}
