//! Registrar scenarios in virtual time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use voip_core::{ConnectionId, TransportProtocol};

use super::*;
use crate::header::{CallId, Expires, MinExpires, Require, To};
use crate::{Message, ParseConfig, parse_message};

const AOR: &[u8] = b"sip:alice@example.com";

fn flow(port: u16) -> ReplyPath {
    ReplyPath {
        protocol: TransportProtocol::Tcp,
        remote: format!("192.0.2.4:{port}").parse().unwrap(),
        local: "192.0.2.1:5060".parse().unwrap(),
        connection: Some(ConnectionId(u64::from(port))),
    }
}

fn request(call_id: &str, cseq: u32, extra: &[&str]) -> Request {
    let mut raw = format!(
        "REGISTER sip:example.com SIP/2.0\r\n\
         Via: SIP/2.0/TCP 192.0.2.4:5060;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\n\
         To: <sip:alice@Example.com>\r\n\
         From: <sip:alice@example.com>;tag=f1\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: {cseq} REGISTER\r\n"
    );
    for line in extra {
        raw.push_str(line);
        raw.push_str("\r\n");
    }
    raw.push_str("Content-Length: 0\r\n\r\n");
    match parse_message(Bytes::from(raw), &ParseConfig::default()) {
        Ok(Message::Request(r)) => r,
        other => panic!("bad test request: {other:?}"),
    }
}

fn registrar(config: RegistrarConfig) -> Registrar {
    Registrar::with_memory_store(Arc::new(config.build().unwrap()))
}

fn contacts(r: &Response) -> Vec<String> {
    r.headers
        .get_all(&Known::Contact.into())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

fn events(r: &mut Registrar) -> Vec<RegistrarEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

#[test]
fn registers_one_contact() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let req = request(
        "c1",
        1,
        &[
            "Contact: <sip:alice@192.0.2.4:5060;transport=tcp>",
            "User-Agent: phone/1",
        ],
    );
    let resp = r.handle_register(now, &req, flow(5060));
    assert_eq!(resp.status, StatusCode::OK);
    assert!(resp.to().unwrap().unwrap().tag().is_some());
    assert_eq!(
        contacts(&resp),
        ["<sip:alice@192.0.2.4:5060;transport=tcp>;expires=3600"]
    );
    let found = r.lookup(now, AOR);
    assert_eq!(found.len(), 1);
    let b = &found[0];
    assert_eq!(&b.aor[..], AOR);
    assert_eq!((b.q, b.cseq, &b.call_id[..]), (1000, 1, &b"c1"[..]));
    assert_eq!(b.source, flow(5060));
    assert_eq!(b.user_agent.as_deref(), Some(&b"phone/1"[..]));
    assert_eq!(b.expires_at, now + Duration::from_secs(3600));
    assert!(
        matches!(&events(&mut r)[..], [RegistrarEvent::Registered { aor, .. }] if &aor[..] == AOR)
    );
    // A query (no Contact) lists the bindings and changes nothing.
    let later = now + Duration::from_secs(100);
    let resp = r.handle_register(later, &request("c9", 1, &[]), flow(5060));
    assert_eq!(
        contacts(&resp),
        ["<sip:alice@192.0.2.4:5060;transport=tcp>;expires=3500"]
    );
    assert!(events(&mut r).is_empty());
}

#[test]
fn q_values_order_lookup() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let req = request(
        "c1",
        1,
        &[
            "Contact: <sip:a@10.0.0.1>;q=0.1, <sip:a@10.0.0.2>;q=0.9",
            "Contact: <sip:a@10.0.0.3>",
        ],
    );
    assert_eq!(r.handle_register(now, &req, flow(1)).status, StatusCode::OK);
    let later = now + Duration::from_secs(1);
    let req = request("c2", 1, &["Contact: <sip:a@10.0.0.4>;q=0.9"]);
    assert_eq!(
        r.handle_register(later, &req, flow(2)).status,
        StatusCode::OK
    );
    let order: Vec<_> = r
        .lookup(later, AOR)
        .iter()
        .map(|b| (b.contact.uri().to_bytes(), b.q))
        .collect();
    let hosts: Vec<_> = order
        .iter()
        .map(|(u, q)| (String::from_utf8_lossy(u).into_owned(), *q))
        .collect();
    assert_eq!(
        hosts,
        [
            ("sip:a@10.0.0.3".to_owned(), 1000),
            ("sip:a@10.0.0.4".to_owned(), 900),
            ("sip:a@10.0.0.2".to_owned(), 900),
            ("sip:a@10.0.0.1".to_owned(), 100),
        ]
    );
}

