use super::*;

/// RFC 2617 §3.5.
#[test]
fn rfc2617_md5_vector() {
    let ha1 = Algorithm::Md5.ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
    let r = response_hex(
        Algorithm::Md5,
        &ha1,
        &DigestInput {
            nonce: b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: b"GET",
            uri: b"/dir/index.html",
            qop_auth: Some((b"00000001", b"0a4f113b")),
        },
    );
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");
}

/// RFC 7616 §3.9.1.
#[test]
fn rfc7616_sha256_vector() {
    let ha1 = Algorithm::Sha256.ha1("Mufasa", "http-auth@example.org", "Circle of Life");
    let r = response_hex(
        Algorithm::Sha256,
        &ha1,
        &DigestInput {
            nonce: b"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
            method: b"GET",
            uri: b"/dir/index.html",
            qop_auth: Some((b"00000001", b"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")),
        },
    );
    assert_eq!(
        r,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

#[test]
fn ha1_credential_matches_password() {
    let p = Credential::Password("pw".into());
    let h = Credential::Ha1 {
        md5: Some(Algorithm::Md5.ha1("u", "r", "pw").to_ascii_uppercase()),
        sha256: None,
    };
    assert_eq!(
        p.ha1(Algorithm::Md5, "u", "r"),
        h.ha1(Algorithm::Md5, "u", "r")
    );
    assert_eq!(h.ha1(Algorithm::Sha256, "u", "r"), None);
    assert_eq!(format!("{p:?}"), "Password(..)");
}

// ---- server and client round trips, in virtual time ----

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use proptest::prelude::*;
use voip_core::Rng;

use crate::header::{Authorization, ProxyAuthenticate, WwwAuthenticate};
use crate::{Known, Message, ParseConfig, Request, Response, parse_message};

const REALM: &str = "example.com";

fn t(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
}

fn register() -> Request {
    let raw = Bytes::from_static(
        b"REGISTER sip:example.com SIP/2.0\r\n\
          Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK776asdhds\r\n\
          Max-Forwards: 70\r\n\
          To: <sip:alice@example.com>\r\n\
          From: <sip:alice@example.com>;tag=456248\r\n\
          Call-ID: 843817637684230@998sdasdh09\r\n\
          CSeq: 1826 REGISTER\r\n\
          Content-Length: 0\r\n\r\n",
    );
    match parse_message(raw, &ParseConfig::default()) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn server(config: AuthConfig) -> DigestAuthenticator {
    DigestAuthenticator::new(config.realm(REALM).build().unwrap(), Rng::seeded(7))
}

fn store() -> MemoryCredentials {
    MemoryCredentials::new().with_password("alice", "secret")
}

fn challenge_of(outcome: AuthOutcome) -> Response {
    match outcome {
        AuthOutcome::Challenge(r) => r,
        other => panic!("expected a challenge, got {other:?}"),
    }
}

/// The request answered with `user`/`password` to a fresh challenge.
fn answered(s: &mut DigestAuthenticator, now: SystemTime, user: &str, password: &str) -> Request {
    let mut req = register();
    let ch = challenge_of(s.check(now, ip(10), &req, &store()));
    authorize(&mut req, &ch, user, password, &mut Rng::seeded(3)).unwrap();
    req
}

fn www(r: &Response) -> Vec<WwwAuthenticate> {
    r.headers
        .typed_all::<WwwAuthenticate>()
        .map(Result::unwrap)
        .collect()
}

/// Header names in order and, per challenge, parameter names in order.
fn shape(r: &Response) -> (u16, Vec<String>, Vec<Vec<String>>) {
    let names = r
        .headers
        .iter()
        .map(|h| String::from_utf8_lossy(h.name.as_bytes()).into_owned())
        .collect();
    let params = www(r)
        .iter()
        .map(|c| {
            c.params
                .iter()
                .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                .collect()
        })
        .collect();
    (r.status.as_u16(), names, params)
}

#[test]
fn challenge_offers_sha256_then_md5() {
    let mut s = server(AuthConfig::default());
    let ch = challenge_of(s.check(t(0), ip(10), &register(), &store()));
    assert_eq!(ch.status.as_u16(), 401);
    let c = www(&ch);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].param("algorithm"), Some(&b"SHA-256"[..]));
    assert_eq!(c[1].param("algorithm"), Some(&b"MD5"[..]));
    assert_eq!(c[0].param("realm"), Some(REALM.as_bytes()));
    assert_eq!(c[0].param("qop"), Some(&b"auth"[..]));
    assert_eq!(c[0].param("stale"), None);
    assert_eq!(c[0].param("nonce").map(<[u8]>::len), Some(64));
    assert!(ch.headers.contains(&Known::CallId.into()));
    assert_eq!(s.stats().challenges, 1);
}

#[test]
fn round_trip_sha256_and_md5() {
    for (algs, expect) in [
        (vec![Algorithm::Sha256, Algorithm::Md5], &b"SHA-256"[..]),
        (vec![Algorithm::Md5], &b"MD5"[..]),
    ] {
        let mut s = server(AuthConfig::default().algorithms(&algs));
        let req = answered(&mut s, t(0), "alice", "secret");
        let a = req.headers.typed::<Authorization>().unwrap().unwrap();
        assert_eq!(a.param("algorithm"), Some(expect));
        assert_eq!(a.param("nc"), Some(&b"00000001"[..]));
        assert_eq!(
            s.check(t(1), ip(10), &req, &store()),
            AuthOutcome::Authenticated {
                username: "alice".into()
            }
        );
        assert_eq!(s.stats().successes, 1);
    }
}

#[test]
fn proxy_mode_uses_407_and_proxy_headers() {
    let mut s = server(AuthConfig::default().proxy(true));
    let mut req = register();
    let ch = challenge_of(s.check(t(0), ip(10), &req, &store()));
    assert_eq!(ch.status.as_u16(), 407);
    assert_eq!(ch.headers.typed_all::<ProxyAuthenticate>().count(), 2);
    authorize(&mut req, &ch, "alice", "secret", &mut Rng::seeded(1)).unwrap();
    assert!(req.headers.typed::<Authorization>().is_none());
    assert!(matches!(
        s.check(t(0), ip(10), &req, &store()),
        AuthOutcome::Authenticated { .. }
    ));
}

#[test]
fn credential_closure_and_ha1() {
    let mut s = server(AuthConfig::default());
    let req = answered(&mut s, t(0), "alice", "secret");
    let ha1 = Algorithm::Sha256.ha1("alice", REALM, "secret");
    let by_ha1 = move |_: &str, user: &str| {
        (user == "alice").then(|| Credential::Ha1 {
            md5: None,
            sha256: Some(ha1.clone()),
        })
    };
    assert!(matches!(
        s.check(t(0), ip(10), &req, &by_ha1),
        AuthOutcome::Authenticated { .. }
    ));
}

#[test]
fn wrong_password_and_unknown_user_look_the_same() {
    let mut s = server(AuthConfig::default());
    let wrong = answered(&mut s, t(0), "alice", "guess");
    let unknown = answered(&mut s, t(0), "mallory", "secret");
    let a = challenge_of(s.check(t(1), ip(10), &wrong, &store()));
    let b = challenge_of(s.check(t(1), ip(10), &unknown, &store()));
    assert_eq!(shape(&a), shape(&b));
    assert_eq!(a.status.as_u16(), 401);
    assert_eq!(www(&a)[0].param("stale"), None);
    assert_eq!(s.stats().failures, 2);
}

#[test]
fn stale_nonce_with_right_password() {
    let mut s = server(AuthConfig::default());
    let req = answered(&mut s, t(0), "alice", "secret");
    let ch = challenge_of(s.check(t(301), ip(10), &req, &store()));
    assert!(
        www(&ch)
            .iter()
            .all(|c| c.param("stale") == Some(&b"true"[..]))
    );
    assert_eq!(s.stats().failures, 0);
    // a wrong password on a stale nonce is just a failure, never stale
    let req = answered(&mut s, t(0), "alice", "guess");
    let ch = challenge_of(s.check(t(301), ip(10), &req, &store()));
    assert!(www(&ch).iter().all(|c| c.param("stale").is_none()));
    assert_eq!(s.stats().failures, 1);
}

#[test]
fn forged_nonce_gets_a_plain_challenge() {
    let mut s = server(AuthConfig::default());
    let mut req = register();
    let mut ch = challenge_of(s.check(t(0), ip(10), &req, &store()));
    // flip one hex digit of the MAC in every challenge
    let mut forged = Vec::new();
    for c in www(&ch) {
        let mut nonce = c.param("nonce").unwrap().to_vec();
        let last = nonce.len() - 1;
        nonce[last] = if nonce[last] == b'0' { b'1' } else { b'0' };
        let mut p = crate::header::AuthParams::digest();
        p.push_quoted("realm", REALM.as_bytes());
        p.push_quoted("nonce", &nonce);
        p.push_token("algorithm", c.param("algorithm").unwrap());
        p.push_quoted("qop", b"auth");
        forged.push(WwwAuthenticate(p));
    }
    ch.headers.remove(&Known::WwwAuthenticate.into());
    for f in &forged {
        ch.headers.push_typed(f);
    }
    authorize(&mut req, &ch, "alice", "secret", &mut Rng::seeded(1)).unwrap();
    let again = challenge_of(s.check(t(1), ip(10), &req, &store()));
    assert!(www(&again).iter().all(|c| c.param("stale").is_none()));
    // a nonce from another server (other secret) is not ours either
    let mut other = DigestAuthenticator::new(
        AuthConfig::default().realm(REALM).build().unwrap(),
        Rng::seeded(99),
    );
    let req = answered(&mut other, t(0), "alice", "secret");
    assert!(matches!(
        s.check(t(1), ip(10), &req, &store()),
        AuthOutcome::Challenge(_)
    ));
    assert_eq!(s.stats().failures, 0);
}

#[test]
fn nonce_count_must_increase() {
    let mut s = server(AuthConfig::default());
    let mut req = register();
    let ch = challenge_of(s.check(t(0), ip(10), &req, &store()));
    let mut client = ClientAuthState::new();
    let mut rng = Rng::seeded(5);
    client
        .authorize(&mut req, &ch, "alice", "secret", &mut rng)
        .unwrap();
    let first = req.clone();
    assert!(matches!(
        s.check(t(1), ip(10), &req, &store()),
        AuthOutcome::Authenticated { .. }
    ));
    // the same credentials again: a replay
    assert!(matches!(
        s.check(t(2), ip(10), &first, &store()),
        AuthOutcome::Challenge(_)
    ));
    // the client reuses the nonce with nc=2: accepted
    client
        .authorize(&mut req, &ch, "alice", "secret", &mut rng)
        .unwrap();
    let a = req.headers.typed::<Authorization>().unwrap().unwrap();
    assert_eq!(a.param("nc"), Some(&b"00000002"[..]));
    assert_eq!(req.headers.typed_all::<Authorization>().count(), 1);
    assert!(matches!(
        s.check(t(3), ip(10), &req, &store()),
        AuthOutcome::Authenticated { .. }
    ));
    assert!(matches!(
        s.check(t(3), ip(10), &req, &store()),
        AuthOutcome::Challenge(_)
    ));
}

#[test]
fn failures_ban_then_expire_per_source() {
    let mut s = server(
        AuthConfig::default()
            .max_failures(3)
            .failure_window(Duration::from_secs(60))
            .ban_duration(Duration::from_secs(600)),
    );
    let bad = answered(&mut s, t(0), "alice", "guess");
    let good = answered(&mut s, t(0), "alice", "secret");
    assert!(matches!(
        s.check(t(1), ip(66), &bad, &store()),
        AuthOutcome::Challenge(_)
    ));
    assert!(matches!(
        s.check(t(2), ip(66), &bad, &store()),
        AuthOutcome::Challenge(_)
    ));
    match s.check(t(3), ip(66), &bad, &store()) {
        AuthOutcome::Forbidden(r) => assert_eq!(r.status.as_u16(), 403),
        other => panic!("{other:?}"),
    }
    // banned: even the right password does nothing
    assert_eq!(s.check(t(4), ip(66), &good, &store()), AuthOutcome::Banned);
    assert_eq!(
        s.check(t(602), ip(66), &register(), &store()),
        AuthOutcome::Banned
    );
    assert!(s.is_banned(t(602), ip(66)));
    let st = s.stats();
    assert_eq!((st.failures, st.bans_active, st.banned_requests), (3, 1, 2));
    // another source is unaffected
    assert!(matches!(
        s.check(t(5), ip(10), &good, &store()),
        AuthOutcome::Authenticated { .. }
    ));
    // after the ban
    assert!(!s.is_banned(t(603), ip(66)));
    let good = answered(&mut s, t(603), "alice", "secret");
    assert!(matches!(
        s.check(t(604), ip(66), &good, &store()),
        AuthOutcome::Authenticated { .. }
    ));
    s.sweep(t(700));
    assert_eq!(s.stats().bans_active, 0);
}

#[test]
fn failures_outside_the_window_do_not_add_up() {
    let mut s = server(AuthConfig::default().max_failures(2));
    let bad = answered(&mut s, t(0), "alice", "guess");
    assert!(matches!(
        s.check(t(1), ip(66), &bad, &store()),
        AuthOutcome::Challenge(_)
    ));
    assert!(matches!(
        s.check(t(100), ip(66), &bad, &store()),
        AuthOutcome::Challenge(_)
    ));
    assert!(matches!(
        s.check(t(101), ip(66), &bad, &store()),
        AuthOutcome::Forbidden(_)
    ));
}

#[test]
fn tracking_is_bounded() {
    let mut s = server(
        AuthConfig::default()
            .max_tracked_sources(8)
            .max_failures(100),
    );
    let bad = answered(&mut s, t(0), "alice", "guess");
    for i in 0..=255u8 {
        let _ = s.check(t(1), ip(i), &bad, &store());
    }
    assert!(format!("{s:?}").contains("tracked_sources: 8"));
}

#[test]
fn malformed_credentials_get_400() {
    let mut s = server(AuthConfig::default());
    let good = answered(&mut s, t(0), "alice", "secret");
    let a = good.headers.typed::<Authorization>().unwrap().unwrap();
    let without = |name: &str| {
        let mut p = a.0.clone();
        p.params
            .retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_bytes()));
        let mut r = good.clone();
        r.headers.set_typed(&Authorization(p));
        r
    };
    for name in [
        "username", "nonce", "uri", "response", "qop", "nc", "cnonce",
    ] {
        match s.check(t(1), ip(10), &without(name), &store()) {
            AuthOutcome::Forbidden(r) => assert_eq!(r.status.as_u16(), 400, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    // uri not the Request-URI
    let mut p = a.0.clone();
    for (n, v) in &mut p.params {
        if n.eq_ignore_ascii_case(b"uri") {
            *v = Bytes::from_static(b"\"sip:other.example.com\"");
        }
    }
    let mut r = good.clone();
    r.headers.set_typed(&Authorization(p));
    assert!(matches!(
        s.check(t(1), ip(10), &r, &store()),
        AuthOutcome::Forbidden(_)
    ));
    // unparsable header
    let mut r = good.clone();
    r.headers.set(
        Known::Authorization.into(),
        Bytes::from_static(b"Digest realm=\"x"),
    );
    assert!(matches!(
        s.check(t(1), ip(10), &r, &store()),
        AuthOutcome::Forbidden(_)
    ));
    // another realm only: challenged
    let mut r = good.clone();
    r.headers.set(
        Known::Authorization.into(),
        Bytes::from_static(b"Digest realm=\"other\", username=\"a\""),
    );
    assert!(matches!(
        s.check(t(1), ip(10), &r, &store()),
        AuthOutcome::Challenge(_)
    ));
    assert_eq!(s.stats().failures, 0);
}

#[test]
fn client_without_qop_rfc2069() {
    let mut ch = Response::new(crate::StatusCode::UNAUTHORIZED);
    ch.headers.push(
        Known::WwwAuthenticate,
        Bytes::from_static(b"Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""),
    );
    let mut req = register();
    authorize(
        &mut req,
        &ch,
        "Mufasa",
        "Circle Of Life",
        &mut Rng::seeded(1),
    )
    .unwrap();
    let a = req.headers.typed::<Authorization>().unwrap().unwrap();
    assert_eq!(a.param("qop"), None);
    assert_eq!(a.param("nc"), None);
    assert_eq!(a.param("algorithm"), None);
    assert_eq!(
        a.param("opaque"),
        Some(&b"5ccc069c403ebaf9f0171e9517f40e41"[..])
    );
    let ha1 = Algorithm::Md5.ha1("Mufasa", "testrealm@host.com", "Circle Of Life");
    let expect = response_hex(
        Algorithm::Md5,
        &ha1,
        &DigestInput {
            nonce: b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
            method: b"REGISTER",
            uri: b"sip:example.com",
            qop_auth: None,
        },
    );
    assert_eq!(a.param("response"), Some(expect.as_bytes()));
}

#[test]
fn client_errors() {
    let mut req = register();
    let ok = Response::new(crate::StatusCode::OK);
    let mut rng = Rng::seeded(1);
    assert_eq!(
        authorize(&mut req, &ok, "a", "b", &mut rng),
        Err(AuthError::NotAChallenge)
    );
    let mut ch = Response::new(crate::StatusCode::UNAUTHORIZED);
    ch.headers.push(
        Known::WwwAuthenticate,
        Bytes::from_static(b"Basic realm=\"x\""),
    );
    ch.headers.push(
        Known::WwwAuthenticate,
        Bytes::from_static(b"Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\""),
    );
    ch.headers.push(
        Known::WwwAuthenticate,
        Bytes::from_static(b"Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256"),
    );
    assert_eq!(
        authorize(&mut req, &ch, "a", "b", &mut rng),
        Err(AuthError::NoSupportedChallenge)
    );
    assert_eq!(
        authorize(&mut req, &ch, "a\"b", "b", &mut rng),
        Err(AuthError::InvalidUsername)
    );
}

#[test]
fn config_validation() {
    assert!(AuthConfig::default().build().is_err());
    assert!(AuthConfig::default().realm("a\"b").build().is_err());
    assert!(
        AuthConfig::default()
            .realm("r")
            .secret(vec![1; 8])
            .build()
            .is_err()
    );
    assert!(
        AuthConfig::default()
            .realm("r")
            .algorithms(&[])
            .build()
            .is_err()
    );
    assert!(
        AuthConfig::default()
            .realm("r")
            .max_failures(0)
            .build()
            .is_err()
    );
    assert!(
        AuthConfig::default()
            .realm("r")
            .nonce_lifetime(Duration::ZERO)
            .build()
            .is_err()
    );
    let c = AuthConfig::default()
        .realm("r")
        .secret(vec![1; 32])
        .build()
        .unwrap();
    assert!(!format!("{c:?}").contains("[1,"));
    // a shared secret makes nonces portable between instances
    let mut a = DigestAuthenticator::new(c.clone(), Rng::seeded(1));
    let mut b = DigestAuthenticator::new(c, Rng::seeded(2));
    let mut req = register();
    let ch = challenge_of(a.check(t(0), ip(10), &req, &store()));
    authorize(&mut req, &ch, "alice", "secret", &mut Rng::seeded(1)).unwrap();
    let st = |_: &str, _: &str| Some(Credential::Password("secret".into()));
    assert!(matches!(
        b.check(t(0), ip(10), &req, &st),
        AuthOutcome::Authenticated { .. }
    ));
}

proptest! {
    #[test]
    fn malformed_authorization_never_panics(
        value in proptest::collection::vec(any::<u8>(), 0..200),
        params in proptest::collection::vec(
            ("[a-zA-Z]{1,9}", "\"?[ -~]{0,70}\"?"),
            0..10,
        ),
        proxy in any::<bool>(),
    ) {
        let mut s = server(AuthConfig::default().proxy(proxy).max_failures(1_000));
        let mut r = register();
        r.headers.push(Known::Authorization, Bytes::from(value));
        let _ = s.check(t(0), ip(1), &r, &store());
        let mut fields = vec![format!("realm=\"{REALM}\"")];
        fields.extend(params.iter().map(|(n, v)| format!("{n}={v}")));
        let raw = format!("Digest {}", fields.join(", "));
        let mut r = register();
        r.headers.push(Known::Authorization, Bytes::from(raw.clone()));
        r.headers.push(Known::ProxyAuthorization, Bytes::from(raw));
        let _ = s.check(t(0), ip(1), &r, &store());
        let mut c = Response::new(crate::StatusCode::UNAUTHORIZED);
        c.headers.push(Known::WwwAuthenticate, r.headers.get_bytes(&Known::Authorization.into()).unwrap_or_default());
        let _ = authorize(&mut r, &c, "u", "p", &mut Rng::seeded(1));
    }
}
