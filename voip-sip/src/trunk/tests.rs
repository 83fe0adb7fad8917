use std::time::{Duration, Instant};

use voip_core::Rng;

use super::*;
use crate::header::Authorization;
use crate::message::{Known, Response, StatusCode};

fn config() -> RegistrationConfig {
    RegistrationConfig::new(
        "sip:carrier.example.com".parse().unwrap(),
        "sip:5551000@carrier.example.com".parse().unwrap(),
        "sip:5551000@192.0.2.1:5060".parse().unwrap(),
        "SIP/2.0/UDP 192.0.2.1:5060;rport",
    )
    .credentials("5551000", "secret")
    .expires(3600)
}

fn challenge(request: &Request) -> Response {
    let mut r = Response::for_request(request, StatusCode::UNAUTHORIZED).with_to_tag("c");
    r.headers.push(
        Known::WwwAuthenticate,
        r#"Digest realm="carrier", nonce="abc", algorithm=MD5, qop="auth""#,
    );
    r
}

fn ok(request: &Request, contact_expires: Option<u32>, expires: Option<u32>) -> Response {
    let mut r = Response::for_request(request, StatusCode::OK).with_to_tag("c");
    if let Some(e) = contact_expires {
        r.headers.push(
            Known::Contact,
            format!("<sip:5551000@192.0.2.1:5060>;expires={e}"),
        );
    }
    if let Some(e) = expires {
        r.headers.push(Known::Expires, e.to_string());
    }
    r
}

fn cseq(r: &Request) -> u32 {
    r.cseq().unwrap().unwrap().seq
}

#[test]
fn challenge_then_ok() {
    let now = Instant::now();
    let mut reg = Registration::new(config(), Rng::seeded(1));
    assert_eq!(reg.state(), RegistrationState::Unregistered);
    reg.start(now);
    assert_eq!(reg.state(), RegistrationState::Registering);
    let first = reg.poll_request().unwrap();
    assert!(reg.poll_request().is_none());
    assert!(!first.headers.contains(&Known::Authorization.into()));
    assert_eq!(first.headers.get(&Known::Expires.into()).unwrap(), b"3600");
    reg.handle_response(now, &challenge(&first));
    let second = reg.poll_request().expect("re-sent with credentials");
    assert_eq!(cseq(&second), cseq(&first) + 1);
    assert_eq!(second.call_id(), first.call_id());
    assert_eq!(
        second.from().unwrap().unwrap().tag(),
        first.from().unwrap().unwrap().tag()
    );
    let auth: Authorization = second.headers.typed().unwrap().unwrap();
    assert_eq!(auth.0.param("username"), Some(&b"5551000"[..]));
    // a new branch: the Via carries none, the transaction layer adds one
    assert!(second.via().unwrap().unwrap().branch().is_none());
    // a second challenge for the same attempt is a failure, not a loop
    let mut again = Registration::new(config(), Rng::seeded(1));
    again.start(now);
    let a = again.poll_request().unwrap();
    again.handle_response(now, &challenge(&a));
    let b = again.poll_request().unwrap();
    again.handle_response(now, &challenge(&b));
    assert!(again.poll_request().is_none());
    assert_eq!(
        again.state(),
        RegistrationState::Failed {
            retry_at: now + Duration::from_secs(30)
        }
    );

    reg.handle_response(now, &ok(&second, Some(600), Some(3600)));
    assert_eq!(
        reg.state(),
        RegistrationState::Registered {
            until: now + Duration::from_secs(600)
        }
    );
}

#[test]
fn refresh_at_half_the_granted_expiry() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(), Rng::seeded(2));
    reg.start(t0);
    let first = reg.poll_request().unwrap();
    // the carrier grants 120 s instead of 3600, in the Expires header only
    reg.handle_response(t0, &ok(&first, None, Some(120)));
    assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    reg.handle_timeout(t0 + Duration::from_secs(59));
    assert!(reg.poll_request().is_none());
    let t1 = t0 + Duration::from_secs(60);
    reg.handle_timeout(t1);
    let refresh = reg.poll_request().expect("refresh");
    assert_eq!(cseq(&refresh), cseq(&first) + 1);
    assert_eq!(refresh.call_id(), first.call_id());
    // still registered while the refresh is in flight
    assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
    // the refresh is challenged, answered, granted 60 s on the Contact
    reg.handle_response(t1, &challenge(&refresh));
    let with_auth = reg.poll_request().unwrap();
    reg.handle_response(t1, &ok(&with_auth, Some(60), Some(3600)));
    assert_eq!(
        reg.state(),
        RegistrationState::Registered {
            until: t1 + Duration::from_secs(60)
        }
    );
    assert_eq!(reg.poll_timeout(), Some(t1 + Duration::from_secs(30)));
}

