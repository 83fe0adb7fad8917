//! `TypedHeader::parse_in` (a value parsed in place in the message buffer)
//! must answer exactly as `parse` of the value alone, whatever surrounds the
//! value in the buffer.

use bytes::Bytes;

use crate::header::{
    CSeq, CallId, Contact, ContentLength, Expires, From, MaxForwards, RecordRoute, Route, To,
    TypedHeader, Via,
};

/// What may follow a value in a message: the next line, or bytes that
/// would change the parse if a parser read past the value's end.
const SUFFIXES: [&str; 6] = [
    "\r\nCSeq: 1 INVITE\r\n",
    ";tag=zz\r\n",
    ">;lr, <sip:b@c>\r\n",
    "\"unterminated",
    "0123 x",
    ":5060;branch=z9hG4bKx",
];

const PREFIXES: [&str; 3] = ["", "Via: ", "garbage ;<>\",\r\n"];

fn same<H: TypedHeader + PartialEq + std::fmt::Debug>(values: &[&str]) {
    for value in values {
        let alone = H::parse(&Bytes::copy_from_slice(value.as_bytes()));
        for prefix in PREFIXES {
            for suffix in SUFFIXES {
                let buf = Bytes::from(format!("{prefix}{value}{suffix}"));
                let (s, e) = (prefix.len(), prefix.len() + value.len());
                assert_eq!(
                    H::parse_in(&buf, s, e),
                    alone,
                    "{value:?} between {prefix:?} and {suffix:?}"
                );
            }
        }
    }
}

const ADDRESSES: [&str; 12] = [
    "<sip:alice@atlanta.example.com>;tag=1928301774",
    "\"Bob \\\"B\\\"\" <sips:bob@[2001:db8::10]:5061;transport=tls>;tag=a6c85cf",
    "Anonymous <sip:c8oqz84zk7z@privacy.org>;tag=hyh8",
    "sip:+12125551212@phone2net.example.com;tag=887s",
    "<sip:p1.example.com;lr>",
    "  <sip:user@host:5060>  ",
    "<sip:a@b",
    "\"open <sip:a@b>",
    "sip:a@b?x=1",
    "",
    "<sip:a@b>;",
    "<tel:+1-201-555-0123>",
];

#[test]
fn name_addr_headers() {
    same::<From>(&ADDRESSES);
    same::<To>(&ADDRESSES);
    same::<Route>(&ADDRESSES);
    same::<RecordRoute>(&ADDRESSES);
    let mut contacts = ADDRESSES.to_vec();
    contacts.extend(["*", " * ", "<sip:a@b>;expires=3600;q=0.7"]);
    same::<Contact>(&contacts);
}

#[test]
fn via() {
    same::<Via>(&[
        "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds",
        "SIP/2.0/TCP [2001:db8::9:1]:5061;branch=z9hG4bKx;received=2001:db8::9:255",
        "SIP / 2.0 / UDP 192.0.2.1 : 5060 ; rport ; branch = z9hG4bK1",
        "SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK56sdasks",
        "SIP/2.0/UDP host",
        "SIP/2.0/UDP",
        "SIP/2.0/UDP host:99999",
        "SIP/2.0/UDP host;branch=\"quoted\"",
        "",
    ]);
}

#[test]
fn simple_headers() {
    same::<CallId>(&["a84b4c76e66710@pc33.atlanta.example.com", " x ", "", "a b"]);
    same::<CSeq>(&[
        "314159 INVITE",
        "1 FOO",
        " 2  BYE ",
        "x INVITE",
        "1",
        "4294967296 ACK",
    ]);
    same::<ContentLength>(&["0", " 142 ", "x", "99999999999"]);
    same::<MaxForwards>(&["70", "256", ""]);
    same::<Expires>(&["3600", "-1"]);
}
