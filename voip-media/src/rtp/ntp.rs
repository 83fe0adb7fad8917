//! NTP timestamps for RTCP (RFC 3550 §4) and round-trip time from report
//! blocks (§6.4.1).
//!
//! The wall clock comes in from the driver as a [`SystemTime`]; nothing here
//! reads a clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp: seconds since 1900 in the high 32 bits, the
/// fraction of a second in the low 32 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTime(pub u64);

impl NtpTime {
    /// The NTP timestamp of a wall-clock time. Times before 1970 map to the
    /// Unix epoch. The seconds field wraps in 2036 as NTP era 0 does.
    pub fn from_system_time(t: SystemTime) -> Self {
        let since_unix = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = since_unix.as_secs().wrapping_add(NTP_UNIX_OFFSET) & 0xffff_ffff;
        let frac = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        Self((secs << 32) | frac)
    }

    /// The middle 32 bits (16 bits of seconds, 16 of fraction), the form of
    /// LSR and of the arrival time in the RTT computation.
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }
}

/// A duration in the 1/65536 s units of DLSR.
pub fn to_short_units(d: Duration) -> u32 {
    let units = (d.as_secs_f64() * 65536.0).round();
    if units >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        units as u32
    }
}

/// A value in 1/65536 s units as a duration.
pub fn from_short_units(units: u32) -> Duration {
    Duration::from_secs_f64(f64::from(units) / 65536.0)
}

/// Round-trip time from a report block (RFC 3550 §6.4.1): `A - LSR - DLSR`,
/// where `arrival` is the middle 32 bits of our NTP time when the report
/// arrived. `None` when the report carries no LSR (no SR received yet) or
/// the result would be negative (clock trouble or a forged block).
pub fn round_trip_time(arrival: u32, lsr: u32, dlsr: u32) -> Option<Duration> {
    if lsr == 0 {
        return None;
    }
    let rtt = arrival.wrapping_sub(lsr).wrapping_sub(dlsr);
    // A negative result shows as a huge value; anything above half the
    // 16-bit seconds range (about 9 hours) is treated as negative.
    if rtt > 0x8000_0000 {
        return None;
    }
    Some(from_short_units(rtt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_is_ntp_2208988800() {
        let t = NtpTime::from_system_time(UNIX_EPOCH);
        assert_eq!(t.0 >> 32, NTP_UNIX_OFFSET);
        assert_eq!(t.0 & 0xffff_ffff, 0);
    }

    #[test]
    fn half_second_fraction() {
        let t = NtpTime::from_system_time(UNIX_EPOCH + Duration::from_millis(1500));
        assert_eq!(t.0 >> 32, NTP_UNIX_OFFSET + 1);
        assert_eq!(t.0 & 0xffff_ffff, 0x8000_0000);
        assert_eq!(t.middle32() & 0xffff, 0x8000);
    }

    #[test]
    fn rfc3550_rtt_example() {
        // RFC 3550 §6.4.1, Figure 2: A = 0xb710:8000 (46864.500 s),
        // LSR = 0xb705:2000 (46853.125 s), DLSR = 0x0005:4000 (5.250 s),
        // so the round trip is 0x0006:2000 = 6.125 s.
        let rtt = round_trip_time(0xb710_8000, 0xb705_2000, 0x0005_4000);
        assert_eq!(rtt, Some(Duration::from_millis(6125)));
    }

    #[test]
    fn no_lsr_or_negative_is_none() {
        assert_eq!(round_trip_time(0x1000_0000, 0, 0), None);
        assert_eq!(round_trip_time(0x1000_0000, 0x1000_0000, 0x10), None);
    }

    #[test]
    fn short_units_round_trip() {
        assert_eq!(to_short_units(Duration::from_millis(5250)), 0x0005_4000);
        assert_eq!(from_short_units(0x0005_4000), Duration::from_millis(5250));
    }
}
