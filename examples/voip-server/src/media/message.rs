//! What the media glue reads from a proxied SIP message: the dialog
//! coordinates (Call-ID, tags, CSeq), whether it is a request or a
//! response, and its SDP body; and the few SDP facts it needs (SRTP or
//! not, the first audio codec, the audio address).

#[cfg(test)]
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use voip_sip::{Known, Message, Method, ParseConfig, parse_message};

/// Request or response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A request with this method.
    Request(Method),
    /// A response with this status.
    Response(u16),
}

/// What the offer/answer tracker needs to know about a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// The Call-ID.
    pub call_id: String,
    /// The From tag (the requester's tag, also in responses).
    pub from_tag: Option<Bytes>,
    /// The To tag (none on an initial INVITE).
    pub to_tag: Option<Bytes>,
    /// The CSeq number.
    pub cseq: u32,
    /// The CSeq method.
    pub cseq_method: Method,
    /// Request or response.
    pub kind: Kind,
    /// The body, when it is `application/sdp`.
    pub sdp: Option<Bytes>,
}

impl Facts {
    /// Reads a message; `None` when a header it needs is missing or broken.
    pub fn of(message: &Message) -> Option<Self> {
        let (kind, from, to, call_id, cseq) = match message {
            Message::Request(r) => (
                Kind::Request(r.method.clone()),
                r.from()?.ok()?,
                r.to()?.ok()?,
                r.call_id()?.ok()?,
                r.cseq()?.ok()?,
            ),
            Message::Response(r) => (
                Kind::Response(r.status.as_u16()),
                r.from()?.ok()?,
                r.to()?.ok()?,
                r.call_id()?.ok()?,
                r.cseq()?.ok()?,
            ),
        };
        let body = message.body();
        let sdp = (!body.is_empty() && is_sdp(message)).then(|| body.clone());
        Some(Self {
            call_id: String::from_utf8_lossy(&call_id.0).into_owned(),
            from_tag: from.tag().map(Bytes::copy_from_slice),
            to_tag: to.tag().map(Bytes::copy_from_slice),
            cseq: cseq.seq,
            cseq_method: cseq.method,
            kind,
            sdp,
        })
    }
}

/// Whether the body is `application/sdp` (parameters and case ignored).
fn is_sdp(message: &Message) -> bool {
    message
        .headers()
        .get(&Known::ContentType.into())
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/sdp"))
}

/// Whether `contents` may need the relay: an INVITE (which may carry no
/// offer and open a call) or anything mentioning an SDP body. Saves
/// parsing the other messages.
pub fn may_carry_media(contents: &[u8]) -> bool {
    contents.starts_with(b"INVITE ")
        || contents
            .windows(15)
            .any(|w| w.eq_ignore_ascii_case(b"application/sdp"))
}

/// Parses outgoing bytes (our own output, so it parses).
pub fn parse(contents: &Bytes) -> Option<Message> {
    parse_message(contents.clone(), &ParseConfig::default()).ok()
}

/// The message with `body` in place of its body (Content-Length fixed,
/// Content-Type kept: still `application/sdp`).
pub fn with_body(message: Message, body: Bytes) -> Bytes {
    match message {
        Message::Request(mut r) => {
            r.set_body(None, body);
            r.to_bytes()
        }
        Message::Response(mut r) => {
            r.set_body(None, body);
            r.to_bytes()
        }
    }
}

/// The first `m=audio` section's lines, and the session-level lines before
/// the first `m=`.
fn audio_section(sdp: &[u8]) -> Option<(Vec<&str>, Vec<&str>)> {
    let text = std::str::from_utf8(sdp).ok()?;
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let first_m = lines
        .iter()
        .position(|l| l.starts_with("m="))
        .unwrap_or(lines.len());
    let start = lines.iter().position(|l| l.starts_with("m=audio "))?;
    let end = lines[start + 1..]
        .iter()
        .position(|l| l.starts_with("m="))
        .map_or(lines.len(), |i| start + 1 + i);
    Some((lines[start..end].to_vec(), lines[..first_m].to_vec()))
}

/// Whether the first audio stream is SRTP (`RTP/SAVP` or `RTP/SAVPF`).
pub fn is_secure(sdp: &[u8]) -> bool {
    audio_section(sdp).is_some_and(|(media, _)| {
        media[0]
            .split_whitespace()
            .nth(2)
            .is_some_and(|proto| proto.contains("SAVP"))
    })
}

