//! Every message of the RFC 4475 and RFC 5118 torture suites, handled as
//! ../shared/corpus/sip-torture/README.md says.

use std::path::PathBuf;

use bytes::Bytes;
use voip_sip::validate::{UasPolicy, check_request};
use voip_sip::{Message, ParseConfig, StatusCode, parse_message, reply::reply_to_malformed};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Parsed and passes the checks (the application answers it).
    Accepted,
    /// A response: parsed, never answered.
    Response,
    /// Answered with this status by the stack.
    Status(u16),
    /// Nothing sent.
    Dropped,
}

fn corpus_dir() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for up in [
        here.join("../../shared/corpus/sip-torture"),
        here.join("../shared/corpus/sip-torture"),
    ] {
        if up.is_dir() {
            return up;
        }
    }
    panic!("../shared/corpus/sip-torture not found beside the repository");
}

fn handle(raw: &[u8]) -> Outcome {
    match parse_message(Bytes::copy_from_slice(raw), &ParseConfig::default()) {
        Ok(Message::Response(_)) => Outcome::Response,
        Ok(Message::Request(req)) => {
            if let Err(r) = check_request(&req) {
                return Outcome::Status(r.status.as_u16());
            }
            match UasPolicy::default().check(&req) {
                Err(r) => Outcome::Status(r.status.as_u16()),
                Ok(()) => Outcome::Accepted,
            }
        }
        Err(e) => match reply_to_malformed(raw, &e, "tag") {
            Some(bytes) => match parse_message(bytes, &ParseConfig::default()) {
                Ok(Message::Response(r)) => Outcome::Status(r.status.as_u16()),
                other => panic!("unparseable reply {other:?}"),
            },
            None => Outcome::Dropped,
        },
    }
}

fn expected(name: &str) -> &'static [Outcome] {
    use Outcome::*;
    match name {
        "wsinv" | "intmeth" | "esc01" | "escnull" | "esc02" | "lwsdisp" | "longreq" | "dblreq"
        | "semiuri" | "transports" | "mpart01" => &[Accepted],
        "unreason" | "noreason" => &[Response],
        "badinv01" | "clerr" | "ncl" | "scalar02" | "quotbal" | "ltgtruri" | "lwsruri"
        | "lwsstart" | "escruri" | "baddate" | "regbadct" | "badaspec" | "baddn" | "mismatch01"
        | "mismatch02" => &[Status(400), Dropped],
        "scalarlg" | "bigcode" | "bcast" => &[Dropped, Response],
        "badvers" => &[Status(505), Dropped],
        "trws" | "badbranch" => &[Accepted, Status(400)],
        "insuf" | "multi01" | "mcl01" => &[Status(400)],
        "bext01" => &[Status(420)],
        // 483 needs a forwarding decision, made by the server
        "zeromf" => &[Accepted],
        "unkscm" | "novelsc" => &[Status(416)],
        "invut" => &[Status(415)],
        "sdp01" => &[Status(406), Status(415), Status(488)],
        "unksm2" | "regaut01" | "cparam01" | "cparam02" | "regescrt" => &[Accepted],
        "inv2543" => &[Accepted],
        "ipv6-good"
        | "port-ambiguous"
        | "port-unambiguous"
        | "via-received-param-with-delim"
        | "via-received-param-no-delim"
        | "mult-ip-in-header"
        | "mult-ip-in-sdp"
        | "ipv4-mapped-ipv6"
        | "ipv6-correct-abnf-2-colons"
        | "ipv6-in-sdp" => &[Accepted],
        "ipv6-bad" => &[Status(400), Dropped],
        "ipv6-bug-abnf-3-colons" => &[Accepted, Status(400), Dropped],
        other => panic!("no expectation for {other}"),
    }
}

#[test]
fn every_torture_message_is_handled_as_the_table_says() {
    let mut failures = Vec::new();
    let mut seen = 0;
    for sub in ["rfc4475", "rfc5118"] {
        let mut files: Vec<_> = std::fs::read_dir(corpus_dir().join(sub))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let raw = std::fs::read(&path).unwrap();
            let got = handle(&raw);
            seen += 1;
            if !expected(&name).contains(&got) {
                failures.push(format!(
                    "{name}: got {got:?}, expected one of {:?}",
                    expected(&name)
                ));
            }
        }
    }
    assert_eq!(seen, 61, "corpus size changed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn valid_messages_survive_a_print_parse_round_trip() {
    for sub in ["rfc4475", "rfc5118"] {
        for entry in std::fs::read_dir(corpus_dir().join(sub)).unwrap() {
            let raw = std::fs::read(entry.unwrap().path()).unwrap();
            if let Ok(m) = parse_message(Bytes::from(raw), &ParseConfig::default()) {
                let printed = m.to_bytes();
                let again = parse_message(printed, &ParseConfig::default()).unwrap();
                assert_eq!(again, m);
            }
        }
    }
}

#[test]
fn ipv6_hosts_come_out_as_addresses() {
    let raw = std::fs::read(corpus_dir().join("rfc5118/ipv6-good.dat")).unwrap();
    let Ok(Message::Request(req)) = parse_message(Bytes::from(raw), &ParseConfig::default()) else {
        panic!()
    };
    let u = req.uri.as_sip().unwrap();
    assert_eq!(u.host().ip(), Some("2001:db8::10".parse().unwrap()));
    let via = req.via().unwrap().unwrap();
    assert_eq!(via.host().ip(), Some("2001:db8::9:1".parse().unwrap()));
    assert_eq!(StatusCode::OK.as_u16(), 200);
}
