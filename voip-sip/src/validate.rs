//! Checks a UAS or proxy applies to a parsed request before acting on it
//! (RFC 3261 §8.2, §16.3), with the response each failure calls for.

use std::borrow::Cow;

use bytes::Bytes;

use crate::header::{
    Accept, CSeq, CallId, Contact, ContentLength, ContentType, Date, Expires, From, HeaderError,
    MaxForwards, MinExpires, RecordRoute, Require, Route, To, TypedHeader, Via,
};
use crate::message::{HeaderName, Known, Method, Request, Response, StatusCode};
use crate::uri::Uri;

/// Why a request is refused: the status to answer, a reason phrase, and
/// headers the response must carry (Unsupported, Accept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The status.
    pub status: StatusCode,
    /// The reason phrase.
    pub reason: Cow<'static, str>,
    /// Extra headers for the response.
    pub headers: Vec<(HeaderName, Bytes)>,
}

impl Rejection {
    fn new(status: StatusCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            reason: reason.into(),
            headers: Vec::new(),
        }
    }

    fn bad(reason: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, reason)
    }

    /// The response to `request` that carries this rejection.
    pub fn response(&self, request: &Request) -> Response {
        let mut r = Response::for_request(request, self.status);
        r.reason = Bytes::from(self.reason.clone().into_owned());
        for (n, v) in &self.headers {
            r.headers.push(n.clone(), v.clone());
        }
        r
    }
}

fn header_err(e: HeaderError) -> Rejection {
    Rejection::bad(format!("Bad Request ({e})"))
}

fn exactly_one<H: TypedHeader>(
    req: &Request,
    name: &'static str,
    required: bool,
) -> Result<Option<H>, Rejection> {
    match req.headers.count(&H::NAME) {
        0 if required => Err(Rejection::bad(format!("Bad Request (Missing {name})"))),
        0 => Ok(None),
        1 => req.headers.typed::<H>().transpose().map_err(header_err),
        _ => Err(Rejection::bad(format!("Bad Request (Duplicate {name})"))),
    }
}

fn all_parse<H: TypedHeader>(req: &Request) -> Result<(), Rejection> {
    for h in req.headers.typed_all::<H>() {
        h.map_err(header_err)?;
    }
    Ok(())
}

/// The syntax checks every element applies (RFC 3261 §8.2 and RFC 4475
/// §3.1.2, §3.3): mandatory headers present once and well formed, CSeq
/// method matching the request, numbers in range, no headers in the
/// Request-URI. Every failure is a 400.
pub fn check_request(req: &Request) -> Result<(), Rejection> {
    if req.headers.count(&Known::Via.into()) == 0 {
        return Err(Rejection::bad("Bad Request (Missing Via)"));
    }
    all_parse::<Via>(req)?;
    exactly_one::<To>(req, "To", true)?;
    exactly_one::<From>(req, "From", true)?;
    exactly_one::<CallId>(req, "Call-ID", true)?;
    let cseq = exactly_one::<CSeq>(req, "CSeq", true)?;
    if cseq.is_some_and(|c| c.method != req.method) {
        return Err(Rejection::bad("Bad Request (CSeq Method Mismatch)"));
    }
    exactly_one::<MaxForwards>(req, "Max-Forwards", false)?;
    exactly_one::<ContentLength>(req, "Content-Length", false)?;
    exactly_one::<ContentType>(req, "Content-Type", false)?;
    exactly_one::<Expires>(req, "Expires", false)?;
    exactly_one::<MinExpires>(req, "Min-Expires", false)?;
    exactly_one::<Date>(req, "Date", false)?;
    all_parse::<Contact>(req)?;
    all_parse::<Route>(req)?;
    all_parse::<RecordRoute>(req)?;
    all_parse::<Require>(req)?;
    all_parse::<Accept>(req)?;
    if !req.body.is_empty() && !req.headers.contains(&Known::ContentType.into()) {
        return Err(Rejection::bad("Bad Request (Body Without Content-Type)"));
    }
    if let Uri::Sip(u) = &req.uri {
        if u.headers().is_some() {
            return Err(Rejection::bad("Bad Request (Headers In Request-URI)"));
        }
    }
    Ok(())
}

/// What a UAS supports, for [`UasPolicy::check`].
#[derive(Debug, Clone)]
pub struct UasPolicy {
    /// Option tags this UAS supports (answered in Supported; anything else
    /// in Require gets 420).
    pub supported: Vec<&'static str>,
    /// Body types accepted in requests that carry a session description.
    pub accept: Vec<(&'static str, &'static str)>,
}

impl Default for UasPolicy {
    fn default() -> Self {
        Self {
            supported: Vec::new(),
            accept: vec![("application", "sdp")],
        }
    }
}

impl UasPolicy {
    /// The semantic checks of RFC 3261 §8.2.2 and §8.2.3 in order: URI
    /// scheme (416), required extensions (420 with Unsupported), body type
    /// (415 with Accept), acceptable response types (406).
    pub fn check(&self, req: &Request) -> Result<(), Rejection> {
        if !req.uri.is_supported_scheme() {
            return Err(Rejection::new(
                StatusCode::UNSUPPORTED_URI_SCHEME,
                "Unsupported URI Scheme",
            ));
        }
        if req.method != Method::Ack && req.method != Method::Cancel {
            let unsupported: Vec<Bytes> = req
                .headers
                .typed_all::<Require>()
                .filter_map(Result::ok)
                .filter(|r| {
                    !self
                        .supported
                        .iter()
                        .any(|s| s.as_bytes().eq_ignore_ascii_case(r.as_bytes()))
                })
                .map(|r| (r.0).0)
                .collect();
            if !unsupported.is_empty() {
                let mut rej = Rejection::new(StatusCode::BAD_EXTENSION, "Bad Extension");
                rej.headers
                    .push((Known::Unsupported.into(), join(&unsupported)));
                return Err(rej);
            }
        }
        let carries_session = matches!(
            req.method,
            Method::Invite | Method::Ack | Method::Update | Method::Prack
        );
        if carries_session && !req.body.is_empty() {
            if let Some(Ok(ct)) = req.headers.typed::<ContentType>() {
                let ok = self.accept.iter().any(|(t, s)| ct.0.is(t, s));
                if !ok && !ct.0.is("multipart", "mixed") {
                    let mut rej = Rejection::new(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "Unsupported Media Type",
                    );
                    rej.headers
                        .push((Known::Accept.into(), self.accept_value()));
                    return Err(rej);
                }
            }
        }
        if req.method == Method::Invite && req.headers.contains(&Known::Accept.into()) {
            let ranges: Vec<Accept> = req
                .headers
                .typed_all::<Accept>()
                .filter_map(Result::ok)
                .collect();
            if !ranges.is_empty()
                && !self
                    .accept
                    .iter()
                    .any(|(t, s)| ranges.iter().any(|r| r.0.admits(t, s)))
            {
                return Err(Rejection::new(StatusCode::NOT_ACCEPTABLE, "Not Acceptable"));
            }
        }
        Ok(())
    }

    /// The Accept value this policy answers with.
    pub fn accept_value(&self) -> Bytes {
        let v: Vec<String> = self
            .accept
            .iter()
            .map(|(t, s)| format!("{t}/{s}"))
            .collect();
        Bytes::from(v.join(", "))
    }
}

fn join(items: &[Bytes]) -> Bytes {
    let mut out = Vec::new();
    for (i, b) in items.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        out.extend_from_slice(b);
    }
    Bytes::from(out)
}
