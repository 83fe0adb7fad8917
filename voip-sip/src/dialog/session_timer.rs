//! Session timers (RFC 4028): negotiation of Session-Expires, Min-SE and
//! the refresher, and when to refresh or give up.
//!
//! ```text
//!   refresher:     0 ────────── SE/2: refresh (re-INVITE or UPDATE) ──► restart
//!   both sides:    0 ─────────────────── SE - min(32, SE/3): BYE ────► Terminated
//! ```

use std::time::Duration;

use bytes::Bytes;

use super::Role;
use crate::header::{MinSe, SessionExpires, Supported};
use crate::message::{Headers, Known};
use crate::uri::Params;

/// The RFC 4028 floor for Min-SE, 90 seconds.
pub const MIN_SE_FLOOR: u32 = 90;

/// Who refreshes the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refresher {
    /// The UAC of the dialog-creating INVITE.
    Uac,
    /// Its UAS.
    Uas,
}

impl Refresher {
    fn as_str(self) -> &'static str {
        match self {
            Self::Uac => "uac",
            Self::Uas => "uas",
        }
    }

    fn from_param(p: &[u8]) -> Option<Self> {
        if p.eq_ignore_ascii_case(b"uac") {
            Some(Self::Uac)
        } else if p.eq_ignore_ascii_case(b"uas") {
            Some(Self::Uas)
        } else {
            None
        }
    }
}

/// What this UA asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimerConfig {
    /// The interval to ask for (or impose as UAS), in seconds; `None` does
    /// not ask for a session timer (one the peer asks for is still honoured).
    pub session_expires: Option<u32>,
    /// The smallest interval accepted, in seconds (at least 90).
    pub min_se: u32,
}

impl Default for SessionTimerConfig {
    fn default() -> Self {
        Self {
            session_expires: Some(1800),
            min_se: MIN_SE_FLOOR,
        }
    }
}

/// A negotiated session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// Session interval in seconds.
    pub interval: u32,
    /// Who refreshes.
    pub refresher: Refresher,
}

impl SessionTimer {
    /// Whether the side with `role` sends the refreshes.
    pub fn refreshes(&self, role: Role) -> bool {
        matches!(
            (self.refresher, role),
            (Refresher::Uac, Role::Uac) | (Refresher::Uas, Role::Uas)
        )
    }

    /// When the refresher refreshes: half the interval (RFC 4028 §10).
    pub fn refresh_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval)) / 2
    }

    /// When either side gives up without a refresh and sends BYE: the
    /// interval minus the smaller of 32 s and a third of it (RFC 4028 §10).
    pub fn expire_after(&self) -> Duration {
        let se = u64::from(self.interval);
        Duration::from_secs(se - (se / 3).min(32))
    }

    /// The Session-Expires header for a message.
    pub fn header(&self) -> SessionExpires {
        let mut params = Params::new();
        params.set(
            "refresher",
            Some(Bytes::from_static(self.refresher.as_str().as_bytes())),
        );
        SessionExpires {
            delta: self.interval,
            params,
        }
    }
}

fn supports_timer(headers: &Headers) -> bool {
    headers
        .typed_all::<Supported>()
        .flatten()
        .any(|s| s.as_bytes().eq_ignore_ascii_case(b"timer"))
}

fn min_se(headers: &Headers) -> u32 {
    match headers.typed::<MinSe>() {
        Some(Ok(m)) => m.delta,
        _ => MIN_SE_FLOOR,
    }
}

/// The UAS side (RFC 4028 §9) on a session refresh request (INVITE,
/// re-INVITE, UPDATE): `Err(min_se)` when the asked interval is below ours
/// (answer 422 with that Min-SE), else the timer to put in the 2xx, if any.
pub fn negotiate_uas(
    request: &Headers,
    config: &SessionTimerConfig,
) -> Result<Option<SessionTimer>, u32> {
    let ours = config.min_se.max(MIN_SE_FLOOR);
    let floor = ours.max(min_se(request));
    match request.typed::<SessionExpires>() {
        Some(Ok(se)) => {
            if se.delta < ours {
                return Err(ours);
            }
            // we may shorten the interval, never below either Min-SE
            let interval = config
                .session_expires
                .map_or(se.delta, |want| se.delta.min(want.max(floor)));
            let refresher = match se.refresher().and_then(Refresher::from_param) {
                Some(r) => r,
                None if supports_timer(request) => Refresher::Uac,
                None => Refresher::Uas,
            };
            Ok(Some(SessionTimer {
                interval,
                refresher,
            }))
        }
        _ => Ok(config.session_expires.map(|want| SessionTimer {
            // the UAC did not ask (maybe it does not support timers): we
            // refresh ourselves
            interval: want.max(floor),
            refresher: Refresher::Uas,
        })),
    }
}

