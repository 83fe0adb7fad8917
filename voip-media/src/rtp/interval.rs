//! The RTCP transmission interval (RFC 3550 §6.2, §6.3 and Appendix A.7).
//!
//! The interval scales with the number of members so that RTCP stays at 5 %
//! of the session bandwidth, senders getting a quarter of it when they are
//! few. It never drops below a minimum (5 s, halved before the first report,
//! or the "reduced minimum" 360 / session bandwidth in kbit/s of §6.2), and is
//! randomised over [0.5, 1.5] × T, then divided by e − 3/2 to compensate for
//! timer reconsideration (§6.3.1). The random numbers come from the injected
//! [`voip_core::Rng`].

use std::time::Duration;

use voip_core::Rng;

/// The fixed minimum interval of §6.2.
pub const RTCP_MIN_TIME: Duration = Duration::from_secs(5);
/// Share of the RTCP bandwidth for senders when they are at most a quarter
/// of the members (A.7 `RTCP_SENDER_BW_FRACTION`).
pub const SENDER_BANDWIDTH_FRACTION: f64 = 0.25;
/// Share for receivers (A.7 `RTCP_RCVR_BW_FRACTION`).
pub const RECEIVER_BANDWIDTH_FRACTION: f64 = 0.75;
/// A.7 `COMPENSATION`: e − 3/2, for the reconsideration's bias to shorter
/// intervals.
pub const COMPENSATION: f64 = std::f64::consts::E - 1.5;

/// The inputs of A.7 `rtcp_interval()`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IntervalInput {
    /// Members of the session, ourselves included.
    pub members: u32,
    /// Members that sent RTP since the last report, ourselves included.
    pub senders: u32,
    /// The RTCP bandwidth in octets per second (5 % of the session's).
    pub rtcp_bandwidth: f64,
    /// Whether we sent RTP since the last report.
    pub we_sent: bool,
    /// Average compound RTCP packet size in octets, lower layers included.
    pub avg_rtcp_size: f64,
    /// Before our first report: the minimum is halved.
    pub initial: bool,
    /// The minimum interval: [`RTCP_MIN_TIME`] or the reduced minimum.
    pub min_interval: Duration,
}

/// The reduced minimum of §6.2: 360 divided by the session bandwidth in
/// kbit/s, in seconds (for 64 kbit/s, 5.625 s; for 1 Mbit/s, 360 ms).
pub fn reduced_minimum(session_bandwidth_bps: u32) -> Duration {
    if session_bandwidth_bps == 0 {
        return RTCP_MIN_TIME;
    }
    Duration::from_secs_f64(360.0 / (f64::from(session_bandwidth_bps) / 1000.0))
}

/// The deterministic interval Td of §6.3.1, before randomisation.
pub fn deterministic_interval(input: &IntervalInput) -> Duration {
    let mut min_time = input.min_interval.as_secs_f64();
    if input.initial {
        min_time /= 2.0;
    }
    let mut rtcp_bw = input.rtcp_bandwidth;
    let mut n = f64::from(input.members.max(1));
    let senders = f64::from(input.senders);
    if senders <= n * SENDER_BANDWIDTH_FRACTION {
        if input.we_sent {
            rtcp_bw *= SENDER_BANDWIDTH_FRACTION;
            n = senders.max(1.0);
        } else {
            rtcp_bw *= RECEIVER_BANDWIDTH_FRACTION;
            n = (n - senders).max(1.0);
        }
    }
    let t = if rtcp_bw > 0.0 {
        input.avg_rtcp_size * n / rtcp_bw
    } else {
        min_time
    };
    Duration::from_secs_f64(t.max(min_time))
}

/// A.7 `rtcp_interval()`: the deterministic interval randomised over
/// [0.5, 1.5] and divided by [`COMPENSATION`].
pub fn rtcp_interval(input: &IntervalInput, rng: &mut Rng) -> Duration {
    let td = deterministic_interval(input).as_secs_f64();
    randomise(td, rng)
}

fn randomise(td: f64, rng: &mut Rng) -> Duration {
    // A uniform draw in [0, 1) from 53 random bits.
    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    Duration::from_secs_f64(td * (u + 0.5) / COMPENSATION)
}

/// Average RTCP packet size update of §6.3.3: `avg = 1/16 × size + 15/16 × avg`.
pub fn update_avg_rtcp_size(avg: f64, packet_size: usize) -> f64 {
    avg + (packet_size as f64 - avg) / 16.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_party(we_sent: bool) -> IntervalInput {
        IntervalInput {
            members: 2,
            senders: 2,
            rtcp_bandwidth: 0.05 * 80_000.0 / 8.0,
            we_sent,
            avg_rtcp_size: 100.0,
            initial: false,
            min_interval: RTCP_MIN_TIME,
        }
    }

    #[test]
    fn small_session_uses_the_minimum() {
        assert_eq!(deterministic_interval(&two_party(true)), RTCP_MIN_TIME);
        let initial = IntervalInput {
            initial: true,
            ..two_party(true)
        };
        assert_eq!(
            deterministic_interval(&initial),
            Duration::from_millis(2500)
        );
    }

    #[test]
    fn large_session_scales_with_members() {
        // 1000 receivers, 1 sender (not us), 100-octet reports, 500 octets/s:
        // receivers get 375 octets/s, n = 999, T = 100 × 999 / 375 = 266.4 s.
        let input = IntervalInput {
            members: 1000,
            senders: 1,
            rtcp_bandwidth: 500.0,
            we_sent: false,
            avg_rtcp_size: 100.0,
            initial: false,
            min_interval: RTCP_MIN_TIME,
        };
        let td = deterministic_interval(&input).as_secs_f64();
        assert!((td - 266.4).abs() < 1e-9, "{td}");
        // The sender's interval: a quarter of the bandwidth over 1 sender.
        let sender = IntervalInput {
            we_sent: true,
            ..input
        };
        assert_eq!(deterministic_interval(&sender), RTCP_MIN_TIME);
    }

    #[test]
    fn randomised_within_bounds_and_deterministic_under_a_seed() {
        let mut rng = Rng::seeded(1);
        let lo = 5.0 * 0.5 / COMPENSATION;
        let hi = 5.0 * 1.5 / COMPENSATION;
        let mut min = f64::MAX;
        let mut max = 0.0f64;
        for _ in 0..10_000 {
            let t = rtcp_interval(&two_party(true), &mut rng).as_secs_f64();
            assert!(t >= lo && t < hi, "{t}");
            min = min.min(t);
            max = max.max(t);
        }
        // The draw spreads over the whole range.
        assert!(min < lo + 0.1 && max > hi - 0.1);
        let a = rtcp_interval(&two_party(true), &mut Rng::seeded(9));
        let b = rtcp_interval(&two_party(true), &mut Rng::seeded(9));
        assert_eq!(a, b);
    }

    #[test]
    fn reduced_minimum_is_360_over_kbps() {
        assert_eq!(reduced_minimum(64_000), Duration::from_secs_f64(5.625));
        assert_eq!(reduced_minimum(1_000_000), Duration::from_millis(360));
        assert_eq!(reduced_minimum(0), RTCP_MIN_TIME);
    }

    #[test]
    fn average_size_moves_by_a_sixteenth() {
        assert_eq!(update_avg_rtcp_size(100.0, 260), 110.0);
    }
}
