//! Error conventions shared by the crates.
//!
//! Each crate has its own `thiserror` enum; messages are lowercase without a
//! trailing period, and protocol errors say what goes on the wire. Only
//! configuration errors are common to all crates.

/// A configuration value was rejected by a `build()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration: {field}: {reason}")]
pub struct ConfigError {
    /// The setting that is wrong.
    pub field: &'static str,
    /// What is wrong with it, and what would be right.
    pub reason: String,
}

impl ConfigError {
    /// A new error for `field`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}
