//! What can go wrong while encoding or decoding audio.

/// An encoder or decoder refused its input.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The frame's sample rate is not the codec's.
    #[error("sample rate {got} Hz, the codec runs at {expected} Hz")]
    SampleRate {
        /// The codec's sample rate.
        expected: u32,
        /// The frame's sample rate.
        got: u32,
    },
    /// The frame's channel count is not the codec's.
    #[error("{got} channels, the codec has {expected}")]
    Channels {
        /// The codec's channel count.
        expected: u16,
        /// The frame's channel count.
        got: u16,
    },
    /// The frame holds a number of samples the codec cannot code in one packet.
    #[error("{samples} samples per channel is not a frame size this codec accepts")]
    FrameSize {
        /// Samples per channel in the frame.
        samples: usize,
    },
    /// A payload from the network could not be decoded (the packet is dropped).
    #[error("malformed payload: {0}")]
    Malformed(&'static str),
    /// A configuration value is out of range.
    #[error("unsupported codec setting: {0}")]
    Unsupported(String),
    /// libopus reported an error.
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
}
