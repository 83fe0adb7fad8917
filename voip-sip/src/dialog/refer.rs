//! Transfer helpers: Refer-To with an embedded Replaces (RFC 3515, RFC
//! 3891), and the message/sipfrag bodies of the NOTIFYs that report a
//! transfer's progress (RFC 3420).

use bytes::Bytes;

use crate::header::{ReferTo, Replaces, TypedHeader};
use crate::message::StatusCode;
use crate::uri::Uri;

/// The Content-Type of transfer progress NOTIFYs.
pub const SIPFRAG: &str = "message/sipfrag;version=2.0";

/// A sipfrag body holding the status line `SIP/2.0 <code> <reason>`.
pub fn sipfrag(status: StatusCode) -> Bytes {
    Bytes::from(format!(
        "SIP/2.0 {} {}\r\n",
        status.as_u16(),
        status.canonical_reason()
    ))
}

/// The status of a sipfrag body's status line, if it has one.
pub fn sipfrag_status(body: &[u8]) -> Option<StatusCode> {
    let line = body.split(|c| *c == b'\n').next()?;
    let rest = line.strip_prefix(b"SIP/2.0 ")?;
    let code = rest.get(..3)?;
    if !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    StatusCode::new(std::str::from_utf8(code).ok()?.parse().ok()?)
}

fn is_unreserved(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&c)
}

fn escape(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len() * 2);
    for &c in value {
        if is_unreserved(c) {
            out.push(char::from(c));
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if value[i] == b'%' && i + 2 < value.len() {
            if let (Some(h), Some(l)) = (hex(value[i + 1]), hex(value[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    out
}

/// The Refer-To for a transfer to `target`; with `replaces`, an attended
/// transfer: the Replaces rides escaped in the URI's headers
/// (`<sip:carol@host?Replaces=call%40id%3Bto-tag%3D1%3Bfrom-tag%3D2>`).
pub fn refer_to(target: &Uri, replaces: Option<&Replaces>) -> ReferTo {
    let mut uri = target.clone();
    if let (Uri::Sip(u), Some(r)) = (&mut uri, replaces) {
        u.set_headers(Some(format!("Replaces={}", escape(&r.to_bytes()))));
    }
    ReferTo(crate::header::NameAddr::new(uri))
}

/// Splits a received Refer-To into the target (without URI headers) and
/// the Replaces it carries, if any (an invalid one is ignored).
pub fn split_refer_to(refer_to: &ReferTo) -> (Uri, Option<Replaces>) {
    let mut uri = refer_to.uri().clone();
    let mut replaces = None;
    if let Uri::Sip(u) = &mut uri {
        if let Some(headers) = u.headers() {
            for pair in headers.split(|c| *c == b'&') {
                let mut kv = pair.splitn(2, |c| *c == b'=');
                let (Some(name), Some(value)) = (kv.next(), kv.next()) else {
                    continue;
                };
                if name.eq_ignore_ascii_case(b"Replaces") {
                    replaces = Replaces::parse(&Bytes::from(unescape(value))).ok();
                }
            }
            u.set_headers(None::<&[u8]>);
        }
    }
    (uri, replaces)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uri::Params;

    #[test]
    fn sipfrag_bodies() {
        assert_eq!(&sipfrag(StatusCode::TRYING)[..], b"SIP/2.0 100 Trying\r\n");
        assert_eq!(&sipfrag(StatusCode::OK)[..], b"SIP/2.0 200 OK\r\n");
        assert_eq!(
            sipfrag_status(b"SIP/2.0 180 Ringing\r\n"),
            Some(StatusCode::RINGING)
        );
        assert_eq!(
            sipfrag_status(b"SIP/2.0 603 Declined"),
            Some(StatusCode::DECLINE)
        );
        assert_eq!(sipfrag_status(b"INVITE sip:x SIP/2.0\r\n"), None);
        assert_eq!(sipfrag_status(b"SIP/2.0 6"), None);
        assert_eq!(sipfrag_status(b""), None);
    }

    #[test]
    fn replaces_rides_in_the_refer_to_uri() {
        // RFC 3891 §6.1's example dialog
        let mut params = Params::new();
        params.set("to-tag", Some(Bytes::from_static(b"7743")));
        params.set("from-tag", Some(Bytes::from_static(b"6472")));
        let r = Replaces {
            call_id: Bytes::from_static(b"425928@bobster.example.org"),
            params,
        };
        let target: Uri = "sip:bob@bobster.example.org".parse().unwrap();
        let rt = refer_to(&target, Some(&r));
        let printed = rt.to_bytes();
        assert_eq!(
            &printed[..],
            &b"<sip:bob@bobster.example.org?Replaces=425928%40bobster.example.org%3Bto-tag%3D7743%3Bfrom-tag%3D6472>"[..]
        );
        let parsed = ReferTo::parse(&printed).unwrap();
        let (uri, back) = split_refer_to(&parsed);
        assert_eq!(uri, target);
        assert_eq!(back, Some(r));
        let (uri, none) = split_refer_to(&refer_to(&target, None));
        assert_eq!((uri, none), (target, None));
    }

    #[test]
    fn unescape_tolerates_broken_escapes() {
        assert_eq!(unescape(b"a%4"), b"a%4");
        assert_eq!(unescape(b"%zz%41"), b"%zzA");
        assert_eq!(unescape(b"%"), b"%");
    }
}
