//! Scenario tests in virtual time over a simulated network.

mod dialog;
pub(crate) mod net;
mod parse_in;
mod proxy;
mod transaction;
