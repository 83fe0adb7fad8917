//! Dialogs (RFC 3261 §12): the peer-to-peer relationship between two user
//! agents that an INVITE (or a REFER's implicit subscription) sets up.
//!
//! A [`Dialog`] holds the dialog state of one side: the identifiers
//! (Call-ID, local and remote tag), the sequence numbers, the route set and
//! the remote target, and builds the requests that go within it
//! ([`Dialog::new_request`], RFC 3261 §12.2.1.1). It performs no I/O and
//! holds no timers: the [`Ua`](crate::ua::Ua) core drives it.
//!
//! The helpers of the extensions a dialog carries live beside it:
//! [`session_timer`] (RFC 4028), [`reliable`] (RFC 3262) and [`refer`]
//! (RFC 3515, RFC 3891, message/sipfrag).

pub mod refer;
pub mod reliable;
pub mod session_timer;

use bytes::Bytes;

use crate::header::{Contact, NameAddr, RecordRoute, Replaces, Route, TypedHeader};
use crate::message::{Known, Method, Request, Response};
use crate::uri::{Params, Uri};

/// Identifies a dialog within one [`Ua`](crate::ua::Ua).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId(pub u64);

/// Which side of the dialog-creating INVITE this UA was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the INVITE (and generated the Call-ID).
    Uac,
    /// We received it.
    Uas,
}

/// The state of a dialog (RFC 3261 §12, §13).
///
/// ```text
///          UAC: 1xx with a To tag received
///          UAS: request received, tag chosen
///   ─────────────────────────────► Early ──────── 2xx ────────┐
///   │                                │                         ▼
///   │ UAC: 2xx without a prior 1xx   │ 3xx-6xx, CANCEL,   Confirmed
///   └────────────────────────────────┼─────────────────────►   │
///                                    │ another fork won        │ BYE sent or received,
///                                    ▼                         │ 2xx never ACKed (64·T1),
///                               Terminated ◄───────────────────┘ session expired (RFC 4028),
///                                                                replaced (RFC 3891),
///                                                                481/408 to a request
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Established by a provisional response; may still fail.
    Early,
    /// Established by a 2xx.
    Confirmed,
    /// Over; kept a little while to absorb retransmissions.
    Terminated,
}

/// Why a dialog could not be built from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// A header a dialog needs is missing or does not parse.
    #[error("missing or invalid {0} header")]
    Header(&'static str),
    /// The message has no Contact to use as remote target.
    #[error("no contact to use as remote target")]
    NoContact,
}

impl DialogError {
    /// The status a UAS answers a request that fails this way with (400).
    pub fn status(self) -> crate::StatusCode {
        crate::StatusCode::BAD_REQUEST
    }
}

/// How a dialog is found: Call-ID, local tag, remote tag (RFC 3261 §12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DialogKey {
    pub(crate) call_id: Bytes,
    pub(crate) local_tag: Bytes,
    pub(crate) remote_tag: Bytes,
}

/// The state of one side of a dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    id: DialogId,
    role: Role,
    pub(crate) state: DialogState,
    call_id: Bytes,
    local_tag: Bytes,
    remote_tag: Bytes,
    local_uri: NameAddr,
    remote_uri: NameAddr,
    local_seq: Option<u32>,
    remote_seq: Option<u32>,
    remote_target: Uri,
    route_set: Vec<NameAddr>,
    secure: bool,
}

fn header<H: TypedHeader>(headers: &crate::Headers, what: &'static str) -> Result<H, DialogError> {
    headers
        .typed::<H>()
        .and_then(Result::ok)
        .ok_or(DialogError::Header(what))
}

fn contact_uri(headers: &crate::Headers) -> Option<Uri> {
    headers
        .typed::<Contact>()
        .and_then(Result::ok)
        .and_then(|c| c.address().map(|a| a.uri().clone()))
}

fn without_tag(mut addr: NameAddr) -> NameAddr {
    addr.remove_param("tag");
    addr
}

fn record_routes(headers: &crate::Headers) -> Vec<NameAddr> {
    headers
        .typed_all::<RecordRoute>()
        .filter_map(Result::ok)
        .map(|r| r.0)
        .collect()
}

