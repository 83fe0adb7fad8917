//! Audio frames exchanged by media sources and sinks.

/// A block of interleaved signed 16-bit PCM samples.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AudioFrame {
    /// Samples per second per channel (8000, 16000, 48000, ...).
    pub sample_rate: u32,
    /// Number of interleaved channels.
    pub channels: u16,
    /// The samples, interleaved when `channels > 1`.
    pub samples: Vec<i16>,
}

impl AudioFrame {
    /// A mono frame.
    pub fn mono(sample_rate: u32, samples: Vec<i16>) -> Self {
        Self {
            sample_rate,
            channels: 1,
            samples,
        }
    }

    /// Samples per channel.
    pub fn len_per_channel(&self) -> usize {
        if self.channels == 0 {
            0
        } else {
            self.samples.len() / usize::from(self.channels)
        }
    }

    /// Duration in microseconds (0 for a frame without a rate).
    pub fn duration_micros(&self) -> u64 {
        if self.sample_rate == 0 {
            return 0;
        }
        self.len_per_channel() as u64 * 1_000_000 / u64::from(self.sample_rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twenty_ms_at_8khz() {
        let f = AudioFrame::mono(8000, vec![0; 160]);
        assert_eq!(f.duration_micros(), 20_000);
        assert_eq!(AudioFrame::default().duration_micros(), 0);
    }
}
