//! Framing SIP messages out of a byte stream (RFC 3261 §18.3, RFC 5626 §4.4.1).
//!
//! Over TCP and TLS, messages follow each other with nothing between them but
//! optional CRLFs. A message ends after its header section (closed by an empty
//! line) plus `Content-Length` bytes of body; on a stream the header is
//! mandatory. [`StreamFramer`] takes bytes as they arrive and hands out whole
//! messages as [`Bytes`] split off its buffer without copying.
//!
//! Between messages, RFC 5626 keep-alives appear: a double CRLF is a *ping*
//! (answer a single CRLF) and a single CRLF is a *pong*. Both are reported as
//! [`Framed::Ping`] and [`Framed::Pong`].
//!
//! Every error is fatal for the connection: a stream that lost its framing
//! cannot be re-synchronised, so the driver closes it without an answer.

use bytes::{Bytes, BytesMut};

/// What a [`StreamFramer`] found in the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framed {
    /// One whole SIP message: header section and body.
    Message(Bytes),
    /// A keep-alive ping (`CRLF CRLF`); answer it with a single `CRLF`.
    Ping,
    /// A keep-alive pong (a single `CRLF`), the answer to our ping.
    Pong,
}

/// Why a stream cannot be framed any further; the connection must be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FramingError {
    /// No empty line ended the header section within the limit.
    #[error("header section exceeds {limit} bytes")]
    HeaderTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// Header section plus declared body exceed the limit.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Header section plus `Content-Length`.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The peer sent more than the framer may buffer.
    #[error("more than {limit} bytes buffered")]
    BufferFull {
        /// The configured limit.
        limit: usize,
    },
    /// A message on a stream has no `Content-Length` header.
    #[error("missing content-length header on a stream transport")]
    MissingContentLength,
    /// The `Content-Length` value is not a decimal number.
    #[error("invalid content-length value")]
    InvalidContentLength,
    /// Two `Content-Length` headers disagree.
    #[error("conflicting content-length headers")]
    ConflictingContentLength,
}

/// Limits that bound the memory one stream connection may hold.
///
/// Defaults: 16 KiB of header section, 65 535 bytes per message, 128 KiB
/// buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingLimits {
    max_header_bytes: usize,
    max_message_bytes: usize,
    max_buffered_bytes: usize,
}

impl Default for FramingLimits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_message_bytes: 65_535,
            max_buffered_bytes: 128 * 1024,
        }
    }
}

impl FramingLimits {
    /// Sets the largest header section (start line, headers, empty line).
    pub fn with_max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets the largest message (header section plus body).
    pub fn with_max_message_bytes(mut self, bytes: usize) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// Sets the most bytes the framer buffers (pipelined and partial messages).
    pub fn with_max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.max_buffered_bytes = bytes;
        self
    }

    /// The largest header section.
    pub fn max_header_bytes(&self) -> usize {
        self.max_header_bytes
    }

    /// The largest message.
    pub fn max_message_bytes(&self) -> usize {
        self.max_message_bytes
    }

    /// The most bytes buffered.
    pub fn max_buffered_bytes(&self) -> usize {
        self.max_buffered_bytes
    }

    /// Checks that the limits are consistent: non-zero, header ≤ message ≤ buffer.
    pub fn validate(&self) -> Result<(), voip_core::ConfigError> {
        let err = |reason: &str| Err(voip_core::ConfigError::new("framing_limits", reason));
        if self.max_header_bytes < 64 {
            return err("max header bytes must be at least 64");
        }
        if self.max_message_bytes < self.max_header_bytes {
            return err("max message bytes must be at least max header bytes");
        }
        if self.max_buffered_bytes < self.max_message_bytes {
            return err("max buffered bytes must be at least max message bytes");
        }
        Ok(())
    }
}

/// A sans-IO framer for SIP over a byte stream.
///
/// Push bytes with [`push`](Self::push), then call
/// [`poll_frame`](Self::poll_frame) until it returns `Ok(None)`. After an
/// error the framer stays failed and returns the same error again.
#[derive(Debug)]
pub struct StreamFramer {
    buffer: BytesMut,
    limits: FramingLimits,
    /// Where to resume the search for the end of the header section.
    scan_from: usize,
    /// A ping of ours is outstanding: a lone CRLF is a pong at once.
    expect_pong: bool,
    /// The size of the message at the front, once its header section is read.
    pending: Option<usize>,
    failed: Option<FramingError>,
}

impl StreamFramer {
    /// A framer with the given limits.
    pub fn new(limits: FramingLimits) -> Self {
        Self {
            buffer: BytesMut::new(),
            limits,
            scan_from: 0,
            expect_pong: false,
            pending: None,
            failed: None,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, data: &[u8]) -> Result<(), FramingError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.buffer.len().saturating_add(data.len()) > self.limits.max_buffered_bytes {
            return Err(self.fail(FramingError::BufferFull {
                limit: self.limits.max_buffered_bytes,
            }));
        }
        self.buffer.extend_from_slice(data);
        Ok(())
    }

