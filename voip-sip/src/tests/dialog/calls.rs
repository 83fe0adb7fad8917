//! Calls: set-up and tear-down under loss, CANCEL, forking, 2xx
//! reliability, dialog matching (481, 500), digest challenges.

use super::*;

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
    let mut b = Ua::new(config(0).credentials("alice", "secret"), Rng::seeded(1));
    b.invite(now, Sim::options(0, 1).body(sdp("1"))).unwrap();
    a.handle_receive(now, challenge(&retry));
    let failed = std::iter::from_fn(|| a.poll_event())
        .find(|e| matches!(e, UaEvent::CallFailed { .. }))
        .unwrap();
    assert!(matches!(
        failed,
        UaEvent::CallFailed { request, status: StatusCode::PROXY_AUTHENTICATION_REQUIRED, .. } if request == rid
    ));
    // the ACK of a 2xx to the authorized INVITE carries its credentials
    let first = b.poll_transmit().unwrap();
    let Ok(Message::Request(invite)) = parse_message(first.contents, &ParseConfig::default())
    else {
        panic!()
    };
    b.handle_receive(now, challenge(&invite));
    let retry = std::iter::from_fn(|| b.poll_transmit())
        .filter_map(
            |t| match parse_message(t.contents, &ParseConfig::default()) {
                Ok(Message::Request(r)) if r.method == Method::Invite => Some(r),
                _ => None,
            },
        )
        .next()
        .unwrap();
    let mut ok = Response::for_request(&retry, StatusCode::OK).with_to_tag("callee");
    ok.headers.push(Known::Contact, "<sip:u1@192.0.2.2:5060>");
    b.handle_receive(
        now,
        Receive {
            protocol: TransportProtocol::Udp,
            source: addr(1),
            destination: addr(0),
            connection: None,
            contents: ok.to_bytes(),
        },
    );
    let ack = std::iter::from_fn(|| b.poll_transmit())
        .filter_map(
            |t| match parse_message(t.contents, &ParseConfig::default()) {
                Ok(Message::Request(r)) if r.method == Method::Ack => Some(r),
                _ => None,
            },
        )
        .next()
        .expect("the ACK");
    assert_eq!(
        ack.headers.get(&Known::ProxyAuthorization.into()),
        retry.headers.get(&Known::ProxyAuthorization.into())
    );
}

#[test]
fn late_offer_is_answered_in_the_ack() {
    let mut sim = Sim::pair(40, Conditions::perfect());
    let now = sim.now;
    // no offer in the INVITE: the 2xx carries it, the ACK the answer
    let rid = sim.ua(0).invite(now, Sim::options(0, 1)).unwrap();
    let UaEvent::IncomingCall {
        dialog: db,
        request,
        ..
    } = sim.wait(1, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        unreachable!()
    };
    assert!(request.body.is_empty());
    let now = sim.now;
    sim.ua(1)
        .answer(now, db, StatusCode::OK, Some(sdp("offer")))
        .unwrap();
    let UaEvent::Answered {
        dialog: da,
        body,
        ack_pending,
        ..
    } = sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Answered { request, .. } if *request == rid),
    )
    else {
        unreachable!()
    };
    assert!(ack_pending);
    assert_eq!(body, Some(sdp("offer")));
    // the 2xx retransmissions wait for the application
    sim.run_for(secs(2));
    assert!(sim.sent(0, |b| is_request(b, "ACK")).is_empty());
    assert!(sim.sent(1, |b| is_response(b, 200, "INVITE")).len() >= 2);
    let now = sim.now;
    sim.ua(0).ack(now, da, Some(sdp("answer"))).unwrap();
    assert!(sim.ua(0).ack(now, da, None).is_err());
    let e = sim.wait(1, secs(1), |e| matches!(e, UaEvent::Acked { .. }));
    assert_eq!(
        e,
        UaEvent::Acked {
            dialog: db,
            body: Some(sdp("answer"))
        }
    );
}

#[test]
fn bye_before_the_late_offer_ack_sends_the_ack_first() {
    let mut sim = Sim::pair(41, Conditions::perfect());
    let now = sim.now;
    sim.ua(0).invite(now, Sim::options(0, 1)).unwrap();
    let UaEvent::IncomingCall { dialog: db, .. } =
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::IncomingCall { .. }))
    else {
        unreachable!()
    };
    let now = sim.now;
    sim.ua(1)
        .answer(now, db, StatusCode::OK, Some(sdp("offer")))
        .unwrap();
    let UaEvent::Answered { dialog: da, .. } =
        sim.wait(0, secs(1), |e| matches!(e, UaEvent::Answered { .. }))
    else {
        unreachable!()
    };
    let now = sim.now;
    sim.ua(0).bye(now, da).unwrap();
    sim.wait(1, secs(1), |e| matches!(e, UaEvent::Acked { .. }));
    sim.wait(1, secs(1), terminated(db, TerminationCause::RemoteBye));
}