/// The first codec of the first audio stream, e.g. `PCMU` or `opus`
/// (telephone-event, comfort noise and redundancy formats skipped).
pub fn first_codec(sdp: &[u8]) -> Option<String> {
    let (media, _) = audio_section(sdp)?;
    media[0].split_whitespace().skip(3).find_map(|pt| {
        let rtpmap = format!("a=rtpmap:{pt} ");
        let name = match media.iter().find(|l| l.starts_with(&rtpmap)) {
            Some(line) => line[rtpmap.len()..].split('/').next()?.trim(),
            None => match pt {
                "0" => "PCMU",
                "8" => "PCMA",
                "9" => "G722",
                "13" => "CN",
                "18" => "G729",
                other => other,
            },
        };
        let auxiliary = ["telephone-event", "CN", "red", "ulpfec"]
            .iter()
            .any(|a| name.eq_ignore_ascii_case(a));
        (!auxiliary).then(|| name.to_owned())
    })
}

/// Where the first audio stream wants RTP: its `c=` (media level, else
/// session level) and the `m=` port.
#[cfg(test)]
pub fn audio_address(sdp: &[u8]) -> Option<SocketAddr> {
    let (media, session) = audio_section(sdp)?;
    let port: u16 = media[0].split_whitespace().nth(1)?.parse().ok()?;
    let c = media
        .iter()
        .chain(session.iter())
        .find(|l| l.starts_with("c="))?;
    let ip: IpAddr = c
        .split_whitespace()
        .nth(2)?
        .split('/')
        .next()?
        .parse()
        .ok()?;
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
        m=video 5000 RTP/AVP 96\r\nm=audio 4000 RTP/SAVP 96 0 101\r\nc=IN IP4 10.0.0.2\r\n\
        a=rtpmap:96 opus/48000/2\r\na=rtpmap:101 telephone-event/8000\r\n";

    #[test]
    fn sdp_facts() {
        assert!(is_secure(SDP.as_bytes()));
        assert_eq!(first_codec(SDP.as_bytes()).as_deref(), Some("opus"));
        assert_eq!(
            audio_address(SDP.as_bytes()),
            Some("10.0.0.2:4000".parse().unwrap())
        );
        let plain = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 4002 RTP/AVP 0 8\r\n";
        assert!(!is_secure(plain.as_bytes()));
        assert_eq!(first_codec(plain.as_bytes()).as_deref(), Some("PCMU"));
        assert_eq!(
            audio_address(plain.as_bytes()),
            Some("10.0.0.1:4002".parse().unwrap())
        );
        assert_eq!(first_codec(b"v=0\r\nm=video 1 RTP/AVP 96\r\n"), None);
        let events_first =
            "v=0\r\nm=audio 4 RTP/AVP 101 13 0\r\na=rtpmap:101 telephone-event/8000\r\n";
        assert_eq!(
            first_codec(events_first.as_bytes()).as_deref(),
            Some("PCMU")
        );
        assert_eq!(audio_address(b"\xff\xfe"), None);
    }

    fn invite(body: &str, content_type: &str) -> Bytes {
        Bytes::from(format!(
            "INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
             From: <sip:a@h>;tag=fa\r\nTo: <sip:b@h>\r\nCall-ID: c1\r\nCSeq: 7 INVITE\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    #[test]
    fn facts_and_body_replacement() {
        let raw = invite(SDP, "Application/SDP; charset=utf-8");
        assert!(may_carry_media(&raw));
        let message = parse(&raw).unwrap();
        let facts = Facts::of(&message).unwrap();
        assert_eq!(facts.call_id, "c1");
        assert_eq!(facts.from_tag.as_deref(), Some(&b"fa"[..]));
        assert_eq!(facts.to_tag, None);
        assert_eq!((facts.cseq, facts.cseq_method.clone()), (7, Method::Invite));
        assert_eq!(facts.kind, Kind::Request(Method::Invite));
        assert_eq!(facts.sdp.as_deref(), Some(SDP.as_bytes()));
        let out = with_body(message, Bytes::from_static(b"v=0\r\n"));
        let again = parse(&out).unwrap();
        assert_eq!(again.body(), &Bytes::from_static(b"v=0\r\n"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("Content-Length: 5\r\n"), "{text}");
        assert!(text.contains("Content-Type: Application/SDP"), "{text}");
        // another body type is not SDP
        let other = parse(&invite("hello", "text/plain")).unwrap();
        assert_eq!(Facts::of(&other).unwrap().sdp, None);
        assert!(!may_carry_media(b"BYE sip:x SIP/2.0\r\n\r\n"));
    }
}
