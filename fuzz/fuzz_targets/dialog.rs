//! Drives two UA cores with a call in progress: arbitrary datagrams,
//! datagrams built from templates with the call's real Call-ID and tags
//! (so they reach the dialog code), responses, application commands and
//! timeouts. Nothing may panic, and once enough virtual time has passed
//! every dialog must be gone.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use voip_core::{Receive, Rng, TransportProtocol};
use voip_sip::ua::{Body, InviteOptions, Ua, UaConfig, UaEvent};
use voip_sip::{DialogId, Method, StatusCode};

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1 + i], 5060))
}

fn ua(i: u8, seed: u64) -> Ua {
    let contact = format!("sip:u{i}@{}", addr(i)).parse().expect("valid contact");
    let mut config = UaConfig::new(addr(i), contact);
    config = config.session_timer(Some(90), 90);
    Ua::new(config, Rng::seeded(seed))
}

fn rx(from: u8, to: u8, contents: Bytes) -> Receive {
    Receive {
        protocol: TransportProtocol::Udp,
        source: addr(from),
        destination: addr(to),
        connection: None,
        contents,
    }
}

struct World {
    uas: [Ua; 2],
    now: Instant,
    /// Events not acted on yet, per UA.
    events: [Vec<UaEvent>; 2],
    /// The call's identifiers as seen by UA 1: Call-ID, its tag, the peer's tag.
    ids: Option<(String, String, String)>,
    dialogs: [Vec<DialogId>; 2],
}

