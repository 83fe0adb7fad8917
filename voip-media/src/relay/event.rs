//! What the relay reports, drained with [`Relay::poll_event`](super::Relay::poll_event).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::leg::Side;
use crate::dtmf::Rfc4733Event;
use crate::rtp::QualityReport;

/// RTP or RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Component {
    /// Media.
    Rtp,
    /// Control.
    Rtcp,
}

/// Something the application may act on.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RelayEvent {
    /// A leg's remote address was learned from its media (or changed after
    /// the latched source fell silent).
    Latched {
        /// The call.
        call: Arc<str>,
        /// The leg.
        side: Side,
        /// RTP or RTCP.
        component: Component,
        /// The address now used.
        remote: SocketAddr,
        /// The address it replaced.
        previous: Option<SocketAddr>,
    },
    /// No media from a leg for the configured timeout (reported once until
    /// media resumes); the application usually ends the call.
    MediaTimeout {
        /// The call.
        call: Arc<str>,
        /// The silent leg.
        side: Side,
        /// How long it has been silent.
        silent_for: Duration,
    },
    /// An RFC 4733 key press from a leg (it is also relayed to the other).
    Dtmf {
        /// The call.
        call: Arc<str>,
        /// The leg it came from.
        from: Side,
        /// Pressed or released.
        event: Rfc4733Event,
    },
    /// The periodic quality estimate of what a leg sends.
    Quality {
        /// The call.
        call: Arc<str>,
        /// The leg.
        side: Side,
        /// E-model R and MOS, loss, jitter.
        report: QualityReport,
    },
}
