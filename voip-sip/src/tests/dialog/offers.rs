//! Offers in a dialog: glare, hold and resume by re-INVITE, PRACK,
//! UPDATE in an early dialog, session timers and 422.

use super::*;

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
                Ok(Message::Request(r)) => r.headers.get_bytes(&Known::CSeq.into()).unwrap(),
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
        retry.headers.get(&Known::SessionExpires.into()).unwrap(),
        b"300"
    );
    assert_eq!(retry.headers.get(&Known::MinSe.into()).unwrap(), b"300");
    assert_eq!(sim.ua(0).session_timer(da).unwrap().interval, 300);
    assert_eq!(sim.ua(1).session_timer(db).unwrap().interval, 300);
    // the callee saw one call, not two
    assert!(!sim.has(1, |e| matches!(e, UaEvent::IncomingCall { .. })));
}

#[test]
fn a_second_reinvite_before_the_first_is_answered_gets_500_with_retry_after() {
    let mut sim = Sim::pair(43, Conditions::perfect());
    let (da, db) = sim.call(0, 1, secs(5));
    sim.wait(1, secs(1), |e| matches!(e, UaEvent::Acked { .. }));
    let now = sim.now;
    sim.ua(0).reinvite(now, da, Some(sdp("3"))).unwrap();
    let UaEvent::Reoffer { id, .. } =
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::Reoffer { .. }))
    else {
        unreachable!()
    };
    // the callee may not start its own while it owes an answer
    let now = sim.now;
    assert_eq!(
        sim.ua(1).reinvite(now, db, Some(sdp("4"))),
        Err(crate::ua::UaError::Pending)
    );
    // a second INVITE from the caller's side (forged: the UA refuses to send one)
    let d = sim.ua(0).dialog(da).unwrap().clone();
    let raw = format!(
        "INVITE sip:u1@192.0.2.2:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKsecond\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:u0@192.0.2.1:5060>;tag={}\r\n\
         To: <sip:u1@192.0.2.2:5060>;tag={}\r\n\
         Call-ID: {}\r\n\
         CSeq: {} INVITE\r\n\
         Contact: <sip:u0@192.0.2.1:5060>\r\n\
         Content-Length: 0\r\n\r\n",
        String::from_utf8_lossy(d.local_tag()),
        String::from_utf8_lossy(d.remote_tag()),
        String::from_utf8_lossy(d.call_id()),
        d.local_seq().unwrap() + 1,
    );
    let r = inject(&mut sim, 1, raw);
    assert_eq!(r.status, StatusCode::SERVER_INTERNAL_ERROR);
    let after: u32 = std::str::from_utf8(r.headers.get(&Known::RetryAfter.into()).unwrap())
        .unwrap()
        .parse()
        .unwrap();
    assert!(after <= 10);
    let now = sim.now;
    sim.ua(1)
        .respond(now, id, StatusCode::OK, Some(sdp("5")))
        .unwrap();
}

#[test]
fn an_update_offer_while_ours_is_outstanding_gets_491() {
    let mut sim = Sim::pair(44, Conditions::perfect());
    let (da, db) = sim.call(0, 1, secs(5));
    let now = sim.now;
    let ra = sim.ua(0).update(now, da, Some(sdp("a"))).unwrap();
    let rb = sim.ua(1).update(now, db, Some(sdp("b"))).unwrap();
    for (i, rid) in [(0, ra), (1, rb)] {
        // each side's first UPDATE meets the other's: 491 both ways, then
        // the retries go through
        let limit = sim.now + secs(10);
        loop {
            while let Some(pos) = sim.nodes.iter().position(|n| {
                n.events
                    .iter()
                    .any(|e| matches!(e, UaEvent::Reoffer { .. }))
            }) {
                let idx = sim.nodes[pos]
                    .events
                    .iter()
                    .position(|e| matches!(e, UaEvent::Reoffer { .. }))
                    .unwrap();
                let Some(UaEvent::Reoffer { id, .. }) = sim.nodes[pos].events.remove(idx) else {
                    unreachable!()
                };
                let now = sim.now;
                sim.ua(pos)
                    .respond(now, id, StatusCode::OK, Some(sdp("x")))
                    .unwrap();
            }
            if sim.has(i, |e| matches!(e, UaEvent::Response { request, status: StatusCode::OK, .. } if *request == rid)) {
                break;
            }
            assert!(sim.step(limit), "node {i}: no UPDATE went through");
        }
    }
    assert_eq!(sim.sent(0, |b| is_response(b, 491, "UPDATE")).len(), 1);
    assert_eq!(sim.sent(1, |b| is_response(b, 491, "UPDATE")).len(), 1);
}

