//! Reliable provisional responses (RFC 3262): RSeq numbering and the one
//! outstanding response of a UAS, PRACK matching, and the order check of a
//! UAC.
//!
//! ```text
//!  UAS:  idle ──reliable 1xx sent (RSeq n)──► awaiting PRACK ──PRACK RAck n──► idle
//!                   ▲ (further reliable 1xx and      │ retransmit at T1, 2·T1, 4·T1 …
//!                   │  the 2xx wait in a queue)      │ 64·T1 without PRACK: 5xx
//!                   └────────────────────────────────┘
//! ```

use std::collections::VecDeque;

use bytes::Bytes;

use crate::header::{RAck, RSeq, Require, Supported};
use crate::message::{Headers, Known, Method, Response};

/// Whether `headers` list `100rel` in Require.
pub fn requires_100rel(headers: &Headers) -> bool {
    headers
        .typed_all::<Require>()
        .flatten()
        .any(|r| r.as_bytes().eq_ignore_ascii_case(b"100rel"))
}

/// Whether `headers` list `100rel` in Supported.
pub fn supports_100rel(headers: &Headers) -> bool {
    headers
        .typed_all::<Supported>()
        .flatten()
        .any(|r| r.as_bytes().eq_ignore_ascii_case(b"100rel"))
}

/// The UAS state of reliable provisional responses for one INVITE.
#[derive(Debug, Clone, Default)]
pub struct ReliableProvisionals {
    next_rseq: u32,
    outstanding: Option<(u32, Response)>,
    queue: VecDeque<Response>,
}

impl ReliableProvisionals {
    /// A fresh state; the first RSeq is `first` (RFC 3262 §3: chosen at
    /// random between 1 and 2^31 - 1).
    pub fn new(first: u32) -> Self {
        Self {
            next_rseq: first.clamp(1, 0x7fff_ffff),
            outstanding: None,
            queue: VecDeque::new(),
        }
    }

    /// Whether a reliable response waits for its PRACK.
    pub fn is_awaiting_prack(&self) -> bool {
        self.outstanding.is_some()
    }

    /// The response waiting for its PRACK (to retransmit).
    pub fn outstanding(&self) -> Option<&Response> {
        self.outstanding.as_ref().map(|(_, r)| r)
    }

    /// Makes `response` reliable (Require: 100rel, RSeq) and returns it to
    /// send now, or queues it while another waits for its PRACK.
    pub fn send(&mut self, mut response: Response) -> Option<Response> {
        if self.outstanding.is_some() {
            self.queue.push_back(response);
            return None;
        }
        let rseq = self.next_rseq;
        self.next_rseq = (self.next_rseq % 0x7fff_ffff) + 1;
        response
            .headers
            .push(Known::Require, Bytes::from_static(b"100rel"));
        response.headers.push_typed(&RSeq(rseq));
        self.outstanding = Some((rseq, response.clone()));
        Some(response)
    }

    /// Queues a response (a 2xx) to go once the outstanding one is PRACKed;
    /// `Some` when nothing is outstanding and it can go now.
    pub fn hold(&mut self, response: Response) -> Option<Response> {
        if self.outstanding.is_some() {
            self.queue.push_back(response);
            None
        } else {
            Some(response)
        }
    }

    /// A PRACK with `rack` for the INVITE with CSeq `invite_seq`: whether
    /// it acknowledges the outstanding response (which is then cleared).
    pub fn acknowledge(&mut self, rack: &RAck, invite_seq: u32) -> bool {
        match &self.outstanding {
            Some((rseq, _))
                if *rseq == rack.rseq
                    && rack.cseq == invite_seq
                    && rack.method == Method::Invite =>
            {
                self.outstanding = None;
                true
            }
            _ => false,
        }
    }

    /// The next queued response, once nothing is outstanding. Reliable
    /// ones (with RSeq) must go through [`send`](Self::send) again.
    pub fn next_queued(&mut self) -> Option<Response> {
        if self.outstanding.is_some() {
            return None;
        }
        self.queue.pop_front()
    }

    /// Drops everything (a final response went out, or the dialog ended).
    pub fn clear(&mut self) {
        self.outstanding = None;
        self.queue.clear();
    }
}

/// The UAC check of RFC 3262 §4: the first reliable provisional response
/// sets the expected RSeq; later ones must be exactly one more. Returns
/// whether to accept (and PRACK) `rseq`; retransmissions and out-of-order
/// responses are not.
pub fn accept_rseq(last: &mut Option<u32>, rseq: u32) -> bool {
    match *last {
        Some(l) if rseq != l.wrapping_add(1) => false,
        _ => {
            *last = Some(rseq);
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::StatusCode;

    fn ringing() -> Response {
        Response::new(StatusCode::RINGING)
    }

    #[test]
    fn one_outstanding_then_the_queue() {
        let mut r = ReliableProvisionals::new(100);
        let first = r.send(ringing()).unwrap();
        assert_eq!(first.headers.typed::<RSeq>().unwrap().unwrap(), RSeq(100));
        assert!(requires_100rel(&first.headers));
        assert!(
            r.send(Response::new(StatusCode::SESSION_PROGRESS))
                .is_none()
        );
        assert!(r.hold(Response::new(StatusCode::OK)).is_none());
        let wrong = RAck {
            rseq: 99,
            cseq: 1,
            method: Method::Invite,
        };
        assert!(!r.acknowledge(&wrong, 1));
        let right = RAck {
            rseq: 100,
            cseq: 1,
            method: Method::Invite,
        };
        assert!(!r.acknowledge(&right, 2));
        assert!(r.acknowledge(&right, 1));
        assert!(!r.is_awaiting_prack());
        let next = r.next_queued().unwrap();
        assert_eq!(next.status, StatusCode::SESSION_PROGRESS);
        let again = r.send(next).unwrap();
        assert_eq!(again.headers.typed::<RSeq>().unwrap().unwrap(), RSeq(101));
        assert!(r.next_queued().is_none());
    }

    #[test]
    fn uac_accepts_in_order_only() {
        let mut last = None;
        assert!(accept_rseq(&mut last, 7));
        assert!(!accept_rseq(&mut last, 7)); // retransmission
        assert!(!accept_rseq(&mut last, 9)); // gap
        assert!(accept_rseq(&mut last, 8));
    }
}