    /// Tells the framer we sent a ping: the next lone CRLF is reported as a
    /// [`Framed::Pong`] without waiting to see whether a second CRLF follows.
    pub fn expect_pong(&mut self) {
        self.expect_pong = true;
    }

    /// Bytes held that do not yet form a whole message or keep-alive.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// Whether part of a message is waiting for more bytes. A held lone CRLF
    /// (a pong, or half a ping) is not part of a message.
    pub fn is_partial(&self) -> bool {
        self.buffer.iter().any(|&b| b != b'\r' && b != b'\n')
    }

    /// The next message or keep-alive, `Ok(None)` when more bytes are needed.
    #[must_use = "a framed message or a framing error must be handled"]
    pub fn poll_frame(&mut self) -> Result<Option<Framed>, FramingError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if let Some(framed) = self.keep_alive() {
            return Ok(Some(framed));
        }
        if let Some(size) = self.pending {
            return Ok(self.take(size));
        }
        if self.buffer.is_empty() {
            return Ok(None);
        }
        let Some(header_end) = self.find_header_end() else {
            if self.buffer.len() > self.limits.max_header_bytes {
                return Err(self.fail(FramingError::HeaderTooLarge {
                    limit: self.limits.max_header_bytes,
                }));
            }
            return Ok(None);
        };
        if header_end > self.limits.max_header_bytes {
            return Err(self.fail(FramingError::HeaderTooLarge {
                limit: self.limits.max_header_bytes,
            }));
        }
        let body_len = match content_length(&self.buffer[..header_end]) {
            Ok(Some(len)) => len,
            Ok(None) => return Err(self.fail(FramingError::MissingContentLength)),
            Err(error) => return Err(self.fail(error)),
        };
        let size = header_end.saturating_add(body_len);
        if size > self.limits.max_message_bytes {
            return Err(self.fail(FramingError::MessageTooLarge {
                size,
                limit: self.limits.max_message_bytes,
            }));
        }
        self.pending = Some(size);
        Ok(self.take(size))
    }

    /// Splits off the message at the front once all `size` bytes are in.
    fn take(&mut self, size: usize) -> Option<Framed> {
        if self.buffer.len() < size {
            return None;
        }
        self.pending = None;
        self.scan_from = 0;
        Some(Framed::Message(self.buffer.split_to(size).freeze()))
    }

    fn fail(&mut self, error: FramingError) -> FramingError {
        self.failed = Some(error.clone());
        self.buffer = BytesMut::new();
        error
    }

    /// Consumes leading CRLFs: a ping, a pong, or stray line ends.
    fn keep_alive(&mut self) -> Option<Framed> {
        loop {
            let b = &self.buffer[..];
            match b {
                [b'\r', b'\n', b'\r', b'\n', ..] => {
                    let _ = self.buffer.split_to(4);
                    self.expect_pong = false;
                    return Some(Framed::Ping);
                }
                [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] if self.expect_pong => {
                    let _ = self.buffer.split_to(2);
                    self.expect_pong = false;
                    return Some(Framed::Pong);
                }
                // Wait: the next bytes may complete a ping.
                [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] => return None,
                [b'\r', b'\n', ..] => {
                    let _ = self.buffer.split_to(2);
                    self.expect_pong = false;
                    return Some(Framed::Pong);
                }
                // Stray bare line ends before a start line are ignored.
                [b'\n', ..] | [b'\r', _, ..] => {
                    let _ = self.buffer.split_to(1);
                }
                _ => return None,
            }
        }
    }

    /// The length of the header section including its empty line, if complete.
    fn find_header_end(&mut self) -> Option<usize> {
        let b = &self.buffer[..];
        for i in memchr::memchr_iter(b'\n', &b[self.scan_from.min(b.len())..]) {
            let i = i + self.scan_from;
            match b.get(i + 1) {
                Some(b'\n') => return Some(i + 2),
                Some(b'\r') if b.get(i + 2) == Some(&b'\n') => return Some(i + 3),
                _ => {}
            }
        }
        // Resume at the last two bytes: they may begin the empty line.
        self.scan_from = b.len().saturating_sub(2);
        None
    }
}

