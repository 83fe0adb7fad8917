//! Counters: per leg (what came in, what went out, the quality of what
//! came in) and per relay (what was dropped and why).

use std::time::Duration;

use crate::rtp::QualityReport;

/// What one leg sent us and what we sent it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct LegStats {
    /// RTP packets received from the leg's endpoint (after SRTP).
    pub packets_in: u64,
    /// Octets of those datagrams, as received.
    pub bytes_in: u64,
    /// RTP packets sent to the endpoint.
    pub packets_out: u64,
    /// Octets sent, as sent (after SRTP).
    pub bytes_out: u64,
    /// RTCP compounds received.
    pub rtcp_in: u64,
    /// RTCP compounds sent (forwarded or our own).
    pub rtcp_out: u64,
    /// RTP packets of the endpoint's stream lost on the way (RFC 3550
    /// A.3 cumulative loss).
    pub lost: u64,
    /// Interarrival jitter of the endpoint's stream.
    pub jitter: Duration,
    /// The E-model estimate for what the endpoint sends us, when a source
    /// is active.
    pub quality: Option<QualityReport>,
    /// RFC 4733 events received.
    pub dtmf_events: u64,
    /// Frames concealed by the transcoder (loss or late packets).
    pub concealed: u64,
}

/// Datagrams the relay refused, by reason. Nothing here panics or
/// allocates per drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelayStats {
    /// Arrived on a local address that belongs to no call.
    pub unknown_port: u64,
    /// Not RTP/RTCP, or a malformed header.
    pub malformed: u64,
    /// SRTP/SRTCP authentication failed (or a replay).
    pub srtp_auth: u64,
    /// From a source other than the latched one (or, strict, the SDP's IP).
    pub unlatched_source: u64,
    /// No address to forward to yet (no SDP address, nothing latched).
    pub no_destination: u64,
    /// STUN/DTLS on a SIP leg (no ICE/DTLS here): dropped.
    pub not_media: u64,
    /// Packets the transcoder could not decode or encode.
    pub codec_errors: u64,
    /// Datagrams forwarded or generated.
    pub transmitted: u64,
}
