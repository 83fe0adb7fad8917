//! Call accounting: what the SIP core tells the CDR writer (Kamailio's
//! `acc` module role). Events carry wall-clock times; the writer turns them
//! into `call_logs` and `active_calls` rows.

use std::time::SystemTime;

/// How a call ended, as the `status` column of `call_logs` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Answered, then hung up.
    Completed,
    /// Never answered: cancelled, timed out or unavailable.
    Missed,
    /// The callee was busy (486, 600).
    Busy,
    /// Refused or failed for another reason.
    Failed,
}

impl Outcome {
    /// The `status` column value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Missed => "missed",
            Self::Busy => "busy",
            Self::Failed => "failed",
        }
    }

    /// The outcome of an unanswered call that ended with `status`.
    pub fn of_final(status: u16) -> Self {
        match status {
            486 | 600 => Self::Busy,
            408 | 480 | 487 | 603 => Self::Missed,
            _ => Self::Failed,
        }
    }
}

/// One step in the life of a call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallEvent {
    /// An initial INVITE was forwarded.
    Started {
        /// The Call-ID.
        call_id: String,
        /// The caller: the authenticated extension, or the From user.
        from: String,
        /// The callee: the To user (what was dialled).
        to: String,
        /// When.
        at: SystemTime,
    },
    /// The call was answered (a 2xx went to the caller).
    Answered {
        /// The Call-ID.
        call_id: String,
        /// When.
        at: SystemTime,
    },
    /// What the media relay measured, sent just before [`CallEvent::Ended`]
    /// for calls whose media it anchored.
    Media {
        /// The Call-ID.
        call_id: String,
        /// The codec, or `caller|callee` when the relay transcoded.
        codec: Option<String>,
        /// The caller's and the callee's leg, as the relay received them.
        legs: [LegQuality; 2],
        /// The recording's URL path (`/recordings/<file>.wav`), when the
        /// call was recorded (`[recording] enabled = true`).
        recording: Option<String>,
    },
    /// The call ended.
    Ended {
        /// The Call-ID.
        call_id: String,
        /// How.
        outcome: Outcome,
        /// Why, e.g. `BYE from caller` or `486 Busy Here`.
        cause: String,
        /// When.
        at: SystemTime,
    },
}

/// One leg's media quality for the CDR.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LegQuality {
    /// E-model MOS (ITU-T G.107), when the leg carried enough media.
    pub mos: Option<f64>,
    /// Interarrival jitter (RFC 3550), milliseconds.
    pub jitter_ms: f64,
    /// Packets lost, percent.
    pub loss_pct: f64,
}

impl LegQuality {
    /// From the relay's statistics of one leg.
    pub fn of(stats: &voip_media::relay::LegStats) -> Self {
        let expected = stats.packets_in + stats.lost;
        let loss_pct = if expected == 0 {
            0.0
        } else {
            100.0 * stats.lost as f64 / expected as f64
        };
        match &stats.quality {
            Some(q) => Self {
                mos: Some(q.mos),
                jitter_ms: q.jitter_ms,
                loss_pct: q.loss_percent,
            },
            None => Self {
                mos: None,
                jitter_ms: stats.jitter.as_secs_f64() * 1000.0,
                loss_pct,
            },
        }
    }
}

impl CallEvent {
    /// The Call-ID the event is about.
    pub fn call_id(&self) -> &str {
        match self {
            Self::Started { call_id, .. }
            | Self::Answered { call_id, .. }
            | Self::Media { call_id, .. }
            | Self::Ended { call_id, .. } => call_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_of_final_responses() {
        assert_eq!(Outcome::of_final(486), Outcome::Busy);
        assert_eq!(Outcome::of_final(487), Outcome::Missed);
        assert_eq!(Outcome::of_final(404), Outcome::Failed);
        assert_eq!(Outcome::Completed.as_str(), "completed");
    }
}
