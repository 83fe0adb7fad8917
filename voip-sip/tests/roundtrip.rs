//! Property tests: `parse(print(m)) == m` for generated messages and typed
//! headers, and no panic on arbitrary bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use proptest::prelude::*;
use voip_core::TransportProtocol;
use voip_sip::header::{CSeq, Contact, From, MaxForwards, NameAddr, To, TypedHeader, Via};
use voip_sip::{
    Host, Known, Message, Method, ParseConfig, Request, Response, SipUri, StatusCode, Uri,
    parse_message,
};

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9-]{0,8}){0,3}"
            .prop_map(|d| Host::Domain(Bytes::from(d))),
        any::<[u8; 4]>().prop_map(|o| Host::V4(Ipv4Addr::from(o))),
        any::<[u16; 8]>().prop_map(|s| Host::V6(Ipv6Addr::from(s))),
    ]
}

fn sip_uri() -> impl Strategy<Value = SipUri> {
    (
        any::<bool>(),
        proptest::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,12}"),
        host(),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(
            (
                "[a-zA-Z0-9_.!~*'()-]{1,10}",
                proptest::option::of("[a-zA-Z0-9_.:-]{1,8}"),
            ),
            0..3,
        ),
    )
        .prop_map(|(secure, user, host, port, params)| {
            let mut u = SipUri::new(host);
            u.secure = secure;
            u.set_user(user);
            u.port = port;
            for (n, v) in params {
                u.set_param(&n, v.map(Bytes::from));
            }
            u
        })
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (
        proptest::option::of("[a-zA-Z0-9 .,<>@:;-]{0,16}"),
        sip_uri(),
        proptest::collection::vec((token(), proptest::option::of(token())), 0..3),
    )
        .prop_map(|(display, uri, params)| {
            let mut a = NameAddr::new(Uri::Sip(uri));
            a.set_display_name(display);
            for (n, v) in params {
                a.set_param(&n, v.map(Bytes::from));
            }
            a
        })
}

fn via() -> impl Strategy<Value = Via> {
    (
        0usize..5,
        host(),
        proptest::option::of(any::<u16>()),
        token(),
        any::<bool>(),
    )
        .prop_map(|(t, host, port, branch, rport)| {
            let mut v = Via::new(
                TransportProtocol::ALL[t],
                host,
                port,
                &format!("z9hG4bK{branch}"),
            );
            if rport {
                v.set_param("rport", None);
            }
            v
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        (0usize..14).prop_map(|i| Method::KNOWN[i].clone()),
        "[A-Z][A-Z0-9_-]{0,10}".prop_map(|m| Method::from_bytes(Bytes::from(m))),
    ]
}

fn request() -> impl Strategy<Value = Request> {
    (
        method(),
        sip_uri(),
        proptest::collection::vec(via(), 1..4),
        name_addr(),
        name_addr(),
        "[a-zA-Z0-9.@!%*_+-]{1,24}",
        0u32..(1 << 31),
        proptest::collection::vec(name_addr(), 0..3),
        proptest::collection::vec(("X-[a-zA-Z0-9-]{1,10}", "[ -~]{0,20}"), 0..3),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(
            |(method, uri, vias, from, to, call_id, seq, contacts, extra, body)| {
                let mut r = Request::new(method.clone(), Uri::Sip(uri));
                for v in &vias {
                    r.headers.push_typed(v);
                }
                r.headers.push_typed(&From(from));
                r.headers.push_typed(&To(to));
                r.headers.push(Known::CallId, Bytes::from(call_id));
                r.headers.push_typed(&CSeq { seq, method });
                r.headers.push_typed(&MaxForwards(70));
                for c in contacts {
                    r.headers.push_typed(&Contact::Address(c));
                }
                for (n, v) in extra {
                    r.headers.push(
                        voip_sip::HeaderName::from_bytes(Bytes::from(n)),
                        Bytes::from(v.trim().to_owned()),
                    );
                }
                r.set_body(Some("application/octet-stream"), Bytes::from(body));
                r
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn requests_round_trip(req in request()) {
        let printed = req.to_bytes();
        let parsed = parse_message(printed.clone(), &ParseConfig::default());
        prop_assert_eq!(parsed, Ok(Message::Request(req.clone())), "{}", String::from_utf8_lossy(&printed));
        // typed access sees what was put in
        let vias: Vec<Via> = req.headers.typed_all::<Via>().map(Result::unwrap).collect();
        prop_assert!(!vias.is_empty());
        voip_sip::validate::check_request(&req).map_err(|r| TestCaseError::fail(format!("{r:?}")))?;
    }

    #[test]
    fn responses_round_trip(code in 100u16..700, reason in "[ -~]{0,20}", req in request()) {
        let mut resp = Response::for_request(&req, StatusCode::new(code).unwrap());
        resp.reason = Bytes::from(reason.trim().to_owned());
        let parsed = parse_message(resp.to_bytes(), &ParseConfig::default());
        prop_assert_eq!(parsed, Ok(Message::Response(resp)));
    }

    #[test]
    fn typed_headers_round_trip(v in via(), a in name_addr()) {
        prop_assert_eq!(Via::parse(&v.to_bytes()), Ok(v));
        prop_assert_eq!(From::parse(&From(a.clone()).to_bytes()), Ok(From(a)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let raw = Bytes::from(data);
        if let Ok(Message::Request(r)) = parse_message(raw.clone(), &ParseConfig::default()) {
            let _ = voip_sip::validate::check_request(&r);
            let _ = r.to_bytes();
        } else if let Err(e) = parse_message(raw.clone(), &ParseConfig::default()) {
            let _ = voip_sip::reply::reply_to_malformed(&raw, &e, "t");
        }
    }

    #[test]
    fn mutated_sip_never_panics(pos in 0usize..200, byte in any::<u8>(), cut in 0usize..220) {
        let mut m = b"INVITE sip:bob@[2001:db8::1]:5060;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP a.example.com;branch=z9hG4bK1;received=[::1]\r\nFrom: \"A\" <sip:a@b>;tag=1\r\nTo: b <sip:b@c>\r\nCall-ID: x@y\r\nCSeq: 1 INVITE\r\nContact: <sip:a@h>;expires=60;q=0.5\r\nl: 3\r\n\r\nabc".to_vec();
        if pos < m.len() { m[pos] = byte; }
        m.truncate(cut.min(m.len()));
        let raw = Bytes::from(m);
        match parse_message(raw.clone(), &ParseConfig::default()) {
            Ok(Message::Request(r)) => {
                let _ = voip_sip::validate::check_request(&r);
                let _ = r.headers.typed_all::<Contact>().count();
                let again = parse_message(r.to_bytes(), &ParseConfig::default());
                prop_assert_eq!(again, Ok(Message::Request(r)));
            }
            Ok(_) => {}
            Err(e) => { let _ = voip_sip::reply::reply_to_malformed(&raw, &e, "t"); }
        }
    }
}