#[test]
fn refresh_extends_and_raises_refreshed() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let c = "Contact: <sip:alice@192.0.2.4>";
    r.handle_register(now, &request("c1", 1, &[c, "Expires: 600"]), flow(1));
    let _ = events(&mut r);
    let later = now + Duration::from_secs(500);
    let resp = r.handle_register(later, &request("c1", 2, &[c, "Expires: 600"]), flow(1));
    assert_eq!(contacts(&resp), ["<sip:alice@192.0.2.4>;expires=600"]);
    assert!(
        matches!(&events(&mut r)[..], [RegistrarEvent::Refreshed { binding, .. }] if binding.cseq == 2)
    );
    assert_eq!(r.poll_timeout(), Some(later + Duration::from_secs(600)));
    assert_eq!(r.store().len(), 1);
}

#[test]
fn contact_param_beats_expires_header() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let req = request(
        "c1",
        1,
        &[
            "Expires: 120",
            "Contact: <sip:a@h1>;expires=300, <sip:a@h2>, <sip:a@h3>;expires=junk",
        ],
    );
    let resp = r.handle_register(now, &req, flow(1));
    let mut got = contacts(&resp);
    got.sort();
    assert_eq!(
        got,
        [
            "<sip:a@h1>;expires=300",
            "<sip:a@h2>;expires=120",
            "<sip:a@h3>;expires=120"
        ]
    );
}

#[test]
fn unregisters_one_contact() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    r.handle_register(
        now,
        &request("c1", 1, &["Contact: <sip:a@h1>, <sip:a@h2>"]),
        flow(1),
    );
    let _ = events(&mut r);
    let resp = r.handle_register(
        now,
        &request("c1", 2, &["Contact: <sip:a@H1>;expires=0"]),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(contacts(&resp), ["<sip:a@h2>;expires=3600"]);
    assert!(matches!(
        &events(&mut r)[..],
        [RegistrarEvent::Unregistered { reason: UnregisterReason::Removed, binding, .. }]
            if &binding.contact.uri().to_bytes()[..] == b"sip:a@h1"
    ));
    // Removing what is not there is fine.
    let resp = r.handle_register(
        now,
        &request("c1", 3, &["Contact: <sip:a@h9>", "Expires: 0"]),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(r.store().len(), 1);
}

#[test]
fn wildcard_removes_all() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    r.handle_register(
        now,
        &request("c1", 1, &["Contact: <sip:a@h1>, <sip:a@h2>"]),
        flow(1),
    );
    let _ = events(&mut r);
    // Another Call-ID removes every binding regardless of CSeq.
    let resp = r.handle_register(
        now,
        &request("other", 1, &["Contact: *", "Expires: 0"]),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert!(contacts(&resp).is_empty());
    assert!(r.lookup(now, AOR).is_empty());
    assert_eq!(events(&mut r).len(), 2);
    assert!(r.store().is_empty());
}

#[test]
fn wildcard_misuse_is_400() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    for extra in [
        &["Contact: *", "Expires: 30"][..],
        &["Contact: *"][..],
        &["Contact: *, <sip:a@h1>", "Expires: 0"][..],
        &["Contact: <sip:a@h1>", "Contact: *", "Expires: 0"][..],
    ] {
        let resp = r.handle_register(now, &request("c1", 1, extra), flow(1));
        assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{extra:?}");
    }
}

#[test]
fn too_brief_is_423_with_min_expires() {
    let mut r = registrar(RegistrarConfig::default().with_min_expires(120));
    let now = Instant::now();
    let resp = r.handle_register(
        now,
        &request(
            "c1",
            1,
            &["Contact: <sip:a@h1>;expires=600, <sip:a@h2>;expires=30"],
        ),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::INTERVAL_TOO_BRIEF);
    assert_eq!(
        resp.headers.typed::<MinExpires>(),
        Some(Ok(MinExpires(120)))
    );
    // Atomic: the valid contact was not bound either.
    assert!(r.store().is_empty());
    assert!(r.poll_event().is_none());
}

