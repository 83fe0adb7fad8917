//! Settings of a [`Relay`](super::Relay): latching, timeouts, the jitter
//! buffer of transcoded legs, SRTP suite and the port range the driver
//! allocates from. `Default` + setters, checked by `build()`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use voip_core::ConfigError;

use crate::jitter::JitterConfig;
use crate::srtp::CryptoSuite;

/// How a leg learns where to send (symmetric RTP, RFC 4961, and the
/// "latching" NAT traversal of rtpengine).
///
/// | mode | accepts media from | sends to |
/// |---|---|---|
/// | `Learn` (default) | the first source heard (any address) | that source |
/// | `Strict` | only the IP address the SDP names (any port) | the source heard from that IP |
/// | `Off` | any source | the SDP address, always |
///
/// Once latched, packets from another source are dropped and counted
/// ([`RelayStats::unlatched_source`](super::RelayStats::unlatched_source)),
/// unless the latched source has been silent for
/// [`RelayConfig::relatch_after`]: then the new source takes over (a phone
/// that roamed, a NAT binding that changed). A re-INVITE with a new address
/// clears the latch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LatchMode {
    /// Latch onto the first source (symmetric RTP behind any NAT).
    #[default]
    Learn,
    /// Latch only onto sources with the SDP's IP address.
    Strict,
    /// Never latch: send to the SDP address.
    Off,
}

/// Settings of a relay.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub(crate) latch: LatchMode,
    pub(crate) relatch_after: Duration,
    pub(crate) media_timeout: Duration,
    pub(crate) quality_interval: Duration,
    pub(crate) jitter: JitterConfig,
    pub(crate) advertised_ip: Option<IpAddr>,
    pub(crate) srtp_suite: CryptoSuite,
    pub(crate) port_min: u16,
    pub(crate) port_max: u16,
    pub(crate) max_calls: usize,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            latch: LatchMode::Learn,
            relatch_after: Duration::from_secs(2),
            media_timeout: Duration::from_secs(60),
            quality_interval: Duration::from_secs(10),
            jitter: JitterConfig::default(),
            advertised_ip: None,
            srtp_suite: CryptoSuite::AesCm128HmacSha1_80,
            port_min: 30000,
            port_max: 30100,
            max_calls: 10_000,
        }
    }
}

impl RelayConfig {
    /// The latching mode (default [`LatchMode::Learn`]).
    pub fn latch(mut self, mode: LatchMode) -> Self {
        self.latch = mode;
        self
    }

    /// How long a latched source must be silent before another source may
    /// take its place (default 2 s).
    pub fn relatch_after(mut self, d: Duration) -> Self {
        self.relatch_after = d;
        self
    }

    /// Silence on a leg after which [`RelayEvent::MediaTimeout`] is
    /// reported (default 60 s, rtpengine's `timeout`).
    ///
    /// [`RelayEvent::MediaTimeout`]: super::RelayEvent::MediaTimeout
    pub fn media_timeout(mut self, d: Duration) -> Self {
        self.media_timeout = d;
        self
    }

    /// How often [`RelayEvent::Quality`](super::RelayEvent::Quality) is
    /// reported per leg with media (default 10 s).
    pub fn quality_interval(mut self, d: Duration) -> Self {
        self.quality_interval = d;
        self
    }

    /// The jitter buffer of transcoded legs; its clock rate and frame
    /// duration are set per leg from the negotiated codec and ptime.
    pub fn jitter(mut self, config: JitterConfig) -> Self {
        self.jitter = config;
        self
    }

    /// The address written into rewritten SDP (`c=`); default: each leg's
    /// local address. Set it when the relay binds `0.0.0.0` or sits behind
    /// a 1:1 NAT.
    pub fn advertised_ip(mut self, ip: IpAddr) -> Self {
        self.advertised_ip = Some(ip);
        self
    }

    /// The SDES suite offered toward a leg the relay encrypts (default
    /// `AES_CM_128_HMAC_SHA1_80`).
    pub fn srtp_suite(mut self, suite: CryptoSuite) -> Self {
        self.srtp_suite = suite;
        self
    }

    /// The UDP port range legs are allocated from by the driver (default
    /// 30000–30100, the seed's range). Each leg takes an even RTP port and
    /// the odd port above it for RTCP.
    pub fn port_range(mut self, min: u16, max: u16) -> Self {
        self.port_min = min;
        self.port_max = max;
        self
    }

    /// Most calls at once (default 10 000); more are refused.
    pub fn max_calls(mut self, n: usize) -> Self {
        self.max_calls = n;
        self
    }

    /// The port range.
    pub fn ports(&self) -> (u16, u16) {
        (self.port_min, self.port_max)
    }

    /// Checks the settings.
    pub fn build(self) -> Result<Arc<Self>, ConfigError> {
        if self.port_min == 0 || self.port_min > self.port_max {
            return Err(ConfigError::new("port_range", "needs 0 < min <= max"));
        }
        if u32::from(self.port_max) - u32::from(self.port_min) < 1 {
            return Err(ConfigError::new(
                "port_range",
                "needs at least two ports (RTP and RTCP)",
            ));
        }
        if self.media_timeout.is_zero() {
            return Err(ConfigError::new("media_timeout", "must be positive"));
        }
        if self.quality_interval < Duration::from_millis(100) {
            return Err(ConfigError::new(
                "quality_interval",
                "must be at least 100 ms",
            ));
        }
        if self.max_calls == 0 {
            return Err(ConfigError::new("max_calls", "must be at least 1"));
        }
        self.jitter.clone().build()?;
        Ok(Arc::new(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build_and_bad_values_are_refused() {
        let c = RelayConfig::default().build().unwrap();
        assert_eq!(c.ports(), (30000, 30100));
        assert!(RelayConfig::default().port_range(100, 50).build().is_err());
        assert!(RelayConfig::default().port_range(0, 50).build().is_err());
        assert!(RelayConfig::default().port_range(50, 50).build().is_err());
        assert!(
            RelayConfig::default()
                .media_timeout(Duration::ZERO)
                .build()
                .is_err()
        );
        assert!(RelayConfig::default().max_calls(0).build().is_err());
    }
}
