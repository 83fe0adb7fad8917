//! The SIP message model: requests and responses over `Bytes`, their
//! parser and printer.

mod headers;
mod method;
mod parser;
mod status;

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

pub use headers::{Header, HeaderName, HeaderRef, Headers, Iter as HeaderIter, Known, TypedValues};
pub use method::Method;
pub use parser::{ParseConfig, ParseError, parse_message};
pub(crate) use parser::{scan_lines, unfold};
pub use status::StatusCode;

use crate::header::{CSeq, CallId, From, HeaderError, To, Via};
use crate::uri::Uri;

/// A SIP request (version SIP/2.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The headers, in order.
    pub headers: Headers,
    /// The body (empty when there is none).
    pub body: Bytes,
}

/// A SIP response (version SIP/2.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: StatusCode,
    /// The reason phrase, as received (UTF-8 allowed, may be empty).
    pub reason: Bytes,
    /// The headers, in order.
    pub headers: Headers,
    /// The body.
    pub body: Bytes,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

macro_rules! common_accessors {
    () => {
        /// The top `Via`.
        pub fn via(&self) -> Option<Result<Via, HeaderError>> {
            self.headers.typed::<Via>()
        }

        /// `From`.
        pub fn from(&self) -> Option<Result<From, HeaderError>> {
            self.headers.typed::<From>()
        }

        /// `To`.
        pub fn to(&self) -> Option<Result<To, HeaderError>> {
            self.headers.typed::<To>()
        }

        /// `Call-ID`.
        pub fn call_id(&self) -> Option<Result<CallId, HeaderError>> {
            self.headers.typed::<CallId>()
        }

        /// `CSeq`.
        pub fn cseq(&self) -> Option<Result<CSeq, HeaderError>> {
            self.headers.typed::<CSeq>()
        }

        /// Replaces the body, setting `Content-Type` (when given) and
        /// `Content-Length`.
        pub fn set_body(&mut self, content_type: Option<&str>, body: Bytes) {
            if let Some(ct) = content_type {
                self.headers.set(
                    Known::ContentType.into(),
                    Bytes::copy_from_slice(ct.as_bytes()),
                );
            }
            self.headers.set(
                Known::ContentLength.into(),
                Bytes::from(body.len().to_string()),
            );
            self.body = body;
        }

        /// The message as bytes.
        pub fn to_bytes(&self) -> Bytes {
            let mut out = BytesMut::with_capacity(256 + self.body.len() + self.headers.len() * 48);
            self.write_to(&mut out);
            out.freeze()
        }
    };
}

fn write_headers_and_body(headers: &Headers, body: &Bytes, out: &mut BytesMut) {
    for h in headers {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Self {
            method,
            uri,
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    common_accessors!();

    /// Writes the request in wire format.
    pub fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(self.method.as_bytes());
        out.put_u8(b' ');
        self.uri.write_to(out);
        out.extend_from_slice(b" SIP/2.0\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }
}

impl Response {
    /// A response with the canonical reason phrase, no headers and no body.
    pub fn new(status: StatusCode) -> Self {
        Self {
            status,
            reason: Bytes::from_static(status.canonical_reason().as_bytes()),
            headers: Headers::new(),
            body: Bytes::new(),
        }
    }

    common_accessors!();

    /// Writes the response in wire format.
    pub fn write_to(&self, out: &mut BytesMut) {
        out.extend_from_slice(b"SIP/2.0 ");
        out.extend_from_slice(self.status.as_u16().to_string().as_bytes());
        out.put_u8(b' ');
        out.extend_from_slice(&self.reason);
        out.extend_from_slice(b"\r\n");
        write_headers_and_body(&self.headers, &self.body, out);
    }
}

impl Message {
    /// The headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Self::Request(r) => &r.headers,
            Self::Response(r) => &r.headers,
        }
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        match self {
            Self::Request(r) => &r.body,
            Self::Response(r) => &r.body,
        }
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Bytes {
        match self {
            Self::Request(r) => r.to_bytes(),
            Self::Response(r) => r.to_bytes(),
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.to_bytes()))
    }
}