impl Dialog {
    /// The UAS side of a dialog for `request` (RFC 3261 §12.1.1): route set
    /// from Record-Route in order, remote target from Contact, remote
    /// sequence number from CSeq; `local_tag` goes in the To of responses.
    pub fn new_uas(id: DialogId, request: &Request, local_tag: &str) -> Result<Self, DialogError> {
        let from: crate::header::From = header(&request.headers, "From")?;
        let to: crate::header::To = header(&request.headers, "To")?;
        let call_id: crate::header::CallId = header(&request.headers, "Call-ID")?;
        let cseq: crate::header::CSeq = header(&request.headers, "CSeq")?;
        let remote_tag = from.tag().ok_or(DialogError::Header("From tag"))?;
        let remote_target = contact_uri(&request.headers).ok_or(DialogError::NoContact)?;
        let secure = request.uri.scheme().eq_ignore_ascii_case(b"sips");
        Ok(Self {
            id,
            role: Role::Uas,
            state: DialogState::Early,
            call_id: call_id.0,
            local_tag: Bytes::copy_from_slice(local_tag.as_bytes()),
            remote_tag: Bytes::copy_from_slice(remote_tag),
            local_uri: without_tag(to.0),
            remote_uri: without_tag(from.0.clone()),
            local_seq: None,
            remote_seq: Some(cseq.seq),
            remote_target,
            route_set: record_routes(&request.headers),
            secure,
        })
    }

    /// The UAC side of a dialog that `response` (a 1xx with a To tag or a
    /// 2xx) establishes for `request` (RFC 3261 §12.1.2): route set from
    /// Record-Route reversed, remote target from Contact, local sequence
    /// number from the request's CSeq. Early for a 1xx, confirmed for a 2xx.
    pub fn new_uac(
        id: DialogId,
        request: &Request,
        response: &Response,
    ) -> Result<Self, DialogError> {
        let from: crate::header::From = header(&request.headers, "From")?;
        let to: crate::header::To = header(&response.headers, "To")?;
        let call_id: crate::header::CallId = header(&request.headers, "Call-ID")?;
        let cseq: crate::header::CSeq = header(&request.headers, "CSeq")?;
        let local_tag = from.tag().ok_or(DialogError::Header("From tag"))?;
        let remote_tag = to.tag().ok_or(DialogError::Header("To tag"))?;
        // a 1xx may lack a Contact; the Request-URI serves until one comes
        let remote_target = contact_uri(&response.headers).unwrap_or_else(|| request.uri.clone());
        let mut route_set = record_routes(&response.headers);
        route_set.reverse();
        Ok(Self {
            id,
            role: Role::Uac,
            state: if response.status.is_success() {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            call_id: call_id.0,
            local_tag: Bytes::copy_from_slice(local_tag),
            remote_tag: Bytes::copy_from_slice(remote_tag),
            local_uri: without_tag(from.0.clone()),
            remote_uri: without_tag(to.0),
            local_seq: Some(cseq.seq),
            remote_seq: None,
            remote_target,
            route_set,
            secure: request.uri.scheme().eq_ignore_ascii_case(b"sips"),
        })
    }

    /// The id.
    pub fn id(&self) -> DialogId {
        self.id
    }

    /// Our side.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The state.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &Bytes {
        &self.call_id
    }

    /// Our tag.
    pub fn local_tag(&self) -> &Bytes {
        &self.local_tag
    }

    /// The peer's tag.
    pub fn remote_tag(&self) -> &Bytes {
        &self.remote_tag
    }

    /// Our address (From of our requests), without tag.
    pub fn local_uri(&self) -> &NameAddr {
        &self.local_uri
    }

    /// The peer's address (To of our requests), without tag.
    pub fn remote_uri(&self) -> &NameAddr {
        &self.remote_uri
    }

    /// The CSeq number of our last request, if we sent one.
    pub fn local_seq(&self) -> Option<u32> {
        self.local_seq
    }

