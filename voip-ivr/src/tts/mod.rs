//! Text to speech (placeholder while the module is written).
