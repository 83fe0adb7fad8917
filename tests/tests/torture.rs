//! RFC 4475 / RFC 5118 torture messages against the running server, over UDP
//! and over TCP, checked against the table in
//! `shared/corpus/sip-torture/README.md`. Needs the server binary:
//! `cargo test -p voip-tests -- --include-ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use voip_tests::{Server, corpus_dir, options_request, status_of};

/// How long to wait for an answer (loopback answers take milliseconds; a
/// message the server drops costs this much).
const ANSWER_WINDOW: Duration = Duration::from_millis(700);

/// What the README table expects for one file.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Parsed and answered with a final response that is not 400, echoing
    /// Call-ID and CSeq.
    Proper,
    /// Never answered.
    NoAnswer,
    /// One of these statuses; `or_dropped`: no answer is fine too.
    OneOf(&'static [u16], bool),
    /// `Proper`, or one of these statuses.
    ProperOr(&'static [u16]),
    /// Any final response (accepted or rejected with 400).
    AnyFinal,
    /// Anything, including no answer; the server must just survive.
    Survive,
}

// For the §3.3 rows the README allows a challenge (401/407) from a server
// that authenticates first and a refusal (403/404) of a foreign domain.
fn expectation(name: &str) -> Expect {
    match name {
        // §3.1.1 valid requests.
        "wsinv" | "intmeth" | "esc01" | "escnull" | "esc02" | "lwsdisp" | "longreq" | "dblreq"
        | "semiuri" | "transports" | "mpart01" => Expect::Proper,
        // §3.1.1 valid responses: match no transaction.
        "unreason" | "noreason" => Expect::NoAnswer,
        // §3.1.2 invalid syntax.
        "badinv01" | "clerr" | "ncl" | "scalar02" | "scalarlg" | "quotbal" | "ltgtruri"
        | "lwsruri" | "lwsstart" | "escruri" | "baddate" | "regbadct" | "badaspec" | "baddn"
        | "mismatch01" | "mismatch02" => Expect::OneOf(&[400], true),
        "badvers" => Expect::OneOf(&[505], true),
        "bigcode" => Expect::NoAnswer,
        // §3.1.2 / §3.2 either way.
        "trws" | "badbranch" => Expect::AnyFinal,
        // §3.3 application semantics.
        "insuf" | "multi01" | "mcl01" => Expect::OneOf(&[400], false),
        "bext01" => Expect::OneOf(&[420, 401, 403, 404, 407], false),
        "zeromf" => Expect::OneOf(&[483, 401, 403, 404, 407], false),
        "unkscm" => Expect::OneOf(&[416, 401, 403, 404, 407], false),
        "novelsc" => Expect::ProperOr(&[416]),
        "invut" => Expect::OneOf(&[415, 401, 403, 404, 407], false),
        "sdp01" => Expect::OneOf(&[406, 415, 488, 401, 403, 404, 407], false),
        "unksm2" | "regaut01" | "cparam01" | "cparam02" | "regescrt" => Expect::Proper,
        "bcast" => Expect::NoAnswer,
        // §3.4 backward compatibility.
        "inv2543" => Expect::Proper,
        // RFC 5118.
        "ipv6-good"
        | "port-ambiguous"
        | "port-unambiguous"
        | "via-received-param-with-delim"
        | "via-received-param-no-delim"
        | "mult-ip-in-header"
        | "mult-ip-in-sdp"
        | "ipv4-mapped-ipv6"
        | "ipv6-correct-abnf-2-colons"
        | "ipv6-in-sdp" => Expect::Proper,
        "ipv6-bad" => Expect::OneOf(&[400], true),
        "ipv6-bug-abnf-3-colons" => Expect::Survive,
        other => panic!("{other}.dat is not in the README table: add its expectation"),
    }
}

/// The unfolded value of the first header called `long` or `short`.
fn header(message: &[u8], long: &str, short: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines: Vec<String> = Vec::new();
    for line in head.split("\r\n").skip(1) {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = lines.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else {
            lines.push(line.to_owned());
        }
    }
    lines.iter().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case(long) || name.eq_ignore_ascii_case(short))
            .then(|| value.trim().to_owned())
    })
}

/// CSeq as (number, method), whitespace and leading zeros normalised.
fn cseq(message: &[u8]) -> Option<(u64, String)> {
    let value = header(message, "CSeq", "CSeq")?;
    let mut parts = value.split_whitespace();
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.to_ascii_uppercase(),
    ))
}

