//! What a [`Ua`](super::Ua) tells its application.

use bytes::Bytes;

use crate::dialog::DialogId;
use crate::header::{NameAddr, Replaces};
use crate::message::{Headers, Known, Method, Request, Response, StatusCode};
use crate::transaction::TransactionId;
use crate::uri::Uri;

/// Identifies a request this UA sent on the application's behalf (an
/// INVITE, re-INVITE, UPDATE, INFO, MESSAGE, REFER, OPTIONS), across its
/// retries (491, 422, digest challenge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// A message body with its type (SDP passes through as bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The Content-Type value.
    pub content_type: Bytes,
    /// The bytes.
    pub data: Bytes,
}

impl Body {
    /// A body of type `content_type`.
    pub fn new(content_type: impl Into<Bytes>, data: impl Into<Bytes>) -> Self {
        Self {
            content_type: content_type.into(),
            data: data.into(),
        }
    }

    /// An `application/sdp` body.
    pub fn sdp(data: impl Into<Bytes>) -> Self {
        Self::new(Bytes::from_static(b"application/sdp"), data)
    }

    /// The body of a message, if it has one.
    pub fn of(headers: &Headers, body: &Bytes) -> Option<Self> {
        if body.is_empty() {
            return None;
        }
        let content_type = headers
            .get_bytes(&Known::ContentType.into())
            .unwrap_or_else(|| Bytes::from_static(b"application/octet-stream"));
        Some(Self {
            content_type,
            data: body.clone(),
        })
    }
}

/// Why a dialog ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TerminationCause {
    /// We sent BYE.
    LocalBye,
    /// The peer sent BYE.
    RemoteBye,
    /// The INVITE was cancelled (by us as UAC, by the peer as UAS).
    Cancelled,
    /// The INVITE got (or we answered) this final non-2xx status.
    Rejected(StatusCode),
    /// Another fork of the INVITE answered first.
    ForkLost,
    /// Our 2xx was retransmitted for 64·T1 without an ACK (RFC 3261
    /// §13.3.1.4); a BYE was sent.
    AckTimeout,
    /// A reliable provisional response got no PRACK in 64·T1 (RFC 3262).
    PrackTimeout,
    /// No session refresh arrived in time (RFC 4028 §10); a BYE was sent.
    SessionExpired,
    /// An INVITE with Replaces took the dialog's place (RFC 3891).
    Replaced,
    /// A request within the dialog got 481 or timed out (408): the
    /// dialog is gone at the peer (RFC 3261 §12.2.1.2).
    RequestFailed(StatusCode),
}

