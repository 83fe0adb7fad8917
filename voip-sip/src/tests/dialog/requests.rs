//! INFO, MESSAGE, OPTIONS and transfers (REFER, NOTIFY, Replaces).

use super::*;

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
    assert_eq!(referred_by.uri(), &Sim::uri(0));
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
