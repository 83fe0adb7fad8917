//! B2BUA scenarios in virtual time: caller A — B2BUA M — callee B, over
//! the simulated network.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use voip_core::Rng;

use super::*;
use crate::tests::net::{Conditions, Net};
use crate::ua::{Body, InviteOptions, TerminationCause, Ua, UaConfig, UaEvent};

const A: usize = 0;
const M: usize = 1;
const B: usize = 2;

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1 + i as u8], 5060))
}

fn uri(i: usize) -> Uri {
    format!("sip:u{i}@{}", addr(i)).parse().unwrap()
}

fn ua(i: usize, seed: u64) -> Ua {
    Ua::new(
        UaConfig::new(addr(i), uri(i)).build().unwrap(),
        Rng::seeded(seed * 8 + i as u64),
    )
}

fn sdp(name: &str, direction: &str) -> Body {
    Body::sdp(Bytes::from(format!(
        "v=0\r\no={name} 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na={direction}\r\n"
    )))
}

struct Sim {
    net: Net,
    now: Instant,
    a: Ua,
    m: B2bua,
    b: Ua,
    a_events: VecDeque<UaEvent>,
    m_events: VecDeque<B2buaEvent>,
    b_events: VecDeque<UaEvent>,
}

impl Sim {
    fn new(seed: u64, conditions: Conditions) -> Self {
        Self {
            net: Net::new(seed, conditions),
            now: Instant::now(),
            a: ua(A, seed),
            m: B2bua::new(ua(M, seed)),
            b: ua(B, seed),
            a_events: VecDeque::new(),
            m_events: VecDeque::new(),
            b_events: VecDeque::new(),
        }
    }

    fn flush(&mut self) {
        let now = self.now;
        while let Some(t) = self.a.poll_transmit() {
            self.net.send(now, addr(A), t);
        }
        while let Some(t) = self.m.poll_transmit() {
            self.net.send(now, addr(M), t);
        }
        while let Some(t) = self.b.poll_transmit() {
            self.net.send(now, addr(B), t);
        }
        while let Some(e) = self.a.poll_event() {
            self.a_events.push_back(e);
        }
        while let Some(e) = self.m.poll_event() {
            self.m_events.push_back(e);
        }
        while let Some(e) = self.b.poll_event() {
            self.b_events.push_back(e);
        }
    }