#[test]
fn failures_back_off_doubling_up_to_the_cap() {
    let mut now = Instant::now();
    let mut reg = Registration::new(config(), Rng::seeded(3));
    reg.start(now);
    let mut delays = Vec::new();
    for round in 0..8 {
        let r = reg.poll_request().expect("an attempt");
        if round % 2 == 0 {
            let mut e = Response::for_request(&r, StatusCode::SERVICE_UNAVAILABLE);
            e.headers.push(Known::Server, "carrier");
            reg.handle_response(now, &e);
        } else {
            reg.handle_transaction_timeout(now);
        }
        let RegistrationState::Failed { retry_at } = reg.state() else {
            panic!("failed expected, got {:?}", reg.state());
        };
        assert_eq!(reg.poll_timeout(), Some(retry_at));
        delays.push((retry_at - now).as_secs());
        now = retry_at;
        reg.handle_timeout(now);
        assert_eq!(reg.state(), RegistrationState::Registering);
    }
    assert_eq!(delays, [30, 60, 120, 240, 480, 600, 600, 600]);
    // success resets the backoff
    let r = reg.poll_request().unwrap();
    reg.handle_response(now, &ok(&r, None, None));
    assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
    let t = reg.poll_timeout().unwrap();
    reg.handle_timeout(t);
    let r = reg.poll_request().unwrap();
    reg.handle_response(t, &Response::for_request(&r, StatusCode::FORBIDDEN));
    // the binding granted before (3600 s, as asked) is still valid
    assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
    assert_eq!(reg.poll_timeout(), Some(t + Duration::from_secs(30)));
}

#[test]
fn interval_too_brief_raises_the_expiry() {
    let now = Instant::now();
    let mut reg = Registration::new(config().expires(30), Rng::seeded(4));
    reg.start(now);
    let r = reg.poll_request().unwrap();
    let mut e = Response::for_request(&r, StatusCode::INTERVAL_TOO_BRIEF);
    e.headers.push(Known::MinExpires, "300");
    reg.handle_response(now, &e);
    let r = reg.poll_request().unwrap();
    assert_eq!(r.headers.get(&Known::Expires.into()).unwrap(), b"300");
}

#[test]
fn weird_responses_do_not_panic() {
    let now = Instant::now();
    let mut reg = Registration::new(config(), Rng::seeded(5));
    // before start: nothing outstanding
    reg.handle_response(now, &Response::new(StatusCode::OK));
    reg.handle_transaction_timeout(now);
    assert_eq!(reg.state(), RegistrationState::Unregistered);
    reg.start(now);
    let r = reg.poll_request().unwrap();
    // no headers at all, wrong CSeq, provisional: ignored
    reg.handle_response(now, &Response::new(StatusCode::OK));
    let mut stale = Response::for_request(&r, StatusCode::OK);
    stale.headers.set(Known::CSeq.into(), "999 REGISTER");
    reg.handle_response(now, &stale);
    reg.handle_response(now, &Response::for_request(&r, StatusCode::TRYING));
    assert_eq!(reg.state(), RegistrationState::Registering);
    // a challenge we cannot answer, garbage Contact and Expires, expires=0
    let mut bad = Response::for_request(&r, StatusCode::UNAUTHORIZED);
    bad.headers.push(Known::WwwAuthenticate, "Basic realm=x");
    reg.handle_response(now, &bad);
    assert!(matches!(reg.state(), RegistrationState::Failed { .. }));
    reg.handle_timeout(now + Duration::from_secs(30));
    let r = reg.poll_request().unwrap();
    let mut odd = Response::for_request(&r, StatusCode::OK);
    odd.headers.push(Known::Contact, "<<<;expires=abc");
    odd.headers.push(Known::Expires, "-5");
    reg.handle_response(now, &odd);
    assert!(matches!(reg.state(), RegistrationState::Registered { .. }));
    let t = reg.poll_timeout().unwrap();
    reg.handle_timeout(t);
    let r = reg.poll_request().unwrap();
    reg.handle_response(t, &ok(&r, Some(0), None));
    assert!(matches!(
        reg.state(),
        RegistrationState::Registered { .. } | RegistrationState::Failed { .. }
    ));
    // a response with a huge status class and no request outstanding
    reg.handle_response(t, &Response::new(StatusCode::new(699).unwrap()));
}
