//! voip-ivr: IVR state machine, TTS engines and cache, prompt playback.
//!
//! This crate is reserved in the workspace layout (see docs/ARCHITECTURE.md);
//! it holds no functionality yet. Its scope is tracked as an open issue, and
//! nothing here should be relied on until that issue lands.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