    /// One step; false when nothing is due before `limit`.
    fn step(&mut self, limit: Instant) -> bool {
        self.flush();
        let next = [
            self.net.next_delivery(),
            self.a.poll_timeout(),
            self.m.poll_timeout(),
            self.b.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(at) = next.filter(|at| *at <= limit) else {
            return false;
        };
        self.now = self.now.max(at);
        let now = self.now;
        while let Some(rx) = self.net.deliver(now) {
            match rx.destination {
                d if d == addr(A) => self.a.handle_receive(now, rx),
                d if d == addr(M) => self.m.handle_receive(now, rx),
                d if d == addr(B) => self.b.handle_receive(now, rx),
                _ => {}
            }
        }
        self.a.handle_timeout(now);
        self.m.handle_timeout(now);
        self.b.handle_timeout(now);
        self.flush();
        true
    }

    fn run_for(&mut self, d: Duration) {
        let limit = self.now + d;
        while self.step(limit) {}
        self.now = self.now.max(limit);
    }

    fn wait_m(&mut self, within: Duration, f: impl Fn(&B2buaEvent) -> bool) -> B2buaEvent {
        let limit = self.now + within;
        loop {
            if let Some(i) = self.m_events.iter().position(&f) {
                return self.m_events.remove(i).unwrap();
            }
            assert!(
                self.step(limit),
                "B2BUA event not seen; have {:?}",
                self.m_events
            );
        }
    }

    fn wait_ua(&mut self, side: usize, within: Duration, f: impl Fn(&UaEvent) -> bool) -> UaEvent {
        let limit = self.now + within;
        loop {
            let q = if side == A {
                &mut self.a_events
            } else {
                &mut self.b_events
            };
            if let Some(i) = q.iter().position(&f) {
                return q.remove(i).unwrap();
            }
            let have = format!("{q:?}");
            assert!(self.step(limit), "UA {side} event not seen; have {have}");
        }
    }

    /// A calls M and M connects to B: returns A's INVITE, the bridge and
    /// B's (early) dialog.
    fn call_reaches_b(&mut self) -> (crate::ua::RequestId, BridgeId, crate::dialog::DialogId) {
        let now = self.now;
        let request = self
            .a
            .invite(
                now,
                InviteOptions::new(uri(A), uri(M)).body(sdp("a", "sendrecv")),
            )
            .unwrap();
        let B2buaEvent::Incoming { bridge, .. } =
            self.wait_m(secs(10), |e| matches!(e, B2buaEvent::Incoming { .. }))
        else {
            unreachable!()
        };
        let now = self.now;
        self.m
            .connect(
                now,
                bridge,
                InviteOptions::new(uri(M), uri(B)).body(sdp("m", "sendrecv")),
            )
            .unwrap();
        let UaEvent::IncomingCall { dialog: db, .. } =
            self.wait_ua(B, secs(10), |e| matches!(e, UaEvent::IncomingCall { .. }))
        else {
            unreachable!()
        };
        (request, bridge, db)
    }

    /// A calls M; M connects to B; B rings and answers; M answers A.
    /// Returns the bridge and the dialogs at A and B.
    fn bridged_call(&mut self) -> (BridgeId, crate::dialog::DialogId, crate::dialog::DialogId) {
        self.bridged_call_within(secs(10), true)
    }

    /// [`bridged_call`](Self::bridged_call) waiting up to `t` per step;
    /// `ringing`: check that the 180 crossed (unreliable under loss).
    fn bridged_call_within(
        &mut self,
        t: Duration,
        ringing: bool,
    ) -> (BridgeId, crate::dialog::DialogId, crate::dialog::DialogId) {
        let now = self.now;
        self.a
            .invite(
                now,
                InviteOptions::new(uri(A), uri(M)).body(sdp("a", "sendrecv")),
            )
            .unwrap();
        let B2buaEvent::Incoming { bridge, offer, .. } =
            self.wait_m(t, |e| matches!(e, B2buaEvent::Incoming { .. }))
        else {
            unreachable!()
        };
        assert!(offer.is_some_and(|o| o.data.starts_with(b"v=0\r\no=a ")));
        // the application anchors media: its own offer toward B
        let now = self.now;
        self.m
            .connect(
                now,
                bridge,
                InviteOptions::new(uri(M), uri(B)).body(sdp("m-to-b", "sendrecv")),
            )
            .unwrap();
        let UaEvent::IncomingCall {
            dialog: db,
            request,
            ..
        } = self.wait_ua(B, t, |e| matches!(e, UaEvent::IncomingCall { .. }))
        else {
            unreachable!()
        };
        assert!(request.body.starts_with(b"v=0\r\no=m-to-b "));
        let now = self.now;
        self.b.answer(now, db, StatusCode::RINGING, None).unwrap();
        if ringing {
            self.wait_m(t, |e| matches!(e, B2buaEvent::Ringing { .. }));
            self.wait_ua(
                A,
                t,
                |e| matches!(e, UaEvent::Ringing { status, .. } if *status == StatusCode::RINGING),
            );
        }
        let now = self.now;
        self.b
            .answer(now, db, StatusCode::OK, Some(sdp("b", "sendrecv")))
            .unwrap();
        let B2buaEvent::Answered { body, .. } =
            self.wait_m(t, |e| matches!(e, B2buaEvent::Answered { .. }))
        else {
            unreachable!()
        };
        assert!(body.is_some_and(|b| b.data.starts_with(b"v=0\r\no=b ")));
        let now = self.now;
        self.m
            .answer(now, bridge, Some(sdp("m-to-a", "sendrecv")))
            .unwrap();
        let UaEvent::Answered {
            dialog: da, body, ..
        } = self.wait_ua(A, t, |e| matches!(e, UaEvent::Answered { .. }))
        else {
            unreachable!()
        };
        assert!(body.is_some_and(|b| b.data.starts_with(b"v=0\r\no=m-to-a ")));
        self.wait_m(t, |e| matches!(e, B2buaEvent::Connected { .. }));
        (bridge, da, db)
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn a_bridged_call_hands_each_side_its_own_description_and_ends_both_legs() {
    let mut sim = Sim::new(1, Conditions::perfect());
    let (bridge, da, db) = sim.bridged_call();
    assert_eq!(sim.m.active(), 1);
    let now = sim.now;
    sim.a.bye(now, da).unwrap();
    let e = sim.wait_m(secs(10), |e| matches!(e, B2buaEvent::Ended { .. }));
    assert_eq!(
        e,
        B2buaEvent::Ended {
            bridge,
            by: Some(Side::A),
            cause: EndCause::Bye
        }
    );
    sim.wait_ua(B, secs(10), |e| {
        *e == UaEvent::Terminated {
            dialog: db,
            cause: TerminationCause::RemoteBye,
        }
    });
    assert_eq!(sim.m.active(), 0);
}

#[test]
fn bridged_calls_survive_loss_and_reordering() {
    for seed in 10..14 {
        let mut sim = Sim::new(seed, Conditions::hostile());
        let (_, _, db) = sim.bridged_call_within(secs(64), false);
        let now = sim.now;
        sim.b.bye(now, db).unwrap();
        sim.wait_m(secs(60), |e| {
            matches!(
                e,
                B2buaEvent::Ended {
                    by: Some(Side::B),
                    cause: EndCause::Bye,
                    ..
                }
            )
        });
        sim.wait_ua(A, secs(60), |e| {
            matches!(
                e,
                UaEvent::Terminated {
                    cause: TerminationCause::RemoteBye,
                    ..
                }
            )
        });
    }
}

#[test]
fn a_failed_b_leg_is_the_applications_choice_then_rejected() {
    let mut sim = Sim::new(2, Conditions::perfect());
    let (_, bridge, db) = sim.call_reaches_b();
    let now = sim.now;
    sim.b.answer(now, db, StatusCode::BUSY_HERE, None).unwrap();
    let e = sim.wait_m(secs(10), |e| matches!(e, B2buaEvent::Failed { .. }));
    assert_eq!(
        e,
        B2buaEvent::Failed {
            bridge,
            status: StatusCode::BUSY_HERE
        }
    );
    let now = sim.now;
    sim.m.reject(now, bridge, StatusCode::BUSY_HERE).unwrap();
    sim.wait_ua(
        A,
        secs(10),
        |e| matches!(e, UaEvent::CallFailed { status, .. } if *status == StatusCode::BUSY_HERE),
    );
    sim.wait_m(secs(1), |e| {
        matches!(e, B2buaEvent::Ended { cause: EndCause::Rejected(s), .. } if *s == StatusCode::BUSY_HERE)
    });
}

#[test]
fn hold_is_reported_and_the_reoffer_crosses_with_the_applications_descriptions() {
    let mut sim = Sim::new(3, Conditions::perfect());
    let (bridge, da, _) = sim.bridged_call();
    let now = sim.now;
    sim.a
        .reinvite(now, da, Some(sdp("a2", "sendonly")))
        .unwrap();
    sim.wait_m(secs(10), |e| {
        *e == B2buaEvent::Held {
            bridge,
            by: Side::A,
        }
    });
    let e = sim.wait_m(secs(10), |e| matches!(e, B2buaEvent::Reoffer { .. }));
    assert!(matches!(
        e,
        B2buaEvent::Reoffer {
            from: Side::A,
            method: Method::Invite,
            ..
        }
    ));
    let now = sim.now;
    sim.m
        .forward_reoffer(now, bridge, Some(sdp("m2", "sendonly")))
        .unwrap();
    let UaEvent::Reoffer { id, body, .. } =
        sim.wait_ua(B, secs(10), |e| matches!(e, UaEvent::Reoffer { .. }))
    else {
        unreachable!()
    };
    assert!(body.is_some_and(|b| b.data.starts_with(b"v=0\r\no=m2 ")));
    let now = sim.now;
    sim.b
        .respond(now, id, StatusCode::OK, Some(sdp("b2", "recvonly")))
        .unwrap();
    let e = sim.wait_m(secs(10), |e| {
        matches!(e, B2buaEvent::ReofferAnswered { .. })
    });
    assert!(matches!(
        e,
        B2buaEvent::ReofferAnswered {
            to: Side::A,
            status: StatusCode::OK,
            body: Some(_),
            ..
        }
    ));
    let now = sim.now;
    sim.m
        .answer_reoffer(now, bridge, StatusCode::OK, Some(sdp("m3", "recvonly")))
        .unwrap();
    sim.wait_ua(
        A,
        secs(10),
        |e| matches!(e, UaEvent::Response { status, .. } if *status == StatusCode::OK),
    );
    // resume
    let now = sim.now;
    sim.a
        .reinvite(now, da, Some(sdp("a3", "sendrecv")))
        .unwrap();
    sim.wait_m(secs(10), |e| {
        *e == B2buaEvent::Resumed {
            bridge,
            by: Side::A,
        }
    });
}

#[test]
fn info_is_relayed_to_the_other_leg() {
    let mut sim = Sim::new(4, Conditions::perfect());
    let (_, da, db) = sim.bridged_call();
    let now = sim.now;
    sim.a
        .info(
            now,
            da,
            Body::new(
                Bytes::from_static(b"application/dtmf-relay"),
                Bytes::from_static(b"Signal=1\r\nDuration=160\r\n"),
            ),
        )
        .unwrap();
    let e = sim.wait_ua(B, secs(10), |e| matches!(e, UaEvent::Info { .. }));
    let UaEvent::Info {
        dialog, request, ..
    } = e
    else {
        unreachable!()
    };
    assert_eq!(dialog, db);
    assert_eq!(&request.body[..], b"Signal=1\r\nDuration=160\r\n");
    sim.wait_ua(
        A,
        secs(10),
        |e| matches!(e, UaEvent::Response { status, .. } if *status == StatusCode::OK),
    );
}

#[test]
fn a_cancel_from_a_cancels_b() {
    let mut sim = Sim::new(5, Conditions::perfect());
    let (request, _, db) = sim.call_reaches_b();
    let now = sim.now;
    sim.b.answer(now, db, StatusCode::RINGING, None).unwrap();
    sim.wait_ua(A, secs(10), |e| matches!(e, UaEvent::Ringing { .. }));
    let now = sim.now;
    sim.a.cancel(now, request).unwrap();
    sim.wait_m(secs(10), |e| {
        matches!(
            e,
            B2buaEvent::Ended {
                by: Some(Side::A),
                cause: EndCause::Cancelled,
                ..
            }
        )
    });
    sim.wait_ua(B, secs(10), |e| {
        matches!(
            e,
            UaEvent::Terminated {
                cause: TerminationCause::Cancelled,
                ..
            }
        )
    });
    sim.run_for(secs(40));
    assert_eq!(sim.m.active(), 0);
}

#[test]
fn hold_detection() {
    assert!(is_hold(b"v=0\r\na=sendonly\r\n"));
    assert!(is_hold(b"v=0\r\nc=IN IP4 0.0.0.0\r\n"));
    assert!(is_hold(b"v=0\na=inactive\n"));
    assert!(!is_hold(b"v=0\r\na=sendrecv\r\n"));
}