    /// The CSeq number of the peer's last request, if it sent one.
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// Where our requests go (the peer's Contact).
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// The route set, first hop first.
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    /// Whether the dialog was set up over sips.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    pub(crate) fn key(&self) -> DialogKey {
        DialogKey {
            call_id: self.call_id.clone(),
            local_tag: self.local_tag.clone(),
            remote_tag: self.remote_tag.clone(),
        }
    }

    /// Checks the CSeq number of a request from the peer (RFC 3261
    /// §12.2.2): a number lower than the last one is out of order (answer
    /// 500) and `false`; otherwise it becomes the remote sequence number.
    pub fn accept_remote_seq(&mut self, seq: u32) -> bool {
        if self.remote_seq.is_some_and(|last| seq < last) {
            return false;
        }
        self.remote_seq = Some(seq);
        true
    }

    /// The next local CSeq number (RFC 3261 §12.2.1.1: one more than the
    /// last; the first is drawn by the caller when the UAS sends its first
    /// request).
    pub fn next_local_seq(&mut self, first: u32) -> u32 {
        let seq = self
            .local_seq
            .map_or(first, |s| s.wrapping_add(1) & 0x7fff_ffff);
        self.local_seq = Some(seq);
        seq
    }

    /// A target refresh (re-INVITE, UPDATE, their 2xx, a 1xx/2xx to the
    /// initial INVITE): the Contact becomes the remote target.
    pub fn refresh_target(&mut self, headers: &crate::Headers) {
        if let Some(uri) = contact_uri(headers) {
            self.remote_target = uri;
        }
    }

    /// A 2xx confirms an early UAC dialog: the route set is recomputed from
    /// it and the remote target taken from its Contact (RFC 3261 §13.2.2.4).
    pub fn confirm_uac(&mut self, response: &Response) {
        let mut route_set = record_routes(&response.headers);
        route_set.reverse();
        self.route_set = route_set;
        self.refresh_target(&response.headers);
        self.state = DialogState::Confirmed;
    }

    /// Confirms an early UAS dialog (its 2xx left).
    pub fn confirm_uas(&mut self) {
        self.state = DialogState::Confirmed;
    }

    /// A request within the dialog (RFC 3261 §12.2.1.1): Request-URI and
    /// Route from the route set and remote target (loose or strict first
    /// hop), From/To with the tags, Call-ID, and CSeq `seq`. No Via: the
    /// sender adds it.
    pub fn request_with_seq(&self, method: Method, seq: u32) -> Request {
        let (uri, routes) = match self.route_set.first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first) if first.uri().as_sip().is_some_and(|u| u.is_loose_router()) => {
                (self.remote_target.clone(), self.route_set.clone())
            }
            Some(first) => {
                // strict router: it goes in the Request-URI, the remote
                // target at the end of the Route
                let mut uri = first.uri().clone();
                if let Uri::Sip(u) = &mut uri {
                    u.set_headers(None::<&[u8]>);
                    for p in ["method", "maddr", "ttl", "transport", "lr"] {
                        u.remove_param(p);
                    }
                }
                let mut routes: Vec<NameAddr> = self.route_set[1..].to_vec();
                routes.push(NameAddr::new(self.remote_target.clone()));
                (uri, routes)
            }
        };
        let mut r = Request::new(method.clone(), uri);
        r.headers
            .push(Known::MaxForwards, Bytes::from_static(b"70"));
        for route in routes {
            r.headers.push_typed(&Route(route));
        }
        let mut from = self.local_uri.clone();
        from.set_tag(self.local_tag.clone());
        r.headers.push_typed(&crate::header::From(from));
        let mut to = self.remote_uri.clone();
        to.set_tag(self.remote_tag.clone());
        r.headers.push_typed(&crate::header::To(to));
        r.headers.push(Known::CallId, self.call_id.clone());
        r.headers.push_typed(&crate::header::CSeq { seq, method });
        r
    }

    /// A new request within the dialog with the next local CSeq number
    /// (`first` when we never sent one). Use
    /// [`request_with_seq`](Self::request_with_seq) for ACK.
    pub fn new_request(&mut self, method: Method, first: u32) -> Request {
        let seq = self.next_local_seq(first);
        self.request_with_seq(method, seq)
    }

    /// The Replaces header that names this dialog to the peer (RFC 3891:
    /// `to-tag` is the peer's tag, `from-tag` ours), for an attended
    /// transfer that replaces it.
    pub fn replaces(&self) -> Replaces {
        let mut params = Params::new();
        params.set("to-tag", Some(self.remote_tag.clone()));
        params.set("from-tag", Some(self.local_tag.clone()));
        Replaces {
            call_id: self.call_id.clone(),
            params,
        }
    }

    /// Whether a Replaces header received by this UA names this dialog
    /// (RFC 3891 §3: the to-tag is our tag, the from-tag the peer's).
    pub fn matches_replaces(&self, replaces: &Replaces) -> bool {
        replaces.call_id == self.call_id
            && replaces.to_tag() == Some(&self.local_tag[..])
            && replaces.from_tag() == Some(&self.remote_tag[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::StatusCode;

    fn invite() -> Request {
        let mut r = Request::new(Method::Invite, "sip:bob@192.0.2.2".parse().unwrap());
        r.headers
            .push(Known::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
        r.headers
            .push(Known::From, "Alice <sip:alice@a.example>;tag=a1");
        r.headers.push(Known::To, "<sip:bob@b.example>");
        r.headers.push(Known::CallId, "c1");
        r.headers.push(Known::CSeq, "10 INVITE");
        r.headers.push(Known::Contact, "<sip:alice@192.0.2.1>");
        r.headers.push(
            Known::RecordRoute,
            "<sip:p2.example;lr>, <sip:p1.example;lr>",
        );
        r
    }

    fn ok(request: &Request) -> Response {
        let mut r = Response::for_request(request, StatusCode::OK).with_to_tag("b1");
        r.headers.push(Known::Contact, "<sip:bob@192.0.2.2:5062>");
        r.headers.push(Known::RecordRoute, "<sip:p2.example;lr>");
        r.headers.push(Known::RecordRoute, "<sip:p1.example;lr>");
        r
    }

    #[test]
    fn uas_dialog_keeps_record_route_order_and_checks_cseq() {
        let mut d = Dialog::new_uas(DialogId(1), &invite(), "b1").unwrap();
        assert_eq!(d.state(), DialogState::Early);
        assert_eq!(d.route_set().len(), 2);
        assert_eq!(d.route_set()[0].uri().to_string(), "sip:p2.example;lr");
        assert_eq!(d.remote_target().to_string(), "sip:alice@192.0.2.1");
        assert!(!d.accept_remote_seq(9));
        assert!(d.accept_remote_seq(10));
        assert!(d.accept_remote_seq(11));
        assert_eq!(d.remote_seq(), Some(11));
        let bye = d.new_request(Method::Bye, 1);
        assert_eq!(bye.uri.to_string(), "sip:alice@192.0.2.1");
        let route = Known::Route.into();
        let routes: Vec<_> = bye.headers.get_all_bytes(&route).collect();
        assert_eq!(routes, ["<sip:p2.example;lr>", "<sip:p1.example;lr>"]);
        assert_eq!(bye.from().unwrap().unwrap().tag(), Some(&b"b1"[..]));
        assert_eq!(bye.to().unwrap().unwrap().tag(), Some(&b"a1"[..]));
        assert_eq!(bye.cseq().unwrap().unwrap().seq, 1);
        assert_eq!(
            d.new_request(Method::Info, 1).cseq().unwrap().unwrap().seq,
            2
        );
    }

    #[test]
    fn uac_dialog_reverses_record_route() {
        let req = invite();
        let d = Dialog::new_uac(DialogId(2), &req, &ok(&req)).unwrap();
        assert_eq!(d.state(), DialogState::Confirmed);
        assert_eq!(d.route_set()[0].uri().to_string(), "sip:p1.example;lr");
        assert_eq!(d.remote_target().to_string(), "sip:bob@192.0.2.2:5062");
        assert_eq!(d.local_seq(), Some(10));
        let ack = d.request_with_seq(Method::Ack, 10);
        assert_eq!(ack.headers.get(&Known::CSeq.into()).unwrap(), b"10 ACK");
        let mut d = d;
        assert_eq!(
            d.new_request(Method::Bye, 1).cseq().unwrap().unwrap().seq,
            11
        );
    }

    #[test]
    fn strict_router_goes_in_the_request_uri() {
        let mut req = invite();
        req.headers
            .set(Known::RecordRoute.into(), "<sip:strict.example>");
        let mut resp = ok(&req);
        resp.headers.remove(&Known::RecordRoute.into());
        resp.headers
            .push(Known::RecordRoute, "<sip:strict.example>");
        let d = Dialog::new_uac(DialogId(3), &req, &resp).unwrap();
        let r = d.request_with_seq(Method::Bye, 11);
        assert_eq!(r.uri.to_string(), "sip:strict.example");
        let route = Known::Route.into();
        let routes: Vec<_> = r.headers.get_all_bytes(&route).collect();
        assert_eq!(routes, ["<sip:bob@192.0.2.2:5062>"]);
    }

    #[test]
    fn replaces_round_trip_between_the_two_sides() {
        let req = invite();
        let uac = Dialog::new_uac(DialogId(1), &req, &ok(&req)).unwrap();
        let uas = Dialog::new_uas(DialogId(2), &req, "b1").unwrap();
        // the UAC names the dialog; the UAS (receiving the Replaces) matches it
        assert!(uas.matches_replaces(&uac.replaces()));
        assert!(!uac.matches_replaces(&uac.replaces()));
    }

    #[test]
    fn missing_headers_are_errors() {
        let mut req = invite();
        req.headers.remove(&Known::Contact.into());
        assert_eq!(
            Dialog::new_uas(DialogId(1), &req, "t").unwrap_err(),
            DialogError::NoContact
        );
        req.headers.set(Known::From.into(), "<sip:alice@a.example>");
        assert!(matches!(
            Dialog::new_uas(DialogId(1), &req, "t"),
            Err(DialogError::Header(_))
        ));
    }
}
