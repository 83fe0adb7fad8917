//! Conversions to and from [`rsip`] 0.4 messages (feature `rsip`).
//!
//! rsip is not the SDK's message model: on the RFC 4475 and RFC 5118 corpora
//! it rejects the canonical valid message `wsinv` and a dozen other messages
//! a SIP element must accept, parses no bracketed IPv6 host, truncates URI
//! parameter values at ':' and is several times slower than this crate's
//! zero-copy parser (see DESIGN.md and docs/benchmarks.md). Code written
//! against rsip's types still plugs in through these conversions:
//!
//! ```
//! # use bytes::Bytes;
//! # use voip_sip::{Message, ParseConfig, Request, parse_message};
//! # let raw = Bytes::from_static(b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
//! # let Ok(Message::Request(ours)) = parse_message(raw, &ParseConfig::default()) else { panic!() };
//! let theirs = rsip::Request::try_from(&ours)?;
//! let back = Request::try_from(&theirs)?;
//! assert_eq!(back.method, ours.method);
//! # Ok::<(), voip_sip::RsipError>(())
//! ```
//!
//! Each conversion prints the message and parses it with the other library,
//! so it is exactly as strict as the receiving parser: messages rsip cannot
//! parse fail with [`RsipError::Rsip`].

use bytes::{Bytes, BytesMut};

use crate::message::{Message, ParseConfig, ParseError, Request, Response, parse_message};

