//! Settings of the adaptive jitter buffer.

use std::time::Duration;

use voip_core::ConfigError;

/// Jitter buffer settings. Start from [`Default`] (8 kHz, 20 ms frames),
/// adjust, then [`build`].
///
/// [`build`]: JitterConfig::build
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct JitterConfig {
    /// RTP clock rate of the stream (8000 for G.711, 48000 for Opus).
    pub clock_rate: u32,
    /// Audio carried by one packet, and the time between two calls of
    /// [`pop`](super::JitterBuffer::pop) (20 ms).
    pub frame_duration: Duration,
    /// The target delay never goes below this (20 ms).
    pub min_delay: Duration,
    /// The target delay never goes above this, and a buffer later than this
    /// drops frames without waiting for a quiet moment (500 ms).
    pub max_delay: Duration,
    /// Target before the first measurements (40 ms).
    pub initial_delay: Duration,
    /// Packets held at most; one more pushes the oldest out (100).
    pub max_packets: usize,
    /// Which share of recent packets must arrive in time: the target is
    /// this quantile of their delay variation (0.97).
    pub quantile: f64,
    /// How many recent packets the delay statistics cover (250, 5 s of
    /// 20 ms packets).
    pub history: usize,
    /// How fast the target comes down once the jitter has calmed, per
    /// second of playout (20 ms/s). It goes up at once.
    pub decrease_per_second: Duration,
    /// How long the buffer conceals when it has run empty before it
    /// decides the sender has paused (DTX) and plays silence (60 ms).
    pub max_concealment: Duration,
    /// Payload type of RFC 3389 comfort noise packets (13, the static CN
    /// type; set the negotiated one for CN at other rates, `None` to treat
    /// every packet as audio).
    pub cn_payload_type: Option<u8>,
    /// Keep one frame more than the jitter asks for, so that when a packet
    /// is lost the one after it has usually arrived and its in-band FEC
    /// (Opus LBRR) can rebuild the loss (off).
    pub fec_lookahead: bool,
}

impl Default for JitterConfig {
    fn default() -> Self {
        Self {
            clock_rate: 8000,
            frame_duration: Duration::from_millis(20),
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(500),
            initial_delay: Duration::from_millis(40),
            max_packets: 100,
            quantile: 0.97,
            history: 250,
            decrease_per_second: Duration::from_millis(20),
            max_concealment: Duration::from_millis(60),
            cn_payload_type: Some(13),
            fec_lookahead: false,
        }
    }
}

impl JitterConfig {
    /// Sets the RTP clock rate.
    pub fn with_clock_rate(mut self, hz: u32) -> Self {
        self.clock_rate = hz;
        self
    }

    /// Sets the packet duration (ptime) and pop interval.
    pub fn with_frame_duration(mut self, d: Duration) -> Self {
        self.frame_duration = d;
        self
    }