#[test]
fn a_merged_request_gets_482() {
    let mut sim = Sim::pair(42, Conditions::perfect());
    let invite = |branch: &str| {
        format!(
            "INVITE sip:u1@192.0.2.2:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:u0@192.0.2.1:5060>;tag=merged\r\n\
             To: <sip:u1@192.0.2.2:5060>\r\n\
             Call-ID: merged-call\r\n\
             CSeq: 7 INVITE\r\n\
             Contact: <sip:u0@192.0.2.1:5060>\r\n\
             Content-Length: 0\r\n\r\n"
        )
    };
    let now = sim.now;
    sim.ua(1).handle_receive(now, datagram(1, invite("one")));
    assert!(matches!(
        sim.ua(1).poll_event(),
        Some(UaEvent::IncomingCall { .. })
    ));
    while sim.ua(1).poll_transmit().is_some() {}
    // the same request, forked back to us over another path
    let r = inject(&mut sim, 1, invite("two"));
    assert_eq!(r.status, StatusCode::LOOP_DETECTED);
    assert!(sim.ua(1).poll_event().is_none());
}

/// Through a Record-Routing stateful proxy: both route sets hold it, and
/// the ACK and the BYEs of both sides go through it (loose routing).
#[test]
fn record_route_makes_in_dialog_requests_go_through_the_proxy() {
    for conditions in [Conditions::perfect(), Conditions::hostile()] {
        let mut sim = Sim::new(45, conditions, vec![config(0), config(1), config(2)]);
        sim.make_proxy(1, 2);
        let now = sim.now;
        let rid = sim
            .ua(0)
            .invite(now, Sim::options(0, 1).body(sdp("1")))
            .unwrap();
        let UaEvent::IncomingCall { dialog: db, .. } =
            sim.wait(2, secs(40), |e| matches!(e, UaEvent::IncomingCall { .. }))
        else {
            unreachable!()
        };
        let now = sim.now;
        sim.ua(2)
            .answer(now, db, StatusCode::OK, Some(sdp("2")))
            .unwrap();
        let UaEvent::Answered { dialog: da, .. } = sim.wait(
            0,
            secs(40),
            |e| matches!(e, UaEvent::Answered { request, .. } if *request == rid),
        ) else {
            unreachable!()
        };
        let (ra, rb) = (
            sim.ua(0).dialog(da).unwrap().route_set().to_vec(),
            sim.ua(2).dialog(db).unwrap().route_set().to_vec(),
        );
        // the UAC's route set is the UAS's reversed (the proxy may record
        // itself twice)
        assert!(!ra.is_empty());
        let mut reversed = rb.clone();
        reversed.reverse();
        assert_eq!(ra, reversed);
        assert!(
            ra.iter().all(|r| r.uri().to_string().contains("192.0.2.2")),
            "{ra:?}"
        );
        assert_eq!(
            sim.ua(2).dialog(db).unwrap().remote_target().to_string(),
            "sip:u0@192.0.2.1:5060"
        );
        sim.run_for(secs(2));
        // the callee's BYE goes to the proxy, which loose-routes it on
        let now = sim.now;
        sim.ua(2).bye(now, db).unwrap();
        sim.wait(0, secs(60), terminated(da, TerminationCause::RemoteBye));
        assert!(!sim.sent(1, |b| is_request(b, "ACK")).is_empty());
        assert!(!sim.sent(1, |b| is_request(b, "BYE")).is_empty());
        // the UAs sent their ACK and BYE to the proxy (its Route), not to
        // each other
        for (i, method) in [(0usize, "ACK"), (2, "BYE")] {
            let routed = sim.nodes[i]
                .sent
                .iter()
                .filter(|(_, b)| is_request(b, method))
                .all(|(_, b)| String::from_utf8_lossy(b).contains("@192.0.2.2:5060;lr>\r\n"));
            assert!(
                routed,
                "node {i}: {method} without the proxy's Route: {:?}",
                sim.nodes[i]
                    .sent
                    .iter()
                    .filter(|(_, b)| is_request(b, method))
                    .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
                    .collect::<Vec<_>>()
            );
        }
    }
}

#[test]
fn a_2xx_that_crosses_the_cancel_is_acked_and_byed() {
    let mut sim = Sim::pair(46, Conditions::perfect());
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
    sim.wait(0, secs(1), |e| matches!(e, UaEvent::Ringing { .. }));
    // CANCEL and 200 leave at the same instant
    let now = sim.now;
    sim.ua(0).cancel(now, rid).unwrap();
    sim.ua(1)
        .answer(now, db, StatusCode::OK, Some(sdp("2")))
        .unwrap();
    let e = sim.wait(0, secs(1), |e| matches!(e, UaEvent::CallFailed { .. }));
    assert!(matches!(
        e,
        UaEvent::CallFailed {
            status: StatusCode::REQUEST_TERMINATED,
            response: None,
            ..
        }
    ));
    assert!(!sim.has(0, |e| matches!(e, UaEvent::Answered { .. })));
    // the callee's 2xx was ACKed, then the call hung up
    sim.wait(1, secs(1), |e| matches!(e, UaEvent::Acked { .. }));
    sim.wait(1, secs(1), terminated(db, TerminationCause::RemoteBye));
}