/// The `Content-Length` (or compact `l`) value of a header section.
fn content_length(header: &[u8]) -> Result<Option<usize>, FramingError> {
    let mut found: Option<usize> = None;
    let mut lines = header
        .split(|&c| c == b'\n')
        .map(trim_cr)
        .skip(1)
        .peekable();
    while let Some(line) = lines.next() {
        let Some(colon) = memchr::memchr(b':', line) else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if !name.eq_ignore_ascii_case(b"content-length") && !name.eq_ignore_ascii_case(b"l") {
            continue;
        }
        // The value, unfolded: continuation lines begin with SP or HTAB.
        let mut digits = Vec::new();
        let mut part = &line[colon + 1..];
        loop {
            for &c in part.trim_ascii() {
                if !c.is_ascii_digit() {
                    return Err(FramingError::InvalidContentLength);
                }
                digits.push(c);
            }
            match lines.peek() {
                Some(next) if next.first().is_some_and(|&c| c == b' ' || c == b'\t') => {
                    part = next;
                    lines.next();
                }
                _ => break,
            }
        }
        let value = parse_decimal(&digits)?;
        match found {
            Some(previous) if previous != value => {
                return Err(FramingError::ConflictingContentLength);
            }
            _ => found = Some(value),
        }
    }
    Ok(found)
}

