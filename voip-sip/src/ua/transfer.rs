//! Call transfer: REFER (RFC 3515) with Referred-By (RFC 3892) and
//! Replaces (RFC 3891), and the implicit `refer` subscription of RFC 6665
//! whose NOTIFYs carry message/sipfrag progress.
//!
//! ```text
//!  transferor            transferee                 target
//!     │── REFER ───────────►│                          │
//!     │◄── 202 ─────────────│ (application accepts)    │
//!     │◄── NOTIFY 100 ──────│── INVITE (Replaces) ────►│
//!     │── 200 ─────────────►│◄── 200 ─────────────────│
//!     │◄── NOTIFY 200 ──────│   (application reports)  │
//!     │── BYE ─────────────►│   subscription terminated
//! ```

use std::time::Instant;

use bytes::Bytes;

use super::{Body, Purpose, RequestId, ServerTx, Ua, UaError, UaEvent};
use crate::dialog::DialogId;
use crate::dialog::refer::{SIPFRAG, refer_to, sipfrag, sipfrag_status, split_refer_to};
use crate::header::{Event, ReferTo, ReferredBy, Replaces, SubscriptionState, TypedHeader};
use crate::message::{Method, Request, StatusCode};
use crate::transaction::{ReplyPath, TransactionId};
use crate::uri::Uri;

impl Ua {
    /// Asks the peer of `dialog` to call `target` (blind transfer), or with
    /// `replaces` to replace a dialog of ours (attended transfer). Progress
    /// comes as [`UaEvent::TransferProgress`]; the 202 (or refusal) as a
    /// [`UaEvent::Response`].
    pub fn refer(
        &mut self,
        now: Instant,
        dialog: DialogId,
        target: &Uri,
        replaces: Option<&Replaces>,
    ) -> Result<RequestId, UaError> {
        let leg = self.legs.get(&dialog).ok_or(UaError::NoDialog(dialog))?;
        let by = ReferredBy(leg.dialog.local_uri().clone());
        let extra = vec![
            (ReferTo::NAME, refer_to(target, replaces).to_bytes()),
            (ReferredBy::NAME, by.to_bytes()),
        ];
        let rid = RequestId(self.new_id());
        self.send_in_dialog(
            now,
            dialog,
            Method::Refer,
            None,
            extra,
            Purpose::Other {
                dialog: Some(dialog),
                request: rid,
            },
        )?;
        Ok(rid)
    }

    /// Attended transfer: asks the peer of `dialog` to call the peer of
    /// `other` with a Replaces naming `other` (RFC 5589 §7).
    pub fn attended_transfer(
        &mut self,
        now: Instant,
        dialog: DialogId,
        other: DialogId,
    ) -> Result<RequestId, UaError> {
        let leg = self.legs.get(&other).ok_or(UaError::NoDialog(other))?;
        let replaces = leg.dialog.replaces();
        let target = leg.dialog.remote_target().clone();
        self.refer(now, dialog, &target, Some(&replaces))
    }

    /// Reports the progress of a transfer we accepted in `dialog` (the
    /// status of our INVITE to the target): a NOTIFY with a sipfrag body;
    /// a final status ends the subscription.
    pub fn transfer_progress(
        &mut self,
        now: Instant,
        dialog: DialogId,
        status: StatusCode,
    ) -> Result<(), UaError> {
        let leg = self
            .legs
            .get_mut(&dialog)
            .ok_or(UaError::NoDialog(dialog))?;
        let seq = leg.refer_sub.ok_or(UaError::InvalidState(dialog))?;
        if status.is_final() {
            leg.refer_sub = None;
        }
        self.send_notify(now, dialog, seq, status);
        Ok(())
    }

    pub(crate) fn send_notify(
        &mut self,
        now: Instant,
        dialog: DialogId,
        refer_seq: u32,
        status: StatusCode,
    ) {
        let state = if status.is_final() {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        let extra = vec![
            (Event::NAME, Bytes::from(format!("refer;id={refer_seq}"))),
            (
                SubscriptionState::NAME,
                Bytes::from_static(state.as_bytes()),
            ),
        ];
        let body = Body::new(Bytes::from_static(SIPFRAG.as_bytes()), sipfrag(status));
        let _ = self.send_in_dialog(
            now,
            dialog,
            Method::Notify,
            Some(&body),
            extra,
            Purpose::Notify(dialog),
        );
    }

    pub(crate) fn on_refer(
        &mut self,
        now: Instant,
        id: TransactionId,
        dialog: DialogId,
        request: Request,
        path: ReplyPath,
    ) {
        // RFC 3515 §2.4.1: exactly one Refer-To
        let refer_to = match (
            request.headers.count(&ReferTo::NAME),
            request.headers.typed::<ReferTo>(),
        ) {
            (1, Some(Ok(r))) => r,
            _ => return self.reply(now, id, &request, StatusCode::BAD_REQUEST, &[]),
        };
        let (target, replaces) = split_refer_to(&refer_to);
        let referred_by = request
            .headers
            .typed::<ReferredBy>()
            .and_then(Result::ok)
            .map(|r| r.0);
        self.servers.insert(
            id,
            ServerTx {
                dialog: Some(dialog),
                request,
                path,
            },
        );
        self.events.push_back(UaEvent::TransferRequested {
            dialog,
            id,
            target,
            replaces,
            referred_by,
        });
    }

    pub(crate) fn on_notify(
        &mut self,
        now: Instant,
        id: TransactionId,
        dialog: DialogId,
        request: Request,
    ) {
        let refer = matches!(
            request.headers.typed::<Event>(),
            Some(Ok(e)) if e.event_type.eq_ignore_ascii_case(b"refer")
        );
        if !refer {
            return self.reply(now, id, &request, StatusCode::BAD_EVENT, &[]);
        }
        let terminated = matches!(
            request.headers.typed::<SubscriptionState>(),
            Some(Ok(s)) if s.is_terminated()
        );
        self.reply(now, id, &request, StatusCode::OK, &[]);
        if let Some(status) = sipfrag_status(&request.body) {
            self.events.push_back(UaEvent::TransferProgress {
                dialog,
                status,
                done: terminated || status.is_final(),
            });
        }
    }
}