/// The headers a UAS adds to its 2xx for `timer` (Session-Expires, and
/// Require: timer when the UAC supports the extension).
pub fn uas_response_headers(request: &Headers, timer: &SessionTimer, out: &mut Headers) {
    out.push_typed(&timer.header());
    if supports_timer(request) {
        out.push(Known::Require, Bytes::from_static(b"timer"));
    }
}

/// The headers a UAC puts in a session refresh request: Session-Expires
/// (no refresher: the UAS chooses), Min-SE.
pub fn uac_request_headers(interval: u32, min_se: u32, out: &mut Headers) {
    out.push_typed(&SessionExpires {
        delta: interval,
        params: Params::new(),
    });
    out.push_typed(&MinSe {
        delta: min_se.max(MIN_SE_FLOOR),
        params: Params::new(),
    });
}

/// The UAC side (RFC 4028 §7.2) on a 2xx: the session timer the UAS
/// chose, if any (a missing refresher makes the UAC the refresher).
pub fn from_response(response: &Headers) -> Option<SessionTimer> {
    let se = response.typed::<SessionExpires>()?.ok()?;
    Some(SessionTimer {
        // below the RFC's floor a broken peer would have us refresh in a loop
        interval: se.delta.max(MIN_SE_FLOOR),
        refresher: se
            .refresher()
            .and_then(Refresher::from_param)
            .unwrap_or(Refresher::Uac),
    })
}

/// The Min-SE of a 422 response (RFC 4028 §6), at least 90.
pub fn min_se_of_422(response: &Headers) -> Option<u32> {
    match response.typed::<MinSe>() {
        Some(Ok(m)) => Some(m.delta.max(MIN_SE_FLOOR)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::TypedHeader;

    fn headers(lines: &[(Known, &'static str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in lines {
            h.push(*n, *v);
        }
        h
    }

    #[test]
    fn timings_follow_rfc4028_section_10() {
        let t = SessionTimer {
            interval: 1800,
            refresher: Refresher::Uac,
        };
        assert_eq!(t.refresh_after(), Duration::from_secs(900));
        assert_eq!(t.expire_after(), Duration::from_secs(1768));
        let short = SessionTimer {
            interval: 90,
            refresher: Refresher::Uas,
        };
        assert_eq!(short.expire_after(), Duration::from_secs(60));
        assert!(short.refreshes(Role::Uas) && !short.refreshes(Role::Uac));
        assert_eq!(&t.header().to_bytes()[..], b"1800;refresher=uac");
    }

    #[test]
    fn uas_rejects_small_intervals_with_its_min_se() {
        let config = SessionTimerConfig {
            session_expires: Some(1800),
            min_se: 300,
        };
        let req = headers(&[(Known::SessionExpires, "120"), (Known::Supported, "timer")]);
        assert_eq!(negotiate_uas(&req, &config), Err(300));
        let req = headers(&[(Known::SessionExpires, "600"), (Known::Supported, "timer")]);
        assert_eq!(
            negotiate_uas(&req, &config),
            Ok(Some(SessionTimer {
                interval: 600,
                refresher: Refresher::Uac
            }))
        );
        let req = headers(&[(Known::SessionExpires, "3600;refresher=uas")]);
        assert_eq!(
            negotiate_uas(&req, &config),
            Ok(Some(SessionTimer {
                interval: 1800,
                refresher: Refresher::Uas
            }))
        );
        // no Session-Expires: we impose ours and refresh ourselves
        assert_eq!(
            negotiate_uas(&Headers::new(), &config),
            Ok(Some(SessionTimer {
                interval: 1800,
                refresher: Refresher::Uas
            }))
        );
        let off = SessionTimerConfig {
            session_expires: None,
            min_se: 90,
        };
        assert_eq!(negotiate_uas(&Headers::new(), &off), Ok(None));
    }

    #[test]
    fn uac_reads_the_answer_and_the_422() {
        let resp = headers(&[(Known::SessionExpires, "900;refresher=uas")]);
        assert_eq!(
            from_response(&resp),
            Some(SessionTimer {
                interval: 900,
                refresher: Refresher::Uas
            })
        );
        assert_eq!(from_response(&Headers::new()), None);
        assert_eq!(
            min_se_of_422(&headers(&[(Known::MinSe, "1200")])),
            Some(1200)
        );
        let mut out = Headers::new();
        uac_request_headers(1800, 90, &mut out);
        assert_eq!(out.get(&Known::SessionExpires.into()).unwrap(), b"1800");
        assert_eq!(out.get(&Known::MinSe.into()).unwrap(), b"90");
    }
}
