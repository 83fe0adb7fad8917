//! Building responses to requests (RFC 3261 §8.2.6), including requests that
//! did not parse.

use bytes::{Bytes, BytesMut};

use crate::header::{NameAddr, To, TypedHeader};
use crate::message::{
    HeaderName, Headers, Known, ParseError, Request, Response, StatusCode, scan_lines, unfold,
};

impl Response {
    /// A response to `request`: Via (all), From, To, Call-ID and CSeq copied,
    /// `Content-Length: 0`. Add a To tag with [`Response::with_to_tag`].
    pub fn for_request(request: &Request, status: StatusCode) -> Self {
        let mut r = Response::new(status);
        copy_dialog_headers(&request.headers, &mut r.headers);
        r.headers
            .push(Known::ContentLength, Bytes::from_static(b"0"));
        r
    }

    /// Adds `tag` to the To header unless it has one (RFC 3261 §8.2.6.2;
    /// not for 100 Trying).
    pub fn with_to_tag(mut self, tag: &str) -> Self {
        if self.status == StatusCode::TRYING {
            return self;
        }
        if let Some(Ok(mut to)) = self.headers.typed::<To>() {
            if to.tag().is_none() {
                to.set_tag(Bytes::copy_from_slice(tag.as_bytes()));
                self.headers.set_typed(&to);
            }
        } else if let Some(raw) = self.headers.get_bytes(&Known::To.into()) {
            // An unparseable To is echoed with the tag appended.
            let mut v = BytesMut::from(&raw[..]);
            v.extend_from_slice(b";tag=");
            v.extend_from_slice(tag.as_bytes());
            self.headers.set(Known::To.into(), v.freeze());
        }
        self
    }
}

fn copy_dialog_headers(from: &Headers, to: &mut Headers) {
    for h in from {
        if matches!(
            h.name.known(),
            Some(Known::Via | Known::From | Known::To | Known::CallId | Known::CSeq)
        ) {
            to.push(h.name.clone(), h.value_bytes());
        }
    }
}

/// The response to a request that failed to parse, built from whatever Via,
/// From, To, Call-ID and CSeq lines can be recovered (RFC 4475 §3.1.2: 400,
/// or 505 for a bad version, 513 when too large). `None` when no answer can
/// or should be sent: the message is a response, an ACK, or has no Via.
pub fn reply_to_malformed(raw: &[u8], error: &ParseError, to_tag: &str) -> Option<Bytes> {
    let start = raw.iter().position(|c| *c != b'\r' && *c != b'\n')?;
    let rest = &raw[start..];
    if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"SIP/") {
        return None;
    }
    if rest.starts_with(b"ACK ") {
        return None;
    }
    if matches!(error, ParseError::TooLarge { .. }) && raw.len() > 256 * 1024 {
        // Far too large to scan: drop.
        return None;
    }
    let first_end = memchr::memchr(b'\n', rest).map_or(raw.len(), |i| start + i + 1);
    let mut headers = Headers::new();
    // A line without a colon ends the salvage; keep what came before it.
    let _ = scan_lines(raw, first_end, |name, value, folded| {
        let n = raw[name].trim_ascii_end();
        let name = HeaderName::from_bytes(Bytes::copy_from_slice(n));
        if matches!(
            name.known(),
            Some(Known::Via | Known::From | Known::To | Known::CallId | Known::CSeq)
        ) {
            let v = if folded {
                unfold(&raw[value])
            } else {
                Bytes::copy_from_slice(raw[value].trim_ascii())
            };
            headers.push(name, v);
        }
        Ok(())
    });
    if !headers.contains(&Known::Via.into()) {
        return None;
    }
    let mut response = Response::new(error.status());
    response.reason = Bytes::from_static(error.reason().as_bytes());
    copy_dialog_headers(&headers, &mut response.headers);
    response
        .headers
        .push(Known::ContentLength, Bytes::from_static(b"0"));
    Some(response.with_to_tag(to_tag).to_bytes())
}

/// Builds a `To` from a URI, for requests the SDK creates.
pub fn to_header(addr: NameAddr) -> Bytes {
    To(addr).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Message, ParseConfig, parse_message};

    #[test]
    fn echoes_and_tags() {
        let raw = Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nVia: SIP/2.0/UDP g;branch=z9hG4bK2\r\nTo: <sip:a@b>\r\nFrom: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n\r\n");
        let Ok(Message::Request(req)) = parse_message(raw, &ParseConfig::default()) else {
            panic!()
        };
        let resp = Response::for_request(&req, StatusCode::OK).with_to_tag("abc");
        assert_eq!(resp.headers.count(&Known::Via.into()), 2);
        assert_eq!(resp.to().unwrap().unwrap().tag(), Some(&b"abc"[..]));
        assert!(!resp.headers.contains(&Known::MaxForwards.into()));
        let again = resp.clone().with_to_tag("other");
        assert_eq!(again.to().unwrap().unwrap().tag(), Some(&b"abc"[..]));
    }

    #[test]
    fn malformed_requests_get_400_when_possible() {
        let raw = b"INVITE <sip:user@example.com> SIP/2.0\r\nTo: sip:user@example.com\r\nFrom: sip:caller@example.net;tag=39291\r\nCall-ID: ltgtruri.1@192.0.2.5\r\nCSeq: 1 INVITE\r\nVia: SIP/2.0/UDP 192.0.2.5\r\n\r\n";
        let err = parse_message(Bytes::from_static(raw), &ParseConfig::default()).unwrap_err();
        let out = reply_to_malformed(raw, &err, "t1").unwrap();
        let Ok(Message::Response(r)) = parse_message(out, &ParseConfig::default()) else {
            panic!()
        };
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.to().unwrap().unwrap().tag(), Some(&b"t1"[..]));
        assert!(
            reply_to_malformed(b"SIP/2.0 999 x\r\n\r\n", &ParseError::StartLine, "t").is_none()
        );
        assert!(
            reply_to_malformed(b"OPTIONS x\r\nTo: a\r\n\r\n", &ParseError::StartLine, "t")
                .is_none()
        );
    }
}
