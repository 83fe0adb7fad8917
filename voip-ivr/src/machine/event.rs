//! What the IVR machine asks its driver to do.

use crate::menu::Target;
use crate::prompt::Prompt;
use crate::webhook::WebhookError;

/// An output of [`crate::Ivr`], drained with [`crate::Ivr::poll_event`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// Play this prompt, then call `handle_playback_finished`. Prompts never
    /// overlap: the next `Play` comes after the previous one finished or was
    /// stopped.
    Play(Prompt),
    /// Stop the prompt that is playing (a key barged in, or the caller hung
    /// up). A stopped prompt is not reported as finished.
    StopPlayback,
    /// Transfer the call; a [`Event::Finished`] follows.
    Transfer(Target),
    /// Hang up the call; a [`Event::Finished`] follows.
    Hangup,
    /// POST `payload` (JSON) to `url` and hand the answer body, or the
    /// failure, to `handle_webhook_response`.
    Webhook {
        /// Where to POST.
        url: String,
        /// The JSON body ([`crate::webhook::WebhookPayload`]).
        payload: serde_json::Value,
    },
    /// A webhook failed (bad answer, request error, timeout); the machine
    /// goes on with its failure path. For logs.
    WebhookFailed {
        /// The URL.
        url: String,
        /// What went wrong.
        error: WebhookError,
    },
    /// The caller entered a menu (for logs and call records).
    MenuEntered {
        /// The menu id.
        menu_id: String,
    },
    /// The session is over; nothing more comes out.
    Finished {
        /// Why.
        reason: FinishReason,
    },
}

/// Why an IVR session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FinishReason {
    /// A transfer action or verb.
    Transferred,
    /// A hang-up action or verb.
    HungUp,
    /// The caller hung up.
    CallerHangup,
    /// Too many invalid entries in a menu.
    MaxFailures,
    /// Too many timeouts in a menu.
    MaxTimeouts,
    /// A webhook answer's verbs ran out.
    ScriptEnded,
    /// A webhook failed with no menu to return to.
    WebhookFailed,
}