#[test]
fn long_expiry_is_clamped() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let resp = r.handle_register(
        now,
        &request(
            "c1",
            1,
            &["Contact: <sip:a@h1>", "Expires: 99999999999999999999"],
        ),
        flow(1),
    );
    assert_eq!(contacts(&resp), ["<sip:a@h1>;expires=7200"]);
    assert_eq!(r.poll_timeout(), Some(now + Duration::from_secs(7200)));
}

#[test]
fn call_id_and_cseq_rules() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let c = "Contact: <sip:a@h1>";
    assert_eq!(
        r.handle_register(now, &request("c1", 5, &[c]), flow(1))
            .status,
        StatusCode::OK
    );
    // Same Call-ID, same or lower CSeq: a reordered request fails and
    // changes nothing.
    for cseq in [5, 4] {
        let resp = r.handle_register(now, &request("c1", cseq, &[c, "Expires: 0"]), flow(1));
        assert_eq!(resp.status, StatusCode::SERVER_INTERNAL_ERROR);
    }
    let resp = r.handle_register(
        now,
        &request("c1", 4, &["Contact: *", "Expires: 0"]),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::SERVER_INTERNAL_ERROR);
    assert_eq!(r.store().len(), 1);
    // Another Call-ID updates whatever its CSeq.
    let resp = r.handle_register(now, &request("c2", 1, &[c, "Expires: 90"]), flow(1));
    assert_eq!(resp.status, StatusCode::OK);
    let b = &r.lookup(now, AOR)[0];
    assert_eq!((&b.call_id[..], b.cseq), (&b"c2"[..], 1));
    // Duplicate contacts in one request do not trip the rule.
    let resp = r.handle_register(now, &request("c2", 2, &[c, c]), flow(1));
    assert_eq!(resp.status, StatusCode::OK);
}

