//! Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3).

use std::net::SocketAddr;

use bytes::Bytes;

use crate::header::{CSeq, CallId, From, To, Via};
use crate::message::{Known, Method, Request, Response};
use crate::uri::Host;

/// Matches responses to client transactions: top Via branch and CSeq method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ClientKey {
    branch: Bytes,
    method: Method,
}

impl ClientKey {
    pub(crate) fn for_request(branch: &[u8], method: &Method) -> Self {
        Self {
            branch: Bytes::copy_from_slice(branch),
            method: method.clone(),
        }
    }

    pub(crate) fn for_response(response: &Response) -> Option<Self> {
        let via = response.headers.typed::<Via>()?.ok()?;
        let cseq = response.headers.typed::<CSeq>()?.ok()?;
        Some(Self {
            branch: Bytes::copy_from_slice(via.branch()?),
            method: cseq.method,
        })
    }
}

/// Matches requests to server transactions. ACK maps to the INVITE it
/// acknowledges; CANCEL has transactions of its own.
///
/// Beyond RFC 3261 §17.2.3, a request matches only a transaction started
/// from the same source address: a third party cannot inject into (or
/// absorb) another client's transaction by copying its branch, and
/// independent clients that reuse a branch (as the RFC 4475 messages do)
/// get independent transactions.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum ServerKey {
    /// RFC 3261: branch (with the magic cookie), sent-by and method.
    Branch {
        source: SocketAddr,
        branch: Bytes,
        host: Host,
        port: Option<u16>,
        method: Method,
    },
    /// RFC 2543 fallback: Request-URI, From tag, Call-ID, CSeq number,
    /// top Via and method.
    Legacy {
        source: SocketAddr,
        uri: Bytes,
        from_tag: Bytes,
        call_id: Bytes,
        cseq: u32,
        via: Bytes,
        method: Method,
    },
}

impl ServerKey {
    /// The key of `request`, with ACK mapped to INVITE.
    pub(crate) fn for_request(request: &Request, source: SocketAddr) -> Option<Self> {
        Self::with_method(request, &request.method, source)
    }

    /// The key of the INVITE transaction a CANCEL refers to.
    pub(crate) fn cancelled_invite(request: &Request, source: SocketAddr) -> Option<Self> {
        Self::with_method(request, &Method::Invite, source)
    }

    fn with_method(request: &Request, method: &Method, source: SocketAddr) -> Option<Self> {
        let method = if *method == Method::Ack {
            Method::Invite
        } else {
            method.clone()
        };
        let via = request.headers.typed::<Via>()?.ok()?;
        if via.has_rfc3261_branch() {
            return Some(Self::Branch {
                source,
                branch: Bytes::copy_from_slice(via.branch()?),
                host: via.host(),
                port: via.port,
                method,
            });
        }
        let from = request.headers.typed::<From>()?.ok()?;
        let call_id = request.headers.typed::<CallId>()?.ok()?;
        let cseq = request.headers.typed::<CSeq>()?.ok()?;
        let _ = request.headers.typed::<To>()?.ok()?;
        Some(Self::Legacy {
            source,
            uri: request.uri.to_bytes(),
            from_tag: Bytes::copy_from_slice(from.tag().unwrap_or_default()),
            call_id: call_id.0,
            cseq: cseq.seq,
            via: request
                .headers
                .get_bytes(&Known::Via.into())
                .unwrap_or_default(),
            method,
        })
    }
}
