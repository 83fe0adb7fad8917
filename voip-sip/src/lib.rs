//! SIP for the VoIP SDK.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
pub mod transport;