/// Whether the message's Content-Length frames it exactly (one header,
/// digits, equal to the body length), so a stream transport can frame it.
fn frames_on_stream(message: &[u8]) -> bool {
    let text = String::from_utf8_lossy(message);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let values: Vec<&str> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = name.trim();
            (name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l"))
                .then_some(value.trim())
        })
        .collect();
    match values.as_slice() {
        [value] => value
            .parse::<usize>()
            .is_ok_and(|length| length == body.len()),
        _ => false,
    }
}

/// The first final response, or None.
#[derive(Debug)]
struct Answer {
    status: Option<u16>,
    bytes: Vec<u8>,
}

fn first_final(responses: Vec<Vec<u8>>) -> Option<Answer> {
    responses
        .into_iter()
        .map(|bytes| Answer {
            status: status_of(&bytes),
            bytes,
        })
        .find(|answer| answer.status.is_none_or(|status| status >= 200))
}

fn over_udp(server: SocketAddr, message: &[u8]) -> Option<Answer> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.send_to(message, server).unwrap();
    let deadline = Instant::now() + ANSWER_WINDOW;
    let mut responses = Vec::new();
    let mut buf = vec![0u8; 65_535];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        socket.set_read_timeout(Some(left)).unwrap();
        match socket.recv_from(&mut buf) {
            Ok((len, from)) if from == server => {
                let bytes = buf[..len].to_vec();
                let is_final = status_of(&bytes).is_none_or(|status| status >= 200);
                responses.push(bytes);
                if is_final {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    first_final(responses)
}

fn over_tcp(server: SocketAddr, message: &[u8]) -> Option<Answer> {
    let mut stream = TcpStream::connect(server).unwrap();
    let _ = stream.write_all(message);
    let deadline = Instant::now() + ANSWER_WINDOW;
    let mut received = Vec::new();
    let mut buf = vec![0u8; 65_535];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(len) => received.extend_from_slice(&buf[..len]),
        }
        // Stop at the first complete final response.
        if let Some(end) = find(&received, b"\r\n\r\n") {
            let status = status_of(&received);
            let length = header(&received, "Content-Length", "l")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                if status.is_none_or(|s| s >= 200) {
                    break;
                }
                received.drain(..end + 4 + length);
            }
        }
    }
    (!received.is_empty()).then(|| Answer {
        status: status_of(&received),
        bytes: received,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn describe(answer: &Option<Answer>) -> String {
    match answer {
        None => "no answer".to_owned(),
        Some(Answer {
            status: Some(status),
            ..
        }) => status.to_string(),
        Some(Answer { bytes, .. }) => format!(
            "garbage {:?}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
        ),
    }
}

/// Checks one answer; `Err` says why it is wrong.
fn check(
    expect: Expect,
    request: &[u8],
    answer: &Option<Answer>,
    stream_unframed: bool,
) -> Result<(), String> {
    if stream_unframed
        && (answer.is_none() || answer.as_ref().is_some_and(|a| a.status == Some(400)))
    {
        // README: without a usable Content-Length, a stream transport may
        // close the connection or answer 400.
        return Ok(());
    }
    let status = answer.as_ref().and_then(|a| a.status);
    if answer.is_some() && status.is_none() {
        return Err(format!("answered with {}", describe(answer)));
    }
    let proper = |status: u16| -> Result<(), String> {
        if status == 400 || status < 200 {
            return Err(format!("expected a proper final response, got {status}"));
        }
        let response = &answer.as_ref().map(|a| a.bytes.clone()).unwrap_or_default();
        let want = header(request, "Call-ID", "i");
        let got = header(response, "Call-ID", "i");
        if want != got {
            return Err(format!(
                "{status} does not echo Call-ID: sent {want:?}, got {got:?}"
            ));
        }
        if cseq(request) != cseq(response) {
            return Err(format!(
                "{status} does not echo CSeq: sent {:?}, got {:?}",
                cseq(request),
                cseq(response)
            ));
        }
        Ok(())
    };
    match (expect, status) {
        (Expect::Survive, _) => Ok(()),
        (Expect::NoAnswer, None) => Ok(()),
        (Expect::NoAnswer, Some(status)) => Err(format!("expected no answer, got {status}")),
        (Expect::Proper, Some(status)) => proper(status),
        (Expect::ProperOr(allowed), Some(status)) if allowed.contains(&status) => Ok(()),
        (Expect::ProperOr(_), Some(status)) => proper(status),
        (Expect::AnyFinal, Some(_)) => Ok(()),
        (Expect::OneOf(_, true), None) => Ok(()),
        (Expect::OneOf(allowed, _), Some(status)) if allowed.contains(&status) => {
            let bytes = &answer.as_ref().map(|a| a.bytes.clone()).unwrap_or_default();
            if status == 420 && header(bytes, "Unsupported", "Unsupported").is_none() {
                return Err("420 without an Unsupported header".to_owned());
            }
            if status == 415 && header(bytes, "Accept", "Accept").is_none() {
                return Err("415 without an Accept header".to_owned());
            }
            Ok(())
        }
        (Expect::OneOf(allowed, _), Some(status)) => {
            Err(format!("expected one of {allowed:?}, got {status}"))
        }
        (_, None) => Err(format!("expected {expect:?}, got no answer")),
    }
}

fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let root = corpus_dir().join("sip-torture");
    let mut files = Vec::new();
    for group in ["rfc4475", "rfc5118"] {
        let dir = root.join(group);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|error| {
            panic!(
                "cannot read {}: {error} (set VOIP_CORPUS_DIR)",
                dir.display()
            )
        });
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "dat") {
                files.push((stem(&path), std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    assert!(
        files.len() >= 61,
        "expected the 49 + 12 corpus files, found {}",
        files.len()
    );
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().unwrap().to_string_lossy().into_owned()
}

fn to_tcp(message: &[u8]) -> Vec<u8> {
    // Same length, so Content-Length stays right.
    let mut out = message.to_vec();
    let from = b"SIP/2.0/UDP";
    let mut at = 0;
    while let Some(pos) = find(&out[at..], from) {
        out[at + pos..at + pos + from.len()].copy_from_slice(b"SIP/2.0/TCP");
        at += pos + from.len();
    }
    out
}

fn options_gets_200(server: &Server) -> Result<(), String> {
    let udp = server.addr("sip-udp");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let local = socket.local_addr().unwrap();
    let answer = over_udp_from(
        &socket,
        udp,
        options_request("UDP", local, udp, "afterudp").as_bytes(),
    );
    if answer.as_ref().and_then(|a| a.status) != Some(200) {
        return Err(format!(
            "OPTIONS over UDP after the corpus: {}",
            describe(&answer)
        ));
    }
    let tcp = server.addr("sip-tcp");
    let answer = over_tcp(
        tcp,
        options_request("TCP", "127.0.0.1:9".parse().unwrap(), tcp, "aftertcp").as_bytes(),
    );
    if answer.as_ref().and_then(|a| a.status) != Some(200) {
        return Err(format!(
            "OPTIONS over TCP after the corpus: {}",
            describe(&answer)
        ));
    }
    Ok(())
}

fn over_udp_from(socket: &UdpSocket, server: SocketAddr, message: &[u8]) -> Option<Answer> {
    socket.send_to(message, server).unwrap();
    socket.set_read_timeout(Some(ANSWER_WINDOW)).unwrap();
    let mut buf = vec![0u8; 65_535];
    let deadline = Instant::now() + ANSWER_WINDOW;
    while Instant::now() < deadline {
        match socket.recv_from(&mut buf) {
            Ok((len, from)) if from == server => {
                return Some(Answer {
                    status: status_of(&buf[..len]),
                    bytes: buf[..len].to_vec(),
                });
            }
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

#[test]
#[ignore = "needs the voip-server binary; run with --include-ignored"]
fn torture_messages_get_the_rfc_4475_answers() {
    let mut server = Server::start();
    let udp = server.addr("sip-udp");
    let tcp = server.addr("sip-tcp");
    let mut failures = Vec::new();
    let mut total = 0;
    for (name, message) in corpus_files() {
        let expect = expectation(&name);
        total += 2;
        let answer = over_udp(udp, &message);
        if let Err(why) = check(expect, &message, &answer, false) {
            failures.push(format!("{name} over UDP: {why}"));
        }
        let tcp_message = to_tcp(&message);
        let answer = over_tcp(tcp, &tcp_message);
        if let Err(why) = check(
            expect,
            &tcp_message,
            &answer,
            !frames_on_stream(&tcp_message),
        ) {
            failures.push(format!("{name} over TCP: {why}"));
        }
        assert!(
            server.is_running(),
            "voip-server died on {name}: {}",
            server.stderr()
        );
    }
    if let Err(why) = options_gets_200(&server) {
        failures.push(why);
    }
    assert!(server.is_running(), "voip-server died: {}", server.stderr());
    assert!(
        failures.is_empty(),
        "{} of {total} torture checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn expectations_cover_the_corpus() {
    // Runs without the server: every corpus file has a row.
    if !corpus_dir().join("sip-torture").is_dir() {
        assert!(
            !voip_tests::in_ci(),
            "corpus missing in CI: {}",
            corpus_dir().display()
        );
        return;
    }
    for (name, message) in corpus_files() {
        let _ = expectation(&name);
        assert_eq!(to_tcp(&message).len(), message.len());
    }
}
