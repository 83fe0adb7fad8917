//! The zero-copy message parser (RFC 3261 §7, §25).
//!
//! Values are slices of the input buffer; only folded header values are
//! copied (to replace the folding with one space).

use bytes::{Bytes, BytesMut};

use super::headers::{HeaderName, Headers, Known};
use super::{Message, Method, Request, Response, StatusCode};
use crate::charset;
use crate::header::is_token_char;
use crate::uri::{Uri, UriError};

/// Limits applied while parsing. Violations are errors that map to a
/// response status, never panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseConfig {
    /// Largest message accepted, headers and body (default 65,535: the
    /// largest UDP datagram). Larger: 513.
    pub max_message_size: usize,
    /// Most header lines accepted (default 256). More: 400.
    pub max_headers: usize,
    /// Largest body accepted (default 65,535). Larger: 413.
    pub max_body_size: usize,
}

impl Default for ParseConfig {
    fn default() -> Self {
        Self {
            max_message_size: 65_535,
            max_headers: 256,
            max_body_size: 65_535,
        }
    }
}

/// Why a message did not parse, and what to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// Nothing but whitespace.
    #[error("empty message")]
    Empty,
    /// Over [`ParseConfig::max_message_size`].
    #[error("message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Size received.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Over [`ParseConfig::max_headers`].
    #[error("more than {limit} header lines")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The request or status line is malformed.
    #[error("malformed start line")]
    StartLine,
    /// The Request-URI is malformed.
    #[error("malformed request-uri: {0}")]
    RequestUri(UriError),
    /// A SIP version other than 2.0.
    #[error("unsupported sip version")]
    Version,
    /// A header line without a colon or with an invalid name.
    #[error("malformed header line {line}")]
    HeaderLine {
        /// 1-based line number.
        line: usize,
    },
    /// Content-Length is not a number, or appears with different values.
    #[error("invalid content-length")]
    ContentLength,
    /// Content-Length promises more bytes than arrived.
    #[error("content-length {declared} exceeds the {available} bytes of body")]
    Truncated {
        /// Content-Length.
        declared: usize,
        /// Bytes after the header section.
        available: usize,
    },
    /// Over [`ParseConfig::max_body_size`].
    #[error("body of {size} bytes exceeds the limit of {limit}")]
    BodyTooLarge {
        /// Declared size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

impl ParseError {
    /// The status a server answers a request with (RFC 3261 §21).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } => StatusCode::MESSAGE_TOO_LARGE,
            Self::BodyTooLarge { .. } => StatusCode::REQUEST_ENTITY_TOO_LARGE,
            Self::Version => StatusCode::VERSION_NOT_SUPPORTED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A reason phrase that says what was wrong.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Empty => "Bad Request (Empty)",
            Self::TooLarge { .. } => "Message Too Large",
            Self::TooManyHeaders { .. } => "Bad Request (Too Many Headers)",
            Self::StartLine => "Bad Request (Malformed Request-Line)",
            Self::RequestUri(_) => "Bad Request (Malformed Request-URI)",
            Self::Version => "Version Not Supported",
            Self::HeaderLine { .. } => "Bad Request (Malformed Header)",
            Self::ContentLength => "Bad Request (Invalid Content-Length)",
            Self::Truncated { .. } => "Bad Request (Content-Length Exceeds Body)",
            Self::BodyTooLarge { .. } => "Request Entity Too Large",
        }
    }
}

/// Finds `\n` from `pos`; returns (content end without `\r`, next line start).
fn line_end(b: &[u8], pos: usize) -> Option<(usize, usize)> {
    let nl = pos + charset::find_near(&b[pos..], b'\n')?;
    let end = if nl > pos && b[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };
    Some((end, nl + 1))
}

