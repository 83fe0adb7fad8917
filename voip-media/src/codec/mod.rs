//! Codecs (PCMU, PCMA, G.722, L16, Opus) behind one `Codec` enum with a custom escape hatch, and resampling between 8, 16 and 48 kHz.