#[test]
fn reinvite_without_offer_is_answered_in_the_ack() {
    let mut sim = Sim::pair(47, Conditions::perfect());
    let (da, db) = sim.call(0, 1, secs(5));
    let now = sim.now;
    let rid = sim.ua(0).reinvite(now, da, None).unwrap();
    let UaEvent::Reoffer { id, body, .. } =
        sim.wait(1, secs(1), |e| matches!(e, UaEvent::Reoffer { .. }))
    else {
        unreachable!()
    };
    assert_eq!(body, None);
    let now = sim.now;
    sim.ua(1)
        .respond(now, id, StatusCode::OK, Some(sdp("offer")))
        .unwrap();
    sim.wait(
        0,
        secs(1),
        |e| matches!(e, UaEvent::Response { request, .. } if *request == rid),
    );
    // retransmissions of the 2xx do not repeat the event
    sim.run_for(secs(2));
    assert!(!sim.has(0, |e| matches!(e, UaEvent::Response { .. })));
    let now = sim.now;
    sim.ua(0).ack(now, da, Some(sdp("answer"))).unwrap();
    let e = sim.wait(1, secs(1), |e| {
        matches!(e, UaEvent::Acked { body: Some(_), .. })
    });
    assert_eq!(
        e,
        UaEvent::Acked {
            dialog: db,
            body: Some(sdp("answer"))
        }
    );
}

/// PRACK, an early UPDATE and session refreshes over the hostile network.
#[test]
fn prack_update_and_refreshes_survive_loss() {
    for seed in 50..58 {
        let mut sim = Sim::new(
            seed,
            Conditions::hostile(),
            vec![
                config(0).session_timer(Some(300), 90),
                config(1).rel100(Rel100::Required).session_timer(None, 90),
            ],
        );
        let now = sim.now;
        let rid = sim
            .ua(0)
            .invite(now, Sim::options(0, 1).body(sdp("1")))
            .unwrap();
        let UaEvent::IncomingCall { dialog: db, .. } =
            sim.wait(1, secs(40), |e| matches!(e, UaEvent::IncomingCall { .. }))
        else {
            unreachable!()
        };
        let now = sim.now;
        sim.ua(1)
            .answer(now, db, StatusCode::SESSION_PROGRESS, Some(sdp("2")))
            .unwrap();
        let UaEvent::Ringing {
            dialog: Some(da), ..
        } = sim.wait(0, secs(40), |e| {
            matches!(
                e,
                UaEvent::Ringing {
                    dialog: Some(_),
                    ..
                }
            )
        })
        else {
            unreachable!()
        };
        sim.wait(1, secs(40), |e| matches!(e, UaEvent::PrackReceived { .. }));
        let now = sim.now;
        let up = sim.ua(0).update(now, da, Some(sdp("3"))).unwrap();
        let UaEvent::Reoffer { id, .. } =
            sim.wait(1, secs(40), |e| matches!(e, UaEvent::Reoffer { .. }))
        else {
            unreachable!()
        };
        let now = sim.now;
        sim.ua(1)
            .respond(now, id, StatusCode::OK, Some(sdp("4")))
            .unwrap();
        sim.wait(
            0,
            secs(40),
            |e| matches!(e, UaEvent::Response { request, .. } if *request == up),
        );
        let now = sim.now;
        sim.ua(1)
            .answer(now, db, StatusCode::OK, Some(sdp("4")))
            .unwrap();
        sim.wait(
            0,
            secs(40),
            |e| matches!(e, UaEvent::Answered { request, .. } if *request == rid),
        );
        // 20 minutes of refreshes every 150 s; nobody expires (with 90 s
        // the RFC leaves 15 s for a refresh to get through, too little for
        // 30% loss)
        sim.run_for(secs(1200));
        for i in [0, 1] {
            assert!(
                !sim.has(i, |e| matches!(e, UaEvent::Terminated { .. })),
                "seed {seed}: node {i} ended: {:?}",
                sim.nodes[i].events
            );
        }
        let refreshed = sim.nodes[1]
            .events
            .iter()
            .filter(|e| matches!(e, UaEvent::SessionRefreshed { .. }))
            .count();
        assert!(refreshed >= 7, "seed {seed}: {refreshed} refreshes");
        let now = sim.now;
        sim.ua(0).bye(now, da).unwrap();
        sim.wait(1, secs(70), terminated(db, TerminationCause::RemoteBye));
    }
}

#[test]
fn the_refresher_ends_the_session_when_its_refresh_times_out() {
    let mut sim = Sim::new(48, Conditions::perfect(), timer_configs(Some(120), 90));
    let (da, db) = sim.call(0, 1, secs(5));
    // the callee gets the refreshes, the caller never hears back
    sim.drop = Some(Box::new(|from, b| {
        from == 1 && is_response(b, 200, "UPDATE")
    }));
    let t0 = sim.now;
    sim.wait(
        0,
        secs(200),
        terminated(
            da,
            TerminationCause::RequestFailed(StatusCode::REQUEST_TIMEOUT),
        ),
    );
    // refresh at 60 s, Timer F 32 s later
    assert_eq!(sim.now - t0, secs(92));
    sim.wait(1, secs(1), terminated(db, TerminationCause::RemoteBye));
}