impl World {
    /// Moves every queued message to its destination (a perfect network).
    fn exchange(&mut self) {
        for _ in 0..64 {
            let mut moved = false;
            for i in 0..2u8 {
                while let Some(t) = self.uas[usize::from(i)].poll_transmit() {
                    moved = true;
                    let to = if t.destination == addr(0) { 0 } else { 1 };
                    let now = self.now;
                    self.uas[usize::from(to)].handle_receive(now, rx(i, to, t.contents));
                }
                while let Some(e) = self.uas[usize::from(i)].poll_event() {
                    match &e {
                        UaEvent::IncomingCall { dialog, .. }
                        | UaEvent::Answered { dialog, .. }
                        | UaEvent::Ringing { dialog: Some(dialog), .. } => {
                            self.dialogs[usize::from(i)].push(*dialog)
                        }
                        _ => {}
                    }
                    if self.events[usize::from(i)].len() < 64 {
                        self.events[usize::from(i)].push(e);
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn tick(&mut self, by: Duration) {
        self.now += by;
        let now = self.now;
        for ua in &mut self.uas {
            ua.handle_timeout(now);
        }
        self.exchange();
    }

    /// UA 0 calls UA 1, which answers.
    fn establish(&mut self) {
        let now = self.now;
        let options = match (
            "sip:u0@192.0.2.1:5060".parse(),
            "sip:u1@192.0.2.2:5060".parse(),
        ) {
            (Ok(a), Ok(b)) => InviteOptions::new(a, b).body(Body::sdp("v=0\r\n")),
            _ => return,
        };
        if self.uas[0].invite(now, options).is_err() {
            return;
        }
        self.exchange();
        let Some(&dialog) = self.dialogs[1].first() else { return };
        let _ = self.uas[1].answer(now, dialog, StatusCode::OK, Some(Body::sdp("v=0\r\n")));
        self.exchange();
        if let Some(d) = self.uas[1].dialog(dialog) {
            self.ids = Some((
                String::from_utf8_lossy(d.call_id()).into_owned(),
                String::from_utf8_lossy(d.local_tag()).into_owned(),
                String::from_utf8_lossy(d.remote_tag()).into_owned(),
            ));
        }
    }

    /// A request from UA 0's address into UA 1 within the call's dialog.
    fn templated(&self, pick: u8, cseq: u8, body: &[u8]) -> Bytes {
        let (call_id, local, remote) = self.ids.clone().unwrap_or_default();
        let methods = [
            "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "PRACK", "UPDATE", "INFO", "MESSAGE",
            "REFER", "NOTIFY", "SUBSCRIBE", "FOO",
        ];
        let method = methods[usize::from(pick) % methods.len()];
        let extra = match pick / 16 % 6 {
            0 => "RAck: 1 1 INVITE\r\n".to_owned(),
            1 => "Refer-To: <sip:u2@192.0.2.3?Replaces=a%3Bto-tag%3Db%3Bfrom-tag%3Dc>\r\n".to_owned(),
            2 => "Event: refer\r\nSubscription-State: terminated\r\nContent-Type: message/sipfrag\r\n".to_owned(),
            3 => format!("Session-Expires: {}\r\nSupported: timer\r\n", u32::from(cseq) * 7),
            4 => format!("Replaces: {call_id};to-tag={local};from-tag={remote}\r\n"),
            _ => String::new(),
        };
        let to_tag = if pick & 0x80 == 0 { format!(";tag={local}") } else { String::new() };
        let head = format!(
            "{method} sip:u1@192.0.2.2:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKf{pick}x{cseq}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:u0@192.0.2.1:5060>;tag={remote}\r\n\
             To: <sip:u1@192.0.2.2:5060>{to_tag}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:u0@192.0.2.1:5060>\r\n\
             {extra}Content-Length: {}\r\n\r\n",
            body.len()
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        Bytes::from(out)
    }

    /// A response from UA 1's address into UA 0, for the call's Call-ID.
    fn response(&self, code: u16, cseq: u8, method: &str) -> Bytes {
        let (call_id, local, remote) = self.ids.clone().unwrap_or_default();
        Bytes::from(format!(
            "SIP/2.0 {code} X\r\n\
             Via: SIP/2.0/UDP 192.0.2.1:5060;rport;branch=z9hG4bKnone{cseq}\r\n\
             From: <sip:u0@192.0.2.1:5060>;tag={remote}\r\n\
             To: <sip:u1@192.0.2.2:5060>;tag={local}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:u1@192.0.2.2:5060>\r\n\
             RSeq: {cseq}\r\nRequire: 100rel\r\n\
             Session-Expires: 90;refresher=uas\r\n\
             Content-Length: 0\r\n\r\n"
        ))
    }

    /// Acts on a pending event of UA `i` with `status`.
    fn act(&mut self, i: usize, pick: u8, status: u8) {
        let now = self.now;
        let status = StatusCode::new(100 + u16::from(status) * 2).unwrap_or(StatusCode::OK);
        let ua = &mut self.uas[i];
        let dialog = self.dialogs[i].get(usize::from(pick) % self.dialogs[i].len().max(1)).copied();
        match pick % 12 {
            0 => {
                if let Some(e) = self.events[i].pop() {
                    match e {
                        UaEvent::IncomingCall { dialog, .. } => {
                            let _ = ua.answer(now, dialog, status, None);
                        }
                        UaEvent::Reoffer { id, .. }
                        | UaEvent::Info { id, .. }
                        | UaEvent::Message { id, .. }
                        | UaEvent::TransferRequested { id, .. } => {
                            let _ = ua.respond(now, id, status, Some(Body::sdp("v=0\r\n")));
                        }
                        UaEvent::Answered { dialog, .. } => {
                            let _ = ua.ack(now, dialog, None);
                        }
                        _ => {}
                    }
                }
            }
            1 => {
                if let Some(d) = dialog {
                    let _ = ua.bye(now, d);
                }
            }
            2 => {
                if let Some(d) = dialog {
                    let _ = ua.reinvite(now, d, Some(Body::sdp("v=0\r\n")));
                }
            }
            3 => {
                if let Some(d) = dialog {
                    let _ = ua.update(now, d, None);
                }
            }
            4 => {
                if let Some(d) = dialog {
                    let _ = ua.info(now, d, Body::new("application/dtmf-relay", "Signal=1"));
                }
            }
            5 => {
                if let (Some(d), Ok(target)) = (dialog, "sip:u2@192.0.2.3".parse()) {
                    let _ = ua.refer(now, d, &target, None);
                }
            }
            6 => {
                if let Some(d) = dialog {
                    let _ = ua.transfer_progress(now, d, status);
                }
            }
            7 => {
                if let Some(d) = dialog {
                    let _ = ua.request(now, d, Method::Options, None);
                }
            }
            8 => {
                if let Some(d) = dialog {
                    let _ = ua.answer(now, d, status, None);
                }
            }
            9 => {
                if let Some(&d) = self.dialogs[1 - i].first() {
                    if let Some(mine) = dialog {
                        let _ = ua.attended_transfer(now, mine, d);
                    }
                }
            }
            _ => {
                if let (Ok(a), Ok(b)) = ("sip:u0@192.0.2.1:5060".parse(), "sip:u1@192.0.2.2:5060".parse()) {
                    let _ = ua.invite(now, InviteOptions::new(a, b));
                }
            }
        }
        self.exchange();
    }
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut w = World {
        uas: [ua(0, 1), ua(1, 2)],
        now: start,
        events: [Vec::new(), Vec::new()],
        ids: None,
        dialogs: [Vec::new(), Vec::new()],
    };
    w.establish();
    for chunk in data.split(|b| *b == 0xff).take(256) {
        let Some((&op, rest)) = chunk.split_first() else { continue };
        let (a, b) = (rest.first().copied().unwrap_or(0), rest.get(1).copied().unwrap_or(1));
        let tail = rest.get(2..).unwrap_or_default();
        let now = w.now;
        match op % 7 {
            0 => w.uas[1].handle_receive(now, rx(0, 1, Bytes::copy_from_slice(rest))),
            1 => w.uas[0].handle_receive(now, rx(1, 0, Bytes::copy_from_slice(rest))),
            2 => {
                let msg = w.templated(a, b, tail);
                w.uas[1].handle_receive(now, rx(0, 1, msg));
            }
            3 => {
                let methods = ["INVITE", "BYE", "UPDATE", "PRACK", "REFER", "INFO"];
                let code = 100 + u16::from(a) * 2;
                let msg = w.response(code, b, methods[usize::from(a) % methods.len()]);
                w.uas[0].handle_receive(now, rx(1, 0, msg));
            }
            4 => w.tick(Duration::from_millis(u64::from(a) * 100)),
            5 => w.act(usize::from(op >> 7), a, b),
            _ => {
                // a valid message with one byte flipped
                let mut msg = w.templated(a, b, tail).to_vec();
                if !msg.is_empty() {
                    let at = usize::from(b) * 7 % msg.len();
                    msg[at] ^= a | 1;
                }
                w.uas[1].handle_receive(now, rx(0, 1, Bytes::from(msg)));
            }
        }
        w.exchange();
    }
    // Everything ends: answer what is pending, hang up, run the clock.
    for i in 0..2 {
        for d in w.dialogs[i].clone() {
            let now = w.now;
            let _ = w.uas[i].bye(now, d);
        }
    }
    for _ in 0..1000 {
        w.tick(Duration::from_secs(2));
    }
    for ua in &w.uas {
        assert!(ua.is_empty(), "dialogs left after the hang-ups and 2000 s: {}", ua.len());
    }
});