/// Why a message could not be converted to or from rsip.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RsipError {
    /// rsip did not parse the message this crate printed.
    #[error("rsip rejected the message: {0}")]
    Rsip(#[from] rsip::Error),
    /// This crate did not parse the message rsip printed.
    #[error("rsip message does not parse: {0}")]
    Parse(#[from] ParseError),
    /// A request was expected, the bytes hold a response.
    #[error("expected a request, found a response")]
    NotARequest,
    /// A response was expected, the bytes hold a request.
    #[error("expected a response, found a request")]
    NotAResponse,
}

/// The limits for messages that come from rsip: the sizes of a stream
/// message rather than of a datagram, since the message is already in memory.
fn config(len: usize) -> ParseConfig {
    let default = ParseConfig::default();
    ParseConfig {
        max_message_size: default.max_message_size.max(len),
        max_body_size: default.max_body_size.max(len),
        ..default
    }
}

/// rsip's `Display` decodes the body lossily as UTF-8; print the head with
/// it and append the body bytes unchanged.
fn wire(head: String, body: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    out.freeze()
}

impl TryFrom<&Request> for rsip::Request {
    type Error = RsipError;

    fn try_from(request: &Request) -> Result<Self, Self::Error> {
        Ok(rsip::Request::try_from(request.to_bytes())?)
    }
}

impl TryFrom<&Response> for rsip::Response {
    type Error = RsipError;

    fn try_from(response: &Response) -> Result<Self, Self::Error> {
        Ok(rsip::Response::try_from(response.to_bytes())?)
    }
}

impl TryFrom<&rsip::Request> for Request {
    type Error = RsipError;

    fn try_from(request: &rsip::Request) -> Result<Self, Self::Error> {
        let head = format!(
            "{} {} {}\r\n{}\r\n",
            request.method, request.uri, request.version, request.headers
        );
        let raw = wire(head, &request.body);
        let len = raw.len();
        match parse_message(raw, &config(len))? {
            Message::Request(r) => Ok(r),
            Message::Response(_) => Err(RsipError::NotARequest),
        }
    }
}

impl TryFrom<&rsip::Response> for Response {
    type Error = RsipError;

    fn try_from(response: &rsip::Response) -> Result<Self, Self::Error> {
        let head = format!(
            "{} {}\r\n{}\r\n",
            response.version, response.status_code, response.headers
        );
        let raw = wire(head, &response.body);
        let len = raw.len();
        match parse_message(raw, &config(len))? {
            Message::Response(r) => Ok(r),
            Message::Request(_) => Err(RsipError::NotAResponse),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::{CallId, Contact, Via};
    use crate::{Method, StatusCode};
    use rsip::prelude::{HeadersExt, ToTypedHeader, UntypedHeader};

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com:5060>\r\n\
Content-Type: application/sdp\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS\r\n\
User-Agent: voip-sip test\r\n\
Content-Length: 136\r\n\
\r\n\
v=0\r\n\
o=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\n\
s=-\r\n\
c=IN IP4 192.0.2.101\r\n\
t=0 0\r\n\
m=audio 49172 RTP/AVP 0\r\n\
a=rtpmap:0 PCMU/8000\r\n";

    const OK: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK776asdhds;received=192.0.2.101\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:bob@192.0.2.4:5060>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 10\r\n\
\r\n\
v=0\r\n\
s=-\r\n";

    fn parse(raw: &'static [u8]) -> Message {
        parse_message(Bytes::from_static(raw), &ParseConfig::default()).unwrap()
    }

    fn call_id(h: &crate::Headers) -> Bytes {
        h.typed::<CallId>().unwrap().unwrap().0
    }

    #[test]
    fn invite_round_trips_through_rsip() {
        let Message::Request(ours) = parse(INVITE) else {
            panic!("a request")
        };
        let theirs = rsip::Request::try_from(&ours).unwrap();
        assert_eq!(theirs.method, rsip::Method::Invite);
        assert_eq!(theirs.uri.to_string(), "sip:bob@biloxi.example.com");
        assert_eq!(
            theirs.call_id_header().unwrap().value(),
            "a84b4c76e66710@pc33.atlanta.example.com"
        );
        assert_eq!(theirs.headers.iter().count(), ours.headers.len());
        assert_eq!(theirs.body, &ours.body[..]);
        let branch = theirs.via_header().unwrap().typed().unwrap();
        assert_eq!(
            branch.branch().map(|b| b.to_string()).as_deref(),
            Some("z9hG4bK776asdhds")
        );

        let back = Request::try_from(&theirs).unwrap();
        assert_eq!(back.method, Method::Invite);
        assert_eq!(back.uri, ours.uri);
        assert_eq!(call_id(&back.headers), call_id(&ours.headers));
        assert_eq!(back.headers.len(), ours.headers.len());
        assert_eq!(back.body, ours.body);
        assert_eq!(
            back.headers.typed::<Via>().unwrap().unwrap().branch(),
            Some(&b"z9hG4bK776asdhds"[..])
        );
        let contact = back.headers.typed::<Contact>().unwrap().unwrap();
        assert_eq!(
            contact.address().map(|a| a.uri().to_bytes()),
            Some(Bytes::from_static(
                b"sip:alice@pc33.atlanta.example.com:5060"
            ))
        );
    }

    #[test]
    fn ok_round_trips_through_rsip() {
        let Message::Response(ours) = parse(OK) else {
            panic!("a response")
        };
        let theirs = rsip::Response::try_from(&ours).unwrap();
        assert_eq!(theirs.status_code, rsip::StatusCode::OK);
        assert_eq!(
            theirs.call_id_header().unwrap().value(),
            "a84b4c76e66710@pc33.atlanta.example.com"
        );
        assert_eq!(theirs.headers.iter().count(), ours.headers.len());
        assert_eq!(theirs.body, &ours.body[..]);

        let back = Response::try_from(&theirs).unwrap();
        assert_eq!(back.status, StatusCode::OK);
        assert_eq!(call_id(&back.headers), call_id(&ours.headers));
        assert_eq!(back.headers.len(), ours.headers.len());
        assert_eq!(back.body, ours.body);
    }

    #[test]
    fn rsip_messages_convert_and_back() {
        let theirs = rsip::Request::try_from(INVITE).unwrap();
        let ours = Request::try_from(&theirs).unwrap();
        assert_eq!(ours.method.as_bytes(), b"INVITE");
        assert_eq!(ours.uri.to_bytes(), theirs.uri.to_string().as_bytes());
        assert_eq!(
            &call_id(&ours.headers)[..],
            theirs.call_id_header().unwrap().value().as_bytes()
        );
        assert_eq!(ours.headers.len(), theirs.headers.iter().count());
        assert_eq!(&ours.body[..], &theirs.body[..]);
        let again = rsip::Request::try_from(&ours).unwrap();
        assert_eq!(again, theirs);

        let theirs = rsip::Response::try_from(OK).unwrap();
        let ours = Response::try_from(&theirs).unwrap();
        assert_eq!(ours.status.as_u16(), 200);
        assert_eq!(ours.headers.len(), theirs.headers.iter().count());
        assert_eq!(&ours.body[..], &theirs.body[..]);
        let again = rsip::Response::try_from(&ours).unwrap();
        assert_eq!(again.headers, theirs.headers);
        assert_eq!(again.body, theirs.body);
    }

    #[test]
    fn errors_are_reported() {
        let mut theirs = rsip::Request::try_from(INVITE).unwrap();
        theirs.body.truncate(10);
        let err = Request::try_from(&theirs).unwrap_err();
        assert!(matches!(
            err,
            RsipError::Parse(ParseError::Truncated {
                declared: 136,
                available: 10
            })
        ));
        assert_eq!(
            err.to_string(),
            "rsip message does not parse: content-length 136 exceeds the 10 bytes of body"
        );
    }
}
