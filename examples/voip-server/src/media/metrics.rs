//! The relay's counters on `/metrics` (Prometheus names, all prefixed
//! `voip_relay_`):
//!
//! | metric | what |
//! |---|---|
//! | `voip_relay_active_calls` (gauge) | calls the relay holds |
//! | `voip_relay_calls_total` | relay calls created |
//! | `voip_relay_packets_total{direction="in"\|"out"}` | RTP packets received from / sent to phones |
//! | `voip_relay_bytes_total{direction}` | their octets (as on the wire, SRTP included) |
//! | `voip_relay_rtcp_total{direction}` | RTCP compounds |
//! | `voip_relay_lost_packets_total` | RTP packets lost on the way to the relay (RFC 3550 A.3) |
//! | `voip_relay_transmitted_total` | datagrams the relay sent (forwarded or its own) |
//! | `voip_relay_dropped_total{reason}` | datagrams dropped: `unknown_port`, `malformed`, `srtp_auth`, `unlatched_source`, `no_destination`, `not_media`, `codec_errors` |
//! | `voip_relay_errors_total{command, reason}` | refused `create`/`offer`/`answer` commands |
//! | `voip_relay_latched_total`, `voip_relay_media_timeouts_total` | relay events |
//!
//! Packet counters are the released calls' totals plus the live calls'
//! current counts, refreshed every second by the SIP driver.

use voip_media::relay::{DriverError, LegStats, RelayError, RelayStats};

/// Counters summed over legs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LegTotals {
    /// RTP packets from phones.
    pub packets_in: u64,
    /// Their octets.
    pub bytes_in: u64,
    /// RTP packets to phones.
    pub packets_out: u64,
    /// Their octets.
    pub bytes_out: u64,
    /// RTCP compounds received.
    pub rtcp_in: u64,
    /// RTCP compounds sent.
    pub rtcp_out: u64,
    /// RTP packets lost before the relay.
    pub lost: u64,
}

impl LegTotals {
    /// Adds both legs of a call.
    pub fn add(&mut self, legs: &[LegStats; 2]) {
        for l in legs {
            self.packets_in += l.packets_in;
            self.bytes_in += l.bytes_in;
            self.packets_out += l.packets_out;
            self.bytes_out += l.bytes_out;
            self.rtcp_in += l.rtcp_in;
            self.rtcp_out += l.rtcp_out;
            self.lost += l.lost;
        }
    }
}

/// Publishes the counters.
pub fn export(stats: &RelayStats, totals: &LegTotals, live: usize) {
    metrics::gauge!("voip_relay_active_calls").set(live as f64);
    for (direction, packets, bytes, rtcp) in [
        ("in", totals.packets_in, totals.bytes_in, totals.rtcp_in),
        ("out", totals.packets_out, totals.bytes_out, totals.rtcp_out),
    ] {
        metrics::counter!("voip_relay_packets_total", "direction" => direction).absolute(packets);
        metrics::counter!("voip_relay_bytes_total", "direction" => direction).absolute(bytes);
        metrics::counter!("voip_relay_rtcp_total", "direction" => direction).absolute(rtcp);
    }
    metrics::counter!("voip_relay_lost_packets_total").absolute(totals.lost);
    metrics::counter!("voip_relay_transmitted_total").absolute(stats.transmitted);
    for (reason, n) in [
        ("unknown_port", stats.unknown_port),
        ("malformed", stats.malformed),
        ("srtp_auth", stats.srtp_auth),
        ("unlatched_source", stats.unlatched_source),
        ("no_destination", stats.no_destination),
        ("not_media", stats.not_media),
        ("codec_errors", stats.codec_errors),
    ] {
        metrics::counter!("voip_relay_dropped_total", "reason" => reason).absolute(n);
    }
}

/// A label for why a command failed.
pub fn reason(error: &DriverError) -> &'static str {
    match error {
        DriverError::PortsExhausted { .. } => "ports_exhausted",
        DriverError::Relay(e) => match e {
            RelayError::MalformedSdp(_) => "malformed_sdp",
            RelayError::NoAudio => "no_audio",
            RelayError::NoCommonCodec => "no_common_codec",
            RelayError::UnknownCall => "unknown_call",
            RelayError::CallExists => "call_exists",
            RelayError::NoPendingOffer => "no_pending_offer",
            RelayError::TooManyCalls => "too_many_calls",
            RelayError::AddressInUse => "address_in_use",
            RelayError::Srtp(_) => "srtp",
            RelayError::Codec(_) => "codec",
            _ => "other",
        },
        DriverError::Io(_) => "io",
        DriverError::Closed => "closed",
        _ => "other",
    }
}

/// Counts a refused command.
pub fn record_error(command: &'static str, error: &DriverError) {
    metrics::counter!("voip_relay_errors_total", "command" => command, "reason" => reason(error))
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_add_both_legs_and_errors_have_labels() {
        let mut leg = LegStats::default();
        leg.packets_in = 3;
        leg.bytes_in = 300;
        leg.packets_out = 2;
        let mut totals = LegTotals::default();
        totals.add(&[leg.clone(), leg]);
        assert_eq!(
            (totals.packets_in, totals.bytes_in, totals.packets_out),
            (6, 600, 4)
        );
        assert_eq!(
            reason(&DriverError::PortsExhausted { min: 1, max: 2 }),
            "ports_exhausted"
        );
        assert_eq!(reason(&RelayError::NoAudio.into()), "no_audio");
    }
}