/// Events, drained with [`Ua::poll_event`](super::Ua::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UaEvent {
    /// A new INVITE; answer it with [`Ua::answer`](super::Ua::answer).
    IncomingCall {
        /// The (early) dialog.
        dialog: DialogId,
        /// The INVITE.
        request: Request,
        /// The dialog an INVITE with Replaces takes over once answered.
        replaces: Option<DialogId>,
    },
    /// A provisional response to our INVITE.
    Ringing {
        /// Our INVITE.
        request: RequestId,
        /// The early dialog, when the response carried a To tag.
        dialog: Option<DialogId>,
        /// 180, 183, ...
        status: StatusCode,
        /// An early session description.
        body: Option<Body>,
    },
    /// A 2xx to our INVITE: the dialog is confirmed.
    Answered {
        /// Our INVITE.
        request: RequestId,
        /// The confirmed dialog.
        dialog: DialogId,
        /// The answer (or, for an INVITE without body, the offer).
        body: Option<Body>,
        /// The INVITE carried no offer: send the ACK with the answer
        /// through [`Ua::ack`](super::Ua::ack).
        ack_pending: bool,
    },
    /// Our INVITE failed with a final non-2xx (or 408 on timeout).
    CallFailed {
        /// Our INVITE.
        request: RequestId,
        /// The status.
        status: StatusCode,
        /// The response, unless it was a timeout.
        response: Option<Response>,
    },
    /// The ACK for our 2xx arrived.
    Acked {
        /// The dialog.
        dialog: DialogId,
        /// The answer it carried (late offer), if any.
        body: Option<Body>,
    },
    /// A re-INVITE or UPDATE from the peer; answer it with
    /// [`Ua::respond`](super::Ua::respond).
    Reoffer {
        /// The dialog.
        dialog: DialogId,
        /// The server transaction to answer.
        id: TransactionId,
        /// INVITE or UPDATE.
        method: Method,
        /// The offer, if any.
        body: Option<Body>,
    },
    /// A PRACK acknowledged our reliable provisional response.
    PrackReceived {
        /// The early dialog.
        dialog: DialogId,
        /// Its body (an answer to an offer in the 1xx), if any.
        body: Option<Body>,
    },
    /// An INFO (DTMF relay and the like); answer it with
    /// [`Ua::respond`](super::Ua::respond).
    Info {
        /// The dialog.
        dialog: DialogId,
        /// The server transaction to answer.
        id: TransactionId,
        /// The request.
        request: Request,
    },
    /// A MESSAGE (RFC 3428), in or out of a dialog; answer it with
    /// [`Ua::respond`](super::Ua::respond).
    Message {
        /// The dialog, for one within a dialog.
        dialog: Option<DialogId>,
        /// The server transaction to answer.
        id: TransactionId,
        /// The request.
        request: Request,
    },
    /// The peer asks us to transfer (REFER); accept with
    /// [`Ua::respond`](super::Ua::respond) 202 (a NOTIFY "100 Trying"
    /// follows), call the target, and report with
    /// [`Ua::transfer_progress`](super::Ua::transfer_progress).
    TransferRequested {
        /// The dialog the REFER came in.
        dialog: DialogId,
        /// The server transaction to answer.
        id: TransactionId,
        /// Whom to call (URI headers removed).
        target: Uri,
        /// For an attended transfer: the Replaces to put in the INVITE.
        replaces: Option<Replaces>,
        /// Referred-By, to copy into the INVITE.
        referred_by: Option<NameAddr>,
    },
    /// A NOTIFY about a transfer we asked for.
    TransferProgress {
        /// The dialog we sent the REFER in.
        dialog: DialogId,
        /// The status of the transferee's INVITE.
        status: StatusCode,
        /// The subscription is terminated (final status).
        done: bool,
    },
    /// A session refresh (RFC 4028) succeeded or arrived.
    SessionRefreshed {
        /// The dialog.
        dialog: DialogId,
    },
    /// The final response to a request we sent on the application's
    /// behalf, other than the dialog-creating INVITE (a synthetic 408 on
    /// timeout, with `response` `None`).
    Response {
        /// The request.
        request: RequestId,
        /// Its dialog, if it went within one.
        dialog: Option<DialogId>,
        /// Its method.
        method: Method,
        /// The status.
        status: StatusCode,
        /// The response.
        response: Option<Response>,
    },
    /// A dialog the application knows ended.
    Terminated {
        /// The dialog.
        dialog: DialogId,
        /// Why.
        cause: TerminationCause,
    },
}

/// What to put in an outgoing dialog-creating INVITE.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InviteOptions {
    /// From (our address of record).
    pub from: NameAddr,
    /// To (whom we call).
    pub to: NameAddr,
    /// The Request-URI [default: the To URI].
    pub request_uri: Option<Uri>,
    /// The offer (none: a late offer, answered in the ACK).
    pub body: Option<Body>,
    /// Replaces (attended transfer, RFC 3891).
    pub replaces: Option<Replaces>,
    /// Referred-By (RFC 3892).
    pub referred_by: Option<NameAddr>,
    /// More headers.
    pub headers: Vec<(crate::HeaderName, Bytes)>,
}

impl InviteOptions {
    /// An INVITE from `from` to `to`.
    pub fn new(from: Uri, to: Uri) -> Self {
        Self {
            from: NameAddr::new(from),
            to: NameAddr::new(to),
            request_uri: None,
            body: None,
            replaces: None,
            referred_by: None,
            headers: Vec::new(),
        }
    }

    /// Sets the offer.
    #[must_use]
    pub fn body(mut self, body: Body) -> Self {
        self.body = Some(body);
        self
    }

    /// Makes the INVITE replace a dialog (attended transfer).
    #[must_use]
    pub fn replaces(mut self, replaces: Replaces) -> Self {
        self.replaces = Some(replaces);
        self
    }

    /// Adds Referred-By.
    #[must_use]
    pub fn referred_by(mut self, referred_by: NameAddr) -> Self {
        self.referred_by = Some(referred_by);
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<crate::HeaderName>, value: impl Into<Bytes>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_of_a_message() {
        let mut h = Headers::new();
        assert_eq!(Body::of(&h, &Bytes::new()), None);
        h.push(Known::ContentType, "application/dtmf-relay");
        let b = Body::of(&h, &Bytes::from_static(b"Signal=5\r\nDuration=160\r\n")).unwrap();
        assert_eq!(&b.content_type[..], b"application/dtmf-relay");
        assert_eq!(Body::sdp("v=0").content_type, "application/sdp");
    }
}
