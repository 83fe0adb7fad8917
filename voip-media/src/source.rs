//! The two seams every audio component plugs into.
//!
//! A [`MediaSource`] produces audio when asked (a WAV player, a TTS prompt, a
//! tone generator, a decoded call leg); a [`MediaSink`] consumes it (a
//! recorder, an encoder feeding a call leg, the in-band DTMF detector). The
//! consumer drives the pace: a call's 20 ms tick asks each source for one
//! frame at the rate it needs, so sources never read a clock.

use voip_core::AudioFrame;

/// Produces mono audio on demand.
pub trait MediaSource: Send {
    /// The next `samples` samples at `sample_rate`, or `None` once the source
    /// has ended. A source may return fewer samples for its last frame.
    fn next_frame(&mut self, sample_rate: u32, samples: usize) -> Option<AudioFrame>;
}

/// Consumes audio frames.
pub trait MediaSink: Send {
    /// Takes one frame. Sinks resample or reject rates they cannot handle.
    fn write_frame(&mut self, frame: &AudioFrame);
}

impl<F> MediaSink for F
where
    F: FnMut(&AudioFrame) + Send,
{
    fn write_frame(&mut self, frame: &AudioFrame) {
        self(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_are_sinks() {
        let mut total = 0usize;
        {
            let mut sink = |f: &AudioFrame| total += f.samples.len();
            sink.write_frame(&AudioFrame::mono(8000, vec![0; 160]));
        }
        assert_eq!(total, 160);
    }
}
