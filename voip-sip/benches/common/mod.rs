//! Messages and "parse + typed access" routines shared by the `parse` and
//! `parse_table` benchmarks.
//!
//! Each routine parses one message from bytes and reads the fields a proxy
//! or UA reads on every message: top Via branch, From tag, To URI, Call-ID,
//! CSeq number and method, Contact URI and Content-Length. It returns a
//! number derived from them so the work cannot be optimised away, and `None`
//! when any step fails (a benchmark asserts it never does).

#![allow(dead_code)]

use bytes::Bytes;

/// A typical INVITE from a softphone, with an SDP offer (about 700 bytes).
pub const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bK74bf9a1c2e;rport\r\n\
Max-Forwards: 70\r\n\
To: \"Bob\" <sip:bob@biloxi.example.com>\r\n\
From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@192.0.2.101:5060;transport=udp>\r\n\
Content-Type: application/sdp\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: ExamplePhone/5.2.1 (Linux x86_64)\r\n\
Content-Length: 240\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49170 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// A REGISTER answering a digest challenge (about 600 bytes).
pub const REGISTER: &[u8] = b"REGISTER sip:registrar.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.101:5060;branch=z9hG4bKnashds7;rport\r\n\
Max-Forwards: 70\r\n\
To: <sip:alice@example.com>\r\n\
From: <sip:alice@example.com>;tag=456248\r\n\
Call-ID: 843817637684230@998sdasdh09\r\n\
CSeq: 1827 REGISTER\r\n\
Contact: <sip:alice@192.0.2.101:5060>;expires=3600\r\n\
Authorization: Digest username=\"alice\", realm=\"example.com\", nonce=\"ea9c8e88df84f1cec4341ae6cbe5a359\", uri=\"sip:registrar.example.com\", response=\"dfe56131d1958046689d83306477ecc\", algorithm=MD5, cseq=1827, qop=auth, nc=00000001, cnonce=\"0a4f113b\"\r\n\
Content-Length: 0\r\n\
\r\n";

/// The messages, named as in the reports.
pub const MESSAGES: [(&str, &[u8]); 2] = [("invite", INVITE), ("register", REGISTER)];

fn mix(acc: u64, n: usize) -> u64 {
    acc.wrapping_mul(31).wrapping_add(n as u64)
}

/// voip-sip: zero-copy parse, typed headers parsed on access.
pub fn voip_sip(raw: &Bytes) -> Option<u64> {
    use voip_sip::Method;
    use voip_sip::header::{CSeq, CallId, Contact, ContentLength, From, To, Via};
    let msg = voip_sip::parse_message(raw.clone(), &voip_sip::ParseConfig::default()).ok()?;
    let h = msg.headers();
    let via = h.typed::<Via>()?.ok()?;
    let from = h.typed::<From>()?.ok()?;
    let to = h.typed::<To>()?.ok()?;
    let call_id = h.typed::<CallId>()?.ok()?;
    let cseq = h.typed::<CSeq>()?.ok()?;
    let contact = h.typed::<Contact>()?.ok()?;
    let length = h.typed::<ContentLength>()?.ok()?;
    let mut acc = mix(0, via.branch()?.len());
    acc = mix(acc, from.0.tag()?.len());
    acc = mix(acc, to.0.uri().as_sip()?.user()?.len());
    acc = mix(acc, call_id.0.len());
    acc = mix(
        acc,
        cseq.seq as usize + usize::from(cseq.method == Method::Invite),
    );
    acc = mix(
        acc,
        usize::from(contact.address()?.uri().as_sip()?.port.is_some()),
    );
    Some(mix(acc, length.0 as usize))
}

/// rsip 0.4: `SipMessage::try_from(Bytes)`, typed headers through
/// `HeadersExt` and `ToTypedHeader`.
pub fn rsip(raw: &Bytes) -> Option<u64> {
    use rsip::prelude::{HasHeaders, HeadersExt, ToTypedHeader, UntypedHeader};
    let msg = rsip::SipMessage::try_from(raw.clone()).ok()?;
    let via = msg.via_header().ok()?.typed().ok()?;
    let from = msg.from_header().ok()?.typed().ok()?;
    let to = msg.to_header().ok()?.typed().ok()?;
    let call_id = msg.call_id_header().ok()?;
    let cseq = msg.cseq_header().ok()?.typed().ok()?;
    let contact = msg.contact_header().ok()?.typed().ok()?;
    let length = msg.headers().iter().find_map(|h| match h {
        rsip::Header::ContentLength(l) => l.length().ok(),
        _ => None,
    })?;
    let mut acc = mix(0, via.branch()?.value().len());
    acc = mix(acc, from.tag()?.value().len());
    acc = mix(acc, to.uri.auth.as_ref()?.user.len());
    acc = mix(acc, call_id.value().len());
    acc = mix(
        acc,
        cseq.seq as usize + usize::from(cseq.method == rsip::Method::Invite),
    );
    acc = mix(acc, usize::from(contact.uri.host_with_port.port.is_some()));
    Some(mix(acc, length as usize))
}

/// rsipstack 0.7 (its own fork of rsip, `rsipstack::sip`): the parser its
/// transports call (`SipMessage::try_from(Bytes)`), same typed accessors.
pub fn rsipstack(raw: &Bytes) -> Option<u64> {
    use rsipstack::sip::HasHeaders;
    use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
    let msg = rsipstack::sip::SipMessage::try_from(raw.clone()).ok()?;
    let via = msg.via_header().ok()?.typed().ok()?;
    let from = msg.from_header().ok()?.typed().ok()?;
    let to = msg.to_header().ok()?.typed().ok()?;
    let call_id = msg.call_id_header().ok()?;
    let cseq = msg.cseq_header().ok()?.typed().ok()?;
    let contact = msg.contact_header().ok()?.typed().ok()?;
    let length: u32 = msg.headers().iter().find_map(|h| match h {
        rsipstack::sip::Header::ContentLength(l) => l.value().trim().parse().ok(),
        _ => None,
    })?;
    let mut acc = mix(0, via.branch()?.value().len());
    acc = mix(acc, from.tag()?.value().len());
    acc = mix(acc, to.uri.auth.as_ref()?.user.len());
    acc = mix(acc, call_id.value().len());
    acc = mix(
        acc,
        cseq.seq as usize + usize::from(cseq.method == rsipstack::sip::Method::Invite),
    );
    acc = mix(acc, usize::from(contact.uri.host_with_port.port.is_some()));
    Some(mix(acc, length as usize))
}

/// One "parse + typed access" routine.
pub type Run = fn(&Bytes) -> Option<u64>;

/// The parsers, named as in the reports.
pub const PARSERS: [(&str, Run); 3] = [
    ("voip-sip", voip_sip),
    ("rsip", rsip),
    ("rsipstack", rsipstack),
];