fn is_ws(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// Joins folded lines `b[s..e]` into one value, each fold becoming one space.
pub(crate) fn unfold(b: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(b.len());
    for (i, line) in b.split(|c| *c == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let t = line.trim_ascii();
        if t.is_empty() {
            continue;
        }
        if i > 0 && !out.is_empty() {
            out.extend_from_slice(b" ");
        }
        out.extend_from_slice(t);
    }
    out.freeze()
}

/// Walks the header lines of `b` starting at `pos`: calls `f(name_range,
/// value_range, folded)` for each logical header, returns the body start.
/// `Err(line)` for a line without a colon.
pub(crate) fn scan_lines(
    b: &[u8],
    mut pos: usize,
    mut f: impl FnMut(std::ops::Range<usize>, std::ops::Range<usize>, bool) -> Result<(), ParseError>,
) -> Result<usize, ParseError> {
    let mut line_no = 1;
    loop {
        if pos >= b.len() {
            return Ok(b.len());
        }
        line_no += 1;
        let Some((end, mut next)) = line_end(b, pos) else {
            // last line without line end: a header, then end of message
            let colon =
                memchr::memchr(b':', &b[pos..]).ok_or(ParseError::HeaderLine { line: line_no })?;
            f(pos..pos + colon, pos + colon + 1..b.len(), false)?;
            return Ok(b.len());
        };
        if end == pos {
            return Ok(next);
        }
        if is_ws(b[pos]) {
            // a continuation line with no header before it
            return Err(ParseError::HeaderLine { line: line_no });
        }
        let colon = memchr::memchr(b':', &b[pos..end])
            .map(|i| pos + i)
            .ok_or(ParseError::HeaderLine { line: line_no })?;
        let mut value_end = end;
        let mut folded = false;
        while next < b.len() && is_ws(b[next]) {
            folded = true;
            line_no += 1;
            match line_end(b, next) {
                Some((e, n)) => {
                    value_end = e;
                    next = n;
                }
                None => {
                    value_end = b.len();
                    next = b.len();
                }
            }
        }
        f(pos..colon, colon + 1..value_end, folded)?;
        pos = next;
    }
}

/// The known header named `name` (any case, compact forms included).
#[inline]
fn known_name(name: &[u8]) -> Option<Known> {
    if let Some(k) = Known::from_canonical(name) {
        return Some(k);
    }
    let mut lower = [0u8; 32];
    let dst = lower.get_mut(..name.len())?;
    for (d, c) in dst.iter_mut().zip(name) {
        *d = c.to_ascii_lowercase();
    }
    HeaderName::known_lowercase(dst)
}

/// The header section from `pos`: fills `headers`, returns the body start.
///
/// One pass over each name (token check and lowercasing together), one
/// `memchr` per line for its end.
fn scan_headers(
    buf: &Bytes,
    mut pos: usize,
    config: &ParseConfig,
    headers: &mut Headers,
    content_length: &mut Option<usize>,
) -> Result<usize, ParseError> {
    let b = &buf[..];
    let mut line = 1;
    loop {
        let Some(&first) = b.get(pos) else {
            return Ok(b.len());
        };
        line += 1;
        match first {
            b'\n' => return Ok(pos + 1),
            b'\r' if b.get(pos + 1) == Some(&b'\n') => return Ok(pos + 2),
            b'\r' => return Err(ParseError::HeaderLine { line }),
            _ => {}
        }
        let ns = pos;
        // Fast path: a known name (any case, then optional blanks) right
        // before the first ':'. Its bytes are all tokens, so the general
        // scan below would take the same name.
        let mut known = None;
        let mut ne = ns;
        if let Some(c) = charset::find(&b[ns..b.len().min(ns + 40)], b':') {
            let mut e = ns + c;
            while e > ns && is_ws(b[e - 1]) {
                e -= 1;
            }
            known = known_name(&b[ns..e]);
            if known.is_some() {
                ne = e;
                pos = ns + c;
            }
        }
        if known.is_none() {
            pos = charset::run(b, pos, b.len(), charset::TOKEN);
            ne = pos;
            while pos < b.len() && is_ws(b[pos]) {
                pos += 1;
            }
            if ne == ns || b.get(pos) != Some(&b':') {
                return Err(ParseError::HeaderLine { line });
            }
            known = known_name(&b[ns..ne]);
        }
        pos += 1;
        let vs = pos;
        let (mut ve, mut next) = match charset::find_near(&b[pos..], b'\n') {
            Some(i) => (pos + i, pos + i + 1),
            None => (b.len(), b.len()),
        };
        let mut folded = false;
        while next < b.len() && is_ws(b[next]) {
            folded = true;
            line += 1;
            (ve, next) = match charset::find_near(&b[next..], b'\n') {
                Some(i) => (next + i, next + i + 1),
                None => (b.len(), b.len()),
            };
        }
        if headers.len() >= config.max_headers {
            return Err(ParseError::TooManyHeaders {
                limit: config.max_headers,
            });
        }
        let name = match known {
            Some(k) => HeaderName::Known(k),
            None => HeaderName::Other(buf.slice(ns..ne)),
        };
        let (s, e) = if folded {
            (0, 0)
        } else {
            let (mut s, mut e) = (vs, ve);
            while s < e && b[s].is_ascii_whitespace() {
                s += 1;
            }
            while e > s && b[e - 1].is_ascii_whitespace() {
                e -= 1;
            }
            (s, e)
        };
        let folded_value = folded.then(|| unfold(&b[vs..ve]));
        if let HeaderName::Known(Known::ContentLength) = name {
            let t = folded_value.as_deref().unwrap_or(&b[s..e]);
            if t.is_empty() || t.len() > 10 || !t.iter().all(u8::is_ascii_digit) {
                return Err(ParseError::ContentLength);
            }
            let n = t
                .iter()
                .fold(0usize, |acc, d| acc * 10 + usize::from(d - b'0'));
            if content_length.is_some_and(|c| c != n) {
                return Err(ParseError::ContentLength);
            }
            *content_length = Some(n);
        }
        match folded_value {
            Some(v) => headers.push(name, v),
            None => headers.push_span(name, s, e),
        }
        pos = next;
    }
}

/// Parses one message from a datagram or a framed stream message.
///
/// Leading CRLFs are skipped (RFC 3261 §7.5). The body is `Content-Length`
/// bytes when the header is present (bytes beyond it are ignored, as on UDP),
/// else the rest of the buffer.
pub fn parse_message(buf: Bytes, config: &ParseConfig) -> Result<Message, ParseError> {
    if buf.len() > config.max_message_size {
        return Err(ParseError::TooLarge {
            size: buf.len(),
            limit: config.max_message_size,
        });
    }
    let b = &buf[..];
    let mut pos = 0;
    while pos < b.len() && (b[pos] == b'\r' || b[pos] == b'\n') {
        pos += 1;
    }
    if pos >= b.len() {
        return Err(ParseError::Empty);
    }
    let (first_end, next) = line_end(b, pos).unwrap_or((b.len(), b.len()));
    let first = &b[pos..first_end];
    let is_response = first.len() >= 4 && first[..4].eq_ignore_ascii_case(b"SIP/");

    let mut headers = Headers::over(buf.clone(), 16);
    let mut content_length: Option<usize> = None;
    let body_start = scan_headers(&buf, next, config, &mut headers, &mut content_length)?;

    let available = b.len() - body_start;
    let body = match content_length {
        Some(n) if n > config.max_body_size => {
            return Err(ParseError::BodyTooLarge {
                size: n,
                limit: config.max_body_size,
            });
        }
        Some(n) if n > available => {
            return Err(ParseError::Truncated {
                declared: n,
                available,
            });
        }
        Some(n) => buf.slice(body_start..body_start + n),
        None if available > config.max_body_size => {
            return Err(ParseError::BodyTooLarge {
                size: available,
                limit: config.max_body_size,
            });
        }
        None => buf.slice(body_start..),
    };

    if is_response {
        let (status, reason) = parse_status_line(&buf, pos, first_end)?;
        Ok(Message::Response(Response {
            status,
            reason,
            headers,
            body,
        }))
    } else {
        let (method, uri) = parse_request_line(&buf, pos, first_end)?;
        Ok(Message::Request(Request {
            method,
            uri,
            headers,
            body,
        }))
    }
}

fn check_version(v: &[u8]) -> Result<(), ParseError> {
    if v == b"SIP/2.0" || v.eq_ignore_ascii_case(b"SIP/2.0") {
        Ok(())
    } else if v.len() > 4
        && v[..4].eq_ignore_ascii_case(b"SIP/")
        && v[4..].iter().all(|c| c.is_ascii_digit() || *c == b'.')
    {
        Err(ParseError::Version)
    } else {
        Err(ParseError::StartLine)
    }
}

fn parse_request_line(buf: &Bytes, s: usize, e: usize) -> Result<(Method, Uri), ParseError> {
    let line = &buf[s..e];
    let sp1 = charset::find(line, b' ').ok_or(ParseError::StartLine)?;
    let method = &line[..sp1];
    if method.is_empty() || !method.iter().all(|c| is_token_char(*c)) {
        return Err(ParseError::StartLine);
    }
    let rest = &line[sp1 + 1..];
    let sp2 = charset::find(rest, b' ').ok_or(ParseError::StartLine)?;
    if sp2 == 0 {
        return Err(ParseError::StartLine);
    }
    // Trailing whitespace after the version is tolerated (RFC 4475 §3.1.2.16).
    let version = rest[sp2 + 1..].trim_ascii_end();
    check_version(version)?;
    let uri_start = s + sp1 + 1;
    let uri = Uri::parse_range(buf, uri_start, uri_start + sp2).map_err(ParseError::RequestUri)?;
    Ok((Method::from_buf(buf, s..s + sp1), uri))
}

fn parse_status_line(buf: &Bytes, s: usize, e: usize) -> Result<(StatusCode, Bytes), ParseError> {
    let line = &buf[s..e];
    let sp1 = charset::find(line, b' ').ok_or(ParseError::StartLine)?;
    check_version(&line[..sp1])?;
    let rest = &line[sp1 + 1..];
    let code_end = rest.iter().position(|c| *c == b' ').unwrap_or(rest.len());
    let code = &rest[..code_end];
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::StartLine);
    }
    let n = code
        .iter()
        .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
    let status = StatusCode::new(n).ok_or(ParseError::StartLine)?;
    let reason_start = (s + sp1 + 1 + code_end + 1).min(e);
    Ok((status, buf.slice(reason_start..e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Message, ParseError> {
        parse_message(Bytes::copy_from_slice(s), &ParseConfig::default())
    }

    #[test]
    fn request_with_body_and_folding() {
        let m = parse(
            b"\r\nINVITE sip:bob@example.com SIP/2.0\r\nSubject: a\r\n  b\r\nl: 4\r\n\r\nbodyEXTRA",
        )
        .unwrap();
        let Message::Request(r) = m else { panic!() };
        assert_eq!(r.method, Method::Invite);
        assert_eq!(&r.body[..], b"body");
        assert_eq!(r.headers.get(&Known::Subject.into()), Some(&b"a b"[..]));
    }

    #[test]
    fn errors_map_to_statuses() {
        let cfg = ParseConfig {
            max_headers: 2,
            ..ParseConfig::default()
        };
        assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/7.0\r\n\r\n")
                .unwrap_err()
                .status(),
            StatusCode::VERSION_NOT_SUPPORTED
        );
        assert_eq!(
            parse(b"OPTIONS  sip:a@b SIP/2.0\r\n\r\n").unwrap_err(),
            ParseError::StartLine
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nab")
                .unwrap_err()
                .status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: -1\r\n\r\n").unwrap_err(),
            ParseError::ContentLength
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\nab").unwrap_err(),
            ParseError::ContentLength
        );
        assert_eq!(
            parse(b"OPTIONS sip:a@b SIP/2.0\r\nNoColon\r\n\r\n")
                .unwrap_err()
                .status(),
            StatusCode::BAD_REQUEST
        );
        let e = parse_message(
            Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\na: 1\r\nb: 2\r\nc: 3\r\n\r\n"),
            &cfg,
        )
        .unwrap_err();
        assert_eq!(e, ParseError::TooManyHeaders { limit: 2 });
        let big = ParseConfig {
            max_message_size: 10,
            ..ParseConfig::default()
        };
        assert_eq!(
            parse_message(Bytes::from_static(b"OPTIONS sip:a@b SIP/2.0\r\n\r\n"), &big)
                .unwrap_err()
                .status(),
            StatusCode::MESSAGE_TOO_LARGE
        );
        assert!(parse(b"SIP/2.0 4294967301 better not break the receiver\r\n\r\n").is_err());
    }

    #[test]
    fn response_forms() {
        let Message::Response(r) = parse(b"SIP/2.0 100 \r\nCall-ID: x\r\n\r\n").unwrap() else {
            panic!()
        };
        assert_eq!((r.status, &r.reason[..]), (StatusCode::TRYING, &b""[..]));
        let Message::Response(r) = parse(b"SIP/2.0 180\r\n\r\n").unwrap() else {
            panic!()
        };
        assert_eq!(r.status, StatusCode::RINGING);
    }

    #[test]
    fn bare_lf_and_no_blank_line() {
        let Message::Request(r) =
            parse(b"OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nCall-ID: 1").unwrap()
        else {
            panic!()
        };
        assert_eq!(r.headers.len(), 2);
    }
}