fn parse_decimal(digits: &[u8]) -> Result<usize, FramingError> {
    if digits.is_empty() {
        return Err(FramingError::InvalidContentLength);
    }
    digits.iter().try_fold(0usize, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(usize::from(d - b'0')))
            .ok_or(FramingError::InvalidContentLength)
    })
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const OPTIONS: &[u8] = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK776\r\n\
Content-Length: 0\r\n\r\n";

    const MESSAGE: &[u8] = b"MESSAGE sip:bob@example.com SIP/2.0\r\n\
Via: SIP/2.0/TCP host.example.com;branch=z9hG4bK777\r\n\
l: 5\r\n\r\nhello";

    fn frame_all(framer: &mut StreamFramer) -> Result<Vec<Framed>, FramingError> {
        let mut out = Vec::new();
        while let Some(framed) = framer.poll_frame()? {
            out.push(framed);
        }
        Ok(out)
    }

    fn frame_chunks<'a>(
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<Framed>, FramingError> {
        let mut framer = StreamFramer::new(FramingLimits::default());
        let mut out = Vec::new();
        for chunk in chunks {
            framer.push(chunk)?;
            out.extend(frame_all(&mut framer)?);
        }
        Ok(out)
    }

    fn msg(bytes: &[u8]) -> Framed {
        Framed::Message(Bytes::copy_from_slice(bytes))
    }

    #[test]
    fn one_message_whole() {
        assert_eq!(frame_chunks([OPTIONS]), Ok(vec![msg(OPTIONS)]));
    }

    #[test]
    fn split_at_every_byte_boundary() {
        let mut stream = Vec::new();
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(OPTIONS);
        stream.extend_from_slice(b"\r\n");
        stream.extend_from_slice(MESSAGE);
        stream.extend_from_slice(b"\r\n\r\n");
        let expected = vec![
            Framed::Ping,
            msg(OPTIONS),
            Framed::Pong,
            msg(MESSAGE),
            Framed::Ping,
        ];
        for i in 0..=stream.len() {
            for j in i..=stream.len() {
                let chunks = [&stream[..i], &stream[i..j], &stream[j..]];
                assert_eq!(
                    frame_chunks(chunks),
                    Ok(expected.clone()),
                    "split at {i}/{j}"
                );
            }
        }
    }

    #[test]
    fn pipelined_messages_in_one_push() {
        let stream = [OPTIONS, MESSAGE, OPTIONS].concat();
        assert_eq!(
            frame_chunks([&stream[..]]),
            Ok(vec![msg(OPTIONS), msg(MESSAGE), msg(OPTIONS)])
        );
    }

    #[test]
    fn compact_form_folded_and_bare_lf() {
        let folded = b"MESSAGE sip:a@b SIP/2.0\r\nX-A: 1\r\nCONTENT-LENGTH:\r\n  3\r\n\r\nabc";
        assert_eq!(frame_chunks([&folded[..]]), Ok(vec![msg(folded)]));
        let bare = b"MESSAGE sip:a@b SIP/2.0\nL : 2\n\nhi";
        assert_eq!(frame_chunks([&bare[..]]), Ok(vec![msg(bare)]));
    }

    #[test]
    fn body_containing_blank_lines_is_not_split() {
        let m = b"INVITE sip:a@b SIP/2.0\r\nContent-Length: 9\r\n\r\n\r\n\r\nv=0\r\n";
        assert_eq!(frame_chunks([&m[..]]), Ok(vec![msg(m)]));
    }

    #[test]
    fn lone_crlf_waits_unless_a_pong_is_expected() {
        let mut framer = StreamFramer::new(FramingLimits::default());
        framer.push(b"\r\n").unwrap();
        assert_eq!(framer.poll_frame(), Ok(None));
        assert!(!framer.is_partial());
        framer.expect_pong();
        assert_eq!(framer.poll_frame(), Ok(Some(Framed::Pong)));
        assert_eq!(framer.buffered(), 0);
    }

    #[test]
    fn missing_or_bad_content_length_is_fatal() {
        let none = b"OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n";
        assert_eq!(
            frame_chunks([&none[..]]),
            Err(FramingError::MissingContentLength)
        );
        let bad = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 1x\r\n\r\n";
        assert_eq!(
            frame_chunks([&bad[..]]),
            Err(FramingError::InvalidContentLength)
        );
        let huge = b"OPTIONS sip:a@b SIP/2.0\r\nl: 99999999999999999999999\r\n\r\n";
        assert_eq!(
            frame_chunks([&huge[..]]),
            Err(FramingError::InvalidContentLength)
        );
        let two = b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(
            frame_chunks([&two[..]]),
            Err(FramingError::ConflictingContentLength)
        );
    }

    #[test]
    fn errors_are_sticky() {
        let mut framer = StreamFramer::new(FramingLimits::default());
        framer.push(b"A\r\n\r\n").unwrap();
        assert!(framer.poll_frame().is_err());
        assert_eq!(
            framer.push(OPTIONS),
            Err(FramingError::MissingContentLength)
        );
        assert_eq!(framer.poll_frame(), Err(FramingError::MissingContentLength));
    }

    #[test]
    fn limits_are_enforced() {
        let limits = FramingLimits::default()
            .with_max_header_bytes(100)
            .with_max_message_bytes(150)
            .with_max_buffered_bytes(200);
        assert!(limits.validate().is_ok());
        let mut framer = StreamFramer::new(limits);
        framer.push(&[b'x'; 101]).unwrap();
        assert_eq!(
            framer.poll_frame(),
            Err(FramingError::HeaderTooLarge { limit: 100 })
        );

        let mut framer = StreamFramer::new(limits);
        framer.push(b"M sip:a SIP/2.0\r\nl: 200\r\n\r\n").unwrap();
        assert!(matches!(
            framer.poll_frame(),
            Err(FramingError::MessageTooLarge { limit: 150, .. })
        ));

        let mut framer = StreamFramer::new(limits);
        assert_eq!(
            framer.push(&[b'x'; 201]),
            Err(FramingError::BufferFull { limit: 200 })
        );
        assert!(
            FramingLimits::default()
                .with_max_buffered_bytes(10)
                .validate()
                .is_err()
        );
    }

    #[test]
    fn garbage_is_bounded_by_the_header_limit() {
        let limits = FramingLimits::default();
        let mut framer = StreamFramer::new(limits);
        let chunk = [b'g'; 1000];
        let mut failed = false;
        for _ in 0..100 {
            if framer.push(&chunk).is_err() || framer.poll_frame().is_err() {
                failed = true;
                break;
            }
            assert!(framer.buffered() <= limits.max_header_bytes() + chunk.len());
        }
        assert!(failed);
    }

    fn arb_message() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(vec!["Content-Length", "l", "content-length", "L"]),
            prop::collection::vec(any::<u8>(), 0..64),
            prop::bool::ANY,
        )
            .prop_map(|(name, body, lf)| {
                let eol: &[u8] = if lf { b"\n" } else { b"\r\n" };
                let mut m = Vec::new();
                m.extend_from_slice(b"MESSAGE sip:a@b SIP/2.0");
                m.extend_from_slice(eol);
                m.extend_from_slice(format!("{name}: {}", body.len()).as_bytes());
                m.extend_from_slice(eol);
                m.extend_from_slice(eol);
                m.extend_from_slice(&body);
                m
            })
    }

    proptest! {
        #[test]
        fn random_chunks_never_panic(chunks in prop::collection::vec(
            prop::collection::vec(any::<u8>(), 0..300), 0..20)) {
            let mut framer = StreamFramer::new(FramingLimits::default().with_max_header_bytes(512)
                .with_max_message_bytes(1024).with_max_buffered_bytes(2048));
            for chunk in &chunks {
                if framer.push(chunk).is_err() { break; }
                while let Ok(Some(_)) = framer.poll_frame() {}
                prop_assert!(framer.buffered() <= 2048);
            }
        }

        #[test]
        fn concatenated_messages_come_back_whole(
            messages in prop::collection::vec(arb_message(), 1..8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let stream = messages.concat();
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
            points.push(0);
            points.push(stream.len());
            points.sort_unstable();
            let chunks = points.windows(2).map(|w| &stream[w[0]..w[1]]);
            let expected: Vec<Framed> = messages.iter().map(|m| msg(m)).collect();
            prop_assert_eq!(frame_chunks(chunks), Ok(expected));
        }
    }
}