    /// Sets the bounds of the target delay.
    pub fn with_delay_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.min_delay = min;
        self.max_delay = max;
        self
    }

    /// Sets the target used before the first measurements.
    pub fn with_initial_delay(mut self, d: Duration) -> Self {
        self.initial_delay = d;
        self
    }

    /// Sets the most packets held.
    pub fn with_max_packets(mut self, n: usize) -> Self {
        self.max_packets = n;
        self
    }

    /// Sets the quantile of the delay variation the target covers.
    pub fn with_quantile(mut self, q: f64) -> Self {
        self.quantile = q;
        self
    }

    /// Sets how many recent packets the statistics cover.
    pub fn with_history(mut self, packets: usize) -> Self {
        self.history = packets;
        self
    }

    /// Sets how fast the target comes down, per second.
    pub fn with_decrease_per_second(mut self, d: Duration) -> Self {
        self.decrease_per_second = d;
        self
    }

    /// Sets how long an empty buffer conceals before it plays silence.
    pub fn with_max_concealment(mut self, d: Duration) -> Self {
        self.max_concealment = d;
        self
    }

    /// Sets the comfort noise payload type (`None`: no CN).
    pub fn with_cn_payload_type(mut self, pt: Option<u8>) -> Self {
        self.cn_payload_type = pt;
        self
    }

    /// Keeps one frame of delay more for in-band FEC.
    pub fn with_fec_lookahead(mut self, on: bool) -> Self {
        self.fec_lookahead = on;
        self
    }

    /// Checks the values: a clock rate of 1 Hz to 384 kHz, a frame of
    /// 2.5 ms to 120 ms holding a whole number of samples, `min_delay <=
    /// initial_delay <= max_delay <= 10 s`, at least 2 packets, a quantile
    /// in (0, 1], a history of 8 to 10,000 packets, a CN payload type
    /// below 128.
    pub fn build(self) -> Result<Self, ConfigError> {
        if self.clock_rate == 0 || self.clock_rate > 384_000 {
            return Err(ConfigError::new(
                "clock_rate",
                "must lie between 1 Hz and 384 kHz",
            ));
        }
        let frame = self.frame_duration;
        if frame < Duration::from_micros(2500) || frame > Duration::from_millis(120) {
            return Err(ConfigError::new(
                "frame_duration",
                "must lie between 2.5 ms and 120 ms",
            ));
        }
        let samples_x_1e6 = u128::from(self.clock_rate) * frame.as_micros();
        if samples_x_1e6 % 1_000_000 != 0 {
            return Err(ConfigError::new(
                "frame_duration",
                "must hold a whole number of samples at the clock rate",
            ));
        }
        if self.max_delay > Duration::from_secs(10) {
            return Err(ConfigError::new("max_delay", "must be at most 10 s"));
        }
        if self.min_delay > self.max_delay {
            return Err(ConfigError::new("min_delay", "must be at most max_delay"));
        }
        if !(self.min_delay..=self.max_delay).contains(&self.initial_delay) {
            return Err(ConfigError::new(
                "initial_delay",
                "must lie between min_delay and max_delay",
            ));
        }
        if self.max_packets < 2 {
            return Err(ConfigError::new("max_packets", "must be at least 2"));
        }
        if !(self.quantile > 0.0 && self.quantile <= 1.0) {
            return Err(ConfigError::new("quantile", "must lie in (0, 1]"));
        }
        if !(8..=10_000).contains(&self.history) {
            return Err(ConfigError::new(
                "history",
                "must lie between 8 and 10000 packets",
            ));
        }
        if self.cn_payload_type.is_some_and(|pt| pt > 127) {
            return Err(ConfigError::new(
                "cn_payload_type",
                "must be an RTP payload type (0-127)",
            ));
        }
        Ok(self)
    }

    /// RTP timestamp units in one frame.
    pub fn frame_samples(&self) -> u32 {
        let samples = u128::from(self.clock_rate) * self.frame_duration.as_micros() / 1_000_000;
        u32::try_from(samples).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_build() {
        let c = JitterConfig::default().build().unwrap();
        assert_eq!(c.frame_samples(), 160);
        let opus = JitterConfig::default()
            .with_clock_rate(48_000)
            .build()
            .unwrap();
        assert_eq!(opus.frame_samples(), 960);
    }

    #[test]
    fn rejects_bad_values() {
        let bad = [
            JitterConfig::default().with_clock_rate(0),
            JitterConfig::default().with_frame_duration(Duration::from_millis(1)),
            JitterConfig::default()
                .with_clock_rate(11_025)
                .with_frame_duration(Duration::from_micros(2500)),
            JitterConfig::default()
                .with_delay_bounds(Duration::from_millis(100), Duration::from_millis(50)),
            JitterConfig::default().with_initial_delay(Duration::from_secs(1)),
            JitterConfig::default().with_max_packets(1),
            JitterConfig::default().with_quantile(0.0),
            JitterConfig::default().with_quantile(f64::NAN),
            JitterConfig::default().with_history(2),
            JitterConfig::default().with_cn_payload_type(Some(200)),
        ];
        for c in bad {
            assert!(c.clone().build().is_err(), "{c:?}");
        }
    }
}
