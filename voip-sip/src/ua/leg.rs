//! What the UA core keeps per dialog, per outgoing INVITE and per
//! transaction.

use std::time::Duration;

use voip_core::Transmit;

use super::timer::DialogTimers;
use super::{Body, RequestId};
use crate::dialog::reliable::ReliableProvisionals;
use crate::dialog::session_timer::SessionTimer;
use crate::dialog::{Dialog, DialogId};
use crate::message::{Method, Request};
use crate::transaction::{ReplyPath, Target, TransactionId};

/// What one of our client transactions is for.
#[derive(Debug, Clone)]
pub(crate) enum Purpose {
    /// The dialog-creating INVITE.
    Invite(RequestId),
    /// A re-INVITE (`request` is `None` for a session refresh).
    ReInvite {
        dialog: DialogId,
        request: Option<RequestId>,
        body: Option<Body>,
    },
    /// An UPDATE (`request` is `None` for a session refresh).
    Update {
        dialog: DialogId,
        request: Option<RequestId>,
        body: Option<Body>,
    },
    Prack,
    Bye,
    Cancel,
    /// A NOTIFY of a REFER subscription.
    Notify(DialogId),
    /// INFO, MESSAGE, OPTIONS, REFER and other requests of the application.
    Other {
        dialog: Option<DialogId>,
        request: RequestId,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct ClientTx {
    pub(crate) purpose: Purpose,
    pub(crate) request: Request,
    pub(crate) target: Target,
    pub(crate) challenged: bool,
}

/// A request the application answers through [`Ua::respond`].
#[derive(Debug, Clone)]
pub(crate) struct ServerTx {
    pub(crate) dialog: Option<DialogId>,
    pub(crate) request: Request,
    pub(crate) path: ReplyPath,
}

/// A 2xx the UAS core retransmits until its ACK.
#[derive(Debug, Clone)]
pub(crate) struct Pending2xx {
    pub(crate) cseq: u32,
    pub(crate) transmit: Transmit,
    pub(crate) interval: Duration,
}

/// A re-INVITE or UPDATE to send again after a 491.
#[derive(Debug, Clone)]
pub(crate) struct Retry {
    pub(crate) method: Method,
    pub(crate) request: Option<RequestId>,
    pub(crate) body: Option<Body>,
}

/// One dialog and what the UA core does with it.
#[derive(Debug)]
pub(crate) struct Leg {
    pub(crate) dialog: Dialog,
    /// Our dialog-creating INVITE (UAC).
    pub(crate) call: Option<RequestId>,
    /// The application has heard of the dialog.
    pub(crate) surfaced: bool,
    /// Where the peer's messages came from (a fallback next hop).
    pub(crate) peer: Option<Target>,
    pub(crate) timers: DialogTimers,
    /// UAS: the INVITE server transaction and request, until answered.
    pub(crate) invite_tx: Option<TransactionId>,
    pub(crate) invite: Option<Request>,
    pub(crate) reply_path: Option<ReplyPath>,
    /// The application hung up before the ACK of our 2xx: BYE once it
    /// comes (RFC 3261 §15).
    pub(crate) bye_pending: bool,
    pub(crate) pending_2xx: Option<Pending2xx>,
    pub(crate) reliable: ReliableProvisionals,
    pub(crate) reliable_interval: Duration,
    /// UAS: negotiated when the INVITE arrived, active once the 2xx left.
    pub(crate) session_offer: Option<SessionTimer>,
    /// UAS: the dialog an INVITE with Replaces takes over.
    pub(crate) replaces: Option<DialogId>,
    /// UAC: the last reliable provisional RSeq.
    pub(crate) last_rseq: Option<u32>,
    /// UAC: the ACK last sent (CSeq, message) to resend on 2xx
    /// retransmissions.
    pub(crate) ack: Option<(u32, Transmit)>,
    /// UAC: a 2xx waiting for the application's ACK (late offer).
    pub(crate) ack_pending: Option<u32>,
    /// Our re-INVITE or UPDATE in progress.
    pub(crate) offer_out: Option<(Method, TransactionId)>,
    /// The peer's re-INVITE not answered yet.
    pub(crate) invite_in: Option<TransactionId>,
    pub(crate) glare: Option<Retry>,
    /// The last session description we sent (for refreshes by re-INVITE).
    pub(crate) local_body: Option<Body>,
    pub(crate) peer_allows_update: bool,
    pub(crate) session: Option<SessionTimer>,
    /// The REFER we accepted: its CSeq, while its subscription lasts.
    pub(crate) refer_sub: Option<u32>,
}

impl Leg {
    pub(crate) fn new(dialog: Dialog, peer: Option<Target>, t1: Duration) -> Self {
        Self {
            dialog,
            call: None,
            surfaced: false,
            peer,
            timers: DialogTimers::default(),
            invite_tx: None,
            invite: None,
            reply_path: None,
            bye_pending: false,
            pending_2xx: None,
            reliable: ReliableProvisionals::new(1),
            reliable_interval: t1,
            session_offer: None,
            replaces: None,
            last_rseq: None,
            ack: None,
            ack_pending: None,
            offer_out: None,
            invite_in: None,
            glare: None,
            local_body: None,
            peer_allows_update: false,
            session: None,
            refer_sub: None,
        }
    }
}

/// Whether a CANCEL was asked for our INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelState {
    None,
    /// Asked before any provisional response: sent on the first one.
    Wanted,
    Sent,
}

/// Our dialog-creating INVITE and the dialogs its forks made.
#[derive(Debug)]
pub(crate) struct OutgoingCall {
    pub(crate) tx: TransactionId,
    pub(crate) request: Request,
    pub(crate) target: Target,
    pub(crate) provisional: bool,
    pub(crate) cancel: CancelState,
    pub(crate) dialogs: Vec<DialogId>,
    pub(crate) answered: Option<DialogId>,
    pub(crate) done: bool,
    pub(crate) retries: u8,
}