#[test]
fn expiry_sweep_in_virtual_time() {
    let mut r = registrar(RegistrarConfig::default());
    let t0 = Instant::now();
    r.handle_register(
        t0,
        &request(
            "c1",
            1,
            &["Contact: <sip:a@h1>;expires=60, <sip:a@h2>;expires=120"],
        ),
        flow(1),
    );
    assert_eq!(events(&mut r).len(), 2);
    let mut now = t0;
    let mut expired = Vec::new();
    while let Some(deadline) = r.poll_timeout() {
        assert!(deadline >= now);
        now = deadline;
        r.handle_timeout(now);
        for e in events(&mut r) {
            match e {
                RegistrarEvent::Unregistered {
                    binding,
                    reason: UnregisterReason::Expired,
                    ..
                } => {
                    expired.push((binding.contact.uri().to_bytes(), now - t0));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(
        expired,
        [
            (Bytes::from_static(b"sip:a@h1"), Duration::from_secs(60)),
            (Bytes::from_static(b"sip:a@h2"), Duration::from_secs(120)),
        ]
    );
    assert!(r.store().is_empty());
}

#[test]
fn path_is_stored_and_echoed() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let mut req = request(
        "c1",
        1,
        &[
            "Path: <sip:edge1.example.com;lr>, <sip:edge2.example.com;lr>",
            "Contact: <sip:a@h1>",
            "Supported: path",
        ],
    );
    let resp = r.handle_register(now, &req, flow(1));
    let paths: Vec<_> = resp.headers.get_all_bytes(&Known::Path.into()).collect();
    assert_eq!(
        paths,
        [
            Bytes::from_static(b"<sip:edge1.example.com;lr>"),
            Bytes::from_static(b"<sip:edge2.example.com;lr>")
        ]
    );
    assert_eq!(r.lookup(now, AOR)[0].path, paths);
    // Without Supported: path the Path is stored but not echoed.
    req = request(
        "c1",
        2,
        &["Path: <sip:edge1.example.com;lr>", "Contact: <sip:a@h1>"],
    );
    let resp = r.handle_register(now, &req, flow(1));
    assert!(!resp.headers.contains(&Known::Path.into()));
    assert_eq!(r.lookup(now, AOR)[0].path.len(), 1);
}

const INSTANCE: &str = "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>\"";

#[test]
fn outbound_flow_replaces_by_instance_and_reg_id() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let c1 = format!("Contact: <sip:a@192.0.2.4:5060;transport=tcp;ob>;reg-id=1;{INSTANCE}");
    let resp = r.handle_register(
        now,
        &request("c1", 1, &[&c1, "Supported: outbound, path"]),
        flow(5060),
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert!(
        resp.headers
            .typed_all::<Require>()
            .any(|t| t.unwrap().as_bytes() == b"outbound")
    );
    let b = &r.lookup(now, AOR)[0];
    assert_eq!(b.reg_id, Some(1));
    assert_eq!(
        b.instance.as_deref(),
        Some(&b"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"[..])
    );
    let _ = events(&mut r);
    // The UA reconnects from another port with a new Call-ID: same flow key,
    // the old binding is replaced.
    let c2 = format!("Contact: <sip:a@192.0.2.4:6000;transport=tcp;ob>;reg-id=1;{INSTANCE}");
    r.handle_register(
        now,
        &request("c2", 1, &[&c2, "Supported: outbound"]),
        flow(6000),
    );
    let found = r.lookup(now, AOR);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].source, flow(6000));
    assert!(matches!(
        &events(&mut r)[..],
        [
            RegistrarEvent::Unregistered {
                reason: UnregisterReason::Replaced,
                ..
            },
            RegistrarEvent::Registered { .. }
        ]
    ));
    // A second flow (reg-id 2) is a separate binding.
    let c3 = format!("Contact: <sip:a@192.0.2.4:6001;transport=tcp;ob>;reg-id=2;{INSTANCE}");
    r.handle_register(
        now,
        &request("c3", 1, &[&c3, "Supported: outbound"]),
        flow(6001),
    );
    assert_eq!(r.lookup(now, AOR).len(), 2);
    // Without Supported: outbound, reg-id is ignored: keyed by contact URI.
    let c4 = format!("Contact: <sip:a@192.0.2.4:6002>;reg-id=1;{INSTANCE}");
    let resp = r.handle_register(now, &request("c4", 1, &[&c4]), flow(6002));
    assert!(!resp.headers.contains(&Known::Require.into()));
    assert_eq!(r.lookup(now, AOR).len(), 3);
}

#[test]
fn outbound_errors() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    let c =
        format!("Contact: <sip:a@h1;ob>;reg-id=1;{INSTANCE}, <sip:a@h2;ob>;reg-id=2;{INSTANCE}");
    let resp = r.handle_register(
        now,
        &request("c1", 1, &[&c, "Supported: outbound"]),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    // Through a proxy (two Vias) without a Path carrying `ob`: 439.
    let c = format!("Contact: <sip:a@h1;ob>;reg-id=1;{INSTANCE}");
    let via = "Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bKp";
    let resp = r.handle_register(
        now,
        &request("c1", 1, &[via, &c, "Supported: outbound"]),
        flow(1),
    );
    assert_eq!(resp.status.as_u16(), 439);
    let path = "Path: <sip:proxy.example.com;lr;ob>";
    let resp = r.handle_register(
        now,
        &request("c1", 1, &[via, path, &c, "Supported: outbound"]),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::OK);
}

#[test]
fn max_contacts_is_403() {
    let mut r = registrar(RegistrarConfig::default().with_max_contacts(2));
    let now = Instant::now();
    let resp = r.handle_register(
        now,
        &request("c1", 1, &["Contact: <sip:a@h1>, <sip:a@h2>"]),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::OK);
    let resp = r.handle_register(now, &request("c2", 1, &["Contact: <sip:a@h3>"]), flow(1));
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
    assert_eq!(&resp.reason[..], b"Too Many Registered Contacts");
    // Swapping one for another in one request fits.
    let resp = r.handle_register(
        now,
        &request("c2", 2, &["Contact: <sip:a@h1>;expires=0, <sip:a@h3>"]),
        flow(1),
    );
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(r.store().len(), 2);
}

#[test]
fn aor_and_domain_checks() {
    let mut r = registrar(RegistrarConfig::default().with_domain("example.com"));
    let now = Instant::now();
    let mut req = request("c1", 1, &["Contact: <sip:a@h1>"]);
    assert_eq!(r.address_of_record(&req).unwrap(), Bytes::from_static(AOR));
    req.headers.set_typed(&To(crate::header::NameAddr::new(
        "sip:bob@other.org".parse().unwrap(),
    )));
    assert_eq!(
        r.handle_register(now, &req, flow(1)).status,
        StatusCode::NOT_FOUND
    );
    req.headers.set_typed(&To(crate::header::NameAddr::new(
        "tel:+15551234".parse().unwrap(),
    )));
    assert_eq!(
        r.handle_register(now, &req, flow(1)).status,
        StatusCode::NOT_FOUND
    );
    req.headers.set(Known::To.into(), "<<garbage");
    assert_eq!(
        r.handle_register(now, &req, flow(1)).status,
        StatusCode::BAD_REQUEST
    );
    let mut req = request("c1", 1, &["Contact: <sip:a@h1>"]);
    req.headers.remove(&Known::CallId.into());
    assert_eq!(
        r.handle_register(now, &req, flow(1)).status,
        StatusCode::BAD_REQUEST
    );
    let mut req = request("c1", 1, &["Contact: <sip:a@h1>"]);
    req.method = Method::Invite;
    assert_eq!(
        r.handle_register(now, &req, flow(1)).status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn config_is_validated() {
    assert!(RegistrarConfig::default().build().is_ok());
    let bad = [
        RegistrarConfig::default().with_min_expires(0),
        RegistrarConfig::default().with_max_expires(30),
        RegistrarConfig::default().with_default_expires(10),
        RegistrarConfig::default().with_max_expires(u32::MAX),
        RegistrarConfig::default().with_max_contacts(0),
        RegistrarConfig::default().with_domain(" "),
    ];
    for c in bad {
        assert!(c.clone().build().is_err(), "{c:?}");
    }
}

#[test]
fn memory_store_direct_use() {
    let mut r = registrar(RegistrarConfig::default());
    let now = Instant::now();
    r.handle_register(now, &request("c1", 1, &["Contact: <sip:a@h1>"]), flow(1));
    let b = r.lookup(now, AOR).remove(0);
    let mut store = MemoryLocationStore::with_max_bindings_per_aor(1);
    assert_eq!(store.upsert(b.clone()), Ok(None));
    assert_eq!(store.upsert(b.clone()), Ok(Some(b.clone())));
    let mut other = b.clone();
    other.contact = crate::header::NameAddr::new("sip:a@h2".parse().unwrap());
    assert_eq!(store.upsert(other), Err(StoreError::Full { limit: 1 }));
    assert_eq!(store.aors(), [Bytes::from_static(AOR)]);
    assert_eq!(store.remove(AOR, &b.key()), Some(b.clone()));
    assert!(store.is_empty() && store.aors().is_empty());
    store.upsert(b.clone()).unwrap();
    assert_eq!(store.remove_all(AOR).len(), 1);
    assert_eq!(store.len(), 0);
    let _ = CallId(Bytes::new());
    let _ = Expires(0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Hostile header values never panic, and the answer is a final status.
    #[test]
    fn hostile_values_never_panic(
        expires in "[0-9a-z;=\"<>*, -]{0,30}",
        contact_params in "[0-9a-zA-Z;=\".+:<>-]{0,40}",
        q in "[0-9.eE+-]{0,8}",
        reg in "[0-9a-z-]{0,12}",
        cseq in 0u32..(1 << 31),
        wildcard in any::<bool>(),
        advance in 0u64..100_000,
    ) {
        let mut r = registrar(RegistrarConfig::default().with_max_contacts(3));
        let t0 = Instant::now();
        let contact = if wildcard {
            "Contact: *".to_owned()
        } else {
            format!("Contact: <sip:a@h1>;q={q};reg-id={reg};{contact_params}, <sip:a@h2>;expires={expires}")
        };
        let expires_line = format!("Expires: {expires}");
        let raw_lines = [contact.as_str(), expires_line.as_str(), "Supported: outbound", "Path: <sip:p;ob>"];
        let req = {
            let mut req = request("c1", 1, &[]);
            for line in raw_lines {
                if let Some((n, v)) = line.split_once(": ") {
                    req.headers.push(crate::HeaderName::from_bytes(Bytes::copy_from_slice(n.as_bytes())), Bytes::copy_from_slice(v.as_bytes()));
                }
            }
            req.headers.set_first(&Known::CSeq.into(), format!("{cseq} REGISTER"));
            req
        };
        let resp = r.handle_register(t0, &req, flow(1));
        prop_assert!(resp.status.is_final());
        let later = t0 + Duration::from_secs(advance);
        r.handle_timeout(later);
        let _ = r.handle_register(later, &req, flow(2));
        while r.poll_event().is_some() {}
        prop_assert!(r.store().len() <= 3);
        if let Some(t) = r.poll_timeout() {
            prop_assert!(t <= later + Duration::from_secs(7200));
        }
    }
}
