//! Response contexts (RFC 3261 §16.7): one per forwarded request, tracking
//! its branches and choosing the best final response.

use std::time::Instant;

use crate::message::{Request, Response, StatusCode};
use crate::transaction::{ReplyPath, TransactionId};

use super::Destination;

/// One client transaction of a context.
#[derive(Debug)]
pub(crate) struct Branch {
    pub(crate) id: TransactionId,
    pub(crate) request: Request,
    pub(crate) target: crate::transaction::Target,
    pub(crate) provisional: bool,
    pub(crate) cancel_wanted: bool,
    pub(crate) cancelled: bool,
    pub(crate) done: bool,
    /// A challenge was answered on this branch already (one answer per
    /// branch: a second 401/407 means wrong credentials).
    pub(crate) authenticated: bool,
}

#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) original: Request,
    pub(crate) inbound: ReplyPath,
    pub(crate) branches: Vec<Branch>,
    /// Destinations not tried yet (serial forking).
    pub(crate) remaining: Vec<Destination>,
    pub(crate) best: Option<Response>,
    pub(crate) final_sent: bool,
    pub(crate) timer_c: Option<Instant>,
    /// Credentials for answering 401/407 from the next hop (a carrier).
    pub(crate) credentials: Option<std::sync::Arc<super::BranchCredentials>>,
    /// An INVITE without a To tag (a new call), for [`super::ProxyEvent`].
    pub(crate) initial_invite: bool,
}

impl Context {
    pub(crate) fn pending(&self) -> impl Iterator<Item = &Branch> {
        self.branches.iter().filter(|b| !b.done)
    }

    /// Keeps the better of the stored and the new final response
    /// (RFC 3261 §16.7 step 6: 6xx first, then the lowest class, with 4xx
    /// preferred over 5xx; 503 is never forwarded as such).
    pub(crate) fn offer(&mut self, mut response: Response) {
        if response.status == StatusCode::SERVICE_UNAVAILABLE {
            response.status = StatusCode::SERVER_INTERNAL_ERROR;
            response.reason = bytes::Bytes::from_static(b"Server Internal Error");
        }
        let better = match &self.best {
            None => true,
            Some(b) => rank(response.status) < rank(b.status),
        };
        if better {
            self.best = Some(response);
        }
    }
}

fn rank(s: StatusCode) -> u32 {
    let code = u32::from(s.as_u16());
    match s.class() {
        6 => code - 600,
        2 => 100 + code,
        // prefer challenges and 4xx over 3xx? RFC: lowest class wins, so 3xx
        // before 4xx before 5xx; within 4xx, 401/407 before the rest.
        3 => 1000 + code,
        4 if matches!(code, 401 | 407) => 2000,
        4 if code == 408 => 2999,
        4 => 2000 + code,
        _ => 3000 + code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranking() {
        assert!(rank(StatusCode::DECLINE) < rank(StatusCode::OK));
        assert!(rank(StatusCode::BUSY_HERE) < rank(StatusCode::SERVER_INTERNAL_ERROR));
        assert!(rank(StatusCode::PROXY_AUTHENTICATION_REQUIRED) < rank(StatusCode::NOT_FOUND));
        assert!(rank(StatusCode::NOT_FOUND) < rank(StatusCode::REQUEST_TIMEOUT));
    }
}
